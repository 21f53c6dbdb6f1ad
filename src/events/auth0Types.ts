import type { KnownEventType, Outcome } from './authEvent.js';

/** What one Auth0 log type code means on the canonical event. */
export interface Auth0Type {
  type: KnownEventType;
  outcome: Outcome;
  /** Auth0's name for the code, so a reader of the table need not look it up. */
  description: string;
}

const t = (type: KnownEventType, outcome: Outcome, description: string): Auth0Type => ({ type, outcome, description });

/**
 * Auth0 tenant-log type codes (the record's `type`) to canonical categories.
 *
 * It holds every code Auth0 publishes a JSON Schema for (auth0/auth0-log-schemas), plus four
 * codes Auth0 documents without one (`du`, `fapi`, `fc`, `signup_pwd_leak`). Codes with no canonical
 * category of their own are still listed, as `other`, so their outcome is right; a code not
 * listed here (Auth0 adds codes often) maps to `other` with outcome `unknown`.
 */
export const AUTH0_TYPES: Readonly<Record<string, Auth0Type>> = {
  // Interactive logins. Auth0 files `fco` (CORS) and the native-social exchanges under
  // "Login" in its log-stream filters, so they are logins here too.
  s: t('login.success', 'success', 'Successful Login'),
  scoa: t('login.success', 'success', 'Successful Cross-Origin Authentication'),
  sens: t('login.success', 'success', 'Successful Exchange - Native Social Login'),
  sdel: t('login.success', 'success', 'Successful Delegated Login'),
  f: t('login.failure', 'failure', 'Failed Login'),
  fp: t('login.failure', 'failure', 'Failed Login - Invalid Password'),
  fu: t('login.failure', 'failure', 'Failed Login - Invalid Username'),
  fc: t('login.failure', 'failure', 'Failed by Connector'),
  fco: t('login.failure', 'failure', 'Failed due to CORS'),
  fcoa: t('login.failure', 'failure', 'Failed Cross-Origin Authentication'),
  fens: t('login.failure', 'failure', 'Failed Exchange - Native Social Login'),

  // Silent authentication: the session cookie gets new tokens without a prompt. That is the
  // session being used, which a stolen cookie replayed from another network shows up as, so
  // session rules must see it; it is not a login, and `fsa` ("login required", routine for
  // signed-out visitors) must not swamp failed-login counts.
  ssa: t('session.use.success', 'success', 'Successful Silent Authentication'),
  fsa: t('session.use.failure', 'failure', 'Failed Silent Authentication'),
  sdelsa: t('session.use.success', 'success', 'Successful Delegated Silent Authentication'),
  fdelsa: t('session.use.failure', 'failure', 'Failed Delegated Silent Authentication'),
  scv: t('other', 'success', 'Successful Credential Validation'),
  // Bot detection's verdict before a login or signup; `bot.detected` when it asked for a
  // CAPTCHA (details.requiresVerification), refined in the decoder.
  pla: t('other', 'unknown', 'Pre-Login Assessment'),
  mfar: t('other', 'unknown', 'MFA Required'),
  w: t('other', 'unknown', 'Warning During Login'),
  cs: t('other', 'success', 'Passwordless Login Code Sent'),
  cls: t('other', 'success', 'Passwordless Login Code or Link Sent'),
  passkey_challenge_started: t('other', 'success', 'Native Passkey Challenge Started'),
  passkey_challenge_failed: t('other', 'failure', 'Native Passkey Challenge Failed'),
  ciba_start_succeeded: t('other', 'success', 'Successful CIBA Start'),
  ciba_start_failed: t('other', 'failure', 'Failed CIBA Start'),
  fdeac: t('other', 'failure', 'Failed Device Activation'),
  fdeaz: t('other', 'failure', 'Failed Device Authorization Request'),
  fdecc: t('other', 'failure', 'User Canceled Device Confirmation'),
  fpar: t('other', 'failure', 'Failed Pushed Authorization Request'),

  // Signups and invitations.
  ss: t('signup.success', 'success', 'Successful Signup'),
  fs: t('signup.failure', 'failure', 'Failed Signup'),
  fpurh: t('other', 'failure', 'Failed Post User Registration Hook'),
  si: t('other', 'success', 'Successful Invite Accept'),
  fi: t('other', 'failure', 'Failed Invite Accept'),

  // Logouts, including the ones an IdP or an administrator starts for the user.
  slo: t('logout', 'success', 'Successful Logout'),
  flo: t('logout', 'failure', 'Failed Logout'),
  oidc_backchannel_logout_succeeded: t('logout', 'success', 'Successful OIDC Back-Channel Logout'),
  oidc_backchannel_logout_failed: t('logout', 'failure', 'Failed OIDC Back-Channel Logout'),
  universal_logout_succeeded: t('logout', 'success', 'Successful Universal Logout'),
  universal_logout_failed: t('logout', 'failure', 'Failed Universal Logout'),
  federated_logout_failed: t('logout', 'failure', 'Failed Federated Logout'),

  // Email verification: `svr`/`fvr` are the request to send the email, `sv`/`fv` the link used.
  svr: t('email.verification.sent', 'success', 'Successful Verification Email Request'),
  fvr: t('email.verification.sent', 'failure', 'Failed Verification Email Request'),
  sv: t('email.verification.success', 'success', 'Successful Verification Email'),
  fv: t('email.verification.failure', 'failure', 'Failed Verification Email'),

  // Changes to what recovers or identifies the account: what a takeover changes first.
  sce: t('account.email.change', 'success', 'Successful Change Email'),
  fce: t('account.email.change', 'failure', 'Failed Change Email'),
  scu: t('account.username.change', 'success', 'Successful Change Username'),
  fcu: t('account.username.change', 'failure', 'Failed Change Username'),
  scpn: t('account.phone.change', 'success', 'Successful Change Phone Number'),
  fcpn: t('account.phone.change', 'failure', 'Failed Change Phone Number'),

  // Passwords. A reset by emailed ticket ends in `scp`, so Auth0 has no separate reset success.
  scp: t('password.change.success', 'success', 'Successful Change Password'),
  fcp: t('password.change.failure', 'failure', 'Failed Change Password'),
  scpr: t('password.reset.request', 'success', 'Successful Change Password Request'),
  fcpr: t('password.reset.request', 'failure', 'Failed Change Password Request'),
  fcph: t('other', 'failure', 'Failed Post Change Password Hook'),
  // Whether the attempt was let through depends on the tenant's breached-password settings.
  pwd_leak: t('password.leaked', 'unknown', 'Breached Password - Login'),
  signup_pwd_leak: t('password.leaked', 'unknown', 'Breached Password - Signup'),
  reset_pwd_leak: t('password.leaked', 'unknown', 'Breached Password - Reset'),

  // Attack protection. Brute-force protection (`limit_wc`) and the per-user throttles block
  // one account (from one IP) until released (`ublkdu`); `limit_mu` blocks an IP for every
  // account and `limit_phone` throttles SMS and voice sends, so those block the attack, not
  // an account.
  limit_wc: t('account.blocked', 'failure', 'Blocked Account - Failed Logins'),
  limit_sul: t('account.blocked', 'failure', 'Blocked Account - Logins per IP'),
  limit_delegation: t('account.blocked', 'failure', 'Blocked Account - Too Many Delegation Requests'),
  limit_mu: t('attack.blocked', 'failure', 'Blocked IP Address - Too Many Attempts or Signups'),
  limit_phone: t('attack.blocked', 'failure', 'Blocked Phone Delivery - Too Many Attempts'),
  ublkdu: t('account.unblocked', 'success', 'User Login Block Released'),
  api_limit: t('other', 'failure', 'Rate Limit on the Authentication or Management API'),
  api_limit_warning: t('other', 'unknown', 'Rate Limit Warning on the Authentication or Management API'),
  acls_summary: t('other', 'unknown', 'Network ACLs Summary'),

  // Guardian MFA. Auth0 logs no separate "push accepted": an accepted push is `gd_auth_succeed`.
  gd_send_sms: t('mfa.sms.sent', 'success', 'MFA SMS Sent'),
  gd_send_sms_failure: t('mfa.sms.sent', 'failure', 'MFA SMS Failed'),
  gd_send_voice: t('mfa.voice.sent', 'success', 'MFA Voice Call Sent'),
  gd_send_voice_failure: t('mfa.voice.sent', 'failure', 'MFA Voice Call Failed'),
  gd_send_pn: t('mfa.push.sent', 'success', 'MFA Push Notification Sent'),
  gd_send_pn_failure: t('mfa.push.sent', 'failure', 'MFA Push Notification Failed'),
  gd_send_email: t('mfa.email.sent', 'success', 'MFA Email Sent'),
  gd_send_email_verification: t('mfa.email.sent', 'success', 'MFA Email Verification Sent'),
  gd_auth_rejected: t('mfa.push.rejected', 'failure', 'MFA Push Notification Rejected'),
  gd_auth_succeed: t('mfa.success', 'success', 'MFA Authentication Succeeded'),
  gd_auth_email_verification: t('mfa.success', 'success', 'MFA Email Verified'),
  gd_recovery_succeed: t('mfa.success', 'success', 'MFA Recovery Code Accepted'),
  gd_auth_failed: t('mfa.failure', 'failure', 'MFA Authentication Failed'),
  gd_otp_rate_limit_exceed: t('mfa.failure', 'failure', 'MFA Too Many Wrong Codes'),
  gd_recovery_failed: t('mfa.failure', 'failure', 'MFA Recovery Code Rejected'),
  gd_webauthn_challenge_failed: t('mfa.failure', 'failure', 'MFA WebAuthn Challenge Failed'),
  gd_enrollment_complete: t('mfa.enrolled', 'success', 'MFA Enrollment Complete'),
  gd_unenroll: t('mfa.unenrolled', 'success', 'MFA Factor Unenrolled'),
  // Failed enrollments stay out of `mfa.enrolled`, which rules read as "a factor was added".
  gd_start_auth: t('other', 'success', 'MFA Challenge Started'),
  gd_start_enroll: t('other', 'success', 'MFA Enrollment Started'),
  gd_start_enroll_failed: t('other', 'failure', 'MFA Enrollment Start Failed'),
  gd_webauthn_enrollment_failed: t('other', 'failure', 'MFA WebAuthn Enrollment Failed'),
  gd_update_device_account: t('other', 'success', 'MFA Device Account Updated'),
  gd_tenant_update: t('management.write', 'success', 'MFA Tenant Settings Updated'),
  my_account_authentication_method_succeeded: t(
    'other',
    'success',
    'Successful My Account Authentication Method Operation',
  ),
  my_account_authentication_method_failed: t('other', 'failure', 'Failed My Account Authentication Method Operation'),

  // Token endpoint exchanges.
  seacft: t('token.exchange.success', 'success', 'Successful Exchange of Authorization Code for Access Token'),
  feacft: t('token.exchange.failure', 'failure', 'Failed Exchange of Authorization Code for Access Token'),
  seccft: t('token.exchange.success', 'success', 'Successful Exchange of Client Credentials for Access Token'),
  feccft: t('token.exchange.failure', 'failure', 'Failed Exchange of Client Credentials for Access Token'),
  sede: t('token.exchange.success', 'success', 'Successful Exchange of Device Code for Access Token'),
  fede: t('token.exchange.failure', 'failure', 'Failed Exchange of Device Code for Access Token'),
  sepft: t('token.exchange.success', 'success', 'Successful Exchange of Password for Access Token'),
  fepft: t('token.exchange.failure', 'failure', 'Failed Exchange of Password for Access Token'),
  seoobft: t('token.exchange.success', 'success', 'Successful Exchange of Password and OOB Challenge for Access Token'),
  feoobft: t('token.exchange.failure', 'failure', 'Failed Exchange of Password and OOB Challenge for Access Token'),
  seotpft: t('token.exchange.success', 'success', 'Successful Exchange of Password and OTP Challenge for Access Token'),
  feotpft: t('token.exchange.failure', 'failure', 'Failed Exchange of Password and OTP Challenge for Access Token'),
  sercft: t(
    'token.exchange.success',
    'success',
    'Successful Exchange of Password and MFA Recovery Code for Access Token',
  ),
  fercft: t('token.exchange.failure', 'failure', 'Failed Exchange of Password and MFA Recovery Code for Access Token'),
  fepotpft: t('token.exchange.failure', 'failure', 'Failed Exchange of Passwordless OTP for Access Token'),
  sepkoobft: t(
    'token.exchange.success',
    'success',
    'Successful Exchange of Passkey and OOB Challenge for Access Token',
  ),
  sepkotpft: t(
    'token.exchange.success',
    'success',
    'Successful Exchange of Passkey and OTP Challenge for Access Token',
  ),
  sepkrcft: t(
    'token.exchange.success',
    'success',
    'Successful Exchange of Passkey and MFA Recovery Code for Access Token',
  ),
  secte: t('token.exchange.success', 'success', 'Successful Exchange via Custom Token Exchange'),
  fecte: t('token.exchange.failure', 'failure', 'Failed Exchange via Custom Token Exchange'),
  sdeleacft: t(
    'token.exchange.success',
    'success',
    'Successful Exchange of Delegated Authorization Code for Access Token',
  ),
  fdeleacft: t('token.exchange.failure', 'failure', 'Failed Exchange of Delegated Authorization Code for Access Token'),
  success_on_behalf_of_token_exchange: t('token.exchange.success', 'success', 'Successful On-Behalf-Of Token Exchange'),
  failed_on_behalf_of_token_exchange: t('token.exchange.failure', 'failure', 'Failed On-Behalf-Of Token Exchange'),
  idjag_exchange_succeeded: t('token.exchange.success', 'success', 'Successful Exchange of ID-JAG for Access Token'),
  idjag_exchange_failed: t('token.exchange.failure', 'failure', 'Failed Exchange of ID-JAG for Access Token'),
  jwt_bearer_exchange_failed: t(
    'token.exchange.failure',
    'failure',
    'Failed Exchange of JWT Bearer Assertion for Access Token',
  ),
  ciba_exchange_succeeded: t('token.exchange.success', 'success', 'Successful CIBA Exchange'),
  ciba_exchange_failed: t('token.exchange.failure', 'failure', 'Failed CIBA Exchange'),
  seta: t('token.exchange.success', 'success', 'Successful Token Vault Exchange'),
  feta: t('token.exchange.failure', 'failure', 'Failed Token Vault Exchange'),
  sd: t('token.exchange.success', 'success', 'Successful Delegation'),
  fd: t('token.exchange.failure', 'failure', 'Failed Delegation'),

  // Refresh tokens. `ferrt` is the rotating-token failure Auth0 logs when an already
  // rotated token comes back (its details carry the token's and the family's counters).
  sertft: t('token.refresh.success', 'success', 'Successful Exchange of Refresh Token for Access Token'),
  fertft: t('token.refresh.failure', 'failure', 'Failed Exchange of Refresh Token for Access Token'),
  ferrt: t('token.refresh.reuse', 'failure', 'Failed Exchange of Rotating Refresh Token (reuse detected)'),
  srrt: t('other', 'success', 'Successful Refresh Token Revocation'),
  resource_cleanup: t('other', 'unknown', 'Refresh Token Excess Removed'),

  // Management API and administration. `mgmt_api_read` is logged only when a read returns a
  // secret. A `sapi` write that weakens a protection, grants admin rights or creates a
  // credential gets a finer `admin.*` type from its request (`auth0Admin.ts`).
  sapi: t('management.write', 'success', 'Successful Management API Operation'),
  fapi: t('management.failure', 'failure', 'Failed Management API Operation'),
  mgmt_api_read: t('admin.credential.read', 'success', 'Management API Read Returning a Secret'),
  sdu: t('account.deleted', 'success', 'Successful User Deletion'),
  // Documented in Auth0's table of log codes, without a JSON Schema.
  du: t('account.deleted', 'success', 'Deleted User'),
  fdu: t('account.deleted', 'failure', 'Failed User Deletion'),
  sui: t('other', 'success', 'Successful Users Import'),
  fui: t('other', 'failure', 'Failed Users Import'),
  sscim: t('other', 'success', 'Successful SCIM Operation'),
  fscim: t('other', 'failure', 'Failed SCIM Operation'),
  organization_member_added: t('other', 'success', 'Organization Member Added'),
  connected_accounts_connection_succeeded: t('other', 'success', 'Successful Connected Account Connection'),
  connected_accounts_connection_failed: t('other', 'failure', 'Failed Connected Account Connection'),
  connected_accounts_delete_succeeded: t('other', 'success', 'Successful Connected Account Delete'),
  connected_accounts_delete_failed: t('other', 'failure', 'Failed Connected Account Delete'),
  rich_consents_access_error: t('other', 'failure', 'Failed Rich Consent Record Request'),
  kms_key_management_success: t('other', 'success', 'Successful KMS Key Operation'),
  kms_key_management_failure: t('other', 'failure', 'Failed KMS Key Operation'),
  kms_key_state_changed: t('other', 'unknown', 'KMS Key State Changed'),
  custom_domain_verification_failed: t('other', 'failure', 'Custom Domain Verification Failed'),
  fcpro: t('other', 'failure', 'Failed Connector Provisioning'),
  ss_sso_success: t('other', 'success', 'Successful Self-Service SSO Operation'),
  ss_sso_failure: t('other', 'failure', 'Failed Self-Service SSO Operation'),
  ss_sso_info: t('other', 'unknown', 'Self-Service SSO Information'),
  directory_sync_started: t('other', 'unknown', 'Directory Sync Started'),
  directory_sync_completed: t('other', 'success', 'Directory Sync Completed'),
  directory_sync_failed: t('other', 'failure', 'Directory Sync Failed'),

  // Extensibility and notices.
  actions_execution_failed: t('other', 'failure', 'Action Execution Failed'),
  flows_execution_completed: t('other', 'success', 'Flows Execution Completed'),
  flows_execution_failed: t('other', 'failure', 'Flows Execution Failed'),
  forms_submission_succeeded: t('other', 'success', 'Forms Submission Succeeded'),
  forms_submission_failed: t('other', 'failure', 'Forms Submission Failed'),
  fn: t('other', 'failure', 'Failed Notification'),
  wn: t('other', 'unknown', 'Warning Notification'),
  wum: t('other', 'unknown', 'Warning During User Management'),
  depnote: t('other', 'unknown', 'Deprecation Notice'),
  acul_sdk_notice: t('other', 'unknown', 'ACUL SDK Notice'),
  appi: t('other', 'unknown', 'API Peak Performance Initiated'),
};

const UNKNOWN: Auth0Type = t('other', 'unknown', 'Unknown Auth0 log type');

/** The meaning of a type code; codes the table does not know (or `__proto__`-like keys) are `other`. */
export function auth0Type(code: string): Auth0Type {
  return Object.hasOwn(AUTH0_TYPES, code) ? AUTH0_TYPES[code]! : UNKNOWN;
}
