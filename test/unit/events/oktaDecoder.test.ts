import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { DecodeContext } from '../../../src/events/decoder.js';
import { oktaDecoder } from '../../../src/events/oktaDecoder.js';
import type { ValidateFunction } from 'ajv';
import { validate } from '../../../src/events/eventValidator.generated.js';

const validateEvent = validate as unknown as ValidateFunction;

const ctx: DecodeContext = { now: Date.UTC(2030, 0, 1), maxFutureMs: 86_400_000, fallbackId: 'h-1' };
const fixture = (name: string) =>
  JSON.parse(readFileSync(`test/fixtures/events/okta/${name}.json`, 'utf8')) as Record<string, unknown>;

function decode(record: Record<string, unknown>) {
  expect(oktaDecoder.accepts(record)).toBe(true);
  const result = oktaDecoder.decode(record, ctx);
  if (!result.ok) throw new Error(result.error.message);
  return result.event;
}

describe('Okta System Log decoder', () => {
  it('decodes a successful sign-in field by field', () => {
    const record = fixture('user.session.start');
    expect(decode(record)).toEqual({
      id: '9f2a4c1e-8b7d-11ef-9a1b-0242ac120002',
      time: Date.parse('2026-11-20T08:15:42.123Z'),
      source: 'okta',
      type: 'login.success',
      source_type: 'user.session.start',
      outcome: 'success',
      user: { id: '00u1abcdEFGHijkl0h7', name: 'Alice.Smith@Example.com', email_domain: 'example.com' },
      session_id: '102bZDNFfWaQSyEZQuDgWt-uQ',
      ip: '81.2.69.142',
      asn: 5607,
      as_org: 'sky uk limited',
      geo: { country: 'GB', city: 'St Albans', lat: 51.753, lon: -0.3256 },
      user_agent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15',
      raw: record,
    });
  });

  it('decodes a failed sign-in: reason, no session, null city left out', () => {
    const e = decode(fixture('user.session.start.failure'));
    expect(e.type).toBe('login.failure');
    expect(e.outcome).toBe('failure');
    expect(e.reason).toBe('INVALID_CREDENTIALS');
    expect(e.session_id).toBeUndefined();
    // Okta names the actor of a sign-in for a username it does not have `unknown`: no id, and
    // the user does not exist.
    expect(e.user).toEqual({ name: 'bob@example.org', email_domain: 'example.org', exists: false });
    expect(e.geo).toEqual({ country: 'DE', lat: 51.2993, lon: 9.491 });
    expect(e.asn).toBe(208294);
    expect(e.user_agent).toBe('python-requests/2.32.3');
  });

  it('maps MFA push sends (epoch published) and rejections', () => {
    const sent = decode(fixture('system.push.send_factor_verify_push'));
    expect(sent.type).toBe('mfa.push.sent');
    expect(sent.time).toBe(1795422943000);
    expect(sent.session_id).toBe('102bZDNFfWaQSyEZQuDgWt-uQ');
    const denied = decode(fixture('user.mfa.okta_verify.deny_push'));
    expect(denied).toMatchObject({
      type: 'mfa.push.rejected',
      outcome: 'failure',
      user: { id: '00u1abcdEFGHijkl0h7' },
    });
  });

  it('takes the user and the application from targets when the actor is no user', () => {
    const e = decode(fixture('system.sms.send_factor_verify_message'));
    expect(e.type).toBe('mfa.sms.sent');
    expect(e.user).toEqual({ id: '00u9carol', name: 'carol@example.net', email_domain: 'example.net' });
    expect(e.client).toEqual({ id: '0oa1app', name: 'Customer Portal' });
    expect(e.phone).toEqual({ number: '+447700900123' });
    expect(e.ip).toBe('2a02:c7f:1234::1');
  });

  it('maps a self-service email change, with the user, network and session of the change', () => {
    const e = decode(fixture('user.account.update_primary_email'));
    expect(e).toMatchObject({
      id: 'c3e1a7d2-aeb4-11ef-8f5e-2b6d9c1f0a47',
      type: 'account.email.change',
      source_type: 'user.account.update_primary_email',
      outcome: 'success',
      user: { id: '00u1abcdEFGHijkl0h7', name: 'alice.smith@example.com' },
      ip: '95.173.136.70',
      asn: 12389,
      session_id: '102vQ8sT3nXmZ0yPqLkJhGfDs',
    });
    expect(e.geo).toMatchObject({ country: 'RU' });
  });

  it('maps an administrator turning a sign-on policy rule off, naming the rule as the resource', () => {
    const e = decode(fixture('policy.rule.deactivate'));
    expect(validateEvent(e), JSON.stringify(validateEvent.errors)).toBe(true);
    expect(e).toMatchObject({
      type: 'admin.protection.weakened',
      source_type: 'policy.rule.deactivate',
      outcome: 'success',
      user: { id: '00u8adminQwErTy0h7', name: 'it.admin@example.com' },
      ip: '185.220.101.34',
      resource: { type: 'PolicyRule', id: '0pr1requireMfa0h7', name: 'Require MFA outside the office' },
      // Okta's own verdict on the address: securityContext.isProxy.
      network: { kind: 'proxy' },
    });
  });

  it("reads Okta's proxy and threat flags, and leaves the network to enrichment when it says nothing", () => {
    const record = fixture('user.session.start');
    const plain = decode(record);
    expect(plain.network).toBeUndefined();
    const flagged = decode({
      ...record,
      securityContext: { ...(record.securityContext as object), isProxy: true },
      debugContext: { debugData: { threatSuspected: 'true', requestId: 'r1' } },
    });
    expect(flagged.network).toEqual({ kind: 'proxy', threat: true });
    const cleared = decode({ ...record, debugContext: { debugData: { threatSuspected: 'false' } } });
    expect(cleared.network).toBeUndefined();
  });

  it('maps an admin role granted: the actor is the user, the grantee the resource', () => {
    const e = decode(fixture('user.account.privilege.grant'));
    expect(validateEvent(e), JSON.stringify(validateEvent.errors)).toBe(true);
    expect(e).toMatchObject({
      type: 'admin.privilege.grant',
      user: { id: '00u8adminQwErTy0h7' },
      resource: { type: 'User', id: '00u9newAdmin0h7', name: 'Contractor X' },
    });
    // Only administrative events carry a resource.
    expect(decode(fixture('user.account.update_primary_email')).resource).toBeUndefined();
  });

  it('maps refresh-token reuse detection', () => {
    const e = decode(fixture('app.oauth2.as.token.detect_reuse'));
    expect(e).toMatchObject({
      type: 'token.refresh.reuse',
      outcome: 'failure',
      user: { name: 'alice.smith@example.com' },
    });
  });

  it.each([
    ['user.authentication.auth_via_mfa', 'SUCCESS', 'mfa.success'],
    ['user.authentication.auth_via_mfa', 'FAILURE', 'mfa.failure'],
    ['user.authentication.sso', 'DENY', 'session.use.failure'],
    ['user.authentication.sso', 'SUCCESS', 'session.use.success'],
    ['user.session.access_admin_app', 'SUCCESS', 'session.use.success'],
    ['user.authentication.verify', 'SUCCESS', 'auth.verify.success'],
    ['user.authentication.verify', 'FAILURE', 'auth.verify.failure'],
    ['user.authentication.authenticate', 'SUCCESS', 'auth.verify.success'],
    ['user.authentication.auth_via_IDP', 'SUCCESS', 'auth.verify.success'],
    ['user.authentication.auth_via_social', 'FAILURE', 'auth.verify.failure'],
    ['user.authentication.auth_via_radius', 'FAILURE', 'login.failure'],
    ['user.authentication.auth_via_richclient', 'FAILURE', 'login.failure'],
    ['user.session.start', 'SUCCESS', 'login.success'],
    ['user.account.lock', 'SUCCESS', 'account.blocked'],
    ['app.oauth2.as.token.grant.refresh_token', 'SUCCESS', 'token.refresh.success'],
    ['app.oauth2.as.token.grant.refresh_token', 'FAILURE', 'token.refresh.failure'],
    ['system.voice.send_mfa_challenge_call', 'SUCCESS', 'mfa.voice.sent'],
    ['system.sms.send_password_reset_message', 'SUCCESS', 'mfa.sms.sent'],
    ['policy.lifecycle.update', 'SUCCESS', 'admin.protection.change'],
    ['policy.lifecycle.deactivate', 'SUCCESS', 'admin.protection.weakened'],
    ['policy.rule.delete', 'SUCCESS', 'admin.protection.weakened'],
    ['policy.rule.update', 'SUCCESS', 'admin.protection.change'],
    ['policy.rule.deactivate', 'FAILURE', 'management.failure'],
    ['system.mfa.factor.deactivate', 'SUCCESS', 'admin.protection.weakened'],
    ['security.authenticator.lifecycle.deactivate', 'SUCCESS', 'admin.protection.weakened'],
    ['zone.update', 'SUCCESS', 'admin.protection.change'],
    ['group.privilege.grant', 'SUCCESS', 'admin.privilege.grant'],
    ['system.api_token.create', 'SUCCESS', 'admin.credential.create'],
    ['system.api_token.revoke', 'SUCCESS', 'management.write'],
    ['app.oauth2.client.read_client_secret', 'SUCCESS', 'admin.credential.read'],
    ['application.lifecycle.update', 'SUCCESS', 'management.write'],
    ['user.lifecycle.create', 'SUCCESS', 'signup.success'],
    ['security.breached_credential.detected', 'SUCCESS', 'password.leaked'],
    ['user.account.update_primary_email', 'SUCCESS', 'account.email.change'],
    ['user.account.update_secondary_email', 'FAILURE', 'account.email.change'],
    ['user.account.update_phone', 'SUCCESS', 'account.phone.change'],
    ['user.account.update_profile', 'SUCCESS', 'account.profile.change'],
    ['user.lifecycle.delete.initiated', 'SUCCESS', 'account.deleted'],
    ['some.new.event_type', 'SUCCESS', 'other'],
  ])('%s with %s → %s', (eventType, result, type) => {
    const e = decode({ eventType, published: '2026-01-01T00:00:00Z', uuid: 'u', outcome: { result } });
    expect(e.type).toBe(type);
  });

  it.each([
    ['no outcome', undefined],
    ['no result', {}],
    ['a null result', { result: null }],
    ['CHALLENGE', { result: 'CHALLENGE' }],
    ['UNKNOWN', { result: 'UNKNOWN' }],
    ['SKIPPED', { result: 'SKIPPED' }],
    ['ALLOW', { result: 'ALLOW' }],
  ])('a login with %s is neither a success nor a failure', (_, outcome) => {
    for (const eventType of ['user.session.start', 'user.authentication.sso', 'user.authentication.auth_via_mfa']) {
      const e = decode({ eventType, published: '2026-01-01T00:00:00Z', uuid: 'u', ...(outcome ? { outcome } : {}) });
      expect({ type: e.type, outcome: e.outcome, source_type: e.source_type }).toEqual({
        type: 'other',
        outcome: 'unknown',
        source_type: eventType,
      });
    }
  });

  it('counts one Identity Engine sign-in (password, factor, session, SSO into an app) as one login', () => {
    const step = (eventType: string, i: number, extra: Record<string, unknown> = {}) => ({
      uuid: `5e1f0c2a-8b7d-11ef-9a1b-0242ac1200${i}0`,
      published: `2026-11-20T08:15:4${i}.000Z`,
      eventType,
      actor: {
        id: '00u1abcdEFGHijkl0h7',
        type: 'User',
        alternateId: 'alice.smith@example.com',
        displayName: 'Alice Smith',
      },
      client: { ipAddress: '81.2.69.142', userAgent: { rawUserAgent: 'Mozilla/5.0' } },
      authenticationContext: { externalSessionId: '102bZDNFfWaQSyEZQuDgWt-uQ' },
      outcome: { result: 'SUCCESS', reason: null },
      ...extra,
    });
    const types = [
      step('user.authentication.verify', 1, { debugContext: { debugData: { authenticator: 'Password' } } }),
      step('user.authentication.verify', 2, { debugContext: { debugData: { authenticator: 'Okta Verify' } } }),
      step('user.session.start', 3),
      step('user.authentication.sso', 4, {
        target: [{ id: '0oa9', type: 'AppInstance', alternateId: 'Salesforce', displayName: 'Salesforce.com' }],
      }),
    ].map((r) => decode(r).type);
    expect(types).toEqual(['auth.verify.success', 'auth.verify.success', 'login.success', 'session.use.success']);
    expect(types.filter((t) => t === 'login.success')).toHaveLength(1);
  });

  it('keeps types that do not depend on the outcome whatever it says', () => {
    const e = decode({
      eventType: 'user.account.lock',
      published: '2026-01-01T00:00:00Z',
      uuid: 'u',
      outcome: { result: 'UNKNOWN' },
    });
    expect([e.type, e.outcome]).toEqual(['account.blocked', 'unknown']);
  });

  it('does not accept Auth0 or canonical records', () => {
    expect(oktaDecoder.accepts({ type: 'f', date: '2026-01-01T00:00:00Z', log_id: '1' })).toBe(false);
    expect(oktaDecoder.accepts({ type: 'login.failure', time: 1 })).toBe(false);
  });

  it.each<[Record<string, unknown>, string, string]>([
    [{ eventType: 'user.session.start', published: 'yesterday' }, 'invalid_time', 'published'],
    [{ eventType: 'user.session.start', published: '1999-12-31T23:59:59Z' }, 'invalid_time', 'published'],
    [{ eventType: 'user.session.start', published: '2031-01-01T00:00:00Z' }, 'invalid_time', 'published'],
    [
      { eventType: 'user.session.start', published: '2026-01-01T00:00:00Z', client: { ipAddress: {} } },
      'invalid_field',
      'client.ipAddress',
    ],
    [{ eventType: 'user.session.start', published: '2026-01-01T00:00:00Z', target: 'x' }, 'invalid_field', 'target'],
    [
      { eventType: 'user.session.start', published: '2026-01-01T00:00:00Z', securityContext: { asNumber: 'AS5607' } },
      'invalid_field',
      'securityContext.asNumber',
    ],
  ])('rejects %j as %s at %s', (record, kind, field) => {
    const result = oktaDecoder.decode(record, ctx);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.kind).toBe(kind);
      expect(result.error.field).toBe(field);
      expect(result.error.retriable).toBe(false);
    }
  });
});
