import { describe, expect, it } from 'vitest';
import {
  compileGlob,
  hasWildcards,
  parseSigmaString,
  tokensToText,
  type SigmaToken,
} from '../../../../src/rules/sigma/glob.js';

const text = (t: string): SigmaToken => ({ kind: 'text', text: t });
const ANY: SigmaToken = { kind: 'any' };
const ONE: SigmaToken = { kind: 'one' };

describe('parseSigmaString', () => {
  // Inputs are written as the raw Sigma value (String.raw), i.e. what the YAML parser hands over.
  it.each<[string, SigmaToken[]]>([
    ['', []],
    ['abc', [text('abc')]],
    ['*', [ANY]],
    ['***', [ANY]],
    ['?', [ONE]],
    ['??', [ONE, ONE]],
    ['a*b', [text('a'), ANY, text('b')]],
    ['a**b', [text('a'), ANY, text('b')]],
    ['*a*', [ANY, text('a'), ANY]],
    ['*?*', [ANY, ONE, ANY]],
    ['a?b', [text('a'), ONE, text('b')]],
    [String.raw`a\*b`, [text('a*b')]],
    [String.raw`a\?b`, [text('a?b')]],
    [String.raw`\*`, [text('*')]],
    [String.raw`\**`, [text('*'), ANY]],
    [String.raw`*\*`, [ANY, text('*')]],
    // a backslash before another character, or at the end, is a literal backslash
    [String.raw`C:\Windows\System32`, [text(String.raw`C:\Windows\System32`)]],
    ['C:\\Windows\\', [text('C:\\Windows\\')]],
    ['\\', [text('\\')]],
    [String.raw`\a`, [text(String.raw`\a`)]],
    // `\\` is one backslash; `\\*` a backslash then a wildcard; `\\\*` a backslash then a literal star
    [String.raw`\\`, [text('\\')]],
    [String.raw`\\*`, [text('\\'), ANY]],
    [String.raw`\\?`, [text('\\'), ONE]],
    [String.raw`\\\*`, [text(String.raw`\*`)]],
    [String.raw`\\\?`, [text(String.raw`\?`)]],
    [String.raw`a\\\\b`, [text(String.raw`a\\b`)]],
    [String.raw`a\\\b`, [text(String.raw`a\\b`)]], // three backslashes before a non-wildcard = two
    [String.raw`*\cmd.exe`, [ANY, text(String.raw`\cmd.exe`)]],
    [String.raw`*\\*`, [ANY, text('\\'), ANY]],
    ['\\', [text('\\')]],
    [String.raw`x\\`, [text('x\\')]],
    ['ünï*cødé', [text('ünï'), ANY, text('cødé')]],
    ['😀?', [text('😀'), ONE]],
  ])('%j', (input, expected) => {
    expect(parseSigmaString(input)).toEqual(expected);
  });
});

describe('hasWildcards', () => {
  it.each<[string, boolean]>([
    ['', false],
    ['abc', false],
    [String.raw`a\*b\?`, false],
    ['a*', true],
    ['a?', true],
    [String.raw`\\*`, true],
  ])('%j → %s', (input, expected) => {
    expect(hasWildcards(parseSigmaString(input))).toBe(expected);
  });
});

describe('tokensToText', () => {
  it.each<[string, string]>([
    ['', ''],
    ['abc', 'abc'],
    ['a*b?c', 'a*b?c'],
    ['**a', '*a'],
    [String.raw`a\*b`, 'a*b'],
    [String.raw`\\*`, '\\*'],
    ['C:\\Windows\\', 'C:\\Windows\\'],
  ])('%j → %j', (input, expected) => {
    expect(tokensToText(parseSigmaString(input))).toBe(expected);
  });
});

