/**
 * Country, city and coordinates for the client address, from geoip-lite's bundled GeoLite2
 * City data, read through the compact table of `geoTable.ts` (about 37 MB, where geoip-lite
 * itself would hold 150 MB).
 *
 * The table is loaded when the first enricher is created, not when this module is imported: a
 * deployment without geo enrichment never pays for it. It stays loaded for the life of the
 * process and is shared by every enricher.
 */
import type { AuthEvent } from '../events/authEvent.js';
import type { Enricher } from './enricher.js';
import { loadGeoTable, type GeoLocation, type GeoTable } from './geoTable.js';
import { publicAddress } from './ipAddress.js';
import { RecentCache } from './recentCache.js';

export type { GeoLocation } from './geoTable.js';

export interface GeoEnricherOptions {
  /**
   * How many distinct addresses' answers to remember; the oldest is forgotten first. A login
   * stream repeats addresses a lot and a lookup decodes a record each time. 0 turns it off.
   * Default 10 000 (a few MB).
   */
  cacheSize?: number;
}

export interface GeoEnricher extends Enricher {
  /** The location of a public address, or null (non-public, unparsable, or unknown). */
  lookup(ip: string): GeoLocation | null;
  /** Cache counters since creation. */
  readonly stats: { readonly hits: number; readonly misses: number; readonly size: number };
}

export const DEFAULT_GEO_CACHE_SIZE = 10_000;

let table: GeoTable | undefined;

/**
 * Builds the enricher; the first call in a process loads the table (~50 ms from its cache
 * file, about 3 s the first time after an install). Throws on a bad option; `enrich` itself
 * never throws.
 */
export function createGeoEnricher(options: GeoEnricherOptions = {}): GeoEnricher {
  const cacheSize = options.cacheSize ?? DEFAULT_GEO_CACHE_SIZE;
  if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) {
    throw new RangeError(`geo cacheSize must be a whole number >= 0, got ${cacheSize}`);
  }
  const db = (table ??= loadGeoTable());
  const cache = new RecentCache<GeoLocation | null>(cacheSize);
  const stats = {
    hits: 0,
    misses: 0,
    get size() {
      return cache.size;
    },
  };

  const locate = (ip: string): GeoLocation | null => {
    const addr = publicAddress(ip);
    return addr ? db.lookup(addr) : null;
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
    cache.set(ip, found);
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
