/**
 * Whether a statement only reads: what the engine's HTTP port answers for the embedded store
 * it holds (`authwatch query --url`, ClickHouse clients, dashboards). One statement, starting
 * with SELECT, WITH, SHOW, DESCRIBE, DESC, EXISTS or EXPLAIN, and no INTO OUTFILE. String
 * literals, quoted names and comments are skipped, so a `;` or a keyword inside them counts
 * for nothing. Returns why the statement is refused, or undefined when it may run.
 */
export function refuseUnlessReadOnly(text: string): string | undefined {
  const words: string[] = [];
  let afterEnd = false; // a top-level `;` was seen
  for (let i = 0; i < text.length;) {
    const c = text[i]!;
    if (c === "'" || c === '"' || c === '`') {
      const close = endOfQuoted(text, i);
      if (close < 0) return 'The statement has an unterminated quote.';
      if (afterEnd) return 'Only one statement at a time.';
      words.push(''); // a literal or quoted name: a token, never a keyword
      i = close;
    } else if (text.startsWith('--', i) || c === '#') {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl + 1;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) return 'The statement has an unterminated comment.';
      i = end + 2;
    } else if (c === ';') {
      afterEnd = true;
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      if (afterEnd) return 'Only one statement at a time.';
      let j = i + 1;
      while (j < text.length && /[A-Za-z0-9_]/.test(text[j]!)) j++;
      words.push(text.slice(i, j).toUpperCase());
      i = j;
    } else {
      if (afterEnd && !/\s/.test(c)) return 'Only one statement at a time.';
      i++;
    }
  }
  const first = words.find((w) => w !== '');
  if (first === undefined) return 'The statement is empty.';
  if (!READING.has(first))
    return `Only statements that read are answered here (SELECT, WITH, SHOW, DESCRIBE, EXISTS, EXPLAIN), not ${first}: authwatch holds this store and writes it alone.`;
  for (let k = 0; k + 1 < words.length; k++)
    if (words[k] === 'INTO' && words[k + 1] === 'OUTFILE') return 'INTO OUTFILE is not answered here.';
  return undefined;
}

const READING = new Set(['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'EXISTS', 'EXPLAIN']);

/** The index just past the closing quote of the quoted token at `start`, or -1. */
function endOfQuoted(text: string, start: number): number {
  const q = text[start]!;
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') i++;
    else if (c === q) {
      if (text[i + 1] === q)
        i++; // a doubled quote stands for itself
      else return i + 1;
    }
  }
  return -1;
}
