import { createInflateRaw, crc32, type InflateRaw } from 'node:zlib';

/** Why a gzip input stops being readable: truncated, corrupt, or followed by bytes that are no gzip. */
export class GzipError extends Error {}

/**
 * Decompresses gzip, member after member as `zcat` does, yielding every byte a member gives
 * before anything goes wrong with it or after it.
 *
 * Node's own gunzip stream drops the output of a write that ends in an error, so a file whose
 * last member is followed by junk (or one cut short) loses lines that decompressed fine. Here
 * each member's header and trailer are read by hand and its body inflated as raw deflate one
 * chunk at a time, so the end of a member is known exactly: what follows it is the next
 * member, or junk reported as such, or nothing. Trailers are checked (CRC-32 and length).
 *
 * `head` is what the caller already read of the input (the magic bytes at least).
 */
export async function* gunzipMembers(head: Buffer, source: AsyncIterator<Buffer | string>): AsyncGenerator<Buffer> {
  let pending = head;
  let sourceDone = false;
  /** Appends the next chunk of input to `pending`; false at the end of the input. */
  const more = async (): Promise<boolean> => {
    if (sourceDone) return false;
    const next = await source.next();
    if (next.done) {
      sourceDone = true;
      return false;
    }
    pending = pending.length === 0 ? Buffer.from(next.value) : Buffer.concat([pending, Buffer.from(next.value)]);
    return true;
  };

  for (let member = 0; ; member++) {
    while (pending.length < 2 && (await more()));
    if (pending.length === 0) return;
    if (pending[0] !== 0x1f || pending[1] !== 0x8b) {
      throw new GzipError(member === 0 ? 'the input is not gzip' : 'bytes after the end of the gzip data are not gzip');
    }
    let header: number | undefined;
    while ((header = headerLength(pending)) === undefined) {
      if (!(await more())) throw new GzipError('unexpected end of file in a gzip header');
    }
    if (pending[2] !== 8) throw new GzipError('unknown compression method');
    pending = pending.subarray(header);

    const inflater = createInflateRaw();
    const body = inflate(
      inflater,
      () => {
        const chunk = pending;
        pending = Buffer.alloc(0);
        return chunk;
      },
      more,
    );
    let crc = 0;
    let size = 0;
    for (;;) {
      const next = await body.next();
      if (next.done) {
        pending = next.value; // what follows the deflate data: the trailer, and after it the rest
        break;
      }
      crc = crc32(next.value, crc);
      size = (size + next.value.length) >>> 0;
      yield next.value;
    }
    while (pending.length < 8) {
      if (!(await more())) throw new GzipError('unexpected end of file in a gzip trailer');
    }
    if (pending.readUInt32LE(0) !== crc >>> 0 || pending.readUInt32LE(4) !== size) {
      throw new GzipError('the gzip data does not match its checksum');
    }
    pending = pending.subarray(8);
  }
}

/**
 * Inflates one member's raw deflate data, writing one chunk at a time (so what the inflater did
 * not use of the last one is known), yielding its output; returns the input left after the end.
 */
async function* inflate(
  inflater: InflateRaw,
  take: () => Buffer,
  more: () => Promise<boolean>,
): AsyncGenerator<Buffer, Buffer> {
  const output: Buffer[] = [];
  let failure: Error | undefined;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  inflater.on('data', (chunk: Buffer) => {
    output.push(chunk);
    notify();
  });
  inflater.on('end', () => {
    ended = true;
    notify();
  });
  inflater.on('error', (err: Error) => {
    failure = err;
    notify();
  });
  let fed = 0;
  let last: Buffer = Buffer.alloc(0);
  let writing = false;
  for (;;) {
    while (output.length > 0) yield output.shift()!;
    if (failure) throw new GzipError(failure.message);
    if (ended) {
      const unused = fed - inflater.bytesWritten;
      return unused > 0 ? last.subarray(last.length - unused) : Buffer.alloc(0);
    }
    if (!writing) {
      let chunk = take();
      if (chunk.length === 0 && (await more())) chunk = take();
      if (chunk.length === 0) {
        // The input ended inside the deflate data: end the inflater, which reports the truncation.
        inflater.end();
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      writing = true;
      last = chunk;
      fed += chunk.length;
      inflater.write(chunk, () => {
        writing = false;
        notify();
      });
    }
    if (output.length === 0 && !ended && !failure) await new Promise<void>((resolve) => (wake = resolve));
  }
}

/** The length of the gzip header at the start of `b`, or undefined while `b` holds only part of it. */
function headerLength(b: Buffer): number | undefined {
  if (b.length < 10) return undefined;
  const flags = b[3]!;
  let i = 10;
  if (flags & 0x04) {
    if (b.length < i + 2) return undefined;
    i += 2 + b.readUInt16LE(i);
  }
  for (const flag of [0x08, 0x10]) {
    if (!(flags & flag)) continue;
    const zero = b.indexOf(0, i);
    if (zero < 0) return undefined;
    i = zero + 1;
  }
  if (flags & 0x02) i += 2;
  return i <= b.length ? i : undefined;
}
