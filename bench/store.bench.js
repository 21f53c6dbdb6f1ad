// Insert throughput into the store (alerts, events) on both engines, and the storage size of
// a million events. Starts the project's ClickHouse when it is not running.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ident, sql } from '../dist/clickhouse/sql.js';
import { DetectionStore } from '../dist/store/detectionStore.js';
import { openStore } from '../dist/store/store.js';
import { Engine } from '../dist/engine/engine.js';
import { loadRules } from '../dist/rules/loader.js';
import { traffic } from './engine.bench.js';
import { fmt } from './harness.js';

export const title = 'ClickHouse store: inserts and size (issue 10)';

const EVENTS = Number(process.env.BENCH_STORE_EVENTS ?? 1_000_000);
const ALERTS = Number(process.env.BENCH_STORE_ALERTS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_STORE_ROUNDS ?? 3);
const BATCH = 50_000;
const root = new URL('..', import.meta.url).pathname;

/** Real alerts of the pack, repeated under fresh ids up to `n`. */
function alerts(n) {
  const engine = new Engine(loadRules([join(root, 'detections')]));
  const out = [];
  for (const e of traffic(300_000, 3)) out.push(...engine.process(e).alerts);
  out.push(...engine.flush().alerts);
  return Array.from({ length: n }, (_, i) => {
    const a = out[i % out.length];
    return { ...a, alert_id: `${i.toString(16).padStart(8, '0')}${a.alert_id.slice(8)}` };
  });
}

/** Canonical events, each with its record as the source sent it (the raw column). */
function events(n) {
  return traffic(n, 7).map((e) => ({ ...e, raw: { ...e, log_id: e.id, details: { request: { ua: e.user_agent } } } }));
}

async function timeInserts(ds, table, rows) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < rows.length; i += BATCH) await ds.insert(table, rows.slice(i, i + BATCH));
  return rows.length / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function measure(name, open) {
  const store = await open();
  const result = { name, alerts: [], events: [], bytes: 0, uncompressed: 0 };
  const alertList = alerts(ALERTS);
  const eventList = events(EVENTS);
  for (let r = 0; r < ROUNDS; r++) {
    const database = `bench_store_${process.pid}_${r}`;
    const ds = await DetectionStore.on(store, {
      database,
      events: true,
      retention: { alerts: '0', actions: '0', events: '0' },
    });
    // Rows are built outside the timing: the figure is the database's.
    result.alerts.push(await timeInserts(ds, 'alerts', ds.alertRows(alertList)));
    result.events.push(await timeInserts(ds, 'events', ds.eventRows(eventList)));
    if (r === 0) {
      await store.command(sql`OPTIMIZE TABLE ${ident(database)}.events FINAL`);
      const [size] = await store.query(
        sql`SELECT sum(bytes_on_disk) AS b, sum(data_uncompressed_bytes) AS u FROM system.parts WHERE database = ${database} AND table = 'events' AND active`,
      );
      result.bytes = (Number(size.b) * 1e6) / EVENTS;
      result.uncompressed = (Number(size.u) * 1e6) / EVENTS;
    }
    await store.command(sql`DROP DATABASE IF EXISTS ${ident(database)}`);
  }
  await store.close();
  return result;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run() {
  execFileSync('bash', [join(root, 'scripts/services.sh'), 'start', 'clickhouse'], { stdio: 'ignore' });
  const dir = mkdtempSync(join(tmpdir(), 'authwatch-bench-store-'));
  const url = process.env.AUTHWATCH_CLICKHOUSE_URL ?? 'http://127.0.0.1:8123';
  const base = { database: 'authwatch', username: 'default', password: '' };
  const results = [
    await measure('ClickHouse 18.16 server, HTTP', () => openStore({ ...base, url })),
    await measure('embedded chDB (ClickHouse 26.7)', () => openStore({ ...base, path: join(dir, 'embedded') })),
  ];
  rmSync(dir, { recursive: true, force: true });
  console.log(
    `${fmt(ALERTS)} alerts and ${fmt(EVENTS)} events (with their raw records) inserted in batches of ${fmt(BATCH)} rows, ${ROUNDS} rounds; rows/s median (min–max); size of the events table after a merge, per million events:\n`,
  );
  console.log('| store | alerts rows/s | events rows/s | events on disk per 1M | uncompressed per 1M |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of results) {
    const cell = (xs) => `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;
    console.log(
      `| ${r.name} | ${cell(r.alerts)} | ${cell(r.events)} | ${fmt(r.bytes / 2 ** 20)} MiB | ${fmt(r.uncompressed / 2 ** 20)} MiB |`,
    );
  }
}
