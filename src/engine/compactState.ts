/**
 * Per-group state kept outside the V8 heap, for the correlations that must remember every
 * group for months: the dormant-account rule looks for exactly the users idle longest, so
 * evicting the stalest groups (what a heap bound does) would lose what it exists to find.
 *
 * Each group is one record in an arena (a Buffer, so its bytes are outside the V8 heap and
 * cost the collector nothing): a 16-byte header (key length, value length, time), the key
 * (one byte a character when every character is below 256, else UTF-16, so keys are hashed
 * and compared in JavaScript without encoding them), and the value, padded to 8 bytes. An
 * open-addressing index (linear probing, two typed arrays) finds a record by key; a change of
 * the same padded size overwrites the record, any other appends a new one and leaves the old
 * as garbage, and the arena is compacted once garbage outweighs the live records. Iteration, sweeps, sheds and
 * snapshots follow arena order, so a restored state behaves exactly as the one saved.
 *
 * The bound is in bytes (`maxBytes`, arena plus index): above it the stalest quarter of the
 * groups by time is dropped and counted in `evictions`. A user of the dormant-account rule
 * (a 30-character id, a 56-character event id) takes a 104-byte record and 16 bytes of index,
 * about 150 with the room growth leaves, against 480 on the heap (`bench/run.js state`).
 */

import type { DeferredPart } from './keyedState.js';

/**
 * Header: word 0 the key's length in UTF-16 units (DEAD marks a dead record, WIDE a key stored
 * as UTF-16; otherwise one byte a character, every unit below 256), word 1 the value's length
 * (bytes, or UTF-16 units for text stored WIDE), then the time (f64).
 */
const HEADER = 16;
const DEAD = 0x8000_0000;
const WIDE = 0x4000_0000;
const LENGTH = 0x3fff_ffff;
/** Share of the groups dropped, stalest first, when the bytes reach the bound. */
const SHED_AT_BOUND = 0.25;
/** Base64 characters written per unit of a deferred snapshot's budget (a multiple of 4). */
const SNAPSHOT_CHARS_PER_STEP = 128;

/** What `CompactState.snapshot` writes: the live records, in arena order, as base64. */
export interface CompactSnapshot {
  /** 2; 1 is the first layout (keys in UTF-8, text values in UTF-8), still read. */
  compact: 1 | 2;
  evictions: number;
  records: string;
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Bytes of a key or text whose header word is `word`. */
function bytesOf(word: number): number {
  return word & WIDE ? (word & LENGTH) * 2 : word & LENGTH;
}

/** The final mix of the FNV-1a hash: never 0, which marks an empty slot. */
function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x45d9f3b);
  h ^= h >>> 16;
  return h === 0 ? 1 : h >>> 0;
}

/** Whether some UTF-16 unit of `s` is 256 or more (then it is stored as UTF-16). */
function wide(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 255) return true;
  return false;
}

/** Writes text as one byte a unit, or as UTF-16 when `isWide`. */
function writeText(buf: Buffer, at: number, s: string, isWide: boolean): void {
  if (isWide) buf.write(s, at, 'utf16le');
  else for (let i = 0; i < s.length; i++) buf[at + i] = s.charCodeAt(i);
}

function readText(buf: Buffer, at: number, word: number): string {
  return buf.toString(word & WIDE ? 'utf16le' : 'latin1', at, at + bytesOf(word));
}

export class CompactState {
  private arena: Buffer;
  private f64: Float64Array;
  private u32: Uint32Array;
  /** Bytes of the arena in use, live and dead records. */
  private used = 0;
  /** Bytes of dead records. */
  private garbage = 0;
  /** Record offset + 1 per index slot; 0 is empty. */
  private slots: Int32Array;
  private tags: Uint32Array;
  private mask: number;
  private count = 0;
  /** The header word and hash of the key `find` looked up last. */
  private keyWord = 0;
  private keyHash = 0;
  /**
   * `find`'s last answer, kept while the index is unchanged (`version`): a correlation looks
   * a group up, then sets it, and the second lookup costs nothing.
   */
  private lastKey: string | undefined;
  private lastAnswer = 0;
  private lastVersion = -1;
  private version = 0;
  /** The record `has` found last (-1: none). */
  private found = -1;
  evictions = 0;

