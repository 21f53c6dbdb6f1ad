import fc from 'fast-check';
import haversine from 'haversine-distance';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/engine/alert.js';
import { Engine, type EngineOutput } from '../../../src/engine/engine.js';
import type { AuthEvent } from '../../../src/events/authEvent.js';
import { loadRuleText } from '../../../src/rules/loader.js';
import { detection } from './correlations/correlationHarness.js';

/**
 * Issue 9, item 8: for every correlation type (and chained correlations, and `suppress`), any
 * arrival order within the allowed lateness gives the same alerts as time order; and in time
 * order, impossible travel and value change are what a brute force over consecutive events
 * says.
 */

const T0 = Date.UTC(2026, 2, 2, 8);
const STEP = 20_000;
const LATENESS = 60_000;

const correlation = (title: string, body: string) =>
  `title: ${title}\nname: ${title.replace(/ /g, '_')}\ncorrelation:\n${body
    .trim()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}\n`;

const RULES = [
  detection('failed', 'login.failure'),
  detection('ok', 'login.success'),
  `title: curl\nname: curl\nlogsource: {product: authwatch}\ndetection:\n  sel: {type: login.success, user_agent|startswith: curl}\n  condition: sel\nsuppress: {timespan: 3m, group-by: [ip]}\n`,
  correlation('brute', 'type: event_count\nrules: [failed]\ngroup-by: [user.name]\ntimespan: 2m\ncondition: {gte: 3}'),
  correlation(
    'stuffing',
    'type: value_count\nrules: [failed]\ngroup-by: [ip]\ntimespan: 5m\ncondition: {field: user.name, gte: 3}',
  ),
  correlation('both', 'type: temporal\nrules: [failed, ok]\ngroup-by: [user.name]\ntimespan: 2m'),
  correlation('then', 'type: temporal_ordered\nrules: [failed, ok]\ngroup-by: [user.name]\ntimespan: 2m'),
  correlation('asn sum', 'type: value_sum\nrules: [ok]\ngroup-by: [ip]\ntimespan: 4m\ncondition: {field: asn, gte: 9}'),
  correlation('asn avg', 'type: value_avg\nrules: [ok]\ngroup-by: [ip]\ntimespan: 4m\ncondition: {field: asn, gt: 3}'),
  correlation(
    'asn rank',
    'type: value_percentile\nrules: [ok]\ngroup-by: [source]\ntimespan: 1h\ncondition: {field: asn, lte: 12}',
  ),
  correlation('travel', 'type: impossible_travel\nrules: [ok]\ngroup-by: [user.name]\ntimespan: 1h'),
  correlation('asn change', 'type: value_change\nrules: [ok]\ngroup-by: [user.name]\nfield: asn\ntimespan: 10m'),
  correlation('new ip', 'type: new_value\nrules: [ok]\ngroup-by: [user.name]\nfield: ip\ntimespan: 1h'),
  correlation('dormant', 'type: dormant_account\nrules: [ok]\ngap: 3m'),
  correlation('brute then ok', 'type: temporal_ordered\nrules: [brute, ok]\ngroup-by: [user.name]\ntimespan: 3m'),
  correlation(
    'repeated travel',
    'type: event_count\nrules: [travel]\ngroup-by: [user.name]\ntimespan: 1h\ncondition: {gte: 2}',
  ),
].join('---\n');

const set = loadRuleText('order.yml', RULES);
if (set.diagnostics.errorCount > 0) throw new Error(set.diagnostics.items.map((d) => d.message).join('; '));
// Every rule alerts, so the building blocks are compared too.
const everything = new Set([...set.detections, ...set.correlations].map((r) => r.uid));

const PLACES = [
  { country: 'DE', city: 'Berlin', lat: 52.52, lon: 13.4 },
  { country: 'DE', city: 'Potsdam', lat: 52.39, lon: 13.06 },
  { country: 'US', city: 'New York', lat: 40.71, lon: -74.0 },
  { country: 'JP', city: 'Tokyo', lat: 35.68, lon: 139.69 },
];

interface Spec {
  slot: number;
  jitter: number;
  ok: boolean;
  user: number;
  ip: number;
  place: number;
  asn: number;
  curl: boolean;
  /** Ties: events sharing a time, given in some order. */
  tie: number;
}

const spec: fc.Arbitrary<Spec> = fc.record({
  slot: fc.integer({ min: 0, max: 30 }),
  jitter: fc.oneof(fc.constant(0), fc.constant(LATENESS / STEP), fc.integer({ min: 0, max: LATENESS / STEP })),
  ok: fc.boolean(),
  user: fc.integer({ min: 0, max: 2 }),
  ip: fc.integer({ min: 0, max: 2 }),
  place: fc.integer({ min: 0, max: PLACES.length - 1 }),
  asn: fc.integer({ min: 1, max: 6 }),
  curl: fc.boolean(),
  tie: fc.integer(),
});

