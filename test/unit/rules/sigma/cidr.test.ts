import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseCidr, parseIp } from '../../../../src/rules/sigma/cidr.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('parseIp', () => {
  it.each<[string, 4 | 6, string]>([
    ['1.2.3.4', 4, '01020304'],
    ['0.0.0.0', 4, '00000000'],
    ['255.255.255.255', 4, 'ffffffff'],
    ['10.0.0.1', 4, '0a000001'],
    ['::', 6, '00000000000000000000000000000000'],
    ['::1', 6, '00000000000000000000000000000001'],
    ['1::', 6, '00010000000000000000000000000000'],
    ['2001:db8::', 6, '20010db8000000000000000000000000'],
    ['2001:DB8::1', 6, '20010db8000000000000000000000001'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', 6, '20010db8000000000000000000000001'],
    ['1:2:3:4:5:6:7:8', 6, '00010002000300040005000600070008'],
    ['1:2:3:4:5:6:7::', 6, '00010002000300040005000600070000'],
    ['::2:3:4:5:6:7:8', 6, '00000002000300040005000600070008'],
    ['1:2::7:8', 6, '00010002000000000000000000070008'],
    ['fe80::1%eth0', 6, 'fe800000000000000000000000000001'],
    ['fe80::1%25', 6, 'fe800000000000000000000000000001'],
    ['::ffff:1.2.3.4', 6, '00000000000000000000ffff01020304'],
    ['::FFFF:10.0.0.1', 6, '00000000000000000000ffff0a000001'],
    ['::ffff:a01:203', 6, '00000000000000000000ffff0a010203'],
    ['::1.2.3.4', 6, '00000000000000000000000001020304'],
    ['1:2:3:4:5:6:1.2.3.4', 6, '00010002000300040005000601020304'],
    ['64:ff9b::192.0.2.33', 6, '0064ff9b0000000000000000c0000221'],
  ])('%s → IPv%s %s', (text, version, bytes) => {
    const ip = parseIp(text);
    expect(ip).not.toBeNull();
    expect(ip!.version).toBe(version);
    expect(hex(ip!.bytes)).toBe(bytes);
    expect(ip!.bytes.length).toBe(version === 4 ? 4 : 16);
  });

  it.each([
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.0.0.1',
    '1.2.3.-1',
    '01.2.3.4',
    '1.2.3.04',
    '1..2.3',
    '.1.2.3',
    '1.2.3.',
    ' 1.2.3.4',
    '1.2.3.4 ',
    'a.b.c.d',
    '1.2.3.4/8',
    '１.２.３.４', // full-width digits
    ':',
    ':::',
    ':1::',
    '1:',
    '1::2:',
    '1::2::3',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '12345::',
    'g::1',
    '::ffff:1.2.3',
    '::ffff:1.2.3.256',
    '::ffff:01.2.3.4',
    '::1.2.3.4:5',
    '1.2.3.4::',
    '1:2:3:4:5:6:7:1.2.3.4',
    '%eth0',
    'fe80::1%',
    '[::1]',
    'localhost',
    'not an ip',
  ])('%j is not an address', (text) => {
    expect(parseIp(text)).toBeNull();
  });

  it('agrees with node:net isIP on a sample of strings', () => {
    const samples = [
      '1.1.1.1',
      '0.0.0.0',
      '1.1.1.01',
      '::',
      '::ffff:127.0.0.1',
      'ffff::ffff:ffff:ffff:ffff:ffff:ffff',
      'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255',
      '1::1.2.3.4',
      '1:2:3:4:5:6::1.2.3.4',
      '1:2:3:4:5:6:7::1.2.3.4',
      'abcd::efgh',
      '1:::1',
    ];
    for (const s of samples) expect(parseIp(s)?.version ?? 0, s).toBe(isIP(s));
  });

  it('returns null for non-strings instead of throwing', () => {
    expect(parseIp(42 as unknown as string)).toBeNull();
    expect(parseIp(undefined as unknown as string)).toBeNull();
  });
});

