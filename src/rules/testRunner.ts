import { RuleIndex, type IndexedEvent } from '../engine/ruleIndex.js';
import type { Span } from './diagnostics.js';
import type { Rule, RuleTarget } from './model.js';
import type { RuleSet } from './loader.js';

export interface TestResult {
  rule: string;
  ruleTitle: string;
  name: string;
  span: Span;
  passed: boolean;
  expected: 'fire' | 'not_fire' | number;
  /** Detections of the rule under test. */
  actual: number;
  /** Why the case could not run, when it could not. */
  error?: string;
}

/**
 * Wraps a test event in what the engine sees. Events of rules on a source's raw records are
 * written as that source's records; canonical rules get canonical events.
 */
function toEvent(target: RuleTarget, record: Record<string, unknown>): IndexedEvent {
  return target === 'canonical' ? record : { source: target, raw: record };
}

/**
 * Runs every `tests:` case of every rule through the rule index, so a case also proves that
 * the index routes the events to the rule, and counts the rule's detections.
 */
export function runInlineTests(ruleSet: RuleSet): TestResult[] {
  const index = new RuleIndex(ruleSet.detections);
  const results: TestResult[] = [];
  const rules: Rule[] = [...ruleSet.detections, ...ruleSet.correlations].sort(
    (a, b) => a.file.localeCompare(b.file) || a.document - b.document,
  );
  for (const rule of rules) {
    for (const t of rule.extensions.tests) {
      const base = { rule: rule.uid, ruleTitle: rule.title, name: t.name, span: t.span, expected: t.expect };
      if (rule.kind !== 'detection') {
        results.push({
          ...base,
          passed: false,
          actual: 0,
          error: `\`${rule.type}\` correlations cannot be evaluated by this build yet.`,
        });
        continue;
      }
      let actual = 0;
      for (const record of t.events) {
        index.forEachMatch(toEvent(rule.target, record), (matched) => {
          if (matched.uid === rule.uid) actual++;
        });
      }
      const passed = t.expect === 'fire' ? actual > 0 : t.expect === 'not_fire' ? actual === 0 : actual === t.expect;
      results.push({ ...base, passed, actual });
    }
  }
  return results;
}
