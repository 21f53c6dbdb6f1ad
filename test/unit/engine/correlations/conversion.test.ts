import { describe, expect, it } from 'vitest';
import type { Action, Alert } from '../../../../src/engine/alert.js';
import { conversion } from '../../../../src/engine/correlations/conversion.js';
import { Engine } from '../../../../src/engine/engine.js';
import type { AuthEvent } from '../../../../src/events/authEvent.js';
import { loadRulesWithValues } from '../../../../src/rules/overrides.js';
import { DAY, detection, event, Feed, HOUR, loadCorrelation, MINUTE, SECOND, T0 } from './correlationHarness.js';

const sent = detection('sent', 'mfa.sms.sent');
const verified = detection('verified', 'mfa.success');

function sms(extra = '') {
  return loadCorrelation(
    [sent, verified],
    `type: conversion\nrules: [sent, verified]\ngroup-by: [client.id, phone.country]\nfield: user.id\ntimespan: 1h\n${extra}`,
  );
}

const send = (time: number, user: string, country: string, app = 'app-web') =>
  event(time, { type: 'mfa.sms.sent', client: { id: app }, user: { id: user }, phone: { country } });
const verify = (time: number, user: string) => event(time, { type: 'mfa.success', user: { id: user } });

describe('conversion', () => {
  it('fires for a destination with no verification once enough users went unverified', () => {
    const { rule, uid } = sms();
    const feed = new Feed(conversion, rule);
    for (let i = 0; i < 3; i++) expect(feed.hit(uid('sent'), send(T0 + i * SECOND, `bot${i}`, 'UZ'))).toBeUndefined();
    // Undecided until the completion window (15 minutes by default) has passed.
    expect(feed.hit(uid('sent'), send(T0 + 10 * MINUTE, 'bot3', 'UZ'))).toBeUndefined();
    const trigger = send(T0 + 16 * MINUTE, 'bot4', 'UZ');
    const f = feed.hit(uid('sent'), trigger);
    expect(f).toMatchObject({
      groupKey: 'app-web\u0000UZ',
      group: { 'client.id': 'app-web', 'phone.country': 'UZ' },
      count: 3,
      context: { reason: 'new_destination', attempts: 3, completed: 0, conversion_rate: 0 },
    });
    // Judged once: the same attempts do not fire again.
    expect(feed.hit(uid('sent'), send(T0 + 17 * MINUTE, 'bot5', 'UZ'))).toBeUndefined();
  });

  it('learns a destination from one verified code, and then needs volume and a low rate', () => {
    const { rule, uid } = sms('min_attempts: 10\nmax_rate: 0.5');
    const feed = new Feed(conversion, rule);
    feed.hit(uid('sent'), send(T0, 'aziz', 'UZ'));
    feed.hit(uid('verified'), verify(T0 + 40 * SECOND, 'aziz'));
    // Known now: three unverified users are not enough.
    for (let i = 0; i < 3; i++) feed.hit(uid('sent'), send(T0 + MINUTE + i * SECOND, `u${i}`, 'UZ'));
    expect(feed.hit(uid('sent'), send(T0 + 20 * MINUTE, 'u9', 'UZ'))).toBeUndefined();
    // Ten more unverified in the hour: 1 of 14 verified is below half.
    for (let i = 0; i < 10; i++) feed.hit(uid('sent'), send(T0 + 21 * MINUTE + i * SECOND, `p${i}`, 'UZ'));
    const f = feed.hit(uid('sent'), send(T0 + 40 * MINUTE, 'p99', 'UZ'));
    expect(f?.context).toMatchObject({ reason: 'low_conversion', completed: 1 });
    expect((f?.context as { attempts: number }).attempts).toBeGreaterThanOrEqual(10);
  });

  it('joins a verification only to the same user within the window, and counts resends with it', () => {
    const { rule, uid } = sms();
    const feed = new Feed(conversion, rule);
    feed.hit(uid('sent'), send(T0, 'a', 'KE'));
    feed.hit(uid('sent'), send(T0 + 30 * SECOND, 'a', 'KE')); // a resend
    feed.hit(uid('verified'), verify(T0 + MINUTE, 'b')); // another user: completes nothing
    feed.hit(uid('verified'), verify(T0 + 2 * MINUTE, 'a'));
    feed.hit(uid('sent'), send(T0 + 3 * MINUTE, 'c', 'KE'));
    let snap = feed.correlator.snapshot() as {
      groups: { entries: [string, { decided: { ok: boolean }[]; pending: unknown[] }][] };
    };
    expect(snap.groups.entries[0]![1].decided.map((a) => a.ok)).toEqual([true, true]);
    expect(snap.groups.entries[0]![1].pending).toHaveLength(1);
    // Too late: by then the window has passed, and the attempt was decided as not completed.
    feed.hit(uid('verified'), verify(T0 + 30 * MINUTE, 'c'));
    snap = feed.correlator.snapshot() as typeof snap;
    expect(snap.groups.entries[0]![1].decided.map((a) => a.ok)).toEqual([true, true, false]);
    expect(snap.groups.entries[0]![1].pending).toHaveLength(0);
  });

  it('decides when event time passes the window, with no later message to the destination', () => {
    const { rule, uid } = sms();
    const feed = new Feed(conversion, rule);
    for (let i = 0; i < 4; i++) feed.hit(uid('sent'), send(T0 + i * SECOND, `bot${i}`, 'UZ'));
    // Other traffic moves event time on; nothing more goes to UZ.
    expect(feed.hit(uid('verified'), verify(T0 + 14 * MINUTE, 'someone'))).toBeUndefined();
    const f = feed.hit(uid('verified'), verify(T0 + 16 * MINUTE, 'someone-else'));
    expect(f?.context).toMatchObject({ reason: 'new_destination', attempts: 3 });
    expect(feed.decided).toHaveLength(1);
    const due = feed.correlator.due!(T0 + 17 * MINUTE);
    expect(due).toEqual([]); // the fourth alone is judged with nothing new: no second alert
  });

  it('keeps applications and destinations apart', () => {
    const { rule, uid } = sms();
    const feed = new Feed(conversion, rule);
    feed.hit(uid('sent'), send(T0, 'a', 'UZ', 'app-1'));
    feed.hit(uid('sent'), send(T0, 'b', 'UZ', 'app-2'));
    feed.hit(uid('sent'), send(T0, 'c', 'KG', 'app-1'));
    expect(feed.hit(uid('sent'), send(T0 + 20 * MINUTE, 'd', 'UZ', 'app-1'))).toBeUndefined();
  });

  it('never alerts for allowed destinations, and with only_allowed alerts at once outside them', () => {
    const allow = sms('allow: [UZ]');
    const feed = new Feed(conversion, allow.rule);
    for (let i = 0; i < 5; i++) feed.hit(allow.uid('sent'), send(T0 + i * SECOND, `bot${i}`, 'UZ'));
    expect(feed.hit(allow.uid('sent'), send(T0 + 20 * MINUTE, 'x', 'UZ'))).toBeUndefined();

    const strict = sms('allow: [US, CA]\nonly_allowed: true');
    const s = new Feed(conversion, strict.rule);
    expect(s.hit(strict.uid('sent'), send(T0, 'a', 'us'))).toBeUndefined();
    expect(s.hit(strict.uid('sent'), send(T0, 'b', 'UZ'))?.context).toMatchObject({ reason: 'outside_allow_list' });
  });

  it('forgets a destination unused for longer than known_for', () => {
    const { rule, uid } = sms('known_for: 7d');
    const feed = new Feed(conversion, rule);
    feed.hit(uid('sent'), send(T0, 'a', 'UZ'));
    feed.hit(uid('verified'), verify(T0 + MINUTE, 'a'));
    const later = T0 + 8 * DAY;
    for (let i = 0; i < 3; i++) feed.hit(uid('sent'), send(later + i * SECOND, `bot${i}`, 'UZ'));
    expect(feed.hit(uid('sent'), send(later + 20 * MINUTE, 'z', 'UZ'))?.context).toMatchObject({
      reason: 'new_destination',
    });
  });

  it('continues after a snapshot and restore, and counts late hits', () => {
    const { rule, uid } = sms();
    const feed = new Feed(conversion, rule);
    feed.hit(uid('sent'), send(T0, 'bot0', 'UZ'));
    feed.hit(uid('sent'), send(T0 + SECOND, 'bot1', 'UZ'));
    const restarted = feed.restarted(conversion);
    expect(restarted.correlator.snapshot()).toEqual(feed.correlator.snapshot());
    restarted.hit(uid('sent'), send(T0 + 2 * SECOND, 'bot2', 'UZ'));
    expect(restarted.hit(uid('sent'), send(T0 + HOUR / 3, 'bot3', 'UZ'))?.context).toMatchObject({
      reason: 'new_destination',
      attempts: 3,
    });
    expect(restarted.hit(uid('sent'), send(T0, 'late', 'UZ'))).toBeUndefined();
    expect(restarted.correlator.stats().late).toBe(1);
  });

  it('expires idle destinations and stale pointers', () => {
    const { rule, uid } = sms('known_for: 1d');
    const feed = new Feed(conversion, rule);
    feed.hit(uid('sent'), send(T0, 'a', 'UZ'));
    feed.hit(
      uid('sent'),
      event(T0 + 3 * DAY, { type: 'mfa.sms.sent', client: { id: 'x' }, user: { id: 'b' }, phone: { country: 'KE' } }),
    );
    feed.expire();
    expect(feed.correlator.stats().keys).toBe(1);
  });
});

