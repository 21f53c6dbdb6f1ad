import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CorrelatorFactory } from '../../../../src/engine/correlations/correlator.js';
import { temporal, temporalOrdered } from '../../../../src/engine/correlations/temporal.js';
import type { CorrelationRule } from '../../../../src/rules/model.js';
import { detection, event, Feed, loadCorrelation, MINUTE, SECOND, T0 } from './correlationHarness.js';

const rules = [
  detection('login_failed', 'login.failure'),
  detection('login_ok', 'login.success'),
  detection('mfa_rejected', 'mfa.push.rejected'),
];

function ordered(list = '[login_failed, login_failed, login_ok]', extra = '') {
  return loadCorrelation(
    rules,
    `type: temporal_ordered\nrules: ${list}\ngroup-by: [user.name]\ntimespan: 10m\n${extra}`,
  );
}

function anyOrder(extra = '') {
  return loadCorrelation(
    rules,
    `type: temporal\nrules: [login_failed, mfa_rejected, login_ok]\ngroup-by: [user.name]\ntimespan: 10m\n${extra}`,
  );
}

const alice = { user: { name: 'alice' } };
const bob = { user: { name: 'bob' } };

describe('temporal_ordered', () => {
  it('fires for failures followed by a success, reporting the sequence', () => {
    const { rule, uid } = ordered();
    const feed = new Feed(temporalOrdered, rule);
    const f1 = event(T0, alice);
    const f2 = event(T0 + MINUTE, alice);
    const ok = event(T0 + 2 * MINUTE, alice);
    expect(feed.hit(uid('login_failed'), f1)).toBeUndefined();
    expect(feed.hit(uid('login_failed'), f2)).toBeUndefined();
    const firing = feed.hit(uid('login_ok'), ok);
    expect(firing).toEqual({
      groupKey: 'alice',
      group: { 'user.name': 'alice' },
      first: T0,
      last: T0 + 2 * MINUTE,
      count: 3,
      eventIds: [f1.id, f2.id, ok.id],
      context: { rules: [uid('login_failed'), uid('login_failed'), uid('login_ok')] },
    });
    // The group starts over after firing.
    expect(feed.correlator.stats().keys).toBe(0);
    expect(feed.hit(uid('login_ok'), event(T0 + 3 * MINUTE, alice))).toBeUndefined();
  });

  it('does not fire for a success followed by failures', () => {
    const { rule, uid } = ordered();
    const feed = new Feed(temporalOrdered, rule);
    const firings = feed.all([
      [uid('login_ok'), event(T0, alice)],
      [uid('login_failed'), event(T0 + MINUTE, alice)],
      [uid('login_failed'), event(T0 + 2 * MINUTE, alice)],
    ]);
    expect(firings).toEqual([]);
  });

  it('needs a rule listed twice to match twice', () => {
    const { rule, uid } = ordered();
    const feed = new Feed(temporalOrdered, rule);
    expect(
      feed.all([
        [uid('login_failed'), event(T0, alice)],
        [uid('login_ok'), event(T0 + MINUTE, alice)],
      ]),
    ).toEqual([]);
  });

  it('does not fire when the sequence spans more than the timespan', () => {
    const { rule, uid } = ordered();
    const feed = new Feed(temporalOrdered, rule);
    const firings = feed.all([
      [uid('login_failed'), event(T0, alice)],
      [uid('login_failed'), event(T0 + 5 * MINUTE, alice)],
      [uid('login_ok'), event(T0 + 10 * MINUTE + SECOND, alice)],
    ]);
    expect(firings).toEqual([]);
  });

  it('keeps groups apart', () => {
    const { rule, uid } = ordered();
    const feed = new Feed(temporalOrdered, rule);
    const firings = feed.all([
      [uid('login_failed'), event(T0, alice)],
      [uid('login_failed'), event(T0 + SECOND, bob)],
      [uid('login_ok'), event(T0 + 2 * SECOND, alice)],
      [uid('login_ok'), event(T0 + 3 * SECOND, bob)],
    ]);
    expect(firings).toEqual([]);
    expect(feed.correlator.stats().keys).toBe(2);
  });

  it('fires when a late earlier step completes the sequence', () => {
    const { rule, uid } = ordered('[login_failed, login_ok]');
    const feed = new Feed(temporalOrdered, rule);
    const ok = event(T0 + 30 * SECOND, alice);
    const failure = event(T0, alice);
    expect(feed.hit(uid('login_ok'), ok)).toBeUndefined();
    // Arrives after the success but happened before it, within the allowed minute.
    const firing = feed.hit(uid('login_failed'), failure);
    expect(firing?.eventIds).toEqual([failure.id, ok.id]);
    expect(firing?.context).toEqual({ rules: [uid('login_failed'), uid('login_ok')] });
    expect(feed.correlator.stats().late).toBe(0);
  });

  it('does not fire when a late hit lands after the success', () => {
    const { rule, uid } = ordered('[login_failed, login_ok]');
    const feed = new Feed(temporalOrdered, rule);
    feed.hit(uid('login_ok'), event(T0, alice));
    feed.hit(uid('mfa_rejected'), event(T0 + 50 * SECOND, alice));
    expect(feed.hit(uid('login_failed'), event(T0 + 10 * SECOND, alice))).toBeUndefined();
  });

  it('keeps a late hit even when its rule already has as many hits as it keeps', () => {
    const { rule, uid } = ordered('[login_failed, login_ok]');
    const feed = new Feed(temporalOrdered, rule, { maxKeys: 10, allowedLatenessMs: 10 * MINUTE });
    for (let i = 0; i < 40; i++) feed.hit(uid('login_failed'), event(T0 + 5 * MINUTE + i * SECOND, alice));
    expect(feed.hit(uid('login_ok'), event(T0 + MINUTE, alice))).toBeUndefined();
    const failure = event(T0, alice);
    expect(feed.hit(uid('login_failed'), failure)?.eventIds[0]).toBe(failure.id);
  });

  it('bounds the later steps held for a late first step by the key limit, evicting the oldest', () => {
    const { rule, uid } = ordered('[login_failed, login_ok]');
    const feed = new Feed(temporalOrdered, rule, { maxKeys: 100, allowedLatenessMs: 60 * MINUTE });
    // 3,000 successful logins of distinct users with no failure before: all held, up to the limit.
    for (let i = 0; i < 3000; i++) feed.hit(uid('login_ok'), event(T0 + i * SECOND, { user: { name: `u${i}` } }));
    const held = (feed.correlator.snapshot() as { orphans: unknown[] }).orphans.length;
    expect(held).toBeLessThanOrEqual(100 + 1024);
    expect(feed.correlator.stats().evictions).toBe(3000 - held);
    // The newest are kept: a late failure of the last user still completes its sequence.
    const late = event(T0 + 2998 * SECOND, { user: { name: 'u2999' } });
    expect(feed.hit(uid('login_failed'), late)?.count).toBe(2);
  });

  it('counts hits older than the allowed lateness and ignores them', () => {
    const { rule, uid } = ordered('[login_failed, login_ok]');
    const feed = new Feed(temporalOrdered, rule);
    feed.hit(uid('login_ok'), event(T0 + 5 * MINUTE, alice));
    expect(feed.hit(uid('login_failed'), event(T0, alice))).toBeUndefined();
    expect(feed.correlator.stats().late).toBe(1);
  });

  it('with a condition, fires on that many of the listed rules in order', () => {
    const { rule, uid } = ordered('[login_failed, mfa_rejected, login_ok]', 'condition: {gte: 2}');
    const feed = new Feed(temporalOrdered, rule);
    const a = event(T0, alice);
    const b = event(T0 + MINUTE, alice);
    expect(feed.hit(uid('login_ok'), event(T0 - MINUTE, alice))).toBeUndefined();
    expect(feed.hit(uid('login_failed'), a)).toBeUndefined();
    const firing = feed.hit(uid('login_ok'), b);
    expect(firing?.eventIds).toEqual([a.id, b.id]);
    expect(firing?.count).toBe(2);
  });

  it('continues its windows after a snapshot and restore', () => {
    const { rule, uid } = ordered();
    const feed = new Feed(temporalOrdered, rule);
    feed.hit(uid('login_failed'), event(T0, alice));
    feed.hit(uid('login_failed'), event(T0 + SECOND, alice));
    const snap = feed.correlator.snapshot();
    const restarted = feed.restarted(temporalOrdered);
    expect(restarted.correlator.snapshot()).toEqual(snap);
    expect(restarted.hit(uid('login_ok'), event(T0 + 2 * SECOND, alice))?.count).toBe(3);
  });

  it('evicts the stalest group beyond the key limit, and counts it', () => {
    const { rule, uid } = ordered('[login_failed, login_ok]');
    const feed = new Feed(temporalOrdered, rule, { maxKeys: 2, allowedLatenessMs: MINUTE });
    feed.hit(uid('login_failed'), event(T0, alice));
    feed.hit(uid('login_failed'), event(T0 + SECOND, bob));
    feed.hit(uid('login_failed'), event(T0 + 2 * SECOND, { user: { name: 'carol' } }));
    expect(feed.correlator.stats()).toEqual({ keys: 2, evictions: 1, late: 0 });
    expect(feed.hit(uid('login_ok'), event(T0 + 3 * SECOND, bob))).toBeDefined();
    expect(feed.hit(uid('login_ok'), event(T0 + 4 * SECOND, alice))).toBeUndefined();
  });

  it('frees groups whose hits have left the timespan', () => {
    const { rule, uid } = ordered('[login_failed, login_ok]');
    const feed = new Feed(temporalOrdered, rule);
    feed.hit(uid('login_failed'), event(T0, alice));
    feed.hit(uid('login_failed'), event(T0 + 5 * MINUTE, bob));
    feed.hit(uid('login_failed'), event(T0 + 11 * MINUTE + 1, { user: { name: 'carol' } }));
    feed.expire();
    expect(feed.correlator.stats().keys).toBe(2);
    feed.hit(uid('login_failed'), event(T0 + 16 * MINUTE + 1, { user: { name: 'carol' } }));
    feed.expire();
    expect(feed.correlator.stats().keys).toBe(1);
  });

  it('fires first on the arrival that completes the sequence within the timespan (property)', () => {
    const { rule, uid } = ordered('[login_failed, mfa_rejected, login_ok]');
    checkAgainstOracle(temporalOrdered, rule, uid, (a, b, c) => before(a, b) && before(b, c));
  });
});

