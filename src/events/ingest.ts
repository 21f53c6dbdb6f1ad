import { enrichAll, type Enricher } from '../enrich/enricher.js';
import type { AuthEvent } from './authEvent.js';
import { DECODE_ERROR_KINDS, DecodeError, type DecodeErrorKind } from './decodeError.js';
import { deadLetterOf, type DeadLetter, type RecordPosition } from './deadLetter.js';
import { createRecordDecoder, type RecordDecoderOptions } from './recordDecoder.js';

export type IngestResult = { ok: true; event: AuthEvent } | { ok: false; deadLetter: DeadLetter };

/** Counts since start; the metrics endpoint and `replay`'s summary read them. */
export interface IngestCounters {
  records: number;
  events: number;
  deadLetters: number;
  deadLettersByReason: Record<DecodeErrorKind, number>;
  eventsBySource: Record<string, number>;
}

/**
 * The first stage of the pipeline for one source: bytes in, an enriched canonical event or a
 * dead letter out, counted either way. Nothing throws out of `process`.
 */
export class Ingest {
  readonly counters: IngestCounters = {
    records: 0,
    events: 0,
    deadLetters: 0,
    deadLettersByReason: Object.fromEntries(DECODE_ERROR_KINDS.map((k) => [k, 0])) as Record<DecodeErrorKind, number>,
    eventsBySource: {},
  };
  private readonly decode: ReturnType<typeof createRecordDecoder>;
  private readonly enrichers: readonly Enricher[];
  private readonly now: () => number;

  constructor(
    /** The source's name in dead letters: `file:events.ndjson`, `stdin`, `kafka:auth-events`. */
    private readonly source: string,
    options: RecordDecoderOptions & { enrichers?: readonly Enricher[] } = {},
  ) {
    this.decode = createRecordDecoder(options);
    this.enrichers = options.enrichers ?? [];
    this.now = options.now ?? Date.now;
  }

  /**
   * @param size the record's full size when the reader had to cut it (NDJSON lines over the
   *   reader's limit); the record is then too large, whatever the decoder's limit.
   */
  process(bytes: Uint8Array, position: RecordPosition, size = bytes.length): IngestResult {
    this.counters.records++;
    const result =
      size > bytes.length
        ? {
            ok: false as const,
            error: new DecodeError('too_large', `The record is ${size} bytes, more than can be read.`),
          }
        : this.decode(bytes);
    if (!result.ok) {
      this.counters.deadLetters++;
      this.counters.deadLettersByReason[result.error.kind]++;
      return { ok: false, deadLetter: deadLetterOf(result.error, bytes, this.source, position, this.now(), size) };
    }
    const event = result.event;
    enrichAll(this.enrichers, event);
    this.counters.events++;
    this.counters.eventsBySource[event.source] = (this.counters.eventsBySource[event.source] ?? 0) + 1;
    return { ok: true, event };
  }
}

/** What `ingestLines` does with each outcome; both may be async (a sink write). */
export interface IngestHandlers {
  onEvent?: (event: AuthEvent) => void | Promise<void>;
  onDeadLetter?: (letter: DeadLetter) => void | Promise<void>;
}

/** Feeds NDJSON lines (from `readNdjson`) through an Ingest, in order. */
export async function ingestLines(
  lines: AsyncIterable<{ line: number; bytes: Uint8Array; size: number }>,
  ingest: Ingest,
  handlers: IngestHandlers,
): Promise<void> {
  for await (const { line, bytes, size } of lines) {
    const result = ingest.process(bytes, { line }, size);
    if (result.ok) await handlers.onEvent?.(result.event);
    else await handlers.onDeadLetter?.(result.deadLetter);
  }
}
