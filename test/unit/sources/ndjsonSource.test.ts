import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readNdjson, type NdjsonLine } from '../../../src/sources/ndjsonSource.js';

async function collect(gen: AsyncGenerator<NdjsonLine>): Promise<NdjsonLine[]> {
  const out: NdjsonLine[] = [];
  for await (const l of gen) out.push(l);
  return out;
}

/** A stdin stand-in that delivers the bytes in the given chunks. */
const chunked = (...chunks: (string | Buffer)[]) => Readable.from(chunks.map((c) => Buffer.from(c)));

describe('readNdjson', () => {
  it('splits lines across chunk boundaries, numbers them from 1, skips blank ones, drops CR', async () => {
    const lines = await collect(readNdjson('-', chunked('{"a":1}\r\n\n  \n{"b"', ':2}\n{"c":3}')));
    expect(lines.map((l) => [l.line, l.bytes.toString(), l.size])).toEqual([
      [1, '{"a":1}', 7],
      [4, '{"b":2}', 7],
      [5, '{"c":3}', 7],
    ]);
  });

  it('keeps invalid UTF-8 bytes exactly as they were', async () => {
    const bad = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
    const [line] = await collect(readNdjson('-', chunked(Buffer.concat([bad, Buffer.from('\n')]))));
    expect(line!.bytes.equals(bad)).toBe(true);
  });

  it('reads gzip files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'authwatch-ndjson-'));
    const file = join(dir, 'events.ndjson.gz');
    writeFileSync(file, gzipSync('{"a":1}\n{"b":2}\n'));
    const lines = await collect(readNdjson(file));
    expect(lines.map((l) => l.bytes.toString())).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('cuts a line longer than the limit but reports its full size, and goes on', async () => {
    const long = 'x'.repeat(100);
    const lines = await collect(readNdjson('-', chunked(long.slice(0, 30), long.slice(30), '\n{"ok":1}\n'), 16));
    expect(lines[0]).toMatchObject({ line: 1, size: 100 });
    expect(lines[0]!.bytes.length).toBe(16);
    expect(lines[1]!.bytes.toString()).toBe('{"ok":1}');
  });

  it('reads an empty input as no lines', async () => {
    expect(await collect(readNdjson('-', chunked()))).toEqual([]);
  });
});