describe('temporal', () => {
  it('fires when all listed rules match within the timespan, in any order', () => {
    const { rule, uid } = anyOrder();
    const feed = new Feed(temporal, rule);
    const ok = event(T0, alice);
    const mfa = event(T0 + MINUTE, alice);
    const failed = event(T0 + 2 * MINUTE, alice);
    expect(feed.hit(uid('login_ok'), ok)).toBeUndefined();
    expect(feed.hit(uid('mfa_rejected'), mfa)).toBeUndefined();
    const firing = feed.hit(uid('login_failed'), failed);
    expect(firing?.count).toBe(3);
    expect(firing?.eventIds).toEqual([ok.id, mfa.id, failed.id]);
    expect(firing?.context).toEqual({ rules: [uid('login_ok'), uid('mfa_rejected'), uid('login_failed')] });
    expect(firing?.first).toBe(T0);
    expect(firing?.last).toBe(T0 + 2 * MINUTE);
  });

  it('does not fire when one rule is missing or outside the timespan', () => {
    const { rule, uid } = anyOrder();
    const feed = new Feed(temporal, rule, { maxKeys: 10, allowedLatenessMs: 30 * MINUTE });
    const firings = feed.all([
      [uid('login_ok'), event(T0, alice)],
      [uid('mfa_rejected'), event(T0 + 9 * MINUTE, alice)],
      [uid('mfa_rejected'), event(T0 + 10 * MINUTE, alice)],
      [uid('login_failed'), event(T0 + 10 * MINUTE + SECOND, alice)],
    ]);
    expect(firings).toEqual([]);
  });

  it('fires on a late hit that falls inside the window', () => {
    const { rule, uid } = anyOrder();
    const feed = new Feed(temporal, rule, { maxKeys: 10, allowedLatenessMs: 5 * MINUTE });
    feed.hit(uid('login_ok'), event(T0 + 4 * MINUTE, alice));
    feed.hit(uid('mfa_rejected'), event(T0 + 12 * MINUTE, alice));
    const firing = feed.hit(uid('login_failed'), event(T0 + 8 * MINUTE, alice));
    expect(firing?.first).toBe(T0 + 4 * MINUTE);
    expect(firing?.last).toBe(T0 + 12 * MINUTE);
  });

  it('with a condition, fires on that many distinct rules', () => {
    const { rule, uid } = anyOrder('condition: {gte: 2}');
    const feed = new Feed(temporal, rule);
    expect(feed.hit(uid('login_failed'), event(T0, alice))).toBeUndefined();
    expect(feed.hit(uid('login_failed'), event(T0 + SECOND, alice))).toBeUndefined();
    const firing = feed.hit(uid('mfa_rejected'), event(T0 + 2 * SECOND, alice));
    expect(firing?.count).toBe(2);
    expect(firing?.context).toEqual({ rules: [uid('login_failed'), uid('mfa_rejected')] });
  });

  it('fires first on the arrival that completes the set within the timespan (property)', () => {
    const { rule, uid } = anyOrder();
    checkAgainstOracle(temporal, rule, uid, () => true);
  });
});

