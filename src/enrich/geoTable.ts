/**
 * geoip-lite's GeoLite2 City data, compacted to what authwatch answers with.
 *
 * geoip-lite holds its files whole in memory: 3.2M IPv4 rows of 24 bytes, 1.2M IPv6 rows of 48,
 * and 116k locations of 88 bytes (region, metro code, time zone, ...), about 150 MB. Authwatch
 * needs the country, the city and the coordinates with their radius. Built once from the same
 * files, this table keeps, per range, only its first address and the index of its answer:
 * adjacent ranges with the same answer become one, as do the gaps and the rows with no usable
 * location. About 37 MB, kept in a cache file beside the package, read back in tens of
 * milliseconds. IPv6 ranges are keyed on the first 64 bits, as geoip-lite's are (its rows start
 * and end on /64 boundaries).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isCountryCode } from '../events/countryCodes.js';
import type { PublicAddress } from './ipAddress.js';
import { lastAtOrBefore, lastPairAtOrBefore } from './rangeSearch.js';
import { cachedTable, cacheDirOf, dataPackage, dataSource, NameList, type Tables } from './tableFile.js';

/** What the database says about an address. */
export interface GeoLocation {
  /** ISO 3166-1 alpha-2. */
  readonly country: string;
  readonly city?: string;
  /** Absent when the database knows only the country. */
  readonly lat?: number;
  readonly lon?: number;
  /** Radius around lat/lon the address is likely within (country-level rows say 1000 km and more). */
  readonly accuracy_km?: number;
}

/** A range's answer when it has none. */
const NONE = 0xffffffff;
/** A location's latitude when it has no coordinates. */
const NO_COORDS = -0x80000000;

const LOCATION_ROW = 88;
const FILES = ['geoip-city.dat', 'geoip-city6.dat', 'geoip-city-names.dat'] as const;

export class GeoTable {
  readonly name: string;
  /** First address of each IPv4 range, ascending, and the index of its answer (or NONE). */
  private readonly v4Starts: Uint32Array;
  private readonly v4Answers: Uint32Array;
  /** First 64 bits of each IPv6 range, as two 32-bit halves, and its answer. */
  private readonly v6StartHi: Uint32Array;
  private readonly v6StartLo: Uint32Array;
  private readonly v6Answers: Uint32Array;
  /** Per answer: index of its `country\tcity` name, latitude and longitude ×10⁴ (or NO_COORDS), radius in km. */
  private readonly places: Uint32Array;
  private readonly lats: Int32Array;
  private readonly lons: Int32Array;
  private readonly radii: Uint32Array;
  private readonly names: NameList;
  /** Answers made so far, one frozen object each, shared by every address that has it. */
  private readonly made: (GeoLocation | null | undefined)[];

  constructor(name: string, arrays: readonly TableArray9[], names: NameList) {
    this.name = name;
    const u32 = (i: number) => arrays[i] as Uint32Array;
    this.v4Starts = u32(0);
    this.v4Answers = u32(1);
    this.v6StartHi = u32(2);
    this.v6StartLo = u32(3);
    this.v6Answers = u32(4);
    this.places = u32(5);
    this.lats = arrays[6] as Int32Array;
    this.lons = arrays[7] as Int32Array;
    this.radii = u32(8);
    this.names = names;
    this.made = new Array<GeoLocation | null | undefined>(this.places.length);
  }

  /** Reads geoip-lite's city files from `dir` (about 3 s). Throws when they are not what it writes. */
  static build(dir: string, name: string): GeoTable {
    const builder = new TableBuilder(readFileSync(join(dir, 'geoip-city-names.dat')));
    const r4 = readRows(readFileSync(join(dir, 'geoip-city.dat')), 4, builder, dir);
    const r6 = readRows(readFileSync(join(dir, 'geoip-city6.dat')), 16, builder, dir);
    const [v4Starts] = r4.starts();
    const [v6StartHi, v6StartLo] = r6.starts();
    return new GeoTable(
      name,
      [v4Starts!, r4.answers(), v6StartHi!, v6StartLo!, r6.answers(), ...builder.arrays()],
      NameList.of(builder.names),
    );
  }

