import type { CountCondition, CorrelationRule } from '../../rules/model.js';
import { ALERT_SAMPLE_SIZE } from '../alert.js';
import { KeyedState, type DeferredSnapshot, type KeyedSnapshot } from '../keyedState.js';
import {
  groupReader,
  meetsCondition,
  type Correlator,
  type CorrelatorOptions,
  type Firing,
  type Hit,
} from './correlator.js';

/**
 * Per-group event-time sliding windows for the counting correlations (event_count,
 * value_count, value_sum, value_avg, value_percentile).
 *
 * Memory is what matters here: a rule can track 100,000s of groups, most holding one to
 * three entries. So a group's entries are one flat array sorted by time (ties in arrival
 * order), `[time, event id]` or `[time, event id, value]` per entry: no per-entry objects,
 * and one array header instead of one per column. Times are stored relative to the
 * correlator's epoch, which keeps them within V8's small integers: a mixed array holds those
 * unboxed, where an absolute epoch-ms time would need a 16-byte heap number per entry.
 *
 * Every in-order hit is checked against the window ending at the newest entry,
 * `[newest - timespan, newest]`: value windows keep its aggregate incrementally (its first
 * entry `lo`, the sum, the distinct values), the count window finds its start by binary
 * search. Out-of-order hits (rare) scan every window that contains them.
 */

/** Entries `[start, end)` of a window. */
export interface Range {
  start: number;
  end: number;
}

/** What a condition is checked against: the entries of one window, summarised. */
export interface WindowAggregate {
  count: number;
  /** Sum of the values (number windows), else 0. */
  sum: number;
  /** Distinct values (text windows), else 0. */
  distinct: number;
}

export interface Timing {
  timespanMs: number;
  allowedLatenessMs: number;
}

/** A window as `snapshot` writes it: plain arrays, times relative to the snapshot's epoch. */
export interface SavedWindow {
  t: number[];
  e: string[];
  v?: (string | number)[];
  /** The number window's running sum, kept so that float rounding continues exactly. */
  s?: number;
}

type Slot = number | string;

/** A range aggregate that grows at its end and shrinks at its start (the out-of-order scan). */
interface Accumulator {
  add(i: number): void;
  remove(i: number): void;
  sum(): number;
  distinct(): number;
}

/**
 * Below this many entries a window grows by exact copies: V8's `push` on a full array adds at
 * least 16 spare slots, which would more than double a small group's footprint.
 */
const EXACT_GROWTH_LIMIT = 16;

/** Text windows keep per-value counts in a Map above this size and scan below it (a Map costs ~200 bytes). */
const COUNTS_ABOVE = 32;
const COUNTS_DROP_BELOW = 8;

/** Shared by every empty window; never mutated, since growing an empty window copies it. */
const NO_SLOTS: Slot[] = Object.freeze([]) as unknown as Slot[];

export abstract class SlidingWindow<V extends Slot | null> {
  /** The entries, flattened: `stride` slots each, time first, then the event id, then the value. */
  d: Slot[] = NO_SLOTS;

  protected abstract get stride(): number;

  get size(): number {
    return this.d.length / this.stride;
  }

  time(i: number): number {
    return this.d[i * this.stride] as number;
  }

  /** The newest entry's time; -Infinity when empty, so that any hit is in order. */
  get newest(): number {
    return this.d.length === 0 ? -Infinity : this.time(this.size - 1);
  }

  /**
   * Adds an entry and returns its index. Entries that can no longer share a window with any
   * hit that is not late (older than `newest - lateness - timespan`) are dropped, in batches
   * of at least half the entries, so that a long in-order stream does not shift the array on
   * every hit.
   */
  insert(time: number, id: string, value: V, timing: Timing): number {
    const S = this.stride;
    const n = this.size;
    const entry: Slot[] = value === null ? [time, id] : [time, id, value];
    let k: number;
    if (n === 0 || time >= this.time(n - 1)) {
      k = n;
      if (n < EXACT_GROWTH_LIMIT) this.d = this.d.concat(entry);
      else for (const x of entry) this.d.push(x);
    } else {
      k = this.upperBound(time);
      this.d.splice(k * S, 0, ...entry);
    }
    this.entered(k, timing.timespanMs);
    // Bounded by the new entry's own reach too, in case the caller's watermark lags.
    const horizon = Math.min(this.newest - timing.allowedLatenessMs, time) - timing.timespanMs;
    const p = this.lowerBound(horizon);
    if (p > 0 && 2 * p >= this.size) {
      this.dropFront(p);
      k -= p;
    }
    return k;
  }

