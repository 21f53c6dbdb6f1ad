import type { AuthEvent } from '../../events/authEvent.js';
import type { CorrelationRule, CountCondition, Doc } from '../../rules/model.js';
import { accessorFor, type Accessor } from '../../rules/sigma/fieldPath.js';
import type { DeferredSnapshot } from '../keyedState.js';

/**
 * One match of a rule a correlation refers to: an event that matched a detection rule, or
 * the firing of a correlation it chains on.
 */
export interface Hit {
  /** uid of the referenced rule that matched. */
  ruleUid: string;
  /** Event time, epoch ms (for a chained firing: the time of the event that completed it). */
  time: number;
  /** The event's id (a chained firing: the id of the event that completed it). */
  eventId: string;
  /**
   * What `group-by`, `field` and aliases read: the record the rule matched (the canonical
   * event, or the source's raw record for rules on a source), or for a chained firing its
   * group values keyed by field name.
   */
  doc: Doc;
  /** The canonical event that caused the hit: entities and geo come from it. */
  event: AuthEvent;
  /**
   * The one route (`Routing`) this hit takes, in the correlate stage of a scaled-out
   * deployment, where each route of a hit comes on its own; undefined: every route.
   */
  route?: string;
}

/** What a correlation reports when its condition holds for a group. */
export interface Firing {
  groupKey: string;
  group: Record<string, string>;
  first: number;
  last: number;
  count: number;
  /** Ids of the events that took part, oldest first, at most ALERT_SAMPLE_SIZE. */
  eventIds: string[];
  distinctValues?: string[];
  context?: Record<string, unknown>;
}

export interface CorrelatorStats {
  /** Groups tracked now. */
  keys: number;
  /** Groups evicted because the rule's key limit was reached. */
  evictions: number;
  /** Hits older than the allowed lateness, not counted. */
  late: number;
  /** Entries forgotten early, oldest first, because a group's window reached its bound (counting rules). */
  entriesForgotten?: number;
  /** Entries in the groups' windows (the counting correlations). */
  entries?: number;
  /**
   * Bytes the rule's state holds outside the heap (the long-horizon correlations); for the
   * others the engine estimates them (`stateCost.ts`).
   */
  bytes?: number;
}

/**
 * The keyed, event-time state of one correlation rule.
 *
 * Contract: `observe` is called with every hit of the rule's referenced rules; it returns the
 * firing the hit completes, if any. The engine hands hits over in event-time order (it holds
 * them until event time passes them), with the hit's own time as the watermark; a correlator
 * still accepts any order within the watermark, as it did before the engine ordered hits (a
 * queue over its bound releases hits early). Hits with `time < watermark` are late: the
 * correlator counts them in `stats.late` and ignores them. `expire(watermark)` frees every
 * group whose state can no longer contribute to a firing. State is bounded by `maxKeys`
 * groups, the stalest evicted first. `snapshot` returns JSON-serialisable state that
 * `restore` takes back, so a restarted engine continues its windows.
 */
export interface Correlator {
  readonly rule: CorrelationRule;
  observe(hit: Hit, watermark: number): Firing | undefined;
  /**
   * For correlations that decide when event time passes a moment rather than when a hit comes
   * (an attempt nobody completed within its window): the firings decided at moments before
   * `before`, each with the hit it is reported on. The engine calls it with every hit's time
   * before delivering that hit, and with the watermark, so a decision sees exactly the hits
   * up to its moment, whatever the arrival order.
   */
  due?(before: number): Array<{ firing: Firing; hit: Hit }>;
  expire(watermark: number): void;
  stats(): CorrelatorStats;
  /**
   * Evicts about `fraction` (0–1) of its groups, the stalest first, as the key limit would:
   * the engine asks when the heap outgrows its memory budget. Returns how many went.
   */
  shed(fraction: number): number;
  /** With a DeferredSnapshot, group maps are written incrementally (see KeyedState.snapshot). */
  snapshot(deferred?: DeferredSnapshot): unknown;
  restore(state: unknown): void;
}

export interface CorrelatorOptions {
  /** Groups tracked per rule at most. */
  maxKeys: number;
  /**
   * Entries one group's window of a counting rule holds at most (at least twice the rule's
   * count threshold): beyond it the oldest quarter is forgotten. Default: no bound.
   */
  maxGroupEntries?: number;
  /**
   * Bytes of the long-horizon correlations' state (dormant_account, new_value), kept outside
   * the heap, per rule at most: beyond it the stalest quarter of the groups goes. Default: no bound.
   */
  compactBytes?: number;
  /** How far behind the newest event time a hit may arrive and still count. */
  allowedLatenessMs: number;
}

export type CorrelatorFactory = (rule: CorrelationRule, options: CorrelatorOptions) => Correlator;

/** A hit's group: its key, and the group-by values by field, built only when a firing needs them. */
export class GroupRef {
  constructor(
    readonly key: string,
    private readonly fields: readonly string[],
    private readonly values: readonly string[] | string,
  ) {}

