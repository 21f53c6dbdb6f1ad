import { describe, expect, it } from 'vitest';
import { ecsVersion, ocsfVersions, validateEcs, validateOcsf } from '../../support/siemSchemas.js';

/** The two ends of OCSF 1.x we check: 1.1.0 (Detection Finding's first; what AWS Security Lake reads) and the newest. */
const OLDEST = '1.1.0';
const NEWEST = '1.8.0';

/** A small OCSF Detection Finding with what the schemas require and a little more, valid in 1.1.0 and 1.8.0. */
function finding(): Record<string, unknown> {
  return {
    class_uid: 2004,
    class_name: 'Detection Finding',
    category_uid: 2,
    category_name: 'Findings',
    activity_id: 1,
    activity_name: 'Create',
    type_uid: 200401,
    type_name: 'Detection Finding: Create',
    severity_id: 4,
    severity: 'High',
    status_id: 1,
    time: 1795996800000,
    message: 'Impossible travel for alice@example.com',
    metadata: {
      version: OLDEST,
      product: { name: 'authwatch', vendor_name: 'authwatch', version: '0.1.0' },
      uid: 'alert-1',
    },
    finding_info: {
      uid: 'alert-1',
      title: 'Impossible travel',
      analytic: { uid: 'rule-7', name: 'impossible_travel', type_id: 1 },
      types: ['impossible_travel'],
      attacks: [{ version: '15.1', tactic: { uid: 'TA0001', name: 'Initial Access' } }],
    },
    observables: [{ name: 'src_endpoint.ip', type_id: 2, value: '203.0.113.7' }],
    evidences: [{ src_endpoint: { ip: '203.0.113.7', location: { country: 'FR' } } }],
    unmapped: { anything: { goes: ['here', 1] } },
  };
}

const info = (doc: Record<string, unknown>) => doc.finding_info as Record<string, unknown>;

/** `message` as validateOcsf without a version says it: once per vendored version. */
const inEvery = (message: string) => ocsfVersions.map((v) => `OCSF ${v}: ${message}`);

