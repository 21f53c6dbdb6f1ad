import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { Engine, invalidTarget, type EngineOutput } from '../../../src/engine/engine.js';
import type { AuthEvent } from '../../../src/events/authEvent.js';
import { loadRuleText } from '../../../src/rules/loader.js';

const ajv = new Ajv({ strict: false });
const validAlert = ajv.compile(JSON.parse(readFileSync('schemas/alert.schema.json', 'utf8')) as object);
const validAction = ajv.compile(JSON.parse(readFileSync('schemas/action.schema.json', 'utf8')) as object);

const T0 = Date.UTC(2026, 5, 1);
let seq = 0;
function ev(fields: Partial<AuthEvent> & { type: string }, at: number): AuthEvent {
  seq++;
  return { id: `e${seq}`, source: 'generic', outcome: 'unknown', ...fields, time: T0 + at } as AuthEvent;
}

/** Every event through the engine, then the end of the input: all it decided, in order. */
function runAll(engine: Engine, events: AuthEvent[]): EngineOutput {
  const out: EngineOutput = { alerts: [], actions: [], dropped: [] };
  for (const e of events) engine.process(e, out);
  return engine.flush(out);
}

function rules(text: string) {
  const set = loadRuleText('engine.yml', text);
  expect(set.diagnostics.items.filter((d) => d.severity === 'error')).toEqual([]);
  return set;
}

const CURL = `
title: Login from curl
id: 11111111-1111-4111-8111-111111111111
logsource: {product: authwatch}
level: medium
tags: [attack.t1110]
detection:
  sel: {type: login.success, user_agent|startswith: curl/}
  condition: sel
response:
  - {action: block_ip, duration: 1h}
  - {action: revoke_sessions}
  - {action: notify, channel: '#soc'}
  - {action: revoke_sessions, target: session}
`;

const BRUTE = `
title: failed login
name: failed
id: 22222222-2222-4222-8222-222222222222
logsource: {product: authwatch}
level: low
detection:
  sel: {type: login.failure}
  condition: sel
---
title: Brute force
name: brute
id: 33333333-3333-4333-8333-333333333333
level: high
mode: enforce
correlation:
  type: event_count
  rules: [failed]
  group-by: [user.name]
  timespan: 10m
  condition: {gte: 3}
response:
  - {action: block_user, duration: 30m}
`;

const CHAIN = `${BRUTE}
---
title: login ok
name: ok
id: 44444444-4444-4444-8444-444444444444
logsource: {product: authwatch}
level: low
detection:
  sel: {type: login.success}
  condition: sel
---
title: Brute force then success
id: 55555555-5555-4555-8555-555555555555
level: critical
correlation:
  type: temporal_ordered
  rules: [brute, ok]
  group-by: [user.name]
  timespan: 30m
`;

