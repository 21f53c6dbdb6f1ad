import { describe, expect, it } from 'vitest';
import { matches } from '../../support/rules.js';
import { loadRuleText } from '../../../src/rules/loader.js';

type Case = [name: string, detection: string, event: Record<string, unknown>, expected: boolean];

const login = {
  type: 'login.failure',
  ip: '203.0.113.7',
  user: { name: 'Alice@Example.com', id: 'auth0|123' },
  user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0',
  attempts: 7,
  time: 1_767_323_045_000, // 2026-01-02T03:04:05Z
  tags: ['vpn', 'tor-exit'],
  details: { scopes: [{ name: 'read:users' }, { name: 'delete:users' }], empty: '', nothing: null },
  cmd: 'net user /add eve',
  blob: 'prefix L2Jpbi9zaA== suffix',
  wide_b64: 'YwBtAGQA',
  'flat.key': 'flat',
};

const modifierCases: Case[] = [
  // plain equality: case-insensitive, wildcards, escapes, numbers, booleans, null, empty
  ['equality is case-insensitive', 'sel: {user.name: alice@example.com}\ncondition: sel', login, true],
  ['equality rejects a different value', 'sel: {user.name: bob@example.com}\ncondition: sel', login, false],
  ['* wildcard', "sel: {user.name: 'alice@*'}\ncondition: sel", login, true],
  ['? wildcard', "sel: {user.name: 'alic?@example.com'}\ncondition: sel", login, true],
  ['? matches exactly one character', "sel: {user.name: 'al?@example.com'}\ncondition: sel", login, false],
  ['escaped * is literal', "sel: {user.name: 'alice\\*'}\ncondition: sel", { user: { name: 'alice*' } }, true],
  ['escaped * does not wildcard', "sel: {user.name: 'alice\\*'}\ncondition: sel", login, false],
  ['number equals number field', 'sel: {attempts: 7}\ncondition: sel', login, true],
  ['number equals numeric string field', 'sel: {attempts: 7}\ncondition: sel', { attempts: '7' }, true],
  ['number rejects another number', 'sel: {attempts: 8}\ncondition: sel', login, false],
  ['boolean matches boolean', 'sel: {ok: false}\ncondition: sel', { ok: false }, true],
  ['boolean matches its text', 'sel: {ok: false}\ncondition: sel', { ok: 'false' }, true],
  ['boolean rejects the other', 'sel: {ok: false}\ncondition: sel', { ok: true }, false],
  ['null matches an absent field', 'sel: {missing: null}\ncondition: sel', login, true],
  ['null matches a null field', 'sel: {details.nothing: null}\ncondition: sel', login, true],
  ['null rejects a present field', 'sel: {ip: null}\ncondition: sel', login, false],
  ["'' matches an empty string", "sel: {details.empty: ''}\ncondition: sel", login, true],
  ["'' rejects an absent field", "sel: {missing: ''}\ncondition: sel", login, false],
  ['a list is OR', 'sel: {ip: [198.51.100.1, 203.0.113.7]}\ncondition: sel', login, true],
  ['a list rejects when none match', 'sel: {ip: [198.51.100.1, 198.51.100.2]}\ncondition: sel', login, false],
  ['a map is AND', 'sel: {ip: 203.0.113.7, attempts: 7}\ncondition: sel', login, true],
  ['a map rejects when one fails', 'sel: {ip: 203.0.113.7, attempts: 1}\ncondition: sel', login, false],
  ['a list of maps is OR', 'sel:\n  - {ip: 1.1.1.1}\n  - {attempts: 7}\ncondition: sel', login, true],
  [
    'a list of maps rejects when none match',
    'sel:\n  - {ip: 1.1.1.1}\n  - {attempts: 1}\ncondition: sel',
    login,
    false,
  ],
  ['a leaf array matches any element', 'sel: {tags: tor-exit}\ncondition: sel', login, true],
  ['a leaf array rejects when no element matches', 'sel: {tags: proxy}\ncondition: sel', login, false],
  ['field{} matches any element', "sel:\n  details.scopes{}.name: 'delete:*'\ncondition: sel", login, true],
  [
    'field{} rejects when no element matches',
    "sel:\n  details.scopes{}.name: 'create:*'\ncondition: sel",
    login,
    false,
  ],
  ['a flattened dotted key resolves', 'sel: {flat.key: flat}\ncondition: sel', login, true],
  // contains / startswith / endswith / all
  ['contains', 'sel: {user_agent|contains: linux}\ncondition: sel', login, true],
  ['contains rejects', 'sel: {user_agent|contains: windows}\ncondition: sel', login, false],
  ['startswith', 'sel: {user_agent|startswith: mozilla/}\ncondition: sel', login, true],
  ['startswith rejects a middle match', 'sel: {user_agent|startswith: linux}\ncondition: sel', login, false],
  ['endswith', 'sel: {user_agent|endswith: firefox/128.0}\ncondition: sel', login, true],
  ['endswith rejects', 'sel: {user_agent|endswith: mozilla}\ncondition: sel', login, false],
  ['contains|all needs every value', 'sel: {user_agent|contains|all: [linux, firefox]}\ncondition: sel', login, true],
  [
    'contains|all rejects when one is missing',
    'sel: {user_agent|contains|all: [linux, chrome]}\ncondition: sel',
    login,
    false,
  ],
  ['all on a leaf array can use different elements', 'sel: {tags|all: [vpn, tor-exit]}\ncondition: sel', login, true],
  // cased
  ['cased matches the exact case', 'sel: {user.name|cased: Alice@Example.com}\ncondition: sel', login, true],
  ['cased rejects another case', 'sel: {user.name|cased: alice@example.com}\ncondition: sel', login, false],
  ['cased contains', 'sel: {user_agent|contains|cased: Linux}\ncondition: sel', login, true],
  ['cased contains rejects', 'sel: {user_agent|contains|cased: linux}\ncondition: sel', login, false],
  // neq
  ['neq matches a different value', 'sel: {ip|neq: 1.1.1.1}\ncondition: sel', login, true],
  ['neq rejects the value', 'sel: {ip|neq: 203.0.113.7}\ncondition: sel', login, false],
  ['neq with a list rejects any listed value', 'sel: {ip|neq: [1.1.1.1, 203.0.113.7]}\ncondition: sel', login, false],
  // exists
  ['exists: true on a present field', 'sel: {ip|exists: true}\ncondition: sel', login, true],
  ['exists: true on a null field (present)', 'sel: {details.nothing|exists: true}\ncondition: sel', login, true],
  ['exists: true rejects an absent field', 'sel: {nope|exists: true}\ncondition: sel', login, false],
  ['exists: false on an absent field', 'sel: {nope|exists: false}\ncondition: sel', login, true],
  ['exists: false rejects a present field', 'sel: {ip|exists: false}\ncondition: sel', login, false],
  // numeric
  ['lt', 'sel: {attempts|lt: 8}\ncondition: sel', login, true],
  ['lt rejects equal', 'sel: {attempts|lt: 7}\ncondition: sel', login, false],
  ['lte accepts equal', 'sel: {attempts|lte: 7}\ncondition: sel', login, true],
  ['lte rejects greater', 'sel: {attempts|lte: 6}\ncondition: sel', login, false],
  ['gt', 'sel: {attempts|gt: 6}\ncondition: sel', login, true],
  ['gt rejects equal', 'sel: {attempts|gt: 7}\ncondition: sel', login, false],
  ['gte accepts equal', 'sel: {attempts|gte: 7}\ncondition: sel', login, true],
  ['gte rejects less', 'sel: {attempts|gte: 8}\ncondition: sel', login, false],
  ['numeric compare reads numeric strings', 'sel: {attempts|gt: 5}\ncondition: sel', { attempts: '6' }, true],
  ['numeric compare rejects non-numbers', 'sel: {attempts|gt: 5}\ncondition: sel', { attempts: 'many' }, false],
  // re
  ['re', "sel: {user.name|re: '^alice@.+\\.com$'}\ncondition: sel", { user: { name: 'alice@example.com' } }, true],
  ['re is case-sensitive', "sel: {user.name|re: '^alice@'}\ncondition: sel", login, false],
  ['re|i is case-insensitive', "sel: {user.name|re|i: '^alice@'}\ncondition: sel", login, true],
  ['re|m anchors at lines', "sel: {msg|re|m: '^second$'}\ncondition: sel", { msg: 'first\nsecond' }, true],
  ['re without m does not', "sel: {msg|re: '^second$'}\ncondition: sel", { msg: 'first\nsecond' }, false],
  ['re|s lets . match newlines', "sel: {msg|re|s: 'first.second'}\ncondition: sel", { msg: 'first\nsecond' }, true],
  ['re without s does not', "sel: {msg|re: 'first.second'}\ncondition: sel", { msg: 'first\nsecond' }, false],
  // cidr
  ['cidr v4', 'sel: {ip|cidr: 203.0.113.0/24}\ncondition: sel', login, true],
  ['cidr v4 rejects', 'sel: {ip|cidr: 10.0.0.0/8}\ncondition: sel', login, false],
  ['cidr v6', "sel: {ip|cidr: '2001:db8::/32'}\ncondition: sel", { ip: '2001:db8:1::5' }, true],
  ['cidr v6 rejects', "sel: {ip|cidr: '2001:db8::/32'}\ncondition: sel", { ip: '2001:db9::5' }, false],
  ['cidr list is OR', 'sel: {ip|cidr: [10.0.0.0/8, 203.0.113.0/24]}\ncondition: sel', login, true],
  // encodings
  ['base64 contains', 'sel: {blob|base64|contains: /bin/sh}\ncondition: sel', login, true],
  ['base64 rejects other text', 'sel: {blob|base64|contains: /bin/bash}\ncondition: sel', login, false],
  [
    'base64offset contains',
    'sel: {b|base64offset|contains: /bin/sh}\ncondition: sel',
    { b: 'eCAvYmluL3No' /* "x /bin/sh" */ },
    true,
  ],
  [
    'base64offset rejects other text',
    'sel: {b|base64offset|contains: /bin/zsh}\ncondition: sel',
    { b: 'eCAvYmluL3No' },
    false,
  ],
  ['wide|base64', 'sel: {wide_b64|wide|base64: cmd}\ncondition: sel', login, true],
  ['utf16le|base64 equals wide', 'sel: {wide_b64|utf16le|base64: cmd}\ncondition: sel', login, true],
  ['utf16be|base64', 'sel: {b|utf16be|base64: cmd}\ncondition: sel', { b: 'AGMAbQBk' }, true],
  ['utf16|base64 has a BOM', 'sel: {b|utf16|base64: cmd}\ncondition: sel', { b: '//5jAG0AZAA=' }, true],
  ['utf16le|base64 rejects utf8', 'sel: {b|utf16le|base64: cmd}\ncondition: sel', { b: 'Y21k' }, false],
  // windash
  ['windash matches / for -', 'sel: {cmd|windash|contains: -add}\ncondition: sel', login, true],
  [
    'windash matches an en dash',
    'sel: {cmd|windash|contains: -add}\ncondition: sel',
    { cmd: 'net user –add eve' },
    true,
  ],
  ['windash rejects other text', 'sel: {cmd|windash|contains: -del}\ncondition: sel', login, false],
  ['without windash / is not -', 'sel: {cmd|contains: -add}\ncondition: sel', login, false],
  // fieldref
  ['fieldref equal fields', 'sel: {a|fieldref: b}\ncondition: sel', { a: 'X', b: 'x' }, true],
  ['fieldref different fields', 'sel: {a|fieldref: b}\ncondition: sel', { a: 'x', b: 'y' }, false],
  ['fieldref|neq different fields', 'sel: {a|fieldref|neq: b}\ncondition: sel', { a: 'x', b: 'y' }, true],
  ['fieldref|cased', 'sel: {a|fieldref|cased: b}\ncondition: sel', { a: 'X', b: 'x' }, false],
  // time modifiers (UTC): 2026-01-02T03:04:05Z
  ['minute', 'sel: {time|minute: 4}\ncondition: sel', login, true],
  ['hour', 'sel: {time|hour: 3}\ncondition: sel', login, true],
  ['hour rejects', 'sel: {time|hour: 4}\ncondition: sel', login, false],
  ['day', 'sel: {time|day: 2}\ncondition: sel', login, true],
  ['week', 'sel: {time|week: 1}\ncondition: sel', login, true],
  ['month', 'sel: {time|month: 1}\ncondition: sel', login, true],
  ['year', 'sel: {time|year: 2026}\ncondition: sel', login, true],
  ['year rejects', 'sel: {time|year: 2025}\ncondition: sel', login, false],
  ['hour|gte on an ISO string', 'sel: {at|hour|gte: 22}\ncondition: sel', { at: '2026-01-02T23:15:00Z' }, true],
  ['hour|lt rejects', 'sel: {at|hour|lt: 6}\ncondition: sel', { at: '2026-01-02T23:15:00Z' }, false],
  // keywords
  ['keyword found in any value', "keywords: ['Firefox']\ncondition: keywords", login, true],
  ['keyword found in a nested array', "keywords: ['delete:users']\ncondition: keywords", login, true],
  ['keyword not found', "keywords: ['Chrome']\ncondition: keywords", login, false],
  ['keyword list is OR', "keywords: ['Chrome', 'x86_64']\ncondition: keywords", login, true],
  ["keyword with '|contains' key", "k:\n  '|contains': ['x86']\ncondition: k", login, true],
  // nested mapping value (read as a nested path, AW1212 warning)
  ['nested mapping value is a nested path', 'sel:\n  details:\n    empty: ""\ncondition: sel', login, true],
];

