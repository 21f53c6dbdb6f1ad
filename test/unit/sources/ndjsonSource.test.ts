import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../../src/events/deadLetter.js';
import { Ingest, ingestLines } from '../../../src/events/ingest.js';
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

  it('hashes the whole of a line it cuts, however the chunks fall, and only such lines', async () => {
    const long = Array.from({ length: 300 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const whole = createHash('sha256').update(long).digest('hex');
    for (const cuts of [[300], [10, 290], [16, 1, 283], [5, 5, 5, 285], [17, 283]]) {
      let at = 0;
      const pieces = cuts.map((n) => long.slice(at, (at += n)));
      const lines = await collect(readNdjson('-', chunked(...pieces, '\n{"ok":1}\n', long), 16));
      expect(
        lines.map((l) => [l.size, l.bytes.length, l.sha256]),
        String(cuts),
      ).toEqual([
        [300, 16, whole],
        [8, 8, undefined],
        [300, 16, whole],
      ]);
    }
  });

  it('gives a cut record a dead letter with the size and hash of all of it', async () => {
    const long = `{"type":"other","time":1,"pad":"${'x'.repeat(500)}"}`;
    const letters: DeadLetter[] = [];
    await ingestLines(readNdjson('-', chunked(long.slice(0, 100), long.slice(100), '\n'), 64), new Ingest('stdin'), {
      onDeadLetter: (l) => void letters.push(l),
    });
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      reason: 'too_large',
      original_bytes: long.length,
      truncated: true,
      original_sha256: createHash('sha256').update(long).digest('hex'),
      original_base64: Buffer.from(long.slice(0, 64)).toString('base64'),
    });
  });

  it('reads an empty input as no lines', async () => {
    expect(await collect(readNdjson('-', chunked()))).toEqual([]);
  });
});

describe('readNdjson on damaged or unusual gzip', () => {
  const records = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => JSON.stringify({ seq: from + i, pad: 'x'.repeat(40 + ((from + i) % 17)) }));
  const text = (lines: string[]) => `${lines.join('\n')}\n`;
  /** Delivers `bytes` in chunks of the given sizes, cycling (a pipe hands over whatever it has). */
  const inPieces = (bytes: Buffer, sizes: number[]) => {
    const chunks: Buffer[] = [];
    for (let i = 0, k = 0; i < bytes.length; k++) {
      const n = sizes[k % sizes.length]!;
      chunks.push(bytes.subarray(i, i + n));
      i += n;
    }
    return Readable.from(chunks);
  };
  const seqs = (lines: NdjsonLine[]) =>
    lines.filter((l) => !l.damaged).map((l) => (JSON.parse(l.bytes.toString()) as { seq: number }).seq);

  it('reads members written one after the other, with a member boundary inside a chunk, from stdin in odd pieces', async () => {
    const a = records(0, 3000);
    const b = records(3000, 2000);
    const gz = Buffer.concat([gzipSync(text(a)), gzipSync(text(b))]);
    const lines = await collect(readNdjson('-', inPieces(gz, [1, 7, 4096, 65_536, 13])));
    expect(seqs(lines)).toEqual([...Array(5000).keys()]);
  });

  it('detects gzip on stdin whose first read is a single byte', async () => {
    const gz = gzipSync(text(records(0, 3)));
    const lines = await collect(readNdjson('-', inPieces(gz, [1, 1, 5, 1000])));
    expect(seqs(lines)).toEqual([0, 1, 2]);
  });

  it('gives every line of a truncated file that decompressed, then the damaged rest as one item', async () => {
    const gz = gzipSync(text(records(0, 20_000)));
    const lines = await collect(readNdjson('-', inPieces(gz.subarray(0, Math.floor(gz.length * 0.7)), [8192])));
    const last = lines[lines.length - 1]!;
    expect(last.damaged?.message).toMatch(/unexpected end of file/);
    const read = seqs(lines);
    expect(read.length).toBeGreaterThan(10_000);
    expect(read).toEqual([...Array(read.length).keys()]);
    expect(last.line).toBe(read.length + 1);
    // What of the cut line decompressed is kept.
    expect(`{"seq":${read.length}`.startsWith(last.bytes.toString().slice(0, 8))).toBe(true);
  });

  it('gives every line before bytes that follow the gzip data and are no gzip', async () => {
    const gz = Buffer.concat([gzipSync(text(records(0, 500))), Buffer.from('trailing junk\n')]);
    const lines = await collect(readNdjson('-', inPieces(gz, [gz.length])));
    expect(seqs(lines)).toEqual([...Array(500).keys()]);
    expect(lines[lines.length - 1]).toMatchObject({
      line: 501,
      damaged: { message: expect.stringMatching(/not gzip/) },
    });
  });

  it('reports corrupt data, and data that does not match its checksum', async () => {
    const gz = gzipSync(text(records(0, 2000)));
    const corrupt = Buffer.from(gz);
    for (let i = Math.floor(gz.length / 2); i < Math.floor(gz.length / 2) + 64; i++) corrupt[i] = 0xff;
    const lines = await collect(readNdjson('-', inPieces(corrupt, [4096])));
    expect(lines[lines.length - 1]!.damaged).toBeDefined();
    // Lines before the damage are intact (what deflate made of the damage, up to where it noticed,
    // comes through as lines that are no JSON: dead letters downstream).
    const intact = lines.findIndex((l) => !/^\{"seq":\d+,"pad":"x+"\}$/.test(l.bytes.toString()));
    expect(intact).toBeGreaterThan(500);
    expect(lines.slice(0, intact).map((l, i) => l.line === i + 1)).not.toContain(false);
    const wrongSum = Buffer.from(gzipSync(text(records(0, 10))));
    wrongSum[wrongSum.length - 8]! ^= 0xff;
    const checked = await collect(readNdjson('-', inPieces(wrongSum, [wrongSum.length])));
    expect(checked[checked.length - 1]!.damaged?.message).toMatch(/checksum/);
  });
});
