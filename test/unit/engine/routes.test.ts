import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import type { AuthEvent } from '../../../src/events/authEvent.js';
import { loadRuleText } from '../../../src/rules/loader.js';
import { SUPPRESS_ROUTE } from '../../../src/engine/routes.js';

const RULES = `
title: Failure
id: 10000000-0000-4000-8000-000000000001
name: failure
logsource: {product: authwatch}
detection: {sel: {type: login.failure}, condition: sel}
---
title: Failures per IP and user
id: 10000000-0000-4000-8000-000000000002
name: per-ip-user
correlation: {type: event_count, rules: [failure], group-by: [ip, user.id], timespan: 10m, condition: {gte: 3}}
generate: true
level: low
---
title: Many such per IP
id: 10000000-0000-4000-8000-000000000003
correlation: {type: event_count, rules: [per-ip-user], group-by: [ip], timespan: 1h, condition: {gte: 2}}
level: high
---
title: Failures per user
id: 10000000-0000-4000-8000-000000000004
correlation: {type: event_count, rules: [failure], group-by: [user.id], timespan: 10m, condition: {gte: 5}}
level: medium
---
title: Failure from curl
id: 10000000-0000-4000-8000-000000000005
logsource: {product: authwatch}
detection: {sel: {type: login.failure, user_agent|startswith: curl/}, condition: sel}
level: low
suppress: {timespan: 1h, group-by: [ip]}
`;

const event = (fields: Partial<AuthEvent>): AuthEvent =>
  ({ id: 'e1', time: 0, source: 'generic', type: 'login.failure', outcome: 'failure', ...fields }) as AuthEvent;

describe('Routing: where the state of a hit lives', () => {
  const set = loadRuleText('routes.yml', RULES);
  expect(set.diagnostics.items.filter((d) => d.severity === 'error')).toEqual([]);
  const routing = new Engine(set).routing;
  const doc = (e: AuthEvent) => e as unknown as Record<string, unknown>;

  it('keys a chain by the fields all its correlations group by, and each component once', () => {
    const failure = set.detections.find((d) => d.title === 'Failure')!.uid;
    const routes = routing.byDetection.get(failure)!;
    expect(routes).toHaveLength(2); // the per-IP chain, and the per-user rule
    const e = event({ ip: '203.0.113.9', user: { id: 'u1' } });
    expect(routes.map((r) => r.key(doc(e), e))).toEqual(['ip=203.0.113.9', 'user.id=u1']);
    // The chain's hit carries what its first link reads; the same IP from another user lives with it.
    expect(routes[0]!.fields.map(([p]) => p).sort()).toEqual(['ip', 'user.id']);
    const other = event({ ip: '203.0.113.9', user: { id: 'u2' } });
    expect(routes[0]!.key(doc(other), other)).toBe(routes[0]!.key(doc(e), e));
  });

  it('keys a suppressed single-event rule by its suppress fields', () => {
    const curl = set.detections.find((d) => d.title === 'Failure from curl')!.uid;
    const [route] = routing.byDetection.get(curl)!;
    const e = event({ ip: '198.51.100.7', user_agent: 'curl/8' });
    expect(route!.id).toBe(SUPPRESS_ROUTE);
    expect(route!.key(doc(e), e)).toBe('ip=198.51.100.7');
  });

  it('keeps a component whose correlations share no field whole, under one key', () => {
    const text = RULES.replace('group-by: [ip], timespan: 1h', 'group-by: [tenant], timespan: 1h');
    const other = new Engine(loadRuleText('routes.yml', text)).routing;
    const failure = set.detections.find((d) => d.title === 'Failure')!.uid;
    const chain = other.byDetection.get(failure)![0]!;
    const e1 = event({ ip: '203.0.113.9', user: { id: 'u1' } });
    const e2 = event({ ip: '198.51.100.7', user: { id: 'u2' } });
    expect(chain.key(doc(e1), e1)).toBe(chain.key(doc(e2), e2));
  });
});
