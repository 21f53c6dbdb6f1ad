import { ident, join, literal, raw, sql, type Sql } from '../clickhouse/sql.js';

/**
 * authwatch's tables, written once: each column with the schema version that added it, and the
 * DDL generated from them for what the server can do. Current ClickHouse (and the embedded
 * engine) get LowCardinality, DateTime64(3) and TTL; ClickHouse 18.16 gets String, DateTime
 * and daily partitions that retention drops. Rows are de-duplicated by their id with
 * ReplacingMergeTree: every column of the sorting key is a function of the id's row, so a
 * row delivered twice (at-least-once) collapses into one under FINAL or a merge.
 */

/** What a column holds; the DDL type depends on the server. */
export type ColumnKind =
  | 'string'
  /** Few distinct values (rule ids, types, countries): LowCardinality(String) where supported. */
  | 'label'
  | 'level'
  /** Epoch ms; DateTime64(3, 'UTC') where supported, else DateTime('UTC') (seconds). */
  | 'time'
  | 'uint32'
  | 'uint64'
  | 'strings'
  /** A large text (JSON, raw records), compressed harder where codecs exist. */
  | 'blob';

export interface ColumnSpec {
  name: string;
  kind: ColumnKind;
  /** The schema version that added it. */
  since: number;
  description: string;
}

export type TableName = 'alerts' | 'actions' | 'events';

export interface TableSpec {
  name: TableName;
  since: number;
  columns: ColumnSpec[];
  /** The time column partitions and retention go by. */
  timeColumn: string;
  /** Sorting key: the queries' filters first, the id last (what de-duplicates). */
  orderBy: string[];
  description: string;
}

/** What the server can do, probed at start. */
export interface Capabilities {
  version: string;
  lowCardinality: boolean;
  dateTime64: boolean;
  ttl: boolean;
  codecs: boolean;
}

export const LEVELS = ['informational', 'low', 'medium', 'high', 'critical'] as const;

const col = (name: string, kind: ColumnKind, since: number, description: string): ColumnSpec => ({
  name,
  kind,
  since,
  description,
});

export const TABLES: readonly TableSpec[] = [
  {
    name: 'alerts',
    since: 1,
    timeColumn: 'detected_at',
    orderBy: ['rule_id', 'detected_at', 'alert_id'],
    description: 'One row per alert (deterministic alert_id).',
    columns: [
      col('alert_id', 'string', 1, 'Deterministic id: the same input gives the same id.'),
      col('rule_id', 'label', 1, "The rule's id (or its content-derived uid)."),
      col('rule_title', 'label', 1, "The rule's title."),
      col('rule_type', 'label', 1, '`detection` or the correlation type.'),
      col('level', 'level', 1, 'informational < low < medium < high < critical.'),
      col('mode', 'label', 1, '`monitor` or `enforce`.'),
      col('tags', 'strings', 1, "The rule's tags (ATT&CK and others)."),
      col('user', 'string', 1, 'Entities of the event that completed the detection ("" when none).'),
      col('user_id', 'string', 1, ''),
      col('ip', 'string', 1, ''),
      col('session', 'string', 1, ''),
      col('first_seen', 'time', 1, 'Event time of the first event that took part.'),
      col('last_seen', 'time', 1, 'Event time of the last.'),
      col('detected_at', 'time', 1, 'Event time of the event that completed the detection.'),
      col('event_count', 'uint32', 1, 'Events that took part.'),
      col('group_json', 'string', 1, 'The group-by values, as a JSON object.'),
      col('alert_json', 'blob', 1, 'The whole alert as published, JSON.'),
      col('device', 'string', 2, ''),
      col('client', 'string', 2, ''),
      col('phone', 'string', 2, ''),
      col('country', 'label', 2, ''),
      col('asn', 'uint32', 2, '0 when unknown.'),
    ],
  },
  {
    name: 'actions',
    since: 1,
    timeColumn: 'created_at',
    orderBy: ['target_kind', 'target_value', 'created_at', 'action_id'],
    description: 'One row per response action (deterministic action_id).',
    columns: [
      col('action_id', 'string', 1, 'Deterministic id.'),
      col('alert_id', 'string', 1, 'The alert that ordered it.'),
      col('type', 'label', 1, 'revoke_sessions, block_ip, notify, …'),
      col('target_kind', 'label', 1, 'user, ip, session, device, client, phone or none.'),
      col('target_value', 'string', 1, ''),
      col('mode', 'label', 1, '`dry_run` or `enforce`.'),
      col('created_at', 'time', 1, 'Event time it was ordered at.'),
      col('expires_at', 'time', 1, 'Event time after which it no longer holds.'),
      col('duration_ms', 'uint64', 1, '0 for instant actions.'),
      col('action_json', 'blob', 1, 'The whole action as published, JSON.'),
    ],
  },
  {
    name: 'events',
    since: 2,
    timeColumn: 'time',
    orderBy: ['user_id', 'time', 'event_id'],
    description: 'Canonical events, when `clickhouse.events` is on: for investigation and replay.',
    columns: [
      col('event_id', 'string', 2, "The event's id."),
      col('time', 'time', 2, 'Event time.'),
      col('type', 'label', 2, 'Canonical type.'),
      col('source', 'label', 2, 'auth0, okta or generic.'),
      col('outcome', 'label', 2, ''),
      col('user_id', 'string', 2, ''),
      col('user_name', 'string', 2, ''),
      col('ip', 'string', 2, ''),
      col('country', 'label', 2, ''),
      col('asn', 'uint32', 2, ''),
      col('session_id', 'string', 2, ''),
      col('event_json', 'blob', 2, 'The canonical event without `raw`, JSON.'),
      col('raw', 'blob', 2, 'The record as the source sent it, JSON ("" when none).'),
    ],
  },
];

