import { parseArgs } from 'node:util';
import { renderDiagnostic } from '../rules/diagnostics.js';
import type { RuleSet } from '../rules/loader.js';
import { loadRulesWithValues } from '../rules/overrides.js';

/**
 * `authwatch validate PATH… [--format text|json] [--values FILE]`: loads rules and prints
 * every diagnostic. Exit 0 when there is no error (warnings allowed), 1 otherwise.
 */
export async function validateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { format: { type: 'string', default: 'text' }, values: { type: 'string' } },
    allowPositionals: true,
  });
  if (positionals.length === 0) throw new Error('usage: authwatch validate PATH… [--format text|json] [--values FILE]');
  if (values.format !== 'text' && values.format !== 'json')
    throw new Error(`--format must be text or json, not ${values.format}.`);
  const ruleSet = loadRulesWithValues(positionals, values.values);
  process.stdout.write(
    values.format === 'json' ? JSON.stringify(validationReport(ruleSet), null, 2) + '\n' : renderText(ruleSet),
  );
  return ruleSet.diagnostics.errorCount > 0 ? 1 : 0;
}

export function validationReport(ruleSet: RuleSet) {
  return {
    files: ruleSet.sources.size,
    rules: {
      detections: ruleSet.detections.length,
      correlations: ruleSet.correlations.length,
      filters: ruleSet.filters.length,
    },
    errors: ruleSet.diagnostics.errorCount,
    warnings: ruleSet.diagnostics.warningCount,
    diagnostics: ruleSet.diagnostics.sorted().map((d) => ({
      code: d.code,
      severity: d.severity,
      message: d.message,
      file: d.span.file,
      line: d.span.start.line,
      column: d.span.start.column,
      end_line: d.span.end.line,
      end_column: d.span.end.column,
      ...(d.hint !== undefined ? { hint: d.hint } : {}),
      ...(d.rule !== undefined ? { rule: d.rule } : {}),
    })),
  };
}

export function renderText(ruleSet: RuleSet): string {
  const blocks = ruleSet.diagnostics.sorted().map((d) => renderDiagnostic(d, ruleSet.sources.get(d.span.file)));
  const { errorCount, warningCount } = ruleSet.diagnostics;
  const summary =
    `${ruleSet.sources.size} file(s): ${ruleSet.detections.length} detection(s), ${ruleSet.correlations.length} correlation(s), ` +
    `${ruleSet.filters.length} filter(s) loaded; ${errorCount} error(s), ${warningCount} warning(s).`;
  return [...blocks, summary].join('\n\n') + '\n';
}
