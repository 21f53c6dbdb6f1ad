import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DECODE_ERROR_KINDS, DecodeError } from '../../../src/events/decodeError.js';
import { Ingest } from '../../../src/events/ingest.js';
import { createRecordDecoder } from '../../../src/events/recordDecoder.js';

/**
 * Every input, however broken, ends as a canonical event or a typed decode error: no
 * exception escapes, and every event that comes out has the canonical shape.
 */
const NOW = Date.UTC(2026, 10, 24);
const decoders = (['auto', 'auth0', 'okta', 'canonical'] as const).map((format) => ({
  format,
  decode: createRecordDecoder({ format, now: () => NOW, maxRecordBytes: 64 * 1024 }),
}));

const seeds: Buffer[] = [
  ...readdirSync('test/fixtures/events/okta').map((f) => readFileSync(`test/fixtures/events/okta/${f}`)),
  Buffer.from(
    JSON.stringify({
      log_id: 'a1',
      data: {
        type: 'gd_send_sms',
        date: '2026-11-20T00:00:00Z',
        user_id: 'auth0|1',
        ip: '81.2.69.142',
        details: { to: '+447700900123' },
      },
    }),
  ),
  Buffer.from(
    JSON.stringify({
      type: 'f',
      date: '2026-11-20T00:00:00Z',
      log_id: 'a2',
      user_name: 'a@b.c',
      ip: '1.1.1.1',
      location_info: { country_code: 'AU', latitude: -33.8, longitude: 151.2 },
    }),
  ),
  Buffer.from(
    JSON.stringify({
      type: 'login.success',
      time: 1_767_000_000_000,
      user: { id: 'u' },
      ip: '::1',
      geo: { country: 'US' },
    }),
  ),
].map((b) => Buffer.from(JSON.stringify(JSON.parse(b.toString())))); // one line each

const kinds = new Set<string>(DECODE_ERROR_KINDS);

function check(input: Uint8Array): void {
  for (const { format, decode } of decoders) {
    const result = decode(input);
    if (result.ok) {
      expect(typeof result.event.id, format).toBe('string');
      expect(Number.isInteger(result.event.time), format).toBe(true);
    } else {
      expect(result.error, format).toBeInstanceOf(DecodeError);
      expect(kinds.has(result.error.kind), result.error.kind).toBe(true);
    }
  }
}

/** A byte-level mutation of a valid record: flip, delete, insert, truncate, duplicate. */
const mutated = fc
  .tuple(
    fc.constantFrom(...seeds),
    fc.array(
      fc.tuple(
        fc.constantFrom('flip', 'delete', 'insert', 'truncate', 'dup'),
        fc.nat(),
        fc.nat(255),
        fc.uint8Array({ maxLength: 8 }),
      ),
      { minLength: 1, maxLength: 5 },
    ),
  )
  .map(([seed, ops]) => {
    let b = Buffer.from(seed);
    for (const [op, pos, byte, extra] of ops) {
      const i = b.length === 0 ? 0 : pos % b.length;
      if (op === 'flip' && b.length > 0) b[i] = byte;
      else if (op === 'delete') b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1 + (byte % 16))]);
      else if (op === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from(extra), b.subarray(i)]);
      else if (op === 'truncate') b = b.subarray(0, i);
      else if (op === 'dup') b = Buffer.concat([b.subarray(0, i), b.subarray(i, i + 32), b.subarray(i)]);
    }
    return b;
  });

/** A valid record with one value somewhere replaced by arbitrary JSON (wrong types, nulls, huge numbers). */
const retyped = fc
  .tuple(fc.constantFrom(...seeds), fc.nat(), fc.jsonValue({ maxDepth: 2 }))
  .map(([seed, pick, value]) => {
    const record = JSON.parse(seed.toString()) as unknown;
    const slots: [Record<string, unknown>, string][] = [];
    const walk = (v: unknown) => {
      if (v && typeof v === 'object')
        for (const [k, child] of Object.entries(v)) {
          slots.push([v as Record<string, unknown>, k]);
          walk(child);
        }
    };
    walk(record);
    const [parent, key] = slots[pick % slots.length]!;
    parent[key] = value;
    return Buffer.from(JSON.stringify(record));
  });

describe('decoders under random and mutated input', () => {
  it('never throw on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (b) => check(b)),
      { numRuns: 400 },
    );
  });

  it('never throw on random JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => check(Buffer.from(JSON.stringify(v) ?? 'null'))),
      {
        numRuns: 400,
      },
    );
  });

  it('never throw on byte-level mutations of real records', () => {
    fc.assert(
      fc.property(mutated, (b) => check(b)),
      { numRuns: 600 },
    );
  });

  it('never throw when a field of a real record holds any JSON value', () => {
    fc.assert(
      fc.property(retyped, (b) => check(b)),
      { numRuns: 800 },
    );
  });

  it('account for every record in Ingest: events plus dead letters, with the original bytes kept', () => {
    const ingest = new Ingest('fuzz', { now: () => NOW });
    let n = 0;
    fc.assert(
      fc.property(fc.oneof(mutated, retyped, fc.uint8Array({ maxLength: 128 })), (b) => {
        n++;
        const r = ingest.process(b, { line: n });
        if (!r.ok) {
          expect(Buffer.from(r.deadLetter.original_base64, 'base64').equals(Buffer.from(b))).toBe(true);
          expect(r.deadLetter.position).toEqual({ line: n });
        }
      }),
      { numRuns: 500 },
    );
    const c = ingest.counters;
    expect(c.records).toBe(n);
    expect(c.events + c.deadLetters).toBe(n);
    expect(Object.values(c.deadLettersByReason).reduce((a, b) => a + b, 0)).toBe(c.deadLetters);
    expect(c.events).toBeGreaterThan(0);
    expect(c.deadLetters).toBeGreaterThan(0);
  });
});
