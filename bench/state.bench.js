// Correlation state: heap bytes per tracked group for event_count and value_count windows
// (100,000 groups of 1-3 hits each), and in-order hits/s through their observe.
// Run with `node --expose-gc bench/run.js state`: without a forced GC the heap figures are noise.
import { setTimeout as sleep } from 'node:timers/promises';
import { eventCount } from '../dist/engine/correlations/eventCount.js';
import { KeyedState } from '../dist/engine/keyedState.js';
import { valueCount } from '../dist/engine/correlations/valueCount.js';
import { dormantAccount } from '../dist/engine/correlations/dormantAccount.js';
import { newValue } from '../dist/engine/correlations/newValue.js';
import { loadRuleText } from '../dist/rules/loader.js';
import { fmt, measure } from './harness.js';

export const title = 'Correlation state: memory per group, in-order throughput';

const GROUPS = 100_000;
const T0 = 1_767_000_000_000;

function load(body, timespan = '10m') {
  const set = loadRuleText(
    'bench.yml',
    `title: failed\nname: failed\nlogsource: {product: authwatch}\ndetection:\n  sel: {type: login.failure}\n  condition: sel\n---\ntitle: C\ncorrelation:\n  rules: [failed]\n  group-by: [ip]\n  timespan: ${timespan}\n  ${body}\n`,
  );
  if (set.diagnostics.errorCount > 0) throw new Error('bench rules did not load');
  return { rule: set.correlations[0], uid: set.detections[0].uid };
}

const ipOf = (g) => `10.${(g >> 16) & 255}.${(g >> 8) & 255}.${g & 255}`;

/**
 * The hits of group g: 1-3, seconds apart, in order, ids and values fresh strings as a
 * decoded source record would carry (`sharedIds`: one id for all, to tell the windows' own
 * footprint from the ids they retain).
 */
function hitsOf(uid, g, sharedIds) {
  const n = 1 + (g % 3);
  const out = [];
  for (let i = 0; i < n; i++) {
    const doc = { ip: ipOf(g), user: { name: `user${(g * 7 + i) % 50_000}@example.com` } };
    out.push({
      ruleUid: uid,
      time: T0 + g * 10 + i * 1000,
      eventId: sharedIds ? 'evt' : `evt-${g}-${i}`,
      doc,
      event: doc,
    });
  }
  return out;
}

/** Collects until the heap settles: right after a forced GC, sweeping may still be under way. */
async function settle() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await sleep(20);
  }
}

/**
 * Heap growth per group with the hits built on the fly and dropped, so what a correlator
 * keeps (its windows, the group keys, the event ids and values it retains) is what counts.
 */
async function bytesPerGroup(factory, body, sharedIds = false) {
  const { rule, uid } = load(body);
  await settle();
  const before = process.memoryUsage().heapUsed;
  const c = factory(rule, { maxKeys: 1_000_000, allowedLatenessMs: 60_000 });
  let entries = 0;
  for (let g = 0; g < GROUPS; g++) {
    for (const h of hitsOf(uid, g, sharedIds)) {
      c.observe(h, -Infinity);
      entries++;
    }
  }
  await settle();
  const after = process.memoryUsage().heapUsed;
  const { keys } = c.stats();
  if (keys !== GROUPS) throw new Error(`expected ${GROUPS} groups, found ${keys}`);
  return { bytes: (after - before) / keys, entries: entries / keys, keys };
}

/**
 * One busy group: `hits` hits, 40 ms apart (all within a day), each with a new value, through a value_count
 * whose condition (`lt: 2`) never consumes its window, with and without a bound on the
 * group's entries. Heap after a forced GC, the correlator alive.
 */
async function oneBusyGroup(hits, maxGroupEntries) {
  const { rule, uid } = load('type: value_count\n  field: user.name\n  condition: {lt: 2}', '24h');
  await settle();
  const before = process.memoryUsage().heapUsed;
  const c = valueCount(rule, { maxKeys: 1000, allowedLatenessMs: 60_000, maxGroupEntries });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < hits; i++) {
    const time = T0 + i * 40; // all within the 24 h window
    const doc = { ip: '203.0.113.9', user: { name: `user${i}@example.com` } };
    c.observe({ ruleUid: uid, time, eventId: `evt-${i}`, doc, event: undefined }, time - 60_000);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await settle();
  const heap = process.memoryUsage().heapUsed - before;
  return { heap, rate: hits / seconds, forgotten: c.stats().entriesForgotten ?? 0, keep: c };
}