describe('parseCidr', () => {
  it.each<[string, string]>([
    ['10.0.0.0/33', 'larger than 32'],
    ['2001:db8::/129', 'larger than 128'],
    ['1.2.3', 'not an IPv4 or IPv6 address'],
    ['1.2.3/8', 'not an IPv4 or IPv6 address'],
    ['', 'not an IPv4 or IPv6 address'],
    ['abc', 'not an IPv4 or IPv6 address'],
    ['/8', 'not an IPv4 or IPv6 address'],
    ['10.0.0.0/', 'must be a number'],
    ['10.0.0.0/-1', 'must be a number'],
    ['10.0.0.0/8/8', 'must be a number'],
    ['10.0.0.0/ 8', 'must be a number'],
    ['10.0.0.0/1000', 'must be a number'],
    ['10.0.0.0/8x', 'must be a number'],
    ['10.0.0.0/255.0.0.0', 'must be a number'],
    ['10.1.2.3/8', 'host bits set; the network is `10.0.0.0/8`'],
    ['192.168.1.1/24', 'the network is `192.168.1.0/24`'],
    ['2001:db8::1/32', 'host bits set'],
    ['fe80::%eth0/64', 'zone index'],
  ])('%j is refused: %s', (text, error) => {
    const result = parseCidr(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(error);
  });

  it.each<[cidr: string, ip: string, expected: boolean]>([
    // IPv4
    ['10.0.0.0/8', '10.0.0.0', true],
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['10.0.0.0/8', '9.255.255.255', false],
    ['10.0.0.0/8', '10.0.0', false],
    ['10.0.0.0/8', '010.1.2.3', false],
    ['10.0.0.0/8', '10.1.2.3 ', false],
    ['10.0.0.0/8', '', false],
    ['10.0.0.0/8', 'not an ip', false],
    ['10.0.0.0/8', '10.0.0.0/8', false],
    [' 10.0.0.0/8 ', '10.1.1.1', true],
    ['192.168.1.128/25', '192.168.1.128', true],
    ['192.168.1.128/25', '192.168.1.255', true],
    ['192.168.1.128/25', '192.168.1.127', false],
    ['192.168.1.1', '192.168.1.1', true],
    ['192.168.1.1', '192.168.1.2', false],
    ['192.168.1.1/32', '192.168.1.1', true],
    ['128.0.0.0/1', '200.1.1.1', true],
    ['128.0.0.0/1', '127.255.255.255', false],
    ['0.0.0.0/0', '0.0.0.0', true],
    ['0.0.0.0/0', '255.255.255.255', true],
    ['0.0.0.0/0', '::1', false],
    ['0.0.0.0/0', 'x', false],
    // IPv4 networks match IPv4-mapped IPv6 addresses
    ['10.0.0.0/8', '::ffff:10.1.2.3', true],
    ['10.0.0.0/8', '::FFFF:10.1.2.3', true],
    ['10.0.0.0/8', '::ffff:a01:203', true],
    ['10.0.0.0/8', '0:0:0:0:0:ffff:10.1.2.3', true],
    ['10.0.0.0/8', '::ffff:11.0.0.1', false],
    ['10.0.0.0/8', '::10.1.2.3', false], // IPv4-compatible, not mapped
    ['10.0.0.0/8', '2001:db8::10.1.2.3', false],
    ['0.0.0.0/0', '::ffff:1.2.3.4', true],
    // IPv6
    ['2001:db8::/32', '2001:db8::1', true],
    ['2001:db8::/32', '2001:DB8:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF', true],
    ['2001:db8::/32', '2001:0db8:0000::1', true],
    ['2001:db8::/32', '2001:db9::', false],
    ['2001:db8::/32', '2001:db7:ffff::', false],
    ['2001:db8::/32', '10.0.0.1', false],
    ['2001:db8::/32', 'nope', false],
    ['2001:DB8::/32', '2001:db8::1', true],
    ['fe80::/10', 'fe80::1', true],
    ['fe80::/10', 'fe80::1%eth0', true],
    ['fe80::/10', 'febf:ffff::1', true],
    ['fe80::/10', 'fec0::1', false],
    ['2001:db8::/127', '2001:db8::1', true],
    ['2001:db8::/127', '2001:db8::2', false],
    ['::1', '::1', true],
    ['::1', '0:0:0:0:0:0:0:1', true],
    ['::1', '::2', false],
    ['::1/128', '::1', true],
    ['::/0', '2001:db8::1', true],
    ['::/0', '::', true],
    ['::/0', '1.2.3.4', true], // an IPv4 address is ::ffff:1.2.3.4
    ['::/0', 'garbage', false],
    // IPv4-mapped IPv6 networks match plain IPv4 addresses
    ['::ffff:0:0/96', '1.2.3.4', true],
    ['::ffff:0:0/96', '::ffff:1.2.3.4', true],
    ['::ffff:0:0/96', '::1.2.3.4', false],
    ['::ffff:10.0.0.0/104', '10.9.9.9', true],
    ['::ffff:10.0.0.0/104', '11.0.0.0', false],
  ])('%j contains %j: %s', (cidr, ip, expected) => {
    const result = parseCidr(cidr);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.match(ip)).toBe(expected);
  });

  it('every prefix length splits the IPv4 space where it should', () => {
    for (let prefix = 0; prefix <= 32; prefix++) {
      const result = parseCidr(`0.0.0.0/${prefix}`);
      expect(result.ok).toBe(true);
      if (!result.ok) continue;
      // the last address inside the network, and the first one after it
      const last = prefix === 0 ? 0xffffffff : 2 ** (32 - prefix) - 1;
      const text = (n: number): string => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
      expect(result.match(text(last)), `/${prefix}`).toBe(true);
      if (prefix > 0) expect(result.match(text(last + 1)), `/${prefix}`).toBe(false);
    }
  });

  it('every prefix length splits the IPv6 space where it should', () => {
    for (let prefix = 1; prefix <= 128; prefix++) {
      const result = parseCidr(`8000::/${prefix}`);
      expect(result.ok, `/${prefix}`).toBe(true);
      if (!result.ok) continue;
      // flip the bit just after the prefix (inside) and the last prefix bit (outside)
      const ip = (bit: number): string => {
        const bytes = new Uint8Array(16);
        bytes[0] = 0x80;
        if (bit < 128) bytes[bit >> 3]! ^= 0x80 >> (bit & 7);
        const groups: string[] = [];
        for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
        return groups.join(':');
      };
      expect(result.match(ip(prefix)), `/${prefix} inside`).toBe(true);
      expect(result.match(ip(prefix - 1)), `/${prefix} outside`).toBe(false);
    }
  });

  it('never throws on values that are not strings', () => {
    const result = parseCidr('10.0.0.0/8');
    const v6 = parseCidr('::/0');
    expect(result.ok && v6.ok).toBe(true);
    if (!result.ok || !v6.ok) return;
    for (const value of [undefined, null, 42, {}, ['10.0.0.1']]) {
      expect(result.match(value as unknown as string)).toBe(false);
      expect(v6.match(value as unknown as string)).toBe(false);
    }
  });
});
