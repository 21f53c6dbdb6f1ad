import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';

/** One line of an NDJSON input, with its 1-based line number for dead-letter records. */
export interface NdjsonLine {
  line: number;
  bytes: Buffer;
}

/**
 * Reads NDJSON from a file (gzip detected by its magic bytes) or from stdin when the path
 * is '-'. Empty lines are skipped but still counted, so line numbers match the file.
 */
export async function* readNdjson(path: string, stdin: Readable = process.stdin): AsyncGenerator<NdjsonLine> {
  const raw = path === '-' ? stdin : createReadStream(path);
  const input = await maybeGunzip(raw);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    yield { line, bytes: Buffer.from(text, 'utf8') };
  }
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
  const plain = Readable.from(rest());
  return gzip ? plain.pipe(createGunzip()) : plain;
}
