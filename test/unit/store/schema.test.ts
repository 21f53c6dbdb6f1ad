import { describe, expect, it } from 'vitest';
import { retentionOf } from '../../../src/store/detectionStore.js';
import { timeText } from '../../../src/store/rows.js';
import { SCHEMA_VERSION, TABLES, columnsAt, createTable, tableSpec } from '../../../src/store/schema.js';
import { capabilitiesOf } from '../../../src/store/store.js';

const OLD = capabilitiesOf('18.16.1');
const NEW = capabilitiesOf('26.7.2.1');

describe('store schema', () => {
  it('reads what a server can do from its version', () => {
    expect(OLD).toEqual({ version: '18.16.1', lowCardinality: false, dateTime64: false, ttl: false, codecs: false });
    expect(NEW).toEqual({ version: '26.7.2.1', lowCardinality: true, dateTime64: true, ttl: true, codecs: true });
    expect(capabilitiesOf('19.16.3').dateTime64).toBe(false);
    expect(capabilitiesOf('20.1.2').dateTime64).toBe(true);
  });

  it('generates portable DDL for 18.16: String, DateTime, daily partitions, no TTL', () => {
    const ddl = createTable('authwatch', tableSpec('actions'), OLD, SCHEMA_VERSION, { actions: 365 }).text;
    expect(ddl).toBe(
      'CREATE TABLE IF NOT EXISTS `authwatch`.`actions` (`action_id` String, `alert_id` String, `type` String, ' +
        "`target_kind` String, `target_value` String, `mode` String, `created_at` DateTime('UTC'), " +
        "`expires_at` DateTime('UTC'), `duration_ms` UInt64, `action_json` String) ENGINE = ReplacingMergeTree() " +
        'PARTITION BY toYYYYMMDD(`created_at`) ORDER BY (`target_kind`, `target_value`, `created_at`, `action_id`)',
    );
  });

  it('generates DDL with LowCardinality, DateTime64(3), codecs and TTL for current ClickHouse', () => {
    const ddl = createTable('authwatch', tableSpec('actions'), NEW, SCHEMA_VERSION, { actions: 90 }).text;
    expect(ddl).toContain('`type` LowCardinality(String)');
    expect(ddl).toContain("`created_at` DateTime64(3, 'UTC')");
    expect(ddl).toContain('`action_json` String CODEC(ZSTD(3))');
    expect(ddl).toContain('PARTITION BY toYYYYMM(`created_at`)');
    expect(ddl).toMatch(/TTL toDateTime\(`created_at`\) \+ INTERVAL 90 DAY$/);
    // Retention 0 keeps rows forever: no TTL at all.
    expect(createTable('authwatch', tableSpec('actions'), NEW, SCHEMA_VERSION, { actions: 0 }).text).not.toContain(
      'TTL',
    );
  });

  it('sorts every table by columns that are a function of its id, so a row delivered twice collapses', () => {
    for (const t of TABLES) {
      const id = t.columns[0]!.name;
      expect(id).toMatch(/_id$/);
      expect(t.orderBy.at(-1)).toBe(id);
      for (const c of t.orderBy) expect(columnsAt(t, t.since).map((x) => x.name)).toContain(c);
      expect(t.orderBy).toContain(t.timeColumn);
    }
  });

  it('writes times as the column reads them, in UTC, clamped to the range both engines hold', () => {
    const t = Date.UTC(2026, 10, 30, 1, 2, 3, 456);
    expect(timeText(t, NEW)).toBe('2026-11-30 01:02:03.456');
    expect(timeText(t, OLD)).toBe('2026-11-30 01:02:03');
    expect(timeText(-5, NEW)).toBe('1970-01-01 00:00:00.000');
    expect(timeText(Date.UTC(3000, 0, 1), OLD)).toBe('2105-12-31 23:59:59');
  });

  it('takes retention from the configuration in days, with defaults, 0 meaning forever', () => {
    expect(retentionOf({})).toEqual({ alerts: 365, actions: 365, events: 30 });
    expect(retentionOf({ retention: { alerts: '90d', events: '0' } })).toEqual({ alerts: 90, actions: 365, events: 0 });
  });
});