describe('compileGlob', () => {
  type Case = [pattern: string, caseSensitive: boolean, value: string, expected: boolean];
  it.each<Case>([
    // empty pattern: only the empty string
    ['', false, '', true],
    ['', false, 'a', false],
    // equality
    ['admin', false, 'admin', true],
    ['admin', false, 'ADMIN', true],
    ['ADMIN', false, 'admin', true],
    ['admin', false, 'admin1', false],
    ['admin', false, '', false],
    ['admin', true, 'ADMIN', false],
    ['admin', true, 'admin', true],
    ['Ärger', false, 'äRGER', true],
    ['Ärger', true, 'ärger', false],
    // `*` alone
    ['*', false, '', true],
    ['*', false, 'anything', true],
    // prefix
    ['adm*', false, 'Administrator', true],
    ['adm*', false, 'adm', true],
    ['adm*', false, 'xadm', false],
    ['adm*', true, 'Administrator', false],
    // suffix
    [String.raw`*\cmd.exe`, false, String.raw`C:\Windows\System32\CMD.EXE`, true],
    [String.raw`*\cmd.exe`, false, 'cmd.exe', false],
    [String.raw`*\cmd.exe`, true, String.raw`C:\x\CMD.EXE`, false],
    // substring
    ['*mimikatz*', false, 'run MimiKatz now', true],
    ['*mimikatz*', false, 'mimikatz', true],
    ['*mimikatz*', false, 'mimi katz', false],
    ['*mimikatz*', true, 'MIMIKATZ', false],
    // `?`: exactly one UTF-16 code unit
    ['a?c', false, 'abc', true],
    ['a?c', false, 'ac', false],
    ['a?c', false, 'abbc', false],
    ['?', false, '', false],
    ['?', false, 'x', true],
    ['??', false, '😀', true], // one emoji is two code units
    ['?', false, '😀', false],
    ['a?b', false, 'a😀b', false],
    ['a??b', false, 'a😀b', true],
    // general case
    ['a*b*c', false, 'abc', true],
    ['a*b*c', false, 'aXXbYYc', true],
    ['a*b*c', false, 'aXXbYY', false],
    ['a*b*c', false, 'abcabc', true],
    ['a*b*c', false, 'acb', false],
    ['*a*b', false, 'xaxbxb', true],
    ['*a*b', false, 'xaxbxbx', false],
    ['a*', false, 'a', true],
    ['*a?', false, 'ba', false],
    ['*a?', false, 'bab', true],
    ['?*', false, '', false],
    ['?*', false, 'x', true],
    ['*?', false, 'x', true],
    ['*?*', false, '', false],
    ['*?*', false, 'x', true],
    ['a?c*', false, 'abcdef', true],
    ['a?c*', false, 'acdef', false],
    ['*.exe?', false, 'x.exe1', true],
    ['*.exe?', false, 'x.exe', false],
    ['*user*@*.com', false, 'admin_USER_1@corp.COM', true],
    ['*user*@*.com', false, 'admin_USER_1@corp.org', false],
    ['*user*@*.com', true, 'admin_USER_1@corp.com', false],
    ['*ab*ab*', false, 'abab', true],
    ['*ab*ab*', false, 'aba', false],
    ['*aab', false, 'aaab', true],
    ['*a*ab', false, 'aab', true],
    // literal `*` and `?` do not act as wildcards
    [String.raw`a\*b`, false, 'a*b', true],
    [String.raw`a\*b`, false, 'axb', false],
    [String.raw`a\?b*`, false, 'a?bc', true],
    [String.raw`a\?b*`, false, 'axbc', false],
    [String.raw`*\**`, false, 'x*y', true],
    [String.raw`*\**`, false, 'xy', false],
    [String.raw`a\*b*c`, false, 'a*bXc', true],
    [String.raw`a\*b*c`, false, 'aXbXc', false],
    // backslash and wildcard
    [String.raw`C:\\*`, false, String.raw`C:\Users\x`, true],
    [String.raw`C:\\*`, false, 'C:/Users', false],
    [String.raw`*\\\*`, false, String.raw`x\*`, true],
    [String.raw`*\\\*`, false, String.raw`x\y`, false],
    ['C:\\Windows\\', false, 'c:\\windows\\', true],
    // unicode
    ['*ünï?ødé*', false, 'xÜNÏCØDÉx', true],
    ['*日本*', false, 'こんにちは日本語', true],
    ['*日本*', false, 'こんにちは日', false],
  ])('%j (cased: %s) on %j → %s', (pattern, caseSensitive, value, expected) => {
    expect(compileGlob(parseSigmaString(pattern), { caseSensitive })(value)).toBe(expected);
  });

  it('accepts hand-built tokens with empty and adjacent text, and repeated `*`', () => {
    const glob = compileGlob([text(''), text('ab'), text('C'), ANY, ANY, text(''), text('d')], {
      caseSensitive: false,
    });
    expect(glob('ABcxxD')).toBe(true);
    expect(glob('abx')).toBe(false);
    expect(compileGlob([], { caseSensitive: true })('')).toBe(true);
    expect(compileGlob([text('')], { caseSensitive: true })('x')).toBe(false);
  });

  it('agrees with a reference matcher on random patterns and values', () => {
    let seed = 42;
    const rand = (n: number): number => {
      // mulberry32
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return (((t ^ (t >>> 14)) >>> 0) % n) as number;
    };
    const pick = (alphabet: string, max: number): string =>
      Array.from({ length: rand(max + 1) }, () => alphabet[rand(alphabet.length)]!).join('');
    const reference = (tokens: SigmaToken[], value: string, cased: boolean): boolean => {
      const fold = (s: string): string => (cased ? s : s.toLowerCase());
      const body = tokens
        .map((t) =>
          t.kind === 'any'
            ? '[\\s\\S]*'
            : t.kind === 'one'
              ? '[\\s\\S]'
              : fold(t.text).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
        )
        .join('');
      return new RegExp(`^${body}$`).test(fold(value));
    };
    let matched = 0;
    for (let i = 0; i < 5000; i++) {
      const pattern = pick('aAb*?\\', 7);
      const value = pick('aAb*?\\', 9);
      const cased = rand(2) === 0;
      const tokens = parseSigmaString(pattern);
      const expected = reference(tokens, value, cased);
      if (expected) matched++;
      expect(compileGlob(tokens, { caseSensitive: cased })(value), `${pattern} ${value} ${cased}`).toBe(expected);
    }
    expect(matched).toBeGreaterThan(250); // the sample exercises matches, not only mismatches
  });

  it('stays fast on patterns that make backtracking matchers explode', () => {
    const glob = compileGlob(parseSigmaString('*a*a*a*a*a*a*a*a*a*a*b'), { caseSensitive: false });
    const value = 'a'.repeat(20_000);
    const start = performance.now();
    expect(glob(value)).toBe(false);
    expect(glob(value + 'b')).toBe(true);
    expect(performance.now() - start).toBeLessThan(1000);
  });
});
