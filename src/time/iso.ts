/**
 * ISO 8601 text to epoch milliseconds, strictly. `Date.parse` is not used: V8's fallback
 * parser accepts almost anything (`Date.parse('Windows 10')` is October 2001), rolls
 * impossible dates over (`2026-02-30` becomes 2 March) and reads a time without an offset in
 * the host's time zone, so the same record would mean another instant on another host.
 *
 * Accepted: the extended format, a date (`2024-01-31`, `2024-01`, `+012024-01-31`), optionally
 * a time after `T` or a space (`10:20`, `10:20:30`, `10:20:30.123456`, `,` also allowed as the
 * decimal sign) and a zone (`Z`, `+01`, `+0100`, `+01:00`). **A time without a zone is UTC.**
 * A leap second (`:60`) is the last millisecond-free second of its minute; `24:00` is the next
 * midnight.
 */

/** The range of a JavaScript Date: ±100,000,000 days around the epoch. */
const MAX_MS = 8.64e15;

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

/** Epoch ms, or undefined when `s` is not an ISO 8601 date or time that exists. */
export function parseIsoTime(s: string): number | undefined {
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
