/**
 * The binary cache files the offline enrichment databases are kept in after their first load:
 * a header line (a magic string, then JSON naming what the file was made from and the length
 * and kind of each array), the typed arrays as they are in memory, 8-byte aligned, then a tail
 * of bytes (names). Reading one back is a file read and a few views, instead of parsing the
 * package's own data again (CSV for ASN, geoip-lite's records for geo) on every start.
 *
 * The file is written aside and renamed into place, so a reader never sees half of one, and it
 * is read only when its header names the same source and byte order; anything else (a damaged
 * or cut-short file, one made from other data) is rebuilt.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';

export type TableArray = Int32Array | Uint32Array | BigUint64Array;

/** What a table file holds, apart from its magic and source. */
export interface Tables {
  /** Small facts kept in the header (counts, a name); JSON values. */
  readonly head: Readonly<Record<string, unknown>>;
  readonly arrays: readonly TableArray[];
  readonly tail: Buffer;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LF = 0x0a;

type Kind = 'i32' | 'u32' | 'u64';

function kindOf(a: TableArray): Kind {
  if (a instanceof Int32Array) return 'i32';
  if (a instanceof Uint32Array) return 'u32';
  return 'u64';
}

/** The bytes of a table file. */
export function packTables(magic: string, source: string, tables: Tables): Buffer {
  const layout = tables.arrays.map((a) => [kindOf(a), a.length] as const);
  const header = Buffer.from(
    `${magic}${JSON.stringify({ source, le: LITTLE_ENDIAN, head: tables.head, layout, tail: tables.tail.length })}\n`,
  );
  const parts: Buffer[] = [header];
  let size = header.length;
  for (const a of tables.arrays) {
    const pad = (8 - (size % 8)) % 8;
    parts.push(Buffer.alloc(pad), Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    size += pad + a.byteLength;
  }
  parts.push(tables.tail);
  return Buffer.concat(parts);
}

/**
 * The tables of a file made by `packTables` with this magic and source, or undefined when `buf`
 * is no such file. Arrays are views on `buf` where it is aligned (a whole-file read is), so the
 * file's memory is the tables' memory; copies otherwise.
 */
export function unpackTables(buf: Buffer, magic: string, source: string): Tables | undefined {
  if (buf.length < magic.length || buf.toString('latin1', 0, magic.length) !== magic) return undefined;
  const eol = buf.indexOf(LF, magic.length);
  if (eol < 0) return undefined;
  let header: { source?: unknown; le?: unknown; head?: unknown; layout?: unknown; tail?: unknown };
  try {
    header = JSON.parse(buf.toString('utf8', magic.length, eol)) as typeof header;
  } catch {
    return undefined;
  }
  const { head, layout, tail } = header;
  if (header.source !== source || header.le !== LITTLE_ENDIAN) return undefined;
  if (head === null || typeof head !== 'object' || !Array.isArray(layout) || !Number.isSafeInteger(tail)) {
    return undefined;
  }
  const arrays: TableArray[] = [];
  let at = eol + 1;
  for (const entry of layout as unknown[]) {
    if (!Array.isArray(entry) || entry.length !== 2) return undefined;
    const [kind, length] = entry as [unknown, unknown];
    if (!Number.isSafeInteger(length) || (length as number) < 0) return undefined;
    const n = length as number;
    const width = kind === 'u64' ? 8 : kind === 'i32' || kind === 'u32' ? 4 : 0;
    if (width === 0) return undefined;
    at += (8 - (at % 8)) % 8;
    if (at + n * width > buf.length) return undefined;
    let ab: ArrayBufferLike = buf.buffer;
    let offset = buf.byteOffset + at;
    if (offset % 8 !== 0) {
      ab = new ArrayBuffer(n * width);
      buf.copy(new Uint8Array(ab), 0, at, at + n * width);
      offset = 0;
    }
    arrays.push(
      kind === 'u64'
        ? new BigUint64Array(ab, offset, n)
        : kind === 'i32'
          ? new Int32Array(ab, offset, n)
          : new Uint32Array(ab, offset, n),
    );
    at += n * width;
  }
  if (at + (tail as number) !== buf.length) return undefined;
  return { head: head as Record<string, unknown>, arrays, tail: buf.subarray(at) };
}

/** An installed package that holds offline data: its package.json's path, folder and version. */
export function dataPackage(name: string, what: string): { path: string; dir: string; version: string } {
  let path: string;
  try {
    path = createRequire(import.meta.url).resolve(`${name}/package.json`);
  } catch (err) {
    throw new Error(`the offline ${what} (npm package ${name}) is not installed`, { cause: err });
  }
  const pkg = JSON.parse(readFileSync(path, 'utf8')) as { version?: string };
  return { path, dir: dirname(path), version: pkg.version ?? 'unknown' };
}

/** `node_modules/.cache/authwatch` of the install a package was resolved in (its package.json's path). */
export function cacheDirOf(packageJsonPath: string): string {
  const marker = `${sep}node_modules${sep}`;
  const at = packageJsonPath.lastIndexOf(marker);
  const root = at >= 0 ? packageJsonPath.slice(0, at + marker.length - 1) : join(dirname(packageJsonPath), '..');
  return join(root, '.cache', 'authwatch');
}

/** What a cache is made from: the package's version and each data file's size and modification time. */
export function dataSource(version: string, dir: string, files: readonly string[]): string {
  return [
    version,
    ...files.map((f) => {
      const st = statSync(join(dir, f));
      return `${f}:${st.size}:${Math.trunc(st.mtimeMs)}`;
    }),
  ].join(' ');
}

export interface CachedTableOptions<T> {
  /** The cache file. */
  readonly file: string;
  /** First bytes of the file: its format and version. */
  readonly magic: string;
  /** What the tables are made from; a file made from anything else is rebuilt. */
  readonly source: string;
  /** The value of the file's tables, or undefined when they do not make one. */
  decode(tables: Tables): T | undefined;
  /** The value made from the source data (the slow path). */
  build(): T;
  encode(value: T): Tables;
}

/**
 * The value of the cache file when it was made from the same source, else built and written
 * there for the next start. A cache that cannot be written (a read-only install) only costs the
 * build each time.
 */
export function cachedTable<T>(options: CachedTableOptions<T>): T {
  const { file, magic, source } = options;
  const bytes = readWhole(file);
  if (bytes) {
    const tables = unpackTables(bytes, magic, source);
    const value = tables && options.decode(tables);
    if (value !== undefined) return value;
  }
  const value = options.build();
  // The random part keeps workers of one process apart too.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, packTables(magic, source, options.encode(value)));
    renameSync(tmp, file);
  } catch {
    // Read-only, or no folder can be made there: build again next time, leaving nothing behind.
    try {
      rmSync(tmp, { force: true });
    } catch {
      // there was no tmp file to remove
    }
  }
  return value;
}

/** The whole file in a buffer of its own (so 8-aligned), or undefined when it cannot be read. */
function readWhole(file: string): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.from(new ArrayBuffer(size));
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) return undefined;
      got += n;
    }
    return buf;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Names (organisations, places) kept as UTF-8 bytes with their end offsets, in the file's
 * memory: each is made a string when first asked for. A hundred thousand strings made at every
 * start would cost ~10 MB of heap and the time to split them, for the few a stream meets.
 */
