/**
 * The `windash` modifier: Windows command-line flags may start with `-`, `/` or a Unicode dash.
 *
 * pySigma expands a value into every permutation of these characters, which is 5^k values for
 * k dashes. Instead, the pattern and each field value are both normalised (every windash
 * character becomes `-`) and compared as usual: linear time, one matcher. Unlike pySigma, which
 * only permutes a `-` or `/` that starts a word, every occurrence is interchangeable here, so
 * this is slightly more permissive (`a-b` also matches `a/b`).
 */

/** The characters the `windash` modifier treats as interchangeable: - / – — ― */
export const WINDASH_CHARS: readonly string[] = Object.freeze(['-', '/', '\u2013', '\u2014', '\u2015']);

const OTHER_DASHES = /[/\u2013\u2014\u2015]/g;
const HAS_OTHER_DASH = /[/\u2013\u2014\u2015]/;

/** Maps every windash character to '-', so a pattern and a value normalised the same way compare as windash requires, in linear time (no permutation explosion). */
export function normalizeWindash(s: string): string {
  return HAS_OTHER_DASH.test(s) ? s.replace(OTHER_DASHES, '-') : s;
}
