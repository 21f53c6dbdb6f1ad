/**
 * The time modifiers `minute`, `hour`, `day`, `week`, `month`, `year`: a part of a field's
 * timestamp, in UTC, compared as a number.
 *
 * Field values are read as epoch numbers (seconds or milliseconds, told apart by magnitude) or
 * ISO 8601 text, read strictly (`src/time/iso.ts`): what `Date.parse` would guess or roll
 * over would make rules match by accident.
 */

import { parseIsoTime } from '../../time/iso.js';

export type TimePart = 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year';
export const TIME_PARTS: readonly TimePart[] = Object.freeze(['minute', 'hour', 'day', 'week', 'month', 'year']);

/** The range of a JavaScript Date: ±100,000,000 days around the epoch. */
const MAX_MS = 8.64e15;
const DAY_MS = 86_400_000;

/** Numbers at least this large (in magnitude) are epoch milliseconds; smaller ones epoch seconds. */
const MS_THRESHOLD = 1e11;

const NUMERIC = /^[+-]?\d+(?:\.\d+)?$/;

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
    ms = parseIsoTime(s);
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
