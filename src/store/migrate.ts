import { ident, sql } from '../clickhouse/sql.js';
import { ServiceError } from '../errors.js';
import {
  SCHEMA_VERSION,
  TABLES,
  VERSIONS_TABLE,
  addColumn,
  columnsAt,
  createTable,
  createVersionsTable,
  type Retention,
  type TableSpec,
} from './schema.js';
import type { ClickHouseStore } from './store.js';

export interface MigrationResult {
  /** The schema version found (0: a new database). */
  from: number;
  to: number;
  created: string[];
  /** `table.column` added to existing tables. */
  added: string[];
}

/**
 * Brings the database to schema `target` (this build's by default): creates what is missing,
 * adds the columns a newer version brought to tables that exist, and records the version.
 * Idempotent: running it again changes nothing. Never drops or rewrites a column, so an
 * upgrade keeps every row; a database written by a newer authwatch is refused.
 */
export async function migrate(
  store: ClickHouseStore,
  database: string,
  options: { retention?: Retention; target?: number; version?: string } = {},
): Promise<MigrationResult> {
  const target = options.target ?? SCHEMA_VERSION;
  const retention = options.retention ?? {};
  if (store.kind === 'files') return { from: target, to: target, created: [], added: [] };
  const caps = await store.capabilities();
  const db = ident(database);
  await store.command(sql`CREATE DATABASE IF NOT EXISTS ${db}`);
  await store.command(createVersionsTable(database));
  const from = await schemaVersion(store, database);
  if (from > target)
    throw new ServiceError(
      'clickhouse',
      `The database ${database} is at schema version ${from}, newer than this authwatch writes (${target}); upgrade authwatch.`,
    );
  const created: string[] = [];
  const added: string[] = [];
  for (const spec of TABLES) {
    if (spec.since > target) continue;
    const existing = await columnsOf(store, database, spec.name);
    if (existing.size === 0) {
      await store.command(createTable(database, spec, caps, target, retention));
      created.push(spec.name);
      continue;
    }
    for (const column of columnsAt(spec, target)) {
      if (existing.has(column.name)) continue;
      await store.command(addColumn(database, spec, column, caps));
      added.push(`${spec.name}.${column.name}`);
    }
    if (caps.ttl) await keepTtl(store, database, spec, retention[spec.name] ?? 0);
  }
  if (from < target)
    await store.insert(database, VERSIONS_TABLE, [
      { version: target, applied_at: Math.floor(Date.now() / 1000), authwatch: options.version ?? '' },
    ]);
  return { from, to: target, created, added };
}

/** The schema version recorded in `database` (0 when none). */
export async function schemaVersion(store: ClickHouseStore, database: string): Promise<number> {
  const [row] = await store.query<{ v: number | string }>(
    sql`SELECT max(version) AS v FROM ${ident(database)}.${ident(VERSIONS_TABLE)}`,
  );
  return Number(row?.v ?? 0);
}

async function columnsOf(store: ClickHouseStore, database: string, table: string): Promise<Set<string>> {
  const rows = await store.query<{ name: string }>(
    sql`SELECT name FROM system.columns WHERE database = ${database} AND table = ${table}`,
  );
  return new Set(rows.map((r) => r.name));
}

/** Sets the table's TTL to the configured retention when it differs (a changed configuration). */
async function keepTtl(store: ClickHouseStore, database: string, spec: TableSpec, days: number): Promise<void> {
  const [row] = await store.query<{ e: string }>(
    sql`SELECT engine_full AS e FROM system.tables WHERE database = ${database} AND name = ${spec.name}`,
  );
  const current = /TTL .*toIntervalDay\((\d+)\)/.exec(row?.e ?? '')?.[1];
  if (Number(current ?? 0) === days) return;
  const table = sql`${ident(database)}.${ident(spec.name)}`;
  const time = ident(spec.timeColumn);
  await store.command(
    days > 0
      ? sql`ALTER TABLE ${table} MODIFY TTL toDateTime(${time}) + INTERVAL ${days} DAY`
      : sql`ALTER TABLE ${table} REMOVE TTL`,
  );
}

/**
 * Retention where the server has no TTL (18.16): drops the daily partitions wholly older than
 * each table's retention. Returns the partitions dropped, as `table:YYYYMMDD`. On servers with
 * TTL it does nothing (the TTL removes rows as parts merge).
 */
export async function dropExpiredPartitions(
  store: ClickHouseStore,
  database: string,
  retention: Retention,
  now = Date.now(),
): Promise<string[]> {
  if (store.kind === 'files' || (await store.capabilities()).ttl) return [];
  const dropped: string[] = [];
  for (const spec of TABLES) {
    const days = retention[spec.name] ?? 0;
    if (days <= 0) continue;
    const cutoff = Number(new Date(now - days * 86_400_000).toISOString().slice(0, 10).replaceAll('-', ''));
    const parts = await store.query<{ p: string }>(
      sql`SELECT DISTINCT partition AS p FROM system.parts WHERE database = ${database} AND table = ${spec.name} AND active`,
    );
    for (const { p } of parts) {
      const day = Number(p);
      if (!Number.isInteger(day) || day >= cutoff) continue;
      await store.command(sql`ALTER TABLE ${ident(database)}.${ident(spec.name)} DROP PARTITION ${day}`);
      dropped.push(`${spec.name}:${day}`);
    }
  }
  return dropped;
}
