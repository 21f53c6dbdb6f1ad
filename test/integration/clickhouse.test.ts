import { afterAll, describe, expect, it } from 'vitest';
import { createClickhouseClient } from '../../src/clickhouse/clickhouseClient.js';
import { ident, sql } from '../../src/clickhouse/sql.js';
import { ServiceError } from '../../src/errors.js';
import { testConfig, uniqueName } from '../support/services.js';

const client = createClickhouseClient(testConfig().clickhouse);

describe('ClickHouse (real server)', () => {
  const db = ident(uniqueName('smoke'));
  afterAll(async () => {
    await client.command(sql`DROP DATABASE IF EXISTS ${db}`);
    await client.close();
  });

  it('creates a table, inserts rows and reads them back with SQL that 18.16 accepts', async () => {
    await client.command(sql`CREATE DATABASE IF NOT EXISTS ${db}`);
    const table = sql`${db}.${ident('alerts_smoke')}`;
    await client.command(sql`
      CREATE TABLE ${table} (
        alert_id String,
        rule_id String,
        level Enum8('informational' = 1, 'low' = 2, 'medium' = 3, 'high' = 4, 'critical' = 5),
        detected_at DateTime,
        event_count UInt32,
        tags Array(String),
        user_id Nullable(String)
      ) ENGINE = ReplacingMergeTree()
      PARTITION BY toYYYYMMDD(detected_at)
      ORDER BY (rule_id, alert_id)`);

    await client.insert(table, [
      {
        alert_id: 'a1',
        rule_id: 'r1',
        level: 'high',
        detected_at: '2026-01-02 03:04:05',
        event_count: 12,
        tags: ['attack.t1110'],
        user_id: 'u1',
      },
      {
        alert_id: 'a2',
        rule_id: 'r1',
        level: 'low',
        detected_at: '2026-01-03 00:00:00',
        event_count: 1,
        tags: [],
        user_id: null,
      },
      {
        alert_id: 'a3',
        rule_id: 'r2',
        level: 'critical',
        detected_at: '2026-01-03 00:00:01',
        event_count: 3,
        tags: ['x', "o'brien"],
        user_id: "o'brien\\",
      },
    ]);

    const rows = await client.query<{
      alert_id: string;
      level: string;
      event_count: number;
      tags: string[];
      user_id: string | null;
    }>(sql`SELECT alert_id, level, event_count, tags, user_id FROM ${table} WHERE rule_id = ${'r1'} ORDER BY alert_id`);
    expect(rows).toEqual([
      { alert_id: 'a1', level: 'high', event_count: 12, tags: ['attack.t1110'], user_id: 'u1' },
      { alert_id: 'a2', level: 'low', event_count: 1, tags: [], user_id: null },
    ]);

    // Escaped values round-trip: a quote and a backslash in a value cannot end the literal.
    const tricky = await client.query<{ alert_id: string }>(
      sql`SELECT alert_id FROM ${table} WHERE user_id = ${"o'brien\\"}`,
    );
    expect(tricky).toEqual([{ alert_id: 'a3' }]);

    const partitions = await client.query<{ partition: string }>(
      sql`SELECT DISTINCT partition FROM system.parts WHERE database = ${db.text.slice(1, -1)} AND active ORDER BY partition`,
    );
    expect(partitions.map((p) => p.partition)).toEqual(['20260102', '20260103']);

    // Retention works by dropping a partition, which every release supports.
    await client.command(sql`ALTER TABLE ${table} DROP PARTITION ${20260102}`);
    const left = await client.query<{ n: string }>(sql`SELECT count() AS n FROM ${table}`);
    expect(Number(left[0]!.n)).toBe(2);
  });

  it('reports a server-side error as a non-retriable ServiceError', async () => {
    const err = await client.query(sql`SELECT * FROM ${db}.${ident('no_such_table')}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceError);
    expect((err as ServiceError).retriable).toBe(false);
    expect((err as ServiceError).message).toMatch(/no_such_table/);
  });
});
