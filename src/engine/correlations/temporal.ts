import type { CorrelationRule } from '../../rules/model.js';
import { ALERT_SAMPLE_SIZE } from '../alert.js';
import { emptyList, KeyedState, type DeferredSnapshot, type KeyedSnapshot } from '../keyedState.js';
import {
  groupReader,
  meetsCondition,
  type Correlator,
  type CorrelatorFactory,
  type CorrelatorOptions,
  type Firing,
  type Hit,
} from './correlator.js';

/**
 * Hits kept per referenced rule and group. More than one is needed because a late hit may
 * need an older partner than the newest (an ordered sequence completed by a late first step),
 * and a rule listed several times needs that many hits.
 */
const HITS_PER_RULE = 32;
/** How far the orphans may exceed the key limit before the oldest are cut, so cuts are rare. */
const ORPHAN_SLACK = 1024;

/** One remembered hit; `s` is the arrival sequence, which orders hits of equal event time. */
interface StoredHit {
  t: number;
  s: number;
  id: string;
  rule: string;
}

interface TemporalSnapshot {
  late: number;
  seq: number;
  groups: KeyedSnapshot<StoredHit[]>;
  newest?: number;
  orphans?: [string, StoredHit][];
  orphanEvictions?: number;
}

/** Sigma `temporal`: the referenced rules all match (or `condition` many of them) within the timespan, any order. */
export const temporal: CorrelatorFactory = (rule, options) => new TemporalCorrelator(rule, options, false);

/** Sigma `temporal_ordered`: the referenced rules match in the order listed, within the timespan. */
export const temporalOrdered: CorrelatorFactory = (rule, options) => new TemporalCorrelator(rule, options, true);

const byTime = (a: StoredHit, b: StoredHit) => a.t - b.t || a.s - b.s;

class TemporalCorrelator implements Correlator {
  private readonly groups: KeyedState<StoredHit[]>;
  private readonly readGroup: ReturnType<typeof groupReader>;
  /** How many hits of each referenced rule a match takes: a rule listed twice needs two. */
  private readonly need = new Map<string, number>();
  private readonly perRuleCap: number;
  private readonly hasCondition: boolean;
  private late = 0;
  private seq = 0;
  /** The newest hit time seen: hits before it arrived out of order. */
  private newest = Number.NEGATIVE_INFINITY;
  /**
   * Ordered sequences without a condition: later-step hits of groups with no state yet, in
   * arrival order. Most such hits never complete a sequence (every login is a possible last
   * step), so they are not given group state; only a first step arriving late can still
   * precede one, and it looks here. Entries older than the watermark are useless and dropped;
   * beyond the rule's key limit the oldest go first, counted as evictions.
   */
  private orphans: [string, StoredHit][] = [];
  private readonly maxOrphans: number;
  private orphanEvictions = 0;

  constructor(
    readonly rule: CorrelationRule,
    options: CorrelatorOptions,
    private readonly ordered: boolean,
  ) {
    this.groups = new KeyedState(options.maxKeys);
    this.maxOrphans = options.maxKeys;
    this.readGroup = groupReader(rule);
    for (const uid of rule.rules) this.need.set(uid, (this.need.get(uid) ?? 0) + 1);
    this.perRuleCap = Math.max(HITS_PER_RULE, ...this.need.values());
    this.hasCondition = Object.keys(rule.condition).length > 0;
  }

  observe(hit: Hit, watermark: number): Firing | undefined {
    if (!this.need.has(hit.ruleUid)) return undefined;
    const g = this.readGroup(hit);
    if (!g) return undefined;
    if (hit.time < watermark) {
      this.late++;
      return undefined;
    }
    const span = this.rule.timespanMs;
    const outOfOrder = hit.time < this.newest;
    if (hit.time > this.newest) this.newest = hit.time;
    if (this.ordered && !this.hasCondition && hit.ruleUid !== this.rule.rules[0] && !this.groups.peek(g.key)) {
      this.orphans.push([g.key, { t: hit.time, s: this.seq++, id: hit.eventId, rule: hit.ruleUid }]);
      this.dropOrphans(watermark);
      return undefined;
    }
    const hits = this.groups.touch(g.key, emptyList<StoredHit>);
    if (outOfOrder && this.orphans.length > 0) this.adoptOrphans(g.key, hits);
    // Nothing older than this can share a window with a hit that is not late.
    const horizon = watermark - span;
    let drop = 0;
    while (drop < hits.length && hits[drop]!.t < horizon) drop++;
    if (drop > 0) hits.splice(0, drop);

    const added: StoredHit = { t: hit.time, s: this.seq++, id: hit.eventId, rule: hit.ruleUid };
    insertSorted(hits, added);
    this.capRule(hits, added);

    const matched = this.ordered ? this.matchOrdered(hits, added) : this.matchAnyOrder(hits, added);
    if (!matched) return undefined;
    this.groups.delete(g.key);
    return {
      groupKey: g.key,
      group: g.group,
      first: matched[0]!.t,
      last: matched[matched.length - 1]!.t,
      count: matched.length,
      eventIds: matched.slice(0, ALERT_SAMPLE_SIZE).map((h) => h.id),
      context: { rules: matched.map((h) => h.rule) },
    };
  }

