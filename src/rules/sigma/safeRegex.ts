/**
 * Regular expressions from rules (the `re` modifier) must never stall the engine, whatever the
 * input. Strategy:
 *
 * 1. At module load V8's linear-time regexp engine is switched on
 *    (`--enable-experimental-regexp-engine`, which makes the `l` flag available) and probed. If
 *    the probe fails (a Node that lacks the flag), every pattern takes the budgeted path (3).
 * 2. A pattern is first compiled normally to check its syntax (errors carry V8's message), then
 *    with the `l` flag. If V8 accepts that, the pattern is linear-time (`linear: true`): on a
 *    hostile value `(a+)+$` costs what any other pattern costs.
 *    The linear engine is a slow automaton, though (10-30 µs for a 150-character value where
 *    the backtracking engine needs well under 1 µs). So when V8's fallback works
 *    (`--enable-experimental-regexp-engine-on-excessive-backtracks`, probed once), such a
 *    pattern runs on the usual backtracking engine and V8 itself moves a match over to the
 *    linear engine once it has backtracked 10,000 times: bounded backtracking, then linear time.
 *    Otherwise it runs on the linear engine directly.
 *    Node 20's linear engine refuses the `i` flag, which nearly every Sigma regex uses, and
 *    counted repetition beyond 16 copies (`[a-z0-9+/]{20,}`); it also matches any character with
 *    a negated class that holds U+FFFF (`[^\u0080-\uffff]`). Such patterns are rewritten into
 *    equivalent ones it handles (see `rewriteForLinear`): letters become classes of their case
 *    variants (computed with V8's own case folding), counted repetition is written out, and
 *    those negated classes become the positive classes they mean.
 * 3. Patterns the linear engine refuses even so (lookaround, backreferences) are accepted with
 *    `linear: false` and run with backtracking inside a `node:vm` context, created once per
 *    pattern, under a time budget: at most `budgetMs` per value (default 25 ms), and at most what
 *    is left of the shared `RegexBudget` of the rule and the record. A value that exhausts the
 *    budget, or finds it spent, counts as no match and increments `timeouts`; `test` never throws. Each budgeted call costs
 *    about 0.1 ms (Node starts a watchdog per call), so such patterns are far slower than linear
 *    ones; the rule loader warns about them.
 *
 * Sigma's flavour is PCRE; JavaScript without the `u` flag (kept off, for PCRE compatibility)
 * is close. The easy differences are translated: leading inline flags (`(?i)`, `(?s)`, `(?m)`,
 * `(?im)`, ...) become flags, `(?P<name>...)`/`(?P=name)` become `(?<name>...)`/`\k<name>`,
 * `\A`, `\z`, `\Z` become anchors, `\x{hh}` becomes `\uhhhh`, POSIX classes such as
 * `[[:alpha:]]` are expanded, a `]` first in a class is literal, `(?#...)` comments are dropped.
 * PCRE features that JavaScript would silently read as something else (`\Q..\E`, `\h`, `\p{..}`,
 * `\G`, ...) or lacks (inline flags elsewhere, atomic groups, recursion) are refused with a clear
 * error. One difference stays: PCRE's `$` also matches before a final newline, JavaScript's not.
 */
import { setFlagsFromString } from 'node:v8';
import { Script, createContext, type Context } from 'node:vm';
import type { RegexBudget } from './regexBudget.js';

const LINEAR_FLAG = 'l';

setFlagsFromString('--enable-experimental-regexp-engine');
// Patterns the linear engine can run are executed by V8's usual backtracking engine, which is
// several times faster on ordinary input, with V8 switching a match over to the linear engine
// once it has backtracked this often. Worst case: a bounded amount of backtracking, then linear.
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
setFlagsFromString('--regexp-backtracks-before-fallback=10000');
let linearAvailable = true;
try {
  new RegExp('a', LINEAR_FLAG);
} catch {
  linearAvailable = false;
}

export function linearEngineAvailable(): boolean {
  return linearAvailable;
}