/** The schema version this build writes. */
export const SCHEMA_VERSION = Math.max(...TABLES.flatMap((t) => [t.since, ...t.columns.map((c) => c.since)]));

export function tableSpec(name: TableName): TableSpec {
  return TABLES.find((t) => t.name === name)!;
}

export function columnType(kind: ColumnKind, caps: Capabilities): string {
  switch (kind) {
    case 'string':
      return 'String';
    case 'label':
      return caps.lowCardinality ? 'LowCardinality(String)' : 'String';
    case 'level':
      return `Enum8(${LEVELS.map((l, i) => `${literal(l)} = ${i + 1}`).join(', ')})`;
    case 'time':
      return caps.dateTime64 ? "DateTime64(3, 'UTC')" : "DateTime('UTC')";
    case 'uint32':
      return 'UInt32';
    case 'uint64':
      return 'UInt64';
    case 'strings':
      return 'Array(String)';
    case 'blob':
      return caps.codecs ? 'String CODEC(ZSTD(3))' : 'String';
  }
}

/** Retention per table, in days (0: keep forever). */
export type Retention = Partial<Record<TableName, number>>;

/** The columns of `spec` that exist at schema version `version`. */
export function columnsAt(spec: TableSpec, version: number): ColumnSpec[] {
  return spec.columns.filter((c) => c.since <= version);
}

/**
 * CREATE TABLE for `spec` as of schema `version`. With TTL, retention is the table's TTL and
 * partitions are monthly; without, partitions are daily so that retention can drop whole days.
 */
export function createTable(
  db: string,
  spec: TableSpec,
  caps: Capabilities,
  version: number,
  retention: Retention,
): Sql {
  const columns = join(columnsAt(spec, version).map((c) => raw(`${ident(c.name).text} ${columnType(c.kind, caps)}`)));
  const time = ident(spec.timeColumn);
  const partition = caps.ttl ? sql`toYYYYMM(${time})` : sql`toYYYYMMDD(${time})`;
  const days = retention[spec.name] ?? 0;
  const ttl = caps.ttl && days > 0 ? sql` TTL toDateTime(${time}) + INTERVAL ${days} DAY` : raw('');
  return sql`CREATE TABLE IF NOT EXISTS ${ident(db)}.${ident(spec.name)} (${columns}) ENGINE = ReplacingMergeTree() PARTITION BY ${partition} ORDER BY (${join(spec.orderBy.map((c) => ident(c)))})${ttl}`;
}

export function addColumn(db: string, spec: TableSpec, column: ColumnSpec, caps: Capabilities): Sql {
  return sql`ALTER TABLE ${ident(db)}.${ident(spec.name)} ADD COLUMN ${ident(column.name)} ${raw(columnType(column.kind, caps))}`;
}

export const VERSIONS_TABLE = 'schema_versions';

export function createVersionsTable(db: string): Sql {
  return sql`CREATE TABLE IF NOT EXISTS ${ident(db)}.${ident(VERSIONS_TABLE)} (version UInt32, applied_at DateTime('UTC'), authwatch String) ENGINE = MergeTree() ORDER BY version`;
}
