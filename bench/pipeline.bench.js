// End to end through the real broker: `authwatch run` (a process of its own, as deployed)
// against `authwatch replay` on the same records, then detection latency from produce to
// alert at half the sustained rate. Starts the project's Kafka when it is not running.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createKafkaClient } from '../dist/kafka/kafkaClient.js';
import { authTraffic } from '../test/support/traffic.js';
import { parseDuration } from '../dist/time/duration.js';
import { fmt } from './harness.js';

export const title = 'Streaming engine through Kafka (issue 8)';

const BROKERS = (process.env.AUTHWATCH_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const EVENTS = Number(process.env.BENCH_PIPELINE_EVENTS ?? 300_000);
const ROUNDS = Number(process.env.BENCH_PIPELINE_ROUNDS ?? 3);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 30);
const WARMUP_MS = 5000;
/** Allowed lateness in the latency rounds: alerts that wait for event-time order come this much later. */
const LATENCY_LATENESS = process.env.BENCH_LATENCY_LATENESS ?? '5s';
const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'authwatch-bench-'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quantile = (xs, q) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];

export function names(prefix) {
  const base = `bench_${prefix}_${randomBytes(4).toString('hex')}`;
  return {
    events: `${base}.in`,
    alerts: `${base}.alerts`,
    actions: `${base}.actions`,
    dlq: `${base}.dlq`,
    state: `${base}.state`,
    hits: `${base}.hits`,
    group: base,
  };
}

export function config(t, { kafka = {}, pipeline = {}, ...extra } = {}) {
  const file = join(dir, `${t.group}.yaml`);
  writeFileSync(
    file,
    JSON.stringify({
      log_level: process.env.BENCH_LOG_LEVEL ?? 'info',
      kafka: {
        brokers: BROKERS,
        group_id: t.group,
        topics: { events: t.events, alerts: t.alerts, actions: t.actions, dlq: t.dlq, state: t.state, hits: t.hits },
        ...kafka,
      },
      server: { port: 0 },
      ...extra,
      pipeline: { status_interval: '0', ...pipeline },
      ...(process.env.BENCH_CONFIG ? JSON.parse(process.env.BENCH_CONFIG) : {}),
    }),
  );
  return file;
}

/** `authwatch run` with its metrics port, read from its first log lines. */
export async function startRun(file) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTHWATCH_')));
  const execArgv = process.env.BENCH_CHILD_EXEC_ARGV?.split(' ') ?? [];
  const child = spawn(process.execPath, [...execArgv, join(root, 'bin/authwatch.js'), 'run', '--config', file], {
    cwd: root,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let port;
  const logs = process.env.BENCH_LOG_FILE
    ? (await import('node:fs')).createWriteStream(process.env.BENCH_LOG_FILE, { flags: 'a' })
    : undefined;
  child.stderr.on('data', (chunk) => logs?.write(chunk));
  let assignedAt;
  let buf = '';
  child.stderr.on('data', (chunk) => {
    buf += chunk;
    for (let nl; (nl = buf.indexOf('\n')) >= 0;) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const log = JSON.parse(line);
        if (log.port) port = log.port;
        if (/^(Partitions|Hits partitions) assigned/.test(log.msg)) assignedAt ??= Date.parse(log.time);
      } catch {
        // not a log line
      }
    }
  });
  while (assignedAt === undefined) {
    if (child.exitCode !== null) throw new Error('authwatch run exited during start-up');
    await sleep(20);
  }
  const metrics = async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const sum = (name) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
        .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    return {
      records: sum('authwatch_records_total'),
      lag: sum('authwatch_consumer_lag'),
      rss: sum('authwatch_process_resident_memory_bytes'),
      sent: sum('authwatch_hits_records_total{stage="match"}'),
      read: sum('authwatch_hits_records_total{stage="correlate"}'),
      hits: sum('authwatch_hits_total{stage="correlate"}'),
      cpu: sum('authwatch_process_cpu_seconds_total'),
    };
  };
  const stop = async () => {
    if (process.env.BENCH_DUMP_METRICS) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      (await import('node:fs')).appendFileSync(process.env.BENCH_DUMP_METRICS, text);
    }
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  return { assignedAt, metrics, stop };
}

async function produceAll(client, topic, lines) {
  const producer = await client.producer();
  for (let i = 0; i < lines.length; i += 2000) {
    const records = lines.slice(i, i + 2000).map((value) => ({ key: JSON.parse(value).user?.name ?? null, value }));
    await producer.send([{ topic, records }]);
  }
  await producer.close();
}