describe('the vendored SIEM schemas', () => {
  it('name their versions, OCSF ascending and at both ends of 1.x', () => {
    expect(ocsfVersions).toEqual(expect.arrayContaining([OLDEST, NEWEST]));
    expect(ocsfVersions[0]).toBe(OLDEST);
    expect(ocsfVersions.at(-1)).toBe(NEWEST);
    for (const v of ocsfVersions) expect(v).toMatch(/^1\.\d+\.\d+$/);
    expect(ecsVersion).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('validateOcsf', () => {
  it('passes a minimal Detection Finding in every version', () => {
    expect(validateOcsf(finding())).toEqual([]);
    for (const v of ocsfVersions) expect(validateOcsf(finding(), v)).toEqual([]);
  });

  it('refuses in 1.1.0 what only later versions define, naming the version', () => {
    // finding_info.uid_alt came in OCSF 1.4.0.
    const doc = finding();
    info(doc).uid_alt = 'alert-1-alt';
    expect(validateOcsf(doc, NEWEST)).toEqual([]);
    expect(validateOcsf(doc, OLDEST)).toEqual(["/finding_info has an attribute OCSF does not define: 'uid_alt'"]);
    expect(validateOcsf(doc)).toEqual([
      `OCSF ${OLDEST}: /finding_info has an attribute OCSF does not define: 'uid_alt'`,
    ]);
    // is_alert (1.4.0) at the top, evidences[].user (1.3.0), attacks[].mitigation (1.5.0).
    const more = { ...finding(), is_alert: true, evidences: [{ user: { name: 'alice' } }] };
    info(more).attacks = [{ tactic: { uid: 'TA0001' }, mitigation: { name: 'MFA' } }];
    expect(validateOcsf(more, NEWEST)).toEqual([]);
    expect(validateOcsf(more, OLDEST).sort()).toEqual([
      "/ has an attribute OCSF does not define: 'is_alert'",
      "/evidences/0 has an attribute OCSF does not define: 'user'",
      '/evidences/0 must have at least one of actor, api, connection_info, data, dst_endpoint, file, process, query, src_endpoint',
      "/finding_info/attacks/0 has an attribute OCSF does not define: 'mitigation'",
    ]);
  });

  it('refuses in 1.1.0 an enumeration value added later, and in 1.1.0 only a title it requires', () => {
    // status_id 5 (Archived) came after 1.1.0, whose statuses end at 4 (Resolved).
    expect(validateOcsf({ ...finding(), status_id: 5 })).toEqual([
      `OCSF ${OLDEST}: /status_id must be one of 0, 1, 2, 3, 4, 99 (got 5)`,
    ]);
    // finding_info.title is required in 1.1.0, recommended only in 1.8.0.
    const doc = finding();
    delete info(doc).title;
    expect(validateOcsf(doc)).toEqual([`OCSF ${OLDEST}: /finding_info must have required property 'title'`]);
  });

  it('fails a misspelled attribute, naming it', () => {
    const doc = finding();
    info(doc).titel = 'typo';
    for (const v of ocsfVersions) {
      const errors = validateOcsf(doc, v);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toContain('/finding_info');
      expect(errors[0]).toContain("'titel'");
    }
  });

  it('fails a misspelled top-level attribute', () => {
    expect(validateOcsf({ ...finding(), severity_ld: 4 })).toEqual(
      inEvery("/ has an attribute OCSF does not define: 'severity_ld'"),
    );
  });

  it('fails a value of the wrong type, naming the attribute', () => {
    expect(validateOcsf({ ...finding(), time: '2026-11-30T00:00:00Z' })).toEqual(inEvery('/time must be integer'));
    for (const v of ocsfVersions) {
      expect(validateOcsf({ ...finding(), severity_id: 'high' }, v).join('\n')).toContain(
        '/severity_id must be integer',
      );
    }
  });

  it('fails a missing required attribute, naming it', () => {
    const doc = finding();
    delete (doc.metadata as Record<string, unknown>).version;
    expect(validateOcsf(doc)).toEqual(inEvery("/metadata must have required property 'version'"));
    const { finding_info: _, ...noInfo } = finding();
    expect(validateOcsf(noInfo)).toEqual(inEvery("/ must have required property 'finding_info'"));
  });

  it('fails a value outside an enumeration', () => {
    expect(validateOcsf({ ...finding(), class_uid: 2005 })).toEqual(
      inEvery('/class_uid must be one of 2004 (got 2005)'),
    );
    for (const v of ocsfVersions) {
      expect(validateOcsf({ ...finding(), activity_id: 7 }, v)[0]).toMatch(
        /^\/activity_id must be one of 0, 1, 2, 3, 99/,
      );
    }
  });

  it("fails an OCSF constraint and a typed string's format", () => {
    const doc = finding();
    doc.metadata = { version: OLDEST, product: { vendor_name: 'authwatch' } };
    doc.evidences = [{ src_endpoint: { ip: 'not an ip' } }];
    for (const v of ocsfVersions) {
      expect(validateOcsf(doc, v).sort()).toEqual([
        '/evidences/0/src_endpoint/ip is not a valid OCSF ip_t (got "not an ip")',
        '/metadata/product must have at least one of name, uid',
      ]);
    }
  });

  it('fails something that is not an object', () => {
    expect(validateOcsf('finding')).toEqual(inEvery('/ must be object'));
  });

  it('refuses a version it does not hold', () => {
    expect(() => validateOcsf(finding(), '0.9.0')).toThrow(/OCSF 0\.9\.0 is not vendored/);
  });
});

describe('validateEcs', () => {
  const alert = () => ({
    '@timestamp': '2026-11-30T00:00:00.000Z',
    event: { kind: 'alert' },
    source: { ip: '203.0.113.7', geo: { location: { lat: 1, lon: 2 } } },
  });

  it('passes a small alert', () => {
    expect(validateEcs(alert())).toEqual([]);
  });

  it('passes dotted keys, arrays, labels and epoch-millis dates', () => {
    expect(
      validateEcs({
        ...alert(),
        'event.created': 1795996800000,
        'event.category': ['authentication', 'iam'],
        'event.risk_score': 73.5,
        'rule.name': 'impossible_travel',
        labels: { tenant: 'acme' },
        'related.ip': ['203.0.113.7', '2001:db8::1'],
        user: { name: 'alice', roles: ['admin'] },
      }),
    ).toEqual([]);
  });

  it('fails an unknown field', () => {
    expect(validateEcs({ ...alert(), source: { ip: '203.0.113.7', ipaddr: '203.0.113.7' } })).toEqual([
      `source.ipaddr: not an ECS ${ecsVersion} field`,
    ]);
    expect(validateEcs({ ...alert(), 'authwatch.rule': 'x' })).toEqual([
      `authwatch.rule: not an ECS ${ecsVersion} field`,
    ]);
  });

  it('fails an ip that is not one', () => {
    const errors = validateEcs({ ...alert(), source: { ip: 'not an ip' } });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^source\.ip: "not an ip" does not fit ECS type ip/);
  });

  it('fails a string risk score', () => {
    const errors = validateEcs({ ...alert(), event: { kind: 'alert', risk_score: 'high' } });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^event\.risk_score: "high" does not fit ECS type float/);
  });

  it('fails dates, geo points and keywords of the wrong shape', () => {
    expect(
      validateEcs({
        '@timestamp': 'yesterday',
        source: { geo: { location: { lat: 91, lon: 2 } } },
        event: { kind: 7 },
      }),
    ).toEqual([
      expect.stringMatching(/^@timestamp: "yesterday" does not fit ECS type date/),
      expect.stringMatching(/^source\.geo\.location: .* does not fit ECS type geo_point/),
      expect.stringMatching(/^event\.kind: 7 does not fit ECS type keyword/),
    ]);
  });
});