describe('detection modifiers', () => {
  it.each(modifierCases)('%s', (_name, detection, event, expected) => {
    expect(matches(detection, event)).toBe(expected);
  });

  it('expand replaces a placeholder with every configured value', () => {
    const d = "sel: {user.name|expand: '%admins%'}\ncondition: sel";
    const placeholders = { admins: ['root@example.com', 'alice@example.com'] };
    expect(matches(d, login, placeholders)).toBe(true);
    expect(matches(d, { user: { name: 'bob@example.com' } }, placeholders)).toBe(false);
  });
});

/** Okta System Log: `target` is always an array of objects, often of several kinds. */
const oktaPolicy = {
  eventType: 'policy.evaluate_sign_on',
  target: [
    { id: '0oa1b2c3', type: 'AppInstance', alternateId: 'Okta Admin Console', displayName: 'Okta Admin Console' },
    {
      id: 'rul9x8',
      type: 'Rule',
      displayName: 'Catch-all Rule',
      detailEntry: { policyType: 'OKTA_SIGN_ON', tags: ['a', 'b'] },
    },
  ],
  request: { ipChain: [{ ip: '81.2.69.142', version: 'V4' }] },
};
const oktaNoDisplay = {
  eventType: 'user.session.start',
  target: [
    { id: 'x', type: 'User' },
    { id: 'y', type: 'App' },
  ],
};