/** Records/s of `authwatch run` over a backlog, from its assignment to every output written. */
async function runRound(client, lines) {
  const t = names('throughput');
  await client.createTopics([{ name: t.events, partitions: 3 }]);
  await produceAll(client, t.events, lines);
  const run = await startRun(config(t));
  let peakRss = 0;
  for (;;) {
    const m = await run.metrics();
    peakRss = Math.max(peakRss, m.rss);
    if (m.records >= lines.length && m.lag === 0) break;
    await sleep(100);
  }
  const seconds = (Date.now() - run.assignedAt) / 1000;
  await run.stop();
  await client.deleteTopics(Object.values(t).filter((n) => n !== t.group)).catch(() => undefined);
  return { rate: lines.length / seconds, peakRss };
}

/** Records/s of `authwatch replay` over the same records in a file, as it reports them. */
function replayRound(file) {
  const out = spawnSync(
    process.execPath,
    [join(root, 'bin/authwatch.js'), 'replay', '--rules', join(root, 'detections'), '--input', file],
    {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    },
  ).stderr.toString();
  const [, records, seconds] = /replayed (\d+) record\(s\) in ([\d.]+)s/.exec(out) ?? [];
  return Number(records) / Number(seconds);
}

/**
 * Produces `rate` events/s for `seconds` (event time = the moment each is produced), 1 % of
 * them probes of distinct users: alternately a signup with a disposable address (a single-event
 * alert, out at once) and a refresh-token reuse (its rule has `suppress`, so its hits wait for
 * event-time order: out the allowed lateness later). The latency of each is from its production
 * to its alert arriving on the alerts topic, kept per kind.
 */
export async function latencyRound(client, rate, seconds, extra = {}) {
  const t = names('latency');
  await client.createTopics([
    { name: t.events, partitions: 3 },
    { name: t.alerts, partitions: 3 },
  ]);
  let start;
  const run = await startRun(config(t, { engine: { allowed_lateness: LATENCY_LATENESS }, ...extra }));
  const latencies = [];
  const ordered = [];
  const written = [];
  let series;
  const consumer = client.groupConsumer({
    groupId: `${t.group}.reader`,
    topics: [t.alerts],
    startFrom: 'earliest',
    maxWaitMs: 50,
  });
  let assigned;
  const ready = new Promise((r) => (assigned = r));
  await consumer.run({
    onAssign: async () => assigned(),
    onBatch: (batch) => {
      const now = Date.now();
      for (const r of batch.records) {
        const a = JSON.parse(r.value.toString());
        // The first seconds warm the engine up (code compiled on first use, state growing): not counted.
        if (a.entities?.user_id?.startsWith('probe-') && a.detected_at >= start + WARMUP_MS) {
          if (a.rule_title === 'Refresh token reuse') {
            ordered.push(now - a.detected_at);
            if (process.env.BENCH_SERIES) (series ??= []).push([a.detected_at, now - a.detected_at]);
            continue;
          }
          latencies.push(now - a.detected_at);
          written.push(r.timestamp - a.detected_at);
          if (process.env.BENCH_SERIES) (series ??= []).push([a.detected_at, r.timestamp - a.detected_at]);
        }
      }
    },
  });
  await ready;
  const producer = await client.producer();
  start = Date.now();
  let sent = 0;
  let probes = 0;
  let counted = 0;
  const users = 50_000;
  while (Date.now() - start < seconds * 1000) {
    const due = Math.floor(((Date.now() - start) / 1000) * rate);
    const records = [];
    for (; sent < due; sent++) {
      const now = Date.now();
      const probe = probes;
      const event =
        sent % 100 === 0
          ? {
              id: `p${sent}`,
              time: now,
              ...(probes++ % 2 === 0
                ? { type: 'signup.success', user: { id: `probe-${probe}`, email_domain: 'mailinator.com' } }
                : { type: 'token.refresh.reuse', user: { id: `probe-${probe}` } }),
              ip: '81.2.69.160',
            }
          : {
              id: `b${sent}`,
              time: now,
              type: 'login.success',
              user: { id: `u${sent % users}`, name: `user${sent % users}@corp.example` },
              ip: `89.160.20.${1 + (sent % 200)}`,
            };
      if (sent % 100 === 0 && now >= start + WARMUP_MS) counted++;
      records.push({ key: event.user.id, value: JSON.stringify(event) });
    }
    if (records.length > 0) await producer.send([{ topic: t.events, records }]);
    await sleep(5);
  }
  const deadline = Date.now() + 10_000 + parseDuration(LATENCY_LATENESS);
  while (latencies.length + ordered.length < counted && Date.now() < deadline) await sleep(50);
  await producer.close();
  await consumer.close();
  await run.stop();
  await client.deleteTopics(Object.values(t).filter((n) => n !== t.group)).catch(() => undefined);
  latencies.sort((a, b) => a - b);
  ordered.sort((a, b) => a - b);
  written.sort((a, b) => a - b);
  if (series)
    (await import('node:fs')).writeFileSync(process.env.BENCH_SERIES, series.map((x) => x.join(' ')).join('\n'));
  return {
    rate: sent / seconds,
    probes: counted,
    received: latencies.length + ordered.length,
    latencies,
    ordered,
    written,
  };
}

