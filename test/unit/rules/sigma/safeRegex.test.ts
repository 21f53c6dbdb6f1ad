import { describe, expect, it } from 'vitest';
import {
  compileSafeRegex,
  linearEngineAvailable,
  rewriteForLinear,
  type SafeRegex,
} from '../../../../src/rules/sigma/safeRegex.js';

type Options = Parameters<typeof compileSafeRegex>[1];

function compile(pattern: string, options: Options = {}): SafeRegex {
  const result = compileSafeRegex(pattern, options);
  if (!result.ok) throw new Error(`expected ${pattern} to compile: ${result.error}`);
  return result.regex;
}

const AUTH0_TEMPLATE = String.raw`\{\{([^}]+?)(?:\s*\|\s*(?!escape|escape_once|h|html_escape)[^}]+)??\s*\}\}|\{\{([^}|]+)\}\}`;

describe('linear engine', () => {
  it('is available on this Node', () => {
    expect(linearEngineAvailable()).toBe(true);
  });

  it.each<[pattern: string, options: Options, linear: boolean]>([
    ['abc', {}, true],
    ['^(a|b)*c+d?$', {}, true],
    [String.raw`\bword\b`, {}, true],
    ['(?<name>x)y', {}, true],
    ['a.b', { dotAll: true }, true],
    ['^b$', { multiline: true }, true],
    // `i` is refused by V8's linear engine; the case-folded rewrite runs there instead
    ['abc', { ignoreCase: true }, true],
    ['(?i)abc', {}, true],
    ['[a-zä]+\\d', { ignoreCase: true }, true],
    ['a', { ignoreCase: true, multiline: true, dotAll: true }, true],
    // V8 drops an optional lookahead, so this one is linear after all
    ['^(?=x)?(a+)+$', {}, true],
    // needs backtracking
    ['(?=a)b', {}, false],
    ['(?!a)b', {}, false],
    ['(?<=a)b', {}, false],
    ['(?<!a)b', {}, false],
    [String.raw`(a)\1`, {}, false],
    [String.raw`(a)\1`, { ignoreCase: true }, false],
    [String.raw`(?<n>a)\k<n>`, {}, false],
    // counted repetition beyond 16 copies is written out for the linear engine
    ['a{1000}', {}, true],
    ['[A-Za-z0-9+/=]{20,}', {}, true],
    ['(?<b64>[a-z0-9+/]{2,40}?)={0,2}$', { ignoreCase: true }, true],
    ['(?:a{200}){200}', {}, false], // too large to write out
    ['[^\\u0080-\\uffff]', {}, true],
    [AUTH0_TEMPLATE, {}, false],
  ])('%j %j → linear: %s', (pattern, options, linear) => {
    expect(compile(pattern, options).linear).toBe(linear);
  });

  it('runs the catastrophic (a+)+$ in linear time', () => {
    const re = compile('(a+)+$');
    expect(re.linear).toBe(true);
    const start = performance.now();
    expect(re.test('a'.repeat(40) + 'b')).toBe(false);
    expect(re.test('a'.repeat(100_000) + 'b')).toBe(false);
    expect(performance.now() - start).toBeLessThan(1000);
    expect(re.test('baaa')).toBe(true);
    expect(re.timeouts).toBe(0);
  });

  it.each<[string, Options]>([
    ['^(a+)+$', {}],
    ['^(a+)+$', { ignoreCase: true }],
    ['(?i)^(a|aa)+$', {}],
    ['^(a|a?)+$', {}],
    ['^([a-z]+)*[0-9]$', { ignoreCase: true }],
  ])('%j %j fails fast on a hostile value', (pattern, options) => {
    const re = compile(pattern, options);
    expect(re.linear).toBe(true);
    const start = performance.now();
    expect(re.test('a'.repeat(40) + '!')).toBe(false);
    expect(re.test('A'.repeat(100_000) + '!')).toBe(false);
    expect(performance.now() - start).toBeLessThan(1000);
    expect(re.timeouts).toBe(0);
  });
});