  toTables(): Tables {
    const { ends, bytes } = this.names.parts;
    return {
      head: { name: this.name },
      arrays: [
        this.v4Starts,
        this.v4Answers,
        this.v6StartHi,
        this.v6StartLo,
        this.v6Answers,
        this.places,
        this.lats,
        this.lons,
        this.radii,
        ends,
      ],
      tail: bytes,
    };
  }

  /** The table of `toTables`, or undefined when the tables are not one. */
  static fromTables(tables: Tables): GeoTable | undefined {
    const { head, arrays, tail } = tables;
    if (typeof head.name !== 'string' || arrays.length !== 10) return undefined;
    const kinds = [
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Uint32Array,
      Int32Array,
      Int32Array,
      Uint32Array,
    ];
    if (!arrays.slice(0, 9).every((a, i) => a instanceof kinds[i]!)) return undefined;
    const [v4Starts, v4Answers, v6Hi, v6Lo, v6Answers, places, lats, lons, radii] = arrays as TableArray9[];
    if (
      v4Starts!.length !== v4Answers!.length ||
      v6Hi!.length !== v6Answers!.length ||
      v6Lo!.length !== v6Answers!.length
    ) {
      return undefined;
    }
    if (lats!.length !== places!.length || lons!.length !== places!.length || radii!.length !== places!.length)
      return undefined;
    // Indexes are checked where they are used (lookup), not here: that would read all 3M rows on every start.
    const names = NameList.read(arrays[9], tail);
    return names && new GeoTable(head.name, arrays.slice(0, 9) as TableArray9[], names);
  }

  get counts(): { v4: number; v6: number; answers: number; names: number } {
    return {
      v4: this.v4Starts.length,
      v6: this.v6Answers.length,
      answers: this.places.length,
      names: this.names.length,
    };
  }

  /** The location of an address, or null when the data has none for it. */
  lookup(addr: PublicAddress): GeoLocation | null {
    let answer: number;
    if (addr.version === 4) {
      answer = this.find4(addr.value);
    } else {
      const b = addr.bytes;
      const hi = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
      const lo = ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0;
      answer = this.find6(hi, lo);
    }
    // NONE, and an index past the answers (a damaged cache file), are no answer.
    if (answer >= this.made.length) return null;
    return (this.made[answer] ??= this.make(answer));
  }

  private find4(key: number): number {
    const found = lastAtOrBefore(this.v4Starts, key);
    return found < 0 ? NONE : this.v4Answers[found]!;
  }

  private find6(keyHi: number, keyLo: number): number {
    const found = lastPairAtOrBefore(this.v6StartHi, this.v6StartLo, keyHi, keyLo);
    return found < 0 ? NONE : this.v6Answers[found]!;
  }

  private make(answer: number): GeoLocation | null {
    const name = this.names.get(this.places[answer]!);
    if (name === undefined) return null;
    const tab = name.indexOf('\t');
    const out: { -readonly [K in keyof GeoLocation]: GeoLocation[K] } = { country: name.slice(0, tab) };
    if (tab + 1 < name.length) out.city = name.slice(tab + 1);
    const lat = this.lats[answer]!;
    if (lat !== NO_COORDS) {
      out.lat = lat / 10000;
      out.lon = this.lons[answer]! / 10000;
      const radius = this.radii[answer]!;
      if (radius > 0) out.accuracy_km = radius;
    }
    return Object.freeze(out);
  }
}

/**
 * Turns geoip-lite's rows into answers: the location's country and city (from its locations
 * file) with the row's coordinates and radius, under the rules geoEnricher documents. Rows that
 * give no answer (no location, a regional stand-in such as `EU`, no country) give NONE.
 */