describe('Engine: single-event rules', () => {
  it('raises an alert with the entities of the event, and its actions, all valid against their schemas', () => {
    const engine = new Engine(rules(CURL));
    const out = engine.process(
      ev({ type: 'login.success', user_agent: 'curl/8', ip: '203.0.113.9', user: { id: 'u1', name: 'a@x.io' } }, 0),
    );
    expect(out.alerts).toHaveLength(1);
    const alert = out.alerts[0]!;
    expect(validAlert(alert), JSON.stringify(validAlert.errors)).toBe(true);
    expect(alert).toMatchObject({
      rule_id: '11111111-1111-4111-8111-111111111111',
      rule_title: 'Login from curl',
      rule_type: 'detection',
      level: 'medium',
      tags: ['attack.t1110'],
      mode: 'monitor',
      group: {},
      entities: { user: 'a@x.io', user_id: 'u1', ip: '203.0.113.9' },
      first_seen: T0,
      last_seen: T0,
      detected_at: T0,
      event_count: 1,
    });
    // monitor mode: dry runs; a target the alert has no value for (session) is left out
    expect(out.actions.map((a) => [a.type, a.target, a.mode, a.parameters])).toEqual([
      ['block_ip', { kind: 'ip', value: '203.0.113.9' }, 'dry_run', { duration_ms: 3_600_000 }],
      ['revoke_sessions', { kind: 'user', value: 'u1' }, 'dry_run', {}],
      ['notify', { kind: 'none', value: '' }, 'dry_run', { channel: '#soc' }],
    ]);
    expect(out.actions[0]!.expires_at).toBe(T0 + 3_600_000);
    for (const a of out.actions) {
      expect(validAction(a), JSON.stringify(validAction.errors)).toBe(true);
      expect(a.alert_id).toBe(alert.alert_id);
    }
    expect(engine.counters).toMatchObject({ alerts: 1, actions: 3, actionsWithoutTarget: 1 });
  });

  it('gives the same ids for the same input, and different ids for different events', () => {
    const event = ev({ type: 'login.success', user_agent: 'curl/8', ip: '203.0.113.9' }, 0);
    const a = new Engine(rules(CURL)).process(event);
    const b = new Engine(rules(CURL)).process(event);
    expect(a).toEqual(b);
    const c = new Engine(rules(CURL)).process({ ...event, id: 'other' });
    expect(c.alerts[0]!.alert_id).not.toBe(a.alerts[0]!.alert_id);
    // block_ip and notify each (the event has no user and no session)
    expect(new Set([...a.actions, ...c.actions].map((x) => x.action_id)).size).toBe(4);
  });

  it('suppresses repeats per group within the window, on event time', () => {
    const engine = new Engine(rules(`${CURL}suppress: {timespan: 10m, group-by: [ip]}\n`));
    const login = (ip: string, at: number) => ev({ type: 'login.success', user_agent: 'curl/8', ip }, at);
    const { alerts } = runAll(engine, [
      login('203.0.113.9', 0),
      login('203.0.113.9', 60_000),
      login('198.51.100.1', 120_000),
      login('203.0.113.9', 9 * 60_000),
      login('203.0.113.9', 11 * 60_000),
    ]);
    expect(alerts.map((a) => [a.entities.ip, a.detected_at - T0])).toEqual([
      ['203.0.113.9', 0],
      ['198.51.100.1', 120_000],
      ['203.0.113.9', 11 * 60_000],
    ]);
    expect(engine.counters.suppressed).toBe(2);
  });

  it('holds an alert with suppress until event time passes it by the lateness; one without goes out at once', () => {
    const suppressed = new Engine(rules(`${CURL}suppress: 10m\n`), { allowedLatenessMs: 30_000 });
    const plain = new Engine(rules(CURL), { allowedLatenessMs: 30_000 });
    const login = (at: number) => ev({ type: 'login.success', user_agent: 'curl/8', ip: '203.0.113.9' }, at);
    expect(plain.process(login(0)).alerts).toHaveLength(1);
    expect(suppressed.process(login(0)).alerts).toHaveLength(0);
    expect(suppressed.stats().pendingHits).toBe(1);
    expect(suppressed.process(ev({ type: 'other' }, 30_000)).alerts).toHaveLength(0); // at the watermark, not past it
    expect(suppressed.process(ev({ type: 'other' }, 30_001)).alerts.map((a) => a.detected_at)).toEqual([T0]);
    expect(suppressed.stats().pendingHits).toBe(0);
  });
});

describe('Engine: suppress and out-of-order events', () => {
  it('suppresses a repeat that arrives out of order within the window, as one that arrives in order', () => {
    const text = `${CURL}mode: enforce\nsuppress: {timespan: 10m, group-by: [ip]}\n`;
    const login = (at: number) => ev({ type: 'login.success', user_agent: 'curl/8', ip: '203.0.113.9' }, at);
    // Two hits of the same IP 10 and 20 s before the first one, arriving after it (within the lateness).
    const arrived = [login(30_000), login(20_000), login(10_000), login(11 * 60_000)];
    const engine = new Engine(rules(text));
    const out = runAll(engine, arrived);
    expect(engine.counters.suppressed).toBe(2);
    expect(out.actions.filter((a) => a.type === 'block_ip').map((a) => a.mode)).toEqual(['enforce']); // once
    // The alert is that of the earliest hit, as in time order.
    expect(out.alerts.map((a) => a.detected_at - T0)).toEqual([10_000, 11 * 60_000]);
    const inOrder = runAll(
      new Engine(rules(text)),
      [...arrived].sort((a, b) => a.time - b.time),
    );
    expect(out.alerts).toEqual(inOrder.alerts);
  });
});

