import type { CorrelationRule } from '../../rules/model.js';
import { KeyedState, type DeferredSnapshot, type KeyedSnapshot } from '../keyedState.js';
import type { Correlator, CorrelatorOptions, CorrelatorStats, Firing, Hit } from './correlator.js';

/** What the correlators built on GroupStateCorrelator write to a snapshot. */
export interface GroupStateSnapshot<S> {
  late: number;
  groups: KeyedSnapshot<S>;
}

/**
 * The bookkeeping shared by correlators that keep one value per group (a last location, a
 * list of recent values, a baseline): the bounded group map, the late counter, stats, and a
 * snapshot that copies each group's value through `save` and `load`.
 */
export abstract class GroupStateCorrelator<V, S> implements Correlator {
  protected readonly groups: KeyedState<V>;
  protected late = 0;

  constructor(
    readonly rule: CorrelationRule,
    options: CorrelatorOptions,
  ) {
    this.groups = new KeyedState(options.maxKeys);
  }

  abstract observe(hit: Hit, watermark: number): Firing | undefined;
  abstract expire(watermark: number): void;
  /** A group's value as plain JSON. */
  protected abstract save(value: V): S;
  protected abstract load(saved: S): V;

  stats(): CorrelatorStats {
    return { keys: this.groups.size, evictions: this.groups.evictions, late: this.late };
  }

  shed(fraction: number): number {
    return this.groups.shedShare(fraction);
  }

  snapshot(deferred?: DeferredSnapshot): GroupStateSnapshot<S> {
    return { late: this.late, groups: this.groups.snapshot((v) => this.save(v), deferred) };
  }

  restore(state: unknown): void {
    const s = state as GroupStateSnapshot<S>;
    this.late = s.late;
    this.groups.restore(s.groups, (saved: S) => this.load(saved));
  }
}
