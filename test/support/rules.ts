import { loadRuleText, type RuleSet } from '../../src/rules/loader.js';
import { RuleIndex } from '../../src/engine/ruleIndex.js';

/** Loads one rule whose detection is `detection` (YAML text, indented by the caller or not). */
export function ruleWith(detection: string, extra = ''): RuleSet {
  const body = detection
    .trim()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
  return loadRuleText(
    'test.yml',
    `title: t\nid: 5b4d2a52-7f7e-4c38-9a53-000000000001\nlogsource: {product: authwatch}\n${extra}detection:\n${body}\n`,
  );
}

/** Whether the single rule of `detection` matches `event`; throws with the diagnostics when it does not load. */
export function matches(
  detection: string,
  event: Record<string, unknown>,
  placeholders?: Record<string, string[]>,
): boolean {
  const set = placeholders
    ? loadRuleText('test.yml', `title: t\nlogsource: {product: authwatch}\ndetection:\n${indent(detection)}\n`, {
        placeholders,
      })
    : ruleWith(detection);
  const rule = set.detections[0];
  if (!rule || set.diagnostics.errorCount > 0) {
    throw new Error(`rule did not load: ${set.diagnostics.items.map((d) => `${d.code} ${d.message}`).join('; ')}`);
  }
  let hit = false;
  new RuleIndex(set.detections).forEachMatch(event, () => {
    hit = true;
  });
  // The index and the bare predicate must agree.
  if (hit !== rule.predicate(event)) throw new Error('index and predicate disagree');
  return hit;
}

function indent(text: string): string {
  return text
    .trim()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

/** The codes of the diagnostics a rule text produces, in order. */
export function codesOf(text: string): string[] {
  return loadRuleText('test.yml', text)
    .diagnostics.sorted()
    .map((d) => d.code);
}
