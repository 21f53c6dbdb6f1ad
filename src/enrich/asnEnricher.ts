/**
 * Autonomous system number and organisation for the client address.
 *
 * Two databases: a MaxMind-format one (GeoLite2-ASN or anything with the same record layout)
 * when the deployment has one, else the offline RouteViews/RIR/DB-IP data shipped by the
 * pinned npm package `@ip-location-db/asn`. Its CSVs (412k IPv4 and 103k IPv6 ranges, 32 MB
 * of text) are parsed once into typed arrays, ~11 MB plus ~5 MB of interned names, and searched
 * by bisection: about 0.3 s at start-up instead of a per-event cost.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Reader } from 'mmdb-lib';
import type { AuthEvent } from '../events/authEvent.js';
import type { Enricher } from './enricher.js';
import { formatIpv4, formatIpv6Full, ipv6High, ipv6Low, publicAddress, type PublicAddress } from './ipAddress.js';

export interface AsnEnricherOptions {
  /**
   * A MaxMind DB file with `autonomous_system_number` and `autonomous_system_organization`
   * records (GeoLite2-ASN layout). Absent: the offline `@ip-location-db/asn` data.
   */
  mmdbPath?: string;
}

export interface AsnInfo {
  asn: number;
  /** Absent when the database has no name, or only a placeholder, for the network. */
  org?: string;
}

export interface AsnEnricher extends Enricher {
  /** Which database answers: `mmdb:<path>` or `@ip-location-db/asn@<version>`. */
  readonly database: string;
  /** The network of a public address, or null (non-public, unparsable, or not in the database). */
  lookup(ip: string): AsnInfo | null;
}

/**
 * Builds the enricher and loads its database now (creation is start-up; the first event must
 * not pay for it). Throws when the database cannot be read; `enrich` itself never throws.
 */
export function createAsnEnricher(options: AsnEnricherOptions = {}): AsnEnricher {
  const db = options.mmdbPath ? openMmdb(options.mmdbPath) : loadIpLocationDbAsn();
  const lookup = (ip: string): AsnInfo | null => {
    if (typeof ip !== 'string') return null;
    try {
      const addr = publicAddress(ip);
      return addr ? db.lookup(addr) : null;
    } catch {
      return null; // a corrupt MaxMind file can make its reader throw mid-lookup
    }
  };
  return {
    name: 'asn',
    database: db.name,
    lookup,
    enrich(event: AuthEvent) {
      if (event.asn != null || typeof event.ip !== 'string') return;
      const info = lookup(event.ip);
      if (!info) return;
      event.asn = info.asn;
      if (event.as_org == null && info.org !== undefined) event.as_org = info.org;
    },
  };
}

/** An ASN database loaded in memory. */
interface AsnDatabase {
  readonly name: string;
  lookup(addr: PublicAddress): AsnInfo | null;
}

// Rows that name no organisation; the number is still worth having.
const PLACEHOLDER_ORGS = new Set(['', '-Reserved AS-']);

function openMmdb(path: string): AsnDatabase {
  let reader: Reader<Record<string, unknown>>;
  try {
    reader = new Reader(readFileSync(path));
  } catch (err) {
    throw new Error(`cannot open the ASN database ${path}: ${(err as Error).message}`, { cause: err });
  }
  const ipv4Only = reader.metadata.ipVersion === 4;
  return {
    name: `mmdb:${path}`,
    lookup(addr) {
      // An IPv4-only tree would read an IPv6 address's first 32 bits as an IPv4 address.
      if (addr.version === 6 && ipv4Only) return null;
      const rec = reader.get(addr.version === 4 ? formatIpv4(addr.value) : formatIpv6Full(addr.bytes));
      const asn = rec?.autonomous_system_number;
      if (typeof asn !== 'number' || !Number.isInteger(asn) || asn <= 0) return null;
      const org = rec!.autonomous_system_organization;
      return typeof org === 'string' && !PLACEHOLDER_ORGS.has(org) ? { asn, org } : { asn };
    },
  };
}