  /** @param maxBytes the arena and index together, at most (the stalest quarter goes beyond it). */
  constructor(readonly maxBytes: number = Number.POSITIVE_INFINITY) {
    this.arena = Buffer.alloc(4096);
    this.f64 = new Float64Array(this.arena.buffer, this.arena.byteOffset, this.arena.length >> 3);
    this.u32 = new Uint32Array(this.arena.buffer, this.arena.byteOffset, this.arena.length >> 2);
    this.slots = new Int32Array(1024);
    this.tags = new Uint32Array(1024);
    this.mask = 1023;
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held: the arena and the index (what `maxBytes` bounds). */
  get bytes(): number {
    return this.arena.length + this.slots.length * 8;
  }

  /**
   * Finds the group: true when it is tracked, and then `foundTime`, `foundValue` and
   * `foundText` read it, until the next change to this state.
   */
  has(key: string): boolean {
    const i = this.find(key);
    this.found = i < 0 ? -1 : this.slots[i]! - 1;
    return i >= 0;
  }

  foundTime(): number {
    return this.f64[(this.found >> 3) + 1]!;
  }

  /** The found group's value bytes: a view into the arena. */
  foundValue(): Buffer {
    const start = this.valueAt(this.found);
    return this.arena.subarray(start, start + bytesOf(this.u32[(this.found >> 2) + 1]!));
  }

  /** The found group's value as text (what `set` stored from a string). */
  foundText(): string {
    return readText(this.arena, this.valueAt(this.found), this.u32[(this.found >> 2) + 1]!);
  }

  /** The group's time, or undefined when it is not tracked. */
  time(key: string): number | undefined {
    return this.has(key) ? this.foundTime() : undefined;
  }

  /** The group's value bytes (a view valid until the next change), or undefined. */
  value(key: string): Buffer | undefined {
    return this.has(key) ? this.foundValue() : undefined;
  }

  text(key: string): string | undefined {
    return this.has(key) ? this.foundText() : undefined;
  }

  /** Sets the group's time and value (text or bytes), creating the group if need be. */
  set(key: string, time: number, value: string | Uint8Array): void {
    let i = this.find(key);
    const keyWord = this.keyWord;
    const keyHash = this.keyHash;
    const textWide = typeof value === 'string' && wide(value);
    const valueWord = typeof value === 'string' ? value.length | (textWide ? WIDE : 0) : value.length;
    const size = align8(HEADER + bytesOf(keyWord) + bytesOf(valueWord));
    let moved = false;
    if (i >= 0) {
      const off = this.slots[i]! - 1;
      if (this.recordSize(off) === size) {
        this.writeValue(off, time, value, valueWord, textWide);
        return;
      }
      this.kill(off);
      this.removeSlot(i);
      this.count--;
      moved = true;
    }
    if (this.used + size > this.arena.length) moved = this.makeRoom(size) || moved;
    if ((this.count + 1) * 2 > this.slots.length) moved = this.growIndex() || moved;
    if (moved) i = this.find(key); // the index changed under the slot found first
    const off = this.used;
    this.used += size;
    this.u32[off >> 2] = keyWord;
    writeText(this.arena, off + HEADER, key, (keyWord & WIDE) !== 0);
    this.writeValue(off, time, value, valueWord, textWide);
    this.insertSlot(~i, keyHash, off);
    this.count++;
  }

  delete(key: string): boolean {
    const i = this.find(key);
    if (i < 0) return false;
    this.kill(this.slots[i]! - 1);
    this.removeSlot(i);
    this.count--;
    this.maybeCompact();
    return true;
  }

  /** Drops every group whose time is before `horizon`; returns how many went. */
  sweepBefore(horizon: number): number {
    return this.dropWhere((off) => this.f64[(off >> 3) + 1]! < horizon, Number.POSITIVE_INFINITY);
  }

  /** Drops the stalest `fraction` (0–1) of the groups by time, rounded up; counted in `evictions`. */
  shedShare(fraction: number): number {
    const k = Math.min(this.count, Math.ceil(this.count * fraction));
    if (k <= 0) return 0;
    const times = new Float64Array(this.count);
    let n = 0;
    this.forEachLive((off) => (times[n++] = this.f64[(off >> 3) + 1]!));
    times.sort();
    const cutoff = times[k - 1]!;
    const gone = this.dropWhere((off) => this.f64[(off >> 3) + 1]! <= cutoff, k);
    this.evictions += gone;
    return gone;
  }

  /** Every group, in arena order: key, time and a view of the value valid during the call. */
  forEach(visit: (key: string, time: number, value: Buffer) => void): void {
    this.forEachLive((off) => {
      const start = this.valueAt(off);
      visit(
        readText(this.arena, off + HEADER, this.u32[off >> 2]!),
        this.f64[(off >> 3) + 1]!,
        this.arena.subarray(start, start + bytesOf(this.u32[(off >> 2) + 1]!)),
      );
    });
  }

  /** The live records as one base64 string; with `defer`, a part written in slices instead. */
  snapshot(defer?: (part: DeferredPart) => string): CompactSnapshot {
    this.compact();
    const bytes = Buffer.from(this.arena.subarray(0, this.used));
    if (!defer) return { compact: 2, evictions: this.evictions, records: bytes.toString('base64') };
    return { compact: 2, evictions: this.evictions, records: defer(new Base64Part(bytes)) };
  }

  /** Takes back a snapshot; `textValues`: the values were set as text (read a version 1 snapshot by it). */
  restore(snap: CompactSnapshot, textValues = false): void {
    if (snap.compact === 1) {
      this.restoreFirstLayout(snap, textValues);
      return;
    }
    if (snap.compact !== 2) throw new Error(`unknown compact state version ${String(snap.compact)}`);
    const bytes = Buffer.from(snap.records, 'base64');
    this.setArena(Math.max(4096, align8(bytes.length) * 2));
    bytes.copy(this.arena, 0);
    this.used = bytes.length;
    this.garbage = 0;
    this.evictions = snap.evictions;
    this.count = 0;
    for (let off = 0; off < this.used; off += this.recordSize(off)) {
      if (this.u32[off >> 2]! & DEAD || off + this.recordSize(off) > this.used)
        throw new Error('damaged compact state');
      this.count++;
    }
    this.reindex(Math.max(1024, nextPow2(this.count * 2 + 1)));
  }

  // --- internals ---------------------------------------------------------------------------

  /** Version 1: the same header, with lengths in UTF-8 bytes and no flags; records re-set one by one. */
  private restoreFirstLayout(snap: CompactSnapshot, textValues: boolean): void {
    const bytes = Buffer.from(snap.records, 'base64');
    this.setArena(4096);
    this.used = 0;
    this.garbage = 0;
    this.count = 0;
    this.reindex(1024);
    for (let off = 0; off < bytes.length;) {
      if (off + HEADER > bytes.length) throw new Error('damaged compact state');
      const keyLen = bytes.readUInt32LE(off);
      const valueLen = bytes.readUInt32LE(off + 4);
      const end = off + HEADER + keyLen + valueLen;
      if (keyLen & DEAD || end > bytes.length) throw new Error('damaged compact state');
      const key = bytes.toString('utf8', off + HEADER, off + HEADER + keyLen);
      const value = bytes.subarray(off + HEADER + keyLen, end);
      this.set(key, bytes.readDoubleLE(off + 8), textValues ? value.toString('utf8') : Buffer.from(value));
      off = align8(end);
    }
    this.evictions = snap.evictions;
  }

  /** Finds `key`'s slot: its index, or ~(the empty slot it would take). Sets keyWord and keyHash. */
  private find(key: string): number {
    if (key === this.lastKey && this.lastVersion === this.version) return this.lastAnswer;
    let h = 0x811c9dc5;
    let isWide = false;
    for (let j = 0; j < key.length; j++) {
      const c = key.charCodeAt(j);
      if (c > 255) isWide = true;
      h = Math.imul(h ^ c, 0x01000193);
    }
    h = finish(h);
    const word = key.length | (isWide ? WIDE : 0);
    this.keyWord = word;
    this.keyHash = h;
    const { slots, tags, mask, u32 } = this;
    let answer: number;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = slots[i]!;
      if (s === 0) {
        answer = ~i;
        break;
      }
      if (tags[i] === h && u32[(s - 1) >> 2] === word && this.keyEquals(s - 1 + HEADER, key, isWide)) {
        answer = i;
        break;
      }
    }
    this.lastKey = key;
    this.lastAnswer = answer;
    this.lastVersion = this.version;
    return answer;
  }

