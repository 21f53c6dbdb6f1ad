import haversine from 'haversine-distance';
import { GroupStateCorrelator } from './groupStateCorrelator.js';
import type { CorrelationRule } from '../../rules/model.js';
import {
  groupReader,
  pairFiring,
  type CorrelatorFactory,
  type CorrelatorOptions,
  type Firing,
  type Hit,
} from './correlator.js';

const DEFAULT_MAX_SPEED_KMH = 1000;
const DEFAULT_MIN_DISTANCE_KM = 100;
/** Half the circumference haversine-distance assumes (equatorial radius 6378.137 km): no two places are farther apart. */
const MAX_DISTANCE_KM = Math.PI * 6378.137;
const HOUR_MS = 3_600_000;

/** A geolocated hit: where and when a group was. */
interface Fix {
  lat: number;
  lon: number;
  /** Accuracy radius, km (0 when the geo source gave none). */
  acc: number;
  t: number;
  id: string;
  country?: string;
  city?: string;
  ip?: string;
}

type GroupRead = (hit: Hit) => { key: string; group: Record<string, string> } | undefined;

/**
 * The rule's group-by values; when it has none, the user of the hit's event (user.id, else
 * user.name), since travel and dormancy are about a person unless the rule says otherwise.
 */
export function groupOrUserReader(rule: CorrelationRule): GroupRead {
  if (rule.groupBy.length > 0) return groupReader(rule);
  return (hit): ReturnType<GroupRead> => {
    const user = hit.event.user;
    if (user?.id) return { key: user.id, group: { 'user.id': user.id } };
    if (user?.name) return { key: user.name, group: { 'user.name': user.name } };
    return undefined;
  };
}

/**
 * Impossible travel: consecutive geolocated hits of a group (by event time) farther apart
 * than anyone could travel at `max_speed_kmh`. The distance counted is the great-circle
 * distance less both accuracy radii, the least that must have been travelled.
 */
export const impossibleTravel: CorrelatorFactory = (rule, options) => new ImpossibleTravel(rule, options);

class ImpossibleTravel extends GroupStateCorrelator<Fix, Fix> {
  private readonly readGroup: GroupRead;
  private readonly maxKmh: number;
  private readonly minKm: number;
  /** Fixes farther apart in time than this cannot be too fast (or are outside the rule's timespan). */
  private readonly relevantMs: number;

  constructor(rule: CorrelationRule, options: CorrelatorOptions) {
    super(rule, options);
    this.readGroup = groupOrUserReader(rule);
    const { max_speed_kmh, min_distance_km } = rule.params;
    this.maxKmh = typeof max_speed_kmh === 'number' ? max_speed_kmh : DEFAULT_MAX_SPEED_KMH;
    this.minKm = typeof min_distance_km === 'number' ? min_distance_km : DEFAULT_MIN_DISTANCE_KM;
    const reachable = Math.ceil((MAX_DISTANCE_KM / this.maxKmh) * HOUR_MS);
    this.relevantMs = rule.timespanMs > 0 ? Math.min(rule.timespanMs, reachable) : reachable;
  }

  observe(hit: Hit, watermark: number): Firing | undefined {
    const fix = fixOf(hit);
    if (!fix) return undefined;
    const g = this.readGroup(hit);
    if (!g) return undefined;
    if (hit.time < watermark) {
      this.late++;
      return undefined;
    }
    const last = this.groups.peek(g.key);
    // The stored fix stays the newest one: a late hit is a hop into it, not from it.
    if (!last || fix.t >= last.t) this.groups.set(g.key, fix);
    else this.groups.touch(g.key, () => last);
    if (!last) return undefined;
    const [from, to] = fix.t >= last.t ? [last, fix] : [fix, last];
    if (to.t - from.t > this.relevantMs) return undefined;

    const km = haversine(from, to) / 1000;
    const leastKm = Math.max(0, km - from.acc - to.acc);
    if (leastKm <= 0 || leastKm < this.minKm) return undefined;
    const hours = (to.t - from.t) / HOUR_MS;
    const kmh = hours > 0 ? leastKm / hours : Number.POSITIVE_INFINITY;
    if (!(kmh > this.maxKmh)) return undefined;
    return pairFiring(g, from, to, {
      from: place(from),
      to: place(to),
      km: round(km, 1),
      min_km: round(leastKm, 1),
      // Simultaneous fixes far apart: no finite speed, reported as null (JSON has no Infinity).
      kmh: Number.isFinite(kmh) ? Math.round(kmh) : null,
      hours: round(hours, 2),
    });
  }

  expire(watermark: number): void {
    const horizon = watermark - this.relevantMs;
    this.groups.sweep((fix) => fix.t < horizon);
  }

  protected save(fix: Fix): Fix {
    return { ...fix };
  }

  protected load(fix: Fix): Fix {
    return { ...fix };
  }
}

function fixOf(hit: Hit): Fix | undefined {
  const geo = hit.event.geo;
  const lat = geo?.lat;
  const lon = geo?.lon;
  if (typeof lat !== 'number' || typeof lon !== 'number' || !Number.isFinite(lat) || !Number.isFinite(lon)) {
    return undefined;
  }
  const acc = geo?.accuracy_km;
  const fix: Fix = {
    lat,
    lon,
    acc: typeof acc === 'number' && Number.isFinite(acc) && acc > 0 ? acc : 0,
    t: hit.time,
    id: hit.eventId,
  };
  if (geo?.country !== undefined) fix.country = geo.country;
  if (geo?.city !== undefined) fix.city = geo.city;
  if (hit.event.ip !== undefined) fix.ip = hit.event.ip;
  return fix;
}

function place(fix: Fix): Record<string, unknown> {
  const p: Record<string, unknown> = {};
  if (fix.country !== undefined) p.country = fix.country;
  if (fix.city !== undefined) p.city = fix.city;
  p.lat = fix.lat;
  p.lon = fix.lon;
  if (fix.ip !== undefined) p.ip = fix.ip;
  p.time = fix.t;
  return p;
}

function round(n: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(n * f) / f;
}
