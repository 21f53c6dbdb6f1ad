import type { AuthEvent } from './authEvent.js';
import type { DecodeError } from './decodeError.js';
import type { DroppedField } from './sanitize.js';

export type EventFormat = 'auth0' | 'okta' | 'canonical';
export const EVENT_FORMATS: readonly EventFormat[] = ['auth0', 'okta', 'canonical'];

/** An event (with the values taken out of it as no fact, see `sanitizeEvent`), or why the record is bad input. */
export type DecodeResult = { ok: true; event: AuthEvent; dropped?: DroppedField[] } | { ok: false; error: DecodeError };

/** What a decoder needs besides the record: the time now, to reject absurd timestamps. */
export interface DecodeContext {
  /** Epoch ms; injected so tests and replays decide what "now" is. */
  now: number;
  /** How far in the future an event time may lie before it is absurd (clock skew). */
  maxFutureMs: number;
  /** The id to use when the record has none of its own (a hash of its bytes). */
  fallbackId: string;
}

/**
 * Turns one parsed JSON record of one source format into a canonical event.
 *
 * The bytes-level work (size limit, UTF-8, JSON, format detection, schema validation of the
 * result) is done once for every format by `decodeRecord`; a Decoder only maps fields.
 * Contract:
 * - `accepts` is cheap and side-effect free; auto-detection asks each decoder in turn, so
 *   it must only say yes to records that carry its format's distinguishing fields.
 * - `decode` never throws: a record it cannot map is a `DecodeError` with the field at fault.
 * - The canonical event keeps the original record under `raw` (canonical input excepted,
 *   where the event is the record), and leaves out fields the source did not give: no
 *   nulls, no empty strings.
 * - Unknown type codes are not errors: they map to the canonical type `other`.
 */
export interface Decoder {
  readonly format: EventFormat;
  accepts(record: Record<string, unknown>): boolean;
  decode(record: Record<string, unknown>, ctx: DecodeContext): DecodeResult;
}