describe('Engine: correlations', () => {
  const failure = (user: string, at: number) =>
    ev({ type: 'login.failure', user: { name: user }, ip: '203.0.113.5' }, at);
  const success = (user: string, at: number) =>
    ev({ type: 'login.success', user: { name: user }, ip: '203.0.113.5' }, at);

  it('counts per group on event time, and referenced rules do not alert on their own', () => {
    const engine = new Engine(rules(BRUTE));
    const { alerts } = runAll(
      engine,
      ['a', 'a', 'b', 'a'].map((user, i) => failure(user, i * 1000)),
    );
    expect(alerts.map((a) => [a.rule_title, a.group, a.event_count, a.first_seen, a.last_seen])).toEqual([
      ['Brute force', { 'user.name': 'a' }, 3, T0, T0 + 3000],
    ]);
    expect(validAlert(alerts[0]), JSON.stringify(validAlert.errors)).toBe(true);
  });

  it('publishes enforce actions for rules in enforce mode', () => {
    const engine = new Engine(rules(BRUTE));
    const out = runAll(
      engine,
      [0, 1, 2].map((i) => failure('a', i * 1000)),
    );
    expect(out.actions).toMatchObject([{ type: 'block_user', mode: 'enforce', target: { kind: 'user', value: 'a' } }]);
  });

  it('alerts for a referenced rule with generate: true', () => {
    const engine = new Engine(rules(BRUTE.replace('  condition: {gte: 3}', '  condition: {gte: 3}\n  generate: true')));
    expect(engine.process(failure('a', 0)).alerts.map((a) => a.rule_title)).toEqual(['failed login']);
  });

  it('chains correlations: a brute force followed by a success', () => {
    const events = () => [failure('a', 0), failure('a', 1000), failure('a', 2000), success('a', 60_000)];
    const titles = runAll(new Engine(rules(CHAIN)), events()).alerts.map((a) => a.rule_title);
    // the chained correlation does not say generate: true, so its parts do not alert
    expect(titles).toEqual(['Brute force then success']);
    const all = runAll(new Engine(rules(`${CHAIN}generate: true\n`)), events()).alerts;
    // login ok goes out at once; what depends on order waits for event time
    expect(all.map((a) => a.rule_title)).toEqual(['login ok', 'Brute force', 'Brute force then success']);
  });

  it('does not chain when the success comes first', () => {
    const engine = new Engine(rules(`${CHAIN}generate: true\n`));
    const titles = runAll(engine, [
      success('a', 0),
      failure('a', 1000),
      failure('a', 2000),
      failure('a', 3000),
    ]).alerts.map((a) => a.rule_title);
    expect(titles).toEqual(['login ok', 'Brute force']);
  });

  it('counts events behind the allowed lateness as late, and does not count them in windows', () => {
    const engine = new Engine(rules(BRUTE), { allowedLatenessMs: 5000 });
    engine.process(failure('a', 100_000));
    engine.process(failure('a', 0));
    engine.process(failure('a', 1000));
    expect(engine.counters.lateEvents).toBe(2);
    expect(engine.process(failure('a', 101_000)).alerts).toEqual([]);
    expect(engine.process(failure('a', 102_000)).alerts).toEqual([]); // waits for event time
    expect(engine.process(failure('b', 106_000)).alerts).toEqual([]);
    expect(engine.process(failure('b', 107_001)).alerts.map((a) => a.detected_at)).toEqual([T0 + 102_000]);
  });

  it('continues its windows after a snapshot is restored into a new engine', () => {
    const events = [failure('a', 0), failure('b', 500), failure('a', 1000), failure('a', 2000), success('a', 3000)];
    const chain = rules(`${CHAIN}generate: true\n`);
    const expected = runAll(new Engine(chain), events).alerts;
    expect(expected.map((a) => a.rule_title)).toEqual(['login ok', 'Brute force', 'Brute force then success']);

    // Cut after three events: two hits still wait for event time, and travel in the snapshot.
    const first = new Engine(chain);
    const before = events.slice(0, 3).flatMap((e) => first.process(e).alerts);
    expect(first.stats().pendingHits).toBe(3);
    const saved = JSON.parse(JSON.stringify(first.snapshot())) as ReturnType<Engine['snapshot']>;
    expect(JSON.stringify(saved)).not.toContain('"raw"');
    const second = new Engine(chain);
    second.restore(saved);
    const after = runAll(second, events.slice(3)).alerts;
    expect([...before, ...after]).toEqual(expected);
    expect(second.counters.events).toBe(events.length);
  });

  it('refuses a snapshot of an unknown version', () => {
    const engine = new Engine(rules(BRUTE));
    expect(() => engine.restore({ version: 9 } as never)).toThrow(/version 9/);
  });

  it('reports per-rule state in its stats', () => {
    const engine = new Engine(rules(BRUTE), { maxKeysPerRule: 2 });
    runAll(
      engine,
      ['a', 'b', 'c', 'd'].map((u, i) => failure(u, i)),
    );
    const stats = engine.stats();
    const brute = Object.values(stats.rules).find((r) => r.evictions > 0);
    expect(brute).toMatchObject({ keys: 2, evictions: 2 });
    expect(stats.watermark).toBe(T0 + 3 - 60_000);
  });
});

