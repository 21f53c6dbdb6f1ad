import { DecodeError } from './decodeError.js';
import type { DecodeContext } from './decoder.js';
import { parseIsoTime } from '../time/iso.js';

/** Helpers decoders share to read source records defensively. */

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Decoders read the same few dozen literal paths for every record: split each once.
const splitPaths = new Map<string, readonly string[]>();
function keysOf(path: string): readonly string[] {
  let keys = splitPaths.get(path);
  if (keys === undefined) {
    keys = path.split('.');
    if (splitPaths.size < 10_000) splitPaths.set(path, keys);
  }
  return keys;
}

/** The value at a dotted path, or undefined when any step is missing or not an object. */
export function at(record: Json, path: string): unknown {
  let v: unknown = record;
  for (const key of keysOf(path)) {
    if (!isObject(v) || !Object.hasOwn(v, key)) return undefined;
    v = v[key];
  }
  return v;
}

/**
 * A string field: absent, null and empty read as undefined; numbers are turned into strings
 * (ids are sometimes numeric); anything else is a DecodeError naming the field.
 */
export function optionalString(record: Json, path: string, prefix = ''): string | undefined {
  const v = at(record, path);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new DecodeError('invalid_field', `\`${prefix}${path}\` must be a string, not ${describe(v)}.`, prefix + path);
}

/** A finite number field (numeric strings accepted); absent and null read as undefined. */
export function optionalNumber(record: Json, path: string, prefix = ''): number | undefined {
  const v = at(record, path);
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n === 'number' && Number.isFinite(n)) return n;
  throw new DecodeError('invalid_field', `\`${prefix}${path}\` must be a number, not ${describe(v)}.`, prefix + path);
}

/** The earliest event time accepted: anything before 2000 is a broken clock or a unit mix-up. */
export const MIN_EVENT_TIME = Date.UTC(2000, 0, 1);

/**
 * An event time from ISO 8601 text or an epoch number (seconds below 1e11, else
 * milliseconds), as epoch ms. Text is read strictly and a time without an offset is UTC, so
 * a record means the same instant on every host. Missing, unparsable, a date that does not
 * exist (`2026-02-30`), before 2000 or further in the future than the context allows: a
 * DecodeError of kind `invalid_time`.
 */
export function eventTime(record: Json, path: string, ctx: DecodeContext, prefix = ''): number {
  const v = at(record, path);
  const field = prefix + path;
  let ms: number;
  if (typeof v === 'number') ms = v < 1e11 ? v * 1000 : v;
  else if (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v)) ms = Number(v) < 1e11 ? Number(v) * 1000 : Number(v);
  else if (typeof v === 'string' && /^\d{4}-\d\d-\d\d/.test(v)) {
    const parsed = parseIsoTime(v.trim());
    if (parsed === undefined)
      throw new DecodeError('invalid_time', `\`${field}\` is not an ISO 8601 time that exists: ${describe(v)}.`, field);
    ms = parsed;
  } else if (v === undefined || v === null)
    throw new DecodeError('invalid_time', `The record has no event time (\`${field}\`).`, field);
  else throw new DecodeError('invalid_time', `\`${field}\` is not a time: ${describe(v)}.`, field);
  if (!Number.isFinite(ms)) throw new DecodeError('invalid_time', `\`${field}\` is not a time: ${describe(v)}.`, field);
  ms = Math.floor(ms);
  if (ms < MIN_EVENT_TIME)
    throw new DecodeError('invalid_time', `\`${field}\` (${describe(v)}) lies before the year 2000.`, field);
  if (ms > ctx.now + ctx.maxFutureMs)
    throw new DecodeError(
      'invalid_time',
      `\`${field}\` (${describe(v)}) lies more than ${Math.round(ctx.maxFutureMs / 60_000)} minutes in the future.`,
      field,
    );
  return ms;
}

/** The part after the last `@` of an email address, lower-cased; undefined for anything else. */
export function emailDomain(name: string | undefined): string | undefined {
  if (!name) return undefined;
  const at = name.lastIndexOf('@');
  if (at <= 0 || at === name.length - 1) return undefined;
  const domain = name.slice(at + 1).toLowerCase();
  return /^[a-z0-9.-]+\.[a-z0-9-]+$/.test(domain) ? domain : undefined;
}

/**
 * A copy without the undefined members, or undefined when none is left. A copy, not
 * `delete`: deleting turns V8 objects into slow dictionaries, and every event passes here.
 */
export function compact<T extends object>(obj: T): T | undefined {
  let out: Partial<T> | undefined;
  for (const k in obj) {
    const v = obj[k];
    if (v !== undefined) (out ??= {} as Partial<T>)[k] = v;
  }
  return out as T | undefined;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return `${typeof v} ${String(v)}`;
}
