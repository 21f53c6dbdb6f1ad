import { describe, expect, it } from 'vitest';
import { dormantAccount } from '../../../../src/engine/correlations/dormantAccount.js';
import { DAY, detection, event, Feed, HOUR, loadCorrelation, MINUTE, T0 } from './correlationHarness.js';

const loginOk = detection('login_ok', 'login.success');

function dormant(extra = '') {
  return loadCorrelation([loginOk], `type: dormant_account\nrules: [login_ok]\ngap: 90d\n${extra}`);
}

const login = (time: number, user = 'u1') => event(time, { user: { id: user, name: `${user}@example.com` } });

describe('dormant_account', () => {
  it('fires when an account is seen again after more than the gap', () => {
    const { rule, uid } = dormant();
    const feed = new Feed(dormantAccount, rule);
    const before = login(T0);
    const again = login(T0 + 91 * DAY);
    expect(feed.hit(uid('login_ok'), before)).toBeUndefined();
    expect(feed.hit(uid('login_ok'), again)).toEqual({
      groupKey: 'u1',
      group: { 'user.id': 'u1' },
      first: T0,
      last: T0 + 91 * DAY,
      count: 2,
      eventIds: [before.id, again.id],
      context: { gap_days: 91, last_seen: T0, seen_again: T0 + 91 * DAY },
    });
    expect(feed.hit(uid('login_ok'), login(T0 + 92 * DAY))).toBeUndefined();
  });

  it('does not fire after a gap shorter than the rule’s', () => {
    const { rule, uid } = dormant();
    const feed = new Feed(dormantAccount, rule);
    feed.hit(uid('login_ok'), login(T0));
    expect(feed.hit(uid('login_ok'), login(T0 + 30 * DAY))).toBeUndefined();
    // Measured from the latest sighting, not the first.
    expect(feed.hit(uid('login_ok'), login(T0 + 100 * DAY))).toBeUndefined();
  });

  it('never fires on the first sighting of an account', () => {
    const { rule, uid } = dormant();
    const feed = new Feed(dormantAccount, rule);
    expect(feed.hit(uid('login_ok'), login(T0 + 365 * DAY))).toBeUndefined();
  });

  it('reports the gap in days to one decimal, and groups by the rule’s group-by when given', () => {
    const { rule, uid } = dormant('group-by: [user.name]');
    const feed = new Feed(dormantAccount, rule);
    feed.hit(uid('login_ok'), login(T0));
    const firing = feed.hit(uid('login_ok'), login(T0 + 90 * DAY + 6 * HOUR));
    expect(firing?.group).toEqual({ 'user.name': 'u1@example.com' });
    expect(firing?.context).toMatchObject({ gap_days: 90.3 });
  });

  it('keeps an account through expiry sweeps for as long as it is dormant', () => {
    const { rule, uid } = dormant();
    const feed = new Feed(dormantAccount, rule);
    feed.hit(uid('login_ok'), login(T0, 'u1'));
    feed.hit(uid('login_ok'), login(T0 + 200 * DAY, 'u2'));
    feed.expire();
    expect(feed.correlator.stats().keys).toBe(2);
    expect(feed.hit(uid('login_ok'), login(T0 + 200 * DAY, 'u1'))?.context).toMatchObject({ gap_days: 200 });
  });

  it('forgets accounts idle longer than the timespan when one is given', () => {
    const { rule, uid } = dormant('timespan: 365d');
    const feed = new Feed(dormantAccount, rule);
    feed.hit(uid('login_ok'), login(T0, 'u1'));
    feed.hit(uid('login_ok'), login(T0, 'u2'));
    feed.hit(uid('login_ok'), login(T0 + 366 * DAY, 'u3'));
    expect(feed.hit(uid('login_ok'), login(T0 + 366 * DAY, 'u1'))).toBeUndefined();
    feed.expire();
    expect(feed.correlator.stats().keys).toBe(2);
  });

  it('ignores a late hit older than the latest, and counts hits beyond the allowed lateness', () => {
    const { rule, uid } = dormant();
    const feed = new Feed(dormantAccount, rule);
    feed.hit(uid('login_ok'), login(T0));
    feed.hit(uid('login_ok'), login(T0 + 91 * DAY));
    expect(feed.hit(uid('login_ok'), login(T0 + 91 * DAY - 30 * 1000))).toBeUndefined();
    expect(feed.hit(uid('login_ok'), login(T0 + 50 * DAY))).toBeUndefined();
    expect(feed.correlator.stats().late).toBe(1);
  });

  it('continues after a snapshot and restore', () => {
    const { rule, uid } = dormant();
    const feed = new Feed(dormantAccount, rule);
    feed.hit(uid('login_ok'), login(T0));
    const snap = feed.correlator.snapshot();
    const restarted = feed.restarted(dormantAccount);
    expect(restarted.correlator.snapshot()).toEqual(snap);
    expect(restarted.hit(uid('login_ok'), login(T0 + 91 * DAY))).toBeDefined();
  });

  it('keeps the longest idle accounts whatever the key limit and the heap budget', () => {
    const { rule, uid } = dormant();
    const feed = new Feed(dormantAccount, rule, { maxKeys: 2, allowedLatenessMs: MINUTE });
    feed.hit(uid('login_ok'), login(T0, 'u1'));
    feed.hit(uid('login_ok'), login(T0 + DAY, 'u2'));
    feed.hit(uid('login_ok'), login(T0 + 2 * DAY, 'u3'));
    expect(feed.correlator.shed(0.5)).toBe(0);
    expect(feed.correlator.stats()).toMatchObject({ keys: 3, evictions: 0, late: 0 });
    expect(feed.hit(uid('login_ok'), login(T0 + 100 * DAY, 'u1'))).toBeDefined();
  });

  it('beyond its byte bound forgets the stalest quarter of the accounts, and counts them', () => {
    const { rule, uid } = dormant();
    const bound = 128 * 1024;
    const feed = new Feed(dormantAccount, rule, { maxKeys: 10, allowedLatenessMs: MINUTE, compactBytes: bound });
    const users = 5000;
    for (let i = 0; i < users; i++) feed.hit(uid('login_ok'), login(T0 + i * MINUTE, `auth0|user-${i}`));
    const stats = feed.correlator.stats();
    expect(stats.bytes).toBeLessThanOrEqual(bound);
    expect(stats.evictions).toBeGreaterThan(0);
    expect(stats.keys + stats.evictions).toBe(users);
    // The newest are kept, the oldest forgotten (a first sighting again: nothing to measure from).
    expect(feed.hit(uid('login_ok'), login(T0 + 200 * DAY, `auth0|user-${users - 1}`))).toBeDefined();
    expect(feed.hit(uid('login_ok'), login(T0 + 200 * DAY, 'auth0|user-0'))).toBeUndefined();
  });

  it('takes back the state an earlier version kept on the heap', () => {
    const { rule, uid } = dormant();
    const feed = new Feed(dormantAccount, rule);
    feed.correlator.restore({
      late: 2,
      groups: {
        evictions: 1,
        entries: [
          ['u1', { t: T0, id: 'evt-old' }],
          ['u2', { t: T0 + DAY, id: 'evt-2' }, 1],
        ],
      },
    });
    expect(feed.correlator.stats()).toMatchObject({ keys: 2, evictions: 1, late: 2 });
    expect(feed.hit(uid('login_ok'), login(T0 + 100 * DAY, 'u1'))?.eventIds[0]).toBe('evt-old');
  });
});
