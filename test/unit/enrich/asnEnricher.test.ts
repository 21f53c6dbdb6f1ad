import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Reader } from 'mmdb-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthEvent } from '../../../src/events/authEvent.js';
import type { IpLocationDbAsn } from '../../../src/enrich/asnEnricher.js';
import { createAsnEnricher, loadIpLocationDbAsn, type AsnEnricher } from '../../../src/enrich/asnEnricher.js';
import { formatIpv4, isPublicIp, publicAddress } from '../../../src/enrich/ipAddress.js';
import { writeMmdb, type MmdbNetwork } from '../../support/mmdbWriter.js';

function event(fields: Partial<AuthEvent> = {}): AuthEvent {
  return { id: 'e1', time: 1_767_000_000_000, source: 'generic', type: 'login.success', outcome: 'success', ...fields };
}

const NOT_PUBLIC = ['10.0.0.1', '192.168.1.1', '127.0.0.1', '100.64.0.1', '192.0.2.1', 'fe80::1', '::1', 'fc00::1'];

describe('ASN enricher, offline @ip-location-db/asn data', () => {
  // Parsing the CSVs takes a few hundred milliseconds: once for the file.
  let asn: AsnEnricher;
  beforeAll(() => {
    asn = createAsnEnricher();
  });

  it('names the database', () => {
    expect(asn.database).toMatch(/^@ip-location-db\/asn@\d/);
  });

  it.each([
    ['1.1.1.1', 13335, /Cloudflare/],
    ['1.0.0.1', 13335, /Cloudflare/], // the first row of the file
    ['8.8.8.8', 15169, /Google/],
    ['2001:4860:4860::8888', 15169, /Google/],
    ['2606:4700:4700::1111', 13335, /Cloudflare/],
    ['::ffff:1.1.1.1', 13335, /Cloudflare/],
    ['::ffff:808:808', 15169, /Google/],
  ])('sets asn and as_org for %s', (ip, number, org) => {
    const e = event({ ip });
    asn.enrich(e);
    expect(e.asn).toBe(number);
    expect(e.as_org).toMatch(org);
  });

  it.each(NOT_PUBLIC)('gives %s nothing', (ip) => {
    const e = event({ ip });
    asn.enrich(e);
    expect(e.asn).toBeUndefined();
    expect(e.as_org).toBeUndefined();
  });

  it('gives nothing for garbage, a missing ip, or a gap between ranges', () => {
    for (const ip of ['', 'nope', '1.2.3', '2001:db8::1::1', undefined]) {
      const e = event({ ip });
      asn.enrich(e);
      expect(e.asn).toBeUndefined();
    }
    expect(asn.lookup('1.0.1.0')).toBeNull(); // between 1.0.0.0/24 and 1.0.4.0/22
    const odd = event({ ip: {} as unknown as string });
    expect(() => asn.enrich(odd)).not.toThrow();
  });

  it("keeps the source's asn and as_org", () => {
    const both = event({ ip: '8.8.8.8', asn: 64500, as_org: 'Source Org' });
    asn.enrich(both);
    expect(both).toMatchObject({ asn: 64500, as_org: 'Source Org' });

    // An asn from the source means the network is known: no org from a database that may disagree.
    const asnOnly = event({ ip: '8.8.8.8', asn: 64500 });
    asn.enrich(asnOnly);
    expect(asnOnly.asn).toBe(64500);
    expect(asnOnly.as_org).toBeUndefined();

    const orgOnly = event({ ip: '8.8.8.8', as_org: 'Source Org' });
    asn.enrich(orgOnly);
    expect(orgOnly).toMatchObject({ asn: 15169, as_org: 'Source Org' });
  });

  it('reads quoted organisation names, with commas and doubled quotes', () => {
    expect(asn.lookup('1.1.1.1')?.org).toBe('Cloudflare, Inc.');
    expect(asn.lookup(formatIpv4(35309568))).toEqual({ asn: 201907, org: 'LLC "SPUTNIK"' });
  });

  it('lets the later row win where two rows overlap', () => {
    // The pinned data has one such pair: AS749 up to 3607166975, AS721 from 3607101440.
    expect(asn.lookup(formatIpv4(3607101439))?.asn).toBe(749);
    expect(asn.lookup(formatIpv4(3607101440))?.asn).toBe(721);
    expect(asn.lookup(formatIpv4(3607167999))?.asn).toBe(721);
  });

  it('sets the number but no org for placeholder names', () => {
    expect(asn.lookup(formatIpv4(136437760))).toEqual({ asn: 394936 });
  });

  it('agrees with the CSV at sampled range boundaries, IPv4 and IPv6', () => {
    const dir = dirname(createRequire(import.meta.url).resolve('@ip-location-db/asn/package.json'));
    const row = /^(\d+),(\d+),(\d+),(?:"((?:[^"]|"")*)"|(.*))$/;
    for (const [file, v6] of [
      ['asn-ipv4-num.csv', false],
      ['asn-ipv6-num.csv', true],
    ] as const) {
      const lines = readFileSync(join(dir, file), 'utf8').split('\n');
      const toIp = (n: bigint) => (v6 ? formatV6(n) : formatIpv4(Number(n)));
      let checked = 0;
      for (let i = 0; i < lines.length - 1; i += 211) {
        const m = row.exec(lines[i]!)!;
        const next = row.exec(lines[i + 1] ?? '');
        const [start, end] = [BigInt(m[1]!), BigInt(m[2]!)];
        const expected = { asn: Number(m[3]), org: m[4]?.replaceAll('""', '"') ?? m[5] };
        if (!isPublicIp(toIp(start)) || !isPublicIp(toIp(end))) continue;
        if (next && BigInt(next[1]!) <= end) continue; // overlapping rows: the later one wins there
        for (const at of [start, end]) {
          const got = asn.lookup(toIp(at));
          expect(got?.asn, `${file} line ${i + 1} at ${toIp(at)}`).toBe(expected.asn);
          if (got?.org !== undefined) expect(got.org).toBe(expected.org);
        }
        if (next && BigInt(next[1]!) > end + 1n && isPublicIp(toIp(end + 1n))) {
          expect(asn.lookup(toIp(end + 1n)), `gap after ${file} line ${i + 1}`).toBeNull();
        }
        checked++;
      }
      expect(checked).toBeGreaterThan(v6 ? 400 : 1900);
    }
  });
});

