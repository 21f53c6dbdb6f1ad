import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import { createEnrichers } from '../../../src/enrich/createEnrichers.js';
import type { AuthEvent } from '../../../src/events/authEvent.js';
import { Ingest } from '../../../src/events/ingest.js';
import { emptyOutput, type EvaluationOutput } from '../../../src/pipeline/evaluate.js';
import { loadRulesWithValues } from '../../../src/rules/overrides.js';
import { CorrelatePartition, HitRouter, hitsPartition, type HitEnvelope } from '../../../src/scale/hits.js';
import { formatRecords } from '../../../src/simulate/formats.js';
import { ATTACK_KINDS, DEFAULT_START, prng, simulate } from '../../../src/simulate/simulate.js';

const pack = loadRulesWithValues(['detections']);

/** A labelled day of traffic with every attack, decoded and enriched. */
function stream(seed: number): AuthEvent[] {
  const { events } = simulate({ seed, users: 400, hours: 24, start: DEFAULT_START, attacks: ATTACK_KINDS });
  const ingest = new Ingest('sim', {
    enrichers: createEnrichers({ geo: true, asn: true }),
    now: () => Date.UTC(2100, 0, 1),
  });
  const out: AuthEvent[] = [];
  events.forEach((e, i) => {
    for (const record of formatRecords(e, 'auth0', seed, i)) {
      const r = ingest.process(Buffer.from(JSON.stringify(record)), { line: i });
      if (r.ok) out.push(r.event);
    }
  });
  return out;
}

function single(events: AuthEvent[]): EvaluationOutput {
  const engine = new Engine(pack);
  const out = emptyOutput();
  for (const e of events) engine.process(e, out);
  engine.flush(out);
  return out;
}

/**
 * The two stages in memory: `inputs` input partitions (events spread at random, in order within
 * each), read in batches of random size by `members` match routers in turn, their records
 * carried as JSON to `partitions` correlate partitions.
 */
function scaledOut(events: AuthEvent[], seed: number, inputs: number, members: number, partitions: number) {
  const rnd = prng(seed);
  const queues: AuthEvent[][] = Array.from({ length: inputs }, () => []);
  for (const e of events) queues[Math.floor(rnd() * inputs)]!.push(e);
  const routers = Array.from({ length: members }, () => new HitRouter(new Engine(pack), partitions, 60_000));
  const correlate = Array.from(
    { length: partitions },
    (_, p) => new CorrelatePartition(new Engine(pack), partitions, p),
  );
  const out = emptyOutput();
  const topics = { in: inputs };
  const positions = new Array<number>(inputs).fill(0);
  const deliver = (records: Array<{ partition: number; envelope: HitEnvelope }>) => {
    for (const r of records) correlate[r.partition]!.apply(JSON.parse(JSON.stringify(r.envelope)) as HitEnvelope, out);
  };
  let now = 0;
  while (positions.some((p, i) => p < queues[i]!.length)) {
    for (let m = 0; m < members; m++) {
      const owned = [...Array(inputs).keys()].filter((i) => i % members === m);
      for (const i of owned) {
        const take = 1 + Math.floor(rnd() * 300);
        const q = queues[i]!;
        for (const e of q.slice(positions[i], positions[i]! + take)) {
          routers[m]!.match(e, `in/${i}`, positions[i]!++, now, out);
        }
      }
      now += 10;
      deliver(
        routers[m]!.take(
          owned.map((i) => ({ source: `in/${i}`, idle: positions[i]! >= queues[i]!.length })),
          topics,
          now,
        ),
      );
    }
  }
  // Every input idle, long after: the wall clock releases what waits.
  now = Date.UTC(2100, 0, 1);
  for (let m = 0; m < members; m++) {
    const owned = [...Array(inputs).keys()].filter((i) => i % members === m);
    deliver(
      routers[m]!.take(
        owned.map((i) => ({ source: `in/${i}`, idle: true })),
        topics,
        now,
      ),
    );
  }
  return { out, correlate };
}

const ids = (o: EvaluationOutput) => o.alerts.map((a) => a.alert_id).sort();
const actions = (o: EvaluationOutput) => o.actions.map((a) => JSON.stringify(a)).sort();

