import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRules, loadRuleText, type RuleSet } from '../../../src/rules/loader.js';
import { withoutInlineTests } from '../../../src/rules/source.js';
import { runInlineTests } from '../../../src/rules/testRunner.js';

/** What a rule set amounts to apart from its inline tests: the rules as JSON, the diagnostics. */
function essence(set: RuleSet): unknown {
  const strip = (r: { extensions: { tests: unknown[] } }) =>
    JSON.parse(
      JSON.stringify({ ...r, extensions: { ...r.extensions, tests: [] } }, (_k, v: unknown) =>
        typeof v === 'function' ? 'fn' : v,
      ),
    );
  return {
    detections: set.detections.map(strip),
    correlations: set.correlations.map(strip),
    filters: set.filters.map((f) => JSON.parse(JSON.stringify(f)) as unknown),
    alerting: [...set.alerting].sort(),
    diagnostics: set.diagnostics.items.filter((d) => d.code !== 'AW1602'),
  };
}

describe('rules loaded without their inline tests', () => {
  it('are the rules loaded with them, for the shipped pack and every rule fixture', () => {
    const files = [
      ...readdirSync('detections')
        .filter((f) => f.endsWith('.yml'))
        .map((f) => join('detections', f)),
      ...['failing', 'hostile', 'passing', 'replay'].flatMap((d) =>
        readdirSync(join('test/fixtures/rules', d)).map((f) => join('test/fixtures/rules', d, f)),
      ),
    ];
    expect(files.length).toBeGreaterThan(20);
    const full = loadRules(files);
    const lean = loadRules(files, { inlineTests: false });
    expect(full.detections.some((r) => r.extensions.tests.length > 0)).toBe(true);
    expect([...lean.detections, ...lean.correlations].every((r) => r.extensions.tests.length === 0)).toBe(true);
    expect(essence(lean)).toEqual(essence(full));
  });

  it('keep the line and column of every problem after a tests block', () => {
    const text = [
      'title: first',
      'tests:',
      '  - name: a',
      '# a comment at column 0 inside the block',
      '    event: {type: login.failure}',
      '    expect: 1',
      'logsource: {product: auth0}',
      'detection:',
      '  sel: {type: login.failure}',
      '  condition: sel and nope',
      '',
    ].join('\n');
    const full = loadRuleText('r.yml', text).diagnostics.items.filter((d) => d.code !== 'AW1602');
    const lean = loadRuleText('r.yml', text, { inlineTests: false }).diagnostics.items;
    expect(full.length).toBeGreaterThan(0);
    expect(lean).toEqual(full);
    expect(lean.some((d) => d.span.start.line === 10)).toBe(true);
  });

  it('are read whole when blanking the tests would not leave clean YAML', () => {
    // A flow mapping whose lines start at column 0: blanking from `tests:` cuts it in half.
    const text = [
      'title: flow',
      'logsource: {product: auth0}',
      'detection: {sel: {type: login.failure},',
      'tests: 1, condition: sel}',
      '',
    ].join('\n');
    expect(withoutInlineTests(text)).toBeDefined();
    const full = loadRuleText('f.yml', text);
    const lean = loadRuleText('f.yml', text, { inlineTests: false });
    expect(essence(lean)).toEqual(essence(full));
  });
});

describe('withoutInlineTests', () => {
  it('blanks each top-level tests entry up to the next key or document, keeping every line', () => {
    const text = 'a: 1\ntests:\n  - x: 1\n\n# note\n  - y: 2\nb: 2\n---\nc: 3\ntests: []\n...\n  tests: kept\n';
    const out = withoutInlineTests(text)!;
    expect(out.split('\n')).toEqual([
      'a: 1',
      '',
      '',
      '',
      '',
      '',
      'b: 2',
      '---',
      'c: 3',
      '',
      '...',
      '  tests: kept',
      '',
    ]);
  });

  it('keeps carriage returns, and gives undefined when there is nothing to blank', () => {
    expect(withoutInlineTests('a: 1\r\ntests:\r\n  - x\r\nb: 2\r\n')).toBe('a: 1\r\n\r\n\r\nb: 2\r\n');
    expect(withoutInlineTests('a: 1\n  tests: 2\n')).toBeUndefined();
  });
});

describe('inline test cases that set placeholders', () => {
  const file = [
    'title: Login from a denied country',
    'id: 3d1e5f7a-2b4c-4d6e-8f0a-1b2c3d4e5f60',
    'logsource: {product: authwatch, service: auth}',
    'placeholders: {denied_countries: []}',
    'detection:',
    '  login: {type: login.success}',
    '  denied: {geo.country: {denied_countries}}',
    '  condition: login and denied',
    'tests:',
    '  - name: fires once the list is set',
    '    placeholders: {denied_countries: [KP]}',
    '    events: [{type: login.success, geo: {country: KP}}]',
    '    expect: 1',
    '  - name: is off without it',
    '    events: [{type: login.success, geo: {country: KP}}]',
    '    expect: not_fire',
    '  - name: a case that claims the wrong country fails',
    '    placeholders: {denied_countries: [IR]}',
    '    events: [{type: login.success, geo: {country: KP}}]',
    '    expect: 1',
    '',
  ].join('\n');

  it('run against the file loaded with them, and only that case sees them', () => {
    const results = runInlineTests(loadRuleText('denied.yml', file));
    expect(results.map((r) => [r.name, r.passed, r.actual])).toEqual([
      ['fires once the list is set', true, 1],
      ['is off without it', true, 0],
      ['a case that claims the wrong country fails', false, 0],
    ]);
  });
});
