import { randomBytes } from 'node:crypto';

/** A new empty list, for `touch` on list-valued state without a closure per call. */
export function emptyList<T>(): T[] {
  return [];
}

/** What `KeyedState.snapshot` writes: groups stalest first, a trailing 1 on those marked used. */
export interface KeyedSnapshot<S> {
  evictions: number;
  entries: [string, S, 1?][];
}

interface Slot<V> {
  key: string;
  value: V;
  /** False once deleted or evicted: its place in the eviction order is then skipped. */
  alive: boolean;
  /** Touched since the slot last reached the head of the eviction order. */
  used: boolean;
  /** The incremental snapshot that has this slot's value already (or that began before it existed). */
  mark: number;
  /** The slot's place in the order that snapshot writes. */
  index: number;
}

let snapshotIds = 0;

/**
 * A snapshot of one KeyedState taken without stopping the engine: the order of the groups is
 * fixed when it begins, and each group's value is written either when `step` reaches it or,
 * if the engine is about to change it first, just before that change (copy on write). Groups
 * created after the beginning are not in it. The result is the state as it was when it began.
 */
class IncrementalSnapshot<V, S> implements DeferredPart {
  readonly id = ++snapshotIds;
  private readonly keys: string[] = [];
  private readonly texts: (string | undefined)[];
  private next = 0;
  readonly evictions: number;

  constructor(
    private readonly map: Map<string, Slot<V>>,
    order: Iterable<Slot<V>>,
    private readonly save: (value: V) => S,
    evictions: number,
  ) {
    this.evictions = evictions;
    let i = 0;
    for (const slot of order) {
      this.keys.push(slot.key);
      slot.index = i++;
    }
    this.texts = new Array<string | undefined>(i);
  }

  preserve(key: string, slot: Slot<V>): void {
    if (slot.mark === this.id) return;
    slot.mark = this.id;
    this.texts[slot.index] = JSON.stringify(slot.used ? [key, this.save(slot.value), 1] : [key, this.save(slot.value)]);
  }

  get done(): boolean {
    return this.next >= this.keys.length;
  }

  /** Writes up to `budget` more groups; returns the budget left. */
  step(budget: number): number {
    const { keys, map } = this;
    while (budget > 0 && this.next < keys.length) {
      const key = keys[this.next++]!;
      const slot = map.get(key);
      if (slot) this.preserve(key, slot);
      budget--;
    }
    return budget;
  }

  private sealed: string | undefined;

  /** The `entries` array as JSON text, once every group is written (joined once, then kept). */
  entriesText(): string {
    if (this.sealed === undefined) {
      const missing = this.texts.findIndex((t) => t === undefined);
      if (missing >= 0) throw new Error(`incremental snapshot lost the group ${this.keys[missing]}`);
      this.sealed = `[${this.texts.join(',')}]`;
      this.texts.length = 0;
    }
    return this.sealed;
  }
}

/**
 * The group maps of an engine snapshot taken incrementally (`Engine.beginSnapshot`): the
 * snapshot's skeleton (counters, epochs, marks) is written at once with a placeholder where
 * each map's entries go; `step` writes groups a slice at a time between batches, and `text`
 * puts the entries in place.
 */
export class DeferredSnapshot {
  private readonly parts: { state?: KeyedState<unknown>; snap: DeferredPart }[] = [];
  private readonly nonce = randomBytes(8).toString('hex');
  private current = 0;

  /** Called by KeyedState.snapshot: the placeholder that stands for the map's entries. */
  register<V, S>(state: KeyedState<V>, snap: IncrementalSnapshot<V, S>): string {
    this.parts.push({ state: state as KeyedState<unknown>, snap });
    return this.placeholder();
  }

  /**
   * A placeholder for a list written later, item by item. The caller hands over a copy of the
   * list whose items are never changed (a shallow copy of a list of immutable records).
   */
  list<T, S>(items: readonly T[], save: (item: T) => S): S[] {
    this.parts.push({ snap: new ListSnapshot(items, save) });
    return this.placeholder() as unknown as S[];
  }

  /** A placeholder for a part that writes its own JSON value in slices (a CompactState's bytes). */
  part(part: DeferredPart): string {
    this.parts.push({ snap: part });
    return this.placeholder();
  }

  private placeholder(): string {
    return `@deferred:${this.nonce}:${this.parts.length - 1}@`;
  }

  /** Writes up to `budget` more groups (a map with none left costs one); true once all are written. */
  step(budget: number): boolean {
    while (this.current < this.parts.length && budget > 0) {
      const { state, snap } = this.parts[this.current]!;
      budget = snap.step(budget);
      if (!snap.done) return false;
      snap.entriesText(); // join it now, in this slice, rather than all maps at the end
      state?.endSnapshot(snap as IncrementalSnapshot<unknown, unknown>); // every group written: no more copies
      this.current++;
      budget--;
    }
    return this.current >= this.parts.length;
  }