describe('Engine: response actions', () => {
  const ACTIONS = `
title: Risky login
id: 66666666-6666-4666-8666-666666666666
logsource: {product: authwatch}
level: high
mode: enforce
detection:
  sel: {type: login.success, user_agent|startswith: curl/}
  condition: sel
response:
  - {action: block_ip}
  - {action: throttle, target: user}
  - {action: require_mfa}
  - {action: revoke_sessions}
  - {action: notify, channel: '#soc'}
`;
  const login = (fields: Partial<AuthEvent>, at: number) =>
    ev({ type: 'login.success', user_agent: 'curl/8', ...fields }, at);

  it('gives every action its target, parameters, expiry (a default one by type) and mode', () => {
    const out = new Engine(rules(ACTIONS)).process(login({ ip: '203.0.113.9', user: { id: 'u1', name: 'a@x.io' } }, 0));
    expect(out.actions.map((a) => [a.type, a.target.kind, a.target.value, a.mode, a.parameters, a.expires_at])).toEqual(
      [
        ['block_ip', 'ip', '203.0.113.9', 'enforce', { duration_ms: 3_600_000 }, T0 + 3_600_000],
        ['throttle', 'user', 'u1', 'enforce', { duration_ms: 900_000 }, T0 + 900_000],
        ['require_mfa', 'user', 'u1', 'enforce', { duration_ms: 86_400_000 }, T0 + 86_400_000],
        ['revoke_sessions', 'user', 'u1', 'enforce', {}, T0 + 300_000],
        ['notify', 'none', '', 'enforce', { channel: '#soc' }, T0 + 300_000],
      ],
    );
    for (const a of out.actions) expect(validAction(a), JSON.stringify(validAction.errors)).toBe(true);
  });

  it('gives the account-owner and IdP actions their default targets, expiries and factor', () => {
    const rule = `
title: Owner and IdP actions
id: 77777777-7777-4777-8777-777777777777
logsource: {product: authwatch}
level: high
mode: monitor
detection:
  sel: {type: mfa.sms.sent}
  condition: sel
response:
  - {action: force_password_reset}
  - {action: challenge}
  - {action: notify_user, reason: new country}
  - {action: deny_factor, factor: sms}
  - {action: deny_factor, factor: voice, duration: 2h}
  - {action: tighten_protection}
`;
    const out = new Engine(rules(rule)).process(
      ev({ type: 'mfa.sms.sent', user: { id: 'u1' }, phone: { number: '+88216123456', country: 'SO' } }, 0),
    );
    expect(out.actions.map((a) => [a.type, a.target.kind, a.target.value, a.mode, a.parameters, a.expires_at])).toEqual(
      [
        ['force_password_reset', 'user', 'u1', 'dry_run', {}, T0 + 300_000],
        ['challenge', 'user', 'u1', 'dry_run', { duration_ms: 3_600_000 }, T0 + 3_600_000],
        ['notify_user', 'user', 'u1', 'dry_run', { reason: 'new country' }, T0 + 300_000],
        [
          'deny_factor',
          'phone',
          '+88216123456',
          'dry_run',
          { duration_ms: 86_400_000, factor: 'sms' },
          T0 + 86_400_000,
        ],
        [
          'deny_factor',
          'phone',
          '+88216123456',
          'dry_run',
          { duration_ms: 7_200_000, factor: 'voice' },
          T0 + 7_200_000,
        ],
        ['tighten_protection', 'none', '', 'dry_run', { duration_ms: 3_600_000 }, T0 + 3_600_000],
      ],
    );
    for (const a of out.actions) expect(validAction(a), JSON.stringify(validAction.errors)).toBe(true);
  });

  /** The actions of ACTIONS as a per-IP correlation firing on every login: stateful, so de-duplicated. */
  const PER_IP = `${ACTIONS.replace(/mode: enforce\nresponse:[\s\S]*$/, '')}---
title: Risky login per IP
id: 68686868-6868-4868-8868-686868686868
correlation:
  type: event_count
  rules: [66666666-6666-4666-8666-666666666666]
  group-by: [ip]
  timespan: 1m
  condition: {gte: 1}
level: high
mode: enforce
response:${ACTIONS.split('response:')[1]}`;
  const firing = (engine: Engine, fields: Partial<AuthEvent>, at: number) => {
    const out = engine.process(login(fields, at));
    return engine.flush(out).actions.map((a) => a.type);
  };

  it('does not publish the same action on the same target again while it is in force', () => {
    const engine = new Engine(rules(PER_IP), { actionCooldownMs: 5 * 60_000 });
    const types = (at: number) => firing(engine, { ip: '203.0.113.9', user: { id: 'u1' } }, at);
    expect(types(0)).toEqual(['block_ip', 'throttle', 'require_mfa', 'revoke_sessions', 'notify']);
    // A minute later every action but the notice is still in force.
    expect(types(60_000)).toEqual(['notify']);
    // After the cooldown the revocation goes out again; after 15 minutes the throttle too.
    expect(types(6 * 60_000)).toEqual(['revoke_sessions', 'notify']);
    expect(types(16 * 60_000)).toEqual(['throttle', 'revoke_sessions', 'notify']);
    // After the hour the block; require_mfa holds for a day.
    expect(types(61 * 60_000)).toEqual(['block_ip', 'throttle', 'revoke_sessions', 'notify']);
    expect(engine.counters.actionsInForce).toBe(4 + 3 + 2 + 1);
    // Another target is another action.
    expect(firing(engine, { ip: '198.51.100.7', user: { id: 'u2' } }, 62 * 60_000)).toHaveLength(5);
  });

  it('de-duplicates within the state key an action came from, and not across keys', () => {
    // The same user's sessions revoked by the per-IP rule from two addresses: two keys, two orders.
    const engine = new Engine(rules(PER_IP));
    expect(firing(engine, { ip: '203.0.113.9', user: { id: 'u1' } }, 0)).toContain('revoke_sessions');
    expect(firing(engine, { ip: '198.51.100.7', user: { id: 'u1' } }, 1000)).toContain('revoke_sessions');
    // A single-event rule without suppress depends on no state: its actions go out every time.
    const single = new Engine(rules(ACTIONS));
    expect(firing(single, { ip: '203.0.113.9', user: { id: 'u1' } }, 0)).toHaveLength(5);
    expect(firing(single, { ip: '203.0.113.9', user: { id: 'u1' } }, 1000)).toHaveLength(5);
    expect(single.counters.actionsInForce).toBe(0);
  });

  it('keeps what is in force across a snapshot and restore', () => {
    const a = new Engine(rules(PER_IP));
    firing(a, { ip: '203.0.113.9', user: { id: 'u1' } }, 0);
    const b = new Engine(rules(PER_IP));
    b.restore(JSON.parse(JSON.stringify(a.snapshot())) as ReturnType<Engine['snapshot']>);
    expect(firing(b, { ip: '203.0.113.9', user: { id: 'u1' } }, 1000)).toEqual(['notify']);
  });

  it.each([
    ['null', { ip: 'null', user: { id: 'u1' } }, 'block_ip', /placeholder/],
    ['not an address', { ip: 'not-an-ip', user: { id: 'u1' } }, 'block_ip', /not an IP address/],
    ['an empty user', { ip: '203.0.113.9', user: { id: '  ' } }, 'throttle', /empty user/],
    ['a placeholder user', { ip: '203.0.113.9', user: { id: 'undefined' } }, 'throttle', /placeholder/],
  ])('drops an action whose target is %s, counting and reporting it', (_, fields, type, reason) => {
    const engine = new Engine(rules(ACTIONS));
    const out = engine.process(login(fields as Partial<AuthEvent>, 0));
    expect(out.actions.map((a) => a.type)).not.toContain(type);
    expect(out.dropped).toContainEqual(
      expect.objectContaining({
        rule_id: '66666666-6666-4666-8666-666666666666',
        type,
        reason: expect.stringMatching(reason),
      }),
    );
    expect(engine.counters.actionsInvalidTarget).toBe(out.dropped.length);
    expect(out.alerts).toHaveLength(1); // the alert itself still goes out
  });

  it('accepts real addresses and phone numbers, and refuses what only looks like them', () => {
    expect(invalidTarget('ip', '2001:db8::1')).toBeUndefined();
    expect(invalidTarget('ip', '::ffff:203.0.113.9')).toBeUndefined();
    expect(invalidTarget('ip', '999.1.1.1')).toMatch(/not an IP/);
    expect(invalidTarget('phone', '+44 20 7946 0958')).toBeUndefined();
    expect(invalidTarget('phone', '+1')).toMatch(/not a phone/);
    expect(invalidTarget('session', 'abc\u0000def')).toMatch(/control characters/);
    expect(invalidTarget('none', '')).toBeUndefined();
  });
});

