import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CorrelatorFactory, Firing, Hit } from '../../../../src/engine/correlations/correlator.js';
import { ALERT_SAMPLE_SIZE } from '../../../../src/engine/alert.js';
import { eventCount } from '../../../../src/engine/correlations/eventCount.js';
import { valuePercentile, valueSum } from '../../../../src/engine/correlations/valueAggregate.js';
import { valueCount } from '../../../../src/engine/correlations/valueCount.js';
import type { AuthEvent } from '../../../../src/events/authEvent.js';
import { loadRuleText } from '../../../../src/rules/loader.js';
import type { CorrelationRule } from '../../../../src/rules/model.js';

const STEP = 30_000;
const TIMESPAN = 5 * 60_000;

const rules = new Map<string, { rule: CorrelationRule; uid: string }>();
function rule(body: string): { rule: CorrelationRule; uid: string } {
  let r = rules.get(body);
  if (!r) {
    const set = loadRuleText(
      't.yml',
      `title: failed\nname: failed\nlogsource: {product: authwatch}\ndetection:\n  sel: {type: login.failure}\n  condition: sel\n---\ntitle: C\ncorrelation:\n  rules: [failed]\n  group-by: [ip]\n  timespan: 5m\n  ${body}\n`,
    );
    if (set.diagnostics.errorCount > 0) throw new Error(set.diagnostics.items.map((d) => d.message).join('; '));
    r = { rule: set.correlations[0]!, uid: set.detections[0]!.uid };
    rules.set(body, r);
  }
  return r;
}

interface Ev {
  time: number;
  value: string;
  ip: string;
}

interface Arrivals {
  evs: Ev[];
  lateness: number;
}

/**
 * Events in an arrival order that keeps each within the lateness of the newest seen before
 * it: sorted by time plus a jitter in [0, lateness], so an event arriving after another is
 * at most `lateness` older than it. The lateness is below, at or above the timespan.
 */
const arrivals = (
  values: string[],
  ips: string[] = ['10.0.0.1'],
  minLength = 0,
  maxLength = 40,
): fc.Arbitrary<Arrivals> =>
  fc
    .record({
      // Spread over up to 20 minutes in coarse steps, so windows of exactly `timespan` are common.
      slots: fc.integer({ min: 1, max: 40 }),
      lateSlots: fc.constantFrom(0, 6, TIMESPAN / STEP, 14),
    })
    .chain(({ slots, lateSlots }) =>
      fc
        .array(
          fc.record({
            slot: fc.integer({ min: 0, max: slots }),
            // The extremes often: hits exactly `lateness` behind are the edge cases.
            jitter: fc.oneof(fc.constant(0), fc.constant(lateSlots), fc.integer({ min: 0, max: lateSlots })),
            value: fc.constantFrom(...values),
            ip: fc.constantFrom(...ips),
          }),
          { minLength, maxLength, size: 'max' },
        )
        .map((evs) => ({
          lateness: lateSlots * STEP,
          evs: evs
            .map((e, i) => ({ ...e, i }))
            .sort((a, b) => a.slot + a.jitter - (b.slot + b.jitter) || a.i - b.i)
            .map(({ slot, value, ip }): Ev => ({ time: slot * STEP, value, ip })),
        })),
    );

function toHit(uid: string, e: Ev, i: number): Hit {
  const doc = { ip: e.ip, user: { name: e.value }, n: valueOf(e) };
  return { ruleUid: uid, time: e.time, eventId: `h${i}`, doc, event: doc as unknown as AuthEvent };
}

/** Feeds events in arrival order with the engine's watermark; checks none counts as late. */
function run(
  factory: CorrelatorFactory,
  r: { rule: CorrelationRule; uid: string },
  { evs, lateness }: Arrivals,
): Firing[] {
  const c = factory(r.rule, { maxKeys: 100, allowedLatenessMs: lateness });
  const out: Firing[] = [];
  let max = -Infinity;
  evs.forEach((e, i) => {
    max = Math.max(max, e.time);
    const f = c.observe(toHit(r.uid, e, i), max - lateness);
    if (f) out.push(f);
  });
  expect(c.stats().late).toBe(0);
  return out;
}

/** The most of `measure` any window [s, s + TIMESPAN] reaches, trying every start at an event. */
function bestWindow(evs: Ev[], measure: (inWindow: Ev[]) => number): number {
  let best = 0;
  for (const a of evs)
    best = Math.max(best, measure(evs.filter((e) => e.time >= a.time && e.time <= a.time + TIMESPAN)));
  return best;
}

/** Every firing describes a real window of at least `n` of the group's events. */
function checkFiring(f: Firing, evs: Ev[], n: number): void {
  expect(f.count).toBeGreaterThanOrEqual(n);
  expect(f.last - f.first).toBeLessThanOrEqual(TIMESPAN);
  expect(f.count).toBeLessThanOrEqual(evs.filter((e) => e.time >= f.first && e.time <= f.last).length);
  const times = f.eventIds.map((id) => evs[Number(id.slice(1))]!.time);
  expect(times).toEqual([...times].sort((a, b) => a - b));
  for (const t of times) expect(t >= f.first && t <= f.last).toBe(true);
  // A small window's sample is all of it: its aggregate must be that of exactly these events.
  if (f.count <= ALERT_SAMPLE_SIZE) {
    expect(f.eventIds).toHaveLength(f.count);
    const inWindow = f.eventIds.map((id) => evs[Number(id.slice(1))]!);
    const context = f.context as { count?: number; distinct?: number; sum?: number };
    if (context.count !== undefined) expect(context.count).toBe(f.count);
    if (context.distinct !== undefined) expect(context.distinct).toBe(new Set(inWindow.map((e) => e.value)).size);
    if (context.sum !== undefined) expect(context.sum).toBe(inWindow.reduce((a, e) => a + valueOf(e), 0));
  }
}

