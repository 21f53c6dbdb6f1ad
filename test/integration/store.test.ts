import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ident, sql } from '../../src/clickhouse/sql.js';
import type { Action, Alert } from '../../src/engine/alert.js';
import { Engine } from '../../src/engine/engine.js';
import { createEnrichers } from '../../src/enrich/createEnrichers.js';
import { withoutRaw, type AuthEvent } from '../../src/events/authEvent.js';
import { Ingest } from '../../src/events/ingest.js';
import { emptyOutput, evaluate } from '../../src/pipeline/evaluate.js';
import { loadRulesWithValues } from '../../src/rules/overrides.js';
import { DetectionStore } from '../../src/store/detectionStore.js';
import { dropExpiredPartitions, migrate, schemaVersion } from '../../src/store/migrate.js';
import { alertRow } from '../../src/store/rows.js';
import { SCHEMA_VERSION, columnsAt, tableSpec } from '../../src/store/schema.js';
import { openStore, type ClickHouseStore } from '../../src/store/store.js';
import { authTraffic } from '../support/traffic.js';
import { testConfig, uniqueName } from '../support/services.js';

/**
 * The same suite against both ends of the supported range: Debian's ClickHouse 18.16 over
 * HTTP (the server the project's script starts), and the current engine in-process (chDB).
 */

/** Alerts, actions and events of attack traffic through the shipped pack. */
function detections(): { alerts: Alert[]; actions: Action[]; events: AuthEvent[] } {
  const { lines } = authTraffic({ seed: 31, events: 6000, attacks: 4 });
  const ingest = new Ingest('store-test', { enrichers: createEnrichers({ geo: true, asn: true }) });
  const engine = new Engine(loadRulesWithValues(['detections']));
  const out = emptyOutput();
  const events: AuthEvent[] = [];
  lines.forEach((text, i) => {
    const bytes = Buffer.from(text);
    const result = ingest.process(bytes, { line: i + 1 });
    if (!result.ok) return;
    events.push(result.event);
    evaluate(engine, ingest, result.event, { bytes, position: { line: i + 1 } }, out);
  });
  engine.flush(out);
  return { alerts: out.alerts, actions: out.actions, events };
}