  private keyEquals(at: number, key: string, isWide: boolean): boolean {
    const { arena } = this;
    if (isWide) {
      for (let j = 0; j < key.length; j++)
        if ((arena[at + 2 * j]! | (arena[at + 2 * j + 1]! << 8)) !== key.charCodeAt(j)) return false;
    } else for (let j = 0; j < key.length; j++) if (arena[at + j] !== key.charCodeAt(j)) return false;
    return true;
  }

  /** The hash of the key stored at `off`, as `find` computes it from the string. */
  private hashAt(off: number): number {
    const word = this.u32[off >> 2]!;
    const at = off + HEADER;
    const n = word & LENGTH;
    const { arena } = this;
    let h = 0x811c9dc5;
    if (word & WIDE)
      for (let j = 0; j < n; j++) h = Math.imul(h ^ (arena[at + 2 * j]! | (arena[at + 2 * j + 1]! << 8)), 0x01000193);
    else for (let j = 0; j < n; j++) h = Math.imul(h ^ arena[at + j]!, 0x01000193);
    return finish(h);
  }

  private valueAt(off: number): number {
    return off + HEADER + bytesOf(this.u32[off >> 2]! & ~DEAD);
  }

  private writeValue(
    off: number,
    time: number,
    value: string | Uint8Array,
    valueWord: number,
    textWide: boolean,
  ): void {
    this.u32[(off >> 2) + 1] = valueWord;
    this.f64[(off >> 3) + 1] = time;
    const at = this.valueAt(off);
    if (typeof value === 'string') writeText(this.arena, at, value, textWide);
    else this.arena.set(value, at);
  }