describe('conversion rules that do not load', () => {
  it('needs exactly two rules', () => {
    expect(() =>
      loadCorrelation([sent], 'type: conversion\nrules: [sent]\ngroup-by: [client.id]\nfield: user.id\ntimespan: 1h'),
    ).toThrow(/AW1402.*two rules/);
  });

  it('checks its parameters', () => {
    expect(() => sms('max_rate: 2')).toThrow(/AW1601/);
    expect(() => sms('allow: UZ')).toThrow(/AW1601/);
  });
});

describe('conversion in the engine, with the shipped SMS destination rule', () => {
  const pack = loadRulesWithValues(['detections']);
  const stream = () => {
    const events: AuthEvent[] = [];
    for (let i = 0; i < 6; i++)
      events.push(
        event(T0 + i * 5 * SECOND, {
          type: 'mfa.sms.sent',
          client: { id: 'app-mobile' },
          user: { id: `auth0|pump${i}` },
          phone: { number: `+99890100000${i}`, country: 'UZ' },
          ip: `203.0.113.${i}`,
        }),
      );
    // Then only other traffic: no further message to UZ comes to decide on.
    for (let k = 2; k <= 60; k++)
      events.push(
        event(T0 + k * 20 * SECOND, { type: 'login.success', user: { id: `u${k}`, name: `u${k}@example.com` } }),
      );
    return events;
  };
  const run = (events: AuthEvent[]) => {
    const engine = new Engine(pack);
    const out = { alerts: [] as Alert[], actions: [] as Action[], dropped: [] };
    for (const e of events) engine.process(structuredClone(e), out);
    return out.alerts.filter((a) => a.rule_type === 'conversion');
  };

  it('alerts on a burst that stops, once event time passes its window', () => {
    const [alert, ...rest] = run(stream());
    expect(rest).toEqual([]);
    expect(alert).toMatchObject({
      group: { 'client.id': 'app-mobile', 'phone.country': 'UZ' },
      entities: { client: 'app-mobile', phone: '+998901000005' },
      // Judged as each message's window ends: the third unverified user makes the alert.
      event_count: 3,
      context: { reason: 'new_destination', completed: 0 },
    });
    expect(alert!.detected_at).toBeGreaterThanOrEqual(alert!.last_seen);
    expect(alert!.detected_at).toBe(T0 + 10 * SECOND + 15 * MINUTE + 1);
  });

  it('gives the same alert whatever the arrival order within the allowed lateness', () => {
    const events = stream();
    const swapped = [...events];
    for (let i = 0; i + 1 < swapped.length; i += 2) [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
    expect(run(swapped)).toEqual(run(events));
  });
});