export class NameList {
  private readonly decoded: (string | undefined)[];

  private constructor(
    private readonly bytes: Buffer,
    /** Where each name ends in `bytes`; it starts where the one before it ends. */
    private readonly ends: Uint32Array,
  ) {
    this.decoded = new Array<string | undefined>(ends.length);
  }

  static of(names: readonly string[]): NameList {
    const parts = names.map((n) => Buffer.from(n, 'utf8'));
    const ends = new Uint32Array(parts.length);
    let at = 0;
    parts.forEach((p, i) => (ends[i] = at += p.length));
    return new NameList(Buffer.concat(parts), ends);
  }

  /** The list of a file's `ends` array and tail, or undefined when they do not fit together. */
  static read(ends: TableArray | undefined, bytes: Buffer): NameList | undefined {
    if (!(ends instanceof Uint32Array)) return undefined;
    if ((ends.length === 0 ? 0 : ends[ends.length - 1]) !== bytes.length) return undefined;
    return new NameList(bytes, ends);
  }

  get length(): number {
    return this.ends.length;
  }

  /** The name at `i`; undefined past the end. */
  get(i: number): string | undefined {
    let name = this.decoded[i];
    if (name === undefined && i < this.ends.length) {
      name = this.decoded[i] = this.bytes.toString('utf8', i === 0 ? 0 : this.ends[i - 1], this.ends[i]);
    }
    return name;
  }

  /** What goes in a table file: the offsets as an array, the bytes as the tail. */
  get parts(): { ends: Uint32Array; bytes: Buffer } {
    return { ends: this.ends, bytes: this.bytes };
  }
}