/**
 * The `@ip-location-db/asn` CSVs as ranges sorted by start, in parallel typed arrays.
 * Organisation names are interned: ~515k rows share ~81k names. Where two ranges overlap (one
 * pair does in the pinned data) the later one wins inside the overlap.
 */
export class IpLocationDbAsn implements AsnDatabase {
  readonly name: string;
  private readonly orgNames: string[];
  private readonly v4: { starts: Uint32Array; ends: Uint32Array; asns: Uint32Array; orgs: Uint32Array };
  private readonly v6: {
    startHi: BigUint64Array;
    startLo: BigUint64Array;
    endHi: BigUint64Array;
    endLo: BigUint64Array;
    asns: Uint32Array;
    orgs: Uint32Array;
  };

  constructor(name: string, orgNames: string[], v4: IpLocationDbAsn['v4'], v6: IpLocationDbAsn['v6']) {
    this.name = name;
    this.orgNames = orgNames;
    this.v4 = v4;
    this.v6 = v6;
  }

  /** Parses the package's CSVs (about half a second). */
  static parse(dir: string, version: string): IpLocationDbAsn {
    const orgNames: string[] = [];
    const orgIds = new Map<string, number>();
    const intern = (name: string): number => {
      let id = orgIds.get(name);
      if (id === undefined) {
        id = orgNames.length;
        orgNames.push(name);
        orgIds.set(name, id);
      }
      return id;
    };
    const v4 = readRanges(join(dir, 'asn-ipv4-num.csv'), intern, false);
    const v6 = readRanges(join(dir, 'asn-ipv6-num.csv'), intern, true);
    return new IpLocationDbAsn(
      `@ip-location-db/asn@${version}`,
      orgNames,
      { starts: v4.starts4, ends: v4.ends4, asns: v4.asns, orgs: v4.orgs },
      { startHi: v6.startHi, startLo: v6.startLo, endHi: v6.endHi, endLo: v6.endLo, asns: v6.asns, orgs: v6.orgs },
    );
  }

  /**
   * The parsed database as one buffer: a header line (the source it was parsed from, the
   * counts), then the typed arrays as they are in memory, 8-byte aligned, then the names.
   * Reading it back is a few views and one split, instead of parsing 32 MB of CSV.
   */
  toBinary(source: string): Buffer {
    const arrays = [this.v4.starts, this.v4.ends, this.v4.asns, this.v4.orgs, ...v6Arrays(this.v6)];
    const names = Buffer.from(this.orgNames.join('\n'), 'utf8');
    const header = Buffer.from(
      `${CACHE_MAGIC}${JSON.stringify({ source, name: this.name, v4: this.v4.asns.length, v6: this.v6.asns.length, names: names.length, le: LITTLE_ENDIAN })}\n`,
    );
    const parts: Buffer[] = [header];
    let size = header.length;
    for (const a of arrays) {
      const pad = (8 - (size % 8)) % 8;
      parts.push(Buffer.alloc(pad), Buffer.from(a.buffer, a.byteOffset, a.byteLength));
      size += pad + a.byteLength;
    }
    parts.push(names);
    return Buffer.concat(parts);
  }