describe('Scaling out: the match and correlate stages', () => {
  const events = stream(7);
  const one = single(events);

  it('produce exactly the alerts and actions of one engine, over 6 inputs, 1 to 3 members and 1 to 5 partitions', () => {
    expect(one.alerts.length).toBeGreaterThan(40);
    expect(new Set(one.alerts.map((a) => a.rule_type)).size).toBeGreaterThan(3);
    for (const [members, partitions] of [
      [1, 1],
      [2, 3],
      [3, 5],
    ] as const) {
      const { out } = scaledOut(events, members * 10 + partitions, 6, members, partitions);
      expect(ids(out), `${members} members, ${partitions} partitions`).toEqual(ids(one));
      expect(actions(out)).toEqual(actions(one));
      const alertsById = new Map(one.alerts.map((a) => [a.alert_id, JSON.stringify(a)]));
      for (const a of out.alerts) expect(JSON.stringify(a)).toBe(alertsById.get(a.alert_id));
    }
  });

  it('drops hits sent again after a match member restarts, and keeps its windows across a snapshot', () => {
    const engine = new Engine(pack);
    const router = new HitRouter(new Engine(pack), 1, 60_000);
    const a = new CorrelatePartition(engine, 1, 0);
    const out = emptyOutput();
    const first = events.slice(0, 2000);
    first.forEach((e, i) => router.match(e, 'in/0', i, 0, out));
    const records = router.take([{ source: 'in/0', idle: false }], { in: 1 }, 0);
    for (const r of records) a.apply(r.envelope, out);
    const b = new CorrelatePartition(new Engine(pack), 1, 0);
    b.restore(JSON.parse(JSON.stringify(a.snapshot())) as ReturnType<CorrelatePartition['snapshot']>);
    // The same records again (a match member that restarted before committing): nothing counts twice.
    const again = new HitRouter(new Engine(pack), 1, 60_000);
    first.forEach((e, i) => again.match(e, 'in/0', i, 0, emptyOutput()));
    const before = b.duplicates;
    for (const r of again.take([{ source: 'in/0', idle: false }], { in: 1 }, 0)) b.apply(r.envelope, emptyOutput());
    expect(b.duplicates - before).toBe(records.reduce((n, r) => n + r.envelope.h.length, 0));
    expect(JSON.stringify(b.snapshot())).toBe(JSON.stringify(a.snapshot()));
  });

  it('refuses records keyed for another partition count, and state kept with one', () => {
    const p = new CorrelatePartition(new Engine(pack), 4, 0);
    expect(() => p.apply({ v: 1, topics: {}, n: 3, s: [], h: [] }, emptyOutput())).toThrow(
      /keyed for 3 partitions, but the hits topic has 4/,
    );
    const other = new CorrelatePartition(new Engine(pack), 3, 0);
    expect(() => p.restore(other.snapshot())).toThrow(/kept with 3 partitions/);
  });

  it('holds the windows until every input partition has been heard from, and never on an idle one', () => {
    const engine = new Engine(pack);
    const p = new CorrelatePartition(engine, 1, 0);
    const router = new HitRouter(new Engine(pack), 1, 60_000);
    const out = emptyOutput();
    const head = events.slice(0, 3000);
    head.forEach((e, i) => router.match(e, 'in/0', i, 0, out));
    for (const r of router.take([{ source: 'in/0', idle: false }], { in: 2 }, 0)) p.apply(r.envelope, out);
    const waiting = engine.pendingHits;
    expect(waiting).toBeGreaterThan(0);
    expect(engine.stats().watermark).toBeNull(); // in/1 not heard from: nothing released
    // in/1 is heard from, idle (an empty partition): in/0 alone decides.
    for (const r of new HitRouter(new Engine(pack), 1, 60_000).take([{ source: 'in/1', idle: true }], { in: 2 }, 0))
      p.apply(r.envelope, out);
    expect(engine.pendingHits).toBeLessThan(waiting);
    expect(engine.stats().watermark).toBe(router.clockOf('in/0', 0).clock.watermark);
  });

  it('never drops the hits of an input partition taken for idle whose records then come', () => {
    // One correlation alert's events are in/1; the rest of the stream is in/0. The match member
    // takes in/1 for idle after its first such event (a fetch had not brought the rest yet),
    // and in/0 runs on past the others before they come.
    const target = one.alerts.find((a) => a.rule_type === 'event_count' && a.event_ids.length >= 4)!;
    expect(target).toBeDefined();
    const ids = new Set(target.event_ids);
    const burst = events.filter((e) => ids.has(e.id));
    const rest = events.filter((e) => !ids.has(e.id));
    const engine = new Engine(pack);
    const p = new CorrelatePartition(engine, 1, 0);
    const router = new HitRouter(new Engine(pack), 1, 60_000);
    const out = emptyOutput();
    const deliver = (idle: boolean) => {
      const owned = [
        { source: 'in/0', idle: false },
        { source: 'in/1', idle },
      ];
      for (const r of router.take(owned, { in: 2 }, 0)) p.apply(r.envelope, out);
    };
    let at = 0;
    const runTo = (time: number) => {
      while (at < rest.length && rest[at]!.time <= time) router.match(rest[at]!, 'in/0', at++, 0, out);
    };
    runTo(burst[0]!.time);
    router.match(burst[0]!, 'in/1', 0, 0, out);
    deliver(true);
    // In/0 moves the watermark past the rest of the burst, within the window.
    runTo(burst[burst.length - 1]!.time + 90_000);
    deliver(true);
    expect(engine.stats().watermark).toBeGreaterThan(burst[burst.length - 1]!.time);
    burst.slice(1).forEach((e, i) => router.match(e, 'in/1', i + 1, 0, out));
    deliver(false);
    runTo(Number.POSITIVE_INFINITY);
    deliver(false);
    engine.flush(out);
    expect(engine.stats().behindHits).toBeGreaterThanOrEqual(burst.length - 1);
    const found = out.alerts.filter(
      (a) => a.rule_id === target.rule_id && JSON.stringify(a.group) === JSON.stringify(target.group),
    );
    // Counted, out of order: the group's alert holds the burst (but for the one an event of in/0,
    // evaluated before the burst's tail came, took the place of).
    expect(found).toHaveLength(1);
    expect(found[0]!.event_ids.filter((id) => ids.has(id)).length).toBeGreaterThanOrEqual(ids.size - 1);
  });

  it('spreads keys over the partitions', () => {
    const counts = new Array<number>(6).fill(0);
    for (let i = 0; i < 6000; i++) counts[hitsPartition(`ip=203.0.${i >> 8}.${i & 255}`, 6)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });
});
