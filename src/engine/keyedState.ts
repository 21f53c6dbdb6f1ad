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
  value: V;
  /** Touched since the slot last reached the head of the eviction order. */
  used: boolean;
}

/**
 * Per-group state of one rule, bounded: at most `maxKeys` groups are tracked, and when a new
 * group would exceed that, a stale one is evicted and counted.
 *
 * Eviction is second-chance (CLOCK), an approximation of least-recently-used: a Map keeps
 * insertion order, touching a group only marks it used, and eviction walks from the oldest
 * entry, moving used ones to the back (clearing the mark) and evicting the first unused one.
 * Reordering the Map on every touch (delete + set) would be exact LRU but costs more than the
 * whole rule evaluation on large maps, and leaves holes that double the Map's memory.
 */
export class KeyedState<V> {
  private readonly map = new Map<string, Slot<V>>();
  evictions = 0;

  constructor(readonly maxKeys: number) {}

  get size(): number {
    return this.map.size;
  }

  /** The group's state, marked as used; created with `init` when absent. */
  touch(key: string, init: () => V): V {
    const slot = this.map.get(key);
    if (slot !== undefined) {
      slot.used = true;
      return slot.value;
    }
    const value = init();
    this.map.set(key, { value, used: false });
    this.evictOverflow();
    return value;
  }

  /** Sets the group's state, marking it used. */
  set(key: string, value: V): void {
    const slot = this.map.get(key);
    if (slot !== undefined) {
      slot.value = value;
      slot.used = true;
      return;
    }
    this.map.set(key, { value, used: false });
    this.evictOverflow();
  }

  /** The group's state without marking it used. */
  peek(key: string): V | undefined {
    return this.map.get(key)?.value;
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  private evictOverflow(): void {
    while (this.map.size > this.maxKeys) {
      const [key, slot] = this.map.entries().next().value as [string, Slot<V>];
      this.map.delete(key);
      if (slot.used) {
        slot.used = false;
        this.map.set(key, slot);
      } else this.evictions++;
    }
  }

  /** Drops every group for which `expired` says so (expired windows, stale sessions). */
  sweep(expired: (value: V, key: string) => boolean): void {
    for (const [key, slot] of this.map) if (expired(slot.value, key)) this.map.delete(key);
  }

  *entries(): IterableIterator<[string, V]> {
    for (const [key, slot] of this.map) yield [key, slot.value];
  }

  /**
   * In eviction order (stalest first), with each group's used mark (a trailing 1), so a restore
   * rebuilds the same order and evicts exactly what the engine before it would have.
   */
  snapshot<S>(save: (value: V) => S): KeyedSnapshot<S> {
    return {
      evictions: this.evictions,
      entries: [...this.map].map(([k, s]): [string, S, 1?] => (s.used ? [k, save(s.value), 1] : [k, save(s.value)])),
    };
  }

  restore<S>(snap: KeyedSnapshot<S>, load: (saved: S) => V): void {
    this.map.clear();
    this.evictions = snap.evictions;
    for (const [k, s, used] of snap.entries) this.map.set(k, { value: load(s), used: used === 1 });
  }
}
