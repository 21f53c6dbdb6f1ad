import { describe, expect, it } from 'vitest';
import { TIME_PARTS, timePart, toEpochMs, type TimePart } from '../../../../src/rules/sigma/timeParts.js';

const utc = (iso: string): number => {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad test date ${iso}`);
  return ms;
};

describe('TIME_PARTS', () => {
  it('lists the six time modifiers', () => {
    expect(TIME_PARTS).toEqual(['minute', 'hour', 'day', 'week', 'month', 'year']);
  });
});

describe('toEpochMs', () => {
  it.each<[string, unknown, number | undefined]>([
    // numbers: milliseconds from 1e11 on, seconds below
    ['epoch ms', 1_767_323_045_000, 1_767_323_045_000],
    ['epoch seconds', 1_767_323_045, 1_767_323_045_000],
    ['fractional seconds', 1_767_323_045.5, 1_767_323_045_500],
    ['zero', 0, 0],
    ['just below the threshold is seconds', 99_999_999_999, 99_999_999_999_000],
    ['the threshold is milliseconds', 1e11, 1e11],
    ['negative seconds', -86_400, -86_400_000],
    ['negative milliseconds', -1e12, -1e12],
    ['NaN', Number.NaN, undefined],
    ['Infinity', Number.POSITIVE_INFINITY, undefined],
    ['beyond the Date range', 9e15, undefined],
    // numeric strings alike
    ['ms string', '1767323045000', 1_767_323_045_000],
    ['seconds string', '1767323045', 1_767_323_045_000],
    ['seconds string with fraction', '1767323045.25', 1_767_323_045_250],
    ['padded numeric string', ' 1767323045 ', 1_767_323_045_000],
    ['negative numeric string', '-60', -60_000],
    // ISO 8601
    ['ISO with Z', '2026-01-02T03:04:05Z', utc('2026-01-02T03:04:05Z')],
    ['ISO with lower-case z and t', '2026-01-02t03:04:05z', utc('2026-01-02T03:04:05Z')],
    ['ISO with milliseconds', '2026-01-02T03:04:05.678Z', utc('2026-01-02T03:04:05.678Z')],
    ['ISO with microseconds', '2026-01-02T03:04:05.678999Z', utc('2026-01-02T03:04:05.678Z')],
    ['ISO with one fraction digit', '2026-01-02T03:04:05.5Z', utc('2026-01-02T03:04:05.500Z')],
    ['ISO with comma decimal', '2026-01-02T03:04:05,5Z', utc('2026-01-02T03:04:05.500Z')],
    ['ISO without zone is UTC', '2026-01-02T03:04:05', utc('2026-01-02T03:04:05Z')],
    ['ISO with space separator', '2026-01-02 03:04:05', utc('2026-01-02T03:04:05Z')],
    ['ISO without seconds', '2026-01-02T03:04Z', utc('2026-01-02T03:04:00Z')],
    ['ISO +01:00', '2026-01-02T03:04:05+01:00', utc('2026-01-02T02:04:05Z')],
    ['ISO +0100', '2026-01-02T03:04:05+0100', utc('2026-01-02T02:04:05Z')],
    ['ISO +01', '2026-01-02T03:04:05+01', utc('2026-01-02T02:04:05Z')],
    ['ISO -05:30', '2026-01-02T03:04:05-05:30', utc('2026-01-02T08:34:05Z')],
    ['ISO offset crossing the year', '2026-01-01T00:30:00+01:00', utc('2025-12-31T23:30:00Z')],
    ['date only', '2026-01-02', utc('2026-01-02T00:00:00Z')],
    ['year and month', '2026-01', utc('2026-01-01T00:00:00Z')],
    ['padded ISO', ' 2026-01-02T03:04:05Z ', utc('2026-01-02T03:04:05Z')],
    ['24:00 is the end of the day', '2026-01-02T24:00:00Z', utc('2026-01-03T00:00:00Z')],
    ['leap second', '2016-12-31T23:59:60Z', utc('2016-12-31T23:59:59Z')],
    ['leap day', '2024-02-29T12:00:00Z', utc('2024-02-29T12:00:00Z')],
    ['leap day of a 400-year', '2000-02-29', utc('2000-02-29T00:00:00Z')],
    ['extended year', '+012026-01-02T00:00:00Z', utc('+012026-01-02T00:00:00Z')],
    ['negative extended year', '-000001-01-01T00:00:00Z', utc('-000001-01-01T00:00:00Z')],
    ['two-digit year stays in the first century', '0099-06-01', utc('0099-06-01T00:00:00Z')],
    // not times
    ['29 February of a common year', '2023-02-29', undefined],
    ['29 February 1900', '1900-02-29', undefined],
    ['31 April', '2026-04-31', undefined],
    ['month 13', '2026-13-01', undefined],
    ['month 0', '2026-00-01', undefined],
    ['day 0', '2026-01-00', undefined],
    ['hour 25', '2026-01-02T25:00:00Z', undefined],
    ['24:01', '2026-01-02T24:01:00Z', undefined],
    ['minute 60', '2026-01-02T03:60:00Z', undefined],
    ['second 61', '2026-01-02T03:04:61Z', undefined],
    ['offset hour 24', '2026-01-02T03:04:05+24:00', undefined],
    ['negative zero year', '-000000-01-01', undefined],
    ['free text with a number', 'Windows 10', undefined],
    ['free text', 'alice', undefined],
    ['RFC 2822', 'Fri, 02 Jan 2026 03:04:05 GMT', undefined],
    ['empty string', '', undefined],
    ['blank string', '   ', undefined],
    ['IP address', '10.0.0.1', undefined],
    ['hex', '0x10', undefined],
    ['exponent', '1e12', undefined],
    ['null', null, undefined],
    ['undefined', undefined, undefined],
    ['boolean', true, undefined],
    ['object', { time: 1 }, undefined],
    ['array', [1_767_323_045_000], undefined],
  ])('%s: %j → %s', (_name, value, expected) => {
    expect(toEpochMs(value)).toBe(expected);
  });

  it('accepts Date objects', () => {
    expect(toEpochMs(new Date(1_767_323_045_000))).toBe(1_767_323_045_000);
    expect(toEpochMs(new Date(Number.NaN))).toBeUndefined();
  });
});

describe('timePart', () => {
  it.each<[string, TimePart, number]>([
    ['2026-01-02T03:04:05Z', 'minute', 4],
    ['2026-01-02T03:04:05Z', 'hour', 3],
    ['2026-01-02T03:04:05Z', 'day', 2],
    ['2026-01-02T03:04:05Z', 'week', 1],
    ['2026-01-02T03:04:05Z', 'month', 1],
    ['2026-01-02T03:04:05Z', 'year', 2026],
    ['2026-12-31T23:59:59.999Z', 'minute', 59],
    ['2026-12-31T23:59:59.999Z', 'hour', 23],
    ['2026-12-31T23:59:59.999Z', 'day', 31],
    ['2026-12-31T23:59:59.999Z', 'month', 12],
    ['2026-12-31T23:59:59.999Z', 'year', 2026],
    ['2024-02-29T00:00:00Z', 'day', 29],
    ['2024-02-29T00:00:00Z', 'month', 2],
    ['2024-02-29T00:00:00Z', 'week', 9],
    ['2024-03-01T00:00:00Z', 'day', 1],
    ['2024-12-31T00:00:00Z', 'week', 1], // Tuesday of 2025-W01
    ['2024-12-30T00:00:00Z', 'week', 1], // Monday of 2025-W01
    ['2024-12-29T00:00:00Z', 'week', 52], // Sunday of 2024-W52
    ['2020-12-31T00:00:00Z', 'week', 53], // 2020 has 53 ISO weeks
    ['2021-01-01T00:00:00Z', 'week', 53], // still 2020-W53
    ['2021-01-03T23:59:59Z', 'week', 53], // Sunday ends 2020-W53
    ['2021-01-04T00:00:00Z', 'week', 1],
    ['2026-12-31T00:00:00Z', 'week', 53], // 2026 starts on a Thursday: 53 weeks
    ['2027-01-03T00:00:00Z', 'week', 53],
    ['2027-01-04T00:00:00Z', 'week', 1],
    ['2015-12-31T00:00:00Z', 'week', 53],
    ['2016-01-03T00:00:00Z', 'week', 53],
    ['2008-12-29T00:00:00Z', 'week', 1],
    ['2010-01-03T00:00:00Z', 'week', 53], // 2009 has 53 weeks
    ['1970-01-01T00:00:00Z', 'week', 1],
    ['1969-12-29T00:00:00Z', 'week', 1], // before the epoch: Monday of 1970-W01
    ['1969-12-28T23:59:59Z', 'week', 52],
    ['1969-12-31T23:59:00Z', 'minute', 59],
    ['1969-12-31T23:59:00Z', 'year', 1969],
  ])('%s: %s = %i', (iso, part, expected) => {
    expect(timePart(part, utc(iso))).toBe(expected);
  });

  it('uses UTC whatever the offset the text was written in', () => {
    const ms = toEpochMs('2026-01-01T00:30:00+01:00')!;
    expect(timePart('year', ms)).toBe(2025);
    expect(timePart('month', ms)).toBe(12);
    expect(timePart('day', ms)).toBe(31);
    expect(timePart('hour', ms)).toBe(23);
    expect(timePart('minute', ms)).toBe(30);
  });

  it('gives ISO weeks that agree with a reference implementation every day from 1899 to 2101', () => {
    // The textbook algorithm: shift to the Thursday of the week, count weeks from 1 January.
    const reference = (ms: number): number => {
      const d = new Date(ms);
      const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
      t.setUTCDate(t.getUTCDate() + 4 - (t.getUTCDay() || 7));
      const jan1 = Date.UTC(t.getUTCFullYear(), 0, 1);
      return Math.ceil(((t.getTime() - jan1) / 86_400_000 + 1) / 7);
    };
    let max = 0;
    for (let ms = utc('1899-01-01T12:00:00Z'); ms < utc('2101-01-01T00:00:00Z'); ms += 86_400_000) {
      const week = timePart('week', ms);
      expect(week).toBe(reference(ms));
      max = Math.max(max, week);
      expect(week).toBeGreaterThanOrEqual(1);
    }
    expect(max).toBe(53);
  });

  it('keeps every part in its documented range', () => {
    const ranges: Record<TimePart, [number, number]> = {
      minute: [0, 59],
      hour: [0, 23],
      day: [1, 31],
      week: [1, 53],
      month: [1, 12],
      year: [2023, 2027],
    };
    for (let ms = utc('2023-06-01T00:00:00Z'); ms < utc('2027-06-01T00:00:00Z'); ms += 3_600_000 * 7 + 60_000 * 13) {
      for (const part of TIME_PARTS) {
        const v = timePart(part, ms);
        expect(v).toBeGreaterThanOrEqual(ranges[part][0]);
        expect(v).toBeLessThanOrEqual(ranges[part][1]);
      }
    }
  });
});
