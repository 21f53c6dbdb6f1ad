import { createHash } from 'node:crypto';
import type { SimEvent, SimType } from './simulate.js';

export type SimFormat = 'auth0' | 'okta' | 'canonical';
export const SIM_FORMATS: readonly SimFormat[] = ['auth0', 'okta', 'canonical'];

/** The Auth0 tenant-log code of each simulated type, by outcome where the code differs. */
const AUTH0_CODES: Readonly<Record<SimType, string>> = {
  'login.success': 's',
  'login.failure': 'fp',
  logout: 'slo',
  'signup.success': 'ss',
  'mfa.sms.sent': 'gd_send_sms',
  'mfa.push.sent': 'gd_send_pn',
  'mfa.push.rejected': 'gd_auth_rejected',
  'mfa.success': 'gd_auth_succeed',
  'token.refresh.success': 'sertft',
  'token.refresh.reuse': 'ferrt',
  'session.use.success': 'ssa',
};

/** The Okta System Log event type of each simulated type. */
const OKTA_TYPES: Readonly<Record<SimType, string>> = {
  'login.success': 'user.session.start',
  'login.failure': 'user.session.start',
  logout: 'user.session.end',
  'signup.success': 'user.lifecycle.create',
  'mfa.sms.sent': 'system.sms.send_factor_verify_message',
  'mfa.push.sent': 'system.push.send_factor_verify_push',
  'mfa.push.rejected': 'user.mfa.okta_verify.deny_push',
  'mfa.success': 'user.authentication.auth_via_mfa',
  'token.refresh.success': 'app.oauth2.as.token.grant.refresh_token',
  'token.refresh.reuse': 'app.oauth2.as.token.detect_reuse',
  'session.use.success': 'user.authentication.sso',
};

const COUNTRY_NAMES = new Intl.DisplayNames(['en'], { type: 'region' });

/**
 * One simulated event as a record of `format`: an Auth0 log-stream record (`{log_id, data}`),
 * an Okta System Log event, or a canonical event. Ids derive from the seed and the event's
 * place in the stream, so the same stream is the same bytes.
 */
export function formatEvent(e: SimEvent, format: SimFormat, seed: number, n: number): Record<string, unknown> {
  const iso = new Date(e.t).toISOString();
  const digest = createHash('sha256').update(`${seed}:${n}`).digest('hex');
  switch (format) {
    case 'canonical':
      return compact({
        id: `sim-${seed}-${n}`,
        time: iso,
        type: e.type,
        outcome: e.outcome,
        reason: e.reason,
        user: compact({ id: e.user.id, name: e.user.name }),
        session_id: e.session,
        client: { id: e.client, name: e.client },
        ip: e.ip,
        geo: { country: e.place.country, city: e.place.city, lat: e.place.lat, lon: e.place.lon },
        user_agent: e.userAgent,
        device_id: e.device,
        phone: e.phone ? { number: e.phone } : undefined,
      });
    case 'auth0': {
      const logId = `90020${e.t}${digest.slice(0, 30)}`;
      const details: Record<string, unknown> = {};
      if (e.session) details.session_id = e.session;
      if (e.phone) details.authenticator = { phone_number: e.phone };
      if (e.device) details.device_id = e.device;
      return {
        log_id: logId,
        data: compact({
          date: iso,
          type: AUTH0_CODES[e.type],
          description: e.reason ?? description(e.type),
          client_id: e.client,
          client_name: e.client,
          connection: 'Username-Password-Authentication',
          ip: e.ip,
          user_agent: e.userAgent,
          user_id: e.user.id,
          user_name: e.user.name,
          tenant_name: 'sim-tenant',
          hostname: 'sim-tenant.us.auth0.com',
          log_id: logId,
          location_info: {
            country_code: e.place.country,
            country_name: COUNTRY_NAMES.of(e.place.country),
            city_name: e.place.city,
            latitude: e.place.lat,
            longitude: e.place.lon,
          },
          details: Object.keys(details).length > 0 ? details : undefined,
        }),
      };
    }
    case 'okta':
      return oktaRecord(e, iso, digest);
  }
}

/**
 * One simulated event as the records a source writes for it: one, except that an Okta
 * Identity Engine sign-in writes the check of the password (`user.authentication.verify`,
 * with its outcome) beside the session's start, at the same instant.
 */
export function formatRecords(e: SimEvent, format: SimFormat, seed: number, n: number): Record<string, unknown>[] {
  const record = formatEvent(e, format, seed, n);
  if (format !== 'okta' || (e.type !== 'login.success' && e.type !== 'login.failure')) return [record];
  const digest = createHash('sha256').update(`${seed}:${n}:verify`).digest('hex');
  const verify = oktaRecord(e, new Date(e.t).toISOString(), digest);
  verify.eventType = 'user.authentication.verify';
  verify.displayMessage = 'Verify user identity';
  verify.authenticationContext = {
    authenticationProvider: 'OKTA_AUTHENTICATION_PROVIDER',
    credentialType: 'PASSWORD',
    externalSessionId: e.session ?? 'unknown',
  };
  if (e.outcome === 'failure') verify.outcome = { result: 'FAILURE', reason: 'INVALID_CREDENTIALS' };
  verify.target = [
    {
      id: `aut${digest.slice(0, 17)}`,
      type: 'AuthenticatorEnrollment',
      alternateId: 'unknown',
      displayName: 'Password',
      detailEntry: { methodTypeUsed: 'Password' },
    },
    ...(verify.target as unknown[]),
  ];
  return [verify, record];
}

/** An Okta System Log event; `digest` gives its ids. */
function oktaRecord(e: SimEvent, iso: string, digest: string): Record<string, unknown> {
  const uuid = `${digest.slice(0, 8)}-${digest.slice(8, 12)}-4${digest.slice(13, 16)}-a${digest.slice(17, 20)}-${digest.slice(20, 32)}`;
  const userId = `00u${createHash('sha256').update(e.user.name).digest('hex').slice(0, 17)}`;
  return {
    uuid,
    published: iso,
    eventType: OKTA_TYPES[e.type],
    version: '0',
    severity: e.outcome === 'failure' ? 'WARN' : 'INFO',
    displayMessage: description(e.type),
    actor: { id: userId, type: 'User', alternateId: e.user.name, displayName: e.user.name.split('@')[0] },
    client: {
      userAgent: { rawUserAgent: e.userAgent, os: null, browser: null },
      zone: 'null',
      device: null,
      id: null,
      ipAddress: e.ip,
      geographicalContext: {
        city: e.place.city,
        state: null,
        country: COUNTRY_NAMES.of(e.place.country),
        postalCode: null,
        geolocation: { lat: e.place.lat, lon: e.place.lon },
      },
    },
    device: e.device ? { id: e.device } : null,
    authenticationContext: { externalSessionId: e.session ?? 'unknown' },
    outcome: { result: e.outcome === 'success' ? 'SUCCESS' : 'FAILURE', reason: e.reason ?? null },
    debugContext: { debugData: e.phone ? { phoneNumber: e.phone } : {} },
    target: [{ id: `0oa${e.client}`, type: 'AppInstance', alternateId: e.client, displayName: e.client }],
    transaction: { type: 'WEB', id: digest.slice(32, 52), detail: {} },
  };
}

function description(type: SimType): string {
  return type.replace(/\./g, ' ');
}

function compact<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}
