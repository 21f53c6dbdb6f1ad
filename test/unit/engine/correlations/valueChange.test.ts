import { describe, expect, it } from 'vitest';
import { valueChange } from '../../../../src/engine/correlations/valueChange.js';
import { detection, event, Feed, HOUR, loadCorrelation, MINUTE, SECOND, T0 } from './correlationHarness.js';

const tokenRefresh = detection('token_refresh', 'token.refresh.success');

function asnChange(extra = '') {
  return loadCorrelation(
    [tokenRefresh],
    `type: value_change\nrules: [token_refresh]\ngroup-by: [session_id]\nfield: asn\n${extra}`,
  );
}

const refresh = (time: number, asn: number | undefined, ip: string, session = 's1') =>
  event(time, { type: 'token.refresh.success', session_id: session, ip, ...(asn === undefined ? {} : { asn }) });

describe('value_change', () => {
  it('fires when the ASN of a session changes, from → to', () => {
    const { rule, uid } = asnChange();
    const feed = new Feed(valueChange, rule);
    const home = refresh(T0, 2856, '81.2.69.1');
    const away = refresh(T0 + MINUTE, 14061, '159.89.1.1');
    expect(feed.hit(uid('token_refresh'), home)).toBeUndefined();
    expect(feed.hit(uid('token_refresh'), away)).toEqual({
      groupKey: 's1',
      group: { session_id: 's1' },
      first: T0,
      last: T0 + MINUTE,
      count: 2,
      eventIds: [home.id, away.id],
      context: { field: 'asn', from: 2856, to: 14061, from_time: T0, to_time: T0 + MINUTE },
    });
    // The new ASN is the one to compare with now.
    expect(feed.hit(uid('token_refresh'), refresh(T0 + 2 * MINUTE, 14061, '159.89.1.2'))).toBeUndefined();
  });

  it('does not fire for a phone carrier that changes the IP but not the ASN', () => {
    const { rule, uid } = asnChange();
    const feed = new Feed(valueChange, rule);
    const firings = feed.all([
      [uid('token_refresh'), refresh(T0, 25135, '92.40.1.1')],
      [uid('token_refresh'), refresh(T0 + 5 * MINUTE, 25135, '92.40.200.7')],
      [uid('token_refresh'), refresh(T0 + 10 * MINUTE, 25135, '92.41.3.3')],
    ]);
    expect(firings).toEqual([]);
  });

  it('ignores hits without a value and keeps sessions apart', () => {
    const { rule, uid } = asnChange();
    const feed = new Feed(valueChange, rule);
    const firings = feed.all([
      [uid('token_refresh'), refresh(T0, 2856, '81.2.69.1', 's1')],
      [uid('token_refresh'), refresh(T0 + SECOND, undefined, '10.0.0.1', 's1')],
      [uid('token_refresh'), refresh(T0 + 2 * SECOND, 14061, '159.89.1.1', 's2')],
      [uid('token_refresh'), refresh(T0 + 3 * SECOND, 2856, '81.2.69.1', 's1')],
    ]);
    expect(firings).toEqual([]);
    expect(feed.correlator.stats().keys).toBe(2);
  });

  it('reports a late hit that changes the value in event-time order', () => {
    const { rule, uid } = asnChange();
    const feed = new Feed(valueChange, rule);
    const first = refresh(T0, 2856, '81.2.69.1');
    const latest = refresh(T0 + 40 * SECOND, 2856, '81.2.69.1');
    const between = refresh(T0 + 20 * SECOND, 14061, '159.89.1.1');
    feed.hit(uid('token_refresh'), first);
    feed.hit(uid('token_refresh'), latest);
    const firing = feed.hit(uid('token_refresh'), between);
    expect(firing?.context).toEqual({ field: 'asn', from: 2856, to: 14061, from_time: T0, to_time: T0 + 20 * SECOND });
    // The newest value stays current.
    expect(feed.hit(uid('token_refresh'), refresh(T0 + 50 * SECOND, 2856, '81.2.69.1'))).toBeUndefined();
  });

  it('reports a late first hit as the value the session changed from', () => {
    const { rule, uid } = asnChange();
    const feed = new Feed(valueChange, rule);
    const newer = refresh(T0 + 30 * SECOND, 14061, '159.89.1.1');
    const older = refresh(T0, 2856, '81.2.69.1');
    feed.hit(uid('token_refresh'), newer);
    const firing = feed.hit(uid('token_refresh'), older);
    expect(firing?.eventIds).toEqual([older.id, newer.id]);
    expect(firing?.context).toMatchObject({ from: 2856, to: 14061 });
  });

  it('does not report a change twice when a late hit only moves it earlier', () => {
    const { rule, uid } = asnChange();
    const feed = new Feed(valueChange, rule);
    feed.hit(uid('token_refresh'), refresh(T0, 2856, '81.2.69.1'));
    expect(feed.hit(uid('token_refresh'), refresh(T0 + 40 * SECOND, 14061, '159.89.1.1'))).toBeDefined();
    expect(feed.hit(uid('token_refresh'), refresh(T0 + 20 * SECOND, 14061, '159.89.1.1'))).toBeUndefined();
    // A late hit between them with the old value is a real change back, and is reported as one.
    expect(feed.hit(uid('token_refresh'), refresh(T0 + 30 * SECOND, 2856, '81.2.69.1'))?.context).toMatchObject({
      from: 14061,
      to: 2856,
    });
  });

  it('counts hits older than the allowed lateness and ignores them', () => {
    const { rule, uid } = asnChange();
    const feed = new Feed(valueChange, rule);
    feed.hit(uid('token_refresh'), refresh(T0 + 5 * MINUTE, 2856, '81.2.69.1'));
    expect(feed.hit(uid('token_refresh'), refresh(T0, 14061, '159.89.1.1'))).toBeUndefined();
    expect(feed.correlator.stats().late).toBe(1);
  });

  it('forgets a value after the timespan', () => {
    const { rule, uid } = asnChange('timespan: 1h');
    const feed = new Feed(valueChange, rule);
    feed.hit(uid('token_refresh'), refresh(T0, 2856, '81.2.69.1'));
    expect(feed.hit(uid('token_refresh'), refresh(T0 + 2 * HOUR, 14061, '159.89.1.1'))).toBeUndefined();
    expect(feed.hit(uid('token_refresh'), refresh(T0 + 2.5 * HOUR, 2856, '81.2.69.1'))).toBeDefined();
  });

  it('without a timespan, remembers a value for 24 hours of inactivity', () => {
    const { rule, uid } = asnChange();
    const feed = new Feed(valueChange, rule);
    feed.hit(uid('token_refresh'), refresh(T0, 2856, '81.2.69.1', 's1'));
    feed.hit(uid('token_refresh'), refresh(T0, 2856, '81.2.69.1', 's2'));
    expect(feed.hit(uid('token_refresh'), refresh(T0 + 23 * HOUR, 14061, '159.89.1.1', 's1'))).toBeDefined();
    feed.expire();
    expect(feed.correlator.stats().keys).toBe(2);
    expect(feed.hit(uid('token_refresh'), refresh(T0 + 25 * HOUR, 14061, '159.89.1.1', 's2'))).toBeUndefined();
    feed.expire();
    expect(feed.correlator.stats().keys).toBe(2);
    feed.hit(uid('token_refresh'), refresh(T0 + 48 * HOUR, 14061, '159.89.1.1', 's2'));
    feed.expire();
    expect(feed.correlator.stats().keys).toBe(1);
  });

  it('continues after a snapshot and restore', () => {
    const { rule, uid } = asnChange();
    const feed = new Feed(valueChange, rule);
    feed.hit(uid('token_refresh'), refresh(T0, 2856, '81.2.69.1'));
    const snap = feed.correlator.snapshot();
    const restarted = feed.restarted(valueChange);
    expect(restarted.correlator.snapshot()).toEqual(snap);
    expect(restarted.hit(uid('token_refresh'), refresh(T0 + MINUTE, 14061, '159.89.1.1'))?.context).toMatchObject({
      from: 2856,
      to: 14061,
    });
  });

  it('evicts the stalest session beyond the key limit, and counts it', () => {
    const { rule, uid } = asnChange();
    const feed = new Feed(valueChange, rule, { maxKeys: 2, allowedLatenessMs: MINUTE });
    feed.hit(uid('token_refresh'), refresh(T0, 2856, '81.2.69.1', 's1'));
    feed.hit(uid('token_refresh'), refresh(T0, 2856, '81.2.69.1', 's2'));
    feed.hit(uid('token_refresh'), refresh(T0, 2856, '81.2.69.1', 's3'));
    expect(feed.correlator.stats()).toEqual({ keys: 2, evictions: 1, late: 0 });
    expect(feed.hit(uid('token_refresh'), refresh(T0 + SECOND, 14061, '159.89.1.1', 's2'))).toBeDefined();
  });
});
