import { isV4Mapped, parseIp } from '../rules/sigma/cidr.js';
import type { AuthEvent } from './authEvent.js';
import { isCountryCode } from './countryCodes.js';

/**
 * A value a source wrote into a canonical field that does not hold what the field means: an
 * `ip` that is no address (Okta writes the text `"null"`), a location that is a placeholder
 * (Null Island, `"City"`). The value is taken out of the event, which is kept; the caller
 * counts and logs it.
 */
export interface DroppedField {
  /** The canonical field: `ip`, `geo.lat/lon`, `geo.city`, `geo.country`. */
  readonly field: string;
  /** Why, as a stable word for counters: `not_an_address`, `placeholder`, `incomplete`. */
  readonly reason: DropReason;
  /** What was there, cut to 64 characters, for the log line. */
  readonly value: string;
}

export type DropReason = 'not_an_address' | 'placeholder' | 'incomplete';

/**
 * Words sources write where they do not know a place: Okta's `"City"`, `"Country"`, `"State"`,
 * and the common stand-ins for nothing. Compared in lower case, trimmed.
 */
const PLACE_PLACEHOLDERS = new Set([
  'city',
  'country',
  'state',
  'region',
  'postalcode',
  'unknown',
  'not available',
  'n/a',
  'na',
  'none',
  'null',
  'undefined',
  '-',
  '--',
  '?',
]);

/**
 * Normalises and checks the fields of a decoded event that detections take as facts about
 * the world, in place, and returns what it took out (nothing, on the common path):
 *
 * - `ip` is a valid IPv4 or IPv6 address, written one way: IPv4-mapped IPv6 as the IPv4
 *   address, IPv6 in RFC 5952 form (lower case, shortest), no zone index. Anything else is
 *   dropped, so ten `"null"` failures are not ten failures from one address.
 * - `geo` holds a place or nothing: coordinates of exactly 0,0 (Null Island, what sources send
 *   when they have none) or half a pair are dropped, as are a city that is a placeholder word
 *   and a country code that is no assigned ISO 3166-1 code (`XX`, `ZZ`). Coordinates off the
 *   globe are the schema check's: malformed, not unknown, they make a dead letter. Impossible travel and
 *   new-country rules then never see a place that is not one; geo enrichment may still fill
 *   the place from the address.
 */
export function sanitizeEvent(event: AuthEvent): DroppedField[] | undefined {
  let dropped: DroppedField[] | undefined;
  const drop = (field: string, reason: DropReason, value: unknown) => {
    (dropped ??= []).push({ field, reason, value: String(value).slice(0, 64) });
  };

  // Runs after the schema check: the type guards only keep this safe on its own.
  if (typeof event.ip === 'string') {
    const ip = normaliseIp(event.ip);
    if (ip === undefined) {
      drop('ip', 'not_an_address', event.ip);
      delete event.ip;
    } else if (ip !== event.ip) event.ip = ip;
  }

  const geo = event.geo;
  if (geo !== null && typeof geo === 'object') {
    const { lat, lon } = geo;
    const numeric = (v: unknown) => v === undefined || typeof v === 'number';
    if ((lat !== undefined || lon !== undefined) && numeric(lat) && numeric(lon)) {
      const nullIsland = lat === 0 && lon === 0;
      if (nullIsland || lat === undefined || lon === undefined) {
        drop('geo.lat/lon', nullIsland ? 'placeholder' : 'incomplete', `${lat},${lon}`);
        delete geo.lat;
        delete geo.lon;
        delete geo.accuracy_km;
      }
    }
    if (typeof geo.city === 'string' && isPlaceholder(geo.city)) {
      drop('geo.city', 'placeholder', geo.city);
      delete geo.city;
    }
    if (typeof geo.country === 'string' && /^[A-Z]{2}$/.test(geo.country) && !isCountryCode(geo.country)) {
      drop('geo.country', 'placeholder', geo.country);
      delete geo.country;
    }
    if (Object.keys(geo).length === 0) delete event.geo;
  }
  return dropped;
}

function isPlaceholder(text: string): boolean {
  const t = text.trim().toLowerCase();
  return t === '' || PLACE_PLACEHOLDERS.has(t);
}

/** The address in its one written form, or undefined when `text` is no IP address. */
export function normaliseIp(text: string): string | undefined {
  if (typeof text !== 'string') return undefined;
  const trimmed = text.trim();
  const parsed = parseIp(trimmed);
  if (!parsed) return undefined;
  // parseIp takes IPv4 only in its strict dotted form, which is already the normal one.
  if (parsed.version === 4) return trimmed;
  const b = parsed.bytes;
  if (isV4Mapped(b)) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  return formatIpv6(b);
}

/**
 * RFC 5952 text: lower-case hex without leading zeros, the longest run of two or more zero
 * groups (the first, on a tie) written `::`.
 */
function formatIpv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]) => g.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}
