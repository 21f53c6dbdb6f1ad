import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { ident, join, sql, type Sql } from '../clickhouse/sql.js';
import { loadConfig } from '../config/config.js';
import type { Action, Alert } from '../engine/alert.js';
import { LEVELS, type Level } from '../rules/model.js';
import { detectionsOf, EXPORT_FORMATS, lineFormat, type Detection, type ExportFormat } from '../siem/formats.js';
import { openStore, tablesOf, type ClickHouseStore } from '../store/store.js';
import { parseDuration } from '../time/duration.js';
import { StopRequest } from './stopRequest.js';

const USAGE = `usage: authwatch export --format ocsf|ecs|cef|hec|json|csv [filters] [--out FILE]
                       [--config FILE] [--url URL]

Writes the stored alerts, each once, oldest first, with the actions each ordered, in a SIEM's
format: OCSF Detection Finding, Elastic ECS, Splunk HEC and JSON as one object per line, CEF
as one event per line, CSV with a header row. Reads the store the configuration names (the
ClickHouse server at clickhouse.url, or the embedded one in clickhouse.path); --url asks
another ClickHouse HTTP interface.

filters:
  --since T       detected at or after T: an ISO 8601 time, or a duration ago (24h, 7d)
  --until T       detected before T (the same forms)
  --rule R        this rule's alerts, by id or title (repeat for several)
  --level L       at least this level: informational, low, medium, high, critical
  --entity V      alerts about V: a user, user id, IP, session, device, client or phone;
                  KIND=V (user=, user_id=, ip=, session=, device=, client=, phone=) for one kind
  --out FILE      write to FILE instead of standard output
`;

const ENTITY_COLUMNS = ['user', 'user_id', 'ip', 'session', 'device', 'client', 'phone'] as const;
/** Alerts read per query: each page continues after the last (time, id) of the one before. */
const PAGE = 5000;

export interface ExportFilters {
  since?: number;
  until?: number;
  rules?: string[];
  level?: Level;
  entity?: { kind?: (typeof ENTITY_COLUMNS)[number]; value: string };
}