  private dropOrphans(watermark: number): void {
    let drop = 0;
    while (drop < this.orphans.length && this.orphans[drop]![1].t < watermark) drop++;
    // Cut in chunks: splicing the front of a long array on every hit would cost more than the hit.
    const over = this.orphans.length - drop - this.maxOrphans;
    if (over > ORPHAN_SLACK) {
      this.orphanEvictions += over;
      drop += over;
    }
    if (drop > 64 || drop === this.orphans.length || over > ORPHAN_SLACK) this.orphans.splice(0, drop);
  }

  /** A late hit may precede orphaned later steps of its group: they join its state. */
  private adoptOrphans(key: string, hits: StoredHit[]): void {
    const keep: [string, StoredHit][] = [];
    for (const o of this.orphans) {
      if (o[0] === key) insertSorted(hits, o[1]);
      else keep.push(o);
    }
    this.orphans = keep;
  }

  /** Drops the oldest hits of the new hit's rule beyond its cap, never the new one (a late hit may be the oldest). */
  private capRule(hits: StoredHit[], added: StoredHit): void {
    let count = 0;
    for (const h of hits) if (h.rule === added.rule) count++;
    for (let i = 0; count > this.perRuleCap && i < hits.length;) {
      if (hits[i]!.rule === added.rule && hits[i] !== added) {
        hits.splice(i, 1);
        count--;
      } else i++;
    }
  }

  /**
   * The windows that can hold a match including `added` start at one of the hits from
   * `added.t - timespan` up to `added.t`; each is tried, earliest first.
   */
  private windows(hits: StoredHit[], added: StoredHit): StoredHit[][] {
    const span = this.rule.timespanMs;
    const out: StoredHit[][] = [];
    let previousStart: number | undefined;
    for (let i = 0; i < hits.length; i++) {
      const start = hits[i]!.t;
      if (start < added.t - span) continue;
      if (start > added.t) break;
      if (start === previousStart) continue;
      previousStart = start;
      let j = i;
      while (j < hits.length && hits[j]!.t <= start + span) j++;
      out.push(hits.slice(i, j));
    }
    return out;
  }

  /** Without a condition every listed rule must be there; this rules most groups out cheaply. */
  private mayMatch(hits: StoredHit[], added: StoredHit): boolean {
    if (this.hasCondition) return true;
    const span = this.rule.timespanMs;
    const counts = new Map<string, number>();
    for (const h of hits) {
      if (Math.abs(h.t - added.t) <= span) counts.set(h.rule, (counts.get(h.rule) ?? 0) + 1);
    }
    for (const [uid, n] of this.need) if ((counts.get(uid) ?? 0) < n) return false;
    return true;
  }

  private matchAnyOrder(hits: StoredHit[], added: StoredHit): StoredHit[] | undefined {
    if (!this.mayMatch(hits, added)) return undefined;
    for (const window of this.windows(hits, added)) {
      const byRule = new Map<string, StoredHit[]>();
      for (const h of window) {
        const list = byRule.get(h.rule) ?? [];
        list.push(h);
        byRule.set(h.rule, list);
      }
      let satisfied: boolean;
      if (this.hasCondition) satisfied = meetsCondition(byRule.size, this.rule.condition);
      else satisfied = [...this.need].every(([uid, n]) => (byRule.get(uid)?.length ?? 0) >= n);
      if (!satisfied) continue;
      // The hits nearest the new one make the tightest match to report; the new one always takes part.
      const chosen: StoredHit[] = [];
      for (const [uid, list] of byRule) {
        const n = this.hasCondition ? 1 : this.need.get(uid)!;
        const nearest = [...list].sort(
          (a, b) => Number(b === added) - Number(a === added) || Math.abs(a.t - added.t) - Math.abs(b.t - added.t),
        );
        chosen.push(...nearest.slice(0, n));
      }
      return chosen.sort(byTime);
    }
    return undefined;
  }