  /** The window ending at the newest entry, `[newest - timespan, newest]`. */
  abstract current(timespanMs: number): { range: Range; agg: WindowAggregate };

  /** The window ending at entry `k`, `[t_k - timespan, t_k]`. */
  ending(k: number, timespanMs: number): Range {
    const time = this.time(k);
    return { start: this.lowerBound(time - timespanMs), end: this.upperBound(time) };
  }

  aggregate(range: Range): WindowAggregate {
    const acc = this.accumulator();
    for (let i = range.start; i < range.end; i++) acc.add(i);
    return { count: range.end - range.start, sum: acc.sum(), distinct: acc.distinct() };
  }

  /**
   * The first (earliest) window `[s, s + timespan]` containing entry `k` whose aggregate
   * passes `test`. As `s` runs from `t_k - timespan` to `t_k` the window's entries change only
   * where an entry enters (`s = t_j - timespan`) or leaves (just after `s = t_i`); every
   * distinct set of entries is tested once, so this is linear in the entries within
   * `timespan` of entry `k`.
   */
  findWindow(
    k: number,
    timespanMs: number,
    test: (agg: WindowAggregate) => boolean,
  ): { range: Range; agg: WindowAggregate } | undefined {
    const time = this.time(k);
    let i = this.lowerBound(time - timespanMs);
    let j = this.upperBound(time);
    const limit = this.upperBound(time + timespanMs);
    const acc = this.accumulator();
    for (let x = i; x < j; x++) acc.add(x);
    for (;;) {
      const agg = { count: j - i, sum: acc.sum(), distinct: acc.distinct() };
      if (test(agg)) return { range: { start: i, end: j }, agg };
      if (j < limit && this.time(j) - timespanMs <= this.time(i)) {
        const s = this.time(j);
        while (j < limit && this.time(j) === s) acc.add(j++);
      } else {
        const s = this.time(i);
        while (i < j && this.time(i) === s) acc.remove(i++);
        if (i > k) return undefined;
      }
    }
  }

  /**
   * Forgets the oldest entries until `keep` are left (a group over its bound), in or out of
   * the newest window, and returns how many went.
   */
  forgetOldest(keep: number, timespanMs: number): number {
    const p = this.size - keep;
    if (p <= 0) return 0;
    this.d.splice(0, p * this.stride);
    this.rebuild(timespanMs);
    return p;
  }

  /** Removes a window's entries: a firing used them up. */
  consume(range: Range, timespanMs: number): void {
    this.d.splice(range.start * this.stride, (range.end - range.start) * this.stride);
    this.rebuild(timespanMs);
  }

  /**
   * Drops entries older than `horizon`, but never from the window ending at the newest
   * entry, whose aggregate is kept incrementally.
   */
  pruneBefore(horizon: number, timespanMs: number): void {
    const p = this.lowerBound(Math.min(horizon, this.newest - timespanMs));
    if (p > 0) this.dropFront(p);
  }

  /** Moves every time by `-delta` (the correlator's epoch moved by `delta`). */
  shift(delta: number): void {
    for (let i = 0; i < this.d.length; i += this.stride) this.d[i] = (this.d[i] as number) - delta;
  }

  /** What a firing reports about a window (times relative to the epoch). */
  describe(range: Range): Pick<Firing, 'first' | 'last' | 'count' | 'eventIds'> {
    const eventIds: string[] = [];
    for (let i = range.start; i < range.end && eventIds.length < ALERT_SAMPLE_SIZE; i++) eventIds.push(this.id(i));
    return { first: this.time(range.start), last: this.time(range.end - 1), count: range.end - range.start, eventIds };
  }

  save(): SavedWindow {
    const t: number[] = [];
    const e: string[] = [];
    for (let i = 0; i < this.size; i++) {
      t.push(this.time(i));
      e.push(this.id(i));
    }
    return { t, e };
  }

  load(saved: SavedWindow, timespanMs: number): this {
    const d: Slot[] = [];
    for (let i = 0; i < saved.t.length; i++) {
      d.push(saved.t[i]!, saved.e[i]!);
      if (this.stride === 3) d.push(this.loadValue(saved.v?.[i]));
    }
    this.d = d;
    this.rebuild(timespanMs);
    return this;
  }

