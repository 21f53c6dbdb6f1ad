import type { CorrelationRule } from '../../rules/model.js';
import { parseTimespan } from '../../time/duration.js';
import {
  combinedFieldReader,
  groupReader,
  type CorrelatorFactory,
  type CorrelatorOptions,
  type Firing,
  type Hit,
} from './correlator.js';
import { CompactStateCorrelator } from './compactStateCorrelator.js';

/** Values remembered per group; beyond this the least recently seen is forgotten. */
const VALUES_PER_GROUP = 64;
/** Known values an alert lists, most recently seen first. */
const KNOWN_IN_CONTEXT = 10;

/** A baseline as the versions that kept it on the heap saved it. */
interface SavedBaseline {
  start: number;
  last: number;
  values: [string, number][];
}

/**
 * New value: a group (e.g. a user) shows a `field` value (e.g. a country) it has not shown
 * before, once its learning period is over. Values unseen for longer than the timespan are
 * forgotten, so they count as new again. With several fields listed, the value is those
 * present joined (a device fingerprint of user agent and JA4).
 */
export const newValue: CorrelatorFactory = (rule, options) => new NewValue(rule, options);

class NewValue extends CompactStateCorrelator<SavedBaseline> {
  protected readonly textValues = false;
  private readonly readGroup: ReturnType<typeof groupReader>;
  private readonly readValue: (hit: Hit) => string | undefined;
  private readonly learningMs: number;
  /** `alert_on`: the values that alert when new; undefined, every value. */
  private readonly alertOn: ReadonlySet<string> | undefined;

  constructor(rule: CorrelationRule, options: CorrelatorOptions) {
    super(rule, options);
    this.readGroup = groupReader(rule);
    this.readValue = combinedFieldReader(rule);
    const learning = rule.params.learning_period;
    this.learningMs = typeof learning === 'string' ? (parseTimespan(learning) ?? 0) : 0;
    const alertOn = rule.params.alert_on;
    this.alertOn = Array.isArray(alertOn) ? new Set(alertOn.map(String)) : undefined;
  }

  /** Whether a value last seen at `seen` is still remembered at `time`. */
  private remembered(seen: number, time: number): boolean {
    return this.rule.timespanMs <= 0 || time - seen <= this.rule.timespanMs;
  }

  observe(hit: Hit, watermark: number): Firing | undefined {
    const value = this.readValue(hit);
    if (value === undefined) return undefined;
    const g = this.readGroup(hit);
    if (!g) return undefined;
    if (hit.time < watermark) {
      this.late++;
      return undefined;
    }
    const time = hit.time;
    let start = time;
    let last = time;
    const values: [string, number][] = [];
    if (this.groups.has(g.key)) {
      last = this.groups.foundTime();
      // Everything it knew is forgotten once it was idle beyond the timespan: it learns afresh, as a new group would.
      if (this.remembered(last, time)) start = decodeBaseline(this.groups.foundValue(), values);
      else last = time;
    }
    start = Math.min(start, time);
    last = Math.max(last, time);

    let seen: number | undefined;
    // The other values still remembered, in order of arrival: what the group keeps.
    const kept: [string, number][] = [];
    for (const entry of values) {
      if (entry[0] === value) seen = entry[1];
      else if (this.remembered(entry[1], time)) kept.push(entry);
    }
    const known = seen !== undefined && this.remembered(seen, time);
    // The learning period includes its start, so a group's first hit never fires, even without one.
    const learning = time <= start + this.learningMs;
    let firing: Firing | undefined;
    if (!known && !learning && (this.alertOn === undefined || this.alertOn.has(value))) {
      const knownValues = [...kept]
        .reverse() // of two seen at the same time, the later arrival first
        .sort((x, y) => y[1] - x[1])
        .slice(0, KNOWN_IN_CONTEXT)
        .map(([v]) => v);
      firing = {
        groupKey: g.key,
        group: g.group,
        first: time,
        last: time,
        count: 1,
        eventIds: [hit.eventId],
        context: { field: this.rule.field?.join(', '), value, known: knownValues },
      };
    }
    // What is no longer remembered is dropped now; the value seen goes (or moves) to the end.
    kept.push([value, Math.max(seen ?? time, time)]);
    if (kept.length > VALUES_PER_GROUP) kept.splice(leastRecent(kept), 1);
    this.groups.set(g.key, last, encodeBaseline(start, kept));
    return firing;
  }

  expire(watermark: number): void {
    const span = this.rule.timespanMs;
    // A group idle beyond the timespan has forgotten everything; its next hit starts over anyway.
    if (span > 0) this.groups.sweepBefore(watermark - span);
  }

  protected fromHeap(key: string, b: SavedBaseline): void {
    this.groups.set(key, b.last, encodeBaseline(b.start, b.values));
  }
}

/** The index of the least recently seen value, the last one (just seen) excepted. */
function leastRecent(values: [string, number][]): number {
  let oldest = 0;
  for (let i = 1; i < values.length - 1; i++) if (values[i]![1] < values[oldest]![1]) oldest = i;
  return oldest;
}

let scratch = Buffer.allocUnsafeSlow(4096);

/**
 * A baseline as bytes: the learning period's start (f64), then each value in the order kept:
 * when it was last seen (f64), its length (u32) and its UTF-8 bytes. Returns a view of a
 * shared buffer, valid until the next call.
 */
function encodeBaseline(start: number, values: readonly [string, number][]): Buffer {
  let size = 8;
  for (const [v] of values) size += 12 + v.length * 3;
  if (size > scratch.length) scratch = Buffer.allocUnsafeSlow(size * 2);
  scratch.writeDoubleLE(start, 0);
  let at = 8;
  for (const [v, t] of values) {
    scratch.writeDoubleLE(t, at);
    const n = scratch.write(v, at + 12);
    scratch.writeUInt32LE(n, at + 8);
    at += 12 + n;
  }
  return scratch.subarray(0, at);
}

/** Reads a baseline written by encodeBaseline: pushes its values, returns its start. */
function decodeBaseline(bytes: Buffer, values: [string, number][]): number {
  for (let at = 8; at < bytes.length;) {
    const n = bytes.readUInt32LE(at + 8);
    values.push([bytes.toString('utf8', at + 12, at + 12 + n), bytes.readDoubleLE(at)]);
    at += 12 + n;
  }
  return bytes.readDoubleLE(0);
}
