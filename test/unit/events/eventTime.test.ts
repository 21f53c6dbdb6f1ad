import { afterEach, describe, expect, it } from 'vitest';
import { auth0Decoder } from '../../../src/events/auth0Decoder.js';
import { DecodeError } from '../../../src/events/decodeError.js';
import type { DecodeContext } from '../../../src/events/decoder.js';
import { eventTime } from '../../../src/events/fields.js';
import { oktaDecoder } from '../../../src/events/oktaDecoder.js';

const ctx: DecodeContext = { now: Date.UTC(2030, 0, 1), maxFutureMs: 86_400_000, fallbackId: 'h-1' };
const timeOf = (v: unknown) => eventTime({ t: v } as never, 't', ctx);
const failure = (v: unknown) => {
  try {
    timeOf(v);
  } catch (e) {
    if (e instanceof DecodeError) return { kind: e.kind, message: e.message };
    throw e;
  }
  throw new Error(`${JSON.stringify(v)} was read as a time`);
};

describe('event times', () => {
  const tz = process.env.TZ;
  afterEach(() => {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  });

  it('read a time without an offset as UTC, whatever the host time zone', () => {
    for (const zone of ['UTC', 'America/New_York', 'Asia/Kolkata', 'Pacific/Chatham']) {
      process.env.TZ = zone;
      expect(timeOf('2026-03-01T10:00:00'), zone).toBe(Date.UTC(2026, 2, 1, 10));
      expect(timeOf('2026-03-01 10:00:00.250'), zone).toBe(Date.UTC(2026, 2, 1, 10, 0, 0, 250));
      expect(timeOf('2026-03-01'), zone).toBe(Date.UTC(2026, 2, 1));
    }
  });

  it('honour an offset when there is one', () => {
    expect(timeOf('2026-03-01T10:00:00Z')).toBe(Date.UTC(2026, 2, 1, 10));
    expect(timeOf('2026-03-01T10:00:00+02:00')).toBe(Date.UTC(2026, 2, 1, 8));
    expect(timeOf('2026-03-01T10:00:00.123456-0530')).toBe(Date.UTC(2026, 2, 1, 15, 30, 0, 123));
  });

  it('reject dates that do not exist instead of rolling them over', () => {
    for (const v of [
      '2026-02-30T00:00:00Z',
      '2026-02-29',
      '2025-04-31T12:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-03-01T25:00:00Z',
      '2026-03-01T10:61:00Z',
    ])
      expect(failure(v), v).toEqual({
        kind: 'invalid_time',
        message: expect.stringContaining('not an ISO 8601 time that exists'),
      });
    expect(timeOf('2028-02-29T00:00:00Z')).toBe(Date.UTC(2028, 1, 29));
  });

  it('reject what only a lenient parser would take', () => {
    for (const v of ['2026-03-01T10:00:00 GMT', '2026-03-01garbage', '2026-03-01T10:00:00+25:00'])
      expect(failure(v).kind, v).toBe('invalid_time');
  });

  it('are read the same way by the vendor decoders', () => {
    process.env.TZ = 'America/Los_Angeles';
    const auth0 = auth0Decoder.decode({ log_id: '1', type: 's', date: '2026-03-01T10:00:00' }, ctx);
    expect(auth0.ok && auth0.event.time).toBe(Date.UTC(2026, 2, 1, 10));
    const okta = oktaDecoder.decode(
      { uuid: 'u', eventType: 'user.session.start', published: '2026-02-30T00:00:00Z' },
      ctx,
    );
    expect(okta.ok ? 'decoded' : okta.error.kind).toBe('invalid_time');
  });
});
