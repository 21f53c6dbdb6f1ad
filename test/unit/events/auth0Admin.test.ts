// Auth0 Management API writes, shaped like the `sapi` records a tenant logs (request method,
// path and body; response status and body), read into the canonical admin types.
import { describe, expect, it } from 'vitest';
import { auth0Decoder } from '../../../src/events/auth0Decoder.js';
import type { AuthEvent } from '../../../src/events/authEvent.js';
import type { DecodeContext } from '../../../src/events/decoder.js';
import type { ValidateFunction } from 'ajv';
import { validate } from '../../../src/events/eventValidator.generated.js';

const validateEvent = validate as unknown as ValidateFunction;

const ctx: DecodeContext = { fallbackId: 'fallback', maxFutureMs: 3_600_000, now: Date.parse('2026-12-01T00:00:00Z') };

function sapi(description: string, method: string, path: string, body: unknown, response: unknown = {}) {
  return {
    log_id: '90020261130101500000000000000000000000000000000001',
    data: {
      date: '2026-11-30T10:15:00.000Z',
      type: 'sapi',
      description,
      client_id: 'dashboardClient0123456789abcdefgh',
      client_name: '',
      ip: '185.220.101.34',
      user_agent: 'Chrome 131.0.0 / Mac OS X 10.15.7',
      user_id: 'google-oauth2|104857392015',
      tenant_name: 'example-tenant',
      details: {
        accessedSecrets: [],
        request: {
          method,
          path,
          query: {},
          body,
          channel: 'https://manage.auth0.com/',
          ip: '185.220.101.34',
          auth: {
            user: { user_id: 'google-oauth2|104857392015', name: 'Admin Example', email: 'admin@example.com' },
            strategy: 'jwt',
            credentials: { jti: '3f2a9c7e5b1d4a6f' },
          },
        },
        response: { statusCode: 200, body: response },
      },
    },
  };
}

function decode(record: Record<string, unknown>): AuthEvent {
  const r = auth0Decoder.decode(record, ctx);
  if (!r.ok) throw new Error(r.error.message);
  expect(validateEvent(r.event), JSON.stringify(validateEvent.errors)).toBe(true);
  return r.event;
}

const ap = '/api/v2/attack-protection';

describe('Auth0 Management API writes: protections weakened or changed', () => {
  it.each([
    [
      'brute-force protection turned off',
      sapi('Update Brute-force settings', 'patch', `${ap}/brute-force-protection`, { enabled: false }),
      'admin.protection.weakened',
      'brute_force_protection',
    ],
    [
      'brute-force protection left on but no longer blocking',
      sapi(
        'Update Brute-force settings',
        'patch',
        `${ap}/brute-force-protection`,
        { shields: ['user_notification'] },
        { enabled: true, shields: ['user_notification'], mode: 'count_per_identifier_and_ip', max_attempts: 10 },
      ),
      'admin.protection.weakened',
      'brute_force_protection',
    ],
    [
      'brute-force threshold tuned, still blocking',
      sapi(
        'Update Brute-force settings',
        'patch',
        `${ap}/brute-force-protection`,
        { max_attempts: 20 },
        { enabled: true, shields: ['block', 'user_notification'], max_attempts: 20 },
      ),
      'admin.protection.change',
      'brute_force_protection',
    ],
    [
      'breached password detection off',
      sapi('Update Breached Password Detection settings', 'patch', `${ap}/breached-password-detection`, {
        enabled: false,
      }),
      'admin.protection.weakened',
      'breached_password_detection',
    ],
    [
      'suspicious IP throttling turned on',
      sapi('Update Suspicious IP Throttling settings', 'patch', `${ap}/suspicious-ip-throttling`, { enabled: true }),
      'admin.protection.change',
      'suspicious_ip_throttling',
    ],
    [
      'bot detection set to off',
      sapi('Create or update the anomaly detection captcha', 'patch', `${ap}/bot-detection`, {}, { policy: 'off' }),
      'admin.protection.weakened',
      'bot_detection',
    ],
    [
      'MFA policy emptied (MFA never asked)',
      sapi('Update multi-factor authentication policies', 'put', '/api/v2/guardian/policies', [], []),
      'admin.protection.weakened',
      'mfa_policy',
    ],
    [
      'MFA asked for every application',
      sapi(
        'Update multi-factor authentication policies',
        'put',
        '/api/v2/guardian/policies',
        ['all-applications'],
        ['all-applications'],
      ),
      'admin.protection.change',
      'mfa_policy',
    ],
    [
      'risk assessment after login turned off',
      sapi(
        'Updates risk assessment configs',
        'patch',
        '/api/v2/risk-assessments/settings',
        { AfterAuthentication: false },
        { AfterAuthentication: false },
      ),
      'admin.protection.weakened',
      'risk_assessment',
    ],
    [
      'an application given the implicit grant',
      sapi(
        'Update a client',
        'patch',
        '/api/v2/clients/0oaWebApp1234567890abcdefghijkl',
        { grant_types: ['authorization_code', 'implicit'] },
        { client_id: '0oaWebApp1234567890abcdefghijkl', grant_types: ['authorization_code', 'implicit'] },
      ),
      'admin.protection.weakened',
      'client',
    ],
  ])('%s', (_name, record, type, resourceType) => {
    const e = decode(record);
    expect(e).toMatchObject({
      type,
      source_type: 'sapi',
      outcome: 'success',
      user: { id: 'google-oauth2|104857392015', name: 'admin@example.com' },
      ip: '185.220.101.34',
      resource: { type: resourceType },
    });
  });

  it('names the MFA factor turned off', () => {
    const e = decode(
      sapi('Update multi-factor authentication type', 'put', '/api/v2/guardian/factors/sms', { enabled: false }),
    );
    expect(e).toMatchObject({ type: 'admin.protection.weakened', resource: { type: 'mfa_factor', id: 'sms' } });
  });

  it('reads a record without a request path by its description, as the catalog does', () => {
    const record = sapi('Update Brute-force settings', 'patch', `${ap}/brute-force-protection`, { enabled: false });
    delete (record.data.details.request as Record<string, unknown>).path;
    expect(decode(record)).toMatchObject({
      type: 'admin.protection.weakened',
      resource: { type: 'brute_force_protection' },
    });
  });

  it('leaves other writes as management.write, with no resource', () => {
    for (const record of [
      sapi('Update a client', 'patch', '/api/v2/clients/0oaWebApp1234567890abcdefghijkl', { name: 'Portal' }),
      sapi('Update a user', 'patch', '/api/v2/users/auth0%7C42', { blocked: false }),
      sapi('Create client', 'post', '/api/v2/clients', { name: 'Web', app_type: 'spa' }),
      // A GET is never logged as a write, and a method that does not change the setting is not a change.
      sapi('Update Brute-force settings', 'get', `${ap}/brute-force-protection`, {}),
    ]) {
      const e = decode(record);
      expect(e.type, record.data.description).toBe('management.write');
      expect(e.resource).toBeUndefined();
    }
  });
});