  protected id(i: number): string {
    return this.d[i * this.stride + 1] as string;
  }

  /** The first entry whose time is `>= x`. */
  protected lowerBound(x: number): number {
    const S = this.stride;
    let lo = 0;
    let hi = this.d.length / S;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.d[mid * S] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The first entry whose time is `> x`. */
  protected upperBound(x: number): number {
    const S = this.stride;
    let lo = 0;
    let hi = this.d.length / S;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.d[mid * S] as number) <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private dropFront(p: number): void {
    this.d.splice(0, p * this.stride);
    this.droppedFront(p);
  }

  /** Updates the newest window's aggregate after entry `k` was inserted. */
  protected abstract entered(k: number, timespanMs: number): void;
  /** The first `p` entries were dropped; none was in the newest window. */
  protected abstract droppedFront(p: number): void;
  /** Recomputes the newest window's aggregate from scratch. */
  protected abstract rebuild(timespanMs: number): void;
  protected abstract loadValue(saved: unknown): Slot;
  protected abstract accumulator(): Accumulator;
}

const NO_VALUES: Accumulator = {
  add() {},
  remove() {},
  sum: () => 0,
  distinct: () => 0,
};

/** event_count: times and ids only. */
export class CountWindow extends SlidingWindow<null> {
  protected get stride(): number {
    return 2;
  }

  current(timespanMs: number): { range: Range; agg: WindowAggregate } {
    const end = this.size;
    const start = this.lowerBound(this.newest - timespanMs);
    return { range: { start, end }, agg: { count: end - start, sum: 0, distinct: 0 } };
  }

  protected entered(): void {}
  protected droppedFront(): void {}
  protected rebuild(): void {}
  protected loadValue(): Slot {
    return 0;
  }
  protected accumulator(): Accumulator {
    return NO_VALUES;
  }
}

/** value_count and value_percentile: a text value per entry, distinct values counted. */
export class TextWindow extends SlidingWindow<string> {
  /** Index of the newest window's first entry. */
  lo = 0;
  /** Distinct values in the newest window. */
  distinct = 0;
  /** Occurrences per value in the newest window, once it is large enough to be worth a Map. */
  counts: Map<string, number> | undefined = undefined;

  protected get stride(): number {
    return 3;
  }

  value(i: number): string {
    return this.d[i * 3 + 2] as string;
  }

  current(): { range: Range; agg: WindowAggregate } {
    const range = { start: this.lo, end: this.size };
    return { range, agg: { count: range.end - range.start, sum: 0, distinct: this.distinct } };
  }

  /** How often `value` occurs in a range. */
  occurrences(value: string, range: Range): number {
    if (this.counts && range.start === this.lo && range.end === this.size) return this.counts.get(value) ?? 0;
    return this.countOf(value, range.start, range.end);
  }

  /** Event ids of the entries in `range` carrying `value`, oldest first, bounded. */
  idsOf(value: string, range: Range): string[] {
    const out: string[] = [];
    for (let i = range.start; i < range.end && out.length < ALERT_SAMPLE_SIZE; i++)
      if (this.value(i) === value) out.push(this.id(i));
    return out;
  }

  /** The distinct values of a range, sorted, bounded. */
  distinctValues(range: Range): string[] {
    const values = new Set<string>();
    for (let i = range.start; i < range.end; i++) values.add(this.value(i));
    return [...values].sort().slice(0, ALERT_SAMPLE_SIZE);
  }

  override save(): SavedWindow {
    const v: string[] = [];
    for (let i = 0; i < this.size; i++) v.push(this.value(i));
    return { ...super.save(), v };
  }

  protected entered(k: number, timespanMs: number): void {
    const from = this.newest - timespanMs;
    if (this.time(k) >= from) this.enter(this.value(k));
    else this.lo++;
    while (this.time(this.lo) < from) this.leave();
    this.resize();
  }

  protected droppedFront(p: number): void {
    this.lo -= p;
  }

  protected rebuild(timespanMs: number): void {
    this.lo = this.lowerBound(this.newest - timespanMs);
    this.counts = undefined;
    const values = new Set<string>();
    for (let i = this.lo; i < this.size; i++) values.add(this.value(i));
    this.distinct = values.size;
    this.resize();
  }

  protected loadValue(saved: unknown): Slot {
    return String(saved);
  }