const data = detections();
const scratch = mkdtempSync(join(tmpdir(), 'authwatch-store-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const engines: Array<{ name: string; modern: boolean; open: () => Promise<ClickHouseStore> }> = [
  { name: 'ClickHouse 18.16 server over HTTP', modern: false, open: () => openStore(testConfig().clickhouse) },
  {
    name: 'embedded chDB (current ClickHouse)',
    modern: true,
    open: () => openStore({ ...testConfig().clickhouse, url: undefined, path: join(scratch, 'embedded') }),
  },
];

const forever = { retention: { alerts: '0', actions: '0', events: '0' } };

describe.each(engines)('store on $name', ({ modern, open }) => {
  let store: ClickHouseStore;
  const databases: string[] = [];
  const fresh = (prefix: string) => {
    const name = uniqueName(prefix);
    databases.push(name);
    return name;
  };
  beforeAll(async () => {
    store = await open();
  });
  afterAll(async () => {
    for (const db of databases) await store.command(sql`DROP DATABASE IF EXISTS ${ident(db)}`);
    await store.close();
  });

  const rows = async <T>(q: ReturnType<typeof sql>) => store.query<T>(q);

  it('creates the schema of this version with the types the server supports, and a second migration changes nothing', async () => {
    const db = fresh('schema');
    const first = await migrate(store, db, { retention: { alerts: 90, events: 7 } });
    expect(first).toEqual({ from: 0, to: SCHEMA_VERSION, created: ['alerts', 'actions', 'events'], added: [] });
    expect(await migrate(store, db, { retention: { alerts: 90, events: 7 } })).toEqual({
      from: SCHEMA_VERSION,
      to: SCHEMA_VERSION,
      created: [],
      added: [],
    });
    expect(await schemaVersion(store, db)).toBe(SCHEMA_VERSION);
    const types = Object.fromEntries(
      (
        await rows<{ name: string; type: string }>(
          sql`SELECT name, type FROM system.columns WHERE database = ${db} AND table = 'alerts'`,
        )
      ).map((c) => [c.name, c.type]),
    );
    expect(Object.keys(types)).toEqual(columnsAt(tableSpec('alerts'), SCHEMA_VERSION).map((c) => c.name));
    expect(types.detected_at).toBe(modern ? "DateTime64(3, 'UTC')" : "DateTime('UTC')");
    expect(types.rule_id).toBe(modern ? 'LowCardinality(String)' : 'String');
    expect(types.level).toMatch(/^Enum8\('informational' = 1, 'low' = 2, 'medium' = 3, 'high' = 4, 'critical' = 5\)$/);
    const [table] = await rows<{ e: string }>(
      sql`SELECT engine_full AS e FROM system.tables WHERE database = ${db} AND name = 'alerts'`,
    );
    expect(table!.e).toMatch(/^ReplacingMergeTree/);
    if (modern) expect(table!.e).toMatch(/TTL toDateTime\(detected_at\) \+ toIntervalDay\(90\)/);
    else expect(table!.e).toMatch(/PARTITION BY toYYYYMMDD\(detected_at\)/);
    // A changed retention is applied to the table where there is TTL.
    await migrate(store, db, { retention: { alerts: 30 } });
    const [after] = await rows<{ e: string }>(
      sql`SELECT engine_full AS e FROM system.tables WHERE database = ${db} AND name = 'alerts'`,
    );
    if (modern) expect(after!.e).toMatch(/toIntervalDay\(30\)/);
  });

  it('migrates a database of schema version 1, adding what version 2 brought, without losing a row', async () => {
    const db = fresh('upgrade');
    expect((await migrate(store, db, { target: 1 })).created).toEqual(['alerts', 'actions']);
    const caps = await store.capabilities();
    const v1 = new Set(columnsAt(tableSpec('alerts'), 1).map((c) => c.name));
    const old = data.alerts
      .slice(0, 5)
      .map((a) => Object.fromEntries(Object.entries(alertRow(a, caps)).filter(([k]) => v1.has(k))));
    await store.insert(db, 'alerts', old);

    const up = await migrate(store, db);
    expect(up.from).toBe(1);
    expect(up.to).toBe(SCHEMA_VERSION);
    expect(up.created).toEqual(['events']);
    expect(up.added).toEqual(['alerts.device', 'alerts.client', 'alerts.phone', 'alerts.country', 'alerts.asn']);
    const back = await rows<{ alert_json: string; device: string; asn: number }>(
      sql`SELECT alert_json, device, asn FROM ${ident(db)}.alerts ORDER BY alert_id`,
    );
    expect(back.map((r) => JSON.parse(r.alert_json) as Alert)).toEqual(
      [...data.alerts.slice(0, 5)].sort((a, b) => a.alert_id.localeCompare(b.alert_id)),
    );
    expect(back.every((r) => r.device === '' && Number(r.asn) === 0)).toBe(true);
    expect((await migrate(store, db)).added).toEqual([]);
  });

  it('writes alerts, actions and events, reads them back as they were, and shows a row delivered twice once', async () => {
    const db = fresh('rows');
    const ds = await DetectionStore.on(store, { database: db, events: true, ...forever });
    expect(data.alerts.length).toBeGreaterThan(10);
    expect(data.actions.length).toBeGreaterThan(5);
    await ds.insert('alerts', ds.alertRows(data.alerts));
    await ds.insert('actions', ds.actionRows(data.actions));
    await ds.insert('events', ds.eventRows(data.events));
    // At-least-once: the same output again, in another insert (another part).
    await ds.insert('alerts', ds.alertRows(data.alerts.slice(0, 7)));
    await ds.insert('actions', ds.actionRows(data.actions.slice(0, 3)));

    const byId = <T extends { alert_id: string; action_id?: string }>(xs: T[]) =>
      [...xs].sort((a, b) => (a.action_id ?? a.alert_id).localeCompare(b.action_id ?? b.alert_id));
    const alerts = await rows<{ alert_json: string }>(sql`SELECT alert_json FROM ${ident(db)}.alerts FINAL`);
    expect(byId(alerts.map((r) => JSON.parse(r.alert_json) as Alert))).toEqual(byId(data.alerts));
    const actions = await rows<{ action_json: string }>(sql`SELECT action_json FROM ${ident(db)}.actions FINAL`);
    expect(byId(actions.map((r) => JSON.parse(r.action_json) as Action))).toEqual(byId(data.actions));
    // argMax over the id is the other way to read past duplicates.
    const [arg] = await rows<{ n: string | number }>(
      sql`SELECT count() AS n FROM (SELECT alert_id, argMax(level, detected_at) AS level FROM ${ident(db)}.alerts GROUP BY alert_id)`,
    );
    expect(Number(arg!.n)).toBe(data.alerts.length);
    // And once merged, the duplicates are gone from the table itself.
    await store.command(sql`OPTIMIZE TABLE ${ident(db)}.alerts FINAL`);
    const [merged] = await rows<{ n: string | number }>(sql`SELECT count() AS n FROM ${ident(db)}.alerts`);
    expect(Number(merged!.n)).toBe(data.alerts.length);

    const events = await rows<{ event_json: string; raw: string; time: string }>(
      sql`SELECT event_json, raw, time FROM ${ident(db)}.events FINAL ORDER BY time, event_id`,
    );
    expect(events).toHaveLength(data.events.length);
    const want = new Map(data.events.map((e) => [e.id, e]));
    for (const r of events) {
      const e = JSON.parse(r.event_json) as AuthEvent;
      expect(e).toEqual(withoutRaw(want.get(e.id)!));
      expect(r.raw).toBe(want.get(e.id)!.raw === undefined ? '' : JSON.stringify(want.get(e.id)!.raw));
    }
    // Queries by level compare by severity.
    const [high] = await rows<{ n: string | number }>(
      sql`SELECT count() AS n FROM ${ident(db)}.alerts FINAL WHERE level >= 'high'`,
    );
    expect(Number(high!.n)).toBe(data.alerts.filter((a) => a.level === 'high' || a.level === 'critical').length);
  });

  it('keeps rows for their retention: older ones go, by TTL or by dropping whole days', async () => {
    const db = fresh('retention');
    const ds = await DetectionStore.on(store, { database: db, retention: { alerts: '30d' } });
    const now = Date.now();
    const at = (daysAgo: number, id: string): Alert => ({
      ...data.alerts[0]!,
      alert_id: id.padEnd(32, '0'),
      first_seen: now - daysAgo * 86_400_000,
      last_seen: now - daysAgo * 86_400_000,
      detected_at: now - daysAgo * 86_400_000,
    });
    await ds.insert('alerts', ds.alertRows([at(100, 'a'), at(45, 'b'), at(1, 'c'), at(0, 'd')]));
    if (modern) await store.command(sql`OPTIMIZE TABLE ${ident(db)}.alerts FINAL`);
    else expect((await dropExpiredPartitions(store, db, { alerts: 30 }, now)).sort()).toHaveLength(2);
    const left = await rows<{ alert_id: string }>(sql`SELECT alert_id FROM ${ident(db)}.alerts ORDER BY alert_id`);
    expect(left.map((r) => r.alert_id[0])).toEqual(['c', 'd']);
  });

  it('takes a filter value with quotes, backslashes and SQL keywords as a value', async () => {
    const db = fresh('quoting');
    const ds = await DetectionStore.on(store, { database: db, ...forever });
    const nasty = [
      "o'brien",
      "x' OR '1'='1",
      "\\'; DROP TABLE alerts; --",
      'back\\slash\\',
      'tab\tnew\nline\u0000nul',
      "') UNION ALL SELECT name FROM system.tables --",
    ];
    await ds.insert(
      'alerts',
      ds.alertRows(
        nasty.map((user, i) => ({ ...data.alerts[0]!, alert_id: String(i).padStart(32, '0'), entities: { user } })),
      ),
    );
    for (const [i, user] of nasty.entries()) {
      const found = await rows<{ alert_id: string; user: string }>(
        sql`SELECT alert_id, user FROM ${ident(db)}.alerts FINAL WHERE user = ${user}`,
      );
      expect(found).toEqual([{ alert_id: String(i).padStart(32, '0'), user }]);
    }
    const [all] = await rows<{ n: string | number }>(sql`SELECT count() AS n FROM ${ident(db)}.alerts`);
    expect(Number(all!.n)).toBe(nasty.length);
  });
});
