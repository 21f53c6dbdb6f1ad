// The Auth0 Detection Catalog, shipped unmodified as an optional pack (packs/auth0-catalog):
// it loads, and each of its rules fires on Auth0 records shaped like the ones it hunts and
// stays quiet on a look-alike. Records go through the Auth0 decoder, as in production.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import { loadRulesWithValues } from '../../../src/rules/overrides.js';
import { testEvents } from '../../../src/rules/testRunner.js';

const pack = 'packs/auth0-catalog';
const values = 'config/auth0-catalog.values.example.yml';
const set = loadRulesWithValues([pack], values);

type Rec = Record<string, unknown>;
let seq = 0;
/** An Auth0 log in the stream wrapper, with the fields every log has. */
const log = (type: string, data: Rec = {}): Rec => ({
  log_id: `9002026010100000000000000000000000000000000000${String(++seq).padStart(4, '0')}`,
  data: {
    type,
    ip: '203.0.113.7',
    user_agent: 'Chrome 131.0.0 / Windows 10.0.0',
    client_id: 'WebAppClient0123456789abcdefghij',
    client_name: 'Customer Portal',
    tenant_name: 'example-tenant',
    user_id: 'auth0|65a4f0c2e1b2c3d4e5f60718',
    user_name: 'alice@example.com',
    ...data,
  },
});
/** A Management API write: request and response as Auth0 logs them. */
const sapi = (description: string, request: Rec = {}, response: Rec | unknown[] = {}, data: Rec = {}): Rec =>
  log('sapi', {
    description,
    client_id: 'AdminCliClient0123456789abcdefgh',
    user_id: 'google-oauth2|104857392015',
    user_name: undefined,
    details: {
      accessedSecrets: [],
      request: { method: 'patch', path: '/api/v2/', body: {}, ...request },
      response: { statusCode: 200, body: response },
    },
    ...data,
  });

const mgmtAudience = 'https://example-tenant.us.auth0.com/api/v2/';