const LONG_USERS = 1_000_000;
const DAY = 86_400_000;

/**
 * Long-horizon state: LONG_USERS users (Auth0-style ids, 30 characters) each logging in twice
 * a day apart, from one country then another, through dormant_account (gap 90d) or new_value
 * (country, timespan 90d), the event ids 56 digits as Auth0's log ids. Heap and ArrayBuffer
 * memory after a forced GC, the correlator alive, and the hits/s of the whole pass.
 */
async function longHorizon(factory, correlation) {
  const set = loadRuleText(
    'bench.yml',
    `title: ok\nname: ok\nlogsource: {product: authwatch}\ndetection:\n  sel: {type: login.success}\n  condition: sel\n---\ntitle: C\ncorrelation:\n  rules: [ok]\n  ${correlation}\n`,
  );
  if (set.diagnostics.errorCount > 0) throw new Error('bench rules did not load');
  const rule = set.correlations[0];
  const uid = set.detections[0].uid;
  await settle();
  const m0 = process.memoryUsage();
  const c = factory(rule, { maxKeys: 10_000_000, allowedLatenessMs: 60_000 });
  const t0 = process.hrtime.bigint();
  for (let round = 0; round < 2; round++)
    for (let u = 0; u < LONG_USERS; u++) {
      const time = T0 + round * DAY + u * 10;
      const doc = {
        user: { id: `auth0|${(0x5f00000000 + u).toString(16).padStart(24, '0')}` },
        geo: { country: round === 0 ? 'GB' : 'FR' },
      };
      const eventId = `9002024112912${String(round * LONG_USERS + u).padStart(43, '0')}`;
      c.observe({ ruleUid: uid, time, eventId, doc, event: doc }, time - 60_000);
    }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await settle();
  const m1 = process.memoryUsage();
  const keys = c.stats().keys;
  if (keys !== LONG_USERS) throw new Error(`expected ${LONG_USERS} groups, found ${keys}`);
  const heap = (m1.heapUsed - m0.heapUsed) / keys;
  const offHeap = (m1.arrayBuffers - m0.arrayBuffers) / keys;
  return { heap, offHeap, rate: (2 * LONG_USERS) / seconds, keep: c };
}