describe('ASN data, the binary cache beside the package', () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'authwatch-asn-cache-'));
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));
  const cacheFile = () =>
    join(
      cacheDir,
      readdirSync(cacheDir).find((f) => f.endsWith('.bin'))!,
    );
  // Addresses across both families and the whole space, in and between ranges.
  const sample: string[] = [];
  for (let i = 0; i < 4000; i++) sample.push(formatIpv4((i * 1_073_741 + 12_345) >>> 0));
  for (let i = 0; i < 1000; i++) sample.push(`2${(i % 16).toString(16)}0${i % 10}:${(i * 7919).toString(16)}::${i}`);
  const answers = (db: { lookup(ip: string): unknown }) => sample.map((ip) => db.lookup(ip));

  it('is written on the first start and read on the next, giving the same answers as the CSVs', () => {
    const parsed = createAsnEnricher();
    const first = loadIpLocationDbAsn(cacheDir);
    expect(readFileSync(cacheFile()).subarray(0, 17).toString()).toBe('authwatch-asn-v2\n');
    const cached = loadIpLocationDbAsn(cacheDir);
    expect(cached.rangeCount).toEqual(first.rangeCount);
    const lookup = (db: IpLocationDbAsn) => ({
      lookup: (ip: string) => {
        const addr = publicAddress(ip);
        return addr ? db.lookup(addr) : null;
      },
    });
    expect(answers(lookup(cached))).toEqual(answers(parsed));
    expect(answers(parsed).filter(Boolean).length).toBeGreaterThan(2500);
  });

  it('is what the next start reads: a name changed in it is the name answered', () => {
    loadIpLocationDbAsn(cacheDir);
    const bytes = readFileSync(cacheFile());
    const at = bytes.lastIndexOf('Cloudflare, Inc.');
    expect(at).toBeGreaterThan(0);
    bytes.write('Cloudflare, Ink.', at);
    writeFileSync(cacheFile(), bytes);
    expect(loadIpLocationDbAsn(cacheDir).lookup(publicAddress('1.1.1.1')!)?.org).toBe('Cloudflare, Ink.');
  });

  it('is parsed afresh and rewritten when it is damaged or was made from other CSVs', () => {
    rmSync(cacheFile());
    loadIpLocationDbAsn(cacheDir);
    const good = readFileSync(cacheFile());
    writeFileSync(cacheFile(), good.subarray(0, good.length - 100)); // cut short
    expect(loadIpLocationDbAsn(cacheDir).lookup(publicAddress('1.1.1.1')!)?.asn).toBe(13335);
    expect(readFileSync(cacheFile()).length).toBe(good.length);
    writeFileSync(
      cacheFile(),
      Buffer.from(good.toString('latin1').replace(/"source":"[^"]*"/, '"source":"other"'), 'latin1'),
    );
    expect(loadIpLocationDbAsn(cacheDir).lookup(publicAddress('8.8.8.8')!)?.asn).toBe(15169);
    expect(readFileSync(cacheFile()).equals(good)).toBe(true);
  });

  it('still loads when the cache cannot be written', () => {
    const file = join(cacheDir, 'not-a-folder');
    writeFileSync(file, '');
    expect(loadIpLocationDbAsn(join(file, 'cache')).lookup(publicAddress('8.8.8.8')!)?.asn).toBe(15169);
  });
});