  /** The database of `toBinary`, or undefined when `buf` is no such file or was made from another `source`. */
  static fromBinary(buf: Buffer, source: string): IpLocationDbAsn | undefined {
    if (buf.toString('latin1', 0, CACHE_MAGIC.length) !== CACHE_MAGIC) return undefined;
    const eol = buf.indexOf(LF, CACHE_MAGIC.length);
    if (eol < 0) return undefined;
    let head: { source?: unknown; name?: unknown; v4?: unknown; v6?: unknown; names?: unknown; le?: unknown };
    try {
      head = JSON.parse(buf.toString('utf8', CACHE_MAGIC.length, eol)) as typeof head;
    } catch {
      return undefined;
    }
    const { v4, v6, names, name } = head;
    if (head.source !== source || head.le !== LITTLE_ENDIAN || typeof name !== 'string') return undefined;
    if (!Number.isSafeInteger(v4) || !Number.isSafeInteger(v6) || !Number.isSafeInteger(names)) return undefined;
    const n4 = v4 as number;
    const n6 = v6 as number;
    // Copied out of the file's buffer, so every view is aligned and the buffer can go.
    let at = eol + 1;
    const take = <T>(make: (b: ArrayBuffer) => T, bytes: number): T | undefined => {
      at += (8 - (at % 8)) % 8;
      if (at + bytes > buf.length) return undefined;
      const copy = new ArrayBuffer(bytes);
      buf.copy(new Uint8Array(copy), 0, at, at + bytes);
      at += bytes;
      return make(copy);
    };
    const u32 = (n: number) => take((b) => new Uint32Array(b), n * 4);
    const u64 = (n: number) => take((b) => new BigUint64Array(b), n * 8);
    const starts = u32(n4);
    const ends = u32(n4);
    const asns4 = u32(n4);
    const orgs4 = u32(n4);
    const startHi = u64(n6);
    const startLo = u64(n6);
    const endHi = u64(n6);
    const endLo = u64(n6);
    const asns6 = u32(n6);
    const orgs6 = u32(n6);
    if (!starts || !ends || !asns4 || !orgs4 || !startHi || !startLo || !endHi || !endLo || !asns6 || !orgs6)
      return undefined;
    if (at + (names as number) !== buf.length) return undefined;
    const orgNames = buf.toString('utf8', at).split('\n');
    const maxOrg = Math.max(0, ...[orgs4, orgs6].map((o) => o.reduce((m, x) => (x > m ? x : m), 0)));
    if (maxOrg >= orgNames.length) return undefined;
    return new IpLocationDbAsn(
      name,
      orgNames,
      { starts, ends, asns: asns4, orgs: orgs4 },
      { startHi, startLo, endHi, endLo, asns: asns6, orgs: orgs6 },
    );
  }

  get rangeCount(): { v4: number; v6: number; orgs: number } {
    return { v4: this.v4.starts.length, v6: this.v6.asns.length, orgs: this.orgNames.length };
  }

  lookup(addr: PublicAddress): AsnInfo | null {
    let i: number;
    let asns: Uint32Array;
    let orgs: Uint32Array;
    if (addr.version === 4) {
      i = this.find4(addr.value);
      ({ asns, orgs } = this.v4);
    } else {
      i = this.find6(ipv6High(addr.bytes), ipv6Low(addr.bytes));
      ({ asns, orgs } = this.v6);
    }
    if (i < 0) return null;
    const org = this.orgNames[orgs[i]!]!;
    return PLACEHOLDER_ORGS.has(org) ? { asn: asns[i]! } : { asn: asns[i]!, org };
  }

  /** Index of the range holding `key`, or -1: the last range starting at or before it, if it reaches that far. */
  private find4(key: number): number {
    const { starts, ends } = this.v4;
    let lo = 0;
    let hi = starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! <= key) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found >= 0 && key <= ends[found]! ? found : -1;
  }

  private find6(keyHi: bigint, keyLo: bigint): number {
    const { startHi, startLo, endHi, endLo } = this.v6;
    let lo = 0;
    let hi = startHi.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const sHi = startHi[mid]!;
      if (sHi < keyHi || (sHi === keyHi && startLo[mid]! <= keyLo)) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return -1;
    const eHi = endHi[found]!;
    return keyHi < eHi || (keyHi === eHi && keyLo <= endLo[found]!) ? found : -1;
  }
}