export async function run() {
  if (typeof globalThis.gc !== 'function') console.log('(no --expose-gc: heap figures are unreliable)\n');
  // Thresholds no group reaches, so every group keeps its window.
  const countRule = 'type: event_count\n  condition: {gte: 1000}';
  const distinctRule = 'type: value_count\n  condition: {field: user.name, gte: 1000}';
  const rows = [
    ['event_count', await bytesPerGroup(eventCount, countRule), await bytesPerGroup(eventCount, countRule, true)],
    ['value_count', await bytesPerGroup(valueCount, distinctRule), await bytesPerGroup(valueCount, distinctRule, true)],
  ];

  // Throughput: 200,000 in-order hits over 5,000 groups, each window filling, firing at 20 and resetting.
  const throughput = [
    ['eventCount.observe', eventCount, 'type: event_count\n  condition: {gte: 20}'],
    ['valueCount.observe', valueCount, 'type: value_count\n  condition: {field: user.name, gte: 20}'],
  ].map(([name, factory, body]) => {
    const { rule, uid } = load(body);
    const hits = [];
    for (let i = 0; i < 200_000; i++) {
      const doc = { ip: ipOf(i % 5000), user: { name: `user${Math.floor(i / 5000) % 50}` } };
      hits.push({ ruleUid: uid, time: T0 + i * 5, eventId: `e${i}`, doc, event: doc });
    }
    let fired = 0;
    const rate = measure(() => {
      const c = factory(rule, { maxKeys: 100_000, allowedLatenessMs: 60_000 });
      for (const h of hits) if (c.observe(h, h.time - 60_000)) fired++;
    }, hits.length);
    return { name, rate, fired };
  });

  // Eviction at the bound: 100,000 new groups into a full KeyedState of 100,000, after a history
  // that leaves it marked or churned (the cases where taking a Map's first entry walked holes).
  const histories = [
    ['none (full, nothing touched)', () => {}],
    [
      'every group touched again',
      (s) => {
        for (let i = 0; i < 100_000; i++) s.touch(`k${i}`, () => 0);
      },
    ],
    [
      'five rounds of churn, half touched twice',
      (s) => {
        for (let r = 0; r < 5; r++)
          for (let i = 0; i < 100_000; i++) {
            s.touch(`r${r}x${i}`, () => 0);
            if (i % 2) s.touch(`r${r}x${i - 1}`, () => 0);
          }
      },
    ],
  ];
  const eviction = histories.map(([name, history]) => {
    const rate = measure(
      () => {
        const s = new KeyedState(100_000);
        for (let i = 0; i < 100_000; i++) s.touch(`k${i}`, () => i);
        history(s);
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < 100_000; i++) s.touch(`n${i}`, () => i);
        return Number(process.hrtime.bigint() - t0);
      },
      100_000,
      { rounds: 5, warmup: 1, timed: true },
    );
    return { name, rate };
  });

  const BUSY = 2_000_000;
  const busy = [];
  for (const bound of [undefined, 10_000]) busy.push({ bound, ...(await oneBusyGroup(BUSY, bound)) });

  const long = [];
  for (const [name, factory, body] of [
    ['dormant_account (gap 90d)', dormantAccount, 'type: dormant_account\n  group-by: [user.id]\n  gap: 90d'],
    [
      'new_value (country, timespan 90d)',
      newValue,
      'type: new_value\n  group-by: [user.id]\n  field: geo.country\n  timespan: 90d',
    ],
  ]) {
    const r = await longHorizon(factory, body);
    long.push({ name, ...r });
    r.keep = undefined;
    await settle();
  }

  console.log(`${fmt(GROUPS)} groups of 1-3 hits each (2 on average), timespan 10m, heap after a forced GC\n`);
  console.log('| correlator | groups | entries/group | heap bytes/group | of which retained event-id strings |');
  console.log('|---|---:|---:|---:|---:|');
  for (const [name, fresh, shared] of rows)
    console.log(
      `| ${name} | ${fmt(fresh.keys)} | ${fresh.entries.toFixed(1)} | ${fmt(fresh.bytes)} | ${fmt(fresh.bytes - shared.bytes)} |`,
    );
  console.log(`\n| path (in order, 5,000 groups, fires at 20) | hits/s (median) | min | max | firings, all rounds |`);
  console.log('|---|---:|---:|---:|---:|');
  for (const { name, rate, fired } of throughput)
    console.log(`| ${name} | ${fmt(rate.median)} | ${fmt(rate.min)} | ${fmt(rate.max)} | ${fmt(fired)} |`);
  console.log(
    '\n| KeyedState at its bound (100,000 groups), history before | new groups/s with eviction (median) | min | max |',
  );
  console.log('|---|---:|---:|---:|');
  for (const { name, rate } of eviction)
    console.log(`| ${name} | ${fmt(rate.median)} | ${fmt(rate.min)} | ${fmt(rate.max)} |`);
  console.log(
    `\n| long-horizon, ${fmt(LONG_USERS)} users, 2 logins each | heap bytes/user | off-heap bytes/user | total | hits/s |`,
  );
  console.log('|---|---:|---:|---:|---:|');
  for (const l of long)
    console.log(`| ${l.name} | ${fmt(l.heap)} | ${fmt(l.offHeap)} | ${fmt(l.heap + l.offHeap)} | ${fmt(l.rate)} |`);
  console.log(
    `\n| one group, ${fmt(BUSY)} hits with distinct values in 24 h, value_count \`lt: 2\` | heap after (MB) | hits/s | entries forgotten |`,
  );
  console.log('|---|---:|---:|---:|');
  for (const b of busy)
    console.log(
      `| max_entries_per_group ${b.bound === undefined ? 'none (before)' : fmt(b.bound)} | ${fmt(b.heap / 1e6)} | ${fmt(b.rate)} | ${fmt(b.forgotten)} |`,
    );
}
