import type { AuthEvent, KnownEventType } from './authEvent.js';
import { at, isObject, type Json } from './fields.js';

/**
 * What a successful Management API write (`sapi`) or secret read (`mgmt_api_read`) did to the
 * tenant's defences, read from the request Auth0 logs with it: the endpoint (`details.request.
 * method` and `path`, the Management API's stable contract) or, when the path is missing, the
 * operation's `description` (the wording Auth0's own detection catalog matches). The resulting
 * state is the response body; the request body stands in when Auth0 left the response empty.
 *
 * A setting is **weakened** when the change turns a protection off or stops it from blocking:
 * `enabled: false`, shields without `block`, bot detection set to `off`, no MFA policy left,
 * risk assessment after login off, an application given the password or implicit grant, or
 * cross-origin authentication turned on. Any other change to those settings is a `change`.
 * Management API scopes granted to an application, and tenant members invited, are privilege
 * grants; a client secret rotated, a client credential added or a machine-to-machine
 * application created are credentials created; `mgmt_api_read` is a credential read.
 */
export interface AdminChange {
  type: KnownEventType;
  resource: NonNullable<AuthEvent['resource']>;
}

interface Endpoint {
  /** `details.request.path`, matched whole; capture group 1 is the resource id when present. */
  path: RegExp;
  /** HTTP methods that change the resource (a POST that triggers a test is not a change). */
  methods: readonly string[];
  /** Auth0's `description` for the operation, for records without a request path. */
  descriptions: readonly string[];
  resource: string;
  classify: (state: Json | unknown[], request: Json) => KnownEventType | undefined;
}

const WRITE = ['patch', 'put', 'post'];

const offOrNotBlocking = (state: Json | unknown[]): KnownEventType =>
  isObject(state) && (state.enabled === false || (Array.isArray(state.shields) && !state.shields.includes('block')))
    ? 'admin.protection.weakened'
    : 'admin.protection.change';

const INSECURE_GRANTS = new Set(['password', 'implicit', 'http://auth0.com/oauth/grant-type/password-realm']);

const ENDPOINTS: readonly Endpoint[] = [
  {
    path: /^\/api\/v2\/attack-protection\/brute-force-protection\/?$/,
    methods: WRITE,
    descriptions: ['Update Brute-force settings'],
    resource: 'brute_force_protection',
    classify: offOrNotBlocking,
  },
  {
    path: /^\/api\/v2\/attack-protection\/breached-password-detection\/?$/,
    methods: WRITE,
    descriptions: ['Update Breached Password Detection settings'],
    resource: 'breached_password_detection',
    classify: offOrNotBlocking,
  },
  {
    path: /^\/api\/v2\/attack-protection\/suspicious-ip-throttling\/?$/,
    methods: WRITE,
    descriptions: ['Update Suspicious IP Throttling settings'],
    resource: 'suspicious_ip_throttling',
    classify: offOrNotBlocking,
  },
  {
    path: /^\/api\/v2\/attack-protection\/(?:bot-detection|captcha)\/?$/,
    methods: WRITE,
    descriptions: ['Create or update the anomaly detection captcha', 'Update Bot Detection settings'],
    resource: 'bot_detection',
    classify: (s) =>
      isObject(s) &&
      (s.policy === 'off' ||
        s.password_reset_policy === 'off' ||
        s.passwordless_policy === 'off' ||
        s.bot_detection_level === 'off')
        ? 'admin.protection.weakened'
        : 'admin.protection.change',
  },
  {
    path: /^\/api\/v2\/guardian\/policies\/?$/,
    methods: WRITE,
    descriptions: ['Update multi-factor authentication policies'],
    resource: 'mfa_policy',
    // The policy list holds `all-applications` or `confidence-score`; empty means MFA is never asked.
    classify: (s) => (Array.isArray(s) && s.length === 0 ? 'admin.protection.weakened' : 'admin.protection.change'),
  },
  {
    path: /^\/api\/v2\/guardian\/factors\/([a-z0-9-]+)\/?$/,
    methods: WRITE,
    descriptions: ['Update multi-factor authentication type'],
    resource: 'mfa_factor',
    classify: (s) => (isObject(s) && s.enabled === false ? 'admin.protection.weakened' : 'admin.protection.change'),
  },
  {
    path: /^\/api\/v2\/risk-assessments\/settings(?:\/[a-z-]+)?\/?$/,
    methods: WRITE,
    descriptions: ['Updates risk assessment configs'],
    resource: 'risk_assessment',
    classify: (s) =>
      isObject(s) && (s.enabled === false || s.AfterAuthentication === false)
        ? 'admin.protection.weakened'
        : 'admin.protection.change',
  },
  {
    path: /^\/api\/v2\/clients\/([^/]+)\/rotate-secret\/?$/,
    methods: ['post'],
    descriptions: ['Rotate a client secret'],
    resource: 'client_secret',
    classify: () => 'admin.credential.create',
  },
  {
    path: /^\/api\/v2\/clients\/([^/]+)\/credentials\/?$/,
    methods: ['post'],
    descriptions: ['Create a client credential'],
    resource: 'client_credential',
    classify: () => 'admin.credential.create',
  },
  {
    path: /^\/api\/v2\/clients\/?$/,
    methods: ['post'],
    descriptions: ['Create client'],
    resource: 'client',
    // A machine-to-machine application is an API credential; a login application is not.
    classify: (s, request) =>
      (isObject(s) && s.app_type === 'non_interactive') || at(request, 'body.app_type') === 'non_interactive'
        ? 'admin.credential.create'
        : undefined,
  },
  {
    path: /^\/api\/v2\/clients\/([^/]+)\/?$/,
    methods: ['patch'],
    descriptions: ['Update a client'],
    resource: 'client',
    classify: (s) => {
      if (!isObject(s)) return undefined;
      const grants = Array.isArray(s.grant_types) ? s.grant_types : [];
      if (grants.some((g) => INSECURE_GRANTS.has(g as string)) || s.cross_origin_authentication === true)
        return 'admin.protection.weakened';
      return undefined;
    },
  },
  {
    path: /^\/api\/v2\/client-grants(?:\/([^/]+))?\/?$/,
    methods: WRITE,
    descriptions: ['Create client grant', 'Update client grant'],
    resource: 'client_grant',
    // Scopes of the Management API itself (`https://<tenant>/api/v2/`) are administrator rights.
    classify: (s, request) => {
      const audience = (isObject(s) ? s.audience : undefined) ?? at(request, 'body.audience');
      return typeof audience === 'string' && /\/api\/v2\/?$/.test(audience) ? 'admin.privilege.grant' : undefined;
    },
  },
  {
    path: /^\/api\/v2\/tenants\/invitations\/?$/,
    methods: ['post'],
    descriptions: ['Create tenant invitations for a given client'],
    resource: 'tenant_member',
    classify: () => 'admin.privilege.grant',
  },
];