describe('budgeted backtracking', () => {
  it('stops a catastrophic pattern the linear engine refuses at the budget', () => {
    const re = compile('^(?=a)(a+)+$');
    expect(re.linear).toBe(false);
    const start = performance.now();
    expect(re.test('a'.repeat(40) + 'b')).toBe(false);
    const elapsed = performance.now() - start;
    expect(elapsed).toBeLessThan(2000);
    expect(elapsed).toBeGreaterThanOrEqual(20);
    expect(re.timeouts).toBe(1);
    // still usable, and ordinary values do not count as timeouts
    expect(re.test('aaaa')).toBe(true);
    expect(re.test('baaa')).toBe(false);
    expect(re.timeouts).toBe(1);
  });

  it('honours a custom budget and counts every timeout', () => {
    const re = compile('^(a+)+(?!c)$', { budgetMs: 5 });
    expect(re.linear).toBe(false);
    const start = performance.now();
    expect(re.test('a'.repeat(40) + 'b')).toBe(false);
    expect(re.test('a'.repeat(50) + 'b')).toBe(false);
    expect(performance.now() - start).toBeLessThan(2000);
    expect(re.timeouts).toBe(2);
  });

  it.each<[string, boolean]>([
    ['<p>{{ user.name }}</p>', true],
    ['{{ x | upcase }}', true],
    // The negative lookahead only decides how the text splits into groups: `([^}]+?)` can take
    // ` x | escape` whole, so escaped output matches too.
    ['{{ x | escape }}', true],
    ['{{x|escape}}', true],
    ['{{ }}', true],
    ['{{}}', false],
    ['{x}', false],
    ['{{ x }', false],
    ['no template here', false],
  ])('runs the Auth0 catalog template regex: %j → %s', (value, expected) => {
    const re = compile(AUTH0_TEMPLATE);
    expect(re.linear).toBe(false);
    expect(re.test(value)).toBe(expected);
    expect(re.test(value)).toBe(new RegExp(AUTH0_TEMPLATE).test(value));
    expect(re.timeouts).toBe(0);
  });

  it('gives the same answers as the plain RegExp', () => {
    const re = compile('(?<=user=)(?!root\\b)\\w+', { ignoreCase: true });
    expect(re.linear).toBe(false);
    expect(re.test('user=alice')).toBe(true);
    expect(re.test('USER=ROOT')).toBe(false);
    expect(re.test('USER=rooted')).toBe(true);
  });
});

describe('matching', () => {
  it.each<[pattern: string, options: Options, value: string, expected: boolean]>([
    ['abc', {}, 'xabcx', true],
    ['abc', {}, 'ABC', false], // case-sensitive by default
    ['abc', { ignoreCase: true }, 'xABCx', true],
    ['^abc$', {}, 'abc', true],
    ['^abc$', {}, 'abcd', false],
    ['^b$', {}, 'a\nb', false],
    ['^b$', { multiline: true }, 'a\nb', true],
    ['a.b', {}, 'a\nb', false],
    ['a.b', { dotAll: true }, 'a\nb', true],
    [String.raw`\\cmd\.exe$`, { ignoreCase: true }, String.raw`C:\WINDOWS\System32\CMD.EXE`, true],
    [String.raw`\\cmd\.exe$`, { ignoreCase: true }, 'cmd.exe', false],
    [String.raw`^\d{1,3}(\.\d{1,3}){3}$`, {}, '10.0.0.1', true],
    [String.raw`^\d{1,3}(\.\d{1,3}){3}$`, {}, '10.0.0', false],
    ['', {}, '', true],
    ['', {}, 'anything', true],
    ['ä', { ignoreCase: true }, 'Ä', true],
    ['[à-ÿ]+', { ignoreCase: true }, 'ÀÉÎ', true],
    ['[^a-z]', { ignoreCase: true }, 'A', false],
    ['[^a-z]', { ignoreCase: true }, '1', true],
    [String.raw`\x41\u00c4`, { ignoreCase: true }, 'aä', true],
    ['µ', { ignoreCase: true }, 'Μ', true], // micro sign, Greek capital mu
    ['k', { ignoreCase: true }, '\u212a', false], // Kelvin sign: not without the `u` flag
    ['ſ', { ignoreCase: true }, 's', false], // long s: not without the `u` flag
    ['\\W', { ignoreCase: true }, 'a', false],
    ['x{2}', { ignoreCase: true }, 'XX', true],
    ['x{2}', { ignoreCase: true }, 'X', false],
    ['a{b}', { ignoreCase: true }, 'A{B}', true], // a brace that is no quantifier is a literal
    ['(?<Name>x)', { ignoreCase: true }, 'X', true],
    ['😀', { ignoreCase: true }, 'a😀', true],
    // negated classes holding U+FFFF, which Node 20's linear engine matches against everything
    ['[^\\u0080-\\uffff]', {}, 'é', false],
    ['[^\\u0080-\\uffff]', {}, 'a', true],
    ['^[^\\uffff]$', {}, '\uffff', false],
    ['^[^\\uffff]$', {}, 'x', true],
    ['^[^\\u0080-\\uffff]+$', { ignoreCase: true }, 'ASCII only', true],
    ['^[^\\u0080-\\uffff]+$', { ignoreCase: true }, 'not ASCII é', false],
    // PCRE translations
    ['(?i)^admin$', {}, 'ADMIN', true],
    ['(?s)a.b', {}, 'a\nb', true],
    ['(?m)^b$', {}, 'a\nb', true],
    ['(?im)^B$', {}, 'a\nb', true],
    ['(?i)(?s)A.B', {}, 'a\nb', true],
    ['(?i)', {}, 'x', true],
    ['(?P<word>ab)(?P=word)', {}, 'abab', true],
    ['(?P<word>ab)(?P=word)', {}, 'abAB', false],
    ['(?P<word>ab)(?P=word)', { ignoreCase: true }, 'abAB', true],
    [String.raw`\Aabc\z`, {}, 'abc', true],
    [String.raw`\Aabc\z`, {}, 'xabc', false],
    [String.raw`\Aabc\z`, {}, 'abc\n', false],
    [String.raw`\Aabc\Z`, {}, 'abc\n', true],
    [String.raw`\Aabc\Z`, {}, 'abc\n\n', false],
    [String.raw`\Ab`, { multiline: true }, 'a\nb', false],
    [String.raw`a\z`, { multiline: true }, 'a\nb', false],
    [String.raw`b\z`, { multiline: true }, 'a\nb', true],
    [String.raw`a\Z`, { multiline: true }, 'b\na\n', true],
    [String.raw`\x{41}\x{e4}`, {}, 'Aä', true],
    ['^[[:alpha:]]+$', {}, 'abcXYZ', true],
    ['^[[:alpha:]]+$', {}, 'abc1', false],
    ['^[[:digit:][:upper:]_]+$', {}, 'A1_', true],
    ['^[^[:space:]]+$', {}, 'a b', false],
    ['[[:xdigit:]]{4}', {}, 'beef', true],
    ['^[[:punct:]]+$', {}, '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~', true],
    ['^[[:punct:]]+$', {}, 'a', false],
    ['[]a]', {}, ']', true],
    ['[]a]', {}, 'b', false],
    ['[^]a]', {}, ']', false],
    ['[^]a]', {}, 'b', true],
    ['a(?#comment)b', {}, 'ab', true],
    // PCRE's `$` also matches before a final newline; JavaScript's does not (documented difference)
    ['abc$', {}, 'abc\n', false],
  ])('%j %j on %j → %s', (pattern, options, value, expected) => {
    expect(compile(pattern, options).test(value)).toBe(expected);
  });

  it('reports the JavaScript source and flags', () => {
    const re = compile('(?is)a.b', { multiline: true });
    expect(re.source).toBe('a.b');
    expect(re.flags).toBe('ims');
    expect(compile('x', {}).flags).toBe('');
    expect(compile(String.raw`\Ax`, {}).source).toBe('^x');
  });
});