  protected accumulator(): Accumulator {
    const counts = new Map<string, number>();
    return {
      add: (i) => {
        const x = this.value(i);
        counts.set(x, (counts.get(x) ?? 0) + 1);
      },
      remove: (i) => {
        const x = this.value(i);
        const c = counts.get(x)! - 1;
        if (c === 0) counts.delete(x);
        else counts.set(x, c);
      },
      sum: () => 0,
      distinct: () => counts.size,
    };
  }

  private countOf(value: string, start: number, end: number): number {
    let c = 0;
    for (let i = start; i < end; i++) if (this.value(i) === value) c++;
    return c;
  }

  /** A value entered the newest window (it is already stored, inside `[lo, size)`). */
  private enter(value: string): void {
    if (this.counts) {
      const c = this.counts.get(value) ?? 0;
      this.counts.set(value, c + 1);
      if (c === 0) this.distinct++;
    } else if (this.countOf(value, this.lo, this.size) === 1) this.distinct++;
  }

  /** The newest window's first entry leaves it. */
  private leave(): void {
    const value = this.value(this.lo++);
    if (this.counts) {
      const c = this.counts.get(value)! - 1;
      if (c === 0) {
        this.counts.delete(value);
        this.distinct--;
      } else this.counts.set(value, c);
    } else if (this.countOf(value, this.lo, this.size) === 0) this.distinct--;
  }

  private resize(): void {
    const size = this.size - this.lo;
    if (!this.counts && size > COUNTS_ABOVE) {
      const counts = new Map<string, number>();
      for (let i = this.lo; i < this.size; i++) counts.set(this.value(i), (counts.get(this.value(i)) ?? 0) + 1);
      this.counts = counts;
    } else if (this.counts && size < COUNTS_DROP_BELOW) this.counts = undefined;
  }
}

/** value_sum and value_avg: a number per entry, the newest window's sum kept. */
export class NumberWindow extends SlidingWindow<number> {
  lo = 0;
  sum = 0;

  protected get stride(): number {
    return 3;
  }

  value(i: number): number {
    return this.d[i * 3 + 2] as number;
  }

  current(): { range: Range; agg: WindowAggregate } {
    const range = { start: this.lo, end: this.size };
    return { range, agg: { count: range.end - range.start, sum: this.sum, distinct: 0 } };
  }

  override save(): SavedWindow {
    const v: number[] = [];
    for (let i = 0; i < this.size; i++) v.push(this.value(i));
    return { ...super.save(), v, s: this.sum };
  }

  override load(saved: SavedWindow, timespanMs: number): this {
    super.load(saved, timespanMs);
    if (typeof saved.s === 'number') this.sum = saved.s;
    return this;
  }

  protected entered(k: number, timespanMs: number): void {
    const from = this.newest - timespanMs;
    if (this.time(k) >= from) this.sum += this.value(k);
    else this.lo++;
    while (this.time(this.lo) < from) this.sum -= this.value(this.lo++);
    // Running sums drift with float rounding; a one-entry window resets the drift.
    if (this.lo === this.size - 1) this.sum = this.value(this.lo);
  }

  protected droppedFront(p: number): void {
    this.lo -= p;
  }

  protected rebuild(timespanMs: number): void {
    this.lo = this.lowerBound(this.newest - timespanMs);
    let sum = 0;
    for (let i = this.lo; i < this.size; i++) sum += this.value(i);
    this.sum = sum;
  }

  protected loadValue(saved: unknown): Slot {
    return Number(saved);
  }