export interface SafeRegex {
  /** The JavaScript pattern equivalent to the rule's (after PCRE translation). */
  readonly source: string;
  /** JavaScript flags: some of `i`, `m`, `s`. */
  readonly flags: string;
  /** True when the pattern runs on the linear-time engine; false when it runs under the time budget. */
  readonly linear: boolean;
  /** Values that exhausted the budget (counted as no match). Always 0 for linear patterns. */
  timeouts: number;
  test(value: string): boolean;
}

const DEFAULT_BUDGET_MS = 25;

export function compileSafeRegex(
  pattern: string,
  options: {
    ignoreCase?: boolean;
    multiline?: boolean;
    dotAll?: boolean;
    budgetMs?: number;
    /** The time left for the rule and the record, shared with the other budgeted expressions. */
    budget?: RegexBudget;
  },
): { ok: true; regex: SafeRegex } | { ok: false; error: string } {
  const flagSet = new Set<string>();
  if (options.ignoreCase) flagSet.add('i');
  if (options.multiline) flagSet.add('m');
  if (options.dotAll) flagSet.add('s');
  const translated = translatePcre(pattern, flagSet);
  if (typeof translated === 'string') return { ok: false, error: translated };
  const source = translated.source;
  const flags = ['i', 'm', 's'].filter((f) => flagSet.has(f)).join('');

  let plain: RegExp;
  try {
    plain = new RegExp(source, flags);
  } catch (err) {
    return { ok: false, error: errorMessage(err) };
  }

  const linear = compileLinear(source, flags);
  if (linear) {
    const run = fallbackWorks() ? new RegExp(linear.source, linear.flags.replace(LINEAR_FLAG, '')) : linear;
    return { ok: true, regex: { source, flags, linear: true, timeouts: 0, test: (value) => run.test(value) } };
  }

  const budgetMs =
    options.budgetMs !== undefined && Number.isFinite(options.budgetMs) && options.budgetMs > 0
      ? Math.ceil(options.budgetMs)
      : DEFAULT_BUDGET_MS;
  const context: Context = createContext({ re: plain, s: '' });
  const script = budgetedScript();
  const regex: SafeRegex = {
    source,
    flags,
    linear: false,
    timeouts: 0,
    test(value: string): boolean {
      const shared = options.budget;
      const allowed = shared ? Math.min(budgetMs, Math.floor(shared.allowanceMs())) : budgetMs;
      if (allowed < 1) {
        regex.timeouts++;
        shared?.spent(0, true);
        return false;
      }
      context.s = value;
      const started = process.hrtime.bigint();
      let ranOut = false;
      try {
        return script.runInContext(context, { timeout: allowed }) === true;
      } catch (err) {
        if (isTimeout(err)) {
          regex.timeouts++;
          ranOut = true;
        }
        return false;
      } finally {
        context.s = '';
        shared?.spent(Number(process.hrtime.bigint() - started) / 1e6, ranOut);
      }
    },
  };
  return { ok: true, regex };
}

let fallback: boolean | undefined;
/**
 * Whether V8 really falls back to the linear engine on excessive backtracking: a pattern that
 * backtracks 2^24 times without it answers at once with it. Without it, linear patterns run
 * on the linear engine directly.
 */
function fallbackWorks(): boolean {
  if (fallback === undefined) {
    const t0 = process.hrtime.bigint();
    new RegExp('^(a+)+$').test('a'.repeat(24) + 'b');
    fallback = linearAvailable && Number(process.hrtime.bigint() - t0) < 20e6;
  }
  return fallback;
}

let script: Script | undefined;
function budgetedScript(): Script {
  script ??= new Script('re.test(s)', { filename: 'authwatch-safe-regex' });
  return script;
}

function isTimeout(err: unknown): boolean {
  // The error comes from another realm, so `instanceof Error` is false: look at its fields.
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  return code === 'ERR_SCRIPT_EXECUTION_TIMEOUT' || (typeof message === 'string' && message.includes('timed out'));
}

function errorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^Invalid regular expression: /, '');
}

/**
 * The pattern as V8's linear engine accepts it, or undefined when it needs backtracking. A
 * pattern with `i` is case-folded first (the linear engine refuses `i`); negated classes the
 * linear engine gets wrong, and counted repetition beyond what it accepts, are rewritten (see
 * `rewriteForLinear`).
 */
function compileLinear(source: string, flags: string): RegExp | undefined {
  if (!linearAvailable) return undefined;
  const fold = flags.includes('i');
  const linearFlags = flags.replace('i', '') + LINEAR_FLAG;
  if (!fold && !source.includes('[^')) {
    try {
      return new RegExp(source, linearFlags);
    } catch {
      // Refused: lookaround, backreferences, or counted repetition that a rewrite can write out.
    }
    if (!/\{\d/.test(source)) return undefined;
  }
  const rewritten = rewriteForLinear(source, fold);
  if (rewritten === undefined) return undefined;
  try {
    return new RegExp(rewritten, linearFlags);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// PCRE → JavaScript

/** POSIX bracket classes (ASCII, as PCRE without UCP), as JavaScript class contents. */
const POSIX_CLASSES: Record<string, string> = {
  alnum: 'a-zA-Z0-9',
  alpha: 'a-zA-Z',
  ascii: '\\x00-\\x7f',
  blank: ' \\t',
  cntrl: '\\x00-\\x1f\\x7f',
  digit: '0-9',
  graph: '\\x21-\\x7e',
  lower: 'a-z',
  print: '\\x20-\\x7e',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\x0b\\f\\r ',
  upper: 'A-Z',
  word: '\\w',
  xdigit: '0-9A-Fa-f',
};

/** Escapes PCRE gives a meaning that JavaScript without `u` would read as a plain letter (or a different thing). */
const UNSUPPORTED_ESCAPES: Record<string, string> = {
  G: '`\\G` (match start anchor)',
  K: '`\\K` (reset match start)',
  Q: '`\\Q...\\E` quoting',
  E: '`\\Q...\\E` quoting',
  R: '`\\R` (any newline)',
  X: '`\\X` (extended grapheme cluster)',
  h: '`\\h` (horizontal space)',
  H: '`\\H` (non-horizontal space)',
  V: '`\\V` (non-vertical space)',
  N: '`\\N`',
  C: '`\\C` (single code unit)',
  p: '`\\p{...}` Unicode properties',
  P: '`\\P{...}` Unicode properties',
  e: '`\\e` (escape character; use `\\x1b`)',
  a: '`\\a` (bell character; use `\\x07`)',
  g: '`\\g` backreferences (use `\\1`)',
  o: '`\\o{...}` octal escapes',
  L: '`\\L` case conversion',
  l: '`\\l` case conversion',
  U: '`\\U` case conversion',
};

/**
 * Translates a PCRE pattern into JavaScript (non-unicode mode). Leading inline flags are added to
 * `flags`. Returns an error message for PCRE features JavaScript lacks or would misread.
 */
function translatePcre(pattern: string, flags: Set<string>): { source: string } | string {
  let i = 0;
  // Leading inline flag groups: (?i), (?ims), (?i)(?s), ...
  for (let m = /^\(\?([a-zA-Z]+)\)/.exec(pattern); m; m = /^\(\?([a-zA-Z]+)\)/.exec(pattern.slice(i))) {
    for (const f of m[1]!) {
      if (f !== 'i' && f !== 'm' && f !== 's') {
        return `the inline flag \`(?${f})\` is not supported; only \`i\`, \`m\` and \`s\` are.`;
      }
      flags.add(f);
    }
    i += m[0].length;
  }
  const multiline = flags.has('m');
  let out = '';
  let inClass = false;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '\\') {
      const e = pattern[i + 1];
      if (e === undefined) {
        out += c; // let V8 report "\ at end of pattern"
        i++;
        continue;
      }
      const unsupported = UNSUPPORTED_ESCAPES[e];
      if (unsupported) return `${unsupported} is not supported in Sigma regular expressions here.`;
      if (e === 'x' && pattern[i + 2] === '{') {
        const m = /^\\x\{([0-9a-fA-F]{1,4})\}/.exec(pattern.slice(i));
        if (!m) return '`\\x{...}` must hold 1 to 4 hex digits (a UTF-16 code unit).';
        out += `\\u${m[1]!.padStart(4, '0')}`;
        i += m[0].length;
        continue;
      }
      if (!inClass && (e === 'A' || e === 'z' || e === 'Z')) {
        const end = multiline ? '(?![\\s\\S])' : '$';
        out += e === 'A' ? (multiline ? '(?<![\\s\\S])' : '^') : e === 'z' ? end : `(?=\\n?${end})`;
        i += 2;
        continue;
      }
      if (inClass && (e === 'A' || e === 'z' || e === 'Z')) return `\`\\${e}\` cannot be used in a character class.`;
      out += c + e;
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === '[' && pattern[i + 1] === ':') {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(pattern.slice(i));
        if (m) {
          const expansion = POSIX_CLASSES[m[2]!];
          if (expansion === undefined) return `unknown POSIX class \`[:${m[2]}:]\`.`;
          if (m[1]) return `negated POSIX classes such as \`[:^${m[2]}:]\` are not supported.`;
          out += expansion;
          i += m[0].length;
          continue;
        }
      }
      if (c === ']') inClass = false;
      out += c;
      i++;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      i++;
      if (pattern[i] === '^') {
        out += '^';
        i++;
      }
      if (pattern[i] === ']') {
        out += '\\]'; // PCRE: a `]` first in a class is a literal
        i++;
      }
      continue;
    }
    if (c === '(' && pattern[i + 1] === '?') {
      const rest = pattern.slice(i);
      if (rest.startsWith('(?P<')) {
        out += '(?<';
        i += 4;
        continue;
      }
      const backref = /^\(\?P=([A-Za-z_][A-Za-z0-9_]*)\)/.exec(rest);
      if (backref) {
        out += `\\k<${backref[1]}>`;
        i += backref[0].length;
        continue;
      }
      if (rest.startsWith('(?#')) {
        const close = pattern.indexOf(')', i);
        if (close < 0) return 'unterminated `(?#` comment.';
        i = close + 1;
        continue;
      }
      if (rest.startsWith('(?>')) return 'atomic groups `(?>...)` are not supported.';
      if (rest.startsWith('(?|')) return 'branch reset groups `(?|...)` are not supported.';
      if (/^\(\?(?:R|[+-]?\d|&|P>)/.test(rest)) return 'recursion and subroutine calls are not supported.';
      if (/^\(\?[a-zA-Z^-]+[:)]/.test(rest)) {
        return 'inline flag groups are only supported at the very start of the pattern (`(?i)`, `(?m)`, `(?s)` or a combination such as `(?im)`); use the `i`, `m`, `s` modifiers instead.';
      }
    }
    out += c;
    i++;
  }
  return { source: out };
}

// ---------------------------------------------------------------------------------------------
// Rewriting for the linear engine

let allCodeUnits: string | undefined;
/** Every UTF-16 code unit once, in order: scanning it with a regex lists the code units the regex accepts. */
function codeUnits(): string {
  if (allCodeUnits === undefined) {
    const parts: string[] = [];
    for (let start = 0; start < 0x10000; start += 0x1000) {
      const chunk: number[] = [];
      for (let c = start; c < start + 0x1000; c++) chunk.push(c);
      parts.push(String.fromCharCode(...chunk));
    }
    allCodeUnits = parts.join('');
  }
  return allCodeUnits;
}

const membersCache = new Map<string, number[]>();

/**
 * The code units (sorted) that a one-character pattern, a class or an escaped character, matches,
 * with or without `i`, as V8's backtracking engine decides it.
 */
function members(atom: string, ignoreCase: boolean): number[] {
  const key = (ignoreCase ? 'i' : '-') + atom;
  let codes = membersCache.get(key);
  if (codes === undefined) {
    codes = [];
    const re = new RegExp(atom, ignoreCase ? 'gi' : 'g');
    const all = codeUnits();
    for (let m = re.exec(all); m; m = re.exec(all)) {
      codes.push(m.index);
      if (m[0].length === 0) re.lastIndex++;
    }
    if (membersCache.size > 4096) membersCache.clear();
    membersCache.set(key, codes);
  }
  return codes;
}

function hex4(c: number): string {
  return '\\u' + c.toString(16).padStart(4, '0');
}

/** Sorted code units as class contents, runs compressed into ranges. */
function classBody(codes: number[]): string {
  let out = '';
  for (let i = 0; i < codes.length;) {
    let j = i;
    while (j + 1 < codes.length && codes[j + 1] === codes[j]! + 1) j++;
    out +=
      j === i
        ? hex4(codes[i]!)
        : j === i + 1
          ? hex4(codes[i]!) + hex4(codes[j]!)
          : `${hex4(codes[i]!)}-${hex4(codes[j]!)}`;
    i = j + 1;
  }
  return out;
}

/** The code units (0..0xffff) not in a sorted list. */
function complement(codes: number[]): number[] {
  const out: number[] = [];
  let k = 0;
  for (let c = 0; c < 0x10000; c++) {
    if (codes[k] === c) k++;
    else out.push(c);
  }
  return out;
}

/** A literal code unit, written as `text` in the pattern, for a case-sensitive pattern. */
function foldChar(code: number, text: string): string {
  // ASCII needs no scan: without the `u` flag nothing outside ASCII folds to an ASCII letter.
  const ascii = code < 0x80 ? String.fromCharCode(code) : undefined;
  if (ascii !== undefined && ascii.toLowerCase() === ascii.toUpperCase()) return text;
  const codes =
    ascii !== undefined
      ? [ascii.toUpperCase().charCodeAt(0), ascii.toLowerCase().charCodeAt(0)]
      : members(hex4(code), true);
  return codes.length <= 1 ? text : `[${classBody(codes)}]`;
}

/** The longest pattern `rewriteForLinear` writes (counted repetition is written out). */
const MAX_REWRITTEN_LENGTH = 20_000;

/**
 * Rewrites a pattern into one with the same matches (for `test`: captures are not kept) that
 * V8's linear engine accepts and runs right, or returns undefined for constructs this does not
 * handle (backreferences, octal escapes, ...), which then take the budgeted engine. Exported for
 * tests only. The rewrites:
 *
 * - `fold`: the pattern was meant for the `i` flag, which the linear engine refuses. Each
 *   literal becomes the class of its case variants (`a` → `[Aa]`) and each class gains the case
 *   variants of its members, all computed with V8's own `i` matching, so the result without `i`
 *   means exactly what the pattern means with it.
 * - Node 20's linear engine (V8 11.3) matches every character with a negated class whose set
 *   holds U+FFFF, such as `[^\u0080-\uffff]` or `[^\uffff]`, in non-unicode mode. Such classes
 *   are written as the positive class of the code units they do match.
 * - The linear engine refuses counted repetition that copies an atom more than 16 times
 *   (`[a-z0-9+/]{20,}`, common in Sigma rules). `X{n,m}` is written out as n copies of X and
 *   m-n copies of `X?` (or `X*` when unbounded), and capture groups become non-capturing so the
 *   copies stay valid. Laziness (`{n,m}?`) is dropped: it never changes whether there is a match.
 */
export function rewriteForLinear(source: string, fold: boolean): string | undefined {
  let out = '';
  let atom = -1; // where in `out` the last repeatable atom starts; -1 after an assertion, `|` or a quantifier
  const groups: number[] = []; // where in `out` each open group starts
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    const start = out.length;
    if (c === '\\') {
      const e = source[i + 1];
      if (e === undefined) return undefined;
      if (e === 'b' || e === 'B') {
        out += c + e;
        i += 2;
        atom = -1;
        continue;
      }
      if ('dDwWsSfnrtv'.includes(e)) {
        out += c + e;
        i += 2;
      } else if (e === 'c') {
        if (!/^[A-Za-z]$/.test(source[i + 2] ?? '')) return undefined;
        out += source.slice(i, i + 3);
        i += 3;
      } else if (e === 'x' || e === 'u') {
        const m = (e === 'x' ? /^\\x[0-9a-fA-F]{2}/ : /^\\u[0-9a-fA-F]{4}/).exec(source.slice(i));
        if (!m) return undefined;
        out += fold ? foldChar(parseInt(m[0].slice(2), 16), m[0]) : m[0];
        i += m[0].length;
      } else if (e === '0') {
        if (/^[0-9]$/.test(source[i + 2] ?? '')) return undefined;
        out += '\\0';
        i += 2;
      } else if (/^[1-9k]$/.test(e)) {
        return undefined; // backreference (or legacy octal)
      } else {
        out += fold ? foldChar(e.charCodeAt(0), c + e) : c + e; // identity escape: the character itself
        i += 2;
      }
      atom = start;
      continue;
    }
    if (c === '[') {
      let j = i + 1;
      const negated = source[j] === '^';
      if (negated) j++;
      while (j < source.length && source[j] !== ']') j += source[j] === '\\' ? 2 : 1;
      if (j >= source.length) return undefined;
      const text = source.slice(i, j + 1);
      const body = source.slice(negated ? i + 2 : i + 1, j);
      if (body === '' || (!fold && (!negated || !new RegExp(`[${body}]`).test('\uffff')))) {
        out += text;
      } else {
        const codes = members(`[${body}]`, fold);
        if (!negated) out += `[${classBody(codes)}]`;
        else if (codes[codes.length - 1] !== 0xffff) out += `[^${classBody(codes)}]`;
        else out += `[${classBody(complement(codes))}]`;
      }
      i = j + 1;
      atom = start;
      continue;
    }
    if (c === '(') {
      if (source[i + 1] === '?') {
        const m = /^\(\?(?::|=|!|<=|<!|<[A-Za-z_$][\w$]*>)/.exec(source.slice(i));
        if (!m) return undefined;
        const named = m[0].startsWith('(?<') && m[0] !== '(?<=' && m[0] !== '(?<!';
        out += named ? '(?:' : m[0];
        i += m[0].length;
      } else {
        out += '(?:';
        i++;
      }
      groups.push(start);
      atom = -1;
      continue;
    }
    if (c === ')') {
      const open = groups.pop();
      if (open === undefined) return undefined;
      out += c;
      i++;
      atom = open;
      continue;
    }
    if (c === '{') {
      const m = /^\{(\d+)(?:(,)(\d*))?\}/.exec(source.slice(i));
      if (m) {
        if (atom < 0) return undefined;
        const min = Number(m[1]);
        const max = m[2] === undefined ? min : m[3] === '' ? Number.POSITIVE_INFINITY : Number(m[3]);
        i += m[0].length;
        if (source[i] === '?') i++;
        const x = out.slice(atom);
        const copies = min + (max === Number.POSITIVE_INFINITY ? 1 : max - min);
        if (atom + copies * (x.length + 1) > MAX_REWRITTEN_LENGTH) return undefined;
        out =
          out.slice(0, atom) + x.repeat(min) + (max === Number.POSITIVE_INFINITY ? `${x}*` : `${x}?`.repeat(max - min));
        atom = -1;
        continue;
      }
      out += c; // a brace that is no quantifier is a literal
      i++;
      atom = start;
      continue;
    }
    if (c === '*' || c === '+' || c === '?' || c === '|' || c === '^' || c === '$') {
      out += c;
      i++;
      atom = -1;
      continue;
    }
    out += !fold || c === '.' ? c : foldChar(c.charCodeAt(0), c);
    i++;
    atom = start;
  }
  return out.length > MAX_REWRITTEN_LENGTH ? undefined : out;
}
