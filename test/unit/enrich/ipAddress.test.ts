import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatIpv4,
  formatIpv6Full,
  ipv4ToUint32,
  ipv6High,
  ipv6Low,
  ipv6ToBigInt,
  isPublicIp,
  publicAddress,
} from '../../../src/enrich/ipAddress.js';
import { parseIp } from '../../../src/rules/sigma/cidr.js';

describe('isPublicIp', () => {
  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '81.2.69.142',
    '100.63.255.255', // just below CGNAT
    '100.128.0.0', // just above CGNAT
    '172.15.255.255',
    '172.32.0.0',
    '192.0.1.255',
    '192.0.3.0',
    '198.17.255.255',
    '198.20.0.0',
    '223.255.255.255',
    '2001:4860:4860::8888',
    '2a00:1450:4001:80b::200e',
    '2606:4700:4700::1111',
    '2001:200::1', // just past 2001::/23
    '::ffff:8.8.8.8',
    '::FFFF:8.8.8.8',
    '::ffff:808:808', // mapped, hex tail
    '64:ff9b::8.8.8.8', // NAT64
    '2002:808:808::1', // 6to4 of 8.8.8.8
  ])('%s is public', (ip) => {
    expect(isPublicIp(ip)).toBe(true);
  });

  it.each([
    ['', 'empty'],
    ['not an ip', 'garbage'],
    ['8.8.8', 'three parts'],
    ['8.8.8.256', 'part over 255'],
    ['08.8.8.8', 'leading zero'],
    [' 8.8.8.8', 'leading space'],
    ['0.0.0.0', 'this network'],
    ['0.1.2.3', 'this network'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'CGNAT'],
    ['100.127.255.255', 'CGNAT'],
    ['192.0.0.8', 'IETF protocol assignments'],
    ['192.0.2.1', 'TEST-NET-1'],
    ['198.51.100.7', 'TEST-NET-2'],
    ['203.0.113.9', 'TEST-NET-3'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['192.88.99.1', '6to4 relay anycast'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['::8.8.8.8', 'IPv4-compatible (deprecated)'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local with zone'],
    ['febf:ffff::1', 'link-local'],
    ['fec0::1', 'site-local (deprecated)'],
    ['fc00::1', 'unique local'],
    ['fd12:3456:789a::1', 'unique local'],
    ['ff02::1', 'multicast'],
    ['100::1', 'discard-only'],
    ['2001:db8::1', 'documentation'],
    ['2001:db8:ffff::1', 'documentation'],
    ['3fff::1', 'documentation (RFC 9637)'],
    ['2001::1', 'Teredo'],
    ['2001:2::1', 'benchmarking'],
    ['5f00::1', 'SRv6 SIDs'],
    ['4000::1', 'outside 2000::/3'],
    ['::ffff:10.0.0.1', 'mapped private'],
    ['::ffff:127.0.0.1', 'mapped loopback'],
    ['::ffff:192.0.2.1', 'mapped TEST-NET'],
    ['64:ff9b::10.0.0.1', 'NAT64 of private'],
    ['2002:c0a8:101::1', '6to4 of private'],
    ['1:2:3:4:5:6:7:8:9', 'nine groups'],
    ['2001:db8::1::2', 'two ::'],
  ])('%s is not public (%s)', (ip) => {
    expect(isPublicIp(ip)).toBe(false);
  });

  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.ipV4(), fc.ipV6(), fc.ipV4Extended()), (s) => {
        expect(typeof isPublicIp(s)).toBe('boolean');
      }),
    );
    for (const odd of [undefined, null, 42, {}, []]) expect(isPublicIp(odd as unknown as string)).toBe(false);
  });

  it('judges IPv4-mapped IPv6 exactly as its IPv4 address', () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        expect(isPublicIp(`::ffff:${v4}`)).toBe(isPublicIp(v4));
        expect(isPublicIp(`0:0:0:0:0:ffff:${v4}`)).toBe(isPublicIp(v4));
      }),
    );
  });

  it('reduces embedded IPv4 forms to the IPv4 address for lookups', () => {
    expect(publicAddress('::ffff:8.8.8.8')).toEqual({ version: 4, value: 0x08080808 });
    expect(publicAddress('64:ff9b::808:808')).toEqual({ version: 4, value: 0x08080808 });
    expect(publicAddress('2002:808:808:1::1')).toEqual({ version: 4, value: 0x08080808 });
    expect(publicAddress('8.8.8.8')).toEqual({ version: 4, value: 0x08080808 });
    const v6 = publicAddress('2001:4860:4860::8888');
    expect(v6?.version).toBe(6);
  });
});

describe('address helpers', () => {
  it('converts IPv4 to uint32 and back', () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const n = ipv4ToUint32(parseIp(v4)!.bytes);
        expect(n).toBeGreaterThanOrEqual(0);
        expect(n).toBeLessThanOrEqual(0xffffffff);
        expect(formatIpv4(n)).toBe(v4);
      }),
    );
    expect(ipv4ToUint32(parseIp('255.255.255.255')!.bytes)).toBe(0xffffffff);
    expect(ipv4ToUint32(parseIp('1.0.0.0')!.bytes)).toBe(16777216);
  });

  it('converts IPv6 to a bigint and its halves', () => {
    const b = parseIp('2001:4860:4860::8888')!.bytes;
    expect(ipv6ToBigInt(b)).toBe(0x20014860486000000000000000008888n);
    expect(ipv6High(b)).toBe(0x2001486048600000n);
    expect(ipv6Low(b)).toBe(0x8888n);
    expect(ipv6ToBigInt(parseIp('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')!.bytes)).toBe((1n << 128n) - 1n);
  });

  it('writes IPv6 in full form that parses back to the same bytes', () => {
    expect(formatIpv6Full(parseIp('2a00:1450::4001:1')!.bytes)).toBe('2a00:1450:0:0:0:0:4001:1');
    fc.assert(
      fc.property(fc.ipV6(), (v6) => {
        const bytes = parseIp(v6)!.bytes;
        const full = formatIpv6Full(bytes);
        expect(full.split(':')).toHaveLength(8);
        expect(parseIp(full)!.bytes).toEqual(bytes);
      }),
    );
  });
});
