import { describe, expect, it } from 'vitest';
import type { Correlator, CorrelatorFactory, Firing, Hit } from '../../../../src/engine/correlations/correlator.js';
import { eventCount } from '../../../../src/engine/correlations/eventCount.js';
import {
  PERCENTILE_MIN_VALUES,
  valueAvg,
  valuePercentile,
  valueSum,
} from '../../../../src/engine/correlations/valueAggregate.js';
import { valueCount } from '../../../../src/engine/correlations/valueCount.js';
import type { AuthEvent } from '../../../../src/events/authEvent.js';
import { loadRuleText } from '../../../../src/rules/loader.js';
import type { CorrelationRule } from '../../../../src/rules/model.js';

const T0 = Date.UTC(2025, 0, 6, 9, 0, 0);
const SEC = 1000;
const MIN = 60 * SEC;

const detection = (name: string, type: string) =>
  `title: ${name}\nname: ${name}\nlogsource: {product: authwatch}\ndetection:\n  sel: {type: ${type}}\n  condition: sel\n`;

/** Loads `failed` and `blocked` detections and one correlation whose `correlation:` body is given. */
function load(body: string): { rule: CorrelationRule; failed: string; blocked: string } {
  const indented = body
    .trim()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
  const set = loadRuleText(
    't.yml',
    `${detection('failed', 'login.failure')}---\n${detection('blocked', 'account.blocked')}---\ntitle: C\ncorrelation:\n${indented}\n`,
  );
  expect(set.diagnostics.items.filter((d) => d.severity === 'error')).toEqual([]);
  const uid = (name: string) => set.detections.find((d) => d.name === name)!.uid;
  return { rule: set.correlations[0]!, failed: uid('failed'), blocked: uid('blocked') };
}

const countRule = (condition = '{gte: 3}', timespan = '5m') =>
  load(`type: event_count\nrules: [failed]\ngroup-by: [ip]\ntimespan: ${timespan}\ncondition: ${condition}`);

let seq = 0;
function hit(ruleUid: string, time: number, doc: Record<string, unknown> = {}, eventId = `e${++seq}`): Hit {
  const d = { ip: '203.0.113.7', ...doc };
  return { ruleUid, time, eventId, doc: d, event: d as unknown as AuthEvent };
}

/** Feeds hits the way the engine does: watermark = newest time seen minus the lateness. */
class Driver {
  max = -Infinity;
  constructor(
    readonly c: Correlator,
    readonly lateness: number,
  ) {}
  get watermark(): number {
    return this.max - this.lateness;
  }
  feed(h: Hit): Firing | undefined {
    this.max = Math.max(this.max, h.time);
    return this.c.observe(h, this.watermark);
  }
  all(hits: Hit[]): Firing[] {
    return hits.map((h) => this.feed(h)).filter((f): f is Firing => f !== undefined);
  }
}

function driver(factory: CorrelatorFactory, rule: CorrelationRule, maxKeys = 1000, lateness = 10 * MIN): Driver {
  return new Driver(factory(rule, { maxKeys, allowedLatenessMs: lateness }), lateness);
}