describe('Engine: hits waiting for event-time order', () => {
  const failure = (user: string, at: number) =>
    ev({ type: 'login.failure', user: { name: user }, ip: '203.0.113.5', raw: { big: 'x'.repeat(1000) } }, at);

  it('keep the event without its raw record, and of the raw record only the fields the correlations read', () => {
    type Waiting = { t: number; id: string; e: AuthEvent; h: Array<{ r: string; d?: unknown }> };
    const engine = new Engine(rules(BRUTE));
    engine.process(failure('a', 0));
    const [entry] = (engine.snapshot().pending ?? []) as unknown as Waiting[];
    expect(entry!.e.raw).toBeUndefined();
    expect(entry!.e.user).toEqual({ name: 'a' });
    expect(entry!.h).toEqual([{ r: '22222222-2222-4222-8222-222222222222' }]); // reads the event itself

    const byRaw = new Engine(rules(BRUTE.replace('group-by: [user.name]', 'group-by: [raw.big]')));
    byRaw.process(failure('a', 0));
    const [kept] = (byRaw.snapshot().pending ?? []) as unknown as Waiting[];
    expect(kept!.e.raw).toBeUndefined();
    expect(kept!.h).toEqual([{ r: '22222222-2222-4222-8222-222222222222', d: { 'raw.big': 'x'.repeat(1000) } }]);
    // Restored, the hits still count towards the same alert.
    const restored = new Engine(rules(BRUTE.replace('group-by: [user.name]', 'group-by: [raw.big]')));
    restored.restore(JSON.parse(JSON.stringify(byRaw.snapshot())) as ReturnType<Engine['snapshot']>);
    const out = runAll(restored, [failure('b', 1000), failure('c', 2000)]);
    expect(out.alerts).toHaveLength(1);
    expect(out.alerts[0]!.group).toEqual({ 'raw.big': 'x'.repeat(1000) });
  });

  it('are released early, and counted, beyond the queue bound; the alerts still come', () => {
    const engine = new Engine(rules(BRUTE), { maxPendingHits: 2 });
    const out = runAll(
      engine,
      [0, 1, 2, 3].map((i) => failure('a', i * 1000)),
    );
    expect(engine.counters.orderOverflow).toBe(2);
    expect(out.alerts.map((a) => a.detected_at - T0)).toEqual([2000]);
  });

  it('in a live deployment, are released on a quiet stream as the wall clock passes them, and the events after the pause are not late', () => {
    let now = T0 + 5000;
    const engine = new Engine(rules(BRUTE), { clock: () => now, allowedLatenessMs: 30_000 });
    for (const i of [0, 1, 2]) engine.process(failure('a', i * 1000));
    expect(engine.pendingHits).toBe(3);
    now += 999;
    expect(engine.idle()).toBe(false); // not quiet for long enough yet
    now += 1;
    const early = { alerts: [], actions: [], dropped: [] };
    expect(engine.idle(early)).toBe(false); // a second later no hit is past the lateness yet
    expect(early.alerts).toEqual([]);
    now += 31_000;
    const out = { alerts: [], actions: [], dropped: [] };
    expect(engine.idle(out)).toBe(true);
    expect(out.alerts).toHaveLength(1);
    expect(engine.pendingHits).toBe(0);
    expect(engine.idle()).toBe(false); // nothing waits
    // Event time stayed where the events put it: the backlog of a paused producer is on time.
    const late = engine.counters.lateEvents;
    engine.process(failure('b', 3000));
    expect(engine.counters.lateEvents).toBe(late);
    expect(engine.stats().watermark).toBe(T0 + 3000 - 30_000);
    // Without a clock (a replay) event time never follows the wall clock.
    const replay = new Engine(rules(BRUTE));
    replay.process(failure('a', 0));
    expect(replay.idle()).toBe(false);
  });

  it('skip a hit the engine fails on when it is released, report it, and go on', () => {
    const errors: unknown[] = [];
    const engine = new Engine(rules(BRUTE), { onReleaseError: (err, hit) => errors.push([String(err), hit.event_id]) });
    const correlator = (engine as unknown as { correlatorsByUid: Map<string, { observe: unknown }> }).correlatorsByUid
      .values()
      .next().value!;
    const observe = correlator.observe as (...a: unknown[]) => unknown;
    let calls = 0;
    correlator.observe = (...a: unknown[]) => {
      if (++calls === 2) throw new TypeError('boom');
      return observe.apply(correlator, a);
    };
    const events = [0, 1, 2, 3].map((i) => failure('a', i * 1000));
    const out = runAll(engine, events);
    expect(errors).toEqual([['TypeError: boom', events[1]!.id]]);
    expect(engine.counters.releaseErrors).toBe(1);
    expect(out.alerts.map((a) => a.event_count)).toEqual([3]); // the three others
  });
});

