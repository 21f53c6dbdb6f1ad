import { describe, expect, it } from 'vitest';
import { loadRules } from '../../src/rules/loader.js';
import { runInlineTests } from '../../src/rules/testRunner.js';

/** The shipped pack: loads clean, and every alerting rule proves itself both ways. */
describe('the shipped detection pack', () => {
  const set = loadRules(['detections']);
  const alerting = [...set.detections, ...set.correlations].filter((r) => set.alerting.has(r.uid));

  it('loads with no error and no warning', () => {
    expect(set.diagnostics.items).toEqual([]);
    expect(alerting.length).toBeGreaterThanOrEqual(18);
  });

  it('passes every inline test', () => {
    const results = runInlineTests(set);
    expect(results.length).toBeGreaterThan(100);
    expect(results.filter((r) => !r.passed).map((r) => `${r.ruleTitle} › ${r.name}: got ${r.actual}`)).toEqual([]);
  });

  it.each(alerting.map((r) => [r.title, r] as const))(
    '%s has ids, a description, a response and must-fire and must-not-fire tests',
    (_t, rule) => {
      expect(rule.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(rule.description?.length).toBeGreaterThan(80);
      expect(rule.extensions.response.length).toBeGreaterThan(0);
      const expects = rule.extensions.tests.map((t) => t.expect);
      expect(expects.some((e) => e === 'fire' || (typeof e === 'number' && e > 0))).toBe(true);
      expect(expects.some((e) => e === 'not_fire' || e === 0)).toBe(true);
    },
  );

  it('covers the attacks auth teams fight', () => {
    const types = new Set(set.correlations.map((c) => c.type));
    for (const t of [
      'event_count',
      'value_count',
      'temporal_ordered',
      'impossible_travel',
      'value_change',
      'new_value',
      'dormant_account',
    ])
      expect(types.has(t as never), t).toBe(true);
  });
});