describe('event_count', () => {
  it('fires exactly at the threshold, reporting the window', () => {
    const { rule, failed } = countRule();
    const d = driver(eventCount, rule);
    expect(d.feed(hit(failed, T0, {}, 'a'))).toBeUndefined();
    expect(d.feed(hit(failed, T0 + MIN, {}, 'b'))).toBeUndefined();
    expect(d.feed(hit(failed, T0 + 2 * MIN, {}, 'c'))).toEqual({
      groupKey: '203.0.113.7',
      group: { ip: '203.0.113.7' },
      first: T0,
      last: T0 + 2 * MIN,
      count: 3,
      eventIds: ['a', 'b', 'c'],
      context: { count: 3 },
    });
  });

  it('keeps groups apart', () => {
    const { rule, failed } = countRule();
    const d = driver(eventCount, rule);
    const a = (t: number) => hit(failed, t, { ip: '10.0.0.1' });
    const b = (t: number) => hit(failed, t, { ip: '10.0.0.2' });
    const fired = d.all([a(T0), b(T0), a(T0 + 1), b(T0 + 1), b(T0 + 2), a(T0 + 3)]);
    expect(fired.map((f) => [f.group.ip, f.last])).toEqual([
      ['10.0.0.2', T0 + 2],
      ['10.0.0.1', T0 + 3],
    ]);
    expect(d.c.stats().keys).toBe(0);
  });

  it('ignores hits without a group', () => {
    const { rule, failed } = countRule('{gte: 1}');
    const d = driver(eventCount, rule);
    expect(d.feed(hit(failed, T0, { ip: '' }))).toBeUndefined();
    expect(d.feed(hit(failed, T0, { ip: undefined }))).toBeUndefined();
    expect(d.c.stats()).toEqual({ keys: 0, evictions: 0, late: 0, entriesForgotten: 0, entries: 0 });
  });

  it('slides: events older than the timespan no longer count, both ends inclusive', () => {
    const { rule, failed } = countRule();
    const d = driver(eventCount, rule);
    expect(d.all([hit(failed, T0), hit(failed, T0 + 4 * MIN), hit(failed, T0 + 6 * MIN)])).toEqual([]);
    const f = d.feed(hit(failed, T0 + 8 * MIN));
    expect(f).toMatchObject({ first: T0 + 4 * MIN, last: T0 + 8 * MIN, count: 3 });

    const e = driver(eventCount, rule);
    expect(e.all([hit(failed, T0), hit(failed, T0 + 2 * MIN), hit(failed, T0 + 5 * MIN)])).toHaveLength(1);
    const g = driver(eventCount, rule);
    expect(g.all([hit(failed, T0), hit(failed, T0 + 2 * MIN), hit(failed, T0 + 5 * MIN + 1)])).toEqual([]);
  });

  it('consumes the window on firing: the next firing needs a fresh set', () => {
    const { rule, failed } = countRule();
    const d = driver(eventCount, rule);
    const fired = d.all([1, 2, 3, 4, 5, 6, 7].map((i) => hit(failed, T0 + i * SEC)));
    expect(fired.map((f) => [f.first, f.last, f.count])).toEqual([
      [T0 + SEC, T0 + 3 * SEC, 3],
      [T0 + 4 * SEC, T0 + 6 * SEC, 3],
    ]);
  });

  it('reports at most ALERT_SAMPLE_SIZE event ids, oldest first', () => {
    const { rule, failed } = countRule('{gte: 25}');
    const d = driver(eventCount, rule);
    const fired = d.all(Array.from({ length: 25 }, (_, i) => hit(failed, T0 + i, {}, `id${i}`)));
    expect(fired).toHaveLength(1);
    expect(fired[0]!.count).toBe(25);
    expect(fired[0]!.eventIds).toEqual(Array.from({ length: 20 }, (_, i) => `id${i}`));
  });

  it('checks lt/lte-only conditions on every hit without consuming the window', () => {
    const { rule, failed } = countRule('{lt: 3}');
    const d = driver(eventCount, rule);
    const fired = d.all([0, 1, 2, 3].map((i) => hit(failed, T0 + i * MIN)));
    expect(fired.map((f) => f.count)).toEqual([1, 2]);
    // Nothing was consumed: [3m, 8m] holds 3m and 8m.
    expect(d.feed(hit(failed, T0 + 8 * MIN))?.count).toBe(2);
  });

  it('checks a range condition on the window ending at each in-order hit', () => {
    const { rule, failed } = countRule('{gt: 1, lte: 2}');
    const d = driver(eventCount, rule);
    const fired = d.all([0, 1, 2, 3, 4].map((i) => hit(failed, T0 + i * MIN)));
    expect(fired.map((f) => [f.first, f.count])).toEqual([
      [T0, 2],
      [T0 + 2 * MIN, 2],
    ]);
  });

  it('counts hits behind the watermark as late and ignores them', () => {
    const { rule, failed } = countRule('{gte: 2}');
    const d = driver(eventCount, rule, 1000, MIN);
    expect(d.feed(hit(failed, T0 + 10 * MIN))).toBeUndefined();
    expect(d.feed(hit(failed, T0 + 8 * MIN))).toBeUndefined();
    expect(d.feed(hit(failed, T0 + 8 * MIN + 59 * SEC))).toBeUndefined();
    expect(d.c.stats().late).toBe(2);
    expect(d.feed(hit(failed, T0 + 9 * MIN))).toMatchObject({ first: T0 + 9 * MIN, last: T0 + 10 * MIN, count: 2 });
  });

  it('counts out-of-order hits within the lateness in the windows that contain them', () => {
    const { rule, failed } = countRule();
    const d = driver(eventCount, rule, 1000, 15 * MIN);
    expect(d.feed(hit(failed, T0, {}, 'a'))).toBeUndefined();
    expect(d.feed(hit(failed, T0 + 10 * MIN, {}, 'late-window'))).toBeUndefined();
    expect(d.feed(hit(failed, T0 + 3 * MIN, {}, 'b'))).toBeUndefined();
    // [0, 5m] now holds a, b and this one, though the newest entry is at 10m.
    expect(d.feed(hit(failed, T0 + MIN, {}, 'c'))).toMatchObject({
      first: T0,
      last: T0 + 3 * MIN,
      count: 3,
      eventIds: ['a', 'c', 'b'],
    });
    // Only that window was consumed: 10m still counts.
    expect(d.feed(hit(failed, T0 + 12 * MIN, {}, 'd'))).toBeUndefined();
    expect(d.feed(hit(failed, T0 + 13 * MIN, {}, 'e'))).toMatchObject({ eventIds: ['late-window', 'd', 'e'] });
  });

  it('finds a window that starts before the late hit and ends after it', () => {
    const { rule, failed } = countRule();
    const d = driver(eventCount, rule, 1000, 15 * MIN);
    d.all([hit(failed, T0), hit(failed, T0 + 6 * MIN)]);
    // Every 5-minute window containing 3m holds two of the three.
    expect(d.feed(hit(failed, T0 + 3 * MIN))).toBeUndefined();
    expect(d.feed(hit(failed, T0 + 5 * MIN))).toMatchObject({ first: T0, last: T0 + 5 * MIN, count: 3 });
  });

  it('counts a late hit in a window spanning exactly the timespan', () => {
    const { rule, failed } = countRule();
    const d = driver(eventCount, rule, 1000, 5 * MIN);
    expect(d.all([hit(failed, T0), hit(failed, T0 + 5 * MIN)])).toEqual([]);
    expect(d.feed(hit(failed, T0 + 2 * MIN))).toMatchObject({ first: T0, last: T0 + 5 * MIN, count: 3 });
  });

  it('evicts the stalest group at the key limit and counts it', () => {
    const { rule, failed } = countRule();
    const d = driver(eventCount, rule, 2);
    const at = (ip: string, t: number) => hit(failed, t, { ip });
    expect(d.all([at('a', T0), at('b', T0 + 1), at('a', T0 + 2)])).toEqual([]);
    expect(d.c.stats()).toMatchObject({ keys: 2, evictions: 0 });
    d.feed(at('c', T0 + 3)); // b is the stalest: a was touched after it
    expect(d.c.stats()).toMatchObject({ keys: 2, evictions: 1 });
    // b starts over (evicting a): its first hit was forgotten, so it needs three more.
    expect(d.all([at('b', T0 + 4), at('b', T0 + 5)])).toEqual([]);
    expect(d.c.stats()).toMatchObject({ keys: 2, evictions: 2 });
    expect(d.feed(at('b', T0 + 6))).toMatchObject({ first: T0 + 4, count: 3 });
  });

  it('expires groups whose windows can no longer fire', () => {
    const { rule, failed } = countRule();
    const d = driver(eventCount, rule, 1000, MIN);
    d.all([hit(failed, T0, { ip: 'a' }), hit(failed, T0 + 4 * MIN, { ip: 'b' })]);
    d.c.expire(T0 + 5 * MIN);
    expect(d.c.stats().keys).toBe(2);
    d.c.expire(T0 + 5 * MIN + 1);
    expect(d.c.stats().keys).toBe(1);
    d.c.expire(T0 + 9 * MIN + 1);
    expect(d.c.stats().keys).toBe(0);
  });

  it('drops entries expire makes useless but keeps those a later hit can still join', () => {
    const { rule, failed } = countRule();
    const d = driver(eventCount, rule, 1000, 10 * MIN);
    d.all([hit(failed, T0), hit(failed, T0 + 6 * MIN), hit(failed, T0 + 8 * MIN)]);
    d.c.expire(T0 + 7 * MIN);
    const saved = d.c.snapshot() as { epoch: number; groups: { entries: [string, { t: number[] }][] } };
    expect(saved.groups.entries[0]![1].t.map((t) => t + saved.epoch)).toEqual([T0 + 6 * MIN, T0 + 8 * MIN]);
    expect(d.feed(hit(failed, T0 + 7 * MIN))).toMatchObject({ count: 3, first: T0 + 6 * MIN });
  });

  it('keeps counting across the move of its time base after days of running', () => {
    const { rule, failed } = countRule();
    const d = driver(eventCount, rule, 1000, MIN);
    const week = 7 * 24 * 60 * MIN;
    d.all([hit(failed, T0, { ip: 'old' }), hit(failed, T0 + week, {}, 'a'), hit(failed, T0 + week + MIN, {}, 'b')]);
    d.c.expire(d.watermark);
    const saved = d.c.snapshot() as { epoch: number; groups: { entries: [string, { t: number[] }, 1?][] } };
    expect(saved.epoch).toBe(T0 + week);
    // The trailing 1: the second hit touched the group, which eviction order must remember.
    expect(saved.groups.entries).toEqual([['203.0.113.7', { t: [0, MIN], e: ['a', 'b'] }, 1]]);
    expect(d.feed(hit(failed, T0 + week + 2 * MIN, {}, 'c'))).toMatchObject({
      first: T0 + week,
      last: T0 + week + 2 * MIN,
      eventIds: ['a', 'b', 'c'],
    });
  });
});

