import type { AuthEvent, KnownEventType, Outcome } from './authEvent.js';
import { countryCode } from './countryCodes.js';
import { DecodeError } from './decodeError.js';
import type { DecodeContext, DecodeResult, Decoder } from './decoder.js';
import { at, compact, emailDomain, eventTime, isObject, optionalNumber, optionalString, type Json } from './fields.js';

/** A canonical type, or one for success and one for failure, chosen by `outcome.result`. */
type Mapping = KnownEventType | { success: KnownEventType; failure: KnownEventType };

const LOGIN: Mapping = { success: 'login.success', failure: 'login.failure' };
const SESSION_USE: Mapping = { success: 'session.use.success', failure: 'session.use.failure' };
const VERIFY: Mapping = { success: 'auth.verify.success', failure: 'auth.verify.failure' };
const REFRESH: Mapping = { success: 'token.refresh.success', failure: 'token.refresh.failure' };
const EXCHANGE: Mapping = { success: 'token.exchange.success', failure: 'token.exchange.failure' };
// Administration: a failed attempt is a failed management operation, not the change itself.
const admin = (type: KnownEventType): Mapping => ({ success: type, failure: 'management.failure' });
const WEAKENED = admin('admin.protection.weakened');
const PROTECTION = admin('admin.protection.change');
const GRANT = admin('admin.privilege.grant');
const CREDENTIAL = admin('admin.credential.create');
const SECRET_READ = admin('admin.credential.read');

/** Okta System Log event types, by exact name. Okta documents several hundred; these matter for detection. */
export const OKTA_EVENT_TYPES: Readonly<Record<string, Mapping>> = {
  // One sign-in is one login: the session start. The checks on the way to it (a password or
  // factor verified, a delegated or federated authentication) are verifications, and an SSO
  // into an app is the existing session being used. RADIUS and rich-client (legacy protocol)
  // authentications open no Okta session: for them the authentication is the sign-in.
  'user.session.start': LOGIN,
  'user.authentication.auth_via_radius': LOGIN,
  'user.authentication.auth_via_richclient': LOGIN,
  'user.authentication.verify': VERIFY,
  'user.authentication.authenticate': VERIFY,
  'user.authentication.auth_via_IDP': VERIFY,
  'user.authentication.auth_via_social': VERIFY,
  'user.authentication.sso': SESSION_USE,
  'user.session.access_admin_app': SESSION_USE,
  'user.authentication.auth_via_mfa': { success: 'mfa.success', failure: 'mfa.failure' },
  'user.session.end': 'logout',
  'system.push.send_factor_verify_push': 'mfa.push.sent',
  'user.mfa.okta_verify.deny_push': 'mfa.push.rejected',
  'user.mfa.okta_verify.deny_push_upgrade_needed': 'mfa.push.rejected',
  'user.mfa.attempt_bypass': 'mfa.failure',
  'user.mfa.factor.activate': 'mfa.enrolled',
  'user.mfa.factor.deactivate': 'mfa.unenrolled',
  'user.mfa.factor.reset_all': 'mfa.unenrolled',
  'user.account.lock': 'account.blocked',
  'user.account.lock.limit': 'account.blocked',
  'user.account.unlock': 'account.unblocked',
  'user.account.unlock_by_admin': 'account.unblocked',
  'user.account.update_password': { success: 'password.change.success', failure: 'password.change.failure' },
  'user.account.reset_password': 'password.reset.request',
  'user.account.update_primary_email': 'account.email.change',
  'user.account.update_secondary_email': 'account.email.change',
  'user.account.update_phone': 'account.phone.change',
  'user.account.update_profile': 'account.profile.change',
  'user.lifecycle.delete.initiated': 'account.deleted',
  'user.account.unlock_token': 'password.reset.request',
  'security.breached_credential.detected': 'password.leaked',
  'user.lifecycle.create': { success: 'signup.success', failure: 'signup.failure' },
  'user.registration.create': { success: 'signup.success', failure: 'signup.failure' },
  'app.oauth2.token.grant.refresh_token': REFRESH,
  'app.oauth2.as.token.grant.refresh_token': REFRESH,
  'app.oauth2.token.detect_reuse': 'token.refresh.reuse',
  'app.oauth2.as.token.detect_reuse': 'token.refresh.reuse',
  'app.oauth2.token.grant': EXCHANGE,
  'app.oauth2.as.token.grant': EXCHANGE,
  'app.oauth2.token.grant.access_token': EXCHANGE,
  'app.oauth2.as.token.grant.access_token': EXCHANGE,
  'app.oauth2.as.token.grant.id_token': EXCHANGE,
  // Tenant defences: a policy, policy rule, org-wide factor or authenticator turned off or
  // deleted weakens them; other policy, rule, factor, authenticator and network-zone changes
  // (the prefixes below) change them.
  'policy.lifecycle.deactivate': WEAKENED,
  'policy.lifecycle.delete': WEAKENED,
  'policy.rule.deactivate': WEAKENED,
  'policy.rule.delete': WEAKENED,
  'system.mfa.factor.deactivate': WEAKENED,
  'security.authenticator.lifecycle.deactivate': WEAKENED,
  'system.mfa.factor.activate': PROTECTION,
  'user.account.privilege.grant': GRANT,
  'group.privilege.grant': GRANT,
  'system.api_token.create': CREDENTIAL,
  'app.oauth2.credentials.lifecycle.create': CREDENTIAL,
  'app.oauth2.client.read_client_secret': SECRET_READ,
  'system.idp.lifecycle.read_client_secret': SECRET_READ,
  'security.threat.detected': 'attack.blocked',
  'security.request.blocked': 'attack.blocked',
  'security.attack.start': 'attack.blocked',
};