class TableBuilder {
  readonly names: string[] = [];
  private readonly nameIds = new Map<string, number>();
  /** Per location of the locations file, the answers made with it (a handful each). */
  private readonly answersOf: (number[] | undefined)[] = [];
  private readonly places: number[] = [];
  private readonly lats: number[] = [];
  private readonly lons: number[] = [];
  private readonly radii: number[] = [];
  /** Per location of the locations file: its name's index, or NONE when it has no country. */
  private readonly locationNames: Int32Array;

  constructor(locations: Buffer) {
    if (locations.length % LOCATION_ROW !== 0)
      throw new Error("geoip-lite's city names file is not in the layout this version reads");
    this.locationNames = new Int32Array(locations.length / LOCATION_ROW);
    for (let i = 0; i < this.locationNames.length; i++) {
      const o = i * LOCATION_ROW;
      const country = cString(locations, o, o + 2);
      const city = cString(locations, o + 42, o + LOCATION_ROW);
      this.locationNames[i] = isCountryCode(country) ? this.name(`${country}\t${city}`) : -1;
    }
  }

  answer(location: number, lat: number, lon: number, radius: number): number {
    if (location === NONE || location >= this.locationNames.length) return NONE;
    const place = this.locationNames[location]!;
    if (place < 0) return NONE;
    // 0,0 is no place (see sanitizeEvent); the radius goes with the coordinates.
    const noCoords = lat === 0 && lon === 0;
    const la = noCoords ? NO_COORDS : lat;
    const lo = noCoords ? 0 : lon;
    const ra = noCoords ? 0 : radius;
    let same = this.answersOf[location];
    if (same === undefined) this.answersOf[location] = same = [];
    // Most-recently used first: neighbouring rows mostly repeat a recent answer.
    for (let i = same.length - 1; i >= 0; i--) {
      const id = same[i]!;
      if (this.lats[id] === la && this.lons[id] === lo && this.radii[id] === ra) {
        if (i !== same.length - 1) {
          same.splice(i, 1);
          same.push(id);
        }
        return id;
      }
    }
    const id = this.places.length;
    this.places.push(place);
    this.lats.push(la);
    this.lons.push(lo);
    this.radii.push(ra);
    same.push(id);
    return id;
  }

  arrays(): [Uint32Array, Int32Array, Int32Array, Uint32Array] {
    return [
      Uint32Array.from(this.places),
      Int32Array.from(this.lats),
      Int32Array.from(this.lons),
      Uint32Array.from(this.radii),
    ];
  }

  private name(text: string): number {
    let id = this.nameIds.get(text);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(text);
      this.nameIds.set(text, id);
    }
    return id;
  }
}

/** Text up to the first NUL. */
function cString(buf: Buffer, from: number, to: number): string {
  const nul = buf.indexOf(0, from);
  return buf.toString('utf8', from, nul >= from && nul < to ? nul : to);
}

/**
 * The ranges of one of geoip-lite's row files: rows of a first and a last address of
 * `keyBytes` each, then location, latitude, longitude and radius. IPv6 rows are keyed on their
 * first 64 bits, as geoip-lite compares them.
 */
function readRows(rows: Buffer, keyBytes: 4 | 16, builder: TableBuilder, dir: string): RangeList {
  const size = 2 * keyBytes + 16;
  if (rows.length % size !== 0)
    throw new Error(`geoip-lite's city data in ${dir} is not in the layout this version reads`);
  const words = keyBytes === 4 ? 1 : 2;
  const key = (at: number) =>
    words === 1 ? [rows.readUInt32BE(at)] : [rows.readUInt32BE(at), rows.readUInt32BE(at + 4)];
  const list = new RangeList(words);
  for (let o = 0; o < rows.length; o += size) {
    const a = o + 2 * keyBytes;
    const answer = builder.answer(
      rows.readUInt32BE(a),
      rows.readInt32BE(a + 4),
      rows.readInt32BE(a + 8),
      rows.readUInt32BE(a + 12),
    );
    list.add(key(o), key(o + keyBytes), answer);
  }
  return list;
}

