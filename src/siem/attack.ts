/**
 * MITRE ATT&CK from a rule's Sigma tags: `attack.credential-access` names a tactic,
 * `attack.t1110.004` a technique (here a sub-technique of T1110). SIEM formats carry them as
 * ids, names and reference links.
 */

export interface AttackRef {
  id: string;
  name?: string;
  reference: string;
}

export interface AttackTechnique extends AttackRef {
  /** The sub-technique the tag named, when it named one (`T1110.004`). */
  subtechnique?: AttackRef;
}

export interface AttackTags {
  tactics: AttackRef[];
  techniques: AttackTechnique[];
}

/** The Enterprise tactics, by the name Sigma tags use (kebab-case). */
const TACTICS: Record<string, { id: string; name: string }> = {
  reconnaissance: { id: 'TA0043', name: 'Reconnaissance' },
  'resource-development': { id: 'TA0042', name: 'Resource Development' },
  'initial-access': { id: 'TA0001', name: 'Initial Access' },
  execution: { id: 'TA0002', name: 'Execution' },
  persistence: { id: 'TA0003', name: 'Persistence' },
  'privilege-escalation': { id: 'TA0004', name: 'Privilege Escalation' },
  'defense-evasion': { id: 'TA0005', name: 'Defense Evasion' },
  'credential-access': { id: 'TA0006', name: 'Credential Access' },
  discovery: { id: 'TA0007', name: 'Discovery' },
  'lateral-movement': { id: 'TA0008', name: 'Lateral Movement' },
  collection: { id: 'TA0009', name: 'Collection' },
  'command-and-control': { id: 'TA0011', name: 'Command and Control' },
  exfiltration: { id: 'TA0010', name: 'Exfiltration' },
  impact: { id: 'TA0040', name: 'Impact' },
};

/**
 * Names of the techniques that authentication detections tag (those of the shipped pack and
 * the public catalogs it follows). A technique not listed here goes out with its id and link.
 */
const TECHNIQUES: Record<string, string> = {
  T1078: 'Valid Accounts',
  'T1078.001': 'Default Accounts',
  'T1078.002': 'Domain Accounts',
  'T1078.003': 'Local Accounts',
  'T1078.004': 'Cloud Accounts',
  T1087: 'Account Discovery',
  'T1087.004': 'Cloud Account',
  T1090: 'Proxy',
  'T1090.003': 'Multi-hop Proxy',
  T1098: 'Account Manipulation',
  'T1098.001': 'Additional Cloud Credentials',
  'T1098.003': 'Additional Cloud Roles',
  'T1098.005': 'Device Registration',
  T1110: 'Brute Force',
  'T1110.001': 'Password Guessing',
  'T1110.002': 'Password Cracking',
  'T1110.003': 'Password Spraying',
  'T1110.004': 'Credential Stuffing',
  T1111: 'Multi-Factor Authentication Interception',
  T1133: 'External Remote Services',
  T1136: 'Create Account',
  'T1136.003': 'Cloud Account',
  T1199: 'Trusted Relationship',
  T1496: 'Resource Hijacking',
  'T1496.001': 'Compute Hijacking',
  'T1496.002': 'Bandwidth Hijacking',
  'T1496.003': 'SMS Pumping',
  'T1496.004': 'Cloud Service Hijacking',
  T1499: 'Endpoint Denial of Service',
  T1528: 'Steal Application Access Token',
  T1531: 'Account Access Removal',
  T1539: 'Steal Web Session Cookie',
  T1550: 'Use Alternate Authentication Material',
  'T1550.001': 'Application Access Token',
  'T1550.004': 'Web Session Cookie',
  T1556: 'Modify Authentication Process',
  'T1556.006': 'Multi-Factor Authentication',
  T1562: 'Impair Defenses',
  T1566: 'Phishing',
  T1585: 'Establish Accounts',
  'T1585.001': 'Social Media Accounts',
  'T1585.002': 'Email Accounts',
  'T1585.003': 'Cloud Accounts',
  T1586: 'Compromise Accounts',
  T1589: 'Gather Victim Identity Information',
  'T1589.001': 'Credentials',
  'T1589.002': 'Email Addresses',
  'T1589.003': 'Employee Names',
  T1606: 'Forge Web Credentials',
  T1621: 'Multi-Factor Authentication Request Generation',
};

const TECHNIQUE_TAG = /^attack\.(t\d{4})(?:\.(\d{3}))?$/i;

function ref(id: string, name: string | undefined, path: string): AttackRef {
  return { id, ...(name ? { name } : {}), reference: `https://attack.mitre.org/${path}/` };
}

/** The tactics and techniques a rule's tags name, each once, in the order tagged. */
export function attackOf(tags: readonly string[]): AttackTags {
  const tactics: AttackRef[] = [];
  const techniques: AttackTechnique[] = [];
  for (const tag of tags) {
    const lower = tag.toLowerCase();
    if (!lower.startsWith('attack.')) continue;
    const t = TECHNIQUE_TAG.exec(lower);
    if (t) {
      const id = t[1]!.toUpperCase();
      const sub = t[2] === undefined ? undefined : `${id}.${t[2]}`;
      if (techniques.some((x) => x.id === id && x.subtechnique?.id === sub)) continue;
      techniques.push({
        ...ref(id, TECHNIQUES[id], `techniques/${id}`),
        ...(sub ? { subtechnique: ref(sub, TECHNIQUES[sub], `techniques/${id}/${t[2]}`) } : {}),
      });
      continue;
    }
    // Sigma writes tactics kebab-case; older rules use underscores.
    const tactic = TACTICS[lower.slice('attack.'.length).replaceAll('_', '-')];
    if (tactic && !tactics.some((x) => x.id === tactic.id))
      tactics.push(ref(tactic.id, tactic.name, `tactics/${tactic.id}`));
  }
  return { tactics, techniques };
}
