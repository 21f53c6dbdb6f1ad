import { diagnosticCodes, type DiagnosticCode } from './diagnosticCodes.js';

export type Severity = 'error' | 'warning';

/** A 1-based line and column in a source file. */
export interface Position {
  line: number;
  column: number;
}

/** A labelled region of a file: where a diagnostic points. `end` is exclusive and on the same line or later. */
export interface Span {
  file: string;
  start: Position;
  end: Position;
}

/**
 * One problem found in a rule file. Every diagnostic has a stable code (documented in
 * docs/diagnostics.md), a full-sentence message, and a span; a hint is added where it helps.
 * `rule` names the rule (title or id) the problem belongs to, when it belongs to one.
 */
export interface Diagnostic {
  code: DiagnosticCode;
  severity: Severity;
  message: string;
  span: Span;
  hint?: string;
  rule?: string;
}

/** Collects diagnostics; loading never stops at the first problem. */
export class Diagnostics {
  readonly items: Diagnostic[] = [];

  add(code: DiagnosticCode, message: string, span: Span, extra: { hint?: string; rule?: string } = {}): void {
    const d: Diagnostic = { code, severity: diagnosticCodes[code].severity, message, span };
    if (extra.hint !== undefined) d.hint = extra.hint;
    if (extra.rule !== undefined) d.rule = extra.rule;
    this.items.push(d);
  }

  get errorCount(): number {
    return this.items.filter((d) => d.severity === 'error').length;
  }

  get warningCount(): number {
    return this.items.filter((d) => d.severity === 'warning').length;
  }

  /** Sorted by file, line, column, so output is stable whatever the load order. */
  sorted(): Diagnostic[] {
    return [...this.items].sort(
      (a, b) =>
        a.span.file.localeCompare(b.span.file) ||
        a.span.start.line - b.span.start.line ||
        a.span.start.column - b.span.start.column ||
        a.code.localeCompare(b.code),
    );
  }
}

/**
 * Renders a diagnostic the way compilers do:
 *
 *   error[AW1203]: Unknown modifier `contians`.
 *     --> rules/x.yml:12:22
 *      |
 *   12 |     data.description|contians:
 *      |                      ^^^^^^^^
 *      = hint: did you mean `contains`?
 */
export function renderDiagnostic(d: Diagnostic, sourceText: string | undefined): string {
  const { file, start, end } = d.span;
  const lines = [`${d.severity}[${d.code}]: ${d.message}`, `  --> ${file}:${start.line}:${start.column}`];
  const sourceLine = sourceText?.split(/\r?\n/)[start.line - 1];
  if (sourceLine !== undefined) {
    const gutter = ' '.repeat(String(start.line).length);
    const width =
      end.line === start.line
        ? Math.max(1, end.column - start.column)
        : Math.max(1, sourceLine.length - start.column + 1);
    lines.push(`${gutter} |`);
    lines.push(`${start.line} | ${sourceLine.replace(/\t/g, ' ')}`);
    lines.push(`${gutter} | ${' '.repeat(start.column - 1)}${'^'.repeat(width)}`);
    if (d.hint) lines.push(`${gutter} = hint: ${d.hint}`);
  } else if (d.hint) {
    lines.push(`   = hint: ${d.hint}`);
  }
  return lines.join('\n');
}

/** The closest candidate within a small edit distance, for "did you mean" hints. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance && d <= limit) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** Damerau-Levenshtein distance (optimal string alignment), so a swap of two letters costs 1. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
