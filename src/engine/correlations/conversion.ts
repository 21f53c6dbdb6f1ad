import type { AuthEvent } from '../../events/authEvent.js';
import type { CorrelationRule } from '../../rules/model.js';
import { parseTimespan } from '../../time/duration.js';
import { KeyedState, type DeferredSnapshot, type KeyedSnapshot } from '../keyedState.js';
import {
  fieldReader,
  groupReader,
  scalarText,
  type Correlator,
  type CorrelatorFactory,
  type CorrelatorOptions,
  type CorrelatorStats,
  type Firing,
  type Hit,
} from './correlator.js';

/**
 * Attempts remembered per group, pending or decided; beyond this the oldest are forgotten. The
 * share completed of the latest thousand is as good a measure as that of more.
 */
const ATTEMPTS_PER_GROUP = 1024;
/** Event ids an alert lists. */
const SAMPLE = 10;

/** One attempt (an SMS sent): when, which event, and who it was for (the join field). */
interface Attempt {
  t: number;
  id: string;
  who?: string;
}

/** A decided attempt: completed within the completion window, or not. */
interface Decided extends Attempt {
  ok: boolean;
}

/** A group as a snapshot holds it. */
interface SavedDestination {
  /** Attempts not yet decided, oldest first. */
  pending: Attempt[];
  /** Attempts decided within the timespan, oldest first. */
  decided: Decided[];
  /** Event time of the last completion: while it is within `known_for`, the destination is known. */
  lastCompleted?: number;
  /** Event time of the group's newest hit. */
  last: number;
  /** The group-by values, for a firing decided when event time passes (no hit to read them from). */
  group: Record<string, string>;
  /** The newest attempt's event (without its raw record): what such a firing is reported on. */
  sample: AuthEvent;
}

/** A group in memory: with running counts over `decided`, so judging an attempt costs O(1). */
interface Destination extends SavedDestination {
  completed: number;
  /** Who (or, with no one, which event) → uncompleted decided attempts. */
  uncompleted: Map<string, number>;
}

function destination(saved: SavedDestination): Destination {
  const d: Destination = { ...saved, decided: [], completed: 0, uncompleted: new Map() };
  for (const a of saved.decided) addDecided(d, a);
  return d;
}

/** Adds a decision in time order (a completion may decide an attempt older than the last decided). */
function addDecided(d: Destination, a: Decided): void {
  let i = d.decided.length;
  while (i > 0 && d.decided[i - 1]!.t > a.t) i--;
  if (i === d.decided.length) d.decided.push(a);
  else d.decided.splice(i, 0, a);
  if (a.ok) d.completed++;
  else {
    const k = a.who ?? a.id;
    d.uncompleted.set(k, (d.uncompleted.get(k) ?? 0) + 1);
  }
}

/** Forgets the `n` oldest decisions. */
function dropDecided(d: Destination, n: number): void {
  for (const a of d.decided.splice(0, n)) {
    if (a.ok) d.completed--;
    else {
      const k = a.who ?? a.id;
      const left = (d.uncompleted.get(k) ?? 1) - 1;
      if (left > 0) d.uncompleted.set(k, left);
      else d.uncompleted.delete(k);
    }
  }
}

/** Who an attempt was for → the group and time of their latest pending attempt. */
interface Pointer {
  key: string;
  t: number;
}

interface ConversionSnapshot {
  late: number;
  groups: KeyedSnapshot<SavedDestination>;
  pointers: KeyedSnapshot<Pointer>;
}

/**
 * Conversion (authwatch extension): how many attempts of a group are completed. The first rule
 * it refers to gives the attempts (an SMS sent, grouped by application and destination
 * country), the second the completions (the factor verified), which carry no group of their
 * own: a completion is joined to the latest attempt for the same `field` value (the user)
 * within `completion_window`. When event time passes the end of an attempt's window with no
 * completion, the attempt is decided as not completed and its group judged (`due`).
 *
 * A group alerts when, over the decided attempts of the timespan, the share completed is below
 * `max_rate` and there are at least `min_attempts` of them; a group with no completion within
 * `known_for` (a destination the application has never seen used) needs only
 * `new_destination_attempts` distinct `field` values left uncompleted. So what is normal is
 * learned, per application: destinations its real users verify from become known, and pumped
 * destinations, whose messages nobody enters, alert early. Values listed in `allow` (of the
 * last group-by field) never alert; with `only_allowed`, any attempt outside them alerts at once.
 */
export const conversion: CorrelatorFactory = (rule, options) => new Conversion(rule, options);

