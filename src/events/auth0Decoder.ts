import type { AuthEvent } from './authEvent.js';
import { auth0AdminChange } from './auth0Admin.js';
import { auth0Type } from './auth0Types.js';
import { countryCode } from './countryCodes.js';
import { DecodeError } from './decodeError.js';
import type { DecodeContext, DecodeResult, Decoder } from './decoder.js';
import { at, compact, emailDomain, eventTime, isObject, optionalNumber, optionalString, type Json } from './fields.js';

/** Fields every Auth0 log carries one of; `type` and `date` alone are too common to tell a format by. */
const AUTH0_MARKERS = ['log_id', '_id', 'client_id', 'description', 'user_id', 'tenant_name'];

/**
 * Codes whose `user_name` may be the phone number a message went to: passwordless SMS users
 * log in with their number, and `limit_phone` names no destination of its own.
 */
const PHONE_USER_NAME_CODES = new Set([
  'gd_send_sms',
  'gd_send_sms_failure',
  'gd_send_voice',
  'gd_send_voice_failure',
  'limit_phone',
  'cs',
]);
const E164 = /^\+[1-9]\d{6,14}$/;

/** The canonical schema's limit for free text; Auth0 failure descriptions can embed whole error payloads. */
const MAX_REASON = 4096;

/**
 * Auth0 tenant logs, bare (as `GET /api/v2/logs` returns them) or in the log-stream wrapper
 * `{log_id, data}` that webhooks and event streams deliver. Type codes map through
 * `AUTH0_TYPES`; the other fields come from where Auth0's log schemas put them, which varies
 * by code (the session is `details.session_id` for logins and Guardian events but
 * `details.refresh_token.session_id` for token exchanges, the phone number sits on the
 * Guardian authenticator or in the request body, and so on).
 *
 * `raw` is always the wrapper form: the wrapper as received, or a bare record wrapped as
 * `{log_id, data: record}` (no `log_id` when the record has none). Auth0's own detection catalog writes its rules against the
 * stream form (`data.type`, `data.details.…`), so rules with `logsource.product: auth0`
 * resolve the same paths whichever way the record arrived.
 */
