import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEnrichers } from '../../../src/enrich/createEnrichers.js';
import { publicAddress } from '../../../src/enrich/ipAddress.js';
import { BUILTIN_HOSTING_LIST, createNetworkEnricher } from '../../../src/enrich/networkEnricher.js';
import { parseNetworkList } from '../../../src/enrich/networkList.js';
import type { AuthEvent } from '../../../src/events/authEvent.js';

const addr = (ip: string) => publicAddress(ip)!;

describe('network lists', () => {
  // The Tor Project's bulk exit list is one address per line; range lists are CIDR blocks.
  const list = parseNetworkList(
    [
      '# exits',
      '185.220.101.34',
      '185.220.101.0/24 Tor relays of one operator',
      '192.42.116.16/28',
      '2a0b:f4c2::/40 tor-exit-v6',
      '45.141.215.7/16  # host bits set: read as the /16',
      'AS60729 Zwiebelfreunde',
      'not-an-address',
      '10.0.0.0/33',
      '',
    ].join('\n'),
  );

  it('reads addresses, blocks and AS numbers, and reports the lines it cannot', () => {
    expect(list.size).toBe(6);
    expect(list.problems).toEqual([
      { line: 8, text: 'not-an-address' },
      { line: 9, text: '10.0.0.0/33' },
    ]);
  });

  it('matches inside blocks and at their edges, and nowhere else', () => {
    expect(list.lookup(addr('185.220.101.34'), undefined)).toBeDefined();
    expect(list.lookup(addr('185.220.101.255'), undefined)).toBeDefined();
    expect(list.lookup(addr('185.220.102.0'), undefined)).toBeUndefined();
    expect(list.lookup(addr('192.42.116.31'), undefined)).toBe('');
    expect(list.lookup(addr('192.42.116.32'), undefined)).toBeUndefined();
    expect(list.lookup(addr('45.141.0.1'), undefined)).toBe('');
    expect(list.lookup(addr('2a0b:f4c2:ff::1'), undefined)).toBe('tor-exit-v6');
    expect(list.lookup(addr('2a0b:f4c3::1'), undefined)).toBeUndefined();
    // IPv4-mapped IPv6 is the IPv4 address.
    expect(list.lookup(addr('::ffff:192.42.116.20'), undefined)).toBe('');
  });

  it('matches an AS number when the address is on no block', () => {
    expect(list.lookup(addr('81.2.69.142'), 60729)).toBe('Zwiebelfreunde');
    expect(list.lookup(addr('81.2.69.142'), 60730)).toBeUndefined();
  });

  it('the shipped hosting list reads clean and names the big clouds', () => {
    const shipped = createNetworkEnricher({ lists: {} });
    expect(shipped.files).toEqual([{ path: BUILTIN_HOSTING_LIST, kind: 'hosting', entries: expect.any(Number) }]);
    expect(shipped.files[0]!.entries).toBeGreaterThan(60);
    expect(shipped.lookup('52.95.110.1', 16509)).toEqual({ kind: 'hosting', provider: 'Amazon Web Services' });
    expect(shipped.lookup('81.2.69.142', 20712)).toEqual({ kind: 'other' });
    expect(shipped.lookup('10.1.2.3', 16509)).toBeNull();
  });
});

describe('the network enricher', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'aw-net-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const event = (ip: string, extra: Partial<AuthEvent> = {}): AuthEvent => ({
    id: 'e',
    time: 0,
    source: 'generic',
    type: 'login.success',
    outcome: 'success',
    ip,
    ...extra,
  });

  it('takes the most specific list: Tor, then proxy, then hosting', () => {
    const tor = join(dir, 'tor.txt');
    const vpn = join(dir, 'vpn.txt');
    writeFileSync(tor, '185.220.101.34\n');
    writeFileSync(vpn, '185.220.101.0/24 SomeVPN\n146.70.0.0/16 SomeVPN\n');
    const e = createNetworkEnricher({ lists: { tor: [tor], proxy: [vpn] } });
    const a = event('185.220.101.34', { asn: 9009 });
    e.enrich(a);
    expect(a.network).toEqual({ kind: 'tor' });
    const b = event('146.70.1.1', { asn: 9009 });
    e.enrich(b);
    expect(b.network).toEqual({ kind: 'proxy', provider: 'SomeVPN' });
    const c = event('5.6.7.8', { asn: 9009 });
    e.enrich(c);
    expect(c.network).toEqual({ kind: 'hosting', provider: 'M247' });
  });

  it('keeps what the source said, and adds to a threat flag', () => {
    const e = createNetworkEnricher({ lists: {} });
    const okta = event('81.2.69.142', { network: { kind: 'proxy' } });
    e.enrich(okta);
    expect(okta.network).toEqual({ kind: 'proxy' });
    const flagged = event('52.95.110.1', { asn: 16509, network: { threat: true } });
    e.enrich(flagged);
    expect(flagged.network).toEqual({ threat: true, kind: 'hosting', provider: 'Amazon Web Services' });
    const privateAddress = event('192.168.1.10');
    e.enrich(privateAddress);
    expect(privateAddress.network).toBeUndefined();
  });

  it('re-reads a list that changed, after the reload interval, and keeps the last copy when it vanishes', () => {
    const tor = join(dir, 'tor.txt');
    writeFileSync(tor, '185.220.101.34\n');
    let now = 1_000_000;
    const loads: number[] = [];
    const errors: string[] = [];
    const e = createNetworkEnricher({
      lists: { tor: [tor] },
      builtin: false,
      reloadMs: 60_000,
      now: () => now,
      onLoad: (i) => loads.push(i.entries),
      onError: (i) => errors.push(i.path),
    });
    expect(e.lookup('204.8.156.142')).toEqual({ kind: 'other' });
    writeFileSync(tor, '185.220.101.34\n204.8.156.142\n');
    utimesSync(tor, new Date(), new Date(Date.now() + 5000));
    now += 30_000; // not yet
    expect(e.lookup('204.8.156.142')).toEqual({ kind: 'other' });
    now += 30_000;
    expect(e.lookup('204.8.156.142')).toEqual({ kind: 'tor' });
    expect(loads).toEqual([1, 2]);
    rmSync(tor);
    now += 60_000;
    expect(e.lookup('204.8.156.142')).toEqual({ kind: 'tor' });
    expect(errors).toEqual([tor]);
  });

  it('refuses to start on a list file that does not exist', () => {
    expect(() => createNetworkEnricher({ lists: { tor: [join(dir, 'missing.txt')] } })).toThrow(/ENOENT/);
  });

  it('runs after ASN enrichment in the configured chain, so the hosting list sees the AS number', () => {
    const chain = createEnrichers({ geo: false, asn: true, networks: true });
    expect(chain.map((x) => x.name)).toEqual(['asn', 'network', 'phone']);
    for (const [ip, asn, kind, provider] of [
      ['52.95.110.1', 16509, 'hosting', 'Amazon Web Services'],
      ['167.99.241.66', 14061, 'hosting', 'DigitalOcean'],
      ['81.2.69.142', 20712, 'other', undefined],
    ] as const) {
      const e = event(ip);
      for (const x of chain) x.enrich(e);
      expect(e.asn, ip).toBe(asn);
      expect(e.network, ip).toEqual(provider ? { kind, provider } : { kind });
    }
    expect(createEnrichers({ geo: false, asn: false, networks: false }).map((x) => x.name)).toEqual(['phone']);
  });
});
