import { describe, expect, it } from 'vitest';
import { impossibleTravel } from '../../../../src/engine/correlations/impossibleTravel.js';
import type { AuthEvent } from '../../../../src/events/authEvent.js';
import { DAY, detection, event, Feed, HOUR, loadCorrelation, MINUTE, T0 } from './correlationHarness.js';

const loginOk = detection('login_ok', 'login.success');

function travelRule(extra = '', groupBy = 'group-by: [user.name]') {
  return loadCorrelation([loginOk], `type: impossible_travel\nrules: [login_ok]\n${groupBy}\n${extra}`);
}

type Geo = NonNullable<AuthEvent['geo']>;
const london: Geo = { country: 'GB', city: 'London', lat: 51.5074, lon: -0.1278, accuracy_km: 20 };
const newYork: Geo = { country: 'US', city: 'New York', lat: 40.7128, lon: -74.006, accuracy_km: 20 };
const sydney: Geo = { country: 'AU', city: 'Sydney', lat: -33.8688, lon: 151.2093, accuracy_km: 20 };
const reading: Geo = { country: 'GB', city: 'Reading', lat: 51.4543, lon: -0.9781, accuracy_km: 50 };
const paris: Geo = { country: 'FR', city: 'Paris', lat: 48.8566, lon: 2.3522 };

const login = (time: number, geo: Geo | undefined, user = 'alice', ip = '192.0.2.1') =>
  event(time, { user: { name: user }, ip, ...(geo ? { geo } : {}) });