  private recordSize(off: number): number {
    return align8(HEADER + bytesOf(this.u32[off >> 2]! & ~DEAD) + bytesOf(this.u32[(off >> 2) + 1]!));
  }

  private kill(off: number): void {
    this.garbage += this.recordSize(off);
    this.u32[off >> 2] = this.u32[off >> 2]! | DEAD;
  }

  private forEachLive(visit: (off: number) => void): void {
    for (let off = 0; off < this.used; off += this.recordSize(off)) if (!(this.u32[off >> 2]! & DEAD)) visit(off);
  }

  /** Drops up to `limit` live records that `drop` picks, in arena order, and rebuilds the index. */
  private dropWhere(drop: (off: number) => boolean, limit: number): number {
    let gone = 0;
    this.forEachLive((off) => {
      if (gone < limit && drop(off)) {
        this.kill(off);
        gone++;
      }
    });
    if (gone === 0) return 0;
    this.count -= gone;
    this.compact();
    return gone;
  }

  private insertSlot(i: number, h: number, off: number): void {
    this.slots[i] = off + 1;
    this.tags[i] = h;
    this.version++;
  }

  /** Linear probing's deletion: shifts back the records after the hole that probed past it. */
  private removeSlot(hole: number): void {
    const { slots, tags, mask } = this;
    this.version++;
    slots[hole] = 0;
    for (let i = (hole + 1) & mask; slots[i] !== 0; i = (i + 1) & mask) {
      const home = tags[i]! & mask;
      // Moves back when its home is not within (hole, i], cyclically.
      if (hole <= i ? home <= hole || home > i : home <= hole && home > i) {
        slots[hole] = slots[i]!;
        tags[hole] = tags[i]!;
        slots[i] = 0;
        hole = i;
      }
    }
  }