/** The change a `sapi` record made to the tenant's defences, or undefined for any other write. */
export function auth0AdminChange(code: string, data: Json): AdminChange | undefined {
  if (code === 'mgmt_api_read') {
    const path = at(data, 'details.request.path');
    const id = typeof path === 'string' ? /^\/api\/v2\/clients\/([^/?]+)/.exec(path)?.[1] : undefined;
    return { type: 'admin.credential.read', resource: compactResource('client', id ?? idOf('client', data, {})) };
  }
  if (code !== 'sapi') return undefined;
  const request = at(data, 'details.request');
  const req = isObject(request) ? request : {};
  const path = typeof req.path === 'string' ? req.path.split('?')[0]! : undefined;
  const method = typeof req.method === 'string' ? req.method.toLowerCase() : undefined;
  const description = typeof data.description === 'string' ? data.description : undefined;
  for (const e of ENDPOINTS) {
    let id: string | undefined;
    if (path !== undefined) {
      const m = e.path.exec(path);
      if (m === null || (method !== undefined && !e.methods.includes(method))) continue;
      id = m[1];
    } else if (description === undefined || !e.descriptions.includes(description)) continue;
    const type = e.classify(stateOf(data, req), req);
    if (type === undefined) return undefined;
    // A grant is named by the application it grants to, not by the grant's own id in the path.
    const named =
      e.resource === 'client_grant' ? (idOf(e.resource, data, req) ?? id) : (id ?? idOf(e.resource, data, req));
    return { type, resource: compactResource(e.resource, named) };
  }
  return undefined;
}

/** The resulting state: the response body when Auth0 logged one, else the request body. */
function stateOf(data: Json, request: Json): Json | unknown[] {
  const response = at(data, 'details.response.body');
  const chosen =
    (isObject(response) && Object.keys(response).length > 0) || Array.isArray(response) ? response : request.body;
  return isObject(chosen) || Array.isArray(chosen) ? chosen : {};
}

function idOf(resource: string, data: Json, request: Json): string | undefined {
  if (resource === 'client_grant' || resource === 'client') {
    const fromResponse = at(data, 'details.response.body.client_id');
    const fromRequest = at(request, 'body.client_id');
    const id = typeof fromResponse === 'string' ? fromResponse : fromRequest;
    return typeof id === 'string' && id !== '' ? id : undefined;
  }
  return undefined;
}

function compactResource(type: string, id: string | undefined): AdminChange['resource'] {
  return id === undefined ? { type } : { type, id };
}
