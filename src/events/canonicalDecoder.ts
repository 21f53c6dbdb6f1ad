import type { AuthEvent, Outcome } from './authEvent.js';
import { DecodeError } from './decodeError.js';
import type { DecodeContext, DecodeResult, Decoder } from './decoder.js';
import { emailDomain, eventTime, isObject, optionalString, type Json } from './fields.js';

const SOURCES = new Set(['auth0', 'okta', 'generic']);
const OUTCOMES = new Set(['success', 'failure', 'unknown']);

/**
 * Canonical JSON, as in-house login services send it. Lenient where a sender can be without
 * ambiguity: `time` may be ISO 8601 or epoch, `id` and `source` may be left out (a content
 * hash and `generic`), `outcome` defaults from the type's last part, a lower-case country
 * code is upper-cased, `user.email_domain` is derived from an email-shaped `user.name`, and
 * an optional field written as null (how many JSON producers say "absent") is absent, at any
 * depth outside `raw`.
 * Everything else must already have the canonical shape; the schema check after decoding
 * reports the field at fault.
 */
export const canonicalDecoder: Decoder = {
  format: 'canonical',

  accepts(record) {
    return (
      typeof record.type === 'string' && record.time !== undefined && !('eventType' in record) && !('data' in record)
    );
  },

  decode(input: Json, ctx: DecodeContext): DecodeResult {
    try {
      const record = withoutNulls(input);
      const type = record.type;
      if (typeof type !== 'string' || type === '')
        throw new DecodeError('invalid_field', 'The event needs a `type` string such as `login.failure`.', 'type');
      const source = optionalString(record, 'source') ?? 'generic';
      if (!SOURCES.has(source))
        throw new DecodeError('invalid_field', '`source` must be one of auth0, okta, generic.', 'source');
      const outcome = optionalString(record, 'outcome') ?? outcomeOf(type);
      if (!OUTCOMES.has(outcome))
        throw new DecodeError('invalid_field', '`outcome` must be one of success, failure, unknown.', 'outcome');
      const event = {
        ...record,
        id: optionalString(record, 'id') ?? ctx.fallbackId,
        time: eventTime(record, 'time', ctx),
        source,
        type,
        outcome,
      } as AuthEvent;
      if (isObject(record.geo) && typeof record.geo.country === 'string')
        event.geo = { ...record.geo, country: record.geo.country.toUpperCase() };
      if (isObject(record.user) && record.user.email_domain === undefined) {
        const domain = emailDomain(optionalString(record, 'user.name'));
        if (domain) event.user = { ...record.user, email_domain: domain };
      }
      return { ok: true, event };
    } catch (err) {
      if (err instanceof DecodeError) return { ok: false, error: err };
      throw err;
    }
  },
};

function outcomeOf(type: string): Outcome {
  if (type.endsWith('.success')) return 'success';
  if (type.endsWith('.failure')) return 'failure';
  return 'unknown';
}

/**
 * The record without the keys whose value is null, in it and in the objects it nests (arrays
 * and `raw`, the source's own record, are kept as they are). A required field written null is
 * then missing, and reported as such.
 */
function withoutNulls(record: Json): Json {
  let copy: Json | undefined;
  for (const [k, v] of Object.entries(record)) {
    if (k === 'raw') continue;
    const kept = v === null ? undefined : isObject(v) ? withoutNulls(v) : v;
    if (kept === v) continue;
    copy ??= { ...record };
    if (kept === undefined) delete copy[k];
    else copy[k] = kept;
  }
  return copy ?? record;
}