describe('errors', () => {
  it.each<[pattern: string, options: Options, error: string]>([
    ['(', {}, 'Unterminated group'],
    ['[', {}, 'Unterminated character class'],
    ['a**', {}, 'Nothing to repeat'],
    ['a++', {}, 'Nothing to repeat'], // possessive quantifier
    ['\\', {}, '\\ at end of pattern'],
    ['(?<n>a)(?<n>b)', {}, 'Duplicate capture group name'],
    ['(?x)a', {}, 'inline flag `(?x)`'],
    ['(?iU)a', {}, 'inline flag `(?U)`'],
    ['a(?i)b', {}, 'only supported at the very start'],
    ['(?i:a)', {}, 'only supported at the very start'],
    ['(?-i)a', {}, 'only supported at the very start'],
    ['x(?s-i:a)', {}, 'only supported at the very start'],
    [String.raw`\Qa.b\E`, {}, '`\\Q...\\E` quoting'],
    [String.raw`\p{L}`, {}, 'Unicode properties'],
    [String.raw`[\p{L}]`, {}, 'Unicode properties'],
    [String.raw`\h+`, {}, 'horizontal space'],
    [String.raw`a\K`, {}, 'reset match start'],
    [String.raw`\G`, {}, 'match start anchor'],
    [String.raw`(a)\g1`, {}, '`\\g` backreferences'],
    [String.raw`[\A]`, {}, 'cannot be used in a character class'],
    [String.raw`\x{12345}`, {}, '`\\x{...}`'],
    ['(?>a+)b', {}, 'atomic groups'],
    ['(?|a|b)', {}, 'branch reset'],
    ['(a(?R)?b)', {}, 'recursion'],
    ['(a)(?1)', {}, 'recursion'],
    ['(?P>n)', {}, 'recursion'],
    ['[[:foo:]]', {}, 'unknown POSIX class `[:foo:]`'],
    ['[[:^alpha:]]', {}, 'negated POSIX classes'],
    ['(?#unterminated', {}, 'unterminated `(?#` comment'],
  ])('%j is refused: %s', (pattern, options, error) => {
    const result = compileSafeRegex(pattern, options);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toContain(error);
      expect(result.error).not.toMatch(/^Invalid regular expression/);
    }
  });
});