describe('value_count', () => {
  const aliased = () =>
    load(
      'type: value_count\nrules: [failed, blocked]\ngroup-by: [ip]\ntimespan: 5m\naliases:\n  target:\n    failed: user.name\n    blocked: account\ncondition: {field: target, gte: 3}',
    );

  it('counts distinct values across rules whose field names differ, via aliases', () => {
    const { rule, failed, blocked } = aliased();
    const d = driver(valueCount, rule);
    expect(d.feed(hit(failed, T0, { user: { name: 'carol' } }, 'a'))).toBeUndefined();
    expect(d.feed(hit(blocked, T0 + 1, { account: 'bob' }, 'b'))).toBeUndefined();
    expect(d.feed(hit(failed, T0 + 2, { user: { name: 'carol' } }, 'c'))).toBeUndefined();
    expect(d.feed(hit(failed, T0 + 3, {}, 'no-value'))).toBeUndefined();
    expect(d.feed(hit(blocked, T0 + 4, { user: { name: 'x' } }, 'wrong-field'))).toBeUndefined();
    expect(d.feed(hit(blocked, T0 + 5, { account: 'alice' }, 'd'))).toEqual({
      groupKey: '203.0.113.7',
      group: { ip: '203.0.113.7' },
      first: T0,
      last: T0 + 5,
      count: 4,
      eventIds: ['a', 'b', 'c', 'd'],
      distinctValues: ['alice', 'bob', 'carol'],
      context: { distinct: 3 },
    });
  });

  it('lets values slide out of the window', () => {
    const { rule, failed } = aliased();
    const d = driver(valueCount, rule);
    const u = (t: number, name: string) => hit(failed, t, { user: { name } });
    expect(d.all([u(T0, 'a'), u(T0 + MIN, 'b'), u(T0 + 6 * MIN, 'a')])).toEqual([]);
    expect(d.feed(u(T0 + 6 * MIN, 'c'))).toMatchObject({ distinctValues: ['a', 'b', 'c'], count: 3 });
  });

  it('counts distinct values of large windows (the Map path) and bounds distinctValues', () => {
    const { rule, failed } = load(
      'type: value_count\nrules: [failed]\ngroup-by: [ip]\ntimespan: 5m\ncondition: {field: user.name, gte: 30}',
    );
    const d = driver(valueCount, rule);
    // 100 hits cycling through 25 names, then 5 more names: the 30th distinct name fires.
    const names = Array.from({ length: 100 }, (_, i) => `u${String(i % 25).padStart(2, '0')}`);
    expect(d.all(names.map((n, i) => hit(failed, T0 + i, { user: { name: n } })))).toEqual([]);
    const fired = d.all([25, 26, 27, 28, 29].map((i) => hit(failed, T0 + 200 + i, { user: { name: `u${i}` } })));
    expect(fired).toHaveLength(1);
    expect(fired[0]!.context).toEqual({ distinct: 30 });
    expect(fired[0]!.distinctValues).toHaveLength(20);
    expect(fired[0]!.distinctValues![0]).toBe('u00');
  });
});