const arrayPathCases: Case[] = [
  [
    'a dotted path reads every element of an array it meets',
    'sel: {target.type: Rule}\ncondition: sel',
    oktaPolicy,
    true,
  ],
  ['… and rejects when no element matches', 'sel: {target.type: Group}\ncondition: sel', oktaPolicy, false],
  ['… and matches through nested arrays', 'sel: {request.ipChain.ip: 81.2.69.142}\ncondition: sel', oktaPolicy, true],
  [
    '… into objects below the array',
    'sel: {target.detailEntry.policyType: OKTA_SIGN_ON}\ncondition: sel',
    oktaPolicy,
    true,
  ],
  ['… spreading arrays at the leaf', 'sel: {target.detailEntry.tags: b}\ncondition: sel', oktaPolicy, true],
  ['… with contains', "sel: {target.displayName|contains: 'Admin Con'}\ncondition: sel", oktaPolicy, true],
  ['… with startswith', "sel: {target.displayName|startswith: 'catch-all'}\ncondition: sel", oktaPolicy, true],
  ['… with endswith rejecting', "sel: {target.displayName|endswith: 'Portal'}\ncondition: sel", oktaPolicy, false],
  ['… with wildcards', "sel: {target.alternateId: 'okta*console'}\ncondition: sel", oktaPolicy, true],
  ['… with re', "sel: {target.id|re: '^rul[0-9]'}\ncondition: sel", oktaPolicy, true],
  ['… with cased rejecting', 'sel: {target.type|cased: rule}\ncondition: sel', oktaPolicy, false],
  ['… with all across elements', 'sel: {target.type|all: [Rule, AppInstance]}\ncondition: sel', oktaPolicy, true],
  ['… with all rejecting a missing one', 'sel: {target.type|all: [Rule, User]}\ncondition: sel', oktaPolicy, false],
  ['… with cidr', 'sel: {request.ipChain.ip|cidr: 81.2.0.0/16}\ncondition: sel', oktaPolicy, true],
  ['… with neq (no element is the value)', 'sel: {target.type|neq: Group}\ncondition: sel', oktaPolicy, true],
  ['… with neq rejecting (an element is the value)', 'sel: {target.type|neq: Rule}\ncondition: sel', oktaPolicy, false],
  ['… with fieldref', 'sel: {target.alternateId|fieldref: target.displayName}\ncondition: sel', oktaPolicy, true],
  [
    'exists: true when an element carries the field',
    'sel: {target.displayName|exists: true}\ncondition: sel',
    oktaPolicy,
    true,
  ],
  [
    'exists: true rejects when none does',
    'sel: {target.displayName|exists: true}\ncondition: sel',
    oktaNoDisplay,
    false,
  ],
  [
    'exists: false when no element carries it',
    'sel: {target.displayName|exists: false}\ncondition: sel',
    oktaNoDisplay,
    true,
  ],
  ['exists: false rejects when one does', 'sel: {target.displayName|exists: false}\ncondition: sel', oktaPolicy, false],
  ['null when no element carries a value', 'sel: {target.displayName: null}\ncondition: sel', oktaNoDisplay, true],
  ['null on an empty array', 'sel: {target.displayName: null}\ncondition: sel', { target: [] }, true],
  [
    'null when every element holds null',
    'sel: {target.displayName: null}\ncondition: sel',
    { target: [{ displayName: null }] },
    true,
  ],
  [
    'null rejects when an element carries a value',
    'sel: {target.displayName: null}\ncondition: sel',
    oktaPolicy,
    false,
  ],
  ['not with an array path', 'sel: {target.type: Group}\ncondition: not sel', oktaPolicy, true],
  ['field{} still matches any element', 'sel:\n  target{}.type: AppInstance\ncondition: sel', oktaPolicy, true],
  ['field{} still rejects', 'sel:\n  target{}.type: Group\ncondition: sel', oktaPolicy, false],
  ['a path on an object is unchanged', 'sel: {request.ipChain: null}\ncondition: sel', oktaNoDisplay, true],
];