/**
 * Loads the pinned `@ip-location-db/asn` package: from the binary cache beside it
 * (`node_modules/.cache/authwatch/`, or `cacheDir`) when that was made from the same CSVs,
 * else by parsing the CSVs and writing the cache for the next start. A cache that cannot be
 * written (a read-only install) only costs the parse each time.
 */
export function loadIpLocationDbAsn(cacheDir?: string): IpLocationDbAsn {
  const require = createRequire(import.meta.url);
  let pkgPath: string;
  try {
    pkgPath = require.resolve('@ip-location-db/asn/package.json');
  } catch (err) {
    throw new Error('the offline ASN database (npm package @ip-location-db/asn) is not installed', { cause: err });
  }
  const dir = dirname(pkgPath);
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version?: string };
  const version = pkg.version ?? 'unknown';
  // What the cache was made from: the version and each CSV's size and modification time.
  const source = [
    version,
    ...['asn-ipv4-num.csv', 'asn-ipv6-num.csv'].map((f) => {
      const st = statSync(join(dir, f));
      return `${f}:${st.size}:${Math.trunc(st.mtimeMs)}`;
    }),
  ].join(' ');
  const cache = join(cacheDir ?? join(dir, '..', '..', '.cache', 'authwatch'), `asn-${version}.bin`);
  try {
    const db = IpLocationDbAsn.fromBinary(readFileSync(cache), source);
    if (db) return db;
  } catch {
    // no cache yet
  }
  const db = IpLocationDbAsn.parse(dir, version);
  // Written aside and renamed into place, so a reader never sees half a file (workers of one
  // process too, hence the random part).
  const tmp = `${cache}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    mkdirSync(dirname(cache), { recursive: true });
    writeFileSync(tmp, db.toBinary(source));
    renameSync(tmp, cache);
  } catch {
    // Read-only, or no folder can be made there: parse again next time, leaving nothing behind.
    try {
      rmSync(tmp, { force: true });
    } catch {
      // there was no tmp file to remove
    }
  }
  return db;
}

const CACHE_MAGIC = 'authwatch-asn-v1\n';
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function v6Arrays(v6: IpLocationDbAsn['v6']): (Uint32Array | BigUint64Array)[] {
  return [v6.startHi, v6.startLo, v6.endHi, v6.endLo, v6.asns, v6.orgs];
}

interface ParsedRanges {
  /** IPv4 bounds; empty for IPv6. */
  starts4: Uint32Array;
  ends4: Uint32Array;
  /** IPv6 bounds as 64-bit halves; empty for IPv4. */
  startHi: BigUint64Array;
  startLo: BigUint64Array;
  endHi: BigUint64Array;
  endLo: BigUint64Array;
  asns: Uint32Array;
  orgs: Uint32Array;
}

const COMMA = 0x2c;
const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const MASK64 = (1n << 64n) - 1n;
const MAX128 = (1n << 128n) - 1n;

/**
 * Parses `start,end,asn,org` lines (org possibly quoted, with `""` escapes) straight from the
 * bytes: no whole-file string, and org names decoded only when they differ from the previous
 * row's (consecutive rows mostly share one). Throws on a malformed or unsorted file, which would
 * otherwise give wrong answers silently.
 */
function readRanges(path: string, intern: (name: string) => number, ipv6: boolean): ParsedRanges {
  const buf = readFileSync(path);
  let rows = 0;
  for (let i = 0; i < buf.length; i++) if (buf[i] === LF) rows++;
  if (buf.length > 0 && buf[buf.length - 1] !== LF) rows++;

  const out: ParsedRanges = {
    starts4: new Uint32Array(ipv6 ? 0 : rows),
    ends4: new Uint32Array(ipv6 ? 0 : rows),
    startHi: new BigUint64Array(ipv6 ? rows : 0),
    startLo: new BigUint64Array(ipv6 ? rows : 0),
    endHi: new BigUint64Array(ipv6 ? rows : 0),
    endLo: new BigUint64Array(ipv6 ? rows : 0),
    asns: new Uint32Array(rows),
    orgs: new Uint32Array(rows),
  };

  let n = 0;
  let pos = 0;
  let prevOrgStart = -1;
  let prevOrgEnd = -1;
  let prevOrgId = 0;
  let prevStart = -1n;
  let line = 0;
  const fail = (why: string): never => {
    throw new Error(`${path}:${line}: ${why}`);
  };

  while (pos < buf.length) {
    line++;
    let eol = buf.indexOf(LF, pos);
    if (eol < 0) eol = buf.length;
    let end = eol;
    if (end > pos && buf[end - 1] === CR) end--;
    if (end === pos) {
      pos = eol + 1;
      continue;
    }

    const c1 = buf.indexOf(COMMA, pos);
    const c2 = c1 < 0 ? -1 : buf.indexOf(COMMA, c1 + 1);
    const c3 = c2 < 0 ? -1 : buf.indexOf(COMMA, c2 + 1);
    if (c3 < 0 || c3 >= end) fail('expected start,end,asn,org');

    const asn = decimal(buf, c2 + 1, c3);
    if (asn < 0 || asn > 0xffffffff) fail('bad AS number');

    // Organisation: same bytes as the previous row's reuse its id without decoding.
    const orgStart = c3 + 1;
    const orgLen = end - orgStart;
    let orgId: number;
    if (orgLen === prevOrgEnd - prevOrgStart && buf.compare(buf, prevOrgStart, prevOrgEnd, orgStart, end) === 0) {
      orgId = prevOrgId;
    } else {
      let org: string;
      if (buf[orgStart] === QUOTE) {
        if (orgLen < 2 || buf[end - 1] !== QUOTE) fail('unterminated quoted organisation');
        org = buf.toString('utf8', orgStart + 1, end - 1).replaceAll('""', '"');
      } else {
        org = buf.toString('utf8', orgStart, end);
      }
      orgId = intern(org);
      prevOrgStart = orgStart;
      prevOrgEnd = end;
      prevOrgId = orgId;
    }

    if (ipv6) {
      const s = BigInt(buf.toString('latin1', pos, c1));
      const e = BigInt(buf.toString('latin1', c1 + 1, c2));
      if (s > e || e > MAX128) fail('bad IPv6 range');
      if (s < prevStart) fail('ranges are not sorted by start');
      prevStart = s;
      out.startHi[n] = s >> 64n;
      out.startLo[n] = s & MASK64;
      out.endHi[n] = e >> 64n;
      out.endLo[n] = e & MASK64;
    } else {
      const s = decimal(buf, pos, c1);
      const e = decimal(buf, c1 + 1, c2);
      if (s < 0 || e < s || e > 0xffffffff) fail('bad IPv4 range');
      if (n > 0 && s < out.starts4[n - 1]!) fail('ranges are not sorted by start');
      out.starts4[n] = s;
      out.ends4[n] = e;
    }
    out.asns[n] = asn;
    out.orgs[n] = orgId;
    n++;
    pos = eol + 1;
  }

  // Blank lines were counted as rows: trim to what was read.
  if (n === rows) return out;
  return {
    starts4: out.starts4.slice(0, ipv6 ? 0 : n),
    ends4: out.ends4.slice(0, ipv6 ? 0 : n),
    startHi: out.startHi.slice(0, ipv6 ? n : 0),
    startLo: out.startLo.slice(0, ipv6 ? n : 0),
    endHi: out.endHi.slice(0, ipv6 ? n : 0),
    endLo: out.endLo.slice(0, ipv6 ? n : 0),
    asns: out.asns.slice(0, n),
    orgs: out.orgs.slice(0, n),
  };
}

/** A non-negative decimal in `buf[from, to)`, or -1. Exact up to 2^53, plenty for 32-bit fields. */
function decimal(buf: Buffer, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let v = 0;
  for (let i = from; i < to; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}