/** Families matched by prefix when the exact name is not in the table. */
const PREFIXES: readonly [string, Mapping][] = [
  ['system.sms.', 'mfa.sms.sent'],
  ['system.voice.', 'mfa.voice.sent'],
  ['system.email.mfa', 'mfa.email.sent'],
  ['policy.lifecycle.', PROTECTION],
  ['policy.rule.', PROTECTION],
  ['security.authenticator.lifecycle.', PROTECTION],
  ['zone.', PROTECTION],
  ['application.lifecycle.', 'management.write'],
  ['application.user_membership.', 'management.write'],
  ['group.user_membership.', 'management.write'],
  ['system.api_token.', 'management.write'],
];

function mappingOf(eventType: string): Mapping {
  const exact = OKTA_EVENT_TYPES[eventType];
  if (exact) return exact;
  for (const [prefix, m] of PREFIXES) if (eventType.startsWith(prefix)) return m;
  return 'other';
}

/**
 * Only SUCCESS is a success. FAILURE and DENY are failures; CHALLENGE (an MFA prompt on the way),
 * ALLOW (a policy decision, not the outcome of the act), SKIPPED, UNKNOWN, null or no result are
 * neither, and an event type that depends on the outcome becomes `other`, its Okta type kept
 * in `source_type`: a login that has not succeeded must never read as `login.success`.
 */
function outcomeOf(result: string | undefined): Outcome {
  switch (result?.toUpperCase()) {
    case 'SUCCESS':
      return 'success';
    case 'FAILURE':
    case 'DENY':
      return 'failure';
    default:
      return 'unknown';
  }
}

/**
 * Okta System Log events (`/api/v1/logs`, or an Event Hook / Log Stream delivery of one
 * event). The user is the actor when it is a User, else the first User target; the session is
 * `authenticationContext.externalSessionId`; network facts come from `client` and
 * `securityContext`, with Okta's country names turned into ISO codes.
 */
