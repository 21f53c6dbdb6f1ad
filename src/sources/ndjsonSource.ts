import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { GzipError, gunzipMembers } from './gunzip.js';

/** One line of an NDJSON input, with its 1-based line number for dead-letter records. */
export interface NdjsonLine {
  line: number;
  /** The line's bytes, without the line break; as read, not decoded (they may not be UTF-8). */
  bytes: Buffer;
  /** The line's full length; larger than `bytes.length` when the reader had to cut it. */
  size: number;
  /** sha256 (hex) of the whole line, computed while reading, when the reader had to cut it. */
  sha256?: string;
  /**
   * Set on the last item of a gzip input that is damaged (truncated, corrupt, or followed by
   * bytes that are no gzip): what decompressed of the line in progress, if anything, and why
   * the rest is lost. Every complete line before it came through as usual.
   */
  damaged?: { message: string; decompressedBytes: number };
}

/**
 * Lines longer than this are cut to their first bytes while reading, so one endless line
 * cannot exhaust memory; the record limit of the decoder (much smaller) rejects them anyway.
 */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * Reads NDJSON from a file (gzip detected by its magic bytes) or from stdin when the path is
 * '-'. Lines are split on raw bytes, so invalid UTF-8 reaches the decoder as it was and ends
 * as a dead letter with its original bytes. Empty lines are skipped but counted, so line
 * numbers match the file; a trailing `\r` is dropped.
 */
export async function* readNdjson(
  path: string,
  stdin: Readable = process.stdin,
  maxLineBytes = MAX_LINE_BYTES,
  /** Stops reading (the lines read so far have come through; the rest is left unread). */
  stop?: AbortSignal,
): AsyncGenerator<NdjsonLine> {
  const raw = path === '-' ? stdin : createReadStream(path);
  if (stop?.aborted) return;
  // A stop must also end a read that waits for input that may never come (an idle stdin).
  const onStop = (): void => {
    raw.destroy();
  };
  stop?.addEventListener('abort', onStop, { once: true });
  try {
    yield* lines(raw, maxLineBytes, stop);
  } catch (err) {
    if (!stop?.aborted) throw err;
  } finally {
    stop?.removeEventListener('abort', onStop);
  }
}

async function* lines(raw: Readable, maxLineBytes: number, stop?: AbortSignal): AsyncGenerator<NdjsonLine> {
  const { chunks, gzip } = await maybeGunzip(raw);
  let parts: Buffer[] = [];
  let held = 0; // bytes in `parts`
  let size = 0; // bytes of the current line, including any cut off
  let line = 0;
  // Hashes the whole of a line that is too long to keep, from the moment it is, so its dead
  // letter names the record it stands for (a `\r` before the line break included).
  let hash: Hash | undefined;

  const finish = (): NdjsonLine | undefined => {
    line++;
    let bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, held);
    let total = size;
    const sha256 = hash?.digest('hex');
    parts = [];
    held = 0;
    size = 0;
    hash = undefined;
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d && total === bytes.length) {
      bytes = bytes.subarray(0, bytes.length - 1);
      total--;
    }
    if (total === 0 || isBlank(bytes)) return undefined;
    return sha256 === undefined ? { line, bytes, size: total } : { line, bytes, size: total, sha256 };
  };

  const keep = (chunk: Buffer): void => {
    size += chunk.length;
    const room = maxLineBytes - held;
    if (!hash && chunk.length > room) {
      hash = createHash('sha256');
      for (const p of parts) hash.update(p);
    }
    hash?.update(chunk);
    if (room <= 0) return;
    const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
    parts.push(piece);
    held += piece.length;
  };

  let decompressed = 0;
  try {
    for await (const chunk of chunks) {
      if (stop?.aborted) return;
      decompressed += chunk.length;
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(0x0a, start);
        if (nl < 0) break;
        keep(chunk.subarray(start, nl));
        const out = finish();
        if (out) yield out;
        start = nl + 1;
      }
      if (start < chunk.length) keep(Buffer.from(chunk.subarray(start)));
    }
  } catch (err) {
    if (!gzip || !(err instanceof GzipError)) throw err;
    // What decompressed came through; the damaged rest is one dead letter, with what of its
    // line had decompressed and where in the compressed input it broke.
    line++;
    const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, held);
    const sha256 = hash?.digest('hex');
    yield {
      line,
      bytes,
      size: Math.max(size, bytes.length),
      ...(sha256 === undefined ? {} : { sha256 }),
      damaged: { message: (err as Error).message, decompressedBytes: decompressed - bytes.length },
    };
    return;
  }
  // The last line may lack its line break: it is a line all the same (unless reading stopped).
  if (size > 0 && !stop?.aborted) {
    const out = finish();
    if (out) yield out;
  }
}

function isBlank(bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  return true;
}

/**
 * Detects gzip by its magic bytes (0x1f 0x8b), reading until two bytes are in hand however
 * the input is chunked (a pipe may hand over one byte first), and decompresses if so (see
 * `gunzipMembers`: members one after the other, and what decompressed before any damage).
 */
async function maybeGunzip(stream: Readable): Promise<{ chunks: AsyncIterable<Buffer>; gzip: boolean }> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  let head = Buffer.alloc(0);
  let done = false;
  while (head.length < 2 && !done) {
    const next = await iterator.next();
    if (next.done) done = true;
    else head = Buffer.concat([head, Buffer.from(next.value)]);
  }
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b)
    return { chunks: gunzipMembers(head, iterator), gzip: true };
  async function* plain(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield Buffer.from(next.value);
    }
  }
  return { chunks: plain(), gzip: false };
}
