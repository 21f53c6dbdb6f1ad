import { beforeAll, describe, expect, it } from 'vitest';
import type { AuthEvent } from '../../../src/events/authEvent.js';
import { createGeoEnricher, type GeoEnricher } from '../../../src/enrich/geoEnricher.js';

function event(fields: Partial<AuthEvent> = {}): AuthEvent {
  return { id: 'e1', time: 1_767_000_000_000, source: 'generic', type: 'login.success', outcome: 'success', ...fields };
}

// geoip-lite's data loads once per process (~0.1-0.3 s); every enricher after the first is cheap.
let geo: GeoEnricher;
beforeAll(() => {
  geo = createGeoEnricher();
});

describe('geo enricher', () => {
  it('locates a public IPv4 address', () => {
    const e = event({ ip: '8.8.8.8' });
    geo.enrich(e);
    expect(e.geo?.country).toBe('US');
    expect(e.geo?.lat).toEqual(expect.any(Number));
    expect(e.geo?.lon).toEqual(expect.any(Number));
    expect(e.geo?.accuracy_km).toBeGreaterThan(0);
  });

  it('locates to the city, with the accuracy radius, where the data has one', () => {
    const e = event({ ip: '81.2.69.142' });
    geo.enrich(e);
    expect(e.geo?.country).toBe('GB');
    expect(e.geo?.city).toEqual(expect.any(String));
    // St Albans / London area: the exact point moves between data releases.
    expect(e.geo?.lat).toBeGreaterThan(51);
    expect(e.geo?.lat).toBeLessThan(52.5);
    expect(e.geo?.lon).toBeGreaterThan(-1);
    expect(e.geo?.lon).toBeLessThan(0.5);
    expect(e.geo?.accuracy_km).toBeGreaterThan(0);
    expect(e.geo?.accuracy_km).toBeLessThanOrEqual(1000);
  });

  it('leaves city out when the data has none, rather than writing an empty string', () => {
    const e = event({ ip: '8.8.8.8' });
    geo.enrich(e);
    expect(e.geo?.city === undefined || e.geo.city !== '').toBe(true);
  });

  it('locates IPv6 and IPv4-mapped IPv6', () => {
    const v6 = event({ ip: '2001:4860:4860::8888' });
    geo.enrich(v6);
    expect(v6.geo?.country).toBe('US');
    expect(v6.geo?.lat).toEqual(expect.any(Number));

    const mapped = event({ ip: '::ffff:81.2.69.142' });
    const plain = event({ ip: '81.2.69.142' });
    geo.enrich(mapped);
    geo.enrich(plain);
    expect(mapped.geo).toEqual(plain.geo);
  });

  it('looks up compressed IPv6 by its real address', () => {
    // geoip-lite's own parser reads `2804:14c::9e37:1` as 2804:14c:0:9e37:... (a city 2000 km
    // away in the data this was written against); both spellings must give the same answer.
    expect(geo.lookup('2804:14c::9e37:1')).toEqual(geo.lookup('2804:14c:0:0:0:0:9e37:1'));
    expect(geo.lookup('2a00:1450::4001:1')).toEqual(geo.lookup('2a00:1450:0:0:0:0:4001:1'));
  });

  it.each([
    ['10.1.2.3', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.0.10', 'private'],
    ['127.0.0.1', 'loopback'],
    ['100.64.0.1', 'CGNAT'],
    ['169.254.1.1', 'link-local'],
    ['192.0.2.1', 'TEST-NET-1'],
    ['198.51.100.7', 'TEST-NET-2'],
    ['203.0.113.9', 'TEST-NET-3'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['fe80::1', 'IPv6 link-local'],
    ['fc00::1', 'IPv6 unique local'],
    ['::1', 'IPv6 loopback'],
    ['2001:db8::1', 'IPv6 documentation'],
    ['::ffff:10.0.0.1', 'mapped private'],
    ['not-an-ip', 'garbage'],
    ['999.1.1.1', 'garbage'],
    ['', 'empty'],
  ])('gives %s (%s) nothing', (ip) => {
    const e = event({ ip });
    geo.enrich(e);
    expect(e.geo).toBeUndefined();
    expect(geo.lookup(ip)).toBeNull();
  });

  it('gives nothing for a public address the data has no location for', () => {
    // 1.1.1.1 is in the data as a row with no location: no 0,0 and no empty country.
    const e = event({ ip: '1.1.1.1' });
    geo.enrich(e);
    expect(e.geo).toBeUndefined();
  });

  it('does nothing without an ip, or with a non-string one', () => {
    const e = event();
    geo.enrich(e);
    expect(e.geo).toBeUndefined();
    const odd = event({ ip: 42 as unknown as string });
    expect(() => geo.enrich(odd)).not.toThrow();
    expect(odd.geo).toBeUndefined();
  });

  it("keeps the source's location", () => {
    const withCountry = event({ ip: '8.8.8.8', geo: { country: 'FR', city: 'Paris' } });
    geo.enrich(withCountry);
    expect(withCountry.geo).toEqual({ country: 'FR', city: 'Paris' });

    // Coordinates without a radius stay as the source gave them.
    const withCoords = event({ ip: '8.8.8.8', geo: { lat: 48.85, lon: 2.35 } });
    geo.enrich(withCoords);
    expect(withCoords.geo).toEqual({ lat: 48.85, lon: 2.35 });
  });

  it("fills the rest when the source gave only a city, keeping the source's city", () => {
    const e = event({ ip: '81.2.69.142', geo: { city: 'Somewhere' } });
    const sameObject = e.geo;
    geo.enrich(e);
    expect(e.geo).toBe(sameObject);
    expect(e.geo).toMatchObject({ country: 'GB', city: 'Somewhere', lat: expect.any(Number) });
  });

  it('fills an empty geo object', () => {
    const e = event({ ip: '8.8.8.8', geo: {} });
    geo.enrich(e);
    expect(e.geo?.country).toBe('US');
  });

  it('gives every event its own geo object', () => {
    const a = event({ ip: '8.8.8.8' });
    const b = event({ ip: '8.8.8.8' });
    geo.enrich(a);
    geo.enrich(b);
    expect(a.geo).toEqual(b.geo);
    expect(a.geo).not.toBe(b.geo);
    a.geo!.country = 'XX';
    expect(geo.lookup('8.8.8.8')?.country).toBe('US');
  });
});

describe('geo cache', () => {
  it('answers repeats from the cache, bounded, forgetting the oldest first', () => {
    const g = createGeoEnricher({ cacheSize: 2 });
    const first = g.lookup('8.8.8.8');
    expect(g.lookup('8.8.8.8')).toBe(first);
    expect(g.stats).toMatchObject({ hits: 1, misses: 1, size: 1 });
    g.lookup('81.2.69.142');
    g.lookup('10.0.0.1'); // non-public answers are remembered too, and evict 8.8.8.8
    expect(g.stats.size).toBe(2);
    g.lookup('81.2.69.142');
    expect(g.stats.hits).toBe(2);
    g.lookup('8.8.8.8');
    expect(g.stats).toMatchObject({ hits: 2, misses: 4, size: 2 });
  });

  it('refuses a cache size that is not a whole number', () => {
    for (const cacheSize of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => createGeoEnricher({ cacheSize })).toThrow(RangeError);
    }
  });

  it('gives the same answers with and without the cache', () => {
    const cached = createGeoEnricher({ cacheSize: 3 });
    const uncached = createGeoEnricher({ cacheSize: 0 });
    const ips = [
      '8.8.8.8',
      '81.2.69.142',
      '10.0.0.1',
      '2001:4860:4860::8888',
      '1.1.1.1',
      'x',
      '8.8.8.8',
      '81.2.69.142',
    ];
    for (const ip of [...ips, ...ips]) expect(cached.lookup(ip)).toEqual(uncached.lookup(ip));
    expect(uncached.stats).toMatchObject({ hits: 0, misses: 0, size: 0 });
  });
});
