import { describe, expect, it } from 'vitest';
import type { AuthEvent } from '../../../src/events/authEvent.js';
import { createRecordDecoder } from '../../../src/events/recordDecoder.js';
import { Ingest } from '../../../src/events/ingest.js';
import { normaliseIp, sanitizeEvent } from '../../../src/events/sanitize.js';

const base = (extra: Partial<AuthEvent>): AuthEvent => ({
  id: 'e1',
  time: Date.UTC(2026, 10, 20),
  source: 'generic',
  type: 'login.failure',
  outcome: 'failure',
  ...extra,
});

describe('ip: an address, written one way', () => {
  it.each([
    ['81.2.69.142', '81.2.69.142'],
    [' 81.2.69.142 ', '81.2.69.142'],
    ['::ffff:81.2.69.142', '81.2.69.142'],
    ['::FFFF:5102:458e', '81.2.69.142'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['2A00:1450:4001:081C::200E', '2a00:1450:4001:81c::200e'],
    ['::', '::'],
    ['::1', '::1'],
  ])('%s → %s', (text, want) => {
    expect(normaliseIp(text)).toBe(want);
  });

  it.each([
    'null',
    'not-an-ip',
    '',
    'unknown',
    '256.1.1.1',
    '010.0.0.1',
    '1.2.3',
    '1.2.3.4.5',
    '2001:db8::1::2',
    '::ffff:1.2.3',
  ])('%j is no address', (text) => {
    expect(normaliseIp(text)).toBeUndefined();
  });

  it('takes a bad ip out of the event, keeps the rest and says why', () => {
    const e = base({ ip: 'null', user: { name: 'a@example.com' } });
    expect(sanitizeEvent(e)).toEqual([{ field: 'ip', reason: 'not_an_address', value: 'null' }]);
    expect(e.ip).toBeUndefined();
    expect(e.user).toEqual({ name: 'a@example.com' });
  });

  it('rewrites a good ip in place and reports nothing', () => {
    const e = base({ ip: '::ffff:203.0.113.9' });
    expect(sanitizeEvent(e)).toBeUndefined();
    expect(e.ip).toBe('203.0.113.9');
  });
});

describe('geo: a place or nothing', () => {
  it('drops Null Island but keeps the country', () => {
    const e = base({ geo: { country: 'US', lat: 0, lon: 0, accuracy_km: 1000 } });
    expect(sanitizeEvent(e)).toEqual([{ field: 'geo.lat/lon', reason: 'placeholder', value: '0,0' }]);
    expect(e.geo).toEqual({ country: 'US' });
  });

  it('keeps a real place on the equator or the meridian', () => {
    const e = base({ geo: { country: 'EC', lat: 0, lon: -78.5 } });
    expect(sanitizeEvent(e)).toBeUndefined();
    expect(e.geo).toEqual({ country: 'EC', lat: 0, lon: -78.5 });
  });

  it('drops half a pair of coordinates', () => {
    const half = base({ geo: { lat: 48.1, city: 'Munich' } });
    expect(sanitizeEvent(half)).toEqual([{ field: 'geo.lat/lon', reason: 'incomplete', value: '48.1,undefined' }]);
    expect(half.geo).toEqual({ city: 'Munich' });
  });

  it('drops placeholder words and unassigned country codes', () => {
    const e = base({ geo: { city: 'City', country: 'XX' } });
    expect(sanitizeEvent(e)).toEqual([
      { field: 'geo.city', reason: 'placeholder', value: 'City' },
      { field: 'geo.country', reason: 'placeholder', value: 'XX' },
    ]);
    expect(e.geo).toBeUndefined();
    for (const word of ['Unknown', 'N/A', '-', 'country', 'State']) {
      const w = base({ geo: { city: word, country: 'DE' } });
      sanitizeEvent(w);
      expect(w.geo).toEqual({ country: 'DE' });
    }
  });
});

describe('the record decoder keeps the event and returns what it dropped', () => {
  const decode = createRecordDecoder({ now: () => Date.UTC(2030, 0, 1) });
  const bytes = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

  it('Okta: ipAddress "null" and a placeholder place', () => {
    const record = {
      uuid: 'f0c1a2b3-8b7d-11ef-9a1b-0242ac120099',
      published: '2026-11-20T08:16:00.000Z',
      eventType: 'user.session.start',
      actor: { id: 'unknown', type: 'User', alternateId: 'carol@example.org', displayName: 'unknown' },
      client: {
        userAgent: { rawUserAgent: 'Mozilla/5.0' },
        ipAddress: 'null',
        geographicalContext: {
          city: 'City',
          state: 'State',
          country: 'Country',
          postalCode: null,
          geolocation: { lat: 0, lon: 0 },
        },
      },
      outcome: { result: 'FAILURE', reason: 'INVALID_CREDENTIALS' },
      securityContext: { asNumber: null, asOrg: null, isp: null, domain: null, isProxy: null },
      target: null,
    };
    const r = decode(bytes(record));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.event.type).toBe('login.failure');
    expect(r.event.ip).toBeUndefined();
    expect(r.event.geo).toBeUndefined();
    expect(r.dropped?.map((d) => `${d.field}:${d.reason}`)).toEqual([
      'ip:not_an_address',
      'geo.lat/lon:placeholder',
      'geo.city:placeholder',
    ]);
  });

  it('canonical: "ip": "not-an-ip" is no longer accepted as an address', () => {
    const r = decode(
      bytes({ id: 'c1', type: 'login.failure', time: '2026-11-20T08:16:00Z', ip: 'not-an-ip', user: { name: 'x' } }),
    );
    expect(r.ok && r.event.ip).toBe(undefined);
    expect(r.ok && r.dropped?.[0]?.field).toBe('ip');
  });

  it('Auth0: location_info at 0,0 is no place', () => {
    const r = decode(
      bytes({
        log_id: '90020261120081600000000000000000000000000000000000001',
        data: {
          date: '2026-11-20T08:16:00.000Z',
          type: 'f',
          description: 'Wrong email or password.',
          client_id: 'AbCdEf0123456789GhIjKlMnOpQrStUv',
          ip: '::ffff:198.51.100.23',
          user_name: 'dan@example.com',
          location_info: { country_code: 'US', country_name: 'United States', latitude: 0, longitude: 0 },
        },
      }),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.event.ip).toBe('198.51.100.23');
    expect(r.event.geo).toEqual({ country: 'US' });
  });
});

