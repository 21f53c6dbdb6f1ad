// Scaling out through the real broker: one process against two in one group over a backlog on
// a 6-partition input with random keys; each stage alone, for per-core figures; and the latency
// the hits hop adds to alerts that wait for event-time order (the single engine against both
// stages in one process). Starts the project's Kafka when it is not running.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createKafkaClient } from '../dist/kafka/kafkaClient.js';
import { authTraffic } from '../test/support/traffic.js';
import { fmt } from './harness.js';
import { config, latencyRound, names, startRun } from './pipeline.bench.js';

export const title = 'Scaling out on Kafka (issue 15)';

const BROKERS = (process.env.AUTHWATCH_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const EVENTS = Number(process.env.BENCH_SCALE_EVENTS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? 3);
const LATENCY_SECONDS = Number(process.env.BENCH_LATENCY_SECONDS ?? 30);
const LATENCY_RATE = Number(process.env.BENCH_SCALE_LATENCY_RATE ?? 2000);
const INPUT_PARTITIONS = 6;
const HITS_PARTITIONS = 12;
const root = new URL('..', import.meta.url).pathname;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quantile = (xs, q) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];

async function produceRandomly(client, topic, lines) {
  const producer = await client.producer();
  for (let i = 0; i < lines.length; i += 2000) {
    const records = lines.slice(i, i + 2000).map((value) => ({ key: randomBytes(6).toString('hex'), value }));
    await producer.send([{ topic, records }]);
  }
  await producer.close();
}

const STAGE_CONFIG = (role) => ({
  kafka: { hits_partitions: HITS_PARTITIONS },
  clickhouse: { enabled: false },
  pipeline: { role },
});

async function drop(client, t) {
  await client.deleteTopics(Object.values(t).filter((n) => n !== t.group)).catch(() => undefined);
}

/**
 * Events/s of `members` processes of `role` over a backlog: from the first assignment to every
 * record read, every hits record written read, and no lag; CPU seconds they used.
 */
async function backlogRound(client, lines, role, members) {
  const t = names(`scale_${role}${members}`);
  console.error(`backlog: ${members} × ${role}`);
  await client.createTopics([{ name: t.events, partitions: INPUT_PARTITIONS }]);
  await produceRandomly(client, t.events, lines);
  const file = config(t, STAGE_CONFIG(role));
  const runs = [];
  for (let i = 0; i < members; i++) runs.push(await startRun(file));
  const start = Math.min(...runs.map((r) => r.assignedAt));
  let last;
  for (;;) {
    last = await Promise.all(runs.map((r) => r.metrics()));
    const sum = (k) => last.reduce((n, m) => n + m[k], 0);
    if (sum('records') >= lines.length && sum('lag') === 0 && sum('read') >= sum('sent')) break;
    await sleep(100);
  }
  const seconds = (Date.now() - start) / 1000;
  const cpu = last.reduce((n, m) => n + m.cpu, 0);
  const hits = last.reduce((n, m) => n + m.hits, 0);
  for (const r of runs) await r.stop();
  await drop(client, t);
  return { rate: lines.length / seconds, cpu, hits };
}

/**
 * Each stage alone, one process each, for per-core figures: the match stage over the backlog
 * (hits written), then the correlate stage over the hits it wrote.
 */
async function stagesRound(client, lines) {
  const t = names('scale_stages');
  console.error('stages alone');
  await client.createTopics([{ name: t.events, partitions: INPUT_PARTITIONS }]);
  await produceRandomly(client, t.events, lines);
  const match = await startRun(config(t, STAGE_CONFIG('match')));
  let m;
  for (;;) {
    m = await match.metrics();
    if (m.records >= lines.length && m.lag === 0) break;
    await sleep(100);
  }
  const matchSeconds = (Date.now() - match.assignedAt) / 1000;
  await match.stop();
  const sent = m.sent;
  const correlate = await startRun(config(t, STAGE_CONFIG('correlate')));
  let c;
  for (;;) {
    c = await correlate.metrics();
    if (c.read >= sent && c.lag === 0) break;
    await sleep(100);
  }
  const correlateSeconds = (Date.now() - correlate.assignedAt) / 1000;
  await correlate.stop();
  await drop(client, t);
  return {
    match: lines.length / matchSeconds,
    matchCpu: m.cpu / matchSeconds,
    correlateHits: c.hits / correlateSeconds,
    correlateEvents: lines.length / correlateSeconds,
    correlateCpu: c.cpu / correlateSeconds,
    hitsPerEvent: c.hits / lines.length,
  };
}