export async function run() {
  execFileSync('bash', [join(root, 'scripts/services.sh'), 'start', 'kafka'], { stdio: 'ignore' });
  const client = createKafkaClient({ brokers: BROKERS, client_id: 'authwatch-bench' });
  const { lines } = authTraffic({ seed: 5, events: EVENTS, users: 50_000, attacks: 50, stepMs: 5 });
  const file = join(dir, 'events.ndjson');
  writeFileSync(file, `${lines.join('\n')}\n`);

  const replay = [];
  const runs = [];
  if (process.env.BENCH_LATENCY_ONLY) {
    const l = await latencyRound(client, Number(process.env.BENCH_LATENCY_ONLY), LATENCY_SECONDS);
    for (const [kind, xs] of [
      ['at once', l.latencies],
      ['ordered', l.ordered],
    ])
      console.log(kind, {
        rate: l.rate,
        received: xs.length,
        probes: l.probes,
        p50: quantile(xs, 0.5),
        p90: quantile(xs, 0.9),
        p99: quantile(xs, 0.99),
        max: xs.at(-1),
      });
    const w = (q) => quantile(l.written, q);
    console.log('written (alert record timestamp - event time):', {
      p50: w(0.5),
      p90: w(0.9),
      p99: w(0.99),
      max: l.written.at(-1),
    });
    await client.close();
    return;
  }
  for (let i = 0; i < ROUNDS; i++) {
    replay.push(replayRound(file));
    runs.push(await runRound(client, lines));
  }
  const runRates = runs.map((r) => r.rate);
  console.log(
    `${fmt(EVENTS)} canonical events (geo and ASN enrichment on, shipped pack), ${ROUNDS} rounds each, paired:\n`,
  );
  console.log('| path                                        | events/s (median) |       min |       max |');
  console.log('| ------------------------------------------- | ----------------: | --------: | --------: |');
  console.log(
    `| authwatch replay (file, no Kafka)           | ${fmt(median(replay)).padStart(17)} | ${fmt(Math.min(...replay)).padStart(9)} | ${fmt(Math.max(...replay)).padStart(9)} |`,
  );
  console.log(
    `| authwatch run (Kafka in, Kafka out, state)  | ${fmt(median(runRates)).padStart(17)} | ${fmt(Math.min(...runRates)).padStart(9)} | ${fmt(Math.max(...runRates)).padStart(9)} |`,
  );
  console.log(
    `\nrun/replay: ${(median(runRates) / median(replay)).toFixed(2)}; peak RSS of run: ${fmt(median(runs.map((r) => r.peakRss)) / 2 ** 20)} MB`,
  );

  const target = Math.floor(median(runRates) / 2);
  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await latencyRound(client, target, LATENCY_SECONDS));
  const received = rounds.reduce((n, l) => n + l.received, 0);
  const probes = rounds.reduce((n, l) => n + l.probes, 0);
  console.log(
    `\nDetection latency, produce → alert on the topic, at ${fmt(median(rounds.map((l) => l.rate)))} events/s (half the sustained rate), allowed lateness ${LATENCY_LATENESS}: ${ROUNDS} rounds of ${LATENCY_SECONDS} s, the first ${WARMUP_MS / 1000} s of each not counted; ${fmt(received)} of ${fmt(probes)} probe alerts received. Median of the rounds, with the rounds' min and max; single-event alerts (disposable signup) and alerts that wait for event-time order (refresh-token reuse, a rule with suppress):\n`,
  );
  console.log('| percentile | at once (median) |    min |    max | ordered (median) |    min |    max |');
  console.log('| ---------- | ---------------: | -----: | -----: | ---------------: | -----: | -----: |');
  for (const [name, q] of [
    ['p50', 0.5],
    ['p90', 0.9],
    ['p99', 0.99],
    ['max', 1],
  ]) {
    const cells = [];
    for (const kind of ['latencies', 'ordered']) {
      const xs = rounds.map((l) => quantile(l[kind], q));
      cells.push(
        `${fmt(median(xs))} ms`.padStart(16),
        `${fmt(Math.min(...xs))} ms`.padStart(6),
        `${fmt(Math.max(...xs))} ms`.padStart(6),
      );
    }
    console.log(`| ${name.padEnd(10)} | ${cells.join(' | ')} |`);
  }
  await client.close();
}