/** Per catalog file: records its alerting rule must fire on, and a look-alike it must not. */
const CASES: Record<string, { attack: Rec[]; benign: Rec[] }> = {
  attack_protection_features_turned_off: {
    attack: [sapi('Update Suspicious IP Throttling settings', { body: { enabled: false } }, { enabled: false })],
    benign: [sapi('Update Suspicious IP Throttling settings', { body: { enabled: true } }, { enabled: true })],
  },
  bot_detection_turned_off: {
    attack: [sapi('Create or update the anomaly detection captcha', {}, { policy: 'off' })],
    benign: [sapi('Create or update the anomaly detection captcha', {}, { policy: 'always' })],
  },
  breached_password_detection_settings_manipulated: {
    attack: [sapi('Update Breached Password Detection settings', {}, { enabled: false, shields: ['block'] })],
    benign: [
      sapi(
        'Update Breached Password Detection settings',
        {},
        { enabled: true, shields: ['block'], stage: { 'pre-user-registration': { shields: ['block'] } } },
      ),
    ],
  },
  brute_force_critical_settings_manipulated: {
    attack: [sapi('Update Brute-force settings', {}, { enabled: true, shields: ['user_notification'] })],
    benign: [sapi('Update Brute-force settings', {}, { enabled: true, shields: ['block', 'user_notification'] })],
  },
  client_with_overpermissive_granted_scopes: {
    attack: [sapi('Update a client', {}, {}, { client_id: 'UnknownTool0123456789abcdefghijk' })],
    benign: [sapi('Update a client', {}, {}, { client_id: 'DashboardGlobalClient0123456789ab' })],
  },
  credential_stuffing_signals: {
    attack: [log('fp', { user_name: 'a@example.com' }), log('fu', { user_name: 'b@example.com' })],
    benign: [log('fp'), log('s')],
  },
  cross_origin_authentication_enabled: {
    attack: [sapi('Update a client', {}, { cross_origin_authentication: true })],
    benign: [sapi('Update a client', {}, { cross_origin_authentication: false })],
  },
  grant_mgn_api_scopes: {
    attack: [
      sapi(
        'Update client grant',
        { body: { scope: ['read:users', 'delete:users'] } },
        { audience: mgmtAudience, client_id: 'UnknownTool0123456789abcdefghijk' },
      ),
    ],
    benign: [
      sapi(
        'Update client grant',
        { body: { scope: ['delete:users'] } },
        { audience: mgmtAudience, client_id: 'TrustedDeployTool0123456789abcdef' },
      ),
      sapi(
        'Update client grant',
        { body: { scope: ['update:orders'] } },
        { audience: 'https://api.example.com/orders', client_id: 'UnknownTool0123456789abcdefghijk' },
      ),
    ],
  },
  insecure_grants_enabled_for_applications: {
    attack: [sapi('Update a client', {}, { grant_types: ['authorization_code', 'password'] })],
    benign: [sapi('Update a client', {}, { grant_types: ['authorization_code', 'refresh_token'] })],
  },
  liquidjs_xss_vulnerability: {
    attack: [sapi('Update tenant settings', {}, { error_page: { html: '<p>{{ user.name }}</p>' } })],
    // The catalog's expression also matches filtered variables; a page without any is the look-alike.
    benign: [sapi('Update tenant settings', {}, { error_page: { html: '<p>Sorry, something went wrong.</p>' } })],
  },
  logins_from_suspicious_tls_fingerprints: {
    attack: [log('s')],
    benign: [log('f')],
  },
  logins_or_signups_from_suspicious_ips: {
    attack: [log('pla', { details: { requiresVerification: true } }), log('s')],
    benign: [log('s'), log('s')],
  },
  many_failed_authorization_requests: {
    attack: [log('f', { description: 'Unknown client: NoSuchClient0123' })],
    benign: [log('f', { description: 'Wrong email or password.' })],
  },
  many_unverified_accounts_created: {
    attack: [log('ss', { user_name: 'bot1@example.net' })],
    // `lte: 1` is checked as each event arrives (authwatch does not wait for the 30-day window to
    // close), so every signup with an email counts; a signup by phone number has no domain to collect.
    benign: [log('ss', { user_name: '+14155550123' })],
  },
  mfa_donwgrade_risk_assessment_disabled: {
    attack: [sapi('Updates risk assessment configs', {}, { AfterAuthentication: false })],
    benign: [sapi('Updates risk assessment configs', {}, { AfterAuthentication: true })],
  },
  mfa_downgrade_detect_disable_factors: {
    attack: [sapi('Update multi-factor authentication type', { body: { enabled: false } })],
    benign: [sapi('Update multi-factor authentication type', { body: { enabled: true } })],
  },
  mfa_downgrade_disable_mfa_policies: {
    attack: [sapi('Update multi-factor authentication policies', {}, ['confidence-score'])],
    benign: [sapi('Update multi-factor authentication policies', {}, [])],
  },
  multiple_phone_numbers_are_registered_as_mfa: {
    attack: [log('gd_enrollment_complete', { description: 'Guardian - Enrollment complete (sms)' })],
    benign: [log('gd_enrollment_complete', { description: 'Guardian - Enrollment complete (otp)' })],
  },
  rapid_creation_of_clients_with_dynamic_registration: {
    attack: [sapi('Dynamic client registration')],
    benign: [sapi('Create client')],
  },
  refresh_token_from_multiple_user_agent: {
    attack: [log('sertft', { details: { familyId: 'fam1' } })],
    benign: [log('fertft', { details: { familyId: 'fam1' } })],
  },
  refresh_token_from_too_many_locations: {
    attack: [log('sertft', { details: { familyId: 'fam1' } })],
    benign: [log('fertft', { details: { familyId: 'fam1' } })],
  },
  refresh_token_reuse: {
    attack: [log('ferrt', { description: 'Unsuccessful Refresh Token exchange, reused refresh token detected' })],
    benign: [log('sertft', { description: 'Successful exchange of refresh token for access token' })],
  },
  risk_for_mfa_push_fatigue: {
    attack: [log('gd_send_pn', { description: 'Guardian - Second factor notification sent' })],
    benign: [log('gd_send_sms', { description: 'Guardian - Second factor sms sent' })],
  },
  risk_of_copying_client_credentials: {
    attack: [
      log('mgmt_api_read', {
        description: 'Get client by ID',
        details: { accessedSecrets: ['client_secret'], response: { body: { client_id: 'critical-client_id-1' } } },
      }),
    ],
    benign: [
      log('mgmt_api_read', {
        description: 'Get client by ID',
        details: { accessedSecrets: ['client_secret'], response: { body: { client_id: 'SomeSpa0123456789' } } },
      }),
    ],
  },
  risk_of_copying_the_most_powerful_token: {
    attack: [log('seccft', { client_id: 'ApiExplorerClient0123456789abcdef' })],
    benign: [log('seccft', { client_id: 'BackOfficeWorker0123456789abcdef' })],
  },
  risk_of_signup_fraud_by_disposable_domains: {
    attack: [log('ss', { user_name: 'x1@mailinator.com' })],
    benign: [log('ss', { user_name: 'dave@example.org' })],
  },
  risk_of_signup_fraud_by_volume: {
    attack: [log('ss', { user_name: 'new@example.org' })],
    benign: [log('s')],
  },
  risk_of_tenant_takeover: {
    attack: [
      sapi('Create tenant invitations for a given client', {
        body: { owners: ['intruder@example.net'], roles: ['owner'] },
      }),
    ],
    benign: [
      sapi('Create tenant invitations for a given client', {
        body: { owners: ['auditor@example.com'], roles: ['viewer - config'] },
      }),
    ],
  },
  same_guardian_app_is_registered_for_mfa_in_multiple_users: {
    attack: [log('gd_enrollment_complete', { description: 'Guardian - Enrollment complete' })],
    benign: [log('gd_enrollment_complete', { description: 'Guardian - Enrollment complete (sms)' })],
  },
  sms_bombarding: {
    attack: [log('gd_send_sms', { description: 'Guardian - Second factor sms sent' })],
    benign: [log('gd_send_pn', { description: 'Guardian - Second factor notification sent' })],
  },
  suspicious_ip_throttling_critical_settings_manipulated: {
    attack: [sapi('Update Suspicious IP Throttling settings', {}, { enabled: true })],
    benign: [sapi('Update Brute-force settings', {}, { enabled: true, shields: ['block'] })],
  },
  unrecognized_ip_in_allowlist: {
    attack: [sapi('Update Brute-force settings', { body: { allowlist: ['198.51.100.0/24'] } })],
    benign: [sapi('Update tenant settings', { body: { friendly_name: 'Example' } })],
  },
  use_of_auth0_tenant_name_url: {
    attack: [log('s', { hostname: 'example-tenant.us.auth0.com' })],
    benign: [log('s', { hostname: 'login.example.com' })],
  },
};

