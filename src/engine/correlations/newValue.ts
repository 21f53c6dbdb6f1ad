import type { CorrelationRule } from '../../rules/model.js';
import { parseTimespan } from '../../time/duration.js';
import {
  fieldReader,
  groupReader,
  scalarText,
  type CorrelatorFactory,
  type CorrelatorOptions,
  type Firing,
  type Hit,
} from './correlator.js';
import { GroupStateCorrelator } from './groupStateCorrelator.js';

/** Values remembered per group; beyond this the least recently seen is forgotten. */
const VALUES_PER_GROUP = 64;
/** Known values an alert lists, most recently seen first. */
const KNOWN_IN_CONTEXT = 10;

interface Baseline {
  /** Event time of the group's first hit: the learning period starts here. */
  start: number;
  /** Event time of the group's newest hit. */
  last: number;
  /** Value → when it was last seen. */
  values: Map<string, number>;
}

/** A baseline as JSON: the values map as entries. */
interface SavedBaseline {
  start: number;
  last: number;
  values: [string, number][];
}

/**
 * New value: a group (e.g. a user) shows a `field` value (e.g. a country) it has not shown
 * before, once its learning period is over. Values unseen for longer than the timespan are
 * forgotten, so they count as new again.
 */
export const newValue: CorrelatorFactory = (rule, options) => new NewValue(rule, options);

class NewValue extends GroupStateCorrelator<Baseline, SavedBaseline> {
  private readonly readGroup: ReturnType<typeof groupReader>;
  private readonly readField: (hit: Hit) => unknown;
  private readonly learningMs: number;

  constructor(rule: CorrelationRule, options: CorrelatorOptions) {
    super(rule, options);
    this.readGroup = groupReader(rule);
    this.readField = fieldReader(rule);
    const learning = rule.params.learning_period;
    this.learningMs = typeof learning === 'string' ? (parseTimespan(learning) ?? 0) : 0;
  }

  /** Whether a value last seen at `seen` is still remembered at `time`. */
  private remembered(seen: number, time: number): boolean {
    return this.rule.timespanMs <= 0 || time - seen <= this.rule.timespanMs;
  }

  observe(hit: Hit, watermark: number): Firing | undefined {
    const value = scalarText(this.readField(hit));
    if (value === undefined) return undefined;
    const g = this.readGroup(hit);
    if (!g) return undefined;
    if (hit.time < watermark) {
      this.late++;
      return undefined;
    }
    const time = hit.time;
    const b = this.groups.touch(g.key, () => ({ start: time, last: time, values: new Map() }));
    if (!this.remembered(b.last, time)) {
      // Everything it knew is forgotten: no baseline is left, so it learns afresh, as a new group would.
      b.start = time;
      b.values.clear();
    }
    b.start = Math.min(b.start, time);
    b.last = Math.max(b.last, time);

    const seen = b.values.get(value);
    const known = seen !== undefined && this.remembered(seen, time);
    // The learning period includes its start, so a group's first hit never fires, even without one.
    const learning = time <= b.start + this.learningMs;
    let firing: Firing | undefined;
    if (!known && !learning) {
      const others = [...b.values]
        .filter(([v, t]) => v !== value && this.remembered(t, time))
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
        context: { field: this.rule.field?.[0], value, known: others },
      };
    }
    b.values.set(value, Math.max(seen ?? time, time));
    if (b.values.size > VALUES_PER_GROUP) b.values.delete(leastRecent(b.values, value));
    return firing;
  }

  expire(watermark: number): void {
    const span = this.rule.timespanMs;
    if (span <= 0) return;
    const horizon = watermark - span;
    // A group idle beyond the timespan has forgotten everything; its next hit starts over anyway.
    this.groups.sweep((b) => b.last < horizon);
    for (const [, b] of this.groups.entries()) {
      for (const [v, t] of b.values) if (t < horizon) b.values.delete(v);
    }
  }

  protected save(b: Baseline): SavedBaseline {
    return { start: b.start, last: b.last, values: [...b.values] };
  }

  protected load(b: SavedBaseline): Baseline {
    return { start: b.start, last: b.last, values: new Map(b.values) };
  }
}

function leastRecent(values: Map<string, number>, keep: string): string {
  let oldest: string | undefined;
  let oldestTime = Number.POSITIVE_INFINITY;
  for (const [v, t] of values) {
    if (v !== keep && t < oldestTime) {
      oldest = v;
      oldestTime = t;
    }
  }
  return oldest!;
}
