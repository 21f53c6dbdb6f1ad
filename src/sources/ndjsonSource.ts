import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';

/** One line of an NDJSON input, with its 1-based line number for dead-letter records. */
export interface NdjsonLine {
  line: number;
  /** The line's bytes, without the line break; as read, not decoded (they may not be UTF-8). */
  bytes: Buffer;
  /** The line's full length; larger than `bytes.length` when the reader had to cut it. */
  size: number;
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
): AsyncGenerator<NdjsonLine> {
  const raw = path === '-' ? stdin : createReadStream(path);
  const input = await maybeGunzip(raw);
  let parts: Buffer[] = [];
  let held = 0; // bytes in `parts`
  let size = 0; // bytes of the current line, including any cut off
  let line = 0;

  const finish = (): NdjsonLine | undefined => {
    line++;
    let bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, held);
    let total = size;
    parts = [];
    held = 0;
    size = 0;
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d && total === bytes.length) {
      bytes = bytes.subarray(0, bytes.length - 1);
      total--;
    }
    if (total === 0 || isBlank(bytes)) return undefined;
    return { line, bytes, size: total };
  };

  const keep = (chunk: Buffer): void => {
    size += chunk.length;
    const room = maxLineBytes - held;
    if (room <= 0) return;
    const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
    parts.push(piece);
    held += piece.length;
  };

  for await (const chunk of input as AsyncIterable<Buffer>) {
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
  if (size > 0) {
    const out = finish();
    if (out) yield out;
  }
}

function isBlank(bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  return true;
}

async function maybeGunzip(stream: Readable): Promise<Readable> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const first = await iterator.next();
  const head = first.done ? Buffer.alloc(0) : Buffer.from(first.value);
  const gzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield Buffer.from(next.value);
    }
  }
  const plain = Readable.from(rest(), { objectMode: false });
  return gzip ? plain.pipe(createGunzip()) : plain;
}
