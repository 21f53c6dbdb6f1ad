import { describe, expect, it } from 'vitest';
import { compileGlob, parseSigmaString } from '../../../../src/rules/sigma/glob.js';
import { WINDASH_CHARS, normalizeWindash } from '../../../../src/rules/sigma/windash.js';

describe('WINDASH_CHARS', () => {
  it('lists hyphen-minus, slash, en dash, em dash and horizontal bar', () => {
    expect(WINDASH_CHARS).toEqual(['-', '/', '\u2013', '\u2014', '\u2015']);
    expect(WINDASH_CHARS).toEqual(['-', '/', '–', '—', '―']);
  });

  it('cannot be modified', () => {
    expect(Object.isFrozen(WINDASH_CHARS)).toBe(true);
  });
});

describe('normalizeWindash', () => {
  it.each<[string, string]>([
    ['', ''],
    ['plain', 'plain'],
    ['-enc', '-enc'],
    ['/enc', '-enc'],
    ['–enc', '-enc'],
    ['—enc', '-enc'],
    ['―enc', '-enc'],
    ['net user /add eve', 'net user -add eve'],
    ['powershell /e –nop —w hidden ―c x', 'powershell -e -nop -w hidden -c x'],
    ['C:/Windows/System32', 'C:-Windows-System32'],
    ['//', '--'],
    ['a‐b', 'a‐b'], // U+2010 HYPHEN is not a windash character
    ['a−b', 'a−b'], // U+2212 MINUS SIGN neither
    ['\\', '\\'],
  ])('%j → %j', (input, expected) => {
    expect(normalizeWindash(input)).toBe(expected);
  });

  it('returns the same string when there is nothing to replace', () => {
    const s = 'no dashes here at all';
    expect(normalizeWindash(s)).toBe(s);
  });

  it.each(WINDASH_CHARS.flatMap((a) => WINDASH_CHARS.map((b) => [a, b] as const)))(
    'a pattern with %j matches a value with %j once both are normalised',
    (patternDash, valueDash) => {
      const tokens = parseSigmaString(`* ${patternDash}encodedcommand *`).map((t) =>
        t.kind === 'text' ? { ...t, text: normalizeWindash(t.text) } : t,
      );
      const glob = compileGlob(tokens, { caseSensitive: false });
      expect(glob(normalizeWindash(`powershell.exe ${valueDash}EncodedCommand ZQBjAGgAbwA=`))).toBe(true);
      expect(glob(normalizeWindash(`powershell.exe +EncodedCommand ZQBjAGgAbwA=`))).toBe(false);
    },
  );

  it('runs in linear time with many dashes (no permutations)', () => {
    const value = '-/–—―'.repeat(200_000);
    const start = performance.now();
    const normalized = normalizeWindash(value);
    expect(performance.now() - start).toBeLessThan(1000);
    expect(normalized).toBe('-'.repeat(1_000_000));
  });
});