describe('dotted paths through arrays (Okta target.*)', () => {
  it.each(arrayPathCases)('%s', (_name, detection, event, expected) => {
    expect(matches(detection, event)).toBe(expected);
  });
});

const sel = 'a: {x: 1}\nb: {y: 1}\nc: {z: 1}\n_d: {w: 1}\n';
const conditionCases: Array<[condition: string, event: Record<string, unknown>, expected: boolean]> = [
  ['a', { x: 1 }, true],
  ['a', { y: 1 }, false],
  ['a and b', { x: 1, y: 1 }, true],
  ['a and b', { x: 1 }, false],
  ['a or b', { y: 1 }, true],
  ['a or b', { z: 1 }, false],
  ['not a', { y: 1 }, true],
  ['not a', { x: 1 }, false],
  ['a and not b', { x: 1 }, true],
  ['a and not b', { x: 1, y: 1 }, false],
  ['a or b and c', { x: 1 }, true], // and binds tighter than or
  ['(a or b) and c', { x: 1 }, false],
  ['(a or b) and c', { x: 1, z: 1 }, true],
  ['not (a or b)', { z: 1 }, true],
  ['not (a or b)', { y: 1 }, false],
  ['1 of a*', { x: 1 }, true],
  ['all of a*', { x: 1 }, true],
  ['1 of them', { z: 1 }, true],
  ['1 of them', { w: 1 }, false], // _d is left out of `them`
  ['all of them', { x: 1, y: 1, z: 1 }, true],
  ['all of them', { x: 1, y: 1 }, false],
  ['all of them', { x: 1, y: 1, z: 1, w: 0 }, true],
  ['1 of _*', { w: 1 }, true],
  ['1 of *', { w: 1 }, true],
  ['a AND NOT b', { x: 1 }, true], // keywords are case-insensitive, identifiers are not
];

