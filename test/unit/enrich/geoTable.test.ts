import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCountryCode } from '../../../src/events/countryCodes.js';
import { GeoTable, loadGeoTable, type GeoLocation } from '../../../src/enrich/geoTable.js';
import { formatIpv6Full, publicAddress } from '../../../src/enrich/ipAddress.js';

const tmp = mkdtempSync(join(tmpdir(), 'authwatch-geo-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function lookup(table: GeoTable, ip: string): GeoLocation | null {
  const addr = publicAddress(ip);
  return addr ? table.lookup(addr) : null;
}

function v4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The first 64 bits of an IPv6 address as text, with the rest filled in by `rest`. */
function v6(hi: number, lo: number, rest = '1'): string {
  const h = (x: number) => x.toString(16);
  return `${h(hi >>> 16)}:${h(hi & 0xffff)}:${h(lo >>> 16)}:${h(lo & 0xffff)}::${rest}`;
}

describe('geo table, against geoip-lite itself', () => {
  // What geoEnricher answered when it called geoip-lite (version 1.4): its row, with the rules
  // that turn a row into a location.
  type Lookup = { country: string; city: string; ll: [number, number]; area?: number } | null;
  let geoip: { lookup(ip: string | number): Lookup };
  let table: GeoTable;
  const dataDir = join(createRequire(import.meta.url).resolve('geoip-lite/package.json'), '..', 'data');
  beforeAll(() => {
    geoip = createRequire(import.meta.url)('geoip-lite') as typeof geoip;
    table = loadGeoTable(); // the cache the tests' global setup built
  });

  const viaGeoipLite = (ip: string): GeoLocation | null => {
    const addr = publicAddress(ip);
    if (!addr) return null;
    const row = geoip.lookup(addr.version === 4 ? addr.value : formatIpv6Full(addr.bytes));
    if (!row || !isCountryCode(row.country)) return null;
    const out: { -readonly [K in keyof GeoLocation]: GeoLocation[K] } = { country: row.country };
    if (row.city !== '') out.city = row.city;
    const [lat, lon] = row.ll;
    if (typeof row.area === 'number' && !(lat === 0 && lon === 0)) {
      out.lat = lat;
      out.lon = lon;
      if (row.area > 0) out.accuracy_km = row.area;
    }
    return out;
  };

  it('gives the answer geoip-lite gives, at range edges and between them, IPv4', () => {
    const rows = readFileSync(join(dataDir, 'geoip-city.dat'));
    const ips: string[] = [];
    // Every 101st row's first and last address and their neighbours, and addresses across the space.
    for (let o = 0; o < rows.length; o += 24 * 101) {
      for (const d of [-1, 0, 1])
        ips.push(v4((rows.readUInt32BE(o) + d) >>> 0), v4((rows.readUInt32BE(o + 4) + d) >>> 0));
    }
    for (let i = 0; i < 50_000; i++) ips.push(v4((i * 85_899 + 7) >>> 0));
    let located = 0;
    const differ: string[] = [];
    for (const ip of ips) {
      const want = viaGeoipLite(ip);
      if (want) located++;
      if (JSON.stringify(lookup(table, ip)) !== JSON.stringify(want)) differ.push(ip);
    }
    expect(differ.slice(0, 5).map((ip) => [ip, lookup(table, ip), viaGeoipLite(ip)])).toEqual([]);
    expect(located).toBeGreaterThan(ips.length * 0.8);
  });

  it('gives the answer geoip-lite gives for IPv6, outside the few nested rows', () => {
    const rows = readFileSync(join(dataDir, 'geoip-city6.dat'));
    // geoip-lite's bisection answers from whichever of two overlapping rows it meets first;
    // the table answers from the inner one (the next test). Addresses in those rows are left out.
    // The first 32 bits of every address in such a row (they span few each).
    const nested = new Set<number>();
    let prevEnd = -1n; // the furthest end so far: one wide row can hold several
    for (let o = 0; o < rows.length; o += 48) {
      const start = rows.readBigUInt64BE(o);
      const end = rows.readBigUInt64BE(o + 16);
      if (start <= prevEnd) for (let hi = start >> 32n; hi <= end >> 32n; hi++) nested.add(Number(hi));
      if (end > prevEnd) prevEnd = end;
    }
    expect(nested.size).toBeGreaterThan(0);
    expect(nested.size).toBeLessThan(1000);
    const inNested = (hi: number) => nested.has(hi);
    let checked = 0;
    const differ: string[] = [];
    for (let o = 0; o < rows.length; o += 48 * 13) {
      for (const at of [0, 16]) {
        const hi = rows.readUInt32BE(o + at);
        const lo = rows.readUInt32BE(o + at + 4);
        if (inNested(hi)) continue;
        const ip = v6(hi, lo, `${(o % 65_535).toString(16)}`);
        if (JSON.stringify(lookup(table, ip)) !== JSON.stringify(viaGeoipLite(ip))) differ.push(ip);
        checked++;
      }
    }
    expect(differ.slice(0, 5).map((ip) => [ip, lookup(table, ip), viaGeoipLite(ip)])).toEqual([]);
    expect(checked).toBeGreaterThan(150_000);
  });

  it('shares one frozen answer between the addresses that have it', () => {
    const a = lookup(table, '81.2.69.142');
    expect(a).toBe(lookup(table, '81.2.69.142'));
    expect(Object.isFrozen(a)).toBe(true);
  });

  it('is far smaller than the data it is made from', () => {
    const { v4: n4, v6: n6, answers } = table.counts;
    expect((n4 + n6) * 8 + n6 * 4 + answers * 16).toBeLessThan(50e6);
  });
});

// geoip-lite's file layout (lib/geoip.js, 1.4): big-endian rows.
interface Row {
  start: number | [number, number];
  end: number | [number, number];
  loc: number;
  lat?: number;
  lon?: number;
  area?: number;
}

function writeData(dir: string, rows4: Row[], rows6: Row[], locations: { country: string; city: string }[]): void {
  mkdirSync(dir, { recursive: true });
  const rowBytes = (rows: Row[], size: number) => {
    const buf = Buffer.alloc(rows.length * size);
    rows.forEach((r, i) => {
      const o = i * size;
      const key = size === 24 ? 4 : 16;
      const put = (at: number, k: number | [number, number], fill: number) => {
        const words = typeof k === 'number' ? [k] : [...k, fill, fill];
        words.forEach((w, j) => buf.writeUInt32BE(w >>> 0, at + j * 4));
      };
      put(o, r.start, 0);
      put(o + key, r.end, 0xffffffff);
      buf.writeUInt32BE(r.loc >>> 0, o + key * 2);
      buf.writeInt32BE(Math.round((r.lat ?? 0) * 10_000), o + key * 2 + 4);
      buf.writeInt32BE(Math.round((r.lon ?? 0) * 10_000), o + key * 2 + 8);
      buf.writeUInt32BE(r.area ?? 0, o + key * 2 + 12);
    });
    return buf;
  };
  const names = Buffer.alloc(locations.length * 88);
  locations.forEach((l, i) => {
    names.write(l.country, i * 88, 'utf8');
    names.write(l.city, i * 88 + 42, 'utf8');
  });
  writeFileSync(join(dir, 'geoip-city.dat'), rowBytes(rows4, 24));
  writeFileSync(join(dir, 'geoip-city6.dat'), rowBytes(rows6, 48));
  writeFileSync(join(dir, 'geoip-city-names.dat'), names);
}

const ip4 = (s: string) => {
  const [a, b, c, d] = s.split('.').map(Number);
  return ((a! << 24) | (b! << 16) | (c! << 8) | d!) >>> 0;
};

describe('geo table, built from data made here', () => {
  const LOCATIONS = [
    { country: 'SE', city: 'Göteborg' },
    { country: 'GB', city: '' },
    { country: 'EU', city: '' }, // a regional stand-in: no country
    { country: 'DE', city: 'Berlin' },
  ];

  it('answers each range, joins neighbours with the same answer, and has none between ranges', () => {
    const dir = join(tmp, 'ranges');
    writeData(
      dir,
      [
        { start: ip4('5.0.0.0'), end: ip4('5.0.0.255'), loc: 0, lat: 57.7, lon: 11.97, area: 20 },
        { start: ip4('5.0.1.0'), end: ip4('5.0.1.255'), loc: 0, lat: 57.7, lon: 11.97, area: 20 },
        { start: ip4('5.0.2.0'), end: ip4('5.0.2.255'), loc: 1, lat: 51.5, lon: -0.13, area: 0 },
        // gap 5.0.3.0 - 5.0.3.255
        { start: ip4('5.0.4.0'), end: ip4('5.0.4.255'), loc: 2, lat: 50, lon: 10, area: 100 },
        { start: ip4('5.0.5.0'), end: ip4('5.0.5.255'), loc: 0xffffffff },
        { start: ip4('5.0.6.0'), end: ip4('5.0.6.255'), loc: 3, lat: 0, lon: 0, area: 50 },
      ],
      [],
      LOCATIONS,
    );
    const t = GeoTable.build(dir, 'made here');
    expect(lookup(t, '5.0.0.9')).toEqual({ country: 'SE', city: 'Göteborg', lat: 57.7, lon: 11.97, accuracy_km: 20 });
    expect(lookup(t, '5.0.1.255')).toBe(lookup(t, '5.0.0.0'));
    // No city; a radius of 0 is no radius.
    expect(lookup(t, '5.0.2.1')).toEqual({ country: 'GB', lat: 51.5, lon: -0.13 });
    expect(lookup(t, '5.0.3.7')).toBeNull();
    expect(lookup(t, '5.0.4.7')).toBeNull(); // EU is no country
    expect(lookup(t, '5.0.5.7')).toBeNull(); // no location
    // 0,0 is no place: the country and city stay, without coordinates or radius.
    expect(lookup(t, '5.0.6.7')).toEqual({ country: 'DE', city: 'Berlin' });
    expect(lookup(t, '4.255.255.255')).toBeNull();
    expect(lookup(t, '5.0.7.0')).toBeNull();
    // Two SE rows, then GB, nothing (gap, EU and no location joined), DE, nothing after.
    expect(t.counts).toMatchObject({ v4: 5, v6: 0, answers: 3 });
  });

  it('answers from the inner of two overlapping IPv6 rows inside it, and from the outer around it', () => {
    const dir = join(tmp, 'nested');
    const P = 0x2a0a0000;
    writeData(
      dir,
      [],
      [
        { start: [P, 0], end: [P, 0xffff], loc: 0, lat: 57.7, lon: 11.97, area: 20 },
        { start: [P, 0x10], end: [P, 0x10], loc: 3, lat: 52.5, lon: 13.4, area: 5 },
        { start: [P, 0x20], end: [P, 0x2f], loc: 1, lat: 51.5, lon: -0.13, area: 10 },
        { start: [P, 0x28], end: [P, 0x28], loc: 3, lat: 52.5, lon: 13.4, area: 5 },
        // Starts inside the first row and ends beyond it.
        { start: [P, 0xff00], end: [P, 0x1ffff], loc: 1, lat: 51.5, lon: -0.13, area: 10 },
      ],
      LOCATIONS,
    );
    const t = GeoTable.build(dir, 'made here');
    const city = (hi: number, lo: number) => lookup(t, v6(hi, lo))?.city ?? lookup(t, v6(hi, lo))?.country ?? null;
    expect(city(P, 0)).toBe('Göteborg');
    expect(city(P, 0xf)).toBe('Göteborg');
    expect(city(P, 0x10)).toBe('Berlin');
    expect(city(P, 0x11)).toBe('Göteborg');
    expect(city(P, 0x20)).toBe('GB');
    expect(city(P, 0x28)).toBe('Berlin');
    expect(city(P, 0x29)).toBe('GB');
    expect(city(P, 0x30)).toBe('Göteborg');
    expect(city(P, 0xfeff)).toBe('Göteborg');
    expect(city(P, 0xff00)).toBe('GB');
    expect(city(P, 0x1ffff)).toBe('GB');
    expect(city(P, 0x20000)).toBeNull();
    expect(city(P - 1, 0xffffffff)).toBeNull();
  });

  it('refuses data out of order or not in the layout it reads, naming the folder', () => {
    const dir = join(tmp, 'unsorted');
    writeData(
      dir,
      [
        { start: ip4('6.0.0.0'), end: ip4('6.0.0.255'), loc: 0 },
        { start: ip4('5.0.0.0'), end: ip4('5.0.0.255'), loc: 0 },
      ],
      [],
      LOCATIONS,
    );
    expect(() => GeoTable.build(dir, 'x')).toThrow(/not sorted/);
    writeFileSync(join(dir, 'geoip-city.dat'), Buffer.alloc(25));
    expect(() => GeoTable.build(dir, 'x')).toThrow(new RegExp(`${dir}.*layout`));
  });
});

describe('geo table, the cache file', () => {
  const dataDir = join(tmp, 'cached-data');
  const cacheDir = join(tmp, 'cache');
  const previous = process.env.GEODATADIR;
  const cacheFile = () =>
    join(
      cacheDir,
      readdirSync(cacheDir).find((f) => f.endsWith('.bin'))!,
    );
  const rows = (area: number): Row[] => [
    { start: ip4('5.0.0.0'), end: ip4('5.0.0.255'), loc: 0, lat: 57.7, lon: 11.97, area },
  ];
  beforeAll(() => {
    writeData(dataDir, rows(20), [], [{ country: 'SE', city: 'Göteborg' }]);
    process.env.GEODATADIR = dataDir;
  });
  afterAll(() => {
    if (previous === undefined) delete process.env.GEODATADIR;
    else process.env.GEODATADIR = previous;
  });

  it('is written on the first load and is what the next load reads', () => {
    expect(lookup(loadGeoTable(cacheDir), '5.0.0.1')?.city).toBe('Göteborg');
    const bytes = readFileSync(cacheFile());
    expect(bytes.subarray(0, 17).toString()).toBe('authwatch-geo-v1\n');
    const at = bytes.lastIndexOf('Göteborg');
    bytes.write('Göteborq', at);
    writeFileSync(cacheFile(), bytes);
    expect(lookup(loadGeoTable(cacheDir), '5.0.0.1')?.city).toBe('Göteborq');
  });

  it('is rebuilt when the data changes, or when it is damaged', () => {
    writeData(dataDir, rows(30), [], [{ country: 'SE', city: 'Göteborg' }]);
    utimesSync(join(dataDir, 'geoip-city.dat'), new Date(), new Date(Date.now() + 5_000));
    expect(lookup(loadGeoTable(cacheDir), '5.0.0.1')).toMatchObject({ city: 'Göteborg', accuracy_km: 30 });
    const good = readFileSync(cacheFile());
    writeFileSync(cacheFile(), good.subarray(0, good.length - 3));
    expect(lookup(loadGeoTable(cacheDir), '5.0.0.1')?.city).toBe('Göteborg');
    expect(readFileSync(cacheFile()).equals(good)).toBe(true);
  });

  it('answers nothing, without throwing, where a damaged file points past its answers or names', () => {
    const good = loadGeoTable(cacheDir).toTables();
    const arrays = good.arrays.map((a) => a.slice());
    arrays[1]![0] = 7_777; // the first IPv4 range's answer
    const pastAnswers = GeoTable.fromTables({ ...good, arrays })!;
    expect(lookup(pastAnswers, '5.0.0.1')).toBeNull();
    const names = good.arrays.map((a) => a.slice());
    names[5]![0] = 7_777; // the first answer's name
    expect(lookup(GeoTable.fromTables({ ...good, arrays: names })!, '5.0.0.1')).toBeNull();
    expect(lookup(GeoTable.fromTables(good)!, '5.0.0.1')?.country).toBe('SE');
  });

  it('still loads when the cache cannot be written', () => {
    const file = join(tmp, 'not-a-folder');
    writeFileSync(file, '');
    expect(lookup(loadGeoTable(join(file, 'cache')), '5.0.0.1')?.country).toBe('SE');
  });
});