/** Alerts of a catalog file's alerting rule over the records, through a fresh engine. */
function alertsOf(file: string, records: Rec[]): number {
  const rule = [...set.detections, ...set.correlations].find(
    (r) => set.alerting.has(r.uid) && r.file.endsWith(`/${file}.yml`),
  );
  if (rule === undefined) throw new Error(`no alerting rule in ${file}.yml`);
  const engine = new Engine(set);
  const out = { alerts: [], actions: [], dropped: [] };
  for (const event of testEvents('auth0', records, file)) engine.process(event, out);
  return engine.flush(out).alerts.filter((a) => a.rule_id === (rule.id ?? rule.uid)).length;
}

describe('the Auth0 Detection Catalog pack (packs/auth0-catalog)', () => {
  const files = readdirSync(pack)
    .filter((f) => f.endsWith('.yml'))
    .map((f) => f.slice(0, -'.yml'.length));

  it('holds the 33 rule files and the licence they come under, and nothing else', () => {
    expect(files).toHaveLength(33);
    expect(readdirSync(pack).filter((f) => !f.endsWith('.yml'))).toEqual(['LICENSE']);
  });

  it('loads with the example values: no error, and no warning about an unset placeholder', () => {
    expect(set.diagnostics.errorCount).toBe(0);
    expect(set.diagnostics.items.filter((d) => d.code === 'AW1213')).toEqual([]);
    expect(new Set([...set.detections, ...set.correlations].map((r) => r.file)).size).toBe(33);
  });

  it('has a case for every file', () => {
    expect(Object.keys(CASES).sort()).toEqual([...files].sort());
  });

  it.each(Object.entries(CASES))('%s fires on its attack and not on the look-alike', (file, c) => {
    expect(alertsOf(file, c.attack), 'attack').toBeGreaterThan(0);
    expect(alertsOf(file, c.benign), 'look-alike').toBe(0);
  });

  it('is not part of the default pack: detections/ does not load it', () => {
    expect(readdirSync('detections').some((f) => f.includes('catalog'))).toBe(false);
  });
});