class Conversion implements Correlator {
  private readonly groups: KeyedState<Destination>;
  private readonly pointers: KeyedState<Pointer>;
  private late = 0;
  /**
   * When each pending attempt is decided if nobody completes it (its time plus the window), in
   * time order, with its group: `due` walks it from `head` as event time passes.
   */
  private dueQueue: Array<{ at: number; key: string }> = [];
  private head = 0;
  private readonly readGroup: ReturnType<typeof groupReader>;
  private readonly readWho: (hit: Hit) => unknown;
  private readonly attemptsRule: string;
  private readonly completionsRule: string;
  private readonly windowMs: number;
  private readonly knownForMs: number;
  private readonly minAttempts: number;
  private readonly newAttempts: number;
  private readonly maxRate: number;
  private readonly allow: ReadonlySet<string>;
  private readonly onlyAllowed: boolean;

  constructor(
    readonly rule: CorrelationRule,
    options: CorrelatorOptions,
  ) {
    this.groups = new KeyedState(options.maxKeys);
    this.pointers = new KeyedState(options.maxKeys);
    this.readGroup = groupReader(rule);
    this.readWho = fieldReader(rule);
    this.attemptsRule = rule.rules[0]!;
    this.completionsRule = rule.rules[1] ?? '';
    const p = rule.params;
    const ms = (v: unknown, fallback: number) => (typeof v === 'string' ? (parseTimespan(v) ?? fallback) : fallback);
    this.windowMs = ms(p.completion_window, 15 * 60_000);
    this.knownForMs = ms(p.known_for, 90 * 86_400_000);
    this.minAttempts = typeof p.min_attempts === 'number' ? p.min_attempts : 20;
    this.newAttempts = typeof p.new_destination_attempts === 'number' ? p.new_destination_attempts : 3;
    this.maxRate = typeof p.max_rate === 'number' ? p.max_rate : 0.3;
    this.allow = new Set(Array.isArray(p.allow) ? p.allow.map((v) => String(v).toLowerCase()) : []);
    this.onlyAllowed = p.only_allowed === true;
  }

  observe(hit: Hit, watermark: number): Firing | undefined {
    if (hit.time < watermark) {
      this.late++;
      return undefined;
    }
    if (hit.ruleUid === this.attemptsRule) return this.attempt(hit);
    if (hit.ruleUid === this.completionsRule) this.complete(hit);
    return undefined;
  }

  /**
   * An attempt waits for its completion; it is judged when event time passes its window (`due`).
   * Allowed destinations are not tracked; with `only_allowed`, any other fires at once.
   */
  private attempt(hit: Hit): Firing | undefined {
    const g = this.readGroup(hit);
    if (!g) return undefined;
    const t = hit.time;
    const place = g.group[this.rule.groupBy[this.rule.groupBy.length - 1]!] ?? '';
    if (this.allow.has(place.toLowerCase())) return undefined;
    if (this.onlyAllowed && this.allow.size > 0) {
      return this.fire(g, [{ t, id: hit.eventId, ok: false }], 'outside_allow_list');
    }
    const who = scalarText(this.readWho(hit));
    const d = this.groups.touch(g.key, () =>
      destination({ pending: [], decided: [], last: t, group: g.group, sample: hit.event }),
    );
    d.last = Math.max(d.last, t);
    d.sample = hit.event;
    d.pending.push(who === undefined ? { t, id: hit.eventId } : { t, id: hit.eventId, who });
    if (d.pending.length + d.decided.length > ATTEMPTS_PER_GROUP) {
      if (d.decided.length > 0) dropDecided(d, 1);
      else d.pending.shift();
    }
    if (who !== undefined) this.pointers.set(who, { key: g.key, t });
    this.dueQueue.push({ at: t + this.windowMs, key: g.key });
    return undefined;
  }