interface Seen {
  rule: number;
  at: number;
  i: number;
}

/** Ties in event time go by arrival. */
const before = (a: Seen, b: Seen) => a.at < b.at || (a.at === b.at && a.i < b.i);

/**
 * Feeds random hits of the three rules (login_failed, mfa_rejected, login_ok) for one user,
 * arriving out of order, and checks that the first firing comes exactly on the first arrival
 * after which a brute-force search finds one hit of each rule within the timespan that
 * `inOrder` accepts.
 */
function checkAgainstOracle(
  factory: CorrelatorFactory,
  rule: CorrelationRule,
  uid: (name: string) => string,
  inOrder: (a: Seen, b: Seen, c: Seen) => boolean,
): void {
  const names = ['login_failed', 'mfa_rejected', 'login_ok'];
  const span = rule.timespanMs;
  const lateness = 20 * MINUTE;
  const step = fc.record({ rule: fc.integer({ min: 0, max: 2 }), at: fc.integer({ min: 0, max: 30 * MINUTE }) });
  fc.assert(
    fc.property(fc.array(step, { maxLength: 14 }), (steps) => {
      const feed = new Feed(factory, rule, { maxKeys: 10, allowedLatenessMs: lateness });
      const seen: Seen[] = [];
      for (const [i, s] of steps.entries()) {
        const isLate = T0 + s.at < Math.max(feed.maxTime, T0 + s.at) - lateness;
        const firing = feed.hit(uid(names[s.rule]!), event(T0 + s.at, alice));
        if (!isLate) seen.push({ ...s, i });
        const of = (r: number) => seen.filter((x) => x.rule === r);
        const expected =
          !isLate &&
          of(0).some((a) =>
            of(1).some((b) =>
              of(2).some((c) => inOrder(a, b, c) && Math.max(a.at, b.at, c.at) - Math.min(a.at, b.at, c.at) <= span),
            ),
          );
        expect(firing !== undefined).toBe(expected);
        if (firing) return;
      }
    }),
    { numRuns: 500 },
  );
}