function eventOf(s: Spec, i: number): AuthEvent {
  return {
    id: `e${String(i).padStart(3, '0')}`,
    time: T0 + s.slot * STEP,
    source: 'generic',
    type: s.ok ? 'login.success' : 'login.failure',
    outcome: s.ok ? 'success' : 'failure',
    user: { name: `u${s.user}` },
    ip: `203.0.113.${s.ip + 1}`,
    asn: s.asn,
    geo: { ...PLACES[s.place]! },
    ...(s.curl ? { user_agent: 'curl/8' } : {}),
  };
}

/** The events in time order (ties as generated), and in an arrival order within the lateness. */
function orders(specs: Spec[]): { timeOrder: AuthEvent[]; arrival: AuthEvent[] } {
  const events = specs.map((s, i) => ({ s, e: eventOf(s, i), i }));
  const timeOrder = [...events].sort((a, b) => a.e.time - b.e.time || a.s.tie - b.s.tie).map((x) => x.e);
  const arrival = [...events]
    .sort((a, b) => a.s.slot + a.s.jitter - (b.s.slot + b.s.jitter) || a.i - b.i)
    .map((x) => x.e);
  return { timeOrder, arrival };
}

function runAll(events: AuthEvent[]): { out: EngineOutput; engine: Engine } {
  const engine = new Engine(set, { alwaysAlert: everything, allowedLatenessMs: LATENESS });
  const out: EngineOutput = { alerts: [], actions: [], dropped: [] };
  for (const e of events) engine.process(e, out);
  engine.flush(out);
  return { out, engine };
}

const canonical = (alerts: Alert[]) => alerts.map((a) => JSON.stringify(a)).sort();

describe('order independence within the allowed lateness', () => {
  it('gives the same alerts for any arrival order as for time order, for every correlation type', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.array(spec, { minLength: 1, maxLength: 80, size: 'max' }), (specs) => {
        const { timeOrder, arrival } = orders(specs);
        const inOrder = runAll(timeOrder);
        const shuffled = runAll(arrival);
        expect(shuffled.engine.counters.lateEvents).toBe(0);
        expect(canonical(shuffled.out.alerts)).toEqual(canonical(inOrder.out.alerts));
        expect(shuffled.out.actions.map((a) => a.action_id).sort()).toEqual(
          inOrder.out.actions.map((a) => a.action_id).sort(),
        );
        for (const a of shuffled.out.alerts) {
          seen.add(a.rule_title);
          // An alert is decided by the last event that took part, never before it.
          expect(a.detected_at).toBeGreaterThanOrEqual(a.last_seen);
          expect(a.last_seen).toBeGreaterThanOrEqual(a.first_seen);
        }
      }),
      { numRuns: 400 },
    );
    // The generator reaches every rule, so none passes by never firing.
    expect([...seen].sort()).toEqual([...set.detections, ...set.correlations].map((r) => r.title).sort());
  });

  it('finds impossible travel and value changes between neighbours in event time, as a brute force does', () => {
    fc.assert(
      fc.property(fc.array(spec, { minLength: 1, maxLength: 80, size: 'max' }), (specs) => {
        const { timeOrder, arrival } = orders(specs);
        const { out } = runAll(arrival);
        const pairs = (title: string) =>
          out.alerts
            .filter((a) => a.rule_title === title)
            .map((a) => a.event_ids.join('→'))
            .sort();
        expect(pairs('travel')).toEqual(bruteForce(timeOrder, travels));
        expect(pairs('asn change')).toEqual(
          bruteForce(timeOrder, (a, b) => a.asn !== b.asn && b.time - a.time <= 10 * 60_000),
        );
      }),
      { numRuns: 400 },
    );
  });
});

/**
 * Consecutive successful logins of each user in event time (ties by event id, the engine's
 * order), as `from→to` pairs of event ids where `differs` holds.
 */
function bruteForce(events: AuthEvent[], differs: (a: AuthEvent, b: AuthEvent) => boolean): string[] {
  const out: string[] = [];
  const byUser = new Map<string, AuthEvent[]>();
  for (const e of events)
    if (e.type === 'login.success') byUser.set(e.user!.name!, [...(byUser.get(e.user!.name!) ?? []), e]);
  for (const list of byUser.values()) {
    list.sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : 1));
    for (let i = 1; i < list.length; i++)
      if (differs(list[i - 1]!, list[i]!)) out.push(`${list[i - 1]!.id}→${list[i]!.id}`);
  }
  return out.sort();
}

/** Faster than 1000 km/h over at least 100 km, within the hour (the rule's defaults and timespan). */
function travels(a: AuthEvent, b: AuthEvent): boolean {
  const km = haversine(a.geo as { lat: number; lon: number }, b.geo as { lat: number; lon: number }) / 1000;
  const hours = (b.time - a.time) / 3_600_000;
  if (b.time - a.time > 3_600_000 || km < 100) return false;
  return hours === 0 || km / hours > 1000;
}