describe('condition forms', () => {
  it.each(conditionCases)('%s on %j → %s', (condition, event, expected) => {
    expect(matches(`${sel}condition: ${condition}`, event)).toBe(expected);
  });

  it('a list of conditions is OR', () => {
    const d = `${sel}condition:\n  - a and b\n  - c`;
    expect(matches(d, { z: 1 })).toBe(true);
    expect(matches(d, { x: 1, y: 1 })).toBe(true);
    expect(matches(d, { x: 1 })).toBe(false);
  });
});

describe('a placeholder written as a field value ({name}, as in the Auth0 catalog)', () => {
  const rule = [
    'title: Excessive Management API scope grants',
    'logsource:',
    '  product: auth0',
    'detection:',
    '  selection:',
    '    data.type: sapi',
    '  filter_auth0_dashboard:',
    '    data.client_id: {global_client_id} # the Global Client ID of the Auth0 Dashboard',
    '  condition: selection and not filter_auth0_dashboard',
    '',
  ].join('\n');
  const sapi = (clientId: string) => ({ data: { type: 'sapi', client_id: clientId, description: 'Update a client' } });
  const load = (placeholders?: Record<string, string[]>) =>
    loadRuleText('catalog.yml', rule, placeholders ? { placeholders } : {});
  const fires = (set: ReturnType<typeof load>, doc: Record<string, unknown>) => set.detections[0]!.predicate(doc);

  it('warns at the placeholder while it is unset, and matches nothing, so `not filter` keeps the rule alive', () => {
    const set = load();
    expect(set.diagnostics.errorCount).toBe(0);
    const warning = set.diagnostics.items.find((d) => d.code === 'AW1213');
    expect(warning).toMatchObject({ severity: 'warning', span: { start: { line: 8, column: 21 } } });
    expect(warning?.message).toContain('{global_client_id}');
    expect(set.diagnostics.items.some((d) => d.code === 'AW1212')).toBe(false);
    expect(fires(set, sapi('GlobalDashboardClientId00000000'))).toBe(true);
    expect(fires(set, sapi('m2m-client-123'))).toBe(true);
  });

  it('takes its values from the values file once set', () => {
    const set = load({ global_client_id: ['GlobalDashboardClientId00000000'] });
    expect(set.diagnostics.items.filter((d) => d.code === 'AW1213')).toEqual([]);
    expect(fires(set, sapi('GlobalDashboardClientId00000000'))).toBe(false);
    expect(fires(set, sapi('m2m-client-123'))).toBe(true);
  });

  it('works inside a list of values, beside literal ones', () => {
    const listRule = rule.replace(
      '    data.client_id: {global_client_id} # the Global Client ID of the Auth0 Dashboard',
      '    data.client_id: [{global_client_id}, known-admin-tool]',
    );
    const unset = loadRuleText('catalog.yml', listRule);
    expect(unset.detections[0]!.predicate(sapi('known-admin-tool'))).toBe(false);
    expect(unset.detections[0]!.predicate(sapi('GlobalDashboardClientId00000000'))).toBe(true);
    const set = loadRuleText('catalog.yml', listRule, {
      placeholders: { global_client_id: ['GlobalDashboardClientId00000000'] },
    });
    expect(set.detections[0]!.predicate(sapi('GlobalDashboardClientId00000000'))).toBe(false);
  });

  it('a block mapping or one with a value is still a nested path', () => {
    expect(matches('sel:\n  details:\n    empty: ""\ncondition: sel', login)).toBe(true);
    expect(matches('sel:\n  details: {nothing: null}\ncondition: sel', login)).toBe(true);
  });
});

