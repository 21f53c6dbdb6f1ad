import { enrichAll, type Enricher } from '../enrich/enricher.js';
import type { AuthEvent } from './authEvent.js';
import { DecodeError } from './decodeError.js';
import {
  DEAD_LETTER_REASONS,
  deadLetterOf,
  type DeadLetter,
  type DeadLetterReason,
  type RecordPosition,
} from './deadLetter.js';
import { createRecordDecoder, type RecordDecoderOptions } from './recordDecoder.js';
import type { DroppedField } from './sanitize.js';

/** What Ingest logs with: pino's `warn`, or anything shaped like it. */
export interface IngestLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** A dropped-field warning is logged the first time, then at most once a minute per field and reason. */
const DROP_LOG_INTERVAL_MS = 60_000;

/** An event, or a dead letter (with the exception when it is `internal_error`, for the log). */
export type IngestResult = { ok: true; event: AuthEvent } | { ok: false; deadLetter: DeadLetter; error?: unknown };

/** Counts since start; the metrics endpoint and `replay`'s summary read them. */
export interface IngestCounters {
  records: number;
  events: number;
  deadLetters: number;
  deadLettersByReason: Record<DeadLetterReason, number>;
  eventsBySource: Record<string, number>;
  /**
   * Values taken out of kept events, by `field:reason` (`ip:not_an_address`,
   * `geo.lat/lon:placeholder`); see `sanitizeEvent`.
   */
  droppedFields: Record<string, number>;
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
    deadLettersByReason: Object.fromEntries(DEAD_LETTER_REASONS.map((k) => [k, 0])) as Record<DeadLetterReason, number>,
    eventsBySource: {},
    droppedFields: {},
  };
  /** Per `field:reason`: when it was last logged, and how many since. */
  private readonly dropLog = new Map<string, { at: number; since: number }>();
  private readonly log: IngestLog | undefined;
  private readonly decode: ReturnType<typeof createRecordDecoder>;
  private readonly enrichers: readonly Enricher[];
  private readonly now: () => number;

  constructor(
    /** The source's name in dead letters: `file:events.ndjson`, `stdin`, `kafka:auth-events`. */
    private readonly source: string,
    options: RecordDecoderOptions & { enrichers?: readonly Enricher[]; log?: IngestLog } = {},
  ) {
    this.decode = createRecordDecoder(options);
    this.log = options.log;
    this.enrichers = options.enrichers ?? [];
    this.now = options.now ?? Date.now;
  }

  /**
   * @param size the record's full size when the reader had to cut it (NDJSON lines over the
   *   reader's limit); the record is then too large, whatever the decoder's limit.
   * @param sha256 the hash of the whole record when it was cut, for its dead letter.
   */
  process(bytes: Uint8Array, position: RecordPosition, size = bytes.length, sha256?: string): IngestResult {
    this.counters.records++;
    let event: AuthEvent;
    try {
      const result =
        size > bytes.length
          ? {
              ok: false as const,
              error: new DecodeError('too_large', `The record is ${size} bytes, more than can be read.`),
            }
          : this.decode(bytes);
      if (!result.ok) return { ok: false, deadLetter: this.deadLetter(result.error, bytes, position, size, sha256) };
      event = result.event;
      if (result.dropped) this.countDropped(result.dropped, event, position);
      enrichAll(this.enrichers, event);
    } catch (err) {
      const error = { kind: 'internal_error' as const, message: `authwatch failed on this record: ${String(err)}` };
      return { ok: false, deadLetter: this.deadLetter(error, bytes, position, size, sha256), error: err };
    }
    this.counters.events++;
    this.counters.eventsBySource[event.source] = (this.counters.eventsBySource[event.source] ?? 0) + 1;
    return { ok: true, event };
  }

  /**
   * A dead letter for a record, counted by reason: bad input, or a failure after decoding
   * (`engine_error`) that the caller reports here so every dead letter is counted in one place.
   */
  deadLetter(
    error: { kind: DeadLetterReason; message: string; field?: string },
    bytes: Uint8Array,
    position: RecordPosition,
    size = bytes.length,
    sha256?: string,
  ): DeadLetter {
    this.counters.deadLetters++;
    this.counters.deadLettersByReason[error.kind]++;
    const source = position.topic !== undefined ? `kafka:${position.topic}` : this.source;
    return deadLetterOf(error, bytes, source, position, this.now(), size, sha256);
  }

  private countDropped(dropped: readonly DroppedField[], event: AuthEvent, position: RecordPosition): void {
    for (const d of dropped) {
      const key = `${d.field}:${d.reason}`;
      this.counters.droppedFields[key] = (this.counters.droppedFields[key] ?? 0) + 1;
      if (!this.log) continue;
      const now = this.now();
      const last = this.dropLog.get(key);
      if (last && now - last.at < DROP_LOG_INTERVAL_MS) {
        last.since++;
        continue;
      }
      this.dropLog.set(key, { at: now, since: 0 });
      this.log.warn(
        {
          field: d.field,
          reason: d.reason,
          value: d.value,
          event_id: event.id,
          source: event.source,
          position,
          ...(last ? { dropped_since_last_warning: last.since } : {}),
        },
        `A value was taken out of an event because it is no ${d.field === 'ip' ? 'IP address' : 'place'}; the event was kept (this warning repeats at most once a minute per field).`,
      );
    }
  }

  /** Takes back the count of an event that the engine then failed on (it becomes a dead letter). */
  uncountEvent(event: AuthEvent): void {
    this.counters.events--;
    this.counters.eventsBySource[event.source] = (this.counters.eventsBySource[event.source] ?? 1) - 1;
  }
}

/** What `ingestLines` does with each outcome; both may be async (a sink write). */
export interface IngestHandlers {
  /** An event, with the record it came from (for a dead letter should the engine fail on it). */
  onEvent?: (event: AuthEvent, record: { bytes: Uint8Array; position: RecordPosition }) => void | Promise<void>;
  onDeadLetter?: (letter: DeadLetter) => void | Promise<void>;
}

/**
 * Feeds NDJSON lines (from `readNdjson`) through an Ingest, in order. The damaged tail of a
 * gzip input is a dead letter (`invalid_gzip`) like any bad record, after the lines before it.
 */
export async function ingestLines(
  lines: AsyncIterable<{
    line: number;
    bytes: Uint8Array;
    size: number;
    sha256?: string;
    damaged?: { message: string; decompressedBytes: number };
  }>,
  ingest: Ingest,
  handlers: IngestHandlers,
  /** Stops after the line in hand. */
  stop?: AbortSignal,
): Promise<void> {
  for await (const { line, bytes, size, sha256, damaged } of lines) {
    if (stop?.aborted) return;
    const position = { line };
    if (damaged) {
      ingest.counters.records++;
      const message = `The gzip input is damaged after ${damaged.decompressedBytes} decompressed bytes (${damaged.message}): every line before this one was read; this holds what of it decompressed, if anything.`;
      await handlers.onDeadLetter?.(
        ingest.deadLetter({ kind: 'invalid_gzip', message }, bytes, position, size, sha256),
      );
      continue;
    }
    const result = ingest.process(bytes, position, size, sha256);
    if (result.ok) await handlers.onEvent?.(result.event, { bytes, position });
    else await handlers.onDeadLetter?.(result.deadLetter);
  }
}