  protected accumulator(): Accumulator {
    let sum = 0;
    return {
      add: (i) => {
        sum += this.value(i);
      },
      remove: (i) => {
        sum -= this.value(i);
      },
      sum: () => sum,
      distinct: () => 0,
    };
  }
}

/** What a correlation reports for the window that met its condition. */
export interface Evaluation {
  range: Range;
  context: Record<string, unknown>;
  /** Instead of the window's oldest ids (value_percentile reports the rare value's events). */
  eventIds?: string[];
}

export interface WindowCorrelatorSpec<V extends Slot | null, W extends SlidingWindow<V>> {
  create(): W;
  /** The value a hit adds to its group's window; undefined: the hit is not counted. */
  read(hit: Hit): V | undefined;
  /** Checks the condition after entry `k` (the hit's) was inserted; `inOrder`: it is the newest. */
  evaluate(window: W, k: number, inOrder: boolean, value: V): Evaluation | undefined;
  /** Whether a firing uses up its window's entries. */
  consumes: boolean;
  /** Whether firings list the window's distinct values (value_count). */
  distinctValues?: boolean;
}

/**
 * Whether a condition needs enough events to hold (`gt`, `gte`, `eq`). Only such conditions
 * consume their window on firing: one that holds for few events (`lt: 3`) would, after a
 * reset, hold for every single hit, so it is checked on the window ending at each hit instead.
 */
export function lowerBounded(condition: CountCondition): boolean {
  return condition.gt !== undefined || condition.gte !== undefined || condition.eq !== undefined;
}

/**
 * The evaluation shared by event_count, value_count, value_sum and value_avg: `metric` of a
 * window against the rule's condition. An in-order hit is checked on the window ending at it
 * (no window containing it holds more of the group's entries); an out-of-order one on every
 * window containing it, when the condition is lower-bounded, else on the window ending at it.
 */
export function conditionEvaluator<V extends Slot | null, W extends SlidingWindow<V>>(
  rule: CorrelationRule,
  metric: (agg: WindowAggregate) => number,
  context: (agg: WindowAggregate) => Record<string, unknown>,
): WindowCorrelatorSpec<V, W>['evaluate'] {
  const { condition, timespanMs } = rule;
  const test = (agg: WindowAggregate) => meetsCondition(metric(agg), condition);
  const scan = lowerBounded(condition);
  return (w, k, inOrder) => {
    let found: { range: Range; agg: WindowAggregate } | undefined;
    if (inOrder) found = w.current(timespanMs);
    else if (scan) return toEvaluation(w.findWindow(k, timespanMs, test), context);
    else {
      const range = w.ending(k, timespanMs);
      found = { range, agg: w.aggregate(range) };
    }
    return test(found.agg) ? toEvaluation(found, context) : undefined;
  };
}

function toEvaluation(
  found: { range: Range; agg: WindowAggregate } | undefined,
  context: (agg: WindowAggregate) => Record<string, unknown>,
): Evaluation | undefined {
  return found && { range: found.range, context: context(found.agg) };
}

interface SavedCorrelator {
  version: 1;
  /** What the windows' times are relative to; null before the first hit. */
  epoch: number | null;
  late: number;
  /** Entries forgotten at the group bound; absent in snapshots from before it existed. */
  forgotten?: number;
  groups: KeyedSnapshot<SavedWindow>;
}

/**
 * How far the epoch may fall behind the watermark before `expire` moves it up: half of
 * 2^30 ms, so that recent times stay small integers even where V8 has 31-bit ones.
 */
const REBASE_AFTER = 2 ** 29;

/** A Correlator over per-group sliding windows; the types differ only in `spec`. */
export function windowCorrelator<V extends Slot | null, W extends SlidingWindow<V>>(
  rule: CorrelationRule,
  options: CorrelatorOptions,
  spec: WindowCorrelatorSpec<V, W>,
): Correlator {
  const timing: Timing = { timespanMs: rule.timespanMs, allowedLatenessMs: options.allowedLatenessMs };
  const readGroup = groupReader(rule);
  // Made once: a closure per hit would be garbage on the hot path.
  const create = () => spec.create();
  /** Entries in all windows, for the estimate of the bytes the rule holds. */
  let entries = 0;
  const state = new KeyedState<W>(options.maxKeys, (w) => (entries -= w.size));
  const bound = groupEntryBound(rule, options.maxGroupEntries);
  // Down to three quarters at the bound: the window is copied once per quarter of it, not per hit.
  const keep = Math.ceil((bound * 3) / 4);
  let epoch: number | undefined;
  let late = 0;
  let forgotten = 0;

  return {
    rule,
    observe(hit, watermark) {
      if (hit.time < watermark) {
        late++;
        return undefined;
      }
      if (!Number.isFinite(hit.time)) return undefined;
      const g = readGroup(hit);
      if (!g) return undefined;
      const value = spec.read(hit);
      if (value === undefined) return undefined;
      epoch ??= Math.floor(hit.time);
      const time = hit.time - epoch;
      const w = state.touch(g.key, create);
      const inOrder = time >= w.newest;
      const before = w.size;
      let k = w.insert(time, hit.eventId, value, timing);
      if (w.size > bound) {
        const p = w.forgetOldest(keep, timing.timespanMs);
        forgotten += p;
        k -= p;
      }
      entries += w.size - before;
      if (k < 0) return undefined; // a hit older than every entry kept: forgotten with them
      const found = spec.evaluate(w, k, inOrder, value);
      if (!found) return undefined;
      const described = w.describe(found.range);
      const firing: Firing = {
        groupKey: g.key,
        group: g.group,
        first: described.first + epoch,
        last: described.last + epoch,
        count: described.count,
        eventIds: found.eventIds ?? described.eventIds,
        ...(spec.distinctValues && w instanceof TextWindow ? { distinctValues: w.distinctValues(found.range) } : {}),
        context: found.context,
      };
      if (spec.consumes) {
        entries -= found.range.end - found.range.start;
        w.consume(found.range, timing.timespanMs);
        if (w.size === 0) state.delete(g.key);
      }
      return firing;
    },
    expire(watermark) {
      if (epoch === undefined) return;
      // No hit at or after the watermark shares a window with entries older than this.
      const horizon = watermark - timing.timespanMs - epoch;
      state.sweep((w) => {
        const before = w.size;
        if (w.newest < horizon) {
          entries -= before;
          return true;
        }
        w.pruneBefore(horizon, timing.timespanMs);
        entries += w.size - before;
        return false;
      });
      if (watermark - epoch > REBASE_AFTER) {
        const delta = Math.floor(watermark) - epoch;
        for (const [, w] of state.entries()) w.shift(delta);
        epoch += delta;
      }
    },
    stats() {
      return { keys: state.size, evictions: state.evictions, late, entriesForgotten: forgotten, entries };
    },
    shed(fraction) {
      return state.shedShare(fraction);
    },
    snapshot(deferred?: DeferredSnapshot): SavedCorrelator {
      return {
        version: 1,
        epoch: epoch ?? null,
        late,
        forgotten,
        groups: state.snapshot((w) => w.save(), deferred),
      };
    },
    restore(saved) {
      const s = parseSaved(saved);
      epoch = s.epoch ?? undefined;
      late = s.late;
      forgotten = s.forgotten ?? 0;
      state.restore(s.groups, (w) => spec.create().load(w, timing.timespanMs));
      entries = 0;
      for (const [, w] of state.entries()) entries += w.size;
    },
  };
}

/**
 * The most entries a group's window may hold: the configured bound, but for the rules that
 * count entries or distinct values at least twice the highest count in their condition. Then
 * forgetting the oldest quarter never takes an event count from above the threshold to below
 * it. A distinct count can fall, when the newest entries repeat few values, and fires later.
 */
export function groupEntryBound(rule: CorrelationRule, configured: number | undefined): number {
  if (configured === undefined) return Infinity;
  if (rule.type !== 'event_count' && rule.type !== 'value_count') return configured;
  const c = rule.condition;
  const highest = Math.max(0, ...[c.gt, c.gte, c.eq, c.lt, c.lte].filter((x): x is number => typeof x === 'number'));
  return Math.max(configured, 2 * Math.ceil(highest) + 2);
}

function parseSaved(x: unknown): SavedCorrelator {
  if (typeof x !== 'object' || x === null) invalid('not an object');
  const s = x as Partial<SavedCorrelator>;
  if (s.version !== 1) invalid(`version ${String(s.version)}`);
  if (s.epoch !== null && typeof s.epoch !== 'number') invalid('epoch');
  if (typeof s.late !== 'number') invalid('late');
  if (s.forgotten !== undefined && typeof s.forgotten !== 'number') invalid('forgotten');
  const g = s.groups;
  if (typeof g !== 'object' || g === null || typeof g.evictions !== 'number' || !Array.isArray(g.entries))
    invalid('groups');
  if (s.epoch === null && g.entries.length > 0) invalid('windows without an epoch');
  for (const entry of g.entries as unknown[]) {
    const [key, w] = (Array.isArray(entry) ? entry : []) as [unknown, Partial<SavedWindow> | null | undefined];
    if (typeof key !== 'string' || typeof w !== 'object' || w === null) invalid('group entry');
    if (!Array.isArray(w.t) || !Array.isArray(w.e) || w.t.length !== w.e.length) invalid(`window of ${key}`);
    if (w.v !== undefined && (!Array.isArray(w.v) || w.v.length !== w.t.length)) invalid(`values of ${key}`);
  }
  return s as SavedCorrelator;
}

function invalid(why: string): never {
  throw new Error(`not a sliding-window correlator snapshot: ${why}`);
}
