import { parseArgs } from 'node:util';
import { renderDiagnostic } from '../rules/diagnostics.js';
import type { RuleSet } from '../rules/loader.js';
import { loadRulesWithValues } from '../rules/overrides.js';

const USAGE = `usage: authwatch validate PATH… [--format text|json] [--values FILE]

Loads the rule files at each PATH (a file, or a folder read recursively for .yml and .yaml)
and prints every problem with its file, line and column, the code (docs/diagnostics.md) and
a hint, then a count. --values applies a values file's overrides and placeholders first.
Exit 0 when there is no error (warnings allowed), 1 when there is, 2 for wrong arguments.
`;

/**
 * `authwatch validate PATH… [--format text|json] [--values FILE]`: loads rules and prints
 * every diagnostic. Exit 0 when there is no error (warnings allowed), 1 otherwise.
 */
export async function validateCommand(args: string[]): Promise<number> {
  const parsed = parseCommandArgs('validate', USAGE, args, {
    format: { type: 'string', default: 'text' },
    values: { type: 'string' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (values.format !== 'text' && values.format !== 'json')
    return usageError('validate', USAGE, `--format must be text or json, not ${String(values.format)}.`);
  const ruleSet = loadRulesWithValues(positionals, values.values as string | undefined);
  process.stdout.write(
    values.format === 'json' ? JSON.stringify(validationReport(ruleSet), null, 2) + '\n' : renderText(ruleSet),
  );
  return ruleSet.diagnostics.errorCount > 0 ? 1 : 0;
}

/**
 * A command's arguments, or the exit status when they are wrong (2, with the usage on stderr)
 * or `--help` was asked for (0, the usage on stdout). At least one PATH is required.
 */
export function parseCommandArgs(
  name: string,
  usage: string,
  args: string[],
  options: Record<string, { type: 'string' | 'boolean'; default?: string }>,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } | number {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h', default: false } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    return usageError(name, usage, (err as Error).message);
  }
  if (parsed.values.help === true) {
    process.stdout.write(usage);
    return 0;
  }
  if (parsed.positionals.length === 0) return usageError(name, usage, 'name at least one rule file or folder.');
  return parsed;
}

function usageError(name: string, usage: string, problem: string): number {
  process.stderr.write(`authwatch ${name}: ${problem}\n\n${usage}`);
  return 2;
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