export async function run() {
  execFileSync('bash', [join(root, 'scripts/services.sh'), 'start', 'kafka'], { stdio: 'ignore' });
  const client = createKafkaClient({ brokers: BROKERS, client_id: 'authwatch-bench' });
  const { lines } = authTraffic({ seed: 5, events: EVENTS, users: 50_000, attacks: 50, stepMs: 5 });

  const only = process.env.BENCH_SCALE_ONLY;
  if (only !== 'latency') await throughput(client, lines);
  if (only !== 'throughput') await latency(client);
  await client.close();
}

async function throughput(client, lines) {
  const rows = { single1: [], all1: [], all2: [] };
  const cpu = { single1: [], all1: [], all2: [] };
  for (let i = 0; i < ROUNDS; i++) {
    for (const [key, role, n] of [
      ['single1', 'single', 1],
      ['all1', 'all', 1],
      ['all2', 'all', 2],
    ]) {
      const r = await backlogRound(client, lines, role, n);
      rows[key].push(r.rate);
      cpu[key].push(r.cpu);
    }
  }
  console.log(
    `${fmt(EVENTS)} canonical events on ${INPUT_PARTITIONS} input partitions (random keys), ${HITS_PARTITIONS} hits partitions, shipped pack, no store; ${ROUNDS} rounds, alternated:\n`,
  );
  console.log(
    '| deployment                              | events/s (median) |       min |       max | CPU s (median) |',
  );
  console.log(
    '| --------------------------------------- | ----------------: | --------: | --------: | -------------: |',
  );
  for (const [key, label] of [
    ['single1', '1 process, single engine (no hits topic)'],
    ['all1', '1 process, both stages via authwatch.hits'],
    ['all2', '2 processes, both stages each'],
  ]) {
    const xs = rows[key];
    console.log(
      `| ${label.padEnd(39)} | ${fmt(median(xs)).padStart(17)} | ${fmt(Math.min(...xs)).padStart(9)} | ${fmt(Math.max(...xs)).padStart(9)} | ${median(cpu[key]).toFixed(1).padStart(14)} |`,
    );
  }
  console.log(
    `\n2 processes / 1 process: ${(median(rows.all2) / median(rows.all1)).toFixed(2)}; both stages / single engine: ${(median(rows.all1) / median(rows.single1)).toFixed(2)}`,
  );

  const stages = [];
  for (let i = 0; i < ROUNDS; i++) stages.push(await stagesRound(client, lines));
  const med = (k) => median(stages.map((s) => s[k]));
  console.log(`\nEach stage alone, one process, over the same backlog (median of ${ROUNDS}):\n`);
  console.log('| stage     | throughput                                   | CPU cores busy |');
  console.log('| --------- | -------------------------------------------- | -------------: |');
  console.log(
    `| match     | ${`${fmt(med('match'))} events/s`.padEnd(44)} | ${med('matchCpu').toFixed(2).padStart(14)} |`,
  );
  console.log(
    `| correlate | ${`${fmt(med('correlateHits'))} hits/s (${fmt(med('correlateEvents'))} events' worth)`.padEnd(44)} | ${med('correlateCpu').toFixed(2).padStart(14)} |`,
  );
  console.log(`\nhits per event: ${med('hitsPerEvent').toFixed(2)}`);
}

async function latency(client) {
  const latency = {};
  for (const role of ['single', 'all']) {
    latency[role] = [];
    for (let i = 0; i < ROUNDS; i++) {
      latency[role].push(
        await latencyRound(client, LATENCY_RATE, LATENCY_SECONDS, {
          kafka: { hits_partitions: HITS_PARTITIONS },
          pipeline: { role },
        }),
      );
    }
  }
  console.log(
    `\nLatency of alerts that wait for event-time order (refresh-token reuse, a rule with suppress), produce → alert on the topic, at ${fmt(LATENCY_RATE)} events/s, ${ROUNDS} rounds of ${LATENCY_SECONDS} s each, median of the rounds:\n`,
  );
  console.log('| percentile | single engine | both stages (hits hop) | the hop costs |');
  console.log('| ---------- | ------------: | ---------------------: | ------------: |');
  for (const [name, q] of [
    ['p50', 0.5],
    ['p90', 0.9],
    ['p99', 0.99],
  ]) {
    const a = median(latency.single.map((l) => quantile(l.ordered, q)));
    const b = median(latency.all.map((l) => quantile(l.ordered, q)));
    console.log(
      `| ${name.padEnd(10)} | ${`${fmt(a)} ms`.padStart(13)} | ${`${fmt(b)} ms`.padStart(22)} | ${`${fmt(b - a)} ms`.padStart(13)} |`,
    );
  }
  for (const role of ['single', 'all']) {
    const at = (q) => median(latency[role].map((l) => quantile(l.latencies, q)));
    console.log(`\n${role}: single-event alerts p50 ${fmt(at(0.5))} ms, p99 ${fmt(at(0.99))} ms`);
  }
}
