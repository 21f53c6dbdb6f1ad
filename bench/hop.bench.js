// The hits hop in memory: the single engine against the two stages with their records carried
// as JSON between them (no Kafka), each phase timed alone, so the hop's own cost is seen apart
// from the broker's and the client's.
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { Engine } from '../dist/engine/engine.js';
import { createEnrichers } from '../dist/enrich/createEnrichers.js';
import { Ingest } from '../dist/events/ingest.js';
import { emptyOutput } from '../dist/pipeline/evaluate.js';
import { loadRulesWithValues } from '../dist/rules/overrides.js';
import { CorrelatePartition, HitRouter, hitCount } from '../dist/scale/hits.js';
import { authTraffic } from '../test/support/traffic.js';
import { fmt } from './harness.js';

export const title = 'The hits hop in memory (issue 15)';

const EVENTS = Number(process.env.BENCH_HOP_EVENTS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_HOP_ROUNDS ?? 5);
const INPUTS = 6;
const PARTITIONS = 12;
const BATCH = 500;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function single(pack, events) {
  const engine = new Engine(pack);
  const out = emptyOutput();
  const t0 = performance.now();
  for (const e of events) engine.process(e, out);
  engine.flush(out);
  return { ms: performance.now() - t0, alerts: out.alerts.length };
}

/** Match in batches of BATCH, records to JSON and back, applied by their partitions. */
function hop(pack, events) {
  const router = new HitRouter(new Engine(pack), PARTITIONS, 60_000);
  const parts = Array.from({ length: PARTITIONS }, (_, p) => new CorrelatePartition(new Engine(pack), PARTITIONS, p));
  const out = emptyOutput();
  const ms = { match: 0, encode: 0, decode: 0, correlate: 0 };
  let bytes = 0;
  let hits = 0;
  let entries = 0;
  const owned = Array.from({ length: INPUTS }, (_, k) => ({ source: `in/${k}`, idle: false }));
  for (let i = 0; i < events.length; i += BATCH) {
    let t = performance.now();
    for (let j = i; j < Math.min(events.length, i + BATCH); j++) router.match(events[j], `in/${j % INPUTS}`, j, 0, out);
    const records = router.take(owned, { in: INPUTS }, 0);
    ms.match += performance.now() - t;
    t = performance.now();
    const texts = records.map((r) => JSON.stringify(r.envelope));
    ms.encode += performance.now() - t;
    for (const x of texts) bytes += x.length;
    t = performance.now();
    const envelopes = texts.map((x) => JSON.parse(x));
    ms.decode += performance.now() - t;
    t = performance.now();
    envelopes.forEach((e, k) => {
      hits += hitCount(e);
      entries += e.e.length;
      parts[records[k].partition].apply(e, out);
    });
    ms.correlate += performance.now() - t;
  }
  const t = performance.now();
  for (const p of parts) p.engine.flush(out);
  ms.correlate += performance.now() - t;
  return { ms, bytes, hits, entries, alerts: out.alerts.length };
}

export async function run() {
  const pack = loadRulesWithValues(['detections']);
  const { lines } = authTraffic({ seed: 5, events: EVENTS, users: 50_000, attacks: 50, stepMs: 5 });
  const ingest = new Ingest('canonical', {
    enrichers: createEnrichers({ geo: true, asn: true }),
    now: () => Date.UTC(2100, 0, 1),
  });
  const events = [];
  lines.forEach((l, i) => {
    const r = ingest.process(Buffer.from(l), { line: i });
    if (r.ok) events.push(r.event);
  });
  const rows = { single: [], match: [], encode: [], decode: [], correlate: [], hop: [] };
  let last;
  hop(pack, events.slice(0, 10_000)); // warm-up
  single(pack, events.slice(0, 10_000));
  for (let r = 0; r < ROUNDS; r++) {
    const a = single(pack, events);
    const b = hop(pack, events);
    if (a.alerts !== b.alerts) throw new Error(`the two stages made ${b.alerts} alerts, the single engine ${a.alerts}`);
    rows.single.push(a.ms);
    for (const k of ['match', 'encode', 'decode', 'correlate']) rows[k].push(b.ms[k]);
    rows.hop.push(b.ms.match + b.ms.encode + b.ms.decode + b.ms.correlate);
    last = b;
  }
  const per = (ms) => fmt((median(ms) / events.length) * 1e6);
  console.log(
    `${fmt(events.length)} canonical events of authTraffic (50,000 users), shipped pack, ${INPUTS} inputs, ${PARTITIONS} hits partitions, batches of ${BATCH}; median of ${ROUNDS} rounds, alternated; ns per event on one core:\n`,
  );
  console.log('| phase | ns/event (median) |');
  console.log('| --- | ---: |');
  console.log(`| single engine, all of it | ${per(rows.single)} |`);
  console.log(`| match stage (rules, hits routed) | ${per(rows.match)} |`);
  console.log(`| records to JSON | ${per(rows.encode)} |`);
  console.log(`| JSON to records | ${per(rows.decode)} |`);
  console.log(`| correlate stage (12 engines) | ${per(rows.correlate)} |`);
  console.log(`| two stages, all of it | ${per(rows.hop)} |`);
  console.log(
    `\nthe two stages / the single engine: ${(median(rows.hop) / median(rows.single)).toFixed(2)}; per event: ${(last.hits / events.length).toFixed(2)} hits in ${(last.entries / events.length).toFixed(2)} entries, ${fmt(last.bytes / events.length)} bytes of records`,
  );
}
