/**
 * Sigma string values: literal text with `*` (any run of characters) and `?` (exactly one
 * character) wildcards, and the Sigma escape rules for backslashes.
 *
 * Matchers are compiled once per rule value and run for every event, so the common shapes
 * (equality, prefix, suffix, substring) become a single native string call, and everything else
 * runs the iterative two-pointer wildcard algorithm: O(n*m) worst case, no regular expressions,
 * no recursion, no allocation per call beyond the optional lower-casing of the value.
 */

/** A Sigma string split into literal text and wildcards. Escapes: `\*` `\?` `\\` give the literal char; a backslash before any other char is a literal backslash. */
export type SigmaToken = { kind: 'text'; text: string } | { kind: 'any' } /* `*` */ | { kind: 'one' }; /* `?` */

/**
 * Splits a Sigma string into tokens. Adjacent text is merged and consecutive `*` collapse into
 * one. Escapes follow the Sigma specification: `\*`, `\?` and `\\` give the literal character; a
 * backslash before any other character, or at the end of the string, is a literal backslash.
 * So `\\*` is a backslash followed by a wildcard, and `\\\*` a backslash followed by a literal `*`.
 */
export function parseSigmaString(s: string): SigmaToken[] {
  const tokens: SigmaToken[] = [];
  let text = '';
  const flush = (): void => {
    if (text !== '') {
      tokens.push({ kind: 'text', text });
      text = '';
    }
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      const next = s[i + 1];
      if (next === '*' || next === '?' || next === '\\') {
        text += next;
        i++;
      } else {
        text += '\\';
      }
    } else if (c === '*') {
      flush();
      if (tokens[tokens.length - 1]?.kind !== 'any') tokens.push({ kind: 'any' });
    } else if (c === '?') {
      flush();
      tokens.push({ kind: 'one' });
    } else {
      text += c;
    }
  }
  flush();
  return tokens;
}

export function hasWildcards(tokens: SigmaToken[]): boolean {
  return tokens.some((t) => t.kind !== 'text');
}

/** Literal text with wildcards rendered as `*` and `?` (for messages; literal `*` and `?` are not escaped). */
export function tokensToText(tokens: SigmaToken[]): string {
  let out = '';
  for (const t of tokens) out += t.kind === 'text' ? t.text : t.kind === 'any' ? '*' : '?';
  return out;
}

/** Pattern code for `*` and `?` in the general matcher; text is stored as UTF-16 code units (0..0xffff). */
const ANY = -1;
const ONE = -2;
/** Read past the end of the pattern: equals no code unit. */
const END = -3;

/**
 * Compiles tokens into a matcher over a field string. `caseSensitive: false` means both sides compare lower-cased
 * (the caller passes the value as is; lower-case it inside, once per call). Must run in O(n*m) worst case and
 * never use backtracking regular expressions. Fast paths: no wildcard → equality; `text*` → startsWith;
 * `*text` → endsWith; `*text*` → includes; general case: the classic iterative two-pointer wildcard algorithm.
 * `?` matches exactly one UTF-16 code unit.
 */
export function compileGlob(tokens: SigmaToken[], options: { caseSensitive: boolean }): (value: string) => boolean {
  const fold = !options.caseSensitive;
  // Normalise: merge adjacent text, collapse `*` runs, drop empty text, lower-case text once.
  const norm: SigmaToken[] = [];
  for (const t of tokens) {
    const last = norm[norm.length - 1];
    if (t.kind === 'text') {
      if (t.text === '') continue;
      const text = fold ? t.text.toLowerCase() : t.text;
      if (last?.kind === 'text') norm[norm.length - 1] = { kind: 'text', text: last.text + text };
      else norm.push({ kind: 'text', text });
    } else if (t.kind === 'any') {
      if (last?.kind !== 'any') norm.push(t);
    } else {
      norm.push(t);
    }
  }

  const [first, second, third] = norm;
  if (norm.length === 0) return (value) => value === '';
  if (norm.length === 1 && first?.kind === 'any') return () => true;
  if (norm.length === 1 && first?.kind === 'text') {
    const text = first.text;
    return fold ? (value) => value.toLowerCase() === text : (value) => value === text;
  }
  if (norm.length === 2 && first?.kind === 'text' && second?.kind === 'any') {
    const text = first.text;
    return fold ? (value) => value.toLowerCase().startsWith(text) : (value) => value.startsWith(text);
  }
  if (norm.length === 2 && first?.kind === 'any' && second?.kind === 'text') {
    const text = second.text;
    return fold ? (value) => value.toLowerCase().endsWith(text) : (value) => value.endsWith(text);
  }
  if (norm.length === 3 && first?.kind === 'any' && second?.kind === 'text' && third?.kind === 'any') {
    const text = second.text;
    return fold ? (value) => value.toLowerCase().includes(text) : (value) => value.includes(text);
  }

  // General case. The pattern as code units, with ANY/ONE markers so literal `*` and `?` stay literal.
  const codes: number[] = [];
  let minLength = 0;
  for (const t of norm) {
    if (t.kind === 'any') codes.push(ANY);
    else if (t.kind === 'one') {
      codes.push(ONE);
      minLength++;
    } else {
      for (let i = 0; i < t.text.length; i++) codes.push(t.text.charCodeAt(i));
      minLength += t.text.length;
    }
  }
  const pattern = Int32Array.from(codes);
  const hasAny = codes.includes(ANY);
  const match = (value: string): boolean => {
    const n = value.length;
    if (n < minLength || (!hasAny && n !== minLength)) return false;
    const m = pattern.length;
    let p = 0;
    let v = 0;
    let star = -1; // pattern index of the last `*` seen
    let mark = 0; // value index that `*` is currently assumed to stretch to
    while (v < n) {
      const pc = p < m ? pattern[p]! : END;
      if (pc === ONE || pc === value.charCodeAt(v)) {
        p++;
        v++;
      } else if (pc === ANY) {
        star = p++;
        mark = v;
      } else if (star !== -1) {
        // Let the last `*` swallow one more character and retry what follows it.
        p = star + 1;
        v = ++mark;
      } else {
        return false;
      }
    }
    while (p < m && pattern[p] === ANY) p++;
    return p === m;
  };
  return fold ? (value) => match(value.toLowerCase()) : match;
}