  /**
   * The longest run of the listed rules, in order, through `added`: in each window, for each
   * place `added` can take in the list, the best subsequence before it and the best after it.
   * Without a condition the run must cover the whole list; with one, its length is the count.
   */
  private matchOrdered(hits: StoredHit[], added: StoredHit): StoredHit[] | undefined {
    if (!this.mayMatch(hits, added)) return undefined;
    const pattern = this.rule.rules;
    for (const window of this.windows(hits, added)) {
      const at = window.indexOf(added);
      const before = window.slice(0, at);
      const after = window.slice(at + 1);
      let best: StoredHit[] | undefined;
      for (let j = 0; j < pattern.length; j++) {
        if (pattern[j] !== added.rule) continue;
        const head = longestInOrder(before, pattern.slice(0, j));
        const tail = longestInOrder([...after].reverse(), pattern.slice(j + 1).reverse()).reverse();
        const run = [...head, added, ...tail];
        if (!best || run.length > best.length) best = run;
      }
      if (!best) continue;
      const satisfied = this.hasCondition
        ? meetsCondition(best.length, this.rule.condition)
        : best.length === pattern.length;
      if (satisfied) return best;
    }
    return undefined;
  }

  expire(watermark: number): void {
    const horizon = watermark - this.rule.timespanMs;
    this.groups.sweep((hits) => hits.length === 0 || hits[hits.length - 1]!.t < horizon);
    this.orphans = this.orphans.filter(([, h]) => h.t >= watermark);
  }

  shed(fraction: number): number {
    return this.groups.shedShare(fraction);
  }

  stats() {
    return { keys: this.groups.size, evictions: this.groups.evictions + this.orphanEvictions, late: this.late };
  }

  snapshot(deferred?: DeferredSnapshot): TemporalSnapshot {
    return {
      late: this.late,
      seq: this.seq,
      orphanEvictions: this.orphanEvictions,
      groups: this.groups.snapshot((hits) => hits.map((h) => ({ ...h })), deferred),
      newest: Number.isFinite(this.newest) ? this.newest : undefined,
      // Orphans are records that never change once stored: a shallow copy is the state now.
      orphans: deferred
        ? deferred.list(this.orphans.slice(), ([k, h]): [string, StoredHit] => [k, { ...h }])
        : this.orphans.map(([k, h]) => [k, { ...h }]),
    };
  }

  restore(state: unknown): void {
    const s = state as TemporalSnapshot;
    this.late = s.late;
    this.seq = s.seq;
    this.orphanEvictions = s.orphanEvictions ?? 0;
    this.groups.restore(s.groups, (hits) => hits.map((h) => ({ ...h })));
    this.newest = s.newest ?? Number.NEGATIVE_INFINITY;
    this.orphans = (s.orphans ?? []).map(([k, h]) => [k, { ...h }]);
  }
}

function insertSorted(hits: StoredHit[], h: StoredHit): void {
  let i = hits.length;
  while (i > 0 && byTime(hits[i - 1]!, h) > 0) i--;
  hits.splice(i, 0, h);
}

/**
 * The longest subsequence of `hits` whose rules are a subsequence of `pattern` (a longest
 * common subsequence), preferring the latest hits: the match then hugs the end of `hits`.
 */
function longestInOrder(hits: StoredHit[], pattern: string[]): StoredHit[] {
  const m = hits.length;
  const n = pattern.length;
  if (m === 0 || n === 0) return [];
  const table: number[][] = Array.from({ length: m + 1 }, () => new Array<number>(n + 1).fill(0));
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      table[i]![j] =
        hits[i - 1]!.rule === pattern[j - 1]
          ? table[i - 1]![j - 1]! + 1
          : Math.max(table[i - 1]![j]!, table[i]![j - 1]!);
    }
  }
  const out: StoredHit[] = [];
  for (let i = m, j = n; i > 0 && j > 0;) {
    if (hits[i - 1]!.rule === pattern[j - 1] && table[i]![j] === table[i - 1]![j - 1]! + 1) {
      out.push(hits[i - 1]!);
      i--;
      j--;
    } else if (table[i - 1]![j]! >= table[i]![j - 1]!) i--;
    else j--;
  }
  return out.reverse();
}
