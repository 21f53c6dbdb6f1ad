/**
 * A bounded map of recent answers, forgetting the oldest insertion first. Insertion order is
 * kept in a ring beside the Map: evicting with `map.keys().next()` walks the Map's deleted
 * entries from the front on every miss, which cost ~40 % of the cached geo throughput.
 */
export class RecentCache<V> {
  private readonly map = new Map<string, V>();
  private readonly ring: string[] = [];
  private next = 0;

  constructor(readonly capacity: number) {}

  /** The answer kept for `key`; undefined when none is. */
  get(key: string): V | undefined {
    return this.map.get(key);
  }

  set(key: string, value: V): void {
    if (this.capacity <= 0 || this.map.has(key)) return;
    if (this.ring.length < this.capacity) {
      this.ring.push(key);
    } else {
      this.map.delete(this.ring[this.next]!);
      this.ring[this.next] = key;
      this.next = this.next + 1 === this.capacity ? 0 : this.next + 1;
    }
    this.map.set(key, value);
  }

  get size(): number {
    return this.map.size;
  }
}