describe('value_sum and value_avg', () => {
  const sumRule = () =>
    load('type: value_sum\nrules: [failed]\ngroup-by: [ip]\ntimespan: 5m\ncondition: {field: bytes, gt: 1000}');

  it('sums numbers and numeric strings, skipping other values', () => {
    const { rule, failed } = sumRule();
    const d = driver(valueSum, rule);
    const b = (t: number, bytes: unknown) => hit(failed, t, { bytes });
    expect(d.all([b(T0, 400), b(T0 + 1, '300'), b(T0 + 2, 'lots'), b(T0 + 3, undefined), b(T0 + 4, true)])).toEqual([]);
    expect(d.feed(b(T0 + 5, 300))).toBeUndefined();
    expect(d.feed(b(T0 + 6, 1))).toMatchObject({ count: 4, context: { sum: 1001 } });
    expect(d.c.stats().keys).toBe(0);
  });

  it('slides the sum', () => {
    const { rule, failed } = sumRule();
    const d = driver(valueSum, rule);
    const b = (t: number, bytes: number) => hit(failed, t, { bytes });
    expect(d.all([b(T0, 900), b(T0 + 4 * MIN, 100), b(T0 + 6 * MIN, 100)])).toEqual([]);
    expect(d.feed(b(T0 + 7 * MIN, 801))).toMatchObject({ first: T0 + 4 * MIN, context: { sum: 1001 } });
  });

  it('averages', () => {
    const { rule, failed } = load(
      'type: value_avg\nrules: [failed]\ngroup-by: [ip]\ntimespan: 5m\ncondition: {field: bytes, gt: 100}',
    );
    const d = driver(valueAvg, rule);
    const b = (t: number, bytes: number) => hit(failed, t, { bytes });
    expect(d.all([b(T0, 50), b(T0 + 1, 100)])).toEqual([]);
    expect(d.feed(b(T0 + 2, 300))).toMatchObject({ count: 3, context: { avg: 150 } });
  });

  it('finds a late hit’s window by its sum', () => {
    const { rule, failed } = sumRule();
    const d = driver(valueSum, rule, 1000, 15 * MIN);
    const b = (t: number, bytes: number) => hit(failed, t, { bytes });
    expect(d.all([b(T0, 600), b(T0 + 10 * MIN, 5000 - 4999)])).toEqual([]);
    expect(d.feed(b(T0 + 2 * MIN, 401))).toMatchObject({ first: T0, last: T0 + 2 * MIN, context: { sum: 1001 } });
  });
});

