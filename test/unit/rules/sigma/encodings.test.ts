import { describe, expect, it } from 'vitest';
import {
  base64,
  base64Offsets,
  bytesToBinaryString,
  utf16be,
  utf16le,
  utf16WithBom,
  utf8,
  type Bytes,
} from '../../../../src/rules/sigma/encodings.js';

const hex = (b: Bytes): string => Buffer.from(b).toString('hex');
const fromBase64 = (s: string): Bytes => new Uint8Array(Buffer.from(s, 'base64'));

describe('text encodings', () => {
  it.each<[name: string, encode: (s: string) => Bytes, input: string, expected: string]>([
    ['utf8', utf8, '', ''],
    ['utf8', utf8, 'cmd', '636d64'],
    ['utf8', utf8, 'é', 'c3a9'],
    ['utf8', utf8, '😀', 'f09f9880'],
    ['utf8', utf8, '\ud800', 'efbfbd'], // a lone surrogate becomes U+FFFD
    ['utf16le', utf16le, '', ''],
    ['utf16le', utf16le, 'cmd', '63006d006400'],
    ['utf16le', utf16le, 'é', 'e900'],
    ['utf16le', utf16le, '€', 'ac20'],
    ['utf16le', utf16le, '😀', '3dd800de'],
    ['utf16be', utf16be, '', ''],
    ['utf16be', utf16be, 'cmd', '0063006d0064'],
    ['utf16be', utf16be, '€', '20ac'],
    ['utf16be', utf16be, '😀', 'd83dde00'],
    ['utf16WithBom', utf16WithBom, '', 'fffe'],
    ['utf16WithBom', utf16WithBom, 'cmd', 'fffe63006d006400'],
  ])('%s(%j) = %s', (_name, encode, input, expected) => {
    const bytes = encode(input);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(hex(bytes)).toBe(expected);
  });

  it('utf16le agrees with Buffer on every BMP code unit', () => {
    let all = '';
    for (let c = 0; c < 0x10000; c++) all += String.fromCharCode(c);
    expect(hex(utf16le(all))).toBe(Buffer.from(all, 'utf16le').toString('hex'));
  });
});

describe('base64', () => {
  it.each<[string, string]>([
    // RFC 4648 test vectors
    ['', ''],
    ['f', 'Zg=='],
    ['fo', 'Zm8='],
    ['foo', 'Zm9v'],
    ['foob', 'Zm9vYg=='],
    ['fooba', 'Zm9vYmE='],
    ['foobar', 'Zm9vYmFy'],
    ['/bin/sh', 'L2Jpbi9zaA=='],
  ])('base64(%j) = %s', (input, expected) => {
    expect(base64(utf8(input))).toBe(expected);
  });

  it('encodes only the bytes a subarray views', () => {
    const whole = utf8('xxfooxx');
    expect(base64(whole.subarray(2, 5))).toBe('Zm9v');
  });

  it('encodes binary bytes', () => {
    expect(base64(Uint8Array.of(0, 0xff, 0xfe))).toBe('AP/+');
    expect(base64(utf16le('cmd'))).toBe('YwBtAGQA');
  });
});

describe('base64Offsets', () => {
  it.each<[string, Bytes, string[]]>([
    ['utf8 /bin/sh', utf8('/bin/sh'), ['L2Jpbi9za', '9iaW4vc2', 'vYmluL3No']],
    ['utf16le cmd', utf16le('cmd'), ['YwBtAGQA', 'MAbQBkA', 'jAG0AZA']],
    ['utf8 abc', utf8('abc'), ['YWJj', 'FiY', 'hYm']],
    ['utf8 ab', utf8('ab'), ['YW', 'Fi', 'hY']],
    ['utf8 a', utf8('a'), ['Y', '', 'h']],
    ['empty', utf8(''), ['', '', '']],
  ])('%s', (_name, value, expected) => {
    expect(base64Offsets(value)).toEqual(expected);
  });

  // The property that makes base64offset work: whatever bytes surround the value, the base64
  // text of the whole contains the variant for the value's alignment.
  const values: Array<[string, Bytes]> = [
    ['/bin/sh', utf8('/bin/sh')],
    ['cmd (utf16le)', utf16le('cmd')],
    ['Invoke-Mimikatz (utf16le)', utf16le('Invoke-Mimikatz')],
    ['IEX (New-Object Net.WebClient)', utf8('IEX (New-Object Net.WebClient)')],
    ['binary', Uint8Array.of(0, 255, 1, 254, 2, 253, 3)],
    ['abcd', utf8('abcd')],
    ['abcde', utf8('abcde')],
    ['abcdef', utf8('abcdef')],
  ];
  it.each(values)('each variant of %s is found in base64 text holding the value at that alignment', (_name, value) => {
    const variants = base64Offsets(value);
    expect(variants).toHaveLength(3);
    for (let before = 0; before < 9; before++) {
      for (let after = 0; after < 4; after++) {
        for (const fill of [0x00, 0x41, 0xff]) {
          const whole = new Uint8Array(before + value.length + after).fill(fill);
          whole.set(value, before);
          const encoded = base64(whole);
          expect(encoded, `before=${before} after=${after} fill=${fill}`).toContain(variants[before % 3]);
        }
      }
    }
  });

  // Decoding a variant after putting back the characters cut from its start (taken from any
  // base64 text of `i` filler bytes) gives the value back, except for the bits that share a
  // base64 character with the neighbouring bytes: at offset 1 the first byte keeps its low 4
  // bits, at offset 2 its low 6; the last byte keeps its high 6 or 4 bits unless the value ends
  // on a 3-byte boundary. Everything between is exact.
  it.each(values)('each variant of %s decodes back to the value', (_name, value) => {
    const variants = base64Offsets(value);
    for (let i = 0; i < 3; i++) {
      const startCut = [0, 2, 3][i]!;
      const prefix = base64(new Uint8Array(i).fill(0x2e)).slice(0, startCut);
      const text = prefix + variants[i];
      const padded = text + 'A'.repeat((4 - (text.length % 4)) % 4);
      const decoded = fromBase64(padded).subarray(i);
      const last = value.length - 1;
      const firstMask = [0xff, 0x0f, 0x3f][i]!;
      const lastMask = [0xff, 0xfc, 0xf0][(i + value.length) % 3]!;
      expect(decoded[0]! & firstMask, `offset ${i} first byte`).toBe(value[0]! & firstMask);
      expect(hex(decoded.subarray(1, last)), `offset ${i}`).toBe(hex(value.subarray(1, last)));
      expect(decoded[last]! & lastMask, `offset ${i} last byte`).toBe(value[last]! & lastMask);
    }
  });
});

describe('bytesToBinaryString', () => {
  it.each<[Bytes, string]>([
    [new Uint8Array(0), ''],
    [utf16le('cmd'), 'c\u0000m\u0000d\u0000'],
    [utf16be('cmd'), '\u0000c\u0000m\u0000d'],
    [utf16WithBom('A'), '\u00ff\u00feA\u0000'],
    [Uint8Array.of(0x80, 0xe9), '\u0080\u00e9'],
  ])('%j', (bytes, expected) => {
    expect(bytesToBinaryString(bytes)).toBe(expected);
  });

  it('handles long inputs one char per byte', () => {
    const bytes = new Uint8Array(200_000).map((_, i) => i & 0xff);
    const s = bytesToBinaryString(bytes);
    expect(s.length).toBe(bytes.length);
    expect(s).toBe(Buffer.from(bytes).toString('latin1'));
  });
});
