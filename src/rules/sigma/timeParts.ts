/**
 * The time modifiers `minute`, `hour`, `day`, `week`, `month`, `year`: a part of a field's
 * timestamp, in UTC, compared as a number.
 *
 * Field values are read as epoch numbers (seconds or milliseconds, told apart by magnitude) or
 * ISO 8601 text. Text is parsed here rather than by `Date.parse` alone, because V8's fallback
 * parser accepts almost anything (`Date.parse('Windows 10')` is October 2001) and rolls invalid
 * dates over (`2023-02-30` becomes 2 March); both would make rules match by accident.
 */

export type TimePart = 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year';
export const TIME_PARTS: readonly TimePart[] = Object.freeze(['minute', 'hour', 'day', 'week', 'month', 'year']);

/** The range of a JavaScript Date: ±100,000,000 days around the epoch. */
const MAX_MS = 8.64e15;
const DAY_MS = 86_400_000;

/** Numbers at least this large (in magnitude) are epoch milliseconds; smaller ones epoch seconds. */
const MS_THRESHOLD = 1e11;

const NUMERIC = /^[+-]?\d+(?:\.\d+)?$/;

/**
 * ISO 8601 extended format: a date (`2024-01-31`, `2024-01`, `+012024-01-31`), optionally a time
 * after `T` or a space (`10:20`, `10:20:30`, `10:20:30.123456`, `,` also allowed as decimal sign),
 * and a zone (`Z`, `+01`, `+0100`, `+01:00`). Without a zone the time is UTC.
 */
const ISO =
  /^([+-]\d{6}|\d{4})-(\d{2})(?:-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?)?)?$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function parseIso(s: string): number | undefined {
  const m = ISO.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = d === undefined ? 1 : Number(d);
  const hour = h === undefined ? 0 : Number(h);
  const minute = mi === undefined ? 0 : Number(mi);
  let second = sec === undefined ? 0 : Number(sec);
  const ms = frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  if (y === '-000000') return undefined; // ISO 8601 forbids negative zero as a year
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (minute > 59 || second > 60) return undefined;
  if (hour > 24 || (hour === 24 && (minute !== 0 || second !== 0 || ms !== 0))) return undefined;
  if (second === 60) second = 59; // a leap second: the last second of that minute
  let offsetMinutes = 0;
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  // Not Date.UTC: it maps years 0-99 to 1900-1999. Hour 24 rolls over to the next day.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  const t = date.getTime() - offsetMinutes * 60_000;
  return Number.isFinite(t) && Math.abs(t) <= MAX_MS ? t : undefined;
}

/** Field value → epoch ms: numbers are epoch ms when >= 1e11 else epoch seconds; numeric strings likewise; other strings parsed as ISO 8601 (strictly; see the top comment). `Date` objects are taken as they are. Returns undefined when not a time. */
export function toEpochMs(value: unknown): number | undefined {
  let ms: number | undefined;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    ms = Math.abs(value) >= MS_THRESHOLD ? value : value * 1000;
  } else if (typeof value === 'string') {
    const s = value.trim();
    if (s === '') return undefined;
    if (NUMERIC.test(s)) return toEpochMs(Number(s));
    ms = parseIso(s);
  } else if (value instanceof Date) {
    ms = value.getTime();
  }
  return ms !== undefined && Number.isFinite(ms) && Math.abs(ms) <= MAX_MS ? ms : undefined;
}

/** The ISO 8601 week number (1-53): weeks start on Monday, and week 1 holds the year's first Thursday. */
function isoWeek(epochMs: number): number {
  const dayNumber = Math.floor(epochMs / DAY_MS); // days since 1970-01-01, a Thursday
  const weekday = (((dayNumber + 3) % 7) + 7) % 7; // 0 = Monday
  const thursday = dayNumber - weekday + 3; // the Thursday of this ISO week decides its year
  const isoYear = new Date(thursday * DAY_MS).getUTCFullYear();
  const jan1 = new Date(0);
  jan1.setUTCFullYear(isoYear, 0, 1);
  const jan1Day = Math.floor(jan1.getTime() / DAY_MS);
  return Math.floor((thursday - jan1Day) / 7) + 1;
}

/** The part of a UTC time that a time modifier compares: minute 0-59, hour 0-23, day 1-31, ISO week 1-53, month 1-12, year. */
export function timePart(part: TimePart, epochMs: number): number {
  const d = new Date(epochMs);
  switch (part) {
    case 'minute':
      return d.getUTCMinutes();
    case 'hour':
      return d.getUTCHours();
    case 'day':
      return d.getUTCDate();
    case 'week':
      return isoWeek(epochMs);
    case 'month':
      return d.getUTCMonth() + 1;
    case 'year':
      return d.getUTCFullYear();
  }
}