describe('rewriting for the linear engine', () => {
  // Random patterns over characters with interesting case mappings and classes near U+FFFF,
  // compared with V8's backtracking engine (with the `i` flag where asked). No `[]` or `[^]`:
  // in PCRE a `]` right after `[` or `[^` is a literal, so those are not empty classes.
  it('agrees with the backtracking engine on random patterns and values', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)]!;
    const letters = [
      'a',
      'A',
      'k',
      'K',
      '\u212a',
      's',
      'S',
      'ſ',
      'ß',
      'ẞ',
      'µ',
      'μ',
      'Μ',
      'ä',
      'Ä',
      'ı',
      'İ',
      'i',
      'I',
    ];
    const others = ['σ', 'ς', 'Σ', 'ǅ', 'ǆ', 'Ǆ', '1', '_', '-', ' ', '\n', 'é', 'É', 'z', 'Z', '😀'];
    const atoms = [
      ...letters,
      '.',
      '\\w',
      '\\W',
      '\\d',
      '\\s',
      '\\S',
      '\\x41',
      '\\x61',
      '\\u00e4',
      '\\u212a',
      '\\.',
      '\\-',
      '[a-z]',
      '[^a-z]',
      '[A-Z0-9_]',
      '[\\w-]',
      '[^\\W]',
      '[ä-ö]',
      '[K-k]',
      '[\\u0100-\\u017f]',
      '[^ſ]',
      '[σς]',
      '[^Σ]',
      '[\\]a]',
      '[a-]',
      '[-a]',
      '[^\\uffff]',
      '[^x-\\uffff]',
      '[^\\ue000-\\uffff]',
      '[\\u0100-\\uffff]',
      '[^\\s\\S]',
      '[^\\d\\uffff]',
    ];
    const quantifiers = [
      '',
      '',
      '',
      '',
      '*',
      '+',
      '?',
      '{1,2}',
      '*?',
      '{2}',
      '{0}',
      '{17}',
      '{3,20}',
      '{0,17}?',
      '{18,}',
    ];
    const piece = (depth: number): string => {
      if (depth < 2 && rand(6) === 0) return `(?:${sequence(depth + 1)}|${sequence(depth + 1)})${pick(quantifiers)}`;
      if (depth < 2 && rand(8) === 0) return `(${sequence(depth + 1)})${pick(quantifiers)}`;
      return pick(atoms) + pick(quantifiers);
    };
    const sequence = (depth: number): string =>
      Array.from({ length: 1 + rand(3) }, () => piece(depth)).join('') + (rand(10) === 0 ? '\\b' : '');
    const valueChars = [...letters, ...others, '\uffff', '\ue001', '\ud800', 'x', 'y'];

    let matches = 0;
    let tooLarge = 0;
    for (let i = 0; i < 600; i++) {
      const pattern = (rand(4) === 0 ? '^' : '') + sequence(0) + (rand(4) === 0 ? '$' : '');
      const options = { ignoreCase: i % 3 !== 0, multiline: rand(3) === 0, dotAll: rand(3) === 0 };
      const re = compile(pattern, options);
      if (!re.linear) {
        // nested counted repetition can be too large to write out
        expect(rewriteForLinear(re.source, options.ignoreCase), pattern).toBeUndefined();
        tooLarge++;
        continue;
      }
      const reference = new RegExp(pattern, re.flags);
      // the rewritten pattern straight on the linear engine, not only through V8's fallback
      const rewritten = rewriteForLinear(re.source, options.ignoreCase);
      expect(rewritten, pattern).toBeDefined();
      const linear = new RegExp(rewritten!, `${re.flags.replace('i', '')}l`);
      for (let j = 0; j < 25; j++) {
        // Short values: the reference is V8's backtracking engine, exponential on some of these
        // patterns (nested counted repetition) once values grow.
        const length = rand(3) === 0 ? rand(10) : rand(6);
        const value = Array.from({ length }, () => pick(valueChars)).join('');
        const expected = reference.test(value);
        if (expected) matches++;
        expect(re.test(value), `/${pattern}/${re.flags} on ${JSON.stringify(value)}`).toBe(expected);
        expect(linear.test(value), `/${rewritten}/ on ${JSON.stringify(value)}`).toBe(expected);
      }
    }
    expect(matches).toBeGreaterThan(1000);
    expect(tooLarge).toBeLessThan(60);
  }, 30_000);
});