  /** The snapshot as JSON text; `skeleton` is JSON.stringify of the object with placeholders. */
  text(skeleton: string): string {
    if (!this.step(Number.POSITIVE_INFINITY)) throw new Error('unreachable');
    const pieces = skeleton.split(new RegExp(`"@deferred:${this.nonce}:(\\d+)@"`));
    let out = pieces[0]!;
    for (let i = 1; i < pieces.length; i += 2)
      out += this.parts[Number(pieces[i])]!.snap.entriesText() + pieces[i + 1]!;
    this.end();
    return out;
  }

  /** Stops the copy-on-write of every map (the snapshot is given up, or done). */
  end(): void {
    for (const { state, snap } of this.parts) state?.endSnapshot(snap as IncrementalSnapshot<unknown, unknown>);
  }
}

/** A part of a deferred snapshot: written in steps, then read as JSON text. */
export interface DeferredPart {
  readonly done: boolean;
  /** Writes up to `budget` more items; returns the budget left. */
  step(budget: number): number;
  entriesText(): string;
}

/** A list that no longer changes, written item by item. */
class ListSnapshot<T, S> implements DeferredPart {
  private readonly texts: string[] = [];
  private next = 0;
  private sealed: string | undefined;

  constructor(
    private readonly items: readonly T[],
    private readonly save: (item: T) => S,
  ) {}

  get done(): boolean {
    return this.next >= this.items.length;
  }

  step(budget: number): number {
    while (budget > 0 && this.next < this.items.length) {
      this.texts.push(JSON.stringify(this.save(this.items[this.next++]!)));
      budget--;
    }
    return budget;
  }

  entriesText(): string {
    this.step(Number.POSITIVE_INFINITY);
    this.sealed ??= `[${this.texts.join(',')}]`;
    this.texts.length = 0;
    return this.sealed;
  }
}

/**
 * Per-group state of one rule, bounded: at most `maxKeys` groups are tracked, and when a new
 * group would exceed that, a stale one is evicted and counted.
 *
 * Eviction is second-chance (CLOCK), an approximation of least-recently-used: groups are kept
 * in an eviction order, touching a group only marks it used, and eviction takes from the
 * stalest end, moving used ones to the back (clearing the mark) and evicting the first unused
 * one. Reordering on every touch would be exact LRU but costs more than the whole rule
 * evaluation on large maps.
 *
 * The order is an array of slots beside the Map that finds them, not the Map's own order: a
 * V8 Map keeps deleted entries as holes until it rehashes, so taking its first entry over and
 * over walks more holes each time (100k inserts at the bound went from 56 ms to 15 s). The
 * array's deleted slots are skipped and compacted away once they outnumber the live ones, so
 * each operation costs O(1) amortised whatever the state's history. Iteration (`entries`,
 * `sweep`, snapshots) follows the eviction order too, so a restored state iterates, evicts
 * and snapshots exactly as the one it was saved from.
 *
 * Contract for callers: a value returned by `peek` is read, never changed; values are changed
 * only through what `touch`, `entries` and `sweep` hand out, and replaced with `set`. That is
 * what lets an incremental snapshot copy a group just before it changes.
 */
export class KeyedState<V> {
  private readonly map = new Map<string, Slot<V>>();
  /** The eviction order, stalest first from `head`; dead slots (deleted, evicted, moved back) are skipped. */
  private order: Slot<V>[] = [];
  private head = 0;
  /** Dead slots in `order` from `head` on. */
  private dead = 0;
  /** Iterations in progress: the order is not compacted under them. */
  private iterating = 0;
  private snap: IncrementalSnapshot<V, unknown> | undefined;
  evictions = 0;