describe('Auth0 Management API writes: privileges and credentials', () => {
  it('Management API scopes granted to an application are a privilege grant, named by the application', () => {
    const m2m = 'm2mClient0123456789abcdefghijklm';
    const grant = { id: 'cgr_1a2b3c', client_id: m2m, audience: 'https://example-tenant.us.auth0.com/api/v2/' };
    const created = sapi(
      'Create client grant',
      'post',
      '/api/v2/client-grants',
      {
        client_id: m2m,
        audience: grant.audience,
        scope: ['delete:users'],
      },
      grant,
    );
    // An update's path holds the grant's own id; the resource is still the application.
    const updated = sapi(
      'Update client grant',
      'patch',
      '/api/v2/client-grants/cgr_1a2b3c',
      { scope: ['update:users'] },
      grant,
    );
    for (const record of [created, updated])
      expect(decode(record), record.data.description).toMatchObject({
        type: 'admin.privilege.grant',
        resource: { type: 'client_grant', id: m2m },
      });
  });

  it('scopes of the tenant’s own API are not administrator rights', () => {
    const e = decode(
      sapi('Create client grant', 'post', '/api/v2/client-grants', {
        client_id: 'm2mClient0123456789abcdefghijklm',
        audience: 'https://api.example.com/orders',
        scope: ['read:orders'],
      }),
    );
    expect(e.type).toBe('management.write');
  });

  it('a tenant member invited is a privilege grant', () => {
    const e = decode(
      sapi('Create tenant invitations for a given client', 'post', '/api/v2/tenants/invitations', {
        owners: ['newadmin@example.net'],
        roles: ['owner'],
      }),
    );
    expect(e).toMatchObject({ type: 'admin.privilege.grant', resource: { type: 'tenant_member' } });
  });

  it('a client secret rotated, and a machine-to-machine application created, are credentials created', () => {
    expect(
      decode(
        sapi('Rotate a client secret', 'post', '/api/v2/clients/m2mClient0123456789abcdefghijklm/rotate-secret', {}),
      ),
    ).toMatchObject({
      type: 'admin.credential.create',
      resource: { type: 'client_secret', id: 'm2mClient0123456789abcdefghijklm' },
    });
    expect(
      decode(
        sapi(
          'Create client',
          'post',
          '/api/v2/clients',
          { name: 'exporter', app_type: 'non_interactive' },
          {
            client_id: 'newM2m0123456789abcdefghijklmnop',
            app_type: 'non_interactive',
          },
        ),
      ),
    ).toMatchObject({
      type: 'admin.credential.create',
      resource: { type: 'client', id: 'newM2m0123456789abcdefghijklmnop' },
    });
  });

  it('a Management API read that returned a secret is a credential read, naming the client', () => {
    const record = sapi('Get client by ID', 'get', '/api/v2/clients/m2mClient0123456789abcdefghijklm', undefined, {
      client_id: 'm2mClient0123456789abcdefghijklm',
    });
    record.data.type = 'mgmt_api_read';
    (record.data.details as Record<string, unknown>).accessedSecrets = ['client_secret'];
    expect(decode(record)).toMatchObject({
      type: 'admin.credential.read',
      outcome: 'success',
      resource: { type: 'client', id: 'm2mClient0123456789abcdefghijklm' },
    });
  });

  it('a failed Management API call stays a management failure', () => {
    const record = sapi('Update Brute-force settings', 'patch', `${ap}/brute-force-protection`, { enabled: false });
    record.data.type = 'fapi';
    expect(decode(record)).toMatchObject({ type: 'management.failure', outcome: 'failure' });
  });
});
