import { describe, expect, it } from 'vitest';
import { canonicalDecoder } from '../../../src/events/canonicalDecoder.js';
import type { DecodeContext } from '../../../src/events/decoder.js';
import { Ingest } from '../../../src/events/ingest.js';

const ctx: DecodeContext = { now: Date.UTC(2030, 0, 1), maxFutureMs: 86_400_000, fallbackId: 'h-1' };

describe('canonical decoder', () => {
  it('keeps a complete canonical event as it is', () => {
    const record = {
      id: 'evt-1',
      time: 1_767_000_000_000,
      source: 'generic',
      type: 'login.failure',
      source_type: 'password_mismatch',
      outcome: 'failure',
      reason: 'wrong password',
      user: { id: 'u1', name: 'alice@example.com', email_domain: 'example.com' },
      session_id: 's1',
      client: { id: 'web', name: 'Web' },
      connection: 'db',
      tenant: 'acme',
      ip: '81.2.69.142',
      asn: 5607,
      as_org: 'Sky',
      geo: { country: 'GB', city: 'St Albans', lat: 51.7, lon: -0.3, accuracy_km: 50 },
      user_agent: 'curl/8',
      device_id: 'd1',
      ja4: 't13d1516h2_8daaf6152771_02713d6af862',
      phone: { number: '+447700900123', country: 'GB' },
    };
    const result = canonicalDecoder.decode(record, ctx);
    expect(result).toEqual({ ok: true, event: record });
  });

  it('fills what a sender may leave out: id, source, outcome, email domain; ISO time; country case', () => {
    const result = canonicalDecoder.decode(
      {
        type: 'signup.success',
        time: '2026-11-20T10:00:00+01:00',
        user: { name: 'Bob@Mail.Example' },
        geo: { country: 'fr' },
      },
      ctx,
    );
    expect(result).toEqual({
      ok: true,
      event: {
        id: 'h-1',
        time: Date.UTC(2026, 10, 20, 9),
        source: 'generic',
        type: 'signup.success',
        outcome: 'success',
        user: { name: 'Bob@Mail.Example', email_domain: 'mail.example' },
        geo: { country: 'FR' },
      },
    });
  });

  it('takes an optional field written as null, at any depth, for absent: the event is kept (issue 11, item 4)', () => {
    const ingest = new Ingest('test', { enrichers: [], now: () => ctx.now });
    const record = {
      id: null,
      time: '2026-11-20T10:00:00Z',
      source: null,
      type: 'login.success',
      source_type: null,
      outcome: null,
      reason: null,
      user: { id: 'u1', name: null, email_domain: null },
      session_id: null,
      client: { id: null, name: 'Web' },
      connection: null,
      tenant: null,
      ip: '81.2.69.142',
      asn: null,
      as_org: null,
      geo: { country: 'GB', city: null, lat: null, lon: null },
      user_agent: null,
      device_id: null,
      ja4: null,
      phone: null,
    };
    const result = ingest.process(Buffer.from(JSON.stringify(record)), { line: 1 });
    expect(result.ok).toBe(true);
    const event = (result as unknown as { event: Record<string, unknown> }).event;
    expect(event).toMatchObject({
      source: 'generic',
      type: 'login.success',
      outcome: 'success',
      user: { id: 'u1' },
      client: { name: 'Web' },
      ip: '81.2.69.142',
      geo: { country: 'GB' },
    });
    for (const key of ['session_id', 'reason', 'asn', 'phone', 'user_agent', 'device_id', 'tenant'])
      expect(event, key).not.toHaveProperty(key);
    expect(event.user).toEqual({ id: 'u1' });
    // A required field written null is missing, and the record a dead letter that says so.
    for (const [field, reason] of [
      ['type', 'unknown_format'],
      ['time', 'invalid_time'],
    ] as const) {
      const bad = ingest.process(Buffer.from(JSON.stringify({ ...record, [field]: null })), { line: 2 });
      expect(bad.ok, field).toBe(false);
      expect((bad as { deadLetter: { reason: string } }).deadLetter.reason, field).toBe(reason);
    }
  });

  it('reads epoch seconds as seconds', () => {
    const result = canonicalDecoder.decode({ type: 'other', time: 1_767_000_000 }, ctx);
    expect(result.ok && result.event.time).toBe(1_767_000_000_000);
  });

  it.each<[Record<string, unknown>, string, string]>([
    [{ type: 'other', time: 'soon' }, 'invalid_time', 'time'],
    [{ type: 'other', time: -5 }, 'invalid_time', 'time'],
    [{ type: 'other' }, 'invalid_time', 'time'],
    [{ type: 7, time: 1_767_000_000_000 }, 'invalid_field', 'type'],
    [{ type: 'other', time: 1_767_000_000_000, source: 'azure' }, 'invalid_field', 'source'],
    [{ type: 'other', time: 1_767_000_000_000, outcome: 'maybe' }, 'invalid_field', 'outcome'],
  ])('rejects %j as %s at %s', (record, kind, field) => {
    const result = canonicalDecoder.decode(record, ctx);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.kind).toBe(kind);
      expect(result.error.field).toBe(field);
    }
  });

  it('accepts canonical records only', () => {
    expect(canonicalDecoder.accepts({ type: 'login.success', time: 1 })).toBe(true);
    expect(canonicalDecoder.accepts({ eventType: 'user.session.start', type: 'x', time: 1 })).toBe(false);
    expect(canonicalDecoder.accepts({ log_id: '1', data: { type: 's' }, type: 's', time: 1 })).toBe(false);
    expect(canonicalDecoder.accepts({ type: 'login.success' })).toBe(false);
  });
});
