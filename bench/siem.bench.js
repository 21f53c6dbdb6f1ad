// SIEM export (issue 16): formatting rate per format, `authwatch export`'s read-and-format
// rate from the store (embedded, and the ClickHouse server when it answers), and the live
// sinks' delivery rate to loopback receivers that accept everything.
import { Buffer } from 'node:buffer';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../dist/engine/engine.js';
import { loadRules } from '../dist/rules/loader.js';
import { DetectionStore } from '../dist/store/detectionStore.js';
import { openStore } from '../dist/store/store.js';
import { exportPages } from '../dist/cli/export.js';
import { EXPORT_FORMATS, lineFormat, detectionsOf } from '../dist/siem/formats.js';
import { HecSink } from '../dist/siem/hecSink.js';
import { SyslogSink } from '../dist/siem/syslogSink.js';
import { WebhookSink } from '../dist/siem/webhookSink.js';
import { ident, sql } from '../dist/clickhouse/sql.js';
import { traffic } from './engine.bench.js';
import { fmt, measure } from './harness.js';

export const title = 'SIEM export: formats, export, live sinks (issue 16)';

const STORED = Number(process.env.BENCH_SIEM_STORED ?? 100_000);
const SENT = Number(process.env.BENCH_SIEM_SENT ?? 20_000);
const root = new URL('..', import.meta.url).pathname;

/** The pack's alerts and actions over generated traffic, repeated under fresh ids up to `n`. */
function detections(n) {
  const engine = new Engine(loadRules([join(root, 'detections')]));
  const alerts = [];
  const actions = [];
  for (const e of traffic(300_000, 3)) {
    const out = engine.process(e);
    alerts.push(...out.alerts);
    actions.push(...out.actions);
  }
  const last = engine.flush();
  alerts.push(...last.alerts);
  actions.push(...last.actions);
  const base = detectionsOf(alerts, actions);
  return Array.from({ length: n }, (_, i) => {
    const d = base[i % base.length];
    const id = `${i.toString(16).padStart(8, '0')}${d.alert.alert_id.slice(8)}`;
    return { alert: { ...d.alert, alert_id: id }, actions: d.actions.map((a) => ({ ...a, alert_id: id })) };
  });
}

async function exportRate(name, store, ds, list) {
  for (let i = 0; i < list.length; i += 20_000) {
    const part = list.slice(i, i + 20_000);
    await ds.insert('alerts', ds.alertRows(part.map((d) => d.alert)));
    await ds.insert('actions', ds.actionRows(part.flatMap((d) => d.actions)));
  }
  const rates = [];
  for (let r = 0; r < 3; r++) {
    const f = lineFormat('ocsf');
    const t0 = process.hrtime.bigint();
    let n = 0;
    let bytes = 0;
    for await (const page of exportPages(store, ds.database, {})) {
      for (const d of page) bytes += f.line(d).length + 1;
      n += page.length;
    }
    if (n !== list.length) throw new Error(`${name}: exported ${n} of ${list.length}`);
    rates.push(n / (Number(process.hrtime.bigint() - t0) / 1e9));
    if (bytes === 0) throw new Error('nothing written');
  }
  rates.sort((a, b) => a - b);
  return rates[1];
}

