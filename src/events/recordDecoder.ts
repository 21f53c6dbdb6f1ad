import { createHash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { validate as generatedValidator } from './eventValidator.generated.js';
import { auth0Decoder } from './auth0Decoder.js';
import { canonicalDecoder } from './canonicalDecoder.js';
import { DecodeError } from './decodeError.js';
import type { DecodeContext, DecodeResult, Decoder, EventFormat } from './decoder.js';
import { isObject } from './fields.js';
import { oktaDecoder } from './oktaDecoder.js';
import { sanitizeEvent } from './sanitize.js';

/** The decoders, in the order auto-detection asks them (most specific first). */
export const DECODERS: Readonly<Record<EventFormat, Decoder>> = {
  okta: oktaDecoder,
  auth0: auth0Decoder,
  canonical: canonicalDecoder,
};
const DETECTION_ORDER: readonly Decoder[] = [oktaDecoder, auth0Decoder, canonicalDecoder];

export interface RecordDecoderOptions {
  /** A fixed format for this source, or `auto` to detect it per record. */
  format?: EventFormat | 'auto';
  /** Records larger than this are dead letters (`too_large`). */
  maxRecordBytes?: number;
  /** Records nesting objects and arrays deeper than this are dead letters (`too_deep`). */
  maxDepth?: number;
  /** How far in the future an event time may lie (clock skew between producers). */
  maxFutureMs?: number;
  /** The clock that decides what "the future" is. */
  now?: () => number;
}

export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;
/** Real records nest a few levels (Auth0 `details`, Okta `debugContext`); 64 leaves room, not a stack to exhaust. */
export const DEFAULT_MAX_DEPTH = 64;
export const DEFAULT_MAX_FUTURE_MS = 24 * 60 * 60 * 1000;

/** `schemas/auth-event.schema.json` as ajv compiles it, compiled ahead (scripts/schema-code.mjs). */
const validateEvent = generatedValidator as unknown as ValidateFunction;

/**
 * Builds the function that turns the bytes of one record (an NDJSON line, a Kafka message)
 * into a canonical event, or into the typed reason it is bad input: every input ends as an
 * event or a DecodeError, which the caller turns into a dead letter. It throws only on a bug of
 * authwatch's (a decoder that does not expect what it meets), which the caller must not file
 * under bad input: `Ingest` makes it an `internal_error` dead letter, logged with its stack.
 *
 * Order of checks: size, UTF-8, nesting depth, JSON, an object, a known format, the format's
 * own fields, then the canonical schema, so the reason names the first thing that is wrong.
 * Last, well-typed values that are no fact (an `ip` that is no address, a placeholder place)
 * are taken out of the event and returned beside it; the event is kept.
 * Depth is checked on the text, before anything walks the parsed value: whatever walks records
 * later (keyword search, field paths, snapshots) never meets more than `maxDepth` levels.
 */
export function createRecordDecoder(options: RecordDecoderOptions = {}): (bytes: Uint8Array) => DecodeResult {
  const maxBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const maxFutureMs = options.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS;
  const now = options.now ?? Date.now;
  const fixed = options.format && options.format !== 'auto' ? DECODERS[options.format] : undefined;

  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;

  return function decode(bytes: Uint8Array): DecodeResult {
    if (bytes.length > maxBytes)
      return fail('too_large', `The record is ${bytes.length} bytes; the limit is ${maxBytes}.`);
    if (!isUtf8(bytes)) return fail('invalid_utf8', 'The record is not valid UTF-8.');
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
    if (deeperThan(text, maxDepth))
      return fail('too_deep', `The record nests objects and arrays more than ${maxDepth} levels deep.`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(exactIntegers(text));
    } catch (err) {
      return fail('invalid_json', `The record is not JSON: ${(err as Error).message}`);
    }
    if (!isObject(parsed)) return fail('not_an_object', 'The record is JSON but not an object.');
    const decoder = fixed ?? DETECTION_ORDER.find((d) => d.accepts(parsed));
    if (!decoder)
      return fail(
        'unknown_format',
        'The record is no known format: not an Auth0 log (`type`, `date`), an Okta System Log event (`eventType`, `published`) nor a canonical event (`type`, `time`).',
      );
    if (fixed && !fixed.accepts(parsed))
      return fail(
        'unknown_format',
        `The record is not a ${fixed.format} record, the format configured for this source.`,
      );
    const ctx: DecodeContext = {
      now: now(),
      maxFutureMs,
      get fallbackId() {
        return createHash('sha256').update(bytes).digest('hex').slice(0, 32);
      },
    };
    const result = decoder.decode(parsed, ctx);
    if (!result.ok) return result;
    if (!validateEvent(result.event)) return { ok: false, error: schemaError(validateEvent.errors ?? []) };
    const dropped = sanitizeEvent(result.event);
    return dropped ? { ok: true, event: result.event, dropped } : result;
  };
}

/**
 * Whether JSON text nests `{` and `[` more than `max` deep, brackets inside strings not
 * counted. One pass over the text, no recursion, stopping at the first level too deep.
 */
export function deeperThan(text: string, max: number): boolean {
  // Nesting deeper than `max` needs more than `max` opening brackets: count them first with
  // the native indexOf (most records have a few dozen) and walk the text only when there are.
  if (openingBrackets(text, max + 1) <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return false;
}

/** How many `{` and `[` the text holds (inside strings too), counting no further than `limit`. */
function openingBrackets(text: string, limit: number): number {
  let n = 0;
  for (let i = text.indexOf('{'); i >= 0 && n < limit; i = text.indexOf('{', i + 1)) n++;
  for (let i = text.indexOf('['); i >= 0 && n < limit; i = text.indexOf('[', i + 1)) n++;
  return n;
}

/** A number literal of 16 or more digits after `:`, `[` or `,`: the cheap test before the exact scan. */
const LONG_NUMBER = /[:[,]\s*-?\d{16}/;

/**
 * The text with every integer literal beyond ±2^53 (outside strings) turned into a string of
 * the same digits. JSON.parse would round `12345678901234567891` to `12345678901234567000`, so
 * a numeric id would change and match or group with the wrong events; as a string it stays as
 * the source wrote it. Fractions and exponents are left alone: they are measurements, not ids.
 */
export function exactIntegers(text: string): string {
  if (!LONG_NUMBER.test(text)) return text;
  let out = '';
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < text.length && isNumberChar(text.charCodeAt(j))) j++;
      const literal = text.slice(i, j);
      if (/^-?\d{16,}$/.test(literal) && !Number.isSafeInteger(Number(literal))) {
        out += `${text.slice(from, i)}"${literal}"`;
        from = j;
      }
      i = j - 1;
    }
  }
  return from === 0 ? text : out + text.slice(from);
}

function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}

function fail(kind: DecodeError['kind'], message: string): DecodeResult {
  return { ok: false, error: new DecodeError(kind, message) };
}

function schemaError(errors: ErrorObject[]): DecodeError {
  const e = errors[0];
  if (!e) return new DecodeError('schema_violation', 'The decoded event does not match the canonical schema.');
  const field = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const detail =
    e.keyword === 'additionalProperties'
      ? `has the unknown field \`${(e.params as { additionalProperty: string }).additionalProperty}\``
      : e.message;
  return new DecodeError(
    'schema_violation',
    `The decoded event does not match the canonical schema: ${field ? `\`${field}\` ` : ''}${detail}.`,
    field || undefined,
  );
}
