import { copyFileSync, cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderText } from '../../../src/cli/validate.js';
import { loadRulesWithValues } from '../../../src/rules/overrides.js';

const RULES = 'test/fixtures/rules/replay';

describe('values files', () => {
  it('applies overrides by name or id, turns rules off, and warns about unknown names', () => {
    const set = loadRulesWithValues([RULES], 'test/fixtures/values/overrides.yml');
    expect(set.diagnostics.errorCount).toBe(0);
    const stuffing = set.correlations.find((c) => c.name === 'stuffing')!;
    expect(stuffing.condition).toEqual({ gte: 8 });
    expect(stuffing.timespanMs).toBe(15 * 60_000);
    expect(stuffing.level).toBe('critical');
    expect(stuffing.extensions.mode).toBe('enforce');
    expect(stuffing.extensions.suppress).toEqual({ timespanMs: 30 * 60_000, groupBy: ['ip'] });
    expect(set.detections.map((d) => d.name)).not.toContain('failed_login');
    const warnings = set.diagnostics.items.filter((d) => d.code === 'AW1604');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.span).toMatchObject({
      file: 'test/fixtures/values/overrides.yml',
      start: { line: 12, column: 3 },
    });
  });

  it('does not read a values file kept among the rules as a rule file (issue 11, item 10)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'authwatch-values-'));
    cpSync(RULES, dir, { recursive: true });
    copyFileSync('test/fixtures/values/overrides.yml', join(dir, 'values.yml'));
    const beside = loadRulesWithValues([dir], join(dir, 'values.yml'));
    const apart = loadRulesWithValues([RULES], 'test/fixtures/values/overrides.yml');
    expect(beside.diagnostics.errorCount).toBe(0);
    expect(beside.diagnostics.items.map((d) => d.code)).toEqual(apart.diagnostics.items.map((d) => d.code));
    expect(beside.correlations.map((c) => c.condition)).toEqual(apart.correlations.map((c) => c.condition));
    // Without --values the same file is a (bad) rule file, as before.
    expect(loadRulesWithValues([dir]).diagnostics.errorCount).toBeGreaterThan(0);
  });

  it('leaves rules as written without a values file', () => {
    const set = loadRulesWithValues([RULES]);
    expect(set.correlations[0]!.condition).toEqual({ gte: 5 });
    expect(set.detections).toHaveLength(1);
  });

  it('reports every bad setting with its line and column, and keeps the rule file setting', () => {
    const set = loadRulesWithValues([RULES], 'test/fixtures/values/bad.yml');
    const errors = set.diagnostics.items.filter((d) => d.code === 'AW1603');
    expect(
      errors.map((d) => [d.span.start.line, d.message]).sort((a, b) => (a[0] as number) - (b[0] as number)),
    ).toEqual(
      [
        [3, '`gtee` is not a condition operator.'],
        [4, '`timespan` must be a number and a unit (s, m, h, d), such as 15m.'],
        [5, '`level` must be one of informational, low, medium, high, critical.'],
        [6, '`colour` cannot be overridden.'],
        [8, '`params` applies to correlation rules that take parameters only.'],
        [9, '`extra` is not a section of a values file.'],
      ].sort((a, b) => (a[0] as number) - (b[0] as number)),
    );
    expect(errors.find((d) => d.message.includes('gtee'))!.hint).toBe('did you mean `gte`?');
    const stuffing = set.correlations.find((c) => c.name === 'stuffing')!;
    expect(stuffing.condition).toEqual({ gte: 5 });
    expect(renderText(set)).toContain('--> test/fixtures/values/bad.yml:3:');
  });
});

describe('values files on the shipped SMS destination rule', () => {
  const write = (text: string) => {
    const path = join(mkdtempSync(join(tmpdir(), 'authwatch-values-')), 'values.yml');
    writeFileSync(path, text);
    return path;
  };

  it('takes an explicit allow-list and the strict mode as params', () => {
    const values = write(
      'overrides:\n  sms-to-unexpected-country:\n    params: {allow: [US, CA], only_allowed: true, min_attempts: 50}\n',
    );
    const set = loadRulesWithValues(['detections'], values);
    expect(set.diagnostics.errorCount).toBe(0);
    const rule = set.correlations.find((c) => c.name === 'sms-to-unexpected-country')!;
    expect(rule.params).toMatchObject({ allow: ['US', 'CA'], only_allowed: true, min_attempts: 50, max_rate: 0.3 });
  });

  it('refuses params of the wrong shape, with the schema saying why', () => {
    const values = write('overrides:\n  sms-to-unexpected-country:\n    params: {allow: US, max_rate: 3}\n');
    const set = loadRulesWithValues(['detections'], values);
    const errors = set.diagnostics.items.filter((d) => d.code === 'AW1603');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/`allow` must be array/);
  });
});
