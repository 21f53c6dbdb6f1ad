import { describe, expect, it } from 'vitest';
import { createRecordDecoder } from '../../../src/events/recordDecoder.js';

const NOW = Date.UTC(2026, 10, 24);
const decode = createRecordDecoder({ now: () => NOW, maxRecordBytes: 4096 });
const bytes = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

function failure(input: Uint8Array, d = decode) {
  const result = d(input);
  if (result.ok) throw new Error(`expected a decode error, got ${JSON.stringify(result.event)}`);
  return result.error;
}

describe('createRecordDecoder', () => {
  it('detects each format per record', () => {
    const okta = decode(
      bytes({
        eventType: 'user.session.start',
        published: '2026-11-20T00:00:00Z',
        uuid: 'o1',
        outcome: { result: 'SUCCESS' },
      }),
    );
    const auth0 = decode(
      bytes({ log_id: 'a1', data: { type: 'f', date: '2026-11-20T00:00:00Z', user_id: 'auth0|1' } }),
    );
    const bare = decode(bytes({ type: 'fp', date: '2026-11-20T00:00:00Z', log_id: 'a2', user_id: 'auth0|1' }));
    const canonical = decode(bytes({ type: 'login.failure', time: '2026-11-20T00:00:00Z', id: 'c1' }));
    expect([okta, auth0, bare, canonical].map((r) => r.ok && [r.event.source, r.event.type])).toEqual([
      ['okta', 'login.success'],
      ['auth0', 'login.failure'],
      ['auth0', 'login.failure'],
      ['generic', 'login.failure'],
    ]);
  });

  it('gives records without an id a stable content hash', () => {
    const a = decode(bytes({ type: 'other', time: 1_767_000_000_000 }));
    const b = decode(bytes({ type: 'other', time: 1_767_000_000_000 }));
    const c = decode(bytes({ type: 'other', time: 1_767_000_000_001 }));
    expect(a.ok && a.event.id).toMatch(/^[0-9a-f]{32}$/);
    expect(a.ok && a.event.id).toBe(b.ok && b.event.id);
    expect(a.ok && a.event.id).not.toBe(c.ok && c.event.id);
  });

  it.each<[string, Uint8Array, string]>([
    ['too large', bytes({ type: 'other', time: 1_767_000_000_000, pad: 'x'.repeat(5000) }), 'too_large'],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]), 'invalid_utf8'],
    ['truncated JSON', bytes('{"type":"other","time":'), 'invalid_json'],
    ['not JSON at all', bytes('GET / HTTP/1.1'), 'invalid_json'],
    ['a JSON array', bytes('[1,2]'), 'not_an_object'],
    ['a JSON string', bytes('"login"'), 'not_an_object'],
    ['JSON null', bytes('null'), 'not_an_object'],
    ['an unknown shape', bytes({ hello: 'world' }), 'unknown_format'],
    ['an absurd time', bytes({ type: 'other', time: '1970-01-02T00:00:00Z' }), 'invalid_time'],
    ['a time far ahead', bytes({ type: 'other', time: NOW + 3 * 86_400_000 }), 'invalid_time'],
    ['a wrong field type', bytes({ type: 'other', time: 1_767_000_000_000, ip: 17 }), 'schema_violation'],
    [
      'an unknown canonical field',
      bytes({ type: 'other', time: 1_767_000_000_000, colour: 'red' }),
      'schema_violation',
    ],
    [
      'a bad country',
      bytes({ type: 'other', time: 1_767_000_000_000, geo: { country: 'Germany' } }),
      'schema_violation',
    ],
  ])('turns %s into a %s error', (_name, input, kind) => {
    const error = failure(input);
    expect(error.kind).toBe(kind);
    expect(error.retriable).toBe(false);
    expect(error.message.length).toBeGreaterThan(15);
  });

  it('names the field at fault in schema violations', () => {
    const error = failure(bytes({ type: 'other', time: 1_767_000_000_000, geo: { lat: 123 } }));
    expect(error.field).toBe('geo.lat');
    expect(error.message).toContain('`geo.lat`');
  });

  it('honours a fixed format: other formats are unknown_format', () => {
    const oktaOnly = createRecordDecoder({ format: 'okta', now: () => NOW });
    expect(failure(bytes({ type: 'login.failure', time: 1_767_000_000_000 }), oktaOnly).kind).toBe('unknown_format');
    expect(oktaOnly(bytes({ eventType: 'x.y', published: '2026-11-20T00:00:00Z' })).ok).toBe(true);
  });
});

describe('integers beyond 2^53', () => {
  const event = (text: string) => {
    const r = decode(Buffer.from(text));
    if (!r.ok) throw new Error(r.error.message);
    return r.event;
  };

  it('keep numeric ids as the source wrote them', () => {
    const canonical = event(
      '{"type":"login.failure","time":"2026-11-20T00:00:00Z","id":12345678901234567891,"user":{"id":-98765432109876543210}}',
    );
    expect(canonical.id).toBe('12345678901234567891');
    expect(canonical.user?.id).toBe('-98765432109876543210');
    const auth0 = event(
      '{"log_id": 90020240115103000000000000000000000000000000000001, "type":"f", "date":"2026-11-20T00:00:00Z", "user_id" :\n 18446744073709551615}',
    );
    expect(auth0.id).toBe('90020240115103000000000000000000000000000000000001');
    expect(auth0.user?.id).toBe('18446744073709551615');
    expect((auth0.raw?.data as { user_id: unknown }).user_id).toBe('18446744073709551615');
  });

  it('leave safe integers, fractions, exponents and text alone', () => {
    const e = event(
      '{"log_id":"id:12345678901234567891","type":"f","date":"2026-11-20T00:00:00Z","details":{"n":[9007199254740991,-9007199254740991,1.2345678901234567891,1.5e300,"\\"18446744073709551615"]}}',
    );
    expect(e.id).toBe('id:12345678901234567891');
    expect((e.raw?.data as { details: { n: unknown[] } }).details.n).toEqual([
      9007199254740991,
      -9007199254740991,
      1.2345678901234567,
      1.5e300,
      '"18446744073709551615',
    ]);
  });
});