function formatV6(n: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  return groups.join(':');
}

describe('ASN enricher, MaxMind database', () => {
  const CLOUDFLARE = { autonomous_system_number: 13335, autonomous_system_organization: 'Cloudflare, Inc.' };
  const GOOGLE = { autonomous_system_number: 15169, autonomous_system_organization: 'Google LLC' };
  const networks: MmdbNetwork[] = [
    { network: '1.1.1.0/24', data: CLOUDFLARE },
    { network: '8.8.8.0/24', data: GOOGLE },
    { network: '2001:4860::/32', data: GOOGLE },
    { network: '81.2.69.128/26', data: { autonomous_system_number: 20712 } },
    // A database that covers private space must still not enrich it.
    { network: '10.0.0.0/8', data: { autonomous_system_number: 64512, autonomous_system_organization: 'Private' } },
  ];
  let dir: string;
  let v6Path: string;
  let v4Path: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'authwatch-mmdb-'));
    v6Path = join(dir, 'GeoLite2-ASN-test.mmdb');
    v4Path = join(dir, 'asn-v4-only.mmdb');
    writeFileSync(v6Path, writeMmdb({ ipVersion: 6, databaseType: 'GeoLite2-ASN', networks }));
    writeFileSync(
      v4Path,
      writeMmdb({
        ipVersion: 4,
        databaseType: 'GeoLite2-ASN',
        networks: networks.filter((n) => !n.network.includes(':')),
      }),
    );
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a database mmdb-lib reads, metadata included', () => {
    const reader = new Reader(readFileSync(v6Path));
    expect(reader.metadata).toMatchObject({
      binaryFormatMajorVersion: 2,
      binaryFormatMinorVersion: 0,
      databaseType: 'GeoLite2-ASN',
      ipVersion: 6,
      recordSize: 24,
      languages: ['en'],
      description: { en: expect.any(String) },
    });
    expect(reader.metadata.nodeCount).toBeGreaterThan(0);
    expect(reader.get('1.1.1.1')).toEqual(CLOUDFLARE);
  });

  it('reads asn and org from it, IPv4, IPv4-mapped and IPv6', () => {
    const asn = createAsnEnricher({ mmdbPath: v6Path });
    expect(asn.database).toBe(`mmdb:${v6Path}`);
    for (const [ip, expected] of [
      ['1.1.1.1', { asn: 13335, as_org: 'Cloudflare, Inc.' }],
      ['1.1.1.255', { asn: 13335, as_org: 'Cloudflare, Inc.' }],
      ['::ffff:8.8.8.8', { asn: 15169, as_org: 'Google LLC' }],
      ['2001:4860:4860::8888', { asn: 15169, as_org: 'Google LLC' }],
    ] as const) {
      const e = event({ ip });
      asn.enrich(e);
      expect(e, ip).toMatchObject(expected);
    }
  });

  it('sets only the number when the record has no organisation', () => {
    const asn = createAsnEnricher({ mmdbPath: v6Path });
    const e = event({ ip: '81.2.69.142' });
    asn.enrich(e);
    expect(e.asn).toBe(20712);
    expect(e.as_org).toBeUndefined();
  });

  it('gives nothing for addresses not in it, and for non-public ones it does cover', () => {
    const asn = createAsnEnricher({ mmdbPath: v6Path });
    for (const ip of ['1.1.2.1', '9.9.9.9', '2001:4861::1', '2606:4700::1', '10.1.2.3', ...NOT_PUBLIC]) {
      const e = event({ ip });
      asn.enrich(e);
      expect(e.asn, ip).toBeUndefined();
    }
  });

  it('answers IPv4 from an IPv4-only database and nothing for IPv6', () => {
    const asn = createAsnEnricher({ mmdbPath: v4Path });
    expect(asn.lookup('8.8.8.8')).toEqual({ asn: 15169, org: 'Google LLC' });
    // 2001:4860:: would walk the IPv4 tree as 32.1.72.96 if it were let through.
    expect(asn.lookup('2001:4860:4860::8888')).toBeNull();
  });

  it("keeps the source's asn", () => {
    const asn = createAsnEnricher({ mmdbPath: v6Path });
    const e = event({ ip: '1.1.1.1', asn: 64500 });
    asn.enrich(e);
    expect(e.asn).toBe(64500);
    expect(e.as_org).toBeUndefined();
  });

  it('fails at creation, naming the file, when the database cannot be read', () => {
    const missing = join(dir, 'missing.mmdb');
    expect(() => createAsnEnricher({ mmdbPath: missing })).toThrow(missing);
    const garbage = join(dir, 'garbage.mmdb');
    writeFileSync(garbage, 'not a database');
    expect(() => createAsnEnricher({ mmdbPath: garbage })).toThrow(garbage);
  });
});
