import { loadRulesWithValues } from '../rules/overrides.js';
import { runInlineTests } from '../rules/testRunner.js';
import { parseCommandArgs, renderText } from './validate.js';

const USAGE = `usage: authwatch test PATH… [--values FILE]

Runs the inline \`tests:\` cases of the rule files at each PATH, each through a fresh engine
holding every loaded rule, and prints PASS or FAIL per case with its file and line, then a
count (and how many alerting rules have no test). --values applies a values file first.
Exit 0 when every case passes, 1 when one fails or the rules have errors, 2 for wrong arguments.
`;

/**
 * `authwatch test PATH… [--values FILE]`: runs the `tests:` cases written in rule files and
 * reports each. Exit 0 when every case passes and the rules load without errors.
 */
export async function testCommand(args: string[]): Promise<number> {
  const parsed = parseCommandArgs('test', USAGE, args, { values: { type: 'string' } });
  if (typeof parsed === 'number') return parsed;
  const ruleSet = loadRulesWithValues(parsed.positionals, parsed.values.values as string | undefined);
  if (ruleSet.diagnostics.errorCount > 0) {
    process.stdout.write(renderText(ruleSet));
    return 1;
  }
  const results = runInlineTests(ruleSet);
  const lines: string[] = [];
  for (const r of results) {
    const where = `${r.span.file}:${r.span.start.line}`;
    const expected = typeof r.expected === 'number' ? `${r.expected} alert(s)` : r.expected.replace('_', ' ');
    const outcome = r.error ?? `expected ${expected}, got ${r.actual}`;
    lines.push(
      `${r.passed ? 'PASS' : 'FAIL'}  ${r.ruleTitle} › ${r.name}  (${where})${r.passed ? '' : `\n      ${outcome}`}`,
    );
  }
  const failed = results.filter((r) => !r.passed).length;
  // Rules that only feed a correlation are tested through the correlation's cases.
  const untested = [...ruleSet.detections, ...ruleSet.correlations].filter(
    (r) => ruleSet.alerting.has(r.uid) && r.extensions.tests.length === 0,
  ).length;
  lines.push(
    `\n${results.length - failed} passed, ${failed} failed (${results.length} case(s); ${untested} alerting rule(s) without tests)`,
  );
  process.stdout.write(lines.join('\n') + '\n');
  return failed > 0 ? 1 : 0;
}
