/**
 * Autonomous system number and organisation for the client address.
 *
 * Two databases: a MaxMind-format one (GeoLite2-ASN or anything with the same record layout)
 * when the deployment has one, else the offline RouteViews/RIR/DB-IP data shipped by the
 * pinned npm package `@ip-location-db/asn`. Its CSVs (412k IPv4 and 103k IPv6 ranges, 32 MB
 * of text) are parsed once into typed arrays, ~11 MB plus ~2 MB of interned names, and searched
 * by bisection. The parse (about half a second) happens once: later starts read the tables
 * back from their cache file (`tableFile.ts`) in milliseconds.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Reader } from 'mmdb-lib';
import type { AuthEvent } from '../events/authEvent.js';
import type { Enricher } from './enricher.js';
import { formatIpv4, formatIpv6Full, ipv6High, ipv6Low, publicAddress, type PublicAddress } from './ipAddress.js';
import { lastAtOrBefore, lastPairAtOrBefore } from './rangeSearch.js';
import { cachedTable, cacheDirOf, dataPackage, dataSource, NameList, type Tables } from './tableFile.js';

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
  private readonly orgNames: NameList;
  private readonly v4: { starts: Uint32Array; ends: Uint32Array; asns: Uint32Array; orgs: Uint32Array };
  private readonly v6: {
    startHi: BigUint64Array;
    startLo: BigUint64Array;
    endHi: BigUint64Array;
    endLo: BigUint64Array;
    asns: Uint32Array;
    orgs: Uint32Array;
  };

  constructor(name: string, orgNames: NameList, v4: IpLocationDbAsn['v4'], v6: IpLocationDbAsn['v6']) {
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
      NameList.of(orgNames),
      { starts: v4.starts4, ends: v4.ends4, asns: v4.asns, orgs: v4.orgs },
      { startHi: v6.startHi, startLo: v6.startLo, endHi: v6.endHi, endLo: v6.endLo, asns: v6.asns, orgs: v6.orgs },
    );
  }

  /** The database as the tables of its cache file (`tableFile.ts`). */
  toTables(): Tables {
    const { ends, bytes } = this.orgNames.parts;
    return {
      head: { name: this.name },
      arrays: [this.v4.starts, this.v4.ends, this.v4.asns, this.v4.orgs, ...v6Arrays(this.v6), ends],
      tail: bytes,
    };
  }

  /** The database of `toTables`, or undefined when the tables are not one. */
  static fromTables(tables: Tables): IpLocationDbAsn | undefined {
    const { head, arrays, tail } = tables;
    if (typeof head.name !== 'string' || arrays.length !== 11) return undefined;
    const [starts, ends, asns4, orgs4, startHi, startLo, endHi, endLo, asns6, orgs6, nameEnds] = arrays;
    const u32 = [starts, ends, asns4, orgs4, asns6, orgs6];
    const u64 = [startHi, startLo, endHi, endLo];
    if (!u32.every((a) => a instanceof Uint32Array) || !u64.every((a) => a instanceof BigUint64Array)) return undefined;
    if (u32.slice(0, 4).some((a) => a!.length !== starts!.length)) return undefined;
    if ([...u64, asns6!, orgs6!].some((a) => a.length !== asns6!.length)) return undefined;
    const orgNames = NameList.read(nameEnds, tail);
    if (!orgNames) return undefined;
    return new IpLocationDbAsn(
      head.name,
      orgNames,
      {
        starts: starts as Uint32Array,
        ends: ends as Uint32Array,
        asns: asns4 as Uint32Array,
        orgs: orgs4 as Uint32Array,
      },
      {
        startHi: startHi as BigUint64Array,
        startLo: startLo as BigUint64Array,
        endHi: endHi as BigUint64Array,
        endLo: endLo as BigUint64Array,
        asns: asns6 as Uint32Array,
        orgs: orgs6 as Uint32Array,
      },
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
    // An index past the names (a damaged cache file; not checked at load, which would read
    // every row on every start) is a network without a name.
    const org = this.orgNames.get(orgs[i]!);
    return org === undefined || PLACEHOLDER_ORGS.has(org) ? { asn: asns[i]! } : { asn: asns[i]!, org };
  }

  /** Index of the range holding `key`, or -1: the last range starting at or before it, if it reaches that far. */
  private find4(key: number): number {
    const found = lastAtOrBefore(this.v4.starts, key);
    return found >= 0 && key <= this.v4.ends[found]! ? found : -1;
  }

  private find6(keyHi: bigint, keyLo: bigint): number {
    const { startHi, startLo, endHi, endLo } = this.v6;
    const found = lastPairAtOrBefore(startHi, startLo, keyHi, keyLo);
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
  const { path, dir, version } = dataPackage('@ip-location-db/asn', 'ASN database');
  return cachedTable({
    file: join(cacheDir ?? cacheDirOf(path), `asn-v2-${version}.bin`),
    magic: CACHE_MAGIC,
    source: dataSource(version, dir, ['asn-ipv4-num.csv', 'asn-ipv6-num.csv']),
    decode: (tables) => IpLocationDbAsn.fromTables(tables),
    build: () => IpLocationDbAsn.parse(dir, version),
    encode: (db) => db.toTables(),
  });
}

const CACHE_MAGIC = 'authwatch-asn-v2\n';

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