/** `authwatch export`: stored alerts in a SIEM format, to standard output or a file. */
export async function exportCommand(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        format: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        rule: { type: 'string', multiple: true },
        level: { type: 'string' },
        entity: { type: 'string' },
        out: { type: 'string', short: 'o' },
        config: { type: 'string' },
        url: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`authwatch export: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const problems: string[] = [];
  const format = values.format as ExportFormat | undefined;
  if (!format || !EXPORT_FORMATS.includes(format))
    problems.push(`--format must be one of ${EXPORT_FORMATS.join(', ')}${format ? `, not ${format}` : ''}`);
  const now = Date.now();
  const filters: ExportFilters = {};
  for (const key of ['since', 'until'] as const) {
    if (values[key] === undefined) continue;
    const t = parseTime(values[key], now);
    if (t === undefined)
      problems.push(`--${key} ${values[key]}: neither an ISO 8601 time nor a duration (24h, 7d; at most 3650d)`);
    else filters[key] = t;
  }
  if (values.rule) filters.rules = values.rule;
  if (values.level !== undefined) {
    if (LEVELS.includes(values.level as Level)) filters.level = values.level as Level;
    else problems.push(`--level must be one of ${LEVELS.join(', ')}, not ${values.level}`);
  }
  if (values.entity !== undefined) {
    const entity = parseEntity(values.entity);
    if (typeof entity === 'string') problems.push(entity);
    else filters.entity = entity;
  }
  if (problems.length > 0) {
    process.stderr.write(`authwatch export: ${problems.join('; ')}\n\n${USAGE}`);
    return 2;
  }

  const config = loadConfig({ file: values.config ?? process.env.AUTHWATCH_CONFIG });
  const clickhouse = values.url ? { ...config.clickhouse, url: values.url } : config.clickhouse;
  const store = await openStore(clickhouse);
  let out: WriteStream | undefined;
  // SIGTERM, or the reader of stdout going away (`| head`), ends the export after the page in hand.
  const stop = new StopRequest();
  try {
    const db = clickhouse.database;
    const tables = await tablesOf(store, db);
    if (!tables.has('alerts') || !tables.has('actions')) {
      process.stderr.write(
        `authwatch export: no authwatch tables in database ${db} of ${store.location}: nothing has been stored there yet.\n`,
      );
      return 1;
    }
    out = values.out ? createWriteStream(values.out) : undefined;
    const file = out;
    const write = file
      ? async (text: string): Promise<void> => {
          if (!file.write(text)) await once(file, 'drain');
        }
      : (text: string) => stop.write(text);
    // A progress line only where someone watches, and not over what is being written.
    const progress = process.stderr.isTTY && (out !== undefined || !process.stdout.isTTY);
    const lines = lineFormat(format!);
    const eol = format === 'csv' ? '\r\n' : '\n';
    if (lines.header) await write(lines.header + eol);
    const total = progress ? await countAlerts(store, db, filters) : 0;
    let written = 0;
    for await (const page of exportPages(store, db, filters)) {
      if (stop.signal.aborted) break;
      let text = '';
      for (const d of page) text += lines.line(d) + eol;
      await write(text);
      written += page.length;
      if (progress && total > 0)
        process.stderr.write(
          `\r\u001b[2Kexporting: ${written.toLocaleString('en')} of ${total.toLocaleString('en')} alerts (${Math.floor((100 * written) / total)} %)`,
        );
    }
    if (out) {
      out.end();
      await once(out, 'finish');
    }
    if (progress) process.stderr.write(`\r\u001b[2K`);
    if (out || progress || (stop.reason && stop.reason !== 'stdout closed'))
      process.stderr.write(
        `Exported ${written.toLocaleString('en')} alert(s) as ${format}${values.out ? ` to ${values.out}` : ''}${stop.reason && stop.reason !== 'stdout closed' ? ` (stopped by ${stop.reason})` : ''}.\n`,
      );
  } finally {
    stop.dispose();
    out?.destroy();
    await store.close();
  }
  return 0;
}

/** An ISO 8601 time, or a duration before `now` (`24h`, `7d`); epoch ms. */
export function parseTime(text: string, now: number): number | undefined {
  const ago = parseDuration(text);
  if (ago !== undefined) return now - ago;
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
  const t = Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$/.test(text) || text.length === 10 ? text : `${text}Z`);
  return Number.isNaN(t) ? undefined : t;
}

function parseEntity(text: string): ExportFilters['entity'] | string {
  const at = text.indexOf('=');
  if (at < 0) return text.length > 0 ? { value: text } : '--entity needs a value';
  const kind = text.slice(0, at) as (typeof ENTITY_COLUMNS)[number];
  if (!ENTITY_COLUMNS.includes(kind)) return `--entity ${text}: the kind must be one of ${ENTITY_COLUMNS.join(', ')}`;
  return { kind, value: text.slice(at + 1) };
}

/** The WHERE clause of the filters: every value escaped, every column a fixed name. */
export function filterSql(f: ExportFilters): Sql {
  const parts: Sql[] = [sql`1`];
  if (f.since !== undefined)
    parts.push(sql`detected_at >= toDateTime(${Math.max(0, Math.floor(f.since / 1000))}, 'UTC')`);
  if (f.until !== undefined)
    parts.push(sql`detected_at < toDateTime(${Math.max(0, Math.ceil(f.until / 1000))}, 'UTC')`);
  if (f.rules && f.rules.length > 0) parts.push(sql`(has(${f.rules}, rule_id) OR has(${f.rules}, rule_title))`);
  if (f.level) parts.push(sql`level >= ${f.level}`); // an Enum8 in level order
  if (f.entity) {
    const { kind, value } = f.entity;
    const columns = kind ? [kind] : ENTITY_COLUMNS;
    parts.push(sql`(${joinOr(columns.map((c) => sql`${ident(c)} = ${value}`))})`);
  }
  return parts.reduce((a, b) => sql`${a} AND ${b}`);
}

function joinOr(parts: Sql[]): Sql {
  return parts.reduce((a, b) => sql`${a} OR ${b}`);
}

async function countAlerts(store: ClickHouseStore, db: string, f: ExportFilters): Promise<number> {
  const [row] = await store.query<{ n: string | number }>(
    sql`SELECT uniqExact(alert_id) AS n FROM ${ident(db)}.alerts WHERE ${filterSql(f)}`,
  );
  return Number(row?.n ?? 0);
}

/**
 * The filtered alerts, oldest first, each once, a page at a time, each with the actions it
 * ordered. A page is found from the two small key columns alone (after the last time and id of
 * the page before, copies of one alert grouped into one), then its alerts and actions are read
 * by id within the page's time span: the large JSON columns are read once per alert, not once
 * per page. Copies that a restart stored again are dropped here rather than by FINAL, which
 * would read every row the filters select for every page.
 */
export async function* exportPages(
  store: ClickHouseStore,
  db: string,
  f: ExportFilters,
  pageSize = PAGE,
): AsyncGenerator<Detection[]> {
  const d = ident(db);
  const where = filterSql(f);
  let after: { at: string; id: string } | undefined;
  for (;;) {
    const next = after
      ? sql`AND (detected_at > ${after.at} OR (detected_at = ${after.at} AND alert_id > ${after.id}))`
      : sql``;
    const keys = await store.query<{ at: string; id: string }>(sql`
      SELECT toString(detected_at) AS at, alert_id AS id
      FROM ${d}.alerts WHERE ${where} ${next}
      GROUP BY detected_at, alert_id ORDER BY detected_at, alert_id LIMIT ${pageSize}`);
    if (keys.length === 0) return;
    // IN, not has(): a set built once, where has() searches the whole list for every row.
    const ids = join(keys.map((k) => sql`${k.id}`));
    const [from, to] = [keys[0]!.at, keys[keys.length - 1]!.at];
    const bodies = new Map<string, string>();
    for (const r of await store.query<{ id: string; json: string }>(sql`
      SELECT alert_id AS id, alert_json AS json FROM ${d}.alerts
      WHERE detected_at >= ${from} AND detected_at <= ${to} AND alert_id IN (${ids})`)) {
      if (!bodies.has(r.id)) bodies.set(r.id, r.json);
    }
    // An action is created at its alert's detection time.
    const actions = new Map<string, Action>();
    for (const r of await store.query<{ json: string }>(sql`
      SELECT action_json AS json FROM ${d}.actions
      WHERE created_at >= ${from} AND created_at <= ${to} AND alert_id IN (${ids})`)) {
      const a = JSON.parse(r.json) as Action;
      if (!actions.has(a.action_id)) actions.set(a.action_id, a);
    }
    const ordered = [...actions.values()].sort(
      (a, b) => a.created_at - b.created_at || (a.action_id < b.action_id ? -1 : a.action_id > b.action_id ? 1 : 0),
    );
    // An alert dropped between the two reads (retention) is skipped, not guessed.
    const alerts = keys.flatMap((k) => {
      const json = bodies.get(k.id);
      return json === undefined ? [] : [JSON.parse(json) as Alert];
    });
    yield detectionsOf(alerts, ordered);
    if (keys.length < pageSize) return;
    after = keys[keys.length - 1]!;
  }
}
