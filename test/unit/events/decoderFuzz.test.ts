import { readFileSync, readdirSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DECODE_ERROR_KINDS, DecodeError } from '../../../src/events/decodeError.js';
import type { Decoder } from '../../../src/events/decoder.js';
import { Ingest } from '../../../src/events/ingest.js';
import { createRecordDecoder, DECODERS, deeperThan } from '../../../src/events/recordDecoder.js';

/**
 * Every input, however broken, ends as a canonical event or a typed decode error: no
 * exception escapes, and every event that comes out has the canonical shape.
 */
const NOW = Date.UTC(2026, 10, 24);
const decoders = (['auto', 'auth0', 'okta', 'canonical'] as const).map((format) => ({
  format,
  decode: createRecordDecoder({ format, now: () => NOW, maxRecordBytes: 64 * 1024 }),
}));

const fixtures = (dir: string): Buffer[] =>
  readdirSync(`test/fixtures/events/${dir}`).map((f) => readFileSync(`test/fixtures/events/${dir}/${f}`));

const seeds: Buffer[] = [
  ...fixtures('okta'),
  ...fixtures('auth0'),
  ...fixtures('auth0').map((b) => Buffer.from(JSON.stringify({ log_id: 'w', data: JSON.parse(b.toString()) }))),
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

/**
 * The key paths a decoder reads from a record (absent ones included), recorded through a proxy:
 * the fields worth perturbing, since a decoder only breaks on what it looks at.
 */
function pathsRead(record: unknown, decoder: Decoder): string[][] {
  const seen = new Set<string>();
  const wrap = (obj: object, path: string[]): object =>
    new Proxy(obj, {
      get(target, key, receiver) {
        const v: unknown = Reflect.get(target, key, receiver);
        if (typeof key !== 'string') return v;
        seen.add(JSON.stringify([...path, key]));
        return v !== null && typeof v === 'object' ? wrap(v, [...path, key]) : v;
      },
      has(target, key) {
        if (typeof key === 'string') seen.add(JSON.stringify([...path, key]));
        return Reflect.has(target, key);
      },
    });
  decoder.decode(wrap(record as object, []) as Record<string, unknown>, {
    now: NOW,
    maxFutureMs: 86_400_000,
    fallbackId: 'f',
  });
  return [...seen].map((s) => JSON.parse(s) as string[]);
}

/** A real record with one field the decoder reads (present or not) set to arbitrary JSON. */
const perturbedRead = fc
  .tuple(fc.constantFrom(...seeds), fc.nat(), fc.jsonValue({ maxDepth: 2 }))
  .map(([seed, pick, value]) => {
    const record = JSON.parse(seed.toString()) as Record<string, unknown>;
    const decoder = Object.values(DECODERS).find((d) => d.accepts(record));
    if (!decoder) return seed;
    const paths = pathsRead(structuredClone(record), decoder);
    const path = paths[pick % paths.length]!;
    let node: Record<string, unknown> = record;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = value;
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

  it('never throw when a field a decoder reads, present or not, holds any JSON value', () => {
    fc.assert(
      fc.property(perturbedRead, (b) => check(b)),
      { numRuns: 1500 },
    );
  });

  it('account for every record in Ingest: events plus dead letters, with the original bytes kept', () => {
    const ingest = new Ingest('fuzz', { now: () => NOW });
    let n = 0;
    fc.assert(
      fc.property(fc.oneof(mutated, retyped, perturbedRead, fc.uint8Array({ maxLength: 128 })), (b) => {
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
    // Bad input is bad input; a failure of authwatch's own would be internal_error, and there is none.
    expect(c.deadLettersByReason.internal_error).toBe(0);
  });

  it('files a decoder bug as internal_error, with the exception, never as bad input', () => {
    const decode = DECODERS.auth0.decode;
    DECODERS.auth0.decode = () => {
      throw new TypeError("Cannot read properties of undefined (reading 'session_id')");
    };
    try {
      const ingest = new Ingest('bug', { now: () => NOW });
      const r = ingest.process(
        seeds.find((b) => b.toString().includes('"log_id":"w"'))!,
        { line: 1 },
      );
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.deadLetter.reason).toBe('internal_error');
      expect(r.deadLetter.message).toMatch(/session_id/);
      expect(r.error).toBeInstanceOf(TypeError);
      expect(ingest.counters.deadLettersByReason).toMatchObject({ internal_error: 1, invalid_field: 0 });
    } finally {
      DECODERS.auth0.decode = decode;
    }
  });
});

describe('nesting', () => {
  const decode = createRecordDecoder({ now: () => NOW, maxDepth: 8 });
  const nested = (depth: number, inside = '"x"') => `${'['.repeat(depth)}${inside}${']'.repeat(depth)}`;
  const record = (extra: string) =>
    Buffer.from(`{"type":"s","date":"2026-11-20T00:00:00Z","log_id":"n1","details":{"deep":${extra}}}`);

  it('sets aside a record nested deeper than the limit before anything walks it', () => {
    const r = decode(record(nested(7)));
    expect(r.ok ? 'event' : r.error.kind).toBe('too_deep');
    const deep = createRecordDecoder({ now: () => NOW })(record(nested(5000)));
    expect(deep.ok ? 'event' : deep.error.kind).toBe('too_deep');
  });

  it('finds the same depth as a plain scan of every character, however many brackets', () => {
    const plain = (text: string, max: number) => {
      let depth = 0;
      let inString = false;
      for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (inString) {
          if (c === '\\') i++;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === '{' || c === '[') {
          if (++depth > max) return true;
        } else if (c === '}' || c === ']') depth--;
      }
      return false;
    };
    const piece = fc.constantFrom('{', '[', '}', ']', '"', '\\', 'a', ':', ',');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 300 }), fc.integer({ min: 1, max: 40 }), (pieces, max) => {
        const text = pieces.join('');
        expect(deeperThan(text, max)).toBe(plain(text, max));
      }),
      { numRuns: 2000 },
    );
  });

  it('counts only brackets that are structure, not those inside strings', () => {
    const r = decode(record(nested(5, '"[[[[[[[[[[{{{{{{{{\\"]]]]"')));
    expect(r.ok).toBe(true);
  });
});