  get group(): Record<string, string> {
    const out: Record<string, string> = {};
    this.fields.forEach((f, i) => (out[f] = typeof this.values === 'string' ? this.values : this.values[i]!));
    return out;
  }
}

/**
 * Reads a correlation's group-by values from a hit, resolving aliases (Sigma: an alias names
 * a differently named field in each referenced rule). Undefined when a group-by field is
 * missing or empty: such a hit belongs to no group and is not counted. Runs for every hit of
 * every correlation, so it allocates one small object and looks nothing up for unaliased fields.
 */
export function groupReader(rule: CorrelationRule): (hit: Hit) => GroupRef | undefined {
  const fields = rule.groupBy;
  const aliased = accessorCache();
  // A chained firing's doc is flat (`{'user.name': …}`); accessors fall back to such keys.
  const plain = fields.map((f) => (rule.aliases[f] ? undefined : aliased(f)));
  const read = (i: number, hit: Hit): string | undefined => {
    const a = plain[i] ?? aliased(rule.aliases[fields[i]!]?.[hit.ruleUid] ?? fields[i]!);
    return scalarText(a(hit.doc));
  };
  if (fields.length === 1)
    return (hit) => {
      const v = read(0, hit);
      return v === undefined ? undefined : new GroupRef(v, fields, v);
    };
  return (hit) => {
    const values: string[] = [];
    for (let i = 0; i < fields.length; i++) {
      const v = read(i, hit);
      if (v === undefined) return undefined;
      values.push(v);
    }
    return new GroupRef(values.join('\u0000'), fields, values);
  };
}

/** An event that took part in a firing of two: the hop, change or gap between them. */
export interface PairPoint {
  t: number;
  id: string;
}

/** A firing of two events, from the earlier to the later one. */
export function pairFiring(
  g: { key: string; group: Record<string, string> },
  from: PairPoint,
  to: PairPoint,
  context: Record<string, unknown>,
): Firing {
  return { groupKey: g.key, group: g.group, first: from.t, last: to.t, count: 2, eventIds: [from.id, to.id], context };
}

/** A field's value as text for grouping and distinct counting; arrays use their first element. */
export function scalarText(v: unknown): string | undefined {
  if (Array.isArray(v)) v = v[0];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/**
 * The fields a correlation reads from the record of a hit of `ruleUid` (its group-by and its
 * `field`, aliases resolved): all that a hit waiting for event-time order keeps of the record.
 */
export function fieldsRead(rule: CorrelationRule, ruleUid: string): string[] {
  const paths = rule.groupBy.map((f) => rule.aliases[f]?.[ruleUid] ?? f);
  for (const name of rule.field ?? []) paths.push(rule.aliases[name]?.[ruleUid] ?? name);
  return paths;
}

/**
 * Reads every field a correlation lists, as one text: the values present, joined by ` | `
 * (new_value over `[user_agent, ja4]` watches a fingerprint of both); undefined when none is.
 */
export function combinedFieldReader(rule: CorrelationRule): (hit: Hit) => string | undefined {
  const names = rule.field ?? [];
  if (names.length <= 1) {
    const one = fieldReader(rule);
    return (hit) => scalarText(one(hit));
  }
  const accessor = accessorCache();
  return (hit) => {
    let out: string | undefined;
    for (const name of names) {
      const v = scalarText(accessor(rule.aliases[name]?.[hit.ruleUid] ?? name)(hit.doc));
      if (v !== undefined) out = out === undefined ? v : `${out} | ${v}`;
    }
    return out;
  };
}

/** Reads a correlation's `field` (the first one listed) from a hit, aliases resolved. */
export function fieldReader(rule: CorrelationRule): (hit: Hit) => unknown {
  const name = rule.field?.[0];
  if (name === undefined) return () => undefined;
  const accessor = accessorCache();
  return (hit) => {
    const v = accessor(rule.aliases[name]?.[hit.ruleUid] ?? name)(hit.doc);
    return Array.isArray(v) ? v[0] : v;
  };
}

/** Accessors by path, compiled on first use (paths were validated when the rule loaded). */
function accessorCache(): (path: string) => Accessor {
  const cache = new Map<string, Accessor>();
  return (path) => {
    let a = cache.get(path);
    if (!a) {
      a = accessorFor(path);
      cache.set(path, a);
    }
    return a;
  };
}

/** Whether a count, sum or average meets every bound of a correlation condition. */
export function meetsCondition(value: number, condition: CountCondition): boolean {
  if (condition.gt !== undefined && !(value > condition.gt)) return false;
  if (condition.gte !== undefined && !(value >= condition.gte)) return false;
  if (condition.lt !== undefined && !(value < condition.lt)) return false;
  if (condition.lte !== undefined && !(value <= condition.lte)) return false;
  if (condition.eq !== undefined && value !== condition.eq) return false;
  if (condition.neq !== undefined && value === condition.neq) return false;
  return true;
}