  private maybeCompact(): void {
    if (this.garbage > 1 << 16 && this.garbage * 2 > this.used) this.compact();
  }

  /**
   * Makes room for `size` more bytes: compacts, grows the arena within the bound, and when
   * the bound leaves no room sheds the stalest quarter. True when the index changed.
   */
  private makeRoom(size: number): boolean {
    const hadGarbage = this.garbage > 0;
    this.compact();
    // Compaction alone must free a quarter, or the next appends would compact again and again.
    if (this.used + size <= this.arena.length * 0.75) return hadGarbage;
    const index = this.slots.length * 8;
    let length = Math.max(this.arena.length * 2, align8(this.used + size));
    if (length + index > this.maxBytes) {
      length = Math.max(this.arena.length, Math.floor((this.maxBytes - index) / 8) * 8);
      if (this.used + size > length * 0.75) {
        this.shedShare(SHED_AT_BOUND);
        length = Math.max(length, align8(this.used + size));
      }
    }
    if (length > this.arena.length) this.setArena(length, this.used);
    return true;
  }

  /** Doubles the index, or sheds the stalest quarter when that would pass the bound. True: it changed. */
  private growIndex(): boolean {
    if (this.arena.length + this.slots.length * 16 > this.maxBytes && this.count >= 4) this.shedShare(SHED_AT_BOUND);
    else this.reindex(this.slots.length * 2);
    return true;
  }

  /** Moves the live records to the front, in order, and rebuilds the index. */
  private compact(): void {
    if (this.garbage === 0) return;
    let to = 0;
    for (let off = 0; off < this.used;) {
      const size = this.recordSize(off);
      if (!(this.u32[off >> 2]! & DEAD)) {
        if (to !== off) this.arena.copyWithin(to, off, off + size);
        to += size;
      }
      off += size;
    }
    this.used = to;
    this.garbage = 0;
    this.reindex(this.slots.length);
  }

  private setArena(length: number, keep = 0): void {
    const next = Buffer.alloc(length);
    if (keep > 0) this.arena.copy(next, 0, 0, keep);
    this.arena = next;
    this.f64 = new Float64Array(next.buffer, next.byteOffset, next.length >> 3);
    this.u32 = new Uint32Array(next.buffer, next.byteOffset, next.length >> 2);
  }

  /** Rebuilds the index at `capacity` slots from the live records. */
  private reindex(capacity: number): void {
    this.slots = new Int32Array(capacity);
    this.tags = new Uint32Array(capacity);
    this.mask = capacity - 1;
    this.version++;
    this.forEachLive((off) => {
      const h = this.hashAt(off);
      let i = h & this.mask;
      while (this.slots[i] !== 0) i = (i + 1) & this.mask;
      this.slots[i] = off + 1;
      this.tags[i] = h;
    });
  }
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Bytes written as a JSON string of base64, a slice per step. */
class Base64Part implements DeferredPart {
  private readonly texts: string[] = [];
  private next = 0;
  private sealed: string | undefined;

  constructor(private readonly bytes: Buffer) {}

  get done(): boolean {
    return this.next >= this.bytes.length;
  }

  step(budget: number): number {
    // 3 bytes make 4 characters: slices of a multiple of 3 bytes concatenate to the whole.
    const per = (SNAPSHOT_CHARS_PER_STEP / 4) * 3;
    while (budget > 0 && this.next < this.bytes.length) {
      const take = Math.min(this.bytes.length - this.next, per * Math.min(budget, 1 << 14));
      this.texts.push(this.bytes.toString('base64', this.next, this.next + take));
      this.next += take;
      budget -= Math.ceil(take / per);
    }
    return Math.max(0, budget);
  }

  entriesText(): string {
    this.step(Number.POSITIVE_INFINITY);
    this.sealed ??= `"${this.texts.join('')}"`;
    this.texts.length = 0;
    return this.sealed;
  }
}