  /** @param evicted told of each group evicted (key limit or shed), for callers that count what groups hold. */
  constructor(
    readonly maxKeys: number,
    private readonly evicted?: (value: V) => void,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** The group's state, marked as used; created with `init` when absent. */
  touch(key: string, init: () => V): V {
    const slot = this.map.get(key);
    if (slot !== undefined) {
      this.snap?.preserve(key, slot);
      slot.used = true;
      return slot.value;
    }
    const value = init();
    this.add(key, value);
    return value;
  }

  /** Sets the group's state, marking it used. */
  set(key: string, value: V): void {
    const slot = this.map.get(key);
    if (slot !== undefined) {
      this.snap?.preserve(key, slot);
      slot.value = value;
      slot.used = true;
      return;
    }
    this.add(key, value);
  }

  /** The group's state without marking it used. Read it; do not change it. */
  peek(key: string): V | undefined {
    return this.map.get(key)?.value;
  }

  delete(key: string): void {
    const slot = this.map.get(key);
    if (slot === undefined) return;
    this.snap?.preserve(key, slot);
    this.map.delete(key);
    this.kill(slot);
    this.compact();
  }

  private add(key: string, value: V): void {
    // A group born during an incremental snapshot is not part of it.
    const slot: Slot<V> = { key, value, alive: true, used: false, mark: this.snap?.id ?? 0, index: -1 };
    this.map.set(key, slot);
    this.order.push(slot);
    this.evictOverflow();
  }

  private kill(slot: Slot<V>): void {
    slot.alive = false;
    this.dead++;
  }

  /**
   * Evicts the stalest `count` groups, in the order the key limit would (memory pressure),
   * and returns how many went. Counted in `evictions`.
   */
  shed(count: number): number {
    const before = this.map.size;
    this.evictOverflow(Math.max(0, before - Math.max(0, Math.floor(count))));
    return before - this.map.size;
  }

  /** Evicts the stalest `fraction` (0–1) of the groups, rounded up: `shed` by share. */
  shedShare(fraction: number): number {
    return this.shed(Math.ceil(this.map.size * fraction));
  }

  private evictOverflow(limit = this.maxKeys): void {
    while (this.map.size > limit) {
      const slot = this.order[this.head++]!;
      if (!slot.alive) {
        this.dead--;
        continue;
      }
      if (slot.used) {
        // Second chance: to the back, unmarked (its old place is behind `head` now).
        this.snap?.preserve(slot.key, slot);
        slot.used = false;
        this.order.push(slot);
        continue;
      }
      this.snap?.preserve(slot.key, slot);
      this.map.delete(slot.key);
      slot.alive = false;
      this.evictions++;
      this.evicted?.(slot.value);
    }
    this.compact();
  }

  /** Drops the dead and the taken part of the order once they outnumber the live slots. */
  private compact(): void {
    const waste = this.head + this.dead;
    if (this.iterating > 0 || waste < 1024 || waste < this.map.size) return;
    const live: Slot<V>[] = [];
    for (let i = this.head; i < this.order.length; i++) {
      const slot = this.order[i]!;
      if (slot.alive) live.push(slot);
    }
    this.order = live;
    this.head = 0;
    this.dead = 0;
  }

  /** Live slots in eviction order; the order is not compacted while this runs. */
  private *slots(): IterableIterator<Slot<V>> {
    this.iterating++;
    try {
      for (let i = this.head; i < this.order.length; i++) {
        const slot = this.order[i]!;
        if (slot.alive) yield slot;
      }
    } finally {
      this.iterating--;
    }
  }

  /** Drops every group for which `expired` says so (expired windows, stale sessions); it may change the others. */
  sweep(expired: (value: V, key: string) => boolean): void {
    this.iterating++;
    try {
      const { order } = this;
      for (let i = this.head; i < order.length; i++) {
        const slot = order[i]!;
        if (!slot.alive) continue;
        this.snap?.preserve(slot.key, slot);
        if (expired(slot.value, slot.key)) {
          this.map.delete(slot.key);
          this.kill(slot);
        }
      }
    } finally {
      this.iterating--;
    }
    this.compact();
  }

  /** Every group, to read or change. */
  *entries(): IterableIterator<[string, V]> {
    for (const slot of this.slots()) {
      this.snap?.preserve(slot.key, slot);
      yield [slot.key, slot.value];
    }
  }

  /**
   * In eviction order (stalest first), with each group's used mark (a trailing 1), so a restore
   * rebuilds the same order and evicts exactly what the engine before it would have. Given a
   * DeferredSnapshot, returns at once with a placeholder for the entries and writes them
   * incrementally as the DeferredSnapshot is stepped.
   */
  snapshot<S>(save: (value: V) => S, deferred?: DeferredSnapshot): KeyedSnapshot<S> {
    if (deferred) {
      if (this.snap) throw new Error('a snapshot of this state is already in progress');
      const snap = new IncrementalSnapshot<V, S>(this.map, this.slots(), save, this.evictions);
      this.snap = snap as IncrementalSnapshot<V, unknown>;
      return { evictions: this.evictions, entries: deferred.register(this, snap) as unknown as [string, S, 1?][] };
    }
    const entries: [string, S, 1?][] = [];
    for (const s of this.slots()) entries.push(s.used ? [s.key, save(s.value), 1] : [s.key, save(s.value)]);
    return { evictions: this.evictions, entries };
  }

  /** Ends the incremental snapshot `snap` (done or given up): changes no longer copy first. */
  endSnapshot(snap: IncrementalSnapshot<V, unknown>): void {
    if (this.snap === snap) this.snap = undefined;
  }

  restore<S>(snap: KeyedSnapshot<S>, load: (saved: S) => V): void {
    this.map.clear();
    this.order = [];
    this.head = 0;
    this.dead = 0;
    this.evictions = snap.evictions;
    for (const [key, s, used] of snap.entries) {
      const slot: Slot<V> = { key, value: load(s), alive: true, used: used === 1, mark: 0, index: -1 };
      this.map.set(key, slot);
      this.order.push(slot);
    }
  }
}

export type { IncrementalSnapshot };