export const auth0Decoder: Decoder = {
  format: 'auth0',

  accepts(record) {
    if ('eventType' in record || 'published' in record) return false;
    const data = isWrapper(record) ? (record.data as Json) : record;
    if ('eventType' in data || 'published' in data || 'uuid' in data) return false;
    // Canonical events: Auth0 codes never hold a dot, and Auth0 logs have `date`, not `time`.
    if (typeof data.type === 'string' && data.type.includes('.')) return false;
    if ('time' in data && 'source' in data) return false;
    return data.type !== undefined && data.date !== undefined && AUTH0_MARKERS.some((k) => k in data);
  },

  decode(record: Json, ctx: DecodeContext): DecodeResult {
    try {
      const wrapped = isWrapper(record);
      // Paths keep the `data.` prefix so a DecodeError names the field in the record as sent.
      const p = wrapped ? 'data.' : '';
      // Reads go to the log itself; `p` only names fields in errors as they were sent.
      const data = wrapped ? (record.data as Json) : record;
      const str = (path: string) => optionalString(data, path, p);
      const num = (path: string) => optionalNumber(data, path, p);
      objectOrAbsent(data, 'location_info', p);

      const code = data.type;
      if (typeof code !== 'string' || code === '')
        throw new DecodeError('invalid_field', `\`${p}type\` must be an Auth0 log type code (a string).`, p + 'type');
      const meaning = auth0Type(code);
      const logId = str('log_id') ?? str('_id');
      const userName = str('user_name') ?? str('details.email') ?? str('details.body.email');
      const adminName = str('details.request.auth.user.email');

      const admin = auth0AdminChange(code, data);
      const event: AuthEvent = {
        id: (wrapped ? optionalString(record, 'log_id') : undefined) ?? logId ?? ctx.fallbackId,
        time: eventTime(data, 'date', ctx, p),
        source: 'auth0',
        type: admin?.type ?? (code === 'pla' && requiresVerification(data) ? 'bot.detected' : meaning.type),
        source_type: code,
        outcome: meaning.outcome,
      };
      const reason = str('description') ?? errorMessage(data, p) ?? str('details.failure_reason');
      const phone =
        str('details.authenticator.phone_number') ??
        str('details.enrollment.phone_number') ??
        str('details.phone_number') ??
        str('details.body.phone_number') ??
        str('details.body.new_phone_number') ??
        (PHONE_USER_NAME_CODES.has(code) && userName && E164.test(userName) ? userName : undefined);
      const optional: Partial<AuthEvent> = {
        reason: reason && reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 1)}…` : reason,
        user: compact({
          id: str('user_id'),
          name: userName ?? adminName,
          email_domain: emailDomain(userName ?? adminName),
          exists: accountExists(code, data, p),
        }),
        session_id: str('details.session_id') ?? str('details.refresh_token.session_id'),
        client: compact({ id: str('client_id'), name: str('client_name') }),
        connection: str('connection'),
        tenant: str('tenant_name') ?? tenantOfHostname(str('hostname')),
        ip: str('ip'),
        geo: compact({
          country: countryCode(str('location_info.country_code')) ?? countryCode(str('location_info.country_name')),
          city: str('location_info.city_name'),
          lat: num('location_info.latitude'),
          lon: num('location_info.longitude'),
        }),
        user_agent: str('user_agent'),
        device_id: str('details.riskAssessment.assessments.NewDevice.details.device') ?? str('details.device_id'),
        ja4: str('security_context.ja4'),
        phone: compact({ number: phone }),
        resource: admin?.resource,
        network: untrustedIp(data) ? { threat: true } : undefined,
      };
      Object.assign(event, compact(optional) ?? {});
      event.raw = wrapped ? record : logId === undefined ? { data: record } : { log_id: logId, data: record };
      return { ok: true, event };
    } catch (err) {
      if (err instanceof DecodeError) return { ok: false, error: err };
      throw err;
    }
  },
};

/**
 * The tenant named by an Auth0 hostname: `example-tenant` for `example-tenant.us.auth0.com` (or
 * `example-tenant.auth0.com`), which is the `tenant_name` other records of the tenant carry, so
 * one tenant has one name. A custom domain (`login.example.com`) names no tenant: the tenant is
 * left out rather than given a second name.
 */
function tenantOfHostname(hostname: string | undefined): string | undefined {
  const m = hostname === undefined ? null : /^([a-z0-9][a-z0-9-]*)\.(?:[a-z]{2}\.)?auth0\.com$/i.exec(hostname);
  return m ? m[1]!.toLowerCase() : undefined;
}

/** Whether bot detection asked the login (or the signup) for a CAPTCHA. */
function requiresVerification(data: Json): boolean {
  return (
    at(data, 'details.requiresVerification') === true || at(data, 'details.requiresVerificationForSignupFlow') === true
  );
}

/**
 * What a failure says about the account it named: `fu` is a login for a username the
 * connection does not have, `fp` a wrong password for one it has; a failed reset request says when the user does not exist; a
 * failed signup, when the account already exists. Undefined when the record does not say.
 */
function accountExists(code: string, data: Json, p: string): boolean | undefined {
  if (code === 'fu') return false;
  // A wrong password is logged as `fp` only for a username the connection has.
  if (code === 'fp') return true;
  if (code !== 'fcpr' && code !== 'fs') return undefined;
  const said = (path: string) => {
    const v = at(data, path);
    return typeof v === 'string' ? v : '';
  };
  const text = `${said('description')} | ${said('details.description')} | ${errorMessage(data, p) ?? ''}`;
  if (code === 'fcpr') return /user (?:does not|doesn't) exist|user not found|no user/i.test(text) ? false : undefined;
  return /user already exists|user_exists/i.test(text) ? true : undefined;
}

/**
 * Whether Auth0's risk assessment found the address on its deny list of known attackers
 * (`UntrustedIP`: code `found_on_deny_list`, or a `low` confidence).
 */
function untrustedIp(data: Json): boolean {
  const a = at(data, 'details.riskAssessment.assessments.UntrustedIP');
  return isObject(a) && (a.code === 'found_on_deny_list' || a.confidence === 'low');
}

/** The stream wrapper has no `type` of its own; the log is its `data`. */
function isWrapper(record: Json): boolean {
  return record.type === undefined && isObject(record.data);
}

/**
 * `details` is left alone: a dozen of Auth0's schemas leave its type open, so text there
 * is not bad input, it just has nothing to read.
 */
function objectOrAbsent(data: Json, path: string, p: string): void {
  const v = at(data, path);
  if (v !== undefined && v !== null && !isObject(v))
    throw new DecodeError('invalid_field', `\`${p}${path}\` must be an object.`, p + path);
}

/** `details.error` is an object with a `message` for most codes, and plain text for a few (`fn`). */
function errorMessage(data: Json, p: string): string | undefined {
  const error = at(data, 'details.error');
  if (typeof error === 'string') return error || undefined;
  return isObject(error) ? optionalString(error, 'message', `${p}details.error.`) : undefined;
}