describe('placeholders named inside text values (as the catalog quotes them)', () => {
  const rule = [
    'title: High risk event - grant Management APIs scopes',
    'logsource:',
    '  product: auth0',
    'detection:',
    '  selection:',
    '    data.type: sapi',
    '    data.details.response.body.audience:',
    "      - 'https://{your-tenant-domain}/api/v2/'",
    '  trusted:',
    '    data.details.response.body.client_id:',
    "      - '{trusted-client_id-1}'",
    "      - '{trusted-client_id-2}'",
    '  regex:',
    "    data.details.response.body.client_id|re: '^a{2}$'",
    '  condition: selection and not trusted and not regex',
    '',
  ].join('\n');
  const grant = (audience: string, clientId: string) => ({
    data: { type: 'sapi', details: { response: { body: { audience, client_id: clientId } } } },
  });
  const mgmt = 'https://example-tenant.us.auth0.com/api/v2/';

  it('stay literal text, with no warning, while the values file does not set them', () => {
    const set = loadRuleText('catalog.yml', rule);
    expect(set.diagnostics.items).toEqual([]);
    expect(set.detections[0]!.predicate(grant(mgmt, 'm2m'))).toBe(false);
    expect(set.detections[0]!.predicate(grant('https://{your-tenant-domain}/api/v2/', 'm2m'))).toBe(true);
  });

  it('take every configured value once set, and leave unset names and regular expressions alone', () => {
    const set = loadRuleText('catalog.yml', rule, {
      placeholders: {
        'your-tenant-domain': ['example-tenant.us.auth0.com', 'login.example.com'],
        'trusted-client_id-1': ['TrustedDeployTool'],
        '2': ['zz'],
      },
    });
    expect(set.diagnostics.items).toEqual([]);
    const fires = (doc: Record<string, unknown>) => set.detections[0]!.predicate(doc);
    expect(fires(grant(mgmt, 'm2m'))).toBe(true);
    expect(fires(grant('https://login.example.com/api/v2/', 'm2m'))).toBe(true);
    expect(fires(grant('https://api.example.com/orders', 'm2m'))).toBe(false);
    expect(fires(grant(mgmt, 'TrustedDeployTool'))).toBe(false);
    // `{trusted-client_id-2}` is not set: the literal text, which no client id is.
    expect(fires(grant(mgmt, '{trusted-client_id-2}'))).toBe(false);
    // `a{2}` in the regular expression is a repetition, not the placeholder `2`.
    expect(fires(grant(mgmt, 'aa'))).toBe(false);
  });
});

