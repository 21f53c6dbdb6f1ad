import type { CorrelationRule } from '../../rules/model.js';
import { CompactState, type CompactSnapshot } from '../compactState.js';
import type { DeferredSnapshot, KeyedSnapshot } from '../keyedState.js';
import type { Correlator, CorrelatorOptions, CorrelatorStats, Firing, Hit } from './correlator.js';

/** What the correlators built on CompactStateCorrelator write to a snapshot. */
export interface CompactStateSnapshot {
  late: number;
  compact: CompactSnapshot;
}

/**
 * The bookkeeping shared by the long-horizon correlations (dormant account, new value): one
 * record per group in a CompactState outside the heap, bounded by `compactBytes` rather than
 * by the key limit, and left alone when the heap outgrows its budget, so the groups idle
 * longest, the ones these rules look for, are kept. Snapshots of the versions that kept these
 * groups on the heap (`groups` as a KeyedSnapshot) are still restored, through `fromHeap`.
 */
export abstract class CompactStateCorrelator<H> implements Correlator {
  protected readonly groups: CompactState;
  protected late = 0;

  constructor(
    readonly rule: CorrelationRule,
    options: CorrelatorOptions,
  ) {
    this.groups = new CompactState(options.compactBytes);
  }

  /** Whether the groups' values are set as text (an event id) rather than bytes. */
  protected abstract readonly textValues: boolean;
  abstract observe(hit: Hit, watermark: number): Firing | undefined;
  abstract expire(watermark: number): void;
  /** Stores one group as an earlier version saved it on the heap. */
  protected abstract fromHeap(key: string, saved: H): void;

  stats(): CorrelatorStats {
    return { keys: this.groups.size, evictions: this.groups.evictions, late: this.late, bytes: this.groups.bytes };
  }

  /** Off the heap: a full heap is no reason to forget the accounts idle longest. */
  shed(): number {
    return 0;
  }

  snapshot(deferred?: DeferredSnapshot): CompactStateSnapshot {
    return { late: this.late, compact: this.groups.snapshot(deferred && ((part) => deferred.part(part))) };
  }

  restore(state: unknown): void {
    const s = state as CompactStateSnapshot & { groups?: KeyedSnapshot<H> };
    this.late = s.late;
    if (s.compact) {
      this.groups.restore(s.compact, this.textValues);
      return;
    }
    // Stalest first, as the heap version saved them: the arena keeps that order.
    for (const [key, saved] of s.groups?.entries ?? []) this.fromHeap(key, saved);
    this.groups.evictions = s.groups?.evictions ?? 0;
  }
}