export async function run() {
  const list = detections(STORED);
  const sample = list.slice(0, 20_000);
  console.log('Formatting, alerts per second (median of 9 rounds of 20,000 pack alerts with their actions):\n');
  console.log('| format | alerts/s | bytes per alert |');
  console.log('| --- | ---: | ---: |');
  for (const format of EXPORT_FORMATS) {
    const f = lineFormat(format, { host: 'bench' });
    const bytes = sample.reduce((n, d) => n + Buffer.byteLength(f.line(d)) + 1, 0) / sample.length;
    const { median } = measure(() => {
      for (const d of sample) f.line(d);
    }, sample.length);
    console.log(`| ${format} | ${fmt(median)} | ${fmt(bytes)} |`);
  }

  console.log(
    `\n\`authwatch export --format ocsf\`'s work (read pages of 5,000 with FINAL, group actions, format) over ${fmt(STORED)} stored alerts, median of 3:\n`,
  );
  console.log('| store | alerts/s |');
  console.log('| --- | ---: |');
  const dir = mkdtempSync(join(tmpdir(), 'authwatch-bench-siem-'));
  const embedded = await openStore({ path: join(dir, 'store'), database: 'bench', username: '', password: '' });
  try {
    const ds = await DetectionStore.on(embedded, { database: 'bench_siem', retention: { alerts: '0', actions: '0' } });
    console.log(
      `| embedded (chDB, ClickHouse ${(await embedded.capabilities()).version}) | ${fmt(await exportRate('embedded', embedded, ds, list))} |`,
    );
  } finally {
    await embedded.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const url = process.env.BENCH_CLICKHOUSE_URL ?? 'http://127.0.0.1:8123';
  const server = await openStore({ url, database: 'default', username: 'default', password: '' });
  try {
    await server.capabilities();
    const database = `bench_siem_${process.pid}`;
    const ds = await DetectionStore.on(server, { database, retention: { alerts: '0', actions: '0' } });
    console.log(
      `| server (ClickHouse ${(await server.capabilities()).version}) | ${fmt(await exportRate('server', server, ds, list))} |`,
    );
    await server.command(sql`DROP DATABASE IF EXISTS ${ident(database)}`);
  } catch (err) {
    console.log(`| server | not measured: ${err.message.split('\n')[0]} |`);
  } finally {
    await server.close();
  }

  // Receivers on loopback that take everything and answer at once: what the sinks themselves cost.
  const http = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200).end('{"text":"Success","code":0}'));
  });
  await new Promise((r) => http.listen(0, '127.0.0.1', r));
  const tcp = createTcpServer((s) => s.resume());
  await new Promise((r) => tcp.listen(0, '127.0.0.1', r));
  const target = `http://127.0.0.1:${http.address().port}`;
  const sinks = {
    'syslog (tcp, CEF)': () =>
      new SyslogSink({
        host: '127.0.0.1',
        port: tcp.address().port,
        protocol: 'tcp',
        facility: 10,
        hostname: 'bench',
        appName: 'authwatch',
        maxMessageBytes: 8000,
        timeoutMs: 10_000,
      }),
    'hec (500 per request, gzip)': () =>
      new HecSink({
        url: target,
        token: 'bench',
        source: 'authwatch',
        sourcetype: 'authwatch:alert',
        host: 'bench',
        batchMaxEvents: 500,
        batchMaxBytes: 1_000_000,
        gzip: true,
        ack: false,
        ackTimeoutMs: 10_000,
        timeoutMs: 10_000,
      }),
    'webhook (one signed request per alert)': () =>
      new WebhookSink({ url: target, secret: 'a bench secret of some length', format: 'json', timeoutMs: 10_000 }),
  };
  console.log(
    `\nLive sinks to loopback receivers that accept everything, ${fmt(SENT)} alerts in batches of 500, median of 3:\n`,
  );
  console.log('| sink | alerts/s |');
  console.log('| --- | ---: |');
  const sent = list.slice(0, SENT);
  for (const [name, make] of Object.entries(sinks)) {
    const rates = [];
    for (let r = 0; r < 3; r++) {
      const sink = make();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < sent.length; i += 500) {
        const part = sent.slice(i, i + 500);
        await sink.write({
          alerts: part.map((d) => d.alert),
          actions: part.flatMap((d) => d.actions),
          deadLetters: [],
        });
      }
      rates.push(sent.length / (Number(process.hrtime.bigint() - t0) / 1e9));
      await sink.close();
    }
    rates.sort((a, b) => a - b);
    console.log(`| ${name} | ${fmt(rates[1])} |`);
  }
  http.closeAllConnections();
  http.close();
  tcp.close();
}