const valueOf = (e: Ev) => e.value.charCodeAt(0) % 7;

describe('sliding windows against brute force', () => {
  it('event_count fires at least once iff some window holds N events', () => {
    fc.assert(
      fc.property(arrivals(['x']), fc.integer({ min: 1, max: 6 }), (input, n) => {
        const { evs } = input;
        const fired = run(eventCount, rule(`type: event_count\n  condition: {gte: ${n}}`), input);
        expect(fired.length > 0).toBe(bestWindow(evs, (w) => w.length) >= n);
        if (evs.length < n) expect(fired).toEqual([]);
        for (const f of fired) checkFiring(f, evs, n);
      }),
      { numRuns: 1000 },
    );
  });

  it('value_count fires at least once iff some window holds N distinct values', () => {
    fc.assert(
      fc.property(arrivals(['a', 'b', 'c', 'd', 'e']), fc.integer({ min: 1, max: 5 }), (input, n) => {
        const { evs } = input;
        const fired = run(valueCount, rule(`type: value_count\n  condition: {field: user.name, gte: ${n}}`), input);
        const distinct = (w: Ev[]) => new Set(w.map((e) => e.value)).size;
        expect(fired.length > 0).toBe(bestWindow(evs, distinct) >= n);
        if (distinct(evs) < n) expect(fired).toEqual([]);
        for (const f of fired) {
          checkFiring(f, evs, 1);
          expect(f.distinctValues!.length).toBeGreaterThanOrEqual(n);
          expect(f.context).toEqual({ distinct: f.distinctValues!.length });
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('value_sum fires at least once iff some window sums to the threshold', () => {
    const sum = (w: Ev[]) => w.reduce((s, e) => s + valueOf(e), 0);
    fc.assert(
      fc.property(arrivals(['a', 'b', 'c', 'd', 'e', 'f', 'g']), fc.integer({ min: 1, max: 25 }), (input, n) => {
        const { evs } = input;
        const fired = run(valueSum, rule(`type: value_sum\n  condition: {field: n, gte: ${n}}`), input);
        expect(fired.length > 0).toBe(bestWindow(evs, sum) >= n);
        for (const f of fired) {
          checkFiring(f, evs, 1);
          expect((f.context as { sum: number }).sum).toBeGreaterThanOrEqual(n);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('value_count agrees on windows large enough to keep per-value counts', () => {
    const names = Array.from({ length: 45 }, (_, i) => `u${i}`);
    fc.assert(
      fc.property(arrivals(names, undefined, 60, 200), fc.integer({ min: 15, max: 45 }), (input, n) => {
        const { evs } = input;
        const fired = run(valueCount, rule(`type: value_count\n  condition: {field: user.name, gte: ${n}}`), input);
        const distinct = (w: Ev[]) => new Set(w.map((e) => e.value)).size;
        expect(fired.length > 0).toBe(bestWindow(evs, distinct) >= n);
        for (const f of fired) {
          const reported = (f.context as { distinct: number }).distinct;
          expect(reported).toBeGreaterThanOrEqual(n);
          expect(reported).toBeLessThanOrEqual(distinct(evs.filter((e) => e.time >= f.first && e.time <= f.last)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a correlator restored from a snapshot at any point fires exactly as an uninterrupted one', () => {
    const bodies: [CorrelatorFactory, string][] = [
      [eventCount, 'type: event_count\n  condition: {gte: 3}'],
      [eventCount, 'type: event_count\n  condition: {lt: 3}'],
      [valueCount, 'type: value_count\n  condition: {field: user.name, gte: 3}'],
      [valueSum, 'type: value_sum\n  condition: {field: n, gte: 7}'],
      [valuePercentile, 'type: value_percentile\n  condition: {field: user.name, lte: 10}'],
    ];
    fc.assert(
      fc.property(
        arrivals(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k'], ['10.0.0.1', '10.0.0.2']),
        fc.nat(),
        fc.constantFrom(...bodies),
        (input, at, [factory, body]) => {
          const { evs, lateness } = input;
          const r = rule(body);
          const cut = evs.length === 0 ? 0 : at % (evs.length + 1);
          const whole = run(factory, r, input);
          const first = factory(r.rule, { maxKeys: 100, allowedLatenessMs: lateness });
          const second = factory(r.rule, { maxKeys: 100, allowedLatenessMs: lateness });
          const out: Firing[] = [];
          let max = -Infinity;
          evs.forEach((e, i) => {
            if (i === cut) second.restore(JSON.parse(JSON.stringify(first.snapshot())));
            max = Math.max(max, e.time);
            const f = (i < cut ? first : second).observe(toHit(r.uid, e, i), max - lateness);
            if (f) out.push(f);
          });
          expect(out).toEqual(whole);
        },
      ),
      { numRuns: 300 },
    );
  });
});