export const oktaDecoder: Decoder = {
  format: 'okta',

  accepts(record) {
    return typeof record.eventType === 'string' && record.published !== undefined;
  },

  decode(record: Json, ctx: DecodeContext): DecodeResult {
    try {
      const eventType = optionalString(record, 'eventType');
      if (eventType === undefined) throw new DecodeError('invalid_field', 'The event has no `eventType`.', 'eventType');
      const outcome = outcomeOf(optionalString(record, 'outcome.result'));
      const m = mappingOf(eventType);
      const type =
        typeof m === 'string' ? m : outcome === 'success' ? m.success : outcome === 'failure' ? m.failure : 'other';
      const user = userOf(record, outcome);
      const app = targetOf(record, 'AppInstance');
      const session = optionalString(record, 'authenticationContext.externalSessionId');
      const event: AuthEvent = {
        id: optionalString(record, 'uuid') ?? ctx.fallbackId,
        time: eventTime(record, 'published', ctx),
        source: 'okta',
        type,
        source_type: eventType,
        outcome,
      };
      const optional: Partial<AuthEvent> = {
        reason: optionalString(record, 'outcome.reason'),
        user,
        session_id: session === 'unknown' ? undefined : session,
        client: compact({
          id: app?.id ?? optionalString(record, 'client.id'),
          name: app?.name,
        }),
        connection:
          optionalString(record, 'authenticationContext.credentialProvider') ??
          optionalString(record, 'authenticationContext.authenticationProvider'),
        ip: optionalString(record, 'client.ipAddress'),
        asn: optionalNumber(record, 'securityContext.asNumber'),
        as_org: optionalString(record, 'securityContext.asOrg'),
        geo: compact({
          country: countryCode(optionalString(record, 'client.geographicalContext.country')),
          city: optionalString(record, 'client.geographicalContext.city'),
          lat: optionalNumber(record, 'client.geographicalContext.geolocation.lat'),
          lon: optionalNumber(record, 'client.geographicalContext.geolocation.lon'),
        }),
        user_agent: optionalString(record, 'client.userAgent.rawUserAgent'),
        device_id:
          optionalString(record, 'device.id') ?? optionalString(record, 'debugContext.debugData.deviceFingerprint'),
        phone: compact({ number: optionalString(record, 'debugContext.debugData.phoneNumber') }),
        resource: type.startsWith('admin.') ? resourceOf(record) : undefined,
        network: compact({
          kind: flag(at(record, 'securityContext.isProxy')) ? ('proxy' as const) : undefined,
          threat: flag(at(record, 'debugContext.debugData.threatSuspected')) ? true : undefined,
        }),
      };
      Object.assign(event, compact(optional) ?? {});
      event.raw = record;
      return { ok: true, event };
    } catch (err) {
      if (err instanceof DecodeError) return { ok: false, error: err };
      throw err;
    }
  },
};

/**
 * A failed sign-in for a username Okta does not have names its actor `unknown` (the typed
 * username, when Okta keeps it, in `alternateId`): the user does not exist.
 */
function userOf(record: Json, outcome: Outcome): AuthEvent['user'] {
  let id: string | undefined;
  let name: string | undefined;
  let exists: boolean | undefined;
  if (optionalString(record, 'actor.type') === 'User') {
    id = optionalString(record, 'actor.id');
    name = optionalString(record, 'actor.alternateId');
    if (id === 'unknown') {
      id = undefined;
      if (outcome === 'failure') exists = false;
    }
  } else {
    const target = targetOf(record, 'User');
    id = target?.id;
    name = target?.alternateId;
  }
  if (name === 'unknown') name = undefined;
  return compact({ id, name, email_domain: emailDomain(name), exists });
}

/** Okta writes its flags as JSON booleans (`isProxy`) or as text (`threatSuspected: "true"`). */
function flag(v: unknown): boolean {
  return v === true || (typeof v === 'string' && v.toLowerCase() === 'true');
}

/**
 * What an administrative event acted on: its first target that is not the actor (a policy,
 * rule, zone, token, application, or the user granted a role), by Okta's own target type.
 */
function resourceOf(record: Json): AuthEvent['resource'] {
  const targets = at(record, 'target');
  if (!Array.isArray(targets)) return undefined;
  const actor = optionalString(record, 'actor.id');
  const t = targets.find((x) => isObject(x) && (actor === undefined || x.id !== actor));
  if (!isObject(t)) return undefined;
  return compact({
    type: optionalString(t, 'type'),
    id: optionalString(t, 'id'),
    name: optionalString(t, 'displayName') ?? optionalString(t, 'alternateId'),
  });
}

function targetOf(record: Json, type: string): { id?: string; name?: string; alternateId?: string } | undefined {
  const targets = at(record, 'target');
  if (targets === undefined || targets === null) return undefined;
  if (!Array.isArray(targets)) throw new DecodeError('invalid_field', '`target` must be an array.', 'target');
  const t = targets.find((x) => isObject(x) && x.type === type);
  if (!isObject(t)) return undefined;
  return {
    id: optionalString(t, 'id'),
    name: optionalString(t, 'displayName'),
    alternateId: optionalString(t, 'alternateId'),
  };
}
