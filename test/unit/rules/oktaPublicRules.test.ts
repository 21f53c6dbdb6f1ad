import { describe, expect, it } from 'vitest';
import { RuleIndex } from '../../../src/engine/ruleIndex.js';
import { loadRuleText } from '../../../src/rules/loader.js';

/**
 * Rules shaped like the public SigmaHQ Okta rules: `product: okta`, paths into Okta's `target`
 * array (`target.displayName`, `target.type`), older ones in Okta's camel case and current ones
 * in lower case (`eventtype`, `target.displayname`, `debugcontext.debugdata.behaviors`).
 */
const rules = `
title: New behaviours in the admin console (lower case, as SigmaHQ writes it today)
id: 7d0c4f7e-1b11-4c2e-9a55-000000000001
logsource: {product: okta, service: okta}
detection:
  selection_event:
    eventtype: policy.evaluate_sign_on
    target.displayname: Okta Admin Console
  selection_positive:
    - debugcontext.debugdata.behaviors|contains: POSITIVE
    - debugcontext.debugdata.logonlysecuritydata|contains: POSITIVE
  condition: all of selection_*
---
title: Admin role granted to a user (camel case)
id: 7d0c4f7e-1b11-4c2e-9a55-000000000002
logsource: {product: okta, service: okta}
detection:
  selection:
    eventType: user.account.privilege.grant
    target.type: User
  filter_service_account:
    target.alternateId|endswith: '@svc.example.com'
  condition: selection and not filter_service_account
---
title: App sign-on policy changed for the admin console
id: 7d0c4f7e-1b11-4c2e-9a55-000000000003
logsource: {product: okta, service: okta}
detection:
  selection:
    eventType|startswith: application.policy.sign_on.
    target.displayName|contains: admin console
  condition: selection
`;

const actor = { id: '00u1abcd', type: 'User', alternateId: 'admin@example.com', displayName: 'Admin' };
const event = (eventType: string, target: unknown[], extra: Record<string, unknown> = {}) => ({
  uuid: '9a1f2c3d-8b7d-11ef-9a1b-0242ac120002',
  published: '2026-11-20T08:15:42.123Z',
  eventType,
  actor,
  outcome: { result: 'SUCCESS', reason: null },
  target,
  ...extra,
});
const adminConsole = {
  id: '0oa1',
  type: 'AppInstance',
  alternateId: 'Okta Admin Console',
  displayName: 'Okta Admin Console',
};
const dashboard = { id: '0oa2', type: 'AppInstance', alternateId: 'Okta Dashboard', displayName: 'Okta Dashboard' };
const rule = { id: 'rul1', type: 'Rule', displayName: 'Catch-all Rule' };

describe('public Okta rules on target.* paths', () => {
  const set = loadRuleText('okta.yml', rules);
  const index = new RuleIndex(set.detections);
  const fired = (raw: Record<string, unknown>) => {
    const out: string[] = [];
    index.forEachMatch({ source: 'okta', raw }, (r) => out.push(r.id!.slice(-1)));
    return out;
  };

  it('load with no error and no warning', () => {
    expect(set.diagnostics.items).toEqual([]);
  });

  it('fire when a target matches, whichever element of the array it is', () => {
    const behaviours = {
      debugContext: { debugData: { behaviors: '{New Geo-Location=POSITIVE, New Device=NEGATIVE}' } },
    };
    expect(fired(event('policy.evaluate_sign_on', [rule, adminConsole], behaviours))).toEqual(['1']);
    const granted = [
      { id: '00u9', type: 'User', alternateId: 'eve@example.com', displayName: 'Eve' },
      { id: 'r', type: 'Role', displayName: 'Super Administrator' },
    ];
    expect(fired(event('user.account.privilege.grant', granted))).toEqual(['2']);
    expect(fired(event('application.policy.sign_on.update', [rule, adminConsole]))).toEqual(['3']);
  });

  it('do not fire when no target matches', () => {
    const behaviours = { debugContext: { debugData: { behaviors: '{New Geo-Location=POSITIVE}' } } };
    expect(fired(event('policy.evaluate_sign_on', [rule, dashboard], behaviours))).toEqual([]);
    expect(
      fired(
        event('policy.evaluate_sign_on', [rule, adminConsole], {
          debugContext: { debugData: { behaviors: '{New Device=NEGATIVE}' } },
        }),
      ),
    ).toEqual([]);
    const toGroup = [{ id: '00g1', type: 'UserGroup', displayName: 'Admins' }];
    expect(fired(event('user.account.privilege.grant', toGroup))).toEqual([]);
    const toService = [{ id: '00u8', type: 'User', alternateId: 'deploy@svc.example.com', displayName: 'Deploy' }];
    expect(fired(event('user.account.privilege.grant', toService))).toEqual([]);
    expect(fired(event('application.policy.sign_on.update', [rule, dashboard]))).toEqual([]);
  });
});
