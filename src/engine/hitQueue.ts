import type { AuthEvent } from '../events/authEvent.js';
import type { Hit } from './correlations/correlator.js';

/** An event with hits waiting for event time to pass it. */
export interface WaitingEvent {
  time: number;
  eventId: string;
  /** The event without its raw record. */
  event: AuthEvent;
  /**
   * In the order the rule index matched them, which depends on the event and the rules alone;
   * each keeps of its record only what the correlations read (or the event itself).
   */
  hits: Hit[];
}

/**
 * Events whose hits wait for event time to pass them, earliest first: a binary min-heap ordered
 * by (time, event id), each event's hits in the order the rule index found them. The order depends on nothing but the
 * events, never on when they arrived, which is what makes any arrival order within the allowed
 * lateness give the same sequence to the correlations, hence the same alerts. One entry per
 * event, not per hit, keeps the heap a few times smaller than the hits it holds.
 */
export class HitQueue {
  private readonly heap: WaitingEvent[] = [];
  private hitCount = 0;

  /** Hits waiting, over all events. */
  get size(): number {
    return this.hitCount;
  }

  /** The earliest event's time; +Infinity when empty. */
  get earliest(): number {
    return this.heap.length > 0 ? this.heap[0]!.time : Number.POSITIVE_INFINITY;
  }

  push(entry: WaitingEvent): void {
    const h = this.heap;
    this.hitCount += entry.hits.length;
    let i = h.length;
    h.push(entry);
    // Sift up, moving parents down into the hole rather than swapping.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent]!;
      if (!before(entry, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = entry;
  }

  /** Removes and returns the earliest event. */
  pop(): WaitingEvent | undefined {
    const h = this.heap;
    const top = h[0];
    if (top === undefined) return undefined;
    this.hitCount -= top.hits.length;
    const last = h.pop()!;
    const n = h.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(h[r]!, h[l]!) ? r : l;
      const child = h[c]!;
      if (!before(child, last)) break;
      h[i] = child;
      i = c;
    }
    h[i] = last;
    return top;
  }

  /** Every waiting event, in no particular order (for snapshots). */
  values(): readonly WaitingEvent[] {
    return this.heap;
  }

  clear(): void {
    this.heap.length = 0;
    this.hitCount = 0;
  }
}

function before(a: WaitingEvent, b: WaitingEvent): boolean {
  if (a.time !== b.time) return a.time < b.time;
  return a.eventId < b.eventId;
}
