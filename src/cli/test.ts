import { parseArgs } from 'node:util';
import { loadRules } from '../rules/loader.js';
import { runInlineTests } from '../rules/testRunner.js';
import { loadPlaceholders } from './placeholders.js';
import { renderText } from './validate.js';

/**
 * `authwatch test PATH… [--values FILE]`: runs the `tests:` cases written in rule files and
 * reports each. Exit 0 when every case passes and the rules load without errors.
 */
export async function testCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { values: { type: 'string' } }, allowPositionals: true });
  if (positionals.length === 0) throw new Error('usage: authwatch test PATH… [--values FILE]');
  const ruleSet = loadRules(positionals, { placeholders: loadPlaceholders(values.values) });
  if (ruleSet.diagnostics.errorCount > 0) {
    process.stdout.write(renderText(ruleSet));
    return 1;
  }
  const results = runInlineTests(ruleSet);
  const lines: string[] = [];
  for (const r of results) {
    const where = `${r.span.file}:${r.span.start.line}`;
    const expected = typeof r.expected === 'number' ? `${r.expected} detection(s)` : r.expected.replace('_', ' ');
    const outcome = r.error ?? `expected ${expected}, got ${r.actual}`;
    lines.push(
      `${r.passed ? 'PASS' : 'FAIL'}  ${r.ruleTitle} › ${r.name}  (${where})${r.passed ? '' : `\n      ${outcome}`}`,
    );
  }
  const failed = results.filter((r) => !r.passed).length;
  const untested = [...ruleSet.detections, ...ruleSet.correlations].filter(
    (r) => r.extensions.tests.length === 0,
  ).length;
  lines.push(
    `\n${results.length - failed} passed, ${failed} failed (${results.length} case(s); ${untested} rule(s) without tests)`,
  );
  process.stdout.write(lines.join('\n') + '\n');
  return failed > 0 ? 1 : 0;
}