describe('Engine: event time against records dated ahead', () => {
  const STUFFING = `
title: failed
name: failed
id: 88888888-8888-4888-8888-888888888881
logsource: {product: authwatch}
detection:
  sel: {type: login.failure}
  condition: sel
---
title: Stuffing
id: 88888888-8888-4888-8888-888888888882
correlation:
  type: value_count
  rules: [failed]
  group-by: [ip]
  timespan: 10m
  condition: {field: user.name, gte: 10}
`;
  const failure = (i: number, at: number) =>
    ev({ type: 'login.failure', user: { name: `v${i}` }, ip: '185.220.101.4' }, at);

  it('still detects an attack when one record in it is dated a day ahead', () => {
    const engine = new Engine(rules(STUFFING));
    const events: AuthEvent[] = [];
    for (let i = 0; i < 12; i++) {
      events.push(failure(i, i * 10_000));
      if (i === 3) events.push(ev({ type: 'login.success', user: { name: 'forged' } }, 24 * 3_600_000));
    }
    expect(runAll(engine, events).alerts.map((a) => a.rule_title)).toEqual(['Stuffing']);
    expect(engine.counters).toMatchObject({ aheadEvents: 1, lateEvents: 0 });
    expect(engine.stats().watermark).toBe(T0 + 11 * 10_000 - 60_000);
  });

  it('moves ahead once enough events back the jump (a quiet night, then the morning)', () => {
    const engine = new Engine(rules(STUFFING), { watermarkCorroboration: 3 });
    engine.process(failure(0, 0));
    const morning = 8 * 3_600_000;
    engine.process(failure(1, morning));
    engine.process(failure(2, morning + 1000));
    expect(engine.stats().watermark).toBe(T0 - 60_000); // two are not enough
    engine.process(failure(3, morning + 2000));
    expect(engine.stats().watermark).toBe(T0 + morning - 60_000);
    expect(engine.counters.aheadEvents).toBe(3);
    // An event of the night before is late now.
    engine.process(failure(4, 1000));
    expect(engine.counters.lateEvents).toBe(1);
  });

  it('never runs ahead of the wall clock in a live deployment, however many records claim to', () => {
    const now = T0 + 3_600_000;
    const engine = new Engine(rules(STUFFING), { clock: () => now, watermarkCorroboration: 2 });
    for (let i = 0; i < 10; i++) engine.process(failure(i, 50 * 3_600_000 + i));
    expect(engine.stats().watermark).toBe(now); // now + lateness − lateness
    expect(engine.counters.aheadEvents).toBe(10);
  });

  it('keeps the records waiting to be backed across a snapshot', () => {
    const a = new Engine(rules(STUFFING), { watermarkCorroboration: 2 });
    a.process(failure(0, 0));
    a.process(failure(1, 5 * 3_600_000));
    const b = new Engine(rules(STUFFING), { watermarkCorroboration: 2 });
    b.restore(JSON.parse(JSON.stringify(a.snapshot())) as ReturnType<Engine['snapshot']>);
    b.process(failure(2, 5 * 3_600_000 + 1));
    expect(b.stats().watermark).toBe(T0 + 5 * 3_600_000 - 60_000);
  });
});