describe('impossible_travel', () => {
  it('does not fire for a real flight, London to New York in 8 hours', () => {
    const { rule, uid } = travelRule();
    const feed = new Feed(impossibleTravel, rule);
    expect(feed.hit(uid('login_ok'), login(T0, london))).toBeUndefined();
    expect(feed.hit(uid('login_ok'), login(T0 + 8 * HOUR, newYork))).toBeUndefined();
  });

  it('does not fire for a short hop within the accuracy radii', () => {
    const { rule, uid } = travelRule();
    const feed = new Feed(impossibleTravel, rule);
    feed.hit(uid('login_ok'), login(T0, london));
    // About 60 km apart a minute later, but the radii (20 + 50 km) cover most of it.
    expect(feed.hit(uid('login_ok'), login(T0 + MINUTE, reading))).toBeUndefined();
  });

  it('fires for London to Sydney in one hour, saying from where to where', () => {
    const { rule, uid } = travelRule();
    const feed = new Feed(impossibleTravel, rule);
    const a = login(T0, london, 'alice', '192.0.2.1');
    const b = login(T0 + HOUR, sydney, 'alice', '203.0.113.9');
    feed.hit(uid('login_ok'), a);
    const firing = feed.hit(uid('login_ok'), b)!;
    expect(firing).toMatchObject({
      groupKey: 'alice',
      group: { 'user.name': 'alice' },
      first: T0,
      last: T0 + HOUR,
      count: 2,
      eventIds: [a.id, b.id],
    });
    const ctx = firing.context as {
      from: Record<string, unknown>;
      to: Record<string, unknown>;
      km: number;
      min_km: number;
      kmh: number;
      hours: number;
    };
    expect(ctx.from).toEqual({ country: 'GB', city: 'London', lat: 51.5074, lon: -0.1278, ip: '192.0.2.1', time: T0 });
    expect(ctx.to).toEqual({
      country: 'AU',
      city: 'Sydney',
      lat: -33.8688,
      lon: 151.2093,
      ip: '203.0.113.9',
      time: T0 + HOUR,
    });
    expect(ctx.km).toBeGreaterThan(16_950);
    expect(ctx.km).toBeLessThan(17_050);
    expect(ctx.km).toBe(Math.round(ctx.km * 10) / 10);
    expect(ctx.min_km).toBeCloseTo(ctx.km - 40, 0);
    expect(ctx.kmh).toBe(Math.round(ctx.min_km));
    expect(ctx.hours).toBe(1);
  });

  it('reports the speed of simultaneous far-apart logins as null', () => {
    const { rule, uid } = travelRule();
    const feed = new Feed(impossibleTravel, rule);
    feed.hit(uid('login_ok'), login(T0, london));
    const firing = feed.hit(uid('login_ok'), login(T0, paris));
    expect(firing?.context).toMatchObject({ kmh: null, hours: 0 });
  });

  it('continues travel from where it fired', () => {
    const { rule, uid } = travelRule();
    const feed = new Feed(impossibleTravel, rule);
    feed.hit(uid('login_ok'), login(T0, london));
    expect(feed.hit(uid('login_ok'), login(T0 + HOUR, sydney))).toBeDefined();
    expect(feed.hit(uid('login_ok'), login(T0 + 2 * HOUR, sydney))).toBeUndefined();
    const back = feed.hit(uid('login_ok'), login(T0 + 3 * HOUR, paris));
    expect(back?.context).toMatchObject({ from: { city: 'Sydney' }, to: { city: 'Paris' } });
  });

  it('takes its thresholds from the rule', () => {
    const { rule, uid } = travelRule('max_speed_kmh: 500\nmin_distance_km: 400');
    const feed = new Feed(impossibleTravel, rule);
    feed.hit(uid('login_ok'), login(T0, london));
    // Paris is about 340 km away: under the minimum distance however fast.
    expect(feed.hit(uid('login_ok'), login(T0 + MINUTE, paris))).toBeUndefined();
    // New York 8 hours later is about 690 km/h, over this rule's 500.
    expect(feed.hit(uid('login_ok'), login(T0 + 8 * HOUR, newYork))).toBeDefined();
  });

  it('compares a late hit with the newer stored one the right way round', () => {
    const { rule, uid } = travelRule();
    const feed = new Feed(impossibleTravel, rule, { maxKeys: 10, allowedLatenessMs: 2 * HOUR });
    const later = login(T0 + HOUR, sydney);
    const earlier = login(T0, london);
    feed.hit(uid('login_ok'), later);
    const firing = feed.hit(uid('login_ok'), earlier);
    expect(firing?.eventIds).toEqual([earlier.id, later.id]);
    expect(firing?.context).toMatchObject({ from: { city: 'London' }, to: { city: 'Sydney' } });
    // Sydney stays the newest place: a login there a little later is no travel at all.
    expect(feed.hit(uid('login_ok'), login(T0 + 2 * HOUR, sydney))).toBeUndefined();
  });

  it('counts hits older than the allowed lateness; hits without a location are neither compared nor late', () => {
    const { rule, uid } = travelRule();
    const feed = new Feed(impossibleTravel, rule);
    feed.hit(uid('login_ok'), login(T0 + HOUR, sydney));
    expect(feed.hit(uid('login_ok'), login(T0, london))).toBeUndefined();
    expect(feed.hit(uid('login_ok'), login(T0, undefined))).toBeUndefined();
    expect(feed.hit(uid('login_ok'), login(T0 + HOUR, { country: 'GB' }))).toBeUndefined();
    expect(feed.correlator.stats().late).toBe(1);
  });

  it('groups by the user when the rule has no group-by', () => {
    const { rule, uid } = travelRule('', '');
    const feed = new Feed(impossibleTravel, rule);
    feed.hit(uid('login_ok'), event(T0, { user: { id: 'auth0|1', name: 'alice' }, geo: london }));
    expect(feed.hit(uid('login_ok'), event(T0 + HOUR, { user: { id: 'auth0|2' }, geo: sydney }))).toBeUndefined();
    const firing = feed.hit(uid('login_ok'), event(T0 + HOUR, { user: { id: 'auth0|1' }, geo: sydney }));
    expect(firing?.group).toEqual({ 'user.id': 'auth0|1' });
    expect(feed.hit(uid('login_ok'), event(T0, { geo: london }))).toBeUndefined();
  });

  it('continues after a snapshot and restore', () => {
    const { rule, uid } = travelRule();
    const feed = new Feed(impossibleTravel, rule);
    feed.hit(uid('login_ok'), login(T0, london));
    const snap = feed.correlator.snapshot();
    const restarted = feed.restarted(impossibleTravel);
    expect(restarted.correlator.snapshot()).toEqual(snap);
    expect(restarted.hit(uid('login_ok'), login(T0 + HOUR, sydney))).toBeDefined();
  });

  it('evicts the stalest user beyond the key limit, and counts it', () => {
    const { rule, uid } = travelRule();
    const feed = new Feed(impossibleTravel, rule, { maxKeys: 2, allowedLatenessMs: MINUTE });
    feed.hit(uid('login_ok'), login(T0, london, 'alice'));
    feed.hit(uid('login_ok'), login(T0, london, 'bob'));
    feed.hit(uid('login_ok'), login(T0, london, 'carol'));
    expect(feed.correlator.stats()).toEqual({ keys: 2, evictions: 1, late: 0 });
    expect(feed.hit(uid('login_ok'), login(T0 + HOUR, sydney, 'bob'))).toBeDefined();
  });

  it('frees a location once no speed from it could exceed the limit', () => {
    const { rule, uid } = travelRule();
    const feed = new Feed(impossibleTravel, rule);
    feed.hit(uid('login_ok'), login(T0, london, 'alice'));
    feed.hit(uid('login_ok'), login(T0 + 19 * HOUR, london, 'bob'));
    feed.expire();
    expect(feed.correlator.stats().keys).toBe(2);
    // Half the earth's circumference at 1000 km/h takes about 20 hours.
    feed.hit(uid('login_ok'), login(T0 + 21 * HOUR, london, 'bob'));
    feed.expire();
    expect(feed.correlator.stats().keys).toBe(1);
    expect(feed.hit(uid('login_ok'), login(T0 + DAY, sydney, 'alice'))).toBeUndefined();
  });
});