  due(before: number): Array<{ firing: Firing; hit: Hit }> {
    const out: Array<{ firing: Firing; hit: Hit }> = [];
    while (this.head < this.dueQueue.length && this.dueQueue[this.head]!.at < before) {
      const { at, key } = this.dueQueue[this.head++]!;
      const seen = this.groups.peek(key);
      if (seen === undefined) continue; // evicted, or expired
      const d = this.groups.touch(key, () => seen);
      // Decided now: every attempt whose window ended by `at` (completions up to `at` counted).
      this.settle(d, at + 1);
      const firing = this.judge({ key, group: d.group }, d, at + 1);
      // Reported on the destination's newest message: its entities, its id.
      if (firing) {
        const hit = { ruleUid: this.rule.uid, time: at + 1, eventId: d.sample.id, doc: d.group, event: d.sample };
        out.push({ firing, hit });
      }
    }
    if (this.head > 1024 && this.head * 2 > this.dueQueue.length) {
      this.dueQueue = this.dueQueue.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  /** Joins a completion to the latest pending attempt of the same user within the window. */
  private complete(hit: Hit): void {
    const who = scalarText(this.readWho(hit));
    if (who === undefined) return;
    const ptr = this.pointers.peek(who);
    if (!ptr || hit.time - ptr.t > this.windowMs || hit.time < ptr.t) return;
    const seen = this.groups.peek(ptr.key);
    if (!seen || !seen.pending.some((a) => a.t === ptr.t && a.who === who)) return;
    const d = this.groups.touch(ptr.key, () => seen); // marks it used, and copies it first for a snapshot in progress
    const i = d.pending.findIndex((a) => a.t === ptr.t && a.who === who);
    const [a] = d.pending.splice(i, 1);
    // Later attempts for the same user in the window are re-sends of the same code: completed too.
    for (let j = d.pending.length - 1; j >= 0; j--) {
      const p = d.pending[j]!;
      if (p.who === who && hit.time - p.t <= this.windowMs) addDecided(d, { ...d.pending.splice(j, 1)[0]!, ok: true });
    }
    addDecided(d, { ...a!, ok: true });
    d.lastCompleted = Math.max(d.lastCompleted ?? hit.time, hit.time);
    d.last = Math.max(d.last, hit.time);
    this.pointers.delete(who);
  }

  /** Decides the attempts the completion window has passed, and forgets decisions older than the timespan. */
  private settle(d: Destination, now: number): void {
    let due = 0;
    while (due < d.pending.length && now - d.pending[due]!.t > this.windowMs) due++;
    if (due > 0) for (const a of d.pending.splice(0, due)) addDecided(d, { ...a, ok: false });
    const horizon = now - this.rule.timespanMs;
    let drop = 0;
    while (drop < d.decided.length && d.decided[drop]!.t < horizon) drop++;
    if (drop > 0) dropDecided(d, drop);
  }

  private judge(g: { key: string; group: Record<string, string> }, d: Destination, t: number): Firing | undefined {
    const n = d.decided.length;
    if (n === 0) return undefined;
    const known = d.lastCompleted !== undefined && t - d.lastCompleted <= this.knownForMs;
    if (known) {
      if (n < this.minAttempts || d.completed / n >= this.maxRate) return undefined;
      return this.fire(g, d.decided, 'low_conversion', d);
    }
    if (d.completed > 0 || d.uncompleted.size < this.newAttempts) return undefined;
    return this.fire(g, d.decided, 'new_destination', d);
  }

  private fire(
    g: { key: string; group: Record<string, string> },
    attempts: Decided[],
    reason: 'low_conversion' | 'new_destination' | 'outside_allow_list',
    d?: Destination,
  ): Firing {
    const completed = attempts.filter((a) => a.ok).length;
    const firing: Firing = {
      groupKey: g.key,
      group: g.group,
      first: attempts[0]!.t,
      last: attempts[attempts.length - 1]!.t,
      count: attempts.length,
      eventIds: attempts.slice(-SAMPLE).map((a) => a.id),
      context: {
        reason,
        attempts: attempts.length,
        completed,
        conversion_rate: Math.round((completed / attempts.length) * 1000) / 1000,
        ...(d?.lastCompleted !== undefined ? { last_completed: new Date(d.lastCompleted).toISOString() } : {}),
      },
    };
    // Judged once: the next alert needs attempts decided after this one.
    if (d) dropDecided(d, d.decided.length);
    return firing;
  }

  expire(watermark: number): void {
    const keep = Math.max(this.rule.timespanMs, this.knownForMs) + this.windowMs;
    this.groups.sweep((d) => d.last < watermark - keep);
    this.pointers.sweep((p) => p.t < watermark - this.windowMs);
  }

  shed(fraction: number): number {
    // A pointer to an evicted destination is only a miss later; both shrink alike.
    return this.groups.shedShare(fraction) + this.pointers.shedShare(fraction);
  }

  stats(): CorrelatorStats {
    return { keys: this.groups.size, evictions: this.groups.evictions + this.pointers.evictions, late: this.late };
  }

  snapshot(deferred?: DeferredSnapshot): ConversionSnapshot {
    const copy = (d: Destination): SavedDestination => ({
      pending: d.pending.map((a) => ({ ...a })),
      decided: d.decided.map((a) => ({ ...a })),
      last: d.last,
      group: d.group,
      sample: d.sample,
      ...(d.lastCompleted !== undefined ? { lastCompleted: d.lastCompleted } : {}),
    });
    return {
      late: this.late,
      groups: this.groups.snapshot(copy, deferred),
      pointers: this.pointers.snapshot((p) => ({ ...p }), deferred),
    };
  }

  restore(state: unknown): void {
    const s = state as ConversionSnapshot;
    this.late = s.late;
    this.groups.restore(s.groups, destination);
    this.pointers.restore(s.pointers, (p) => p);
    // The due times are the pending attempts' own.
    this.dueQueue = [...this.groups.entries()]
      .flatMap(([key, d]) => d.pending.map((a) => ({ at: a.t + this.windowMs, key })))
      .sort((x, y) => x.at - y.at || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    this.head = 0;
  }
}