describe('value_percentile', () => {
  const pctRule = (condition = '{field: app, lte: 5}') =>
    load(`type: value_percentile\nrules: [failed]\ngroup-by: [ip]\ntimespan: 1h\ncondition: ${condition}`);

  it('fires for a value that makes up at most the given percentage of the window', () => {
    const { rule, failed } = pctRule();
    const d = driver(valuePercentile, rule);
    const app = (t: number, name: string, id?: string) => hit(failed, t, { app: name }, id);
    expect(d.all(Array.from({ length: 30 }, (_, i) => app(T0 + i * SEC, 'chrome')))).toEqual([]);
    const f = d.feed(app(T0 + 31 * SEC, 'evil.exe', 'rare'));
    expect(f).toMatchObject({ count: 31, first: T0, last: T0 + 31 * SEC, eventIds: ['rare'] });
    expect(f!.context).toEqual({ percent: 100 / 31, value: 'evil.exe' });
    // The baseline is kept: common values do not fire, a second rare one does.
    expect(d.feed(app(T0 + 32 * SEC, 'chrome'))).toBeUndefined();
    expect(d.feed(app(T0 + 33 * SEC, 'other.exe'))?.context).toEqual({ percent: 100 / 33, value: 'other.exe' });
  });

  it('is not evaluated before the window holds enough values', () => {
    const { rule, failed } = pctRule();
    const d = driver(valuePercentile, rule);
    const app = (t: number, name: string) => hit(failed, t, { app: name });
    expect(d.feed(app(T0, 'first'))).toBeUndefined();
    expect(d.all(Array.from({ length: PERCENTILE_MIN_VALUES - 2 }, (_, i) => app(T0 + i + 1, 'chrome')))).toEqual([]);
    // 20 values now, 'rare' is 1 of them: 5 %.
    expect(d.feed(app(T0 + 100, 'rare'))?.context).toEqual({ percent: 5, value: 'rare' });
  });

  it('measures late hits against the window ending at them', () => {
    const { rule, failed } = pctRule('{field: app, lt: 10}');
    const d = driver(valuePercentile, rule, 1000, 4 * 60 * MIN);
    const app = (t: number, name: string) => hit(failed, t, { app: name });
    expect(d.all(Array.from({ length: 20 }, (_, i) => app(T0 + i * MIN, 'chrome')))).toEqual([]);
    d.feed(app(T0 + 3 * 60 * MIN, 'chrome'));
    // At 19m30s the window [−40m30s, 19m30s] holds the 20 chrome values.
    expect(d.feed(app(T0 + 19 * MIN + 30 * SEC, 'rare'))?.context).toEqual({ percent: 100 / 21, value: 'rare' });
    // At 10m30s it holds 11 of them, too few.
    expect(d.feed(app(T0 + 10 * MIN + 30 * SEC, 'rare2'))).toBeUndefined();
  });
});

