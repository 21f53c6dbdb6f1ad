import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Action, Alert } from '../../../src/engine/alert.js';
import { attackOf } from '../../../src/siem/attack.js';
import {
  cefHeader,
  cefValue,
  csvField,
  CSV_COLUMNS,
  detectionsOf,
  EXPORT_FORMATS,
  lineFormat,
  toCef,
  toEcs,
  toHec,
  toOcsf,
  type Detection,
} from '../../../src/siem/formats.js';
import { parseCef } from '../../support/cef.js';
import { parseCsv } from '../../support/csv.js';
import { validateEcs, validateOcsf } from '../../support/siemSchemas.js';

const dir = 'test/golden/siem';
/** Alerts of every kind the pack produces from the test traffic, and one made of awkward strings. */
const detections = JSON.parse(readFileSync(`${dir}/detections.json`, 'utf8')) as Detection[];
const OPTIONS = { host: 'siem-test', hec: { index: 'security' } };
const EXT: Record<string, string> = { cef: 'cef', csv: 'csv' };

/**
 * Each format of the fixture's detections sits in test/golden/siem. Expectations are written
 * only on request: `UPDATE_GOLDEN=1 npx vitest run test/unit/siem/formats.test.ts`, then read the
 * diff. A missing one fails, in CI or not.
 */
describe('SIEM formats: golden files', () => {
  it('has awkward input', () => {
    expect(detections.length).toBeGreaterThan(6);
    expect(new Set(detections.map((d) => d.alert.rule_type)).size).toBeGreaterThan(4);
    expect(detections.some((d) => d.actions.length > 0)).toBe(true);
  });

  it.each(EXPORT_FORMATS)('%s', (format) => {
    const f = lineFormat(format, OPTIONS);
    const eol = format === 'csv' ? '\r\n' : '\n';
    const text = [...(f.header ? [f.header] : []), ...detections.map((d) => f.line(d))].map((l) => l + eol).join('');
    const path = `${dir}/${format}.${EXT[format] ?? 'ndjson'}`;
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, text);
    if (!existsSync(path)) throw new Error(`${path} is missing; write it with UPDATE_GOLDEN=1 and read it.`);
    expect(text).toBe(readFileSync(path, 'utf8'));
    // One line per detection: nothing inside breaks a line (CSV quotes its line breaks instead).
    if (format !== 'csv') expect(text.split('\n')).toHaveLength(detections.length + 1);
  });
});

describe('CEF', () => {
  it('escapes backslash and pipe in the header, backslash, equals and line breaks in the extension', () => {
    expect(cefHeader('a|b\\c')).toBe('a\\|b\\\\c');
    expect(cefHeader('two\nlines\r\nhere')).toBe('two lines here');
    expect(cefHeader('x=y')).toBe('x=y');
    expect(cefValue('a=b\\c|d\ne\rf')).toBe('a\\=b\\\\c|d\\ne\\rf');
  });

  it('parses back to the alert it came from, awkward strings included', () => {
    for (const d of detections) {
      const { alert, actions } = d;
      const cef = parseCef(toCef(d, OPTIONS));
      expect(cef).toMatchObject({
        version: 'CEF:0',
        vendor: 'authwatch',
        product: 'authwatch',
        signatureId: alert.rule_id,
        name: alert.rule_title.replace(/\r\n|[\r\n]/g, ' '),
      });
      const x = cef.extension;
      expect(Number(x.rt)).toBe(alert.detected_at);
      expect(Number(x.start)).toBe(alert.first_seen);
      expect(Number(x.end)).toBe(alert.last_seen);
      expect(Number(x.cnt)).toBe(alert.event_count);
      expect(x.externalId).toBe(alert.alert_id);
      expect(x.suser).toBe(alert.entities.user);
      expect(x.suid).toBe(alert.entities.user_id);
      expect(x.src ?? x.c6a2).toBe(alert.entities.ip);
      expect(x.msg).toBe(alert.description);
      expect(x.act).toBe(actions.length > 0 ? [...new Set(actions.map((a) => a.type))].join(',') : undefined);
      const labelled = (label: string) => {
        const key = Object.keys(x).find((k) => x[k] === label && /^cs\dLabel$/.test(k));
        return key ? x[key.replace('Label', '')] : undefined;
      };
      expect(labelled('group')).toBe(Object.keys(alert.group).length > 0 ? JSON.stringify(alert.group) : undefined);
      expect(labelled('level')).toBe(alert.level);
      expect(labelled('tags')).toBe(alert.tags.join(',') || undefined);
      expect(x.cn1 === undefined ? undefined : Number(x.cn1)).toBe(alert.entities.asn);
    }
  });

  it('ranks severity by level, 0 to 10', () => {
    const sev = (level: Alert['level']) =>
      Number(parseCef(toCef({ alert: { ...detections[0]!.alert, level }, actions: [] })).severity);
    expect(['informational', 'low', 'medium', 'high', 'critical'].map((l) => sev(l as Alert['level']))).toEqual([
      1, 3, 5, 8, 10,
    ]);
  });
});

