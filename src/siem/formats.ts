import { hostname } from 'node:os';
import { isIPv4, isIPv6 } from 'node:net';
import type { Action, Alert } from '../engine/alert.js';
import type { Level } from '../rules/model.js';
import { VERSION } from '../version.js';
import { attackOf, type AttackRef } from './attack.js';

/**
 * Detections in the formats SIEMs parse: OCSF Detection Finding, Elastic ECS, CEF, Splunk
 * HEC, and plain JSON and CSV. One function per format, from an alert and the actions it
 * ordered; `authwatch export` and the live sinks of `authwatch run` share them.
 */

export const EXPORT_FORMATS = ['ocsf', 'ecs', 'cef', 'hec', 'json', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** An alert with the response actions it ordered. */
export interface Detection {
  alert: Alert;
  actions: readonly Action[];
}

export interface FormatOptions {
  /** The host named as the sender (HEC `host`, CEF `dvchost`): this machine's name by default. */
  host?: string;
  /** HEC metadata: the index (the token's default when absent), source and sourcetype. */
  hec?: { index?: string; source?: string; sourcetype?: string };
}

const PRODUCT = 'authwatch';
/** The OCSF version the findings declare: 1.1.0, the first with Detection Finding; they are valid in 1.8.0 too. */
export const OCSF_VERSION = '1.1.0';
/** The ECS version the documents follow. */
export const ECS_VERSION = '8.11.0';

const LEVEL_RANK: Record<Level, number> = { informational: 1, low: 2, medium: 3, high: 4, critical: 5 };
/** OCSF severity_id captions (1 Informational … 5 Critical, as the levels rank). */
const OCSF_SEVERITY = ['Unknown', 'Informational', 'Low', 'Medium', 'High', 'Critical'];
/** ECS event.risk_score, as Elastic's detection rules map severities. */
const RISK_SCORE: Record<Level, number> = { informational: 1, low: 21, medium: 47, high: 73, critical: 99 };
/** CEF severity, 0–10: 0–3 low, 4–6 medium, 7–8 high, 9–10 very high. */
const CEF_SEVERITY: Record<Level, number> = { informational: 1, low: 3, medium: 5, high: 8, critical: 10 };

const iso = (ms: number): string => new Date(ms).toISOString();

/** Groups actions under the alerts that ordered them, in the alerts' order. */
export function detectionsOf(alerts: readonly Alert[], actions: readonly Action[]): Detection[] {
  const byAlert = new Map<string, Action[]>();
  for (const a of actions) {
    const list = byAlert.get(a.alert_id);
    if (list) list.push(a);
    else byAlert.set(a.alert_id, [a]);
  }
  return alerts.map((alert) => ({ alert, actions: byAlert.get(alert.alert_id) ?? [] }));
}

/** The alert as authwatch publishes it, with its actions. */
export function toJson({ alert, actions }: Detection): Record<string, unknown> {
  return { ...alert, actions };
}

/** What authwatch adds beyond a format's own fields: the group, context, mode, actions and the other entities. */
function extras({ alert, actions }: Detection): Record<string, unknown> {
  const { session, device, client, phone } = alert.entities;
  return {
    rule_type: alert.rule_type,
    mode: alert.mode,
    group: alert.group,
    ...(alert.context ? { context: alert.context } : {}),
    ...(alert.distinct_values ? { distinct_values: alert.distinct_values } : {}),
    ...(session || device || client || phone
      ? {
          entities: {
            ...(session ? { session } : {}),
            ...(device ? { device } : {}),
            ...(client ? { client } : {}),
            ...(phone ? { phone } : {}),
          },
        }
      : {}),
    event_ids: alert.event_ids,
    actions,
  };
}

// -------------------------------------------------------------------------------------- OCSF

/**
 * An OCSF Detection Finding (class 2004, activity Create): the rule as the analytic, ATT&CK
 * from its tags, the user and source endpoint as evidence and observables, severity from the
 * level. What OCSF has no attribute for is under `unmapped`.
 */
export function toOcsf(d: Detection): Record<string, unknown> {
  const { alert } = d;
  const e = alert.entities;
  const rank = LEVEL_RANK[alert.level];
  const { tactics, techniques } = attackOf(alert.tags);
  const attacks = [
    ...techniques.map((t, i) => ({
      technique: ocsfRef(t),
      ...(t.subtechnique ? { sub_technique: ocsfRef(t.subtechnique) } : {}),
      // The rule's tactics go with its first technique; OCSF pairs one tactic with each.
      ...(i === 0 && tactics[0] ? { tactic: ocsfRef(tactics[0]) } : {}),
      version: 'v16',
    })),
    ...tactics.slice(techniques.length > 0 ? 1 : 0).map((t) => ({ tactic: ocsfRef(t), version: 'v16' })),
  ];
  const user =
    e.user || e.user_id ? { ...(e.user ? { name: e.user } : {}), ...(e.user_id ? { uid: e.user_id } : {}) } : undefined;
  // OCSF 1.1 has no AS on an endpoint (1.2 added it): the AS number goes under `unmapped`.
  const endpoint = e.ip ? { ip: e.ip, ...(e.country ? { location: { country: e.country } } : {}) } : undefined;
  const observables = [
    ...(e.user ? [{ name: 'evidences[].actor.user.name', type_id: 4, type: 'User Name', value: e.user }] : []),
    ...(e.ip ? [{ name: 'evidences[].src_endpoint.ip', type_id: 2, type: 'IP Address', value: e.ip }] : []),
  ];
  return {
    activity_id: 1,
    activity_name: 'Create',
    category_uid: 2,
    category_name: 'Findings',
    class_uid: 2004,
    class_name: 'Detection Finding',
    type_uid: 200401,
    type_name: 'Detection Finding: Create',
    severity_id: rank,
    severity: OCSF_SEVERITY[rank],
    status_id: 1,
    status: 'New',
    time: alert.detected_at,
    start_time: alert.first_seen,
    end_time: alert.last_seen,
    count: alert.event_count,
    message: alert.rule_title,
    metadata: {
      version: OCSF_VERSION,
      uid: alert.alert_id,
      product: { name: PRODUCT, vendor_name: PRODUCT, version: VERSION },
      ...(alert.tags.length > 0 ? { labels: alert.tags } : {}),
    },
    finding_info: {
      uid: alert.alert_id,
      title: alert.rule_title,
      ...(alert.description ? { desc: alert.description } : {}),
      types: [alert.rule_type],
      created_time: alert.detected_at,
      first_seen_time: alert.first_seen,
      last_seen_time: alert.last_seen,
      analytic: { uid: alert.rule_id, name: alert.rule_title, type_id: 1, type: 'Rule' },
      ...(attacks.length > 0 ? { attacks } : {}),
      ...(alert.event_ids.length > 0 ? { related_events: alert.event_ids.map((uid) => ({ uid })) } : {}),
    },
    ...(user || endpoint
      ? { evidences: [{ ...(user ? { actor: { user } } : {}), ...(endpoint ? { src_endpoint: endpoint } : {}) }] }
      : {}),
    ...(observables.length > 0 ? { observables } : {}),
    unmapped: { authwatch: { ...(e.asn ? { asn: e.asn } : {}), ...extras(d) } },
  };
}

/** An ATT&CK tactic, technique or sub-technique as OCSF writes it. */
function ocsfRef(r: AttackRef): Record<string, string> {
  return { uid: r.id, ...(r.name ? { name: r.name } : {}), src_url: r.reference };
}

// --------------------------------------------------------------------------------------- ECS

/**
 * An Elastic Common Schema document of kind `alert`: `rule.*`, `user.*`, `source.*` with geo
 * and AS, `threat.*` from the ATT&CK tags, and authwatch's own fields under `authwatch.*`.
 */
export function toEcs(d: Detection): Record<string, unknown> {
  const { alert } = d;
  const e = alert.entities;
  const { tactics, techniques } = attackOf(alert.tags);
  const subs = techniques.flatMap((t) => (t.subtechnique ? [t.subtechnique] : []));
  const threat =
    tactics.length > 0 || techniques.length > 0
      ? {
          framework: 'MITRE ATT&CK',
          ...(tactics.length > 0 ? { tactic: ecsRefs(tactics) } : {}),
          ...(techniques.length > 0
            ? { technique: { ...ecsRefs(techniques), ...(subs.length > 0 ? { subtechnique: ecsRefs(subs) } : {}) } }
            : {}),
        }
      : undefined;
  const user =
    e.user || e.user_id ? { ...(e.user ? { name: e.user } : {}), ...(e.user_id ? { id: e.user_id } : {}) } : undefined;
  const source = e.ip
    ? {
        ip: e.ip,
        ...(e.country ? { geo: { country_iso_code: e.country } } : {}),
        ...(e.asn ? { as: { number: e.asn } } : {}),
      }
    : undefined;
  return {
    '@timestamp': iso(alert.detected_at),
    ecs: { version: ECS_VERSION },
    message: alert.rule_title,
    tags: alert.tags,
    event: {
      kind: 'alert',
      category: ['authentication'],
      type: ['info'],
      id: alert.alert_id,
      created: iso(alert.detected_at),
      start: iso(alert.first_seen),
      end: iso(alert.last_seen),
      severity: LEVEL_RANK[alert.level],
      risk_score: RISK_SCORE[alert.level],
      module: PRODUCT,
      dataset: `${PRODUCT}.alerts`,
      ...(alert.description ? { reason: alert.description } : {}),
    },
    rule: {
      id: alert.rule_id,
      name: alert.rule_title,
      category: alert.rule_type,
      ruleset: PRODUCT,
      ...(alert.description ? { description: alert.description } : {}),
    },
    observer: { vendor: PRODUCT, product: PRODUCT, version: VERSION, type: 'detection' },
    ...(user ? { user } : {}),
    ...(source ? { source } : {}),
    ...(e.client ? { service: { name: e.client } } : {}),
    ...(threat ? { threat } : {}),
    authwatch: { level: alert.level, event_count: alert.event_count, ...extras(d) },
  };
}

/**
 * ATT&CK references as ECS writes them: parallel arrays of ids, names and links. An unnamed one
 * is named by its id, so that names line up with ids.
 */
function ecsRefs(refs: readonly AttackRef[]): { id: string[]; name: string[]; reference: string[] } {
  return { id: refs.map((r) => r.id), name: refs.map((r) => r.name ?? r.id), reference: refs.map((r) => r.reference) };
}

// --------------------------------------------------------------------------------------- CEF

/** A CEF header field: backslash and pipe escaped; a header may not break lines. */
export function cefHeader(value: string): string {
  return value.replace(/[\\|]/g, (c) => `\\${c}`).replace(/\r\n|[\r\n]/g, ' ');
}

/** A CEF extension value: backslash and equals escaped, line breaks written as \n and \r. */
export function cefValue(value: string): string {
  return value.replace(/[\\=\r\n]/g, (c) => (c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\${c}`));
}

/**
 * A CEF:0 event: vendor and product authwatch, the rule id as the signature, its title as the
 * name, severity 0–10 from the level, and the entities in the standard extension keys
 * (suser, suid, src or c6a2, start, end, rt, cnt), with the rest in labelled custom fields.
 */
export function toCef(d: Detection, options: FormatOptions = {}): string {
  const { alert, actions } = d;
  const e = alert.entities;
  const ext: Array<[string, string | number]> = [
    ['rt', alert.detected_at],
    ['start', alert.first_seen],
    ['end', alert.last_seen],
    ['cnt', alert.event_count],
    ['externalId', alert.alert_id],
    ['cat', alert.rule_type],
    ['dvchost', options.host ?? hostname()],
  ];
  if (e.user) ext.push(['suser', e.user]);
  if (e.user_id) ext.push(['suid', e.user_id]);
  if (e.ip && isIPv4(e.ip)) ext.push(['src', e.ip]);
  else if (e.ip && isIPv6(e.ip)) ext.push(['c6a2', e.ip], ['c6a2Label', 'sourceIPv6Address']);
  if (actions.length > 0) ext.push(['act', [...new Set(actions.map((a) => a.type))].join(',')]);
  const custom: Array<[string, string]> = [
    ['level', alert.level],
    ['tags', alert.tags.join(',')],
    ['group', Object.keys(alert.group).length > 0 ? JSON.stringify(alert.group) : ''],
    ['country', e.country ?? ''],
    ['session', e.session ?? ''],
    ['mode', alert.mode],
  ];
  custom.forEach(([label, value], i) => {
    if (value !== '') ext.push([`cs${i + 1}`, value], [`cs${i + 1}Label`, label]);
  });
  if (e.asn) ext.push(['cn1', e.asn], ['cn1Label', 'asn']);
  // Last: the longest, and what a size limit cuts (see `fitCef`).
  if (alert.description) ext.push(['msg', alert.description]);
  const header = [
    'CEF:0',
    PRODUCT,
    PRODUCT,
    VERSION,
    alert.rule_id,
    alert.rule_title,
    String(CEF_SEVERITY[alert.level]),
  ]
    .map((v, i) => (i === 0 ? v : cefHeader(v)))
    .join('|');
  return `${header}|${ext.map(([k, v]) => `${k}=${cefValue(String(v))}`).join(' ')}`;
}

/**
 * A CEF event cut to at most `maxBytes` of UTF-8: the end goes, which is the description (`msg`
 * comes last), never in the middle of a character or an escape.
 */
export function fitCef(cef: string, maxBytes: number): string {
  const bytes = Buffer.from(cef, 'utf8');
  if (bytes.length <= maxBytes) return cef;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // not inside a character
  let text = bytes.subarray(0, end).toString('utf8');
  let slashes = 0;
  while (slashes < text.length && text[text.length - 1 - slashes] === '\\') slashes++;
  if (slashes % 2 === 1) text = text.slice(0, -1); // not half an escape
  return text;
}

// --------------------------------------------------------------------------------------- HEC

/**
 * A Splunk HTTP Event Collector event: `time` in epoch seconds, `host`, `source`,
 * `sourcetype` (`authwatch:alert`), `index` when configured, the alert with its actions as
 * `event`, and the rule and level as indexed `fields`.
 */
export function toHec(d: Detection, options: FormatOptions = {}): Record<string, unknown> {
  const { alert } = d;
  return {
    time: alert.detected_at / 1000,
    host: options.host ?? hostname(),
    source: options.hec?.source ?? PRODUCT,
    sourcetype: options.hec?.sourcetype ?? `${PRODUCT}:alert`,
    ...(options.hec?.index ? { index: options.hec.index } : {}),
    event: toJson(d),
    fields: { rule_id: alert.rule_id, level: alert.level },
  };
}

// --------------------------------------------------------------------------------------- CSV

export const CSV_COLUMNS = [
  'alert_id',
  'detected_at',
  'rule_id',
  'rule_title',
  'rule_type',
  'level',
  'mode',
  'user',
  'user_id',
  'ip',
  'country',
  'asn',
  'session',
  'first_seen',
  'last_seen',
  'event_count',
  'tags',
  'actions',
] as const;

/**
 * A CSV field (RFC 4180): quoted when it holds a comma, quote or line break, quotes doubled. A
 * text cell that a spreadsheet would take for a formula (=, +, -, @, tab, CR first) gets a
 * leading apostrophe: alerts carry attacker-chosen strings such as user names.
 */
export function csvField(value: string | number): string {
  let s = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function csvHeader(): string {
  return CSV_COLUMNS.join(',');
}

/** One row: times in ISO 8601, tags and action types joined by semicolons. */
export function toCsv({ alert, actions }: Detection): string {
  const e = alert.entities;
  const row: Record<(typeof CSV_COLUMNS)[number], string | number> = {
    alert_id: alert.alert_id,
    detected_at: iso(alert.detected_at),
    rule_id: alert.rule_id,
    rule_title: alert.rule_title,
    rule_type: alert.rule_type,
    level: alert.level,
    mode: alert.mode,
    user: e.user ?? '',
    user_id: e.user_id ?? '',
    ip: e.ip ?? '',
    country: e.country ?? '',
    asn: e.asn ?? '',
    session: e.session ?? '',
    first_seen: iso(alert.first_seen),
    last_seen: iso(alert.last_seen),
    event_count: alert.event_count,
    tags: alert.tags.join(';'),
    actions: actions.map((a) => `${a.type}:${a.target.kind}:${a.target.value}`).join(';'),
  };
  return CSV_COLUMNS.map((c) => csvField(row[c])).join(',');
}

// ------------------------------------------------------------------------------------ chooser

/** A format as lines: an optional header line (CSV), then one line per detection, no line breaks inside. */
export interface LineFormat {
  header?: string;
  line(d: Detection): string;
}

export function lineFormat(format: ExportFormat, options: FormatOptions = {}): LineFormat {
  switch (format) {
    case 'ocsf':
      return { line: (d) => JSON.stringify(toOcsf(d)) };
    case 'ecs':
      return { line: (d) => JSON.stringify(toEcs(d)) };
    case 'cef':
      return { line: (d) => toCef(d, options) };
    case 'hec':
      return { line: (d) => JSON.stringify(toHec(d, options)) };
    case 'json':
      return { line: (d) => JSON.stringify(toJson(d)) };
    case 'csv':
      return { header: csvHeader(), line: toCsv };
  }
}