describe('Ingest counts what it dropped and logs it at most once a minute per field', () => {
  it('counts every drop, logs the first, then one line a minute with the count since', () => {
    let now = Date.UTC(2026, 10, 20);
    const lines: Array<Record<string, unknown>> = [];
    const ingest = new Ingest('stdin', {
      now: () => now,
      log: { warn: (fields) => lines.push(fields) },
    });
    const record = (i: number) =>
      new TextEncoder().encode(
        JSON.stringify({
          id: `c${i}`,
          type: 'login.failure',
          time: '2026-11-20T08:16:00Z',
          ip: 'null',
          user: { name: 'x' },
        }),
      );
    for (let i = 0; i < 5; i++) expect(ingest.process(record(i), { line: i + 1 }).ok).toBe(true);
    now += 61_000;
    expect(ingest.process(record(5), { line: 6 }).ok).toBe(true);
    expect(ingest.counters.droppedFields).toEqual({ 'ip:not_an_address': 6 });
    expect(ingest.counters.events).toBe(6);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      field: 'ip',
      reason: 'not_an_address',
      value: 'null',
      event_id: 'c0',
      position: { line: 1 },
    });
    expect(lines[1]).toMatchObject({ event_id: 'c5', dropped_since_last_warning: 4 });
  });
});
