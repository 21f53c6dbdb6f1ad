import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/engine/alert.js';
import { Engine } from '../../../src/engine/engine.js';
import { createEnrichers } from '../../../src/enrich/createEnrichers.js';
import type { Enricher } from '../../../src/enrich/enricher.js';
import { Ingest } from '../../../src/events/ingest.js';
import { emptyOutput, evaluate } from '../../../src/pipeline/evaluate.js';
import type { RuleSet } from '../../../src/rules/loader.js';
import { loadRulesWithValues } from '../../../src/rules/overrides.js';
import { authTraffic } from '../../support/traffic.js';

/**
 * Issue 9, "done when": hostile records (deep structures, huge arrays, random times, junk) in
 * attack traffic, in random arrival orders within the allowed lateness, through the whole
 * shipped pack. No exception escapes; every record ends as an event or a dead letter; the
 * alerts are those of the same records in event-time order.
 */

const LATENESS = 60_000;
const START = Date.UTC(2026, 10, 1);
const NOW = START + 86_400_000;

let pack: RuleSet;
let enrichers: Enricher[];
beforeAll(() => {
  pack = loadRulesWithValues(['detections']);
  enrichers = createEnrichers({ geo: true, asn: true });
});

const iso = (t: number) => new Date(t).toISOString();

/** A hostile record: the text, and the event time it claims if it is meant to decode. */
const hostile: fc.Arbitrary<{ text: string; time?: number }> = fc.oneof(
  // Deep nesting, within and far beyond the depth limit.
  fc.integer({ min: 10, max: 6000 }).map((n) => ({
    text: `{"type":"login.failure","time":${START},"user":{"name":"deep"},"x":${'['.repeat(n)}${']'.repeat(n)}}`,
  })),
  // Huge arrays, in an Auth0 record and where keyword rules look.
  fc.integer({ min: 1000, max: 150_000 }).map((n) => ({
    text: `{"log_id":"huge${n}","type":"f","date":"${iso(START + 5000)}","details":{"a":[${Array(n).fill('"aaaaaaaaaaaaaaaaaaaaaaaaaa!"').join(',')}]}}`,
  })),
  // Times that are no times, or impossible ones.
  fc
    .oneof(
      fc.string(),
      fc.constantFrom('2026-02-30T10:00:00Z', '2026-13-01', '1999-12-31T23:59:59Z', 'NaN', '-1', '1e400', ''),
      fc.double(),
      fc.constant(null),
    )
    .map((time) => ({ text: JSON.stringify({ type: 'login.failure', time, user: { name: 'odd' } }) })),
  // Real times, anywhere from before the stream to a day after it, with or without an offset.
  fc.tuple(fc.integer({ min: -7_200_000, max: 25 * 3_600_000 }), fc.boolean()).map(([offset, zoned]) => {
    const t = START + offset;
    const text = zoned ? iso(t) : iso(t).slice(0, -1);
    return { text: JSON.stringify({ type: 'login.failure', time: text, user: { name: 'stray' } }), time: t };
  }),
  // Okta outcomes that are not successes, and JSON of any shape.
  fc.constantFrom('CHALLENGE', 'UNKNOWN', 'SKIPPED', null).map((result) => ({
    text: JSON.stringify({
      uuid: `o-${String(result)}`,
      eventType: 'user.session.start',
      published: iso(START + 1000),
      outcome: { result },
    }),
    time: START + 1000,
  })),
  fc.jsonValue().map((v) => ({ text: JSON.stringify(v) })),
  fc.string({ unit: 'binary' }).map((s) => ({ text: s.replace(/\n/g, ' ') })),
);

interface Input {
  lines: { text: string; time?: number }[];
  /** A jitter per line, within the lateness. */
  jitters: number[];
}

const input: fc.Arbitrary<Input> = fc
  .record({
    seed: fc.integer({ min: 1, max: 1_000_000 }),
    hostile: fc.array(hostile, { maxLength: 12 }),
  })
  .chain(({ seed, hostile: bad }) => {
    const { lines } = authTraffic({ seed, events: 800, start: START, stepMs: 150, attacks: 2 });
    const good = lines.map((text) => ({ text, time: (JSON.parse(text) as { time: number }).time }));
    // At most three strays with real times: a fourth and fifth would be enough to move event time.
    let strays = 0;
    const kept = bad.filter((b) => b.time === undefined || b.time === START + 1000 || ++strays <= 3);
    const all = [...good, ...kept];
    return fc
      .array(fc.integer({ min: 0, max: LATENESS }), { minLength: all.length, maxLength: all.length })
      .map((jitters) => ({ lines: all, jitters }));
  });

function run(lines: string[]): { alerts: Alert[]; records: number; events: number; deadLetters: number } {
  const ingest = new Ingest('fuzz', { enrichers, now: () => NOW, maxRecordBytes: 4 * 1024 * 1024 });
  const engine = new Engine(pack, { allowedLatenessMs: LATENESS });
  const out = emptyOutput();
  lines.forEach((text, i) => {
    const bytes = Buffer.from(text);
    const result = ingest.process(bytes, { line: i + 1 });
    if (!result.ok) out.deadLetters.push(result.deadLetter);
    else evaluate(engine, ingest, result.event, { bytes, position: { line: i + 1 } }, out);
  });
  engine.flush(out);
  expect(out.deadLetters.map((d) => d.reason)).not.toContain('internal_error');
  expect(out.deadLetters.map((d) => d.reason)).not.toContain('engine_error');
  const { records, events, deadLetters } = ingest.counters;
  expect(out.deadLetters).toHaveLength(deadLetters);
  return { alerts: out.alerts, records, events, deadLetters };
}

const canonical = (alerts: Alert[]) => alerts.map((a) => JSON.stringify(a)).sort();

describe('the whole pack under hostile input and arrival order', () => {
  it('loses no record, lets no exception out, and alerts as on time-ordered input', () => {
    fc.assert(
      fc.property(input, ({ lines, jitters }) => {
        // Records without a usable time go anywhere; the others by time, or by time plus a jitter.
        const keyed = lines.map((l, i) => ({ ...l, i, at: l.time ?? START + (i % 800) * 150 }));
        const timeOrder = [...keyed].sort((a, b) => a.at - b.at || a.i - b.i).map((l) => l.text);
        const arrival = [...keyed]
          .sort((a, b) => a.at + jitters[a.i]! - (b.at + jitters[b.i]!) || a.i - b.i)
          .map((l) => l.text);
        const sorted = run(timeOrder);
        const shuffled = run(arrival);
        expect(shuffled.records).toBe(lines.length);
        expect(shuffled.events + shuffled.deadLetters).toBe(lines.length);
        expect(shuffled.alerts.length).toBeGreaterThan(0);
        expect(canonical(shuffled.alerts)).toEqual(canonical(sorted.alerts));
      }),
      { numRuns: 10 },
    );
  }, 120_000);
});