describe('CSV', () => {
  it('parses back (RFC 4180) to the columns of each alert, and defuses formulas', () => {
    const f = lineFormat('csv');
    const rows = parseCsv([f.header!, ...detections.map((d) => f.line(d))].join('\r\n'));
    expect(rows[0]).toEqual([...CSV_COLUMNS]);
    detections.forEach((d, i) => {
      const row = Object.fromEntries(CSV_COLUMNS.map((c, j) => [c, rows[i + 1]![j]]));
      expect(row.alert_id).toBe(d.alert.alert_id);
      expect(row.rule_title).toBe(d.alert.rule_title);
      expect(row.detected_at).toBe(new Date(d.alert.detected_at).toISOString());
      const user = d.alert.entities.user ?? '';
      expect(row.user).toBe(/^[=+\-@]/.test(user) ? `'${user}` : user);
    });
    expect(csvField('=1+2')).toBe("'=1+2");
    expect(csvField('-5')).toBe("'-5");
    expect(csvField(-5)).toBe('-5');
    expect(csvField('a,"b"')).toBe('"a,""b"""');
  });
});

describe('against the published schemas', () => {
  it.each(detections.map((d) => [d.alert.rule_title.split('\n')[0]!, d] as const))(
    'OCSF Detection Finding and ECS fit theirs: %s',
    (_title, d) => {
      expect(validateOcsf(toOcsf(d))).toEqual([]);
      const { authwatch: own, ...ecs } = toEcs(d);
      expect(own).toBeDefined(); // authwatch's own namespace, which ECS leaves to producers
      expect(validateEcs(ecs)).toEqual([]);
    },
  );
});

describe('OCSF, ECS and HEC', () => {
  it('map level to severity, and the rule, user, source and ATT&CK where each format keeps them', () => {
    const d = detections.find((x) => x.alert.tags.some((t) => /^attack\.t\d/.test(t)) && x.alert.entities.ip)!;
    const ocsf = toOcsf(d) as {
      class_uid: number;
      type_uid: number;
      severity_id: number;
      time: number;
      finding_info: { uid: string; analytic: { uid: string }; attacks: Array<{ technique: { uid: string } }> };
      evidences: Array<{ src_endpoint: { ip: string } }>;
    };
    expect(ocsf).toMatchObject({ class_uid: 2004, category_uid: 2, type_uid: 200401, time: d.alert.detected_at });
    expect(ocsf.severity_id).toBe({ informational: 1, low: 2, medium: 3, high: 4, critical: 5 }[d.alert.level]);
    expect(ocsf.finding_info.uid).toBe(d.alert.alert_id);
    expect(ocsf.finding_info.analytic.uid).toBe(d.alert.rule_id);
    expect(ocsf.evidences[0]!.src_endpoint.ip).toBe(d.alert.entities.ip);
    expect(ocsf.finding_info.attacks.map((a) => a.technique?.uid).filter(Boolean)).toEqual(
      attackOf(d.alert.tags).techniques.map((t) => t.id),
    );

    const ecs = toEcs(d) as Record<string, Record<string, unknown>>;
    expect(ecs.event).toMatchObject({ kind: 'alert', id: d.alert.alert_id });
    expect(ecs.rule).toMatchObject({ id: d.alert.rule_id, name: d.alert.rule_title });
    expect(ecs.source).toMatchObject({ ip: d.alert.entities.ip });
    expect((ecs.threat as { technique: { id: string[] } }).technique.id).toEqual(
      attackOf(d.alert.tags).techniques.map((t) => t.id),
    );

    const hec = toHec(d, OPTIONS) as {
      time: number;
      host: string;
      index: string;
      event: Alert & { actions: Action[] };
    };
    expect(hec.time).toBe(d.alert.detected_at / 1000);
    expect(hec).toMatchObject({ host: 'siem-test', index: 'security', sourcetype: 'authwatch:alert' });
    expect(hec.event.alert_id).toBe(d.alert.alert_id);
    expect(hec.event.actions).toEqual(d.actions);
  });

  it('groups actions under the alert that ordered them', () => {
    const alerts = detections.map((d) => d.alert);
    const actions = detections.flatMap((d) => d.actions).reverse();
    const grouped = detectionsOf(alerts, actions);
    expect(grouped.map((d) => d.alert.alert_id)).toEqual(alerts.map((a) => a.alert_id));
    grouped.forEach((g, i) => expect(new Set(g.actions)).toEqual(new Set(detections[i]!.actions)));
  });
});

describe('ATT&CK from Sigma tags', () => {
  it('reads tactics (kebab or snake case) and techniques with sub-techniques, each once', () => {
    const { tactics, techniques } = attackOf([
      'attack.credential-access',
      'attack.credential_access',
      'attack.t1110.004',
      'attack.T1110.004',
      'attack.t1621',
      'attack.t9999',
      'attack.blocked',
      'cve.2021-1234',
    ]);
    expect(tactics).toEqual([
      { id: 'TA0006', name: 'Credential Access', reference: 'https://attack.mitre.org/tactics/TA0006/' },
    ]);
    expect(techniques).toEqual([
      {
        id: 'T1110',
        name: 'Brute Force',
        reference: 'https://attack.mitre.org/techniques/T1110/',
        subtechnique: {
          id: 'T1110.004',
          name: 'Credential Stuffing',
          reference: 'https://attack.mitre.org/techniques/T1110/004/',
        },
      },
      {
        id: 'T1621',
        name: 'Multi-Factor Authentication Request Generation',
        reference: 'https://attack.mitre.org/techniques/T1621/',
      },
      { id: 'T9999', reference: 'https://attack.mitre.org/techniques/T9999/' },
    ]);
  });
});
