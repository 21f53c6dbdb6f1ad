/**
 * Country, city and coordinates for the client address, from geoip-lite's bundled GeoLite2
 * City data.
 *
 * geoip-lite reads its whole data set (~140 MB, held outside the V8 heap) synchronously when it
 * is first required, so it is required when an enricher is created, not when this module is
 * imported: a deployment without geo enrichment never pays for it. The data stays loaded for
 * the life of the process and is shared by every enricher.
 */
import { createRequire } from 'node:module';
import type * as GeoipLite from 'geoip-lite';
import type { AuthEvent } from '../events/authEvent.js';
import { isCountryCode } from '../events/countryCodes.js';
import type { Enricher } from './enricher.js';
import { formatIpv6Full, publicAddress } from './ipAddress.js';

export interface GeoEnricherOptions {
  /**
   * How many distinct addresses' answers to remember; the oldest is forgotten first. A login
   * stream repeats addresses a lot and a lookup decodes a record each time. 0 turns it off.
   * Default 10 000 (a few MB).
   */
  cacheSize?: number;
}

/** What the database says about an address. */
export interface GeoLocation {
  /** ISO 3166-1 alpha-2. */
  readonly country: string;
  readonly city?: string;
  /** Absent when the database knows only the country. */
  readonly lat?: number;
  readonly lon?: number;
  /** Radius around lat/lon the address is likely within (country-level rows say 1000 km and more). */
  readonly accuracy_km?: number;
}

export interface GeoEnricher extends Enricher {
  /** The location of a public address, or null (non-public, unparsable, or unknown). */
  lookup(ip: string): GeoLocation | null;
  /** Cache counters since creation. */
  readonly stats: { readonly hits: number; readonly misses: number; readonly size: number };
}

export const DEFAULT_GEO_CACHE_SIZE = 10_000;

let geoip: typeof GeoipLite | undefined;

/**
 * Builds the enricher; the first call in a process loads geoip-lite's data (~0.1 s from a warm
 * page cache). Throws on a bad option; `enrich` itself never throws.
 */
export function createGeoEnricher(options: GeoEnricherOptions = {}): GeoEnricher {
  const cacheSize = options.cacheSize ?? DEFAULT_GEO_CACHE_SIZE;
  if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) {
    throw new RangeError(`geo cacheSize must be a whole number >= 0, got ${cacheSize}`);
  }
  geoip ??= createRequire(import.meta.url)('geoip-lite') as typeof GeoipLite;
  const db = geoip;
  const cache = new Map<string, GeoLocation | null>();
  // Insertion order kept in a ring: evicting with `cache.keys().next()` walks the Map's deleted
  // entries from the front on every miss, which cost ~40 % of the cached throughput in the bench.
  const ring: string[] = [];
  let next = 0;
  const stats = { hits: 0, misses: 0, size: 0 };

  const locate = (ip: string): GeoLocation | null => {
    const addr = publicAddress(ip);
    if (!addr) return null;
    // IPv4 goes in as a number, which skips geoip-lite's own parsing.
    const row = db.lookup(addr.version === 4 ? addr.value : formatIpv6Full(addr.bytes));
    return row ? toLocation(row) : null;
  };

  const lookup = (ip: string): GeoLocation | null => {
    if (typeof ip !== 'string' || ip === '') return null;
    if (cacheSize === 0) return safeLocate(locate, ip);
    const known = cache.get(ip);
    if (known !== undefined) {
      stats.hits++;
      return known;
    }
    stats.misses++;
    const found = safeLocate(locate, ip);
    if (ring.length < cacheSize) {
      ring.push(ip);
    } else {
      cache.delete(ring[next]!);
      ring[next] = ip;
      next = next + 1 === cacheSize ? 0 : next + 1;
    }
    cache.set(ip, found);
    stats.size = cache.size;
    return found;
  };

  return {
    name: 'geo',
    stats,
    lookup,
    enrich(event: AuthEvent) {
      const geo = event.geo;
      // The source's own country or coordinates win, with whatever else it said (coordinates
      // without a radius included): mixing them with ours could describe two places.
      if (geo != null && (geo.country != null || geo.lat != null || geo.lon != null)) return;
      if (typeof event.ip !== 'string') return;
      const loc = lookup(event.ip);
      if (!loc) return;
      const target = geo ?? (event.geo = {});
      target.country = loc.country;
      if (loc.city !== undefined && target.city == null) target.city = loc.city;
      if (loc.lat !== undefined) {
        target.lat = loc.lat;
        target.lon = loc.lon;
        if (loc.accuracy_km !== undefined) target.accuracy_km = loc.accuracy_km;
      }
    },
  };
}

function safeLocate(locate: (ip: string) => GeoLocation | null, ip: string): GeoLocation | null {
  try {
    return locate(ip);
  } catch {
    return null;
  }
}

/**
 * geoip-lite's row, or null when it is no answer: rows for networks with no location (1.1.1.1
 * has one) come back with an empty country and null coordinates. Coordinates are taken only
 * from city-data rows (those carry `area`): in country-only mode geoip-lite reports IPv6
 * coordinates as 0,0.
 */
function toLocation(row: GeoipLite.Lookup): GeoLocation | null {
  // Regional stand-ins (`EU`, `AP`) are no country, and 0,0 is no place (see sanitizeEvent).
  if (typeof row.country !== 'string' || !isCountryCode(row.country)) return null;
  const out: { -readonly [K in keyof GeoLocation]: GeoLocation[K] } = { country: row.country };
  if (typeof row.city === 'string' && row.city !== '') out.city = row.city;
  const [lat, lon] = row.ll ?? [];
  if (typeof row.area === 'number' && Number.isFinite(lat) && Number.isFinite(lon) && !(lat === 0 && lon === 0)) {
    out.lat = lat;
    out.lon = lon;
    if (row.area > 0) out.accuracy_km = row.area;
  }
  return Object.freeze(out);
}
