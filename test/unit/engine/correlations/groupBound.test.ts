import { describe, expect, it } from 'vitest';
import type { CorrelatorFactory, Firing } from '../../../../src/engine/correlations/correlator.js';
import { eventCount } from '../../../../src/engine/correlations/eventCount.js';
import { groupEntryBound } from '../../../../src/engine/correlations/slidingWindow.js';
import { valueSum } from '../../../../src/engine/correlations/valueAggregate.js';
import { valueCount } from '../../../../src/engine/correlations/valueCount.js';
import { Engine } from '../../../../src/engine/engine.js';
import type { Doc } from '../../../../src/rules/model.js';
import { loadRuleText } from '../../../../src/rules/loader.js';
import { detection, loadCorrelation, SECOND, T0 } from './correlationHarness.js';

const failed = detection('failed', 'login.failure');

function drive(
  factory: CorrelatorFactory,
  body: string,
  maxGroupEntries: number | undefined,
  hits: number,
  doc: (i: number) => Record<string, unknown>,
) {
  const { rule, uid } = loadCorrelation([failed], body);
  const c = factory(rule, { maxKeys: 10, allowedLatenessMs: 60_000, maxGroupEntries });
  const firings: Firing[] = [];
  let largest = 0;
  for (let i = 0; i < hits; i++) {
    const time = T0 + i * SECOND;
    const f = c.observe(
      { ruleUid: uid('failed'), time, eventId: `e${i}`, doc: doc(i) as Doc, event: undefined as never },
      time - 60_000,
    );
    if (f) firings.push(f);
    if (i % 997 === 0 || i === hits - 1) {
      const saved = c.snapshot() as { groups: { entries: [string, { t: unknown[] }][] } };
      largest = Math.max(largest, ...saved.groups.entries.map(([, w]) => w.t.length));
    }
  }
  const restarted = factory(rule, { maxKeys: 10, allowedLatenessMs: 60_000, maxGroupEntries });
  restarted.restore(JSON.parse(JSON.stringify(c.snapshot())));
  return { firings, stats: c.stats(), largest, rule, restarted };
}

describe('the bound on one group’s window', () => {
  it('holds a busy group under an upper-bounded condition to its bound, forgetting the oldest', () => {
    // "fewer than 3 distinct users per IP in 24 h" never consumes its window: without a bound it
    // keeps every hit of the day.
    const body = 'type: value_count\nrules: [failed]\ngroup-by: [ip]\nfield: user\ntimespan: 24h\ncondition: {lt: 3}';
    const bounded = drive(valueCount, body, 400, 20_000, () => ({ ip: '203.0.113.9', user: 'same' }));
    expect(bounded.largest).toBeLessThanOrEqual(400);
    expect(bounded.stats.entriesForgotten).toBeGreaterThan(19_000);
    expect(bounded.restarted.stats()).toEqual(bounded.stats); // the count survives a restart
    const free = drive(valueCount, body, undefined, 20_000, () => ({ ip: '203.0.113.9', user: 'same' }));
    expect(free.largest).toBeGreaterThan(19_000);
    expect(free.stats.entriesForgotten).toBe(0);
    // One user all along: the condition holds at every hit either way.
    expect(bounded.firings.length).toBe(free.firings.length);
  });

  it('keeps counting rules firing as they would: the bound is at least twice the threshold', () => {
    const body =
      'type: value_count\nrules: [failed]\ngroup-by: [ip]\nfield: user\ntimespan: 24h\ncondition: {gte: 300}';
    // Distinct users arrive slowly (each repeated 50 times), so the window grows large before firing.
    const doc = (i: number) => ({ ip: '198.51.100.7', user: `u${Math.floor(i / 50)}` });
    const bounded = drive(valueCount, body, 100, 40_000, doc);
    const free = drive(valueCount, body, undefined, 40_000, doc);
    expect(groupEntryBound(bounded.rule, 100)).toBe(602);
    expect(bounded.largest).toBeLessThanOrEqual(602);
    expect(bounded.stats.entriesForgotten).toBeGreaterThan(0);
    // Forgetting old entries loses distinct users from the window, so it fires later or not at
    // all, never early: every firing names at least 300 users.
    expect(free.firings.length).toBeGreaterThan(0);
    for (const f of bounded.firings) expect((f.context as { distinct: number }).distinct).toBeGreaterThanOrEqual(300);
  });

  it('leaves a stream under the bound exactly as it was', () => {
    const body = 'type: event_count\nrules: [failed]\ngroup-by: [ip]\ntimespan: 10m\ncondition: {gte: 20}';
    const doc = (i: number) => ({ ip: `192.0.2.${i % 7}` });
    const bounded = drive(eventCount, body, 1000, 5_000, doc);
    const free = drive(eventCount, body, undefined, 5_000, doc);
    expect(bounded.firings).toEqual(free.firings);
    expect(bounded.stats.entriesForgotten).toBe(0);
  });

  it('sums only what it kept, once over the bound', () => {
    const body =
      'type: value_sum\nrules: [failed]\ngroup-by: [ip]\nfield: risk\ntimespan: 24h\ncondition: {gte: 1000000}';
    const bounded = drive(valueSum, body, 100, 2_000, () => ({ ip: '203.0.113.1', risk: 1 }));
    expect(bounded.largest).toBeLessThanOrEqual(100);
    expect(bounded.firings).toEqual([]);
  });

  it('is the configured one for other kinds and for no threshold, and none when not configured', () => {
    const sum = loadCorrelation(
      [failed],
      'type: value_sum\nrules: [failed]\ngroup-by: [ip]\nfield: risk\ntimespan: 1h\ncondition: {gte: 50000}',
    );
    expect(groupEntryBound(sum.rule, 100)).toBe(100);
    expect(groupEntryBound(sum.rule, undefined)).toBe(Infinity);
  });

  it('is counted per rule in the engine, with a default of 10,000 entries', () => {
    const set = loadRuleText(
      't.yml',
      `${failed}---\ntitle: few users\nid: 0b1e9a3c-5d7f-4e21-9c8b-7a6f5e4d3c2b\ncorrelation:\n  type: value_count\n  rules: [failed]\n  group-by: [ip]\n  field: user.name\n  timespan: 24h\n  condition: {lt: 2}\n`,
    );
    const run = (options: { maxGroupEntries?: number }) => {
      const engine = new Engine(set, options);
      const out = { alerts: [], actions: [], dropped: [] };
      for (let i = 0; i < 12_000; i++) {
        engine.process(
          {
            id: `e${i}`,
            time: T0 + i * 100,
            source: 'generic',
            type: 'login.failure',
            outcome: 'failure',
            ip: '203.0.113.5',
            user: { name: 'x' },
          },
          out,
        );
      }
      engine.flush(out);
      return Object.values(engine.stats().rules)[0]!;
    };
    expect(run({}).entriesForgotten).toBeGreaterThan(2_000);
    expect(run({ maxGroupEntries: 20_000 }).entriesForgotten).toBe(0);
  });
});