describe('snapshot and restore', () => {
  const cases: [string, CorrelatorFactory, string, (i: number) => Record<string, unknown>][] = [
    ['event_count', eventCount, 'type: event_count\ncondition: {gte: 6}', () => ({})],
    [
      'value_count',
      valueCount,
      'type: value_count\ncondition: {field: user.name, gte: 5}',
      (i) => ({ user: { name: `u${i % 7}` } }),
    ],
    ['value_sum', valueSum, 'type: value_sum\ncondition: {field: n, gt: 10}', (i) => ({ n: 0.7 * (i % 5) })],
    [
      'value_percentile',
      valuePercentile,
      'type: value_percentile\ncondition: {field: app, lte: 4}',
      (i) => ({ app: i % 23 === 22 ? `rare${i}` : 'common' }),
    ],
  ];

  for (const [name, factory, body, doc] of cases) {
    it(`${name}: a restored correlator continues mid-window`, () => {
      const { rule, failed } = load(`${body}\nrules: [failed]\ngroup-by: [ip]\ntimespan: 30m`);
      const hits = Array.from({ length: 120 }, (_, i) => {
        // Mostly in order, every 7th a minute late; two groups.
        const t = T0 + i * 20 * SEC - (i % 7 === 6 ? MIN : 0);
        return hit(failed, t, { ip: i % 3 === 0 ? 'a' : 'b', ...doc(i) }, `h${i}`);
      });
      const whole = driver(factory, rule, 1000, 2 * MIN);
      const expected = whole.all(hits);
      expect(expected.length).toBeGreaterThan(1);

      for (const cut of [1, 37, 58, 59, 100]) {
        const first = driver(factory, rule, 1000, 2 * MIN);
        const before = first.all(hits.slice(0, cut));
        const second = driver(factory, rule, 1000, 2 * MIN);
        second.c.restore(JSON.parse(JSON.stringify(first.c.snapshot())));
        second.max = first.max;
        expect(second.c.stats()).toEqual(first.c.stats());
        expect([...before, ...second.all(hits.slice(cut))]).toEqual(expected);
      }
    });
  }

  it('counts the entries its windows hold exactly, through eviction, the group bound, firing and sweeps', () => {
    let r = 12345;
    const rnd = () => (r = (r * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (const [factory, body, forgets] of [
      [eventCount, 'type: event_count\nrules: [failed]\ngroup-by: [ip]\ntimespan: 5m\ncondition: {gte: 4}', false],
      [eventCount, 'type: event_count\nrules: [failed]\ngroup-by: [ip]\ntimespan: 5m\ncondition: {lt: 2}', true],
      [
        valueCount,
        'type: value_count\nrules: [failed]\ngroup-by: [ip]\ntimespan: 5m\ncondition: {field: user, lt: 3}',
        true,
      ],
    ] as const) {
      const { rule, failed } = load(body);
      const c = factory(rule, { maxKeys: 40, maxGroupEntries: 6, allowedLatenessMs: MIN });
      const d = new Driver(c, MIN);
      let fired = 0;
      for (let i = 0; i < 5000; i++) {
        const t = T0 + i * 2 * SEC - Math.floor(rnd() * 30 * SEC);
        // Half the hits on one busy address, the rest over more addresses than the key limit.
        const ip = rnd() < 0.5 ? '10.0.0.1' : `10.0.1.${Math.floor(rnd() * 60)}`;
        if (d.feed(hit(failed, t, { ip, user: `u${Math.floor(rnd() * 50)}` }))) fired++;
        if (i % 500 === 0) c.expire(d.watermark);
        if (i % 1000 === 0) c.shed(0.3);
      }
      const snap = c.snapshot() as { groups: { entries: [string, { t: number[] }][] } };
      const held = snap.groups.entries.reduce((sum, [, w]) => sum + w.t.length, 0);
      expect(held).toBeGreaterThan(0);
      expect(fired).toBeGreaterThan(0);
      expect(c.stats().entries).toBe(held);
      expect(c.stats().evictions).toBeGreaterThan(0);
      if (forgets) expect(c.stats().entriesForgotten).toBeGreaterThan(0);
    }
  });

  it('keeps late and eviction counts', () => {
    const { rule, failed } = countRule();
    const d = driver(eventCount, rule, 1, MIN);
    d.all([hit(failed, T0, { ip: 'a' }), hit(failed, T0, { ip: 'b' }), hit(failed, T0 - 2 * MIN)]);
    const e = driver(eventCount, rule, 1, MIN);
    e.c.restore(JSON.parse(JSON.stringify(d.c.snapshot())));
    expect(e.c.stats()).toEqual({ keys: 1, evictions: 1, late: 1, entriesForgotten: 0, entries: 1 });
  });

  it('rejects what is not a snapshot', () => {
    const { rule } = countRule();
    const c = eventCount(rule, { maxKeys: 10, allowedLatenessMs: 0 });
    expect(() => c.restore(null)).toThrow(/snapshot/);
    expect(() =>
      c.restore({ version: 1, epoch: 0, late: 0, groups: { evictions: 0, entries: [['k', { t: [1], e: [] }]] } }),
    ).toThrow(/window of k/);
  });
});
