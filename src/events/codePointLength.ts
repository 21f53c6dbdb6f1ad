import { createRequire } from 'node:module';

/**
 * The length of a string in Unicode code points, which is what JSON Schema's `minLength` and
 * `maxLength` count (a character outside the BMP is one, not two UTF-16 units). ajv's own
 * `ucs2length` counts them, walking the string; this walks only strings that hold a surrogate,
 * found by a native search, which almost no string in a log does: the walk was 0.2 s of a
 * 220,000-record replay.
 */
const SURROGATE = /[\uD800-\uDFFF]/;
const { default: ucs2length } = createRequire(import.meta.url)('ajv/dist/runtime/ucs2length') as {
  default: (s: string) => number;
};

export function codePointLength(s: string): number {
  return SURROGATE.test(s) ? ucs2length(s) : s.length;
}
