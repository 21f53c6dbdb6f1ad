import Table from 'cli-table3';
import { parseArgs } from 'node:util';
import { ident, sql, type Sql } from '../clickhouse/sql.js';
import { loadConfig } from '../config/config.js';
import { openStore, tablesOf, userStatement, type ClickHouseStore } from '../store/store.js';

const USAGE = `usage: authwatch query "SQL" [--format table|json|ndjson|csv] [--config FILE] [--url URL]
       authwatch query --summary [--hours N]        alerts by rule and level
       authwatch query --user USER [--hours N]      one user's alerts, actions and events, in time order
       authwatch query --ip ADDRESS [--hours N]     the same for one IP address

Runs SQL on the store the configuration names: the ClickHouse server at clickhouse.url, or
the embedded one in clickhouse.path (.authwatch/ by default). Tables: alerts, actions, events
in database clickhouse.database (authwatch); read them with FINAL to see each id once. --url
asks another ClickHouse HTTP interface. Output is a table on a terminal, NDJSON otherwise,
unless --format says. --hours N keeps the last N hours (--summary: 24 by default).
`;

const FORMATS = ['table', 'json', 'ndjson', 'csv'] as const;
type Format = (typeof FORMATS)[number];

/** `authwatch query`: SQL, or a canned investigation, on the configured store. */
export async function queryCommand(args: string[]): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        format: { type: 'string' },
        config: { type: 'string' },
        url: { type: 'string' },
        summary: { type: 'boolean', default: false },
        user: { type: 'string' },
        ip: { type: 'string' },
        hours: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`authwatch query: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const format = (values.format ?? (process.stdout.isTTY ? 'table' : 'ndjson')) as Format;
  const hours = values.hours === undefined ? undefined : Number(values.hours);
  const asks = [positionals.length > 0, values.summary, values.user !== undefined, values.ip !== undefined];
  if (
    asks.filter(Boolean).length !== 1 ||
    positionals.length > 1 ||
    !FORMATS.includes(format) ||
    (hours !== undefined && !(Number.isInteger(hours) && hours > 0))
  ) {
    process.stderr.write(USAGE);
    return 2;
  }

  const config = loadConfig({ file: values.config ?? process.env.AUTHWATCH_CONFIG });
  const clickhouse = values.url ? { ...config.clickhouse, url: values.url } : config.clickhouse;
  const store = await openStore(clickhouse);
  try {
    const db = clickhouse.database;
    let rows: Record<string, unknown>[];
    if (positionals[0] !== undefined) {
      rows = await store.query(userStatement(positionals[0].trim().replace(/;+\s*$/, '')));
    } else {
      const tables = await tablesOf(store, db);
      if (!tables.has('alerts') || !tables.has('actions')) {
        process.stderr.write(
          `authwatch query: no authwatch tables in database ${db} of ${store.location}: nothing has been stored there yet.\n`,
        );
        return 1;
      }
      rows = values.summary
        ? await summary(store, db, hours ?? 24)
        : await timeline(
            store,
            db,
            values.user !== undefined ? { user: values.user } : { ip: values.ip! },
            hours,
            tables.has('events'),
          );
    }
    process.stdout.write(render(rows, format));
  } finally {
    await store.close();
  }
  return 0;
}

/** The last `hours` hours (counted here, so that a long span never wraps below 1970 in the database). */
function since(column: string, hours: number | undefined): Sql {
  if (hours === undefined) return sql`1`;
  const cutoff = Math.max(0, Math.floor((Date.now() - hours * 3_600_000) / 1000));
  return sql`${ident(column)} >= toDateTime(${cutoff}, 'UTC')`;
}

/** Alerts of the last `hours` hours, by rule and level, most severe first. */
function summary(store: ClickHouseStore, db: string, hours: number): Promise<Record<string, unknown>[]> {
  return store.query(sql`
    SELECT rule_title AS rule, level, count() AS alerts, uniqExact(user) AS users, uniqExact(ip) AS ips,
           min(detected_at) AS first, max(detected_at) AS last
    FROM ${ident(db)}.alerts FINAL
    WHERE ${since('detected_at', hours)}
    GROUP BY rule_title, level
    ORDER BY level DESC, alerts DESC, rule`);
}

/**
 * Everything about one user or IP address on one timeline: the alerts that name it, the
 * actions on it or ordered by those alerts, and its events when the store keeps them.
 */
async function timeline(
  store: ClickHouseStore,
  db: string,
  who: { user: string } | { ip: string },
  hours: number | undefined,
  withEvents: boolean,
): Promise<Record<string, unknown>[]> {
  const d = ident(db);
  const alertMatch = 'user' in who ? sql`(user = ${who.user} OR user_id = ${who.user})` : sql`ip = ${who.ip}`;
  const alerts = await store.query<Record<string, string>>(sql`
    SELECT detected_at AS time, alert_id, rule_title, level, user, ip, event_count
    FROM ${d}.alerts FINAL WHERE ${alertMatch} AND ${since('detected_at', hours)}`);
  const ids = alerts.map((a) => a.alert_id!);
  const target =
    'user' in who
      ? sql`(target_kind = 'user' AND target_value = ${who.user})`
      : sql`(target_kind = 'ip' AND target_value = ${who.ip})`;
  const actions = await store.query<Record<string, string>>(sql`
    SELECT created_at AS time, action_id, alert_id, type, mode, target_kind, target_value
    FROM ${d}.actions FINAL
    WHERE (${target}${ids.length > 0 ? sql` OR has(${ids}, alert_id)` : sql``}) AND ${since('created_at', hours)}`);
  const eventMatch = 'user' in who ? sql`(user_id = ${who.user} OR user_name = ${who.user})` : sql`ip = ${who.ip}`;
  const events = withEvents
    ? await store.query<Record<string, string>>(sql`
        SELECT time, event_id, type, outcome, user_name, ip, country
        FROM ${d}.events FINAL WHERE ${eventMatch} AND ${since('time', hours)}`)
    : [];
  const rows = [
    ...alerts.map((a) => ({
      time: a.time,
      what: 'alert',
      name: a.rule_title,
      detail: `${a.level}; user ${a.user || '-'}, ip ${a.ip || '-'}, ${a.event_count} event(s)`,
      id: a.alert_id,
    })),
    ...actions.map((a) => ({
      time: a.time,
      what: 'action',
      name: a.type,
      detail: `${a.mode} on ${a.target_kind} ${a.target_value}`.trim(),
      id: a.action_id,
    })),
    ...events.map((e) => ({
      time: e.time,
      what: 'event',
      name: e.type,
      detail: `${e.outcome}; user ${e.user_name || '-'}, ip ${e.ip || '-'}${e.country ? ` (${e.country})` : ''}`,
      id: e.event_id,
    })),
  ];
  // Same second: an event, then the alert it completed, then the actions that alert ordered.
  const rank: Record<string, number> = { event: 0, alert: 1, action: 2 };
  return rows.sort((a, b) => {
    const [ta, tb] = [String(a.time), String(b.time)];
    return ta < tb ? -1 : ta > tb ? 1 : rank[a.what]! - rank[b.what]!;
  });
}

function render(rows: Record<string, unknown>[], format: Format): string {
  switch (format) {
    case 'ndjson':
      return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
    case 'json':
      return `${JSON.stringify(rows, null, 2)}\n`;
    case 'csv':
      return csv(rows);
    case 'table': {
      if (rows.length === 0) return '(no rows)\n';
      const head = Object.keys(rows[0]!);
      // One line per row: no rule between rows.
      const table = new Table({
        head,
        style: { head: [], border: [] },
        chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
      });
      for (const r of rows) table.push(head.map((k) => cell(r[k])));
      return `${table.toString()}\n${rows.length} row(s)\n`;
    }
  }
}

function cell(v: unknown): string {
  return v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
function csv(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '';
  const head = Object.keys(rows[0]!);
  const field = (v: unknown) => {
    const s = cell(v);
    return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [head.map(field).join(','), ...rows.map((r) => head.map((k) => field(r[k])).join(','))]
    .map((l) => `${l}\r\n`)
    .join('');
}
