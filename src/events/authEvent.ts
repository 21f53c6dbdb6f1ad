/**
 * The canonical auth event (`schemas/auth-event.schema.json`): what every decoder produces
 * and what rules on the canonical target read. Optional fields are absent, never null.
 */
export type EventSource = 'auth0' | 'okta' | 'generic';
/** The kind of network an address is in: the most specific list it is on, or `other`. */
export type NetworkKind = 'tor' | 'proxy' | 'hosting' | 'other';
export type Outcome = 'success' | 'failure' | 'unknown';

/**
 * The canonical categories decoders map onto. Canonical input may carry other dotted
 * lower-case names (the schema allows them); these are the ones authwatch's own decoders
 * and shipped detections use.
 */
export const EVENT_TYPES = [
  'login.success',
  'login.failure',
  'logout',
  'session.use.success',
  'session.use.failure',
  'auth.verify.success',
  'auth.verify.failure',
  'signup.success',
  'signup.failure',
  'mfa.sms.sent',
  'mfa.voice.sent',
  'mfa.email.sent',
  'mfa.push.sent',
  'mfa.push.accepted',
  'mfa.push.rejected',
  'mfa.success',
  'mfa.failure',
  'mfa.enrolled',
  'mfa.unenrolled',
  'token.exchange.success',
  'token.exchange.failure',
  'token.refresh.success',
  'token.refresh.failure',
  'token.refresh.reuse',
  'password.leaked',
  'password.change.success',
  'password.change.failure',
  'password.reset.request',
  'password.reset.success',
  'email.verification.sent',
  'email.verification.success',
  'email.verification.failure',
  'account.email.change',
  'account.phone.change',
  'account.username.change',
  'account.profile.change',
  'account.deleted',
  'account.blocked',
  'account.unblocked',
  'attack.blocked',
  'bot.detected',
  'admin.protection.weakened',
  'admin.protection.change',
  'admin.privilege.grant',
  'admin.credential.create',
  'admin.credential.read',
  'management.write',
  'management.failure',
  'other',
] as const;
export type KnownEventType = (typeof EVENT_TYPES)[number];

export interface AuthEvent {
  /** The source's id (Auth0 `log_id`, Okta `uuid`), else a hash of the record. */
  id: string;
  /** Event time, epoch milliseconds. */
  time: number;
  source: EventSource;
  type: string;
  /** The source's own code: `fp`, `gd_send_sms`, `user.session.start`, … */
  source_type?: string;
  outcome: Outcome;
  reason?: string;
  /**
   * `exists`: whether the identity provider has the account the attempt named, when it says:
   * false for a login or reset for an unknown username, true for a wrong password (Auth0 `fp`)
   * or a signup refused because the account exists. Probing them is how usernames are
   * enumerated.
   */
  user?: { id?: string; name?: string; email_domain?: string; exists?: boolean };
  session_id?: string;
  client?: { id?: string; name?: string };
  connection?: string;
  tenant?: string;
  ip?: string;
  asn?: number;
  as_org?: string;
  /**
   * The network's reputation: its kind (a Tor exit, a VPN or proxy exit, a hosting provider,
   * or `other`), the name a list gives it, and whether the source flagged the address as a
   * threat (Okta's `threatSuspected`, Auth0's deny-listed IP).
   */
  network?: { kind?: NetworkKind; provider?: string; threat?: boolean };
  geo?: { country?: string; city?: string; lat?: number; lon?: number; accuracy_km?: number };
  user_agent?: string;
  device_id?: string;
  ja4?: string;
  phone?: { number?: string; country?: string };
  /**
   * What an administrative event acted on: the setting, application, grant or user changed
   * (`brute_force_protection`, `mfa_policy`, `client` …, or Okta's target type), with its id and name.
   */
  resource?: { type?: string; id?: string; name?: string };
  /** The original record, as the source sent it (decoded JSON). */
  raw?: Record<string, unknown>;
}

/** The event without its raw record (`--events` output; what a hit waiting for order keeps). */
export function withoutRaw(event: AuthEvent): AuthEvent {
  if (event.raw === undefined) return event;
  const { raw: _raw, ...rest } = event;
  return rest;
}
