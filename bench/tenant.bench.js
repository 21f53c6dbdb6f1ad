// A large tenant through the engine: many users and addresses, so per-user and per-IP state
// grows to hundreds of thousands of groups and the key bound (engine.max_keys_per_rule) is met.
// Measures throughput, what the bound evicted and the heap, with the default bound and with
// one above the live state. `node --expose-gc bench/run.js tenant`.
import { Engine } from '../dist/engine/engine.js';
import { loadRules } from '../dist/rules/loader.js';
import { traffic } from './engine.bench.js';
import { fmt } from './harness.js';

export const title = 'A large tenant: state at scale (issue 13)';

const EVENTS = Number(process.env.TENANT_EVENTS ?? 300_000);
const LONG = Number(process.env.TENANT_LONG_EVENTS ?? 1_000_000);
const SHAPES = [
  { users: 200_000, ips: 100_000 },
  { users: 1_000_000, ips: 500_000 },
];

function once(set, events, maxKeysPerRule, memoryBudgetBytes) {
  globalThis.gc?.();
  const engine = new Engine(set, { maxKeysPerRule, ...(memoryBudgetBytes ? { memoryBudgetBytes } : {}) });
  let alerts = 0;
  const t0 = process.hrtime.bigint();
  for (const e of events) alerts += engine.process(e).alerts.length;
  alerts += engine.flush().alerts.length;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const stats = engine.stats();
  const rules = Object.values(stats.rules);
  const heap = process.memoryUsage().heapUsed;
  return {
    rate: events.length / s,
    alerts,
    keys: rules.reduce((a, r) => a + r.keys, 0),
    evictions: rules.reduce((a, r) => a + r.evictions, 0),
    sheds: stats.memorySheds,
    heap,
  };
}

/** The rate over each fifth of a long stream at the default bound: does it hold as state ages? */
function progression(set) {
  const events = traffic(LONG, 7, SHAPES[0]);
  const engine = new Engine(set, { maxKeysPerRule: 100_000 });
  const step = LONG / 5;
  const rows = [];
  let alerts = 0;
  let t = process.hrtime.bigint();
  const began = t;
  for (let i = 0; i < events.length; i++) {
    alerts += engine.process(events[i]).alerts.length;
    if ((i + 1) % step === 0) {
      const now = process.hrtime.bigint();
      rows.push({ at: i + 1, rate: step / (Number(now - t) / 1e9) });
      t = now;
    }
  }
  alerts += engine.flush().alerts.length;
  const total = events.length / (Number(process.hrtime.bigint() - began) / 1e9);
  const evictions = Object.values(engine.stats().rules).reduce((a, r) => a + r.evictions, 0);
  console.log(
    `${fmt(LONG)} events from ${fmt(SHAPES[0].users)} users and ${fmt(SHAPES[0].ips)} IPs, a bound of 100,000 groups per rule (the default until the memory budget): ${fmt(alerts)} alerts, ${fmt(evictions)} groups evicted\n`,
  );
  console.log('| events so far | events/s over the last fifth |');
  console.log('|---:|---:|');
  for (const r of rows) console.log(`| ${fmt(r.at)} | ${fmt(r.rate)} |`);
  console.log(`| **whole stream** | **${fmt(total)}** |\n`);
}

export async function run() {
  const set = loadRules(['detections']);
  if (set.diagnostics.errorCount > 0) throw new Error('the detection pack did not load');
  progression(set);
  console.log(
    `${fmt(EVENTS)} decoded and enriched events per stream (the engine bench's traffic mix, ~100 events/s of event time), the whole shipped pack; one run each, so the spread is not shown\n`,
  );
  console.log(
    '| users | IPs | max_keys_per_rule | events/s | alerts | groups at the end | groups evicted | heap after (events included) |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const shape of SHAPES) {
    const events = traffic(EVENTS, 7, shape);
    for (const bound of [100_000, 2_000_000]) {
      const r = once(set, events, bound);
      console.log(
        `| ${fmt(shape.users)} | ${fmt(shape.ips)} | ${fmt(bound)} | ${fmt(r.rate)} | ${fmt(r.alerts)} | ${fmt(r.keys)} | ${fmt(r.evictions)} | ${fmt(r.heap / 2 ** 20)} MB |`,
      );
    }
  }
  // The memory budget: the default key bound (2,000,000) with the default budget (60 % of the
  // heap limit) and with a small one, over the long stream of the largest shape.
  const events = traffic(LONG, 7, SHAPES[1]);
  console.log(
    `\n${fmt(LONG)} events from ${fmt(SHAPES[1].users)} users and ${fmt(SHAPES[1].ips)} IPs, max_keys_per_rule 2,000,000 (the default)\n`,
  );
  console.log('| memory budget | events/s | alerts | groups at the end | groups evicted | sheds | heap after |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const [name, budget] of [
    ['default (60 % of the heap limit)', undefined],
    ['256 MiB', 256 * 2 ** 20],
  ]) {
    const r = once(set, events, 2_000_000, budget);
    console.log(
      `| ${name} | ${fmt(r.rate)} | ${fmt(r.alerts)} | ${fmt(r.keys)} | ${fmt(r.evictions)} | ${fmt(r.sheds)} | ${fmt(r.heap / 2 ** 20)} MB |`,
    );
  }
}
