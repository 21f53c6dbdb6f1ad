import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import type { AuthEvent } from '../../../src/events/authEvent.js';
import { loadRuleText } from '../../../src/rules/loader.js';

const FAILED = [
  'title: failed',
  'name: failed',
  'logsource: {product: authwatch}',
  'detection: {sel: {type: login.failure}, condition: sel}',
];
const PER_ADDRESS =
  'correlation: {type: event_count, rules: [failed], group-by: [ip], timespan: 1h, condition: {gte: 1000}}';

// Failed logins per IP over an hour: one group per address.
const RULES = loadRuleText(
  't.yml',
  [...FAILED, '---', 'title: failures per address', 'id: 5e8f2a1c-7b3d-4c9e-8f1a-2b3c4d5e6f70', PER_ADDRESS, ''].join(
    '\n',
  ),
);

const T0 = Date.UTC(2026, 0, 5);
let n = 0;
function failures(engine: Engine, count: number): void {
  for (let i = 0; i < count; i++, n++) {
    const e: AuthEvent = {
      id: `e${n}`,
      time: T0 + n * 10,
      source: 'generic',
      type: 'login.failure',
      outcome: 'failure',
      ip: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
    };
    engine.process(e);
  }
}

/** An engine whose heap reads `heapUsed`, against a budget of 1,000 bytes for the whole state (no share per rule). */
function budgeted(heapUsed: () => number): Engine {
  return new Engine(RULES, { memoryBudgetBytes: 1000, ruleMemoryBytes: Number.POSITIVE_INFINITY, heapUsed });
}

describe('the memory budget', () => {
  it('sheds the stalest share of groups when the heap outgrows it, once per overshoot', () => {
    let used = 500;
    const engine = budgeted(() => used);
    const groups = () => Object.values(engine.stats().rules)[0]!;
    failures(engine, 20_000);
    const before = groups().keys; // the last minute's hits still wait for event-time order
    expect(before).toBeGreaterThan(10_000);
    expect(engine.stats().memorySheds).toBe(0);

    used = 2000; // twice the budget: (2000 - 900) / 2000 of the groups go
    failures(engine, 10_000);
    expect(engine.stats().memorySheds).toBe(1);
    const after = groups();
    expect(after.evictions).toBeGreaterThanOrEqual(Math.floor(before * 0.55));
    expect(after.keys + after.evictions).toBe(before + 10_000);

    // The shed groups are garbage until collected: the same reading does not shed again…
    failures(engine, 30_000);
    expect(engine.stats().memorySheds).toBe(1);
    // …a fifth more does,
    used = 2500;
    failures(engine, 10_000);
    expect(engine.stats().memorySheds).toBe(2);
    // and once back under the budget, the next overshoot sheds at once.
    used = 800;
    failures(engine, 10_000);
    used = 1100;
    failures(engine, 10_000);
    expect(engine.stats().memorySheds).toBe(3);
  });

  it('takes the oldest groups: the newest addresses are still tracked', () => {
    let used = 0;
    const engine = budgeted(() => used);
    const first = n;
    failures(engine, 9_999);
    used = 5000;
    failures(engine, 1);
    expect(engine.stats().memorySheds).toBe(1);
    const snap = engine.snapshot() as unknown as { correlators: Record<string, { groups: { entries: [string][] } }> };
    const kept = Object.values(snap.correlators)[0]!.groups.entries.map(([ip]) => ip);
    const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    expect(kept.length).toBeGreaterThan(0);
    expect(kept).not.toContain(ip(first));
    // Delivered before the shed (hits wait a minute, 6,000 events here), and among the newest.
    expect(kept).toContain(ip(n - 6_100));
  });

  it('defaults to part of the heap limit, so a small state is never shed', () => {
    const engine = new Engine(RULES);
    failures(engine, 20_000);
    expect(engine.stats().memorySheds).toBe(0);
    expect(Object.values(engine.stats().rules)[0]!.evictions).toBe(0);
  });
});

// Two rules: failures per address (one group each), and successes per user (few groups).
const TWO = loadRuleText(
  't.yml',
  [
    ...FAILED,
    '---',
    'title: ok',
    'name: ok',
    'logsource: {product: authwatch}',
    'detection: {sel: {type: login.success}, condition: sel}',
    '---',
    'title: failures per address',
    'name: per-address',
    PER_ADDRESS,
    '---',
    'title: successes per user',
    'name: per-user',
    'correlation: {type: event_count, rules: [ok], group-by: [user.name], timespan: 1h, condition: {gte: 1000}}',
    '',
  ].join('\n'),
);

describe("one rule's share of the memory budget", () => {
  it('is taken from that rule alone, down to three quarters of it, counted', () => {
    // 2 MB for a rule: about 6,000 groups of one entry at the measured 330 bytes.
    const engine = new Engine(TWO, { ruleMemoryBytes: 2_000_000, heapUsed: () => 0 });
    const byName = () => {
      const rules = engine.stats().rules;
      const ids = Object.keys(rules);
      return { address: rules[ids[0]!]!, user: rules[ids[1]!]! };
    };
    for (let i = 0; i < 600; i++, n++)
      engine.process({
        id: `s${n}`,
        time: T0 + n * 10,
        source: 'generic',
        type: 'login.success',
        outcome: 'success',
        user: { name: `user${i}` },
      });
    failures(engine, 40_000);
    const { address, user } = byName();
    expect(engine.stats().ruleSheds).toBeGreaterThan(0);
    expect(engine.stats().memorySheds).toBe(0);
    expect(address.evictions).toBeGreaterThan(0);
    expect(address.bytes).toBeLessThanOrEqual(2_000_000);
    expect(address.bytes).toBe(address.keys * 240 + address.entries! * 90);
    // The small rule kept every group.
    expect(user).toMatchObject({ keys: 600, evictions: 0 });
  });
});