/**
 * Ranges as (first address, answer) in ascending order, for keys of `words` 32-bit words, from
 * rows sorted by first address. A range with the answer of the one before it joins it; the space
 * no row covers gets a NONE range. Where rows overlap (geoip-lite's IPv6 data has a few dozen
 * single /64s inside a wider range) the later row wins inside its span and the wider one
 * resumes after it. Rows out of order are an error: the data would answer wrongly.
 */
class RangeList {
  private readonly keys: number[][];
  private readonly answerList: number[] = [];
  /** Rows still open at the last start: ends strictly decreasing, the innermost last. */
  private readonly open: { end: number[]; answer: number }[] = [];
  private last: number[] | undefined;
  /** First address of the last range pushed. */
  private lastPushed: number[] | undefined;

  constructor(private readonly words: number) {
    this.keys = Array.from({ length: words }, () => []);
  }

  add(start: number[], end: number[], answer: number): void {
    if (this.last !== undefined && compare(start, this.last) < 0)
      throw new Error("geoip-lite's city data is not sorted");
    this.last = start;
    this.closeBefore(start);
    this.push(start, answer);
    // Rows that end within this one are hidden by it from here on.
    while (this.open.length > 0 && compare(this.open[this.open.length - 1]!.end, end) <= 0) this.open.pop();
    this.open.push({ end, answer });
  }

  starts(): Uint32Array[] {
    this.closeBefore(undefined);
    return this.keys.map((k) => Uint32Array.from(k));
  }

  answers(): Uint32Array {
    this.closeBefore(undefined);
    return Uint32Array.from(this.answerList);
  }

  /** Ends the open rows that end before `start` (all of them when undefined). */
  private closeBefore(start: number[] | undefined): void {
    while (this.open.length > 0) {
      const inner = this.open[this.open.length - 1]!;
      if (start !== undefined && compare(inner.end, start) >= 0) return;
      this.open.pop();
      const after = increment(inner.end);
      if (after === undefined) continue; // the end of the address space
      const outer = this.open[this.open.length - 1];
      this.push(after, outer ? outer.answer : NONE);
    }
  }

  private push(start: number[], answer: number): void {
    let n = this.answerList.length;
    if (n > 0 && compare(this.lastPushed!, start) === 0) {
      // Same first address as the last range: this one replaces it.
      for (const k of this.keys) k.pop();
      this.answerList.pop();
      n--;
      this.lastPushed = n > 0 ? this.keys.map((k) => k[n - 1]!) : undefined;
    }
    if (n > 0 ? this.answerList[n - 1] === answer : answer === NONE) return;
    for (let w = 0; w < this.words; w++) this.keys[w]!.push(start[w]!);
    this.answerList.push(answer);
    this.lastPushed = start;
  }
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return 0;
}

/** `key + 1`, or undefined when it is the last key. */
function increment(key: number[]): number[] | undefined {
  const out = key.slice();
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] !== 0xffffffff) {
      out[i] = out[i]! + 1;
      return out;
    }
    out[i] = 0;
  }
  return undefined;
}

/**
 * The table of the installed geoip-lite's city data (in `GEODATADIR` when set, as geoip-lite
 * reads it): from the cache beside the package (`node_modules/.cache/authwatch/`, or
 * `cacheDir`) when that was made from the same files, else built and cached for the next start.
 */
export function loadGeoTable(cacheDir?: string): GeoTable {
  const { path, dir: pkgDir, version } = dataPackage('geoip-lite', 'geo database');
  const dir = resolve(pkgDir, 'lib', process.env.GEODATADIR || '../data/');
  const name = `geoip-lite@${version}`;
  return cachedTable({
    file: join(cacheDir ?? cacheDirOf(path), `geo-v1-${version}.bin`),
    magic: CACHE_MAGIC,
    source: `${dir} ${dataSource(version, dir, FILES)}`,
    decode: (tables) => GeoTable.fromTables(tables),
    build: () => GeoTable.build(dir, name),
    encode: (table) => table.toTables(),
  });
}

const CACHE_MAGIC = 'authwatch-geo-v1\n';

/** The table's arrays, in order: see the fields of GeoTable. */
type TableArray9 = Uint32Array | Int32Array;
