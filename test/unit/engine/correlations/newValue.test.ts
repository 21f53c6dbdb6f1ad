import { describe, expect, it } from 'vitest';
import { newValue } from '../../../../src/engine/correlations/newValue.js';
import type { NetworkKind } from '../../../../src/events/authEvent.js';
import { DAY, detection, event, Feed, HOUR, loadCorrelation, MINUTE, T0 } from './correlationHarness.js';

const loginOk = detection('login_ok', 'login.success');

function newCountry(extra = 'learning_period: 7d\ntimespan: 90d') {
  return loadCorrelation(
    [loginOk],
    `type: new_value\nrules: [login_ok]\ngroup-by: [user.id]\nfield: geo.country\n${extra}`,
  );
}

const login = (time: number, country: string | undefined, user = 'u1') =>
  event(time, { user: { id: user }, ...(country ? { geo: { country } } : {}) });

describe('new_value', () => {
  it('fires for a new country after learning, listing the known ones', () => {
    const { rule, uid } = newCountry();
    const feed = new Feed(newValue, rule);
    const firings = feed.all([
      [uid('login_ok'), login(T0, 'GB')],
      [uid('login_ok'), login(T0 + DAY, 'FR')],
      [uid('login_ok'), login(T0 + 8 * DAY, 'GB')],
    ]);
    expect(firings).toEqual([]);
    const us = login(T0 + 9 * DAY, 'US');
    expect(feed.hit(uid('login_ok'), us)).toEqual({
      groupKey: 'u1',
      group: { 'user.id': 'u1' },
      first: us.time,
      last: us.time,
      count: 1,
      eventIds: [us.id],
      context: { field: 'geo.country', value: 'US', known: ['GB', 'FR'] },
    });
    expect(feed.hit(uid('login_ok'), login(T0 + 10 * DAY, 'US'))).toBeUndefined();
  });

  it('does not fire for a new country during learning', () => {
    const { rule, uid } = newCountry();
    const feed = new Feed(newValue, rule);
    feed.hit(uid('login_ok'), login(T0, 'GB'));
    expect(feed.hit(uid('login_ok'), login(T0 + 6 * DAY, 'US'))).toBeUndefined();
    expect(feed.hit(uid('login_ok'), login(T0 + 8 * DAY, 'US'))).toBeUndefined();
  });

  it('with alert_on, learns every value but alerts only on the listed ones', () => {
    const { rule, uid } = loadCorrelation(
      [loginOk],
      'type: new_value\nrules: [login_ok]\ngroup-by: [user.id]\nfield: network.kind\ntimespan: 90d\nlearning_period: 1d\nalert_on: [hosting, tor]',
    );
    const feed = new Feed(newValue, rule);
    const from = (time: number, kind: NetworkKind) => event(time, { user: { id: 'u1' }, network: { kind } });
    expect(feed.hit(uid('login_ok'), from(T0, 'other'))).toBeUndefined();
    // New, but not listed: learned silently.
    expect(feed.hit(uid('login_ok'), from(T0 + 2 * DAY, 'proxy'))).toBeUndefined();
    expect(feed.hit(uid('login_ok'), from(T0 + 3 * DAY, 'hosting'))?.context).toEqual({
      field: 'network.kind',
      value: 'hosting',
      known: ['proxy', 'other'],
    });
    expect(feed.hit(uid('login_ok'), from(T0 + 4 * DAY, 'hosting'))).toBeUndefined();
    expect(feed.hit(uid('login_ok'), from(T0 + 5 * DAY, 'tor'))?.context).toMatchObject({ value: 'tor' });
  });

  it('without a learning period, learns only from the first hit', () => {
    const { rule, uid } = newCountry('timespan: 30d');
    const feed = new Feed(newValue, rule);
    expect(feed.hit(uid('login_ok'), login(T0, 'GB'))).toBeUndefined();
    expect(feed.hit(uid('login_ok'), login(T0 + HOUR, 'FR'))?.context).toEqual({
      field: 'geo.country',
      value: 'FR',
      known: ['GB'],
    });
  });

  it('keeps groups apart and ignores hits without the field', () => {
    const { rule, uid } = newCountry();
    const feed = new Feed(newValue, rule);
    feed.hit(uid('login_ok'), login(T0, 'GB', 'u1'));
    feed.hit(uid('login_ok'), login(T0 + 8 * DAY, undefined, 'u1'));
    expect(feed.hit(uid('login_ok'), login(T0 + 8 * DAY, 'US', 'u2'))).toBeUndefined();
    expect(feed.hit(uid('login_ok'), login(T0 + 8 * DAY, 'US', 'u1'))).toBeDefined();
  });

  it('treats a value unseen for longer than the timespan as new again', () => {
    const { rule, uid } = newCountry();
    const feed = new Feed(newValue, rule);
    feed.hit(uid('login_ok'), login(T0, 'GB'));
    feed.hit(uid('login_ok'), login(T0 + 8 * DAY, 'FR'));
    feed.hit(uid('login_ok'), login(T0 + 80 * DAY, 'FR'));
    const firing = feed.hit(uid('login_ok'), login(T0 + 100 * DAY, 'GB'));
    expect(firing?.context).toEqual({ field: 'geo.country', value: 'GB', known: ['FR'] });
  });

  it('starts learning afresh for a group idle longer than the timespan', () => {
    const { rule, uid } = newCountry();
    const feed = new Feed(newValue, rule);
    feed.hit(uid('login_ok'), login(T0, 'GB'));
    expect(feed.hit(uid('login_ok'), login(T0 + 100 * DAY, 'US'))).toBeUndefined();
    expect(feed.hit(uid('login_ok'), login(T0 + 101 * DAY, 'FR'))).toBeUndefined();
    expect(feed.hit(uid('login_ok'), login(T0 + 108 * DAY, 'DE'))).toBeDefined();
  });

  it('remembers at most 64 values per group, forgetting the least recently seen', () => {
    const { rule, uid } = newCountry('timespan: 365d');
    const feed = new Feed(newValue, rule);
    for (let i = 0; i < 65; i++) feed.hit(uid('login_ok'), login(T0 + i * MINUTE, `C${i}`));
    expect(feed.hit(uid('login_ok'), login(T0 + DAY, 'C0'))?.context).toMatchObject({ value: 'C0' });
    expect(feed.hit(uid('login_ok'), login(T0 + DAY, 'C2'))).toBeUndefined();
    const known = (feed.hit(uid('login_ok'), login(T0 + DAY, 'new'))?.context as { known: string[] }).known;
    expect(known).toHaveLength(10);
    expect(known.slice(0, 2)).toEqual(['C2', 'C0']);
  });

  it('watches the fields listed together: the values present, joined', () => {
    const { rule, uid } = loadCorrelation(
      [loginOk],
      'type: new_value\nrules: [login_ok]\ngroup-by: [user.id]\nfield: [user_agent, ja4]\nlearning_period: 1d\ntimespan: 90d',
    );
    const feed = new Feed(newValue, rule);
    const seen = (time: number, fields: Record<string, string>) => event(time, { user: { id: 'u1' }, ...fields });
    feed.hit(uid('login_ok'), seen(T0, { user_agent: 'Safari', ja4: 't13_a' }));
    // The same pair is known; another JA4 with the same agent is new, and so is the agent alone.
    expect(feed.hit(uid('login_ok'), seen(T0 + 2 * DAY, { user_agent: 'Safari', ja4: 't13_a' }))).toBeUndefined();
    expect(feed.hit(uid('login_ok'), seen(T0 + 2 * DAY, { user_agent: 'Safari', ja4: 't13_b' }))?.context).toEqual({
      field: 'user_agent, ja4',
      value: 'Safari | t13_b',
      known: ['Safari | t13_a'],
    });
    expect(feed.hit(uid('login_ok'), seen(T0 + 2 * DAY, { user_agent: 'Safari' }))?.context).toMatchObject({
      value: 'Safari',
    });
    // Neither field: the hit is not counted.
    expect(feed.hit(uid('login_ok'), seen(T0 + 2 * DAY, {}))).toBeUndefined();
    expect(feed.correlator.stats().keys).toBe(1);
  });

  it('counts hits older than the allowed lateness and ignores them', () => {
    const { rule, uid } = newCountry('timespan: 30d');
    const feed = new Feed(newValue, rule);
    feed.hit(uid('login_ok'), login(T0 + HOUR, 'GB'));
    expect(feed.hit(uid('login_ok'), login(T0, 'US'))).toBeUndefined();
    expect(feed.correlator.stats().late).toBe(1);
  });

  it('continues after a snapshot and restore', () => {
    const { rule, uid } = newCountry();
    const feed = new Feed(newValue, rule);
    feed.hit(uid('login_ok'), login(T0, 'GB'));
    feed.hit(uid('login_ok'), login(T0 + DAY, 'FR'));
    const snap = feed.correlator.snapshot();
    const restarted = feed.restarted(newValue);
    expect(restarted.correlator.snapshot()).toEqual(snap);
    expect(restarted.hit(uid('login_ok'), login(T0 + 8 * DAY, 'FR'))).toBeUndefined();
    expect(restarted.hit(uid('login_ok'), login(T0 + 8 * DAY, 'US'))?.context).toMatchObject({ known: ['FR', 'GB'] });
  });

  it('keeps its baselines outside the heap: the key limit and heap budget leave them alone', () => {
    const { rule, uid } = newCountry('timespan: 30d');
    const feed = new Feed(newValue, rule, { maxKeys: 2, allowedLatenessMs: MINUTE });
    feed.hit(uid('login_ok'), login(T0, 'GB', 'u1'));
    feed.hit(uid('login_ok'), login(T0, 'GB', 'u2'));
    feed.hit(uid('login_ok'), login(T0, 'GB', 'u3'));
    expect(feed.correlator.shed(0.5)).toBe(0);
    expect(feed.correlator.stats()).toMatchObject({ keys: 3, evictions: 0, late: 0 });
    expect(feed.hit(uid('login_ok'), login(T0 + 8 * DAY, 'US', 'u1'))).toBeDefined();
    expect(feed.hit(uid('login_ok'), login(T0 + 8 * DAY, 'GB', 'u2'))).toBeUndefined();
  });

  it('beyond its byte bound forgets the stalest quarter of the groups, and counts them', () => {
    const { rule, uid } = newCountry('timespan: 90d');
    const bound = 128 * 1024;
    const feed = new Feed(newValue, rule, { maxKeys: 10, allowedLatenessMs: MINUTE, compactBytes: bound });
    for (let i = 0; i < 4000; i++) feed.hit(uid('login_ok'), login(T0 + i * MINUTE, 'GB', `auth0|user-${i}`));
    const stats = feed.correlator.stats();
    expect(stats.bytes).toBeLessThanOrEqual(bound);
    expect(stats.evictions).toBeGreaterThan(0);
    expect(stats.keys + stats.evictions).toBe(4000);
    expect(feed.hit(uid('login_ok'), login(T0 + 10 * DAY, 'US', 'auth0|user-3999'))).toBeDefined();
    // Forgotten: its first hit again, inside a new learning period.
    expect(feed.hit(uid('login_ok'), login(T0 + 10 * DAY, 'US', 'auth0|user-0'))).toBeUndefined();
  });

  it('takes back the baselines an earlier version kept on the heap', () => {
    const { rule, uid } = newCountry('timespan: 90d');
    const feed = new Feed(newValue, rule);
    feed.correlator.restore({
      late: 0,
      groups: {
        evictions: 0,
        entries: [
          [
            'u1',
            {
              start: T0,
              last: T0 + DAY,
              values: [
                ['GB', T0],
                ['FR', T0 + DAY],
              ],
            },
          ],
        ],
      },
    });
    expect(feed.hit(uid('login_ok'), login(T0 + 9 * DAY, 'FR', 'u1'))).toBeUndefined();
    expect(feed.hit(uid('login_ok'), login(T0 + 9 * DAY, 'US', 'u1'))?.context).toMatchObject({ known: ['FR', 'GB'] });
  });

  it('frees groups idle longer than the timespan and values unseen for as long', () => {
    const { rule, uid } = newCountry('timespan: 30d');
    const feed = new Feed(newValue, rule);
    feed.hit(uid('login_ok'), login(T0, 'GB', 'u1'));
    feed.hit(uid('login_ok'), login(T0, 'GB', 'u2'));
    feed.hit(uid('login_ok'), login(T0 + 20 * DAY, 'FR', 'u2'));
    feed.hit(uid('login_ok'), login(T0 + 31 * DAY, 'FR', 'u3'));
    feed.expire();
    expect(feed.correlator.stats().keys).toBe(2);
    // u2's GB is forgotten, so it is new again.
    expect(feed.hit(uid('login_ok'), login(T0 + 31 * DAY, 'GB', 'u2'))?.context).toMatchObject({ known: ['FR'] });
  });
});
