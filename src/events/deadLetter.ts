import { createHash } from 'node:crypto';
import { DECODE_ERROR_KINDS, type DecodeErrorKind } from './decodeError.js';

/**
 * Why a record is a dead letter: a decode error kind for bad input; `invalid_gzip` for the
 * damaged tail of a compressed input (what of its line decompressed, if anything); or
 * `engine_error` when the engine failed on an event that decoded, or `internal_error` for a
 * failure of authwatch's own that nobody foresaw (logged with its stack). The last two are
 * ours, not the input's.
 */
export type DeadLetterReason = DecodeErrorKind | 'invalid_gzip' | 'engine_error' | 'internal_error';
export const DEAD_LETTER_REASONS: readonly DeadLetterReason[] = [
  ...DECODE_ERROR_KINDS,
  'invalid_gzip',
  'engine_error',
  'internal_error',
];

/** Where a record came from, so an operator can find it again. */
export interface RecordPosition {
  /** 1-based line of an NDJSON file or stream. */
  line?: number;
  topic?: string;
  partition?: number;
  offset?: string;
}

/**
 * What goes to the dead-letter topic for a record that is bad input: why, from where, and
 * the original bytes, so nothing is lost and the record can be fixed and replayed.
 */
export interface DeadLetter {
  reason: DeadLetterReason;
  message: string;
  /** The field at fault, as a dotted path into the original record, when known. */
  field?: string;
  /** The source's name: `file:events.ndjson`, `stdin`, `kafka:auth-events`. */
  source: string;
  position: RecordPosition;
  /** When authwatch read the record, epoch ms. */
  received_at: number;
  /** The original bytes, base64 (they may not be valid UTF-8). */
  original_base64: string;
  /** The size of the original record; more than the bytes kept when `truncated`. */
  original_bytes: number;
  /** sha256 of the whole original record, hex. */
  original_sha256: string;
  truncated: boolean;
}

/**
 * Records over this size keep only their first bytes in the dead letter (with the size and
 * hash of the whole), so one absurd record cannot make the dead-letter topic refuse the write.
 */
export const MAX_DEAD_LETTER_BYTES = 1024 * 1024;

export function deadLetterOf(
  error: { kind: DeadLetterReason; message: string; field?: string },
  bytes: Uint8Array,
  source: string,
  position: RecordPosition,
  receivedAt: number,
  originalSize = bytes.length,
  /** The hash of the whole record when `bytes` is only its start (a reader had to cut it). */
  originalSha256?: string,
): DeadLetter {
  const kept = bytes.length > MAX_DEAD_LETTER_BYTES ? bytes.subarray(0, MAX_DEAD_LETTER_BYTES) : bytes;
  const letter: DeadLetter = {
    reason: error.kind,
    message: error.message,
    source,
    position,
    received_at: receivedAt,
    original_base64: Buffer.from(kept.buffer, kept.byteOffset, kept.length).toString('base64'),
    original_bytes: originalSize,
    original_sha256: originalSha256 ?? createHash('sha256').update(bytes).digest('hex'),
    truncated: kept.length < originalSize,
  };
  if (error.field !== undefined) letter.field = error.field;
  return letter;
}