describe("a rule's own placeholder defaults (`placeholders:`)", () => {
  const rule = [
    'title: Login from a denied country',
    'logsource: {product: authwatch, service: auth}',
    'placeholders:',
    '  denied_countries: []',
    "  allowed_countries: ['*']",
    '  admins: []',
    'detection:',
    '  login: {type: login.success}',
    '  denied: {geo.country: {denied_countries}}',
    '  allowed: {geo.country: {allowed_countries}}',
    "  admin: {user.name|expand: '%admins%'}",
    '  condition: login and (denied or admin or not allowed)',
    '',
  ].join('\n');
  const login = (country: string, name = 'alice@example.com') => ({
    type: 'login.success',
    geo: { country },
    user: { name },
  });

  it('are quiet when empty, and match nothing: the rule is off until the values file fills them', () => {
    const set = loadRuleText('blocked.yml', rule);
    expect(set.diagnostics.items).toEqual([]);
    expect(set.detections[0]!.predicate(login('KP'))).toBe(false);
    expect(set.detections[0]!.predicate(login('GB'))).toBe(false);
  });

  it('give way to the values file', () => {
    const set = loadRuleText('blocked.yml', rule, {
      placeholders: { denied_countries: ['KP'], allowed_countries: ['GB', 'IE'], admins: ['root@example.com'] },
    });
    expect(set.diagnostics.items).toEqual([]);
    const fires = (doc: Record<string, unknown>) => set.detections[0]!.predicate(doc);
    expect(fires(login('KP'))).toBe(true);
    expect(fires(login('FR'))).toBe(true);
    expect(fires(login('GB'))).toBe(false);
    expect(fires(login('IE', 'root@example.com'))).toBe(true);
  });

  it('are checked: a default that is not a list of text is an error at its line', () => {
    const set = loadRuleText('blocked.yml', rule.replace('  denied_countries: []', '  denied_countries: KP'));
    const error = set.diagnostics.items.find((d) => d.severity === 'error');
    expect(error).toMatchObject({ code: 'AW1601', span: { start: { line: 4 } } });
  });
});
