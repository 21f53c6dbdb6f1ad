import { readdirSync, readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { auth0Decoder } from '../../../src/events/auth0Decoder.js';
import { AUTH0_TYPES, auth0Type } from '../../../src/events/auth0Types.js';
import { EVENT_TYPES, type AuthEvent } from '../../../src/events/authEvent.js';
import type { DecodeContext } from '../../../src/events/decoder.js';
import { at, type Json } from '../../../src/events/fields.js';

const ctx: DecodeContext = { now: Date.UTC(2030, 0, 1), maxFutureMs: 86_400_000, fallbackId: 'h-1' };
const fixtureDir = 'test/fixtures/events/auth0';
const fixture = (code: string) => JSON.parse(readFileSync(`${fixtureDir}/${code}.json`, 'utf8')) as Json;
const fixtureCodes = readdirSync(fixtureDir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.slice(0, -'.json'.length))
  .sort();
const validateEvent = new Ajv({ strict: false }).compile(
  JSON.parse(readFileSync('schemas/auth-event.schema.json', 'utf8')) as object,
);

function decode(record: Json): AuthEvent {
  expect(auth0Decoder.accepts(record)).toBe(true);
  const result = auth0Decoder.decode(record, ctx);
  if (!result.ok) throw new Error(result.error.message);
  return result.event;
}

function decodeError(record: Json) {
  const result = auth0Decoder.decode(record, ctx);
  if (result.ok) throw new Error(`decoded, but an error was expected: ${JSON.stringify(result.event)}`);
  return { kind: result.error.kind, field: result.error.field };
}

const base = (): Json => ({
  log_id: '90020240115103000000000000000000000000000000000001',
  date: '2024-01-15T10:30:00.000Z',
  type: 's',
});

/** Every code the issues name, with the category and outcome it must map to. */
const ISSUE_CODES: Record<string, [string, string]> = {
  s: ['login.success', 'success'],
  scoa: ['login.success', 'success'],
  f: ['login.failure', 'failure'],
  fp: ['login.failure', 'failure'],
  fu: ['login.failure', 'failure'],
  fcoa: ['login.failure', 'failure'],
  fco: ['login.failure', 'failure'],
  ss: ['signup.success', 'success'],
  fs: ['signup.failure', 'failure'],
  sv: ['email.verification.success', 'success'],
  fv: ['email.verification.failure', 'failure'],
  // sce and fce were `other` until issue 14 gave account changes their own types (below).
  scp: ['password.change.success', 'success'],
  fcp: ['password.change.failure', 'failure'],
  scpr: ['password.reset.request', 'success'],
  fcpr: ['password.reset.request', 'failure'],
  pwd_leak: ['password.leaked', 'unknown'],
  signup_pwd_leak: ['password.leaked', 'unknown'],
  reset_pwd_leak: ['password.leaked', 'unknown'],
  limit_wc: ['account.blocked', 'failure'],
  limit_sul: ['account.blocked', 'failure'],
  limit_mu: ['attack.blocked', 'failure'],
  limit_phone: ['attack.blocked', 'failure'],
  gd_send_sms: ['mfa.sms.sent', 'success'],
  gd_send_voice: ['mfa.voice.sent', 'success'],
  gd_send_pn: ['mfa.push.sent', 'success'],
  gd_auth_rejected: ['mfa.push.rejected', 'failure'],
  gd_auth_succeed: ['mfa.success', 'success'],
  gd_auth_failed: ['mfa.failure', 'failure'],
  gd_otp_rate_limit_exceed: ['mfa.failure', 'failure'],
  gd_enrollment_complete: ['mfa.enrolled', 'success'],
  gd_unenroll: ['mfa.unenrolled', 'success'],
  seacft: ['token.exchange.success', 'success'],
  // The issue writes `fecft`; Auth0's code for the failed exchange paired with `seacft` is `feacft`.
  feacft: ['token.exchange.failure', 'failure'],
  sertft: ['token.refresh.success', 'success'],
  fertft: ['token.refresh.failure', 'failure'],
  ferrt: ['token.refresh.reuse', 'failure'],
  slo: ['logout', 'success'],
  flo: ['logout', 'failure'],
  // Issue 14: account changes, the first thing a takeover changes.
  sce: ['account.email.change', 'success'],
  fce: ['account.email.change', 'failure'],
  scpn: ['account.phone.change', 'success'],
  scu: ['account.username.change', 'success'],
  sdu: ['account.deleted', 'success'],
  du: ['account.deleted', 'success'],
  sapi: ['management.write', 'success'],
  fapi: ['management.failure', 'failure'],
};

describe('AUTH0_TYPES', () => {
  it('maps every code the issue names as the issue says', () => {
    for (const [code, [type, outcome]] of Object.entries(ISSUE_CODES))
      expect({ code, ...AUTH0_TYPES[code] }, code).toMatchObject({ code, type, outcome });
  });

  it('uses only canonical categories and describes every code', () => {
    for (const [code, entry] of Object.entries(AUTH0_TYPES)) {
      expect(EVENT_TYPES, code).toContain(entry.type);
      expect(['success', 'failure', 'unknown'], code).toContain(entry.outcome);
      expect(entry.description.length, code).toBeGreaterThan(3);
    }
  });

  it('maps unknown codes, including Object.prototype names, to other with outcome unknown', () => {
    for (const code of ['brand_new_code', 'constructor', '__proto__', 'toString', 'hasOwnProperty'])
      expect(auth0Type(code), code).toMatchObject({ type: 'other', outcome: 'unknown' });
  });
});

describe('Auth0 decoder on one fixture per code', () => {
  it('has a fixture for every code of the table, and no other', () => {
    expect(fixtureCodes).toEqual(Object.keys(AUTH0_TYPES).sort());
  });

  describe.each(fixtureCodes)('%s', (code) => {
    const record = fixture(code);
    const str = (path: string) => {
      const v = at(record, path);
      return typeof v === 'string' && v !== '' ? v : undefined;
    };

    it('maps the common fields bare, and matches the canonical schema', () => {
      const e = decode(record);
      expect(validateEvent(e), JSON.stringify(validateEvent.errors)).toBe(true);
      expect(e.id).toBe(record.log_id);
      expect(e.time).toBe(Date.parse(record.date as string));
      expect(e.source).toBe('auth0');
      expect(e.source_type).toBe(code);
      // The sapi fixture (Auth0's schema example) gives an application the password grant.
      expect(e.type).toBe(code === 'sapi' ? 'admin.protection.weakened' : AUTH0_TYPES[code]!.type);
      expect(e.outcome).toBe(AUTH0_TYPES[code]!.outcome);
      expect(e.reason).toBe(record.description);
      expect(e.ip).toBe(str('ip'));
      expect(e.user?.id).toBe(str('user_id'));
      expect(e.client?.id).toBe(str('client_id'));
      expect(e.client?.name).toBe(str('client_name'));
      expect(e.connection).toBe(str('connection'));
      expect(e.tenant).toBe('example-tenant');
      expect(e.user_agent).toBe(str('user_agent'));
      expect(e.session_id).toBe(str('details.session_id') ?? str('details.refresh_token.session_id'));
      expect(e.ja4).toBe(str('security_context.ja4'));
      expect(e.geo === undefined).toBe(record.location_info === undefined);
      expect(e.raw).toEqual({ log_id: record.log_id, data: record });
    });

    it('decodes the log-stream wrapper the same, keeping the wrapper as raw', () => {
      const wrapper = { log_id: record.log_id, data: record };
      const e = decode(wrapper);
      expect(e).toEqual(decode(record));
      expect(e.raw).toBe(wrapper);
    });
  });

  it('takes geo, user and reason from a successful login, field by field', () => {
    const record = fixture('s');
    expect(decode(record)).toEqual({
      id: '90020240115103000a0f1490a20d0211c997b44bc357e197',
      time: Date.UTC(2024, 0, 15, 10, 30),
      source: 'auth0',
      type: 'login.success',
      source_type: 's',
      outcome: 'success',
      reason: 'Successful Login',
      user: { id: 'auth0|65a4f0c2e1b2c3d4e5f60718', name: 'alice@example.com', email_domain: 'example.com' },
      session_id: 'sess_Fq3v8xWbT0kLm2Np',
      client: { id: 'AbCdEf0123456789GhIjKlMnOpQrStUv', name: 'Example Web App' },
      connection: 'Username-Password-Authentication',
      tenant: 'example-tenant',
      ip: '203.0.113.7',
      geo: { country: 'DE', city: 'Berlin', lat: 52.52, lon: 13.405 },
      user_agent: 'Chrome 120.0.0 / Mac OS X 10.15.7',
      device_id: '7c3e9a1b5d2f4e6a8b0c',
      ja4: 't13d1516h2_8daaf6152771_02713d6af862',
      raw: { log_id: '90020240115103000a0f1490a20d0211c997b44bc357e197', data: record },
    });
  });

  it('maps silent authentication to the use of a session, which session rules see', () => {
    const e = decode(fixture('ssa'));
    expect([e.type, e.outcome, e.source_type]).toEqual(['session.use.success', 'success', 'ssa']);
    const failed = decode(fixture('fsa'));
    expect([failed.type, failed.outcome]).toEqual(['session.use.failure', 'failure']);
  });

  it('maps a wrong password with its place and no session', () => {
    const e = decode(fixture('fp'));
    expect(e).toMatchObject({ type: 'login.failure', outcome: 'failure', reason: 'Failed Login - Invalid Password' });
    expect(e.geo).toEqual({ country: 'BR', city: 'São Paulo', lat: -23.5475, lon: -46.6361 });
    expect(e.session_id).toBeUndefined();
  });

  it('takes the SMS and voice destination from the Guardian authenticator', () => {
    for (const code of ['gd_send_sms', 'gd_send_voice', 'gd_send_sms_failure', 'gd_enrollment_complete']) {
      const e = decode(fixture(code));
      expect(e.phone, code).toEqual({ number: '+14155550123' });
      expect(e.session_id, code).toBe('sess_Fq3v8xWbT0kLm2Np');
      expect(e.device_id, code).toBe('dev_2f6b1c9e8a7d');
    }
    expect(decode(fixture('gd_send_voice')).type).toBe('mfa.voice.sent');
    expect(decode(fixture('gd_send_sms_failure')).outcome).toBe('failure');
  });

  it('takes the phone number from the request body for passwordless codes and signups', () => {
    expect(decode(fixture('cs')).phone).toEqual({ number: '+14155550123' });
    expect(decode(fixture('fs')).phone).toEqual({ number: '+14155550123' });
    expect(decode(fixture('scpn')).phone).toEqual({ number: '+14155550124' });
  });

  it('takes a throttled phone delivery destination from user_name', () => {
    const e = decode(fixture('limit_phone'));
    expect(e).toMatchObject({ type: 'attack.blocked', outcome: 'failure', phone: { number: '+14155550123' } });
    expect(e.user).toEqual({ id: 'auth0|65a4f0c2e1b2c3d4e5f60718', name: '+14155550123' });
  });

  it('maps refresh-token reuse as the Auth0 Detection Catalog describes it', () => {
    const e = decode(fixture('ferrt'));
    expect(e).toMatchObject({
      type: 'token.refresh.reuse',
      outcome: 'failure',
      reason: 'Unsuccessful Refresh Token exchange, reused refresh token detected',
      client: { id: 'AbCdEf0123456789GhIjKlMnOpQrStUv' },
    });
    expect(at(e.raw!, 'data.details.familyId')).toBe('example-familyId');
  });

  it('takes the session of a refresh-token exchange from the token', () => {
    const record = fixture('sertft');
    expect(at(record, 'details.session_id')).toBeUndefined();
    expect(decode(record)).toMatchObject({ type: 'token.refresh.success', session_id: 'sess_Fq3v8xWbT0kLm2Np' });
  });

  it('names the administrator of a Management API write', () => {
    const e = decode(fixture('sapi'));
    expect(e).toMatchObject({
      type: 'admin.protection.weakened',
      outcome: 'success',
      resource: { type: 'client', id: 'AbCdEf0123456789GhIjKlMnOpQrStUv' },
    });
    expect(e.user).toEqual({
      id: 'google-oauth2|104857392015',
      name: 'admin@example.com',
      email_domain: 'example.com',
    });
    expect(decode(fixture('fapi'))).toMatchObject({ type: 'management.failure', outcome: 'failure' });
  });

  it("flags an address on Auth0's deny list of known attackers (UntrustedIP)", () => {
    const record = fixture('s');
    const assessments = (at(record, 'details.riskAssessment.assessments') ?? {}) as Json;
    expect(decode(record).network).toBeUndefined();
    assessments.UntrustedIP = { code: 'found_on_deny_list', confidence: 'low', details: { ip: '185.220.101.34' } };
    expect(decode(record).network).toEqual({ threat: true });
    assessments.UntrustedIP = { code: 'not_found_on_deny_list', confidence: 'high' };
    expect(decode(record).network).toBeUndefined();
  });

  it('says when the account named does not exist (fu, a failed reset) or exists (fp, a refused signup)', () => {
    expect(decode(fixture('fu')).user?.exists).toBe(false);
    expect(decode(fixture('fp')).user?.exists).toBe(true);
    expect(decode(fixture('f')).user?.exists).toBeUndefined();
    const reset = fixture('fcpr');
    expect(decode(reset).user?.exists).toBeUndefined();
    reset.description = 'User does not exist.';
    expect(decode(reset).user?.exists).toBe(false);
    const signup = fixture('fs');
    expect(decode(signup).user?.exists).toBeUndefined();
    signup.details = { error: { message: 'The user already exists.' } };
    expect(decode(signup).user?.exists).toBe(true);
  });

  it('reads a pre-login assessment that asked for a CAPTCHA as bot.detected', () => {
    const record = fixture('pla');
    expect(decode(record).type).toBe('other');
    (record.details as Json).requiresVerification = true;
    expect(decode(record)).toMatchObject({ type: 'bot.detected', source_type: 'pla' });
  });

  it('takes the user of an email verification from details.email', () => {
    const record = fixture('sv');
    expect(record.user_name).toBe('alice@example.com');
    delete record.user_name;
    expect(decode(record).user).toEqual({
      id: 'auth0|65a4f0c2e1b2c3d4e5f60718',
      name: 'alice@example.com',
      email_domain: 'example.com',
    });
  });
});

describe('Auth0 decoder forms and fallbacks', () => {
  it('prefers the wrapper log_id, then log_id, then _id, then the content hash', () => {
    const inner = { ...base(), log_id: 'inner' };
    expect(decode({ log_id: 'outer', data: inner }).id).toBe('outer');
    expect(decode({ data: inner }).id).toBe('inner');
    const legacy: Json = { ...base(), _id: 'legacy-1' };
    delete legacy.log_id;
    expect(decode(legacy)).toMatchObject({ id: 'legacy-1', raw: { log_id: 'legacy-1', data: legacy } });
    const anonymous = { date: '2024-01-15T10:30:00Z', type: 'fp', description: 'Wrong email or password.' };
    expect(decode(anonymous)).toMatchObject({ id: 'h-1', raw: { data: anonymous } });
    expect(decode(anonymous).raw).not.toHaveProperty('log_id');
  });

  it('leaves out what the record does not give, and empty or null values', () => {
    const record: Json = {
      ...base(),
      user_name: '',
      client_id: null,
      connection: '',
      details: null,
      location_info: {},
    };
    expect(decode(record)).toEqual({
      id: record.log_id,
      time: Date.UTC(2024, 0, 15, 10, 30),
      source: 'auth0',
      type: 'login.success',
      source_type: 's',
      outcome: 'success',
      raw: { log_id: record.log_id, data: record },
    });
  });

  it('maps an unknown code to other with outcome unknown', () => {
    expect(decode({ ...base(), type: 'brand_new_code' })).toMatchObject({
      type: 'other',
      outcome: 'unknown',
      source_type: 'brand_new_code',
    });
  });

  it('reads the reason from details.error when there is no description', () => {
    const object = { ...base(), type: 'f', details: { error: { message: 'Callback URL mismatch.' } } };
    expect(decode(object).reason).toBe('Callback URL mismatch.');
    const text = { ...base(), type: 'fn', details: { error: 'Twilio rejected the number' } };
    expect(decode(text).reason).toBe('Twilio rejected the number');
    const online = { ...base(), type: 'fertft', details: { failure_reason: 'grant_revoked' } };
    expect(decode(online).reason).toBe('grant_revoked');
    const long = { ...base(), description: 'x'.repeat(10_000) };
    expect(decode(long).reason).toHaveLength(4096);
  });

  it('normalises location_info: lower-case codes, country names, numeric strings', () => {
    const geo = (location_info: Json) => decode({ ...base(), location_info }).geo;
    expect(geo({ country_code: 'de', latitude: '52.52', longitude: '13.405' })).toEqual({
      country: 'DE',
      lat: 52.52,
      lon: 13.405,
    });
    expect(geo({ country_name: 'Germany', city_name: 'Berlin' })).toEqual({ country: 'DE', city: 'Berlin' });
  });

  it('prefers the authenticator phone, and only takes a phone-shaped user_name for phone deliveries', () => {
    const sms = (details: Json, user_name = 'alice@example.com') =>
      decode({ ...base(), type: 'gd_send_sms', user_name, details }).phone;
    expect(
      sms({ authenticator: { phone_number: '+14155550001' }, enrollment: { phone_number: '+14155550002' } }),
    ).toEqual({ number: '+14155550001' });
    expect(sms({ authenticator: { phone_number: null }, enrollment: { phone_number: '+14155550002' } })).toEqual({
      number: '+14155550002',
    });
    expect(sms({})).toBeUndefined();
    expect(sms({}, '+14155550003')).toEqual({ number: '+14155550003' });
    expect(decode({ ...base(), type: 's', user_name: '+14155550003' }).phone).toBeUndefined();
  });

  it('prefers the browser fingerprint of a risk assessment to the Guardian device', () => {
    const details = {
      device_id: 'dev_guardian',
      riskAssessment: { assessments: { NewDevice: { code: 'low', confidence: 'high', details: { device: 'fp-1' } } } },
    };
    expect(decode({ ...base(), details }).device_id).toBe('fp-1');
    expect(decode({ ...base(), details: { device_id: 'dev_guardian' } }).device_id).toBe('dev_guardian');
  });

  it('tolerates a details that is no object, as the schemas of several codes allow', () => {
    expect(decode({ ...base(), type: 'limit_wc', details: 'blocked' })).toMatchObject({ type: 'account.blocked' });
  });

  it('gives one tenant one name, whether a record says tenant_name or only its auth0.com hostname', () => {
    const named = decode({ ...base(), tenant_name: 'acme-prod', hostname: 'acme-prod.us.auth0.com' });
    const hostOnly = decode({ ...base(), hostname: 'acme-prod.us.auth0.com' });
    const legacyHost = decode({ ...base(), hostname: 'ACME-PROD.auth0.com' });
    const euHost = decode({ ...base(), hostname: 'acme-prod.eu.auth0.com' });
    expect([named.tenant, hostOnly.tenant, legacyHost.tenant, euHost.tenant]).toEqual([
      'acme-prod',
      'acme-prod',
      'acme-prod',
      'acme-prod',
    ]);
  });

  it('leaves the tenant out rather than naming it by a custom domain', () => {
    expect(decode({ ...base(), hostname: 'login.example.com' }).tenant).toBeUndefined();
    expect(decode({ ...base(), tenant_name: 'acme-prod', hostname: 'login.example.com' }).tenant).toBe('acme-prod');
  });
});

describe('Auth0 decoder accepts', () => {
  it('bare records and the log-stream wrapper', () => {
    expect(auth0Decoder.accepts(base())).toBe(true);
    expect(auth0Decoder.accepts({ log_id: 'x', data: base() })).toBe(true);
    expect(auth0Decoder.accepts({ _id: 'x', date: '2024-01-15T10:30:00Z', type: 'fp' })).toBe(true);
    // Recognisably Auth0 but broken: accepted, so the error names the field instead of the format.
    expect(auth0Decoder.accepts({ ...base(), type: 42 })).toBe(true);
  });

  it('nothing else: Okta events, canonical events, records without Auth0 fields', () => {
    const okta = {
      uuid: '9f2a4c1e-8b7d-11ef-9a1b-0242ac120002',
      published: '2024-01-15T10:30:00Z',
      eventType: 'user.session.start',
      date: '2024-01-15T10:30:00Z',
      type: 'x',
      description: 'd',
    };
    expect(auth0Decoder.accepts(okta)).toBe(false);
    expect(auth0Decoder.accepts({ log_id: 'x', data: okta })).toBe(false);
    const canonical = { id: 'e-1', time: 1705314600000, source: 'generic', type: 'login.success', outcome: 'success' };
    expect(auth0Decoder.accepts(canonical)).toBe(false);
    expect(auth0Decoder.accepts({ ...canonical, date: '2024-01-15T10:30:00Z', description: 'd' })).toBe(false);
    expect(auth0Decoder.accepts({ ...canonical, type: 'other', date: '2024-01-15', user_id: 'u' })).toBe(false);
    expect(auth0Decoder.accepts({ type: 's', date: '2024-01-15T10:30:00Z' })).toBe(false);
    expect(auth0Decoder.accepts({ log_id: 'x', data: 'not an object' })).toBe(false);
    expect(auth0Decoder.accepts({})).toBe(false);
  });
});

describe('Auth0 decoder errors', () => {
  it('rejects a type that is no string, naming the field as sent', () => {
    expect(decodeError({ ...base(), type: 42 })).toEqual({ kind: 'invalid_field', field: 'type' });
    expect(decodeError({ ...base(), type: '' })).toEqual({ kind: 'invalid_field', field: 'type' });
    expect(decodeError({ log_id: 'x', data: { ...base(), type: ['s'] } })).toEqual({
      kind: 'invalid_field',
      field: 'data.type',
    });
  });

  it('rejects fields of the wrong type', () => {
    const cases: [Json, string][] = [
      [{ ip: { v4: '203.0.113.7' } }, 'ip'],
      [{ user_id: ['auth0|1'] }, 'user_id'],
      [{ user_name: true }, 'user_name'],
      [{ client_id: {} }, 'client_id'],
      [{ details: { session_id: { id: 'sess-1' } } }, 'details.session_id'],
      [{ location_info: 'Berlin' }, 'location_info'],
      [{ location_info: { latitude: 'north' } }, 'location_info.latitude'],
      [{ security_context: { ja4: { a: 1 } } }, 'security_context.ja4'],
    ];
    for (const [patch, field] of cases)
      expect(decodeError({ ...base(), ...patch }), field).toEqual({ kind: 'invalid_field', field });
    expect(decodeError({ log_id: 'x', data: { ...base(), ip: [1] } })).toEqual({
      kind: 'invalid_field',
      field: 'data.ip',
    });
  });

  it('rejects missing, unparsable, ancient and far-future dates', () => {
    const missing = base();
    delete missing.date;
    for (const record of [
      missing,
      { ...base(), date: 'yesterday' },
      { ...base(), date: { $date: '2024-01-15T10:30:00Z' } },
      { ...base(), date: '1999-12-31T23:59:59Z' },
      { ...base(), date: '2030-01-03T00:00:00Z' },
    ])
      expect(decodeError(record)).toEqual({ kind: 'invalid_time', field: 'date' });
    expect(decodeError({ log_id: 'x', data: { ...base(), date: 'soon' } })).toEqual({
      kind: 'invalid_time',
      field: 'data.date',
    });
  });

  it('never throws, whatever the record holds', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.boolean(), (extra, wrapped) => {
        const record = { ...base(), ...extra };
        const result = auth0Decoder.decode(wrapped ? { log_id: 'x', data: record } : record, ctx);
        if (result.ok) expect(result.event.source).toBe('auth0');
        else expect(['invalid_field', 'invalid_time']).toContain(result.error.kind);
      }),
      { numRuns: 300 },
    );
  });
});
