import { getHeapStatistics } from 'node:v8';
import { withoutRaw, type AuthEvent } from '../events/authEvent.js';
import type { RuleSet } from '../rules/loader.js';
import { parseTimespan } from '../time/duration.js';
import type { CorrelationRule, Doc, ResponseAction, ResponseSpec, Rule } from '../rules/model.js';
import { parseIp } from '../rules/sigma/cidr.js';
import type { RegexBudget } from '../rules/sigma/regexBudget.js';
import { accessorFor, type Accessor } from '../rules/sigma/fieldPath.js';
import { ALERT_SAMPLE_SIZE, stableId, type Action, type ActionTargetKind, type Alert, type Entities } from './alert.js';
import {
  fieldsRead,
  scalarText,
  type Correlator,
  type CorrelatorStats,
  type Firing,
  type Hit,
} from './correlations/correlator.js';
import { correlators } from './correlations/index.js';
import { EventClock } from './eventClock.js';
import { HitQueue } from './hitQueue.js';
import { DeferredSnapshot, KeyedState, type KeyedSnapshot } from './keyedState.js';
import { stateBytes } from './stateCost.js';
import { RuleIndex } from './ruleIndex.js';
import { Routing, SUPPRESS_ROUTE } from './routes.js';

/** A sweep visits every tracked group; it waits for one event per this many groups since the last. */
const SWEEP_GROUPS_PER_EVENT = 4;
/** Events between two looks at the heap against the memory budget. */
const MEMORY_CHECK_EVENTS = 10_000;

export interface EngineOptions {
  /** How far behind the newest event time an event may arrive and still count in windows. Default 60 s. */
  allowedLatenessMs?: number;
  /**
   * Groups tracked per correlation rule (and suppression keys per engine); the stalest is
   * evicted. Default 2,000,000: sized for millions of users, with the memory budget bounding
   * what they cost.
   */
  maxKeysPerRule?: number;
  /**
   * Entries one group's window holds at most, in the counting rules (event_count, value_count,
   * value_sum, value_avg, value_percentile); for event_count and value_count at least twice the
   * rule's count threshold. Beyond it the group forgets its oldest quarter, counted in the
   * rule's `entriesForgotten`. Without it one group (an IP trying two million usernames in a
   * 24 h window) grew to gigabytes. Default 10,000, about 1 MB per group.
   */
  maxGroupEntries?: number;
  /**
   * Bytes per rule of the long-horizon correlations' state (dormant_account, new_value),
   * kept outside the heap and left alone by the memory budget: beyond it the rule forgets the
   * stalest quarter of its groups, counted in its evictions. Default 512 MiB, about five
   * million users of the dormant-account rule.
   */
  compactBytesPerRule?: number;
  /**
   * The least event time between sweeps that free expired state. Default 5 min. A sweep visits
   * every group of every rule, so it also waits until the engine has processed at least one
   * event per SWEEP_GROUPS_PER_EVENT groups tracked since the last one: sweeping then costs a
   * few group visits per event however large the state (every 5 minutes, it was 80 % of the
   * engine's time on a day of 20,000 users). Until a sweep an expired group only holds memory
   * the key limit bounds anyway; no result depends on when sweeps happen.
   */
  sweepEveryMs?: number;
  /** Groups a sweep may visit per event since the last (default SWEEP_GROUPS_PER_EVENT); Infinity sweeps at every interval. */
  sweepGroupsPerEvent?: number;
  /** Rules that alert even when a correlation refers to them (the test runner's rule under test). */
  alwaysAlert?: ReadonlySet<string>;
  /**
   * How long an action without a duration (revoke_sessions, revoke_refresh_tokens) stays in
   * force for de-duplication: the same action on the same target is not published again
   * within it. Default 5 min.
   */
  actionCooldownMs?: number;
  /**
   * How many events must be ahead of the newest event time by more than the allowed lateness
   * before event time jumps ahead to them. One record dated far ahead (a wrong clock, or a
   * record forged for the purpose) would otherwise make every later event late and blind the
   * windows. Default 5.
   */
  watermarkCorroboration?: number;
  /**
   * Wall clock, in a live deployment: event time never runs ahead of it by more than the
   * allowed lateness, however many records claim otherwise. Replays of recorded events leave it
   * out: their event time is their own.
   */
  clock?: () => number;
  /**
   * Hits waiting for event time to pass them (see `Engine`) at most; beyond it the earliest is
   * released at once, counted in `orderOverflow`. Default 500,000.
   */
  maxPendingHits?: number;
  /** Told of a failure on a hit released from the queue (the hit is skipped, counted in `releaseErrors`). */
  onReleaseError?: (err: unknown, hit: { rule: string; event_id: string; time: number }) => void;
  /**
   * The heap the engine's state may grow to, in bytes. Every MEMORY_CHECK_EVENTS events the
   * heap in use is compared with it; above it every correlation evicts its stalest share of
   * groups, as the key limit would (counted in the rules' `evictions` and in `memorySheds`).
   * Default: 60 % of V8's heap limit (`--max-old-space-size`), so the key limit can be sized
   * for millions of users and memory still decides.
   */
  memoryBudgetBytes?: number;
  /**
   * The bytes one rule's heap state may hold, estimated from its groups and window entries
   * (`stateCost.ts`). Checked with the memory budget; above it the rule alone evicts its
   * stalest groups down to three quarters of it (counted in its `evictions` and in
   * `ruleSheds`), so one rule cannot crowd the others out. Default: a quarter of the memory
   * budget. The long-horizon rules have their own bound (`compactBytesPerRule`).
   */
  ruleMemoryBytes?: number;
  /** The heap in use, in bytes (default: V8's `used_heap_size`, garbage not yet collected included). */
  heapUsed?: () => number;
}

export interface EngineOutput {
  alerts: Alert[];
  actions: Action[];
  /** Actions left out because their target value is not what its kind claims; the caller warns. */
  dropped: DroppedAction[];
}

/** A response action that was not published because its target is not a valid value of its kind. */
export interface DroppedAction {
  rule_id: string;
  alert_id: string;
  type: ResponseAction;
  target: { kind: ActionTargetKind; value: string };
  reason: string;
}

export interface EngineCounters {
  events: number;
  /**
   * Events dated ahead of event time by more than the allowed lateness: they are evaluated, but
   * event time moves to them only when enough others back them (never beyond the wall clock).
   */
  aheadEvents: number;
  /** Events older than the allowed lateness: single-event rules still see them, windows do not. */
  lateEvents: number;
  alerts: number;
  /** Alerts not raised because the rule's `suppress` window for the group was open. */
  suppressed: number;
  actions: number;
  /** Response actions left out because the alert had no value for their target (no ip for block_ip). */
  actionsWithoutTarget: number;
  /** Response actions left out because their target value is not what its kind claims (an IP that does not parse). */
  actionsInvalidTarget: number;
  /** Response actions not published again because the same action on the same target is still in force. */
  actionsInForce: number;
  /** Hits released before event time passed them because the queue was full: order not guaranteed for them. */
  orderOverflow: number;
  /**
   * Hits of the correlate stage that came after event time had passed them, though not late
   * where they came from (an input partition taken for idle whose records then came): evaluated
   * at once, out of order.
   */
  behindHits: number;
  /** Hits released from the queue that the engine failed on (skipped, each reported to `onReleaseError`). */
  releaseErrors: number;
  /** Times the heap outgrew the memory budget and every correlation evicted its stalest share of groups. */
  memorySheds: number;
  /** Times one rule's state outgrew its share (`ruleMemoryBytes`) and that rule evicted its stalest groups. */
  ruleSheds: number;
}

export interface EngineStats extends EngineCounters {
  watermark: number | null;
  rules: Record<string, CorrelatorStats>;
  /** Matches of each single-event rule, by rule id, since start. */
  matches: Record<string, number>;
  /** Actions tracked for de-duplication now. */
  actionsTracked: number;
  /** Hits waiting for event time to pass them now. */
  pendingHits: number;
  /**
   * Records on which a rule's backtracking expressions ran out of their time budget (values
   * not covered counted as no match), by rule id (or title). Shared by the engines of one rule set.
   */
  regexBudgetExhausted: Record<string, number>;
}

/** An incremental snapshot of the engine (`Engine.beginSnapshot`). */
export interface SnapshotInProgress {
  /** Writes up to `budget` more groups; true once the snapshot is complete. */
  step(budget: number): boolean;
  /** The snapshot as JSON text; completes it first if need be. */
  text(): string;
  /** Gives it up: the engine stops copying groups before changing them. */
  abandon(): void;
}

/** What `snapshot` returns and `restore` takes: plain JSON. */
export interface EngineSnapshot {
  version: 1;
  maxTime: number | null;
  lastSweep: number | null;
  /** Absent in snapshots of older versions: 0. */
  eventsSinceSweep?: number;
  counters: EngineCounters;
  /** Times of events ahead of event time, waiting to be backed by others. */
  ahead?: number[];
  suppression: KeyedSnapshot<number>;
  /** Actions in force, by action and target, with the event time until which they hold. */
  actions?: KeyedSnapshot<number>;
  correlators: Record<string, unknown>;
  /** Events with hits waiting for event time to pass them. */
  pending?: PendingSnapshot[];
}

interface PendingSnapshot {
  t: number;
  id: string;
  /** The event without its raw record. */
  e: AuthEvent;
  /** Rule uid and, unless it is the event itself, the fields read. */
  h: Array<{ r: string; d?: Doc }>;
}

const EMPTY: ReadonlyMap<string, number> = new Map();

const DEFAULTS = {
  maxPendingHits: 500_000,
  watermarkCorroboration: 5,
  allowedLatenessMs: 60_000,
  maxKeysPerRule: 2_000_000,
  maxGroupEntries: 10_000,
  compactBytesPerRule: 512 * 2 ** 20,
  sweepEveryMs: 300_000,
  sweepGroupsPerEvent: SWEEP_GROUPS_PER_EVENT,
  actionCooldownMs: 300_000,
};

/** How long an action is in force when its rule gives no duration; revocations and notices are instant. */
const DEFAULT_DURATION_MS: Partial<Record<ResponseAction, number>> = {
  block_ip: 3_600_000,
  block_user: 3_600_000,
  throttle: 900_000,
  require_mfa: 86_400_000,
  challenge: 3_600_000,
  deny_factor: 86_400_000,
  tighten_protection: 3_600_000,
};

/** The action target each response action takes when its rule names none. */
const DEFAULT_TARGET: Record<ResponseSpec['action'], ActionTargetKind> = {
  revoke_sessions: 'user',
  revoke_refresh_tokens: 'user',
  block_user: 'user',
  block_ip: 'ip',
  require_mfa: 'user',
  notify: 'none',
  throttle: 'ip',
  force_password_reset: 'user',
  challenge: 'user',
  notify_user: 'user',
  deny_factor: 'phone',
  tighten_protection: 'none',
};

/**
 * In a live deployment, how long no event may come before waiting hits are released by the wall
 * clock (`idle`), so that they are not held back by a quiet stream.
 */
export const IDLE_AFTER_MS = 1000;

/**
 * The detection engine: every event meets the single-event rules its type can match (the rule
 * index); each match alerts when its rule alerts on its own, and feeds the correlations that
 * refer to that rule, whose firings alert and feed the correlations chained on them in turn.
 *
 * Everything runs on event time: the watermark is the newest event time seen minus the
 * allowed lateness; state is swept as the watermark advances, so no wall-clock timer is
 * involved and a replay gives exactly what the live run gave, ids included.
 *
 * Order: what depends on the order of hits (correlations, and `suppress`) sees them in
 * event-time order, ties broken by event id and rule, whatever order they arrived in within the
 * allowed lateness: such hits wait in a queue until the watermark passes them (keeping only the
 * fields the correlations read and the event without its raw record), so the alerts they lead
 * to come the allowed lateness later in event time. Single-event alerts without `suppress` go
 * out at once. `flush` releases every waiting hit at the end of an input; in a live deployment
 * `idle` releases them as the wall clock passes them while no event comes.
 */
export class Engine {
  private readonly index: RuleIndex;
  private readonly correlatorsByUid = new Map<string, Correlator>();
  /** The correlators that also decide when event time passes a moment (`Correlator.due`). */
  private readonly timed: Correlator[] = [];
  /** uid of a referenced rule → the correlators that refer to it. */
  private readonly consumers = new Map<string, Correlator[]>();
  private readonly alerting: ReadonlySet<string>;
  private readonly suppression: KeyedState<number>;
  /** Action key (type, target, mode) → event time until which it is in force. */
  private readonly actionsInForce: KeyedState<number>;
  private readonly actionCooldown: number;
  /** Matches per single-event rule uid, counted as they happen. */
  private readonly matches = new Map<string, number>();
  /** uid → the id alerts and metrics name the rule by. */
  private readonly ruleIds = new Map<string, string>();
  private readonly regexBudget: RegexBudget | undefined;
  private readonly suppressReaders = new Map<string, Accessor[]>();
  private readonly lateness: number;
  private readonly sweepEvery: number;
  private readonly sweepGroupsPerEvent: number;
  private readonly time: EventClock;
  private readonly clock: (() => number) | undefined;
  private lastSweep = Number.NEGATIVE_INFINITY;
  /** Events processed since the last sweep (in snapshots, so a restored engine sweeps when this one would). */
  private eventsSinceSweep = 0;
  /** How many events the next sweep waits for, once its interval has passed; counted then. */
  private sweepAfterEvents: number | undefined;
  /** Hits whose effect depends on order, until the watermark passes them. */
  private readonly pending = new HitQueue();
  private readonly maxPending: number;
  /**
   * Detection uid → the fields what waits for its hits reads from their record; null when that
   * is the canonical event and none of them is in its raw record, so the event itself serves.
   */
  private readonly projections = new Map<string, Array<[string, Accessor]> | null>();
  private readonly detections = new Map<string, Rule>();
  /** Where each hit's state lives: the routes a hit takes, and the scope of action de-duplication. */
  readonly routing: Routing;
  /** The wall time of the last event and event time then (live deployments), for `idle`. */
  private lastEvent: { wall: number; maxTime: number } | undefined;
  private pinned: number | undefined;
  private readonly onReleaseError: EngineOptions['onReleaseError'];
  private readonly memoryBudget: number;
  private readonly ruleBudget: number;
  private readonly heapUsed: () => number;
  /** Heap in use above which the next shed happens: the budget, or higher just after a shed. */
  private shedAbove: number;
  private eventsSinceMemoryCheck = 0;
  readonly counters: EngineCounters = {
    events: 0,
    aheadEvents: 0,
    lateEvents: 0,
    alerts: 0,
    suppressed: 0,
    actions: 0,
    actionsWithoutTarget: 0,
    actionsInvalidTarget: 0,
    actionsInForce: 0,
    orderOverflow: 0,
    behindHits: 0,
    releaseErrors: 0,
    memorySheds: 0,
    ruleSheds: 0,
  };

  constructor(
    ruleSet: Pick<RuleSet, 'detections' | 'correlations' | 'alerting'> & Partial<Pick<RuleSet, 'regexBudget'>>,
    options: EngineOptions = {},
  ) {
    this.regexBudget = ruleSet.regexBudget;
    const o = { ...DEFAULTS, ...options };
    this.lateness = o.allowedLatenessMs;
    this.sweepEvery = o.sweepEveryMs;
    this.sweepGroupsPerEvent = o.sweepGroupsPerEvent;
    this.index = new RuleIndex(ruleSet.detections);
    for (const r of ruleSet.detections) this.ruleIds.set(r.uid, r.id ?? r.uid);
    this.alerting = options.alwaysAlert ? new Set([...ruleSet.alerting, ...options.alwaysAlert]) : ruleSet.alerting;
    this.suppression = new KeyedState<number>(o.maxKeysPerRule);
    this.actionsInForce = new KeyedState<number>(o.maxKeysPerRule);
    this.actionCooldown = o.actionCooldownMs;
    this.time = new EventClock(this.lateness, Math.max(1, o.watermarkCorroboration));
    this.clock = options.clock;
    const known = new Set([...ruleSet.detections, ...ruleSet.correlations].map((r) => r.uid));
    for (const rule of ruleSet.correlations) {
      if (!rule.rules.every((uid) => known.has(uid))) continue; // refers to a rule that did not load
      const c = correlators[rule.type](rule, {
        maxKeys: o.maxKeysPerRule,
        maxGroupEntries: o.maxGroupEntries,
        compactBytes: o.compactBytesPerRule,
        allowedLatenessMs: o.allowedLatenessMs,
      });
      this.correlatorsByUid.set(rule.uid, c);
      if (c.due) this.timed.push(c);
      for (const uid of new Set(rule.rules)) {
        const list = this.consumers.get(uid) ?? [];
        list.push(c);
        this.consumers.set(uid, list);
      }
    }
    this.routing = new Routing(
      ruleSet.detections,
      [...this.correlatorsByUid.values()].map((c) => c.rule),
      this.alerting,
    );
    for (const rule of [...ruleSet.detections, ...ruleSet.correlations]) {
      const s = rule.extensions.suppress;
      if (s?.groupBy) this.suppressReaders.set(rule.uid, s.groupBy.map(accessorFor));
    }
    this.maxPending = Math.max(1, o.maxPendingHits);
    this.onReleaseError = options.onReleaseError;
    this.memoryBudget = options.memoryBudgetBytes ?? Math.floor(getHeapStatistics().heap_size_limit * 0.6);
    this.ruleBudget = options.ruleMemoryBytes ?? Math.floor(this.memoryBudget / 4);
    this.heapUsed = options.heapUsed ?? (() => getHeapStatistics().used_heap_size);
    this.shedAbove = this.memoryBudget;
    for (const rule of ruleSet.detections) {
      this.detections.set(rule.uid, rule);
      const paths = new Set<string>();
      for (const c of this.consumers.get(rule.uid) ?? []) for (const p of fieldsRead(c.rule, rule.uid)) paths.add(p);
      if (this.alerting.has(rule.uid)) for (const p of rule.extensions.suppress?.groupBy ?? []) paths.add(p);
      const own = rule.target === 'canonical' && ![...paths].some((p) => /^raw(?![A-Za-z0-9_])/.test(p));
      this.projections.set(rule.uid, own ? null : [...paths].map((p) => [p, accessorFor(p)]));
    }
  }

  /**
   * Fixes what the clock reads until unpinned (`undefined`): the pipeline pins the wall time of
   * a batch, and of a journal entry replayed, so a replay after a restart decides as the first
   * run did.
   */
  pinClock(now: number | undefined): void {
    this.pinned = now;
  }

  private wallClock(): number | undefined {
    return this.clock ? (this.pinned ?? this.clock()) : undefined;
  }

  /**
   * Runs one event through every rule; returns the alerts and actions it caused, and those of
   * waiting hits the watermark now passed, in order.
   */
  process(event: AuthEvent, out: EngineOutput = { alerts: [], actions: [], dropped: [] }): EngineOutput {
    this.counters.events++;
    this.regexBudget?.beginRecord();
    if (event.time > this.time.maxTime && this.time.advance(event.time, this.wallClock())) this.counters.aheadEvents++;
    const wall = this.wallClock();
    if (wall !== undefined) this.lastEvent = { wall, maxTime: this.time.maxTime };
    const watermark = this.time.maxTime - this.lateness;
    const late = event.time < watermark;
    if (late) this.counters.lateEvents++;
    let light: AuthEvent | undefined;
    let waiting: Hit[] | undefined;
    this.index.forEachMatch(event, (rule, doc) => {
      this.matches.set(rule.uid, (this.matches.get(rule.uid) ?? 0) + 1);
      const hit: Hit = { ruleUid: rule.uid, time: event.time, eventId: event.id, doc, event };
      if (!this.arrive(rule, hit, out)) return;
      if (late) {
        this.deliver(rule, hit, watermark, out); // the correlations count it late and ignore it
        return;
      }
      // It waits keeping only what will be read of it.
      light ??= withoutRaw(event);
      hit.doc = this.project(rule.uid, doc, light);
      hit.event = light;
      (waiting ??= []).push(hit);
    });
    if (waiting) {
      this.pending.push({ time: event.time, eventId: event.id, event: light!, hits: waiting });
      while (this.pending.size > this.maxPending) {
        this.counters.orderOverflow++;
        this.releaseOne(out);
      }
    }
    this.release(watermark, out);
    this.fireDue(watermark, out);
    this.eventsSinceSweep++;
    if (this.time.maxTime - this.lastSweep >= this.sweepEvery && this.sweepAffordable()) this.sweep(watermark);
    if (++this.eventsSinceMemoryCheck >= MEMORY_CHECK_EVENTS) this.checkMemory();
    return out;
  }

  /**
   * Sheds state when the heap outgrew the budget. What was shed is garbage until the collector
   * runs, and the heap in use counts it, so after a shed the next one waits until the heap has
   * either come back under the budget or grown by another fifth: one overshoot sheds once.
   */
  private checkMemory(): void {
    this.eventsSinceMemoryCheck = 0;
    for (const c of this.correlatorsByUid.values()) {
      const stats = c.stats();
      if (stats.bytes !== undefined) continue; // off the heap, bounded by its own bytes
      const bytes = stateBytes(c.rule.type, stats);
      if (bytes <= this.ruleBudget) continue;
      c.shed(1 - (0.75 * this.ruleBudget) / bytes);
      this.counters.ruleSheds++;
    }
    const used = this.heapUsed();
    if (used <= this.memoryBudget) {
      this.shedAbove = this.memoryBudget;
      return;
    }
    if (used <= this.shedAbove) return;
    // Enough to come back to 90 % of the budget were state all of the heap; at least 5 %, at most half.
    const fraction = Math.min(0.5, Math.max(0.05, (used - 0.9 * this.memoryBudget) / used));
    for (const c of this.correlatorsByUid.values()) c.shed(fraction);
    this.counters.memorySheds++;
    this.shedAbove = used * 1.2;
  }

  /**
   * The match stage of a scaled-out deployment: runs one event through the single-event rules
   * with `clock` (the event time of its input partition), publishes the alerts that depend on
   * no order, and hands every hit that feeds state to `send`, with whether it is late. The
   * correlate stage takes them (`accept`).
   */
  match(
    event: AuthEvent,
    clock: EventClock,
    out: EngineOutput,
    send: (rule: Rule, hit: Hit, late: boolean) => void,
  ): void {
    this.counters.events++;
    this.regexBudget?.beginRecord();
    if (event.time > clock.maxTime && clock.advance(event.time, this.wallClock())) this.counters.aheadEvents++;
    const late = event.time < clock.watermark;
    if (late) this.counters.lateEvents++;
    this.index.forEachMatch(event, (rule, doc) => {
      this.matches.set(rule.uid, (this.matches.get(rule.uid) ?? 0) + 1);
      const hit: Hit = { ruleUid: rule.uid, time: event.time, eventId: event.id, doc, event };
      if (this.arrive(rule, hit, out)) send(rule, hit, late);
    });
  }

  /**
   * The correlate stage: takes the hits of one event on their routes (`Hit.route`), sent by the
   * match stage. Late ones, by the clock of the partition they came from, are delivered at once,
   * as `process` does: the correlations count them late and ignore them. The others wait for
   * `releaseTo` to pass them; one that comes after this engine released past it (its input
   * partition was taken for idle, and then its records came) is released now, out of order, as
   * a hit within the lateness is: counted in `behindHits`, never dropped.
   */
  accept(time: number, eventId: string, event: AuthEvent, hits: Hit[], late: boolean, out: EngineOutput): void {
    this.eventsSinceSweep++;
    if (++this.eventsSinceMemoryCheck >= MEMORY_CHECK_EVENTS) this.checkMemory();
    const watermark = this.time.maxTime - this.lateness;
    if (late) {
      for (const hit of hits) this.deliver(this.detections.get(hit.ruleUid)!, hit, watermark, out);
      return;
    }
    this.pending.push({ time, eventId, event, hits });
    if (time < watermark) {
      this.counters.behindHits += hits.length;
      this.release(watermark, out);
    }
    while (this.pending.size > this.maxPending) {
      this.counters.orderOverflow++;
      this.releaseOne(out);
    }
  }

  /**
   * The correlate stage: event time reached `watermark` plus the lateness on every input
   * partition that feeds this engine; releases the hits before it, in order, makes the timed
   * correlations' decisions up to it, and sweeps, as `process` does. With `release`, the hits
   * before that (a later moment: the wall clock's, while every input is idle) are released too,
   * as `idle` does.
   */
  releaseTo(watermark: number, out: EngineOutput, release = watermark): void {
    if (watermark + this.lateness > this.time.maxTime) this.time.raise(watermark + this.lateness);
    const w = this.time.maxTime - this.lateness;
    this.release(Math.max(w, release), out);
    this.fireDue(w, out);
    if (this.time.maxTime - this.lastSweep >= this.sweepEvery && this.sweepAffordable()) this.sweep(w);
  }

  /** Hits waiting for event time to pass them. */
  get pendingHits(): number {
    return this.pending.size;
  }

  /**
   * Releases every waiting hit, in order, as if event time had passed them all: at the end of
   * an input (a replay, a file), so that nothing it held back is lost.
   */
  flush(out: EngineOutput = { alerts: [], actions: [], dropped: [] }): EngineOutput {
    while (this.pending.size > 0) this.releaseOne(out);
    return out;
  }

  /**
   * In a live deployment (an engine with a clock), called while no event comes: once none has
   * come for IDLE_AFTER_MS, the hits that event time would have passed had it moved on with the
   * wall clock from where the last event left it are released, in order. Event time itself
   * stays where the events put it, so a stream that pauses (a producer down, then its backlog)
   * never makes the events after the pause late; a hit of the backlog older than one released
   * here reaches the correlations after it, as a hit arriving out of order within the lateness
   * does. Returns true when it released any (the caller journals the call, with the pinned
   * clock, so a replay releases alike).
   */
  idle(out: EngineOutput = { alerts: [], actions: [], dropped: [] }): boolean {
    const now = this.wallClock();
    if (now === undefined || this.pending.size === 0) return false;
    if (!this.lastEvent) {
      this.lastEvent = { wall: now, maxTime: this.time.maxTime };
      return false;
    }
    const quiet = now - this.lastEvent.wall;
    if (quiet < IDLE_AFTER_MS) return false;
    const horizon = Math.min(this.lastEvent.maxTime + quiet, now + this.lateness) - this.lateness;
    const before = this.pending.size;
    this.release(horizon, out);
    return this.pending.size < before;
  }

  /**
   * A hit as it arrives: a single-event alert that does not depend on order goes out now.
   * Returns whether what does (correlations, `suppress`) has to see it: it then waits in the
   * queue, or, late, sees it at once.
   */
  private arrive(rule: Rule, hit: Hit, out: EngineOutput): boolean {
    const alerting = this.alerting.has(rule.uid);
    const suppressed = alerting && rule.extensions.suppress !== undefined;
    if (alerting && !suppressed) this.emit(rule, hit, out, undefined);
    return suppressed || this.consumers.has(rule.uid);
  }

  /** What a waiting hit keeps of the record it matched: the fields read, or the event itself. */
  private project(uid: string, doc: Doc, light: AuthEvent): Doc {
    const fields = this.projections.get(uid);
    if (fields === null) return light as unknown as Doc;
    const kept: Record<string, unknown> = {};
    for (const [path, read] of fields ?? []) {
      const v = read(doc);
      if (v !== undefined) kept[path] = v;
    }
    return kept;
  }

  private release(watermark: number, out: EngineOutput): void {
    while (this.pending.earliest < watermark) this.releaseOne(out);
  }

  /**
   * The earliest waiting event's hits, in rule order, each delivered with the event's time as the
   * watermark: nothing before it is to come. A hit the engine fails on is skipped and reported.
   */
  private releaseOne(out: EngineOutput): void {
    const entry = this.pending.pop()!;
    this.fireDue(entry.time, out);
    for (const hit of entry.hits) {
      const rule = this.detections.get(hit.ruleUid);
      if (!rule) continue;
      const alerts = out.alerts.length;
      const actions = out.actions.length;
      const dropped = out.dropped.length;
      try {
        this.deliver(rule, hit, entry.time, out);
      } catch (err) {
        out.alerts.length = alerts;
        out.actions.length = actions;
        out.dropped.length = dropped;
        this.counters.releaseErrors++;
        this.onReleaseError?.(err, {
          rule: this.ruleIds.get(hit.ruleUid) ?? hit.ruleUid,
          event_id: entry.eventId,
          time: entry.time,
        });
      }
    }
  }

  /**
   * What the timed correlators decided at moments before `before`: called before the hits of
   * that time are delivered (and with the watermark), so a decision sees exactly the hits up to
   * its moment. A firing is emitted and chained like one a hit completes.
   */
  private fireDue(before: number, out: EngineOutput): void {
    for (const c of this.timed) {
      for (const { firing, hit } of c.due!(before)) {
        if (this.alerting.has(c.rule.uid)) this.emit(c.rule, hit, out, firing);
        this.feed(c.rule.uid, { ...hit, doc: firing.group }, hit.time, out);
      }
    }
  }

  /** A hit in order (or a late one): the alert of a rule with `suppress`, then the correlations. */
  private deliver(rule: Rule, hit: Hit, watermark: number, out: EngineOutput): void {
    const routes = this.routing.byDetection.get(rule.uid);
    if (!routes) return;
    // Route by route, as the correlate stage of a scaled-out deployment receives them.
    for (const route of routes) {
      if (hit.route !== undefined && hit.route !== route.id) continue;
      if (route.id === SUPPRESS_ROUTE) this.emit(rule, hit, out, undefined);
      else this.feed(rule.uid, hit, watermark, out, route.id);
    }
  }

  /** Feeds the correlations referring to `uid` (those of one component, when `component` is given). */
  private feed(uid: string, hit: Hit, watermark: number, out: EngineOutput, component?: string): void {
    const consumers = this.consumers.get(uid);
    if (!consumers) return;
    for (const c of consumers) {
      if (component !== undefined && this.routing.componentOf.get(c.rule.uid) !== component) continue;
      const f = c.observe(hit, watermark);
      if (!f) continue;
      // A firing is a hit for the correlations chained on it; their group-by reads its group.
      const chained: Hit = {
        ruleUid: c.rule.uid,
        time: hit.time,
        eventId: hit.eventId,
        doc: f.group,
        event: hit.event,
      };
      if (this.alerting.has(c.rule.uid)) this.emit(c.rule, chained, out, f);
      this.feed(c.rule.uid, chained, watermark, out);
    }
  }

  private emit(rule: Rule, hit: Hit, out: EngineOutput, firing: Firing | undefined): void {
    const s = rule.extensions.suppress;
    if (s) {
      const readers = this.suppressReaders.get(rule.uid);
      const key = `${rule.uid}\u0000${readers ? readers.map((r) => suppressValue(r, firing, hit)).join('\u0000') : (firing?.groupKey ?? '')}`;
      const last = this.suppression.peek(key);
      // Either side of the last alert: a hit that arrives out of order (within the lateness)
      // is as much a repeat as one that arrives after it.
      if (last !== undefined && Math.abs(hit.time - last) < s.timespanMs) {
        this.counters.suppressed++;
        return;
      }
      this.suppression.set(key, last === undefined ? hit.time : Math.max(last, hit.time));
    }
    const scope = this.routing.scopeOf(rule, firing, hit);
    const alert = buildAlert(rule, hit, firing);
    out.alerts.push(alert);
    this.counters.alerts++;
    rule.extensions.response.forEach((spec, i) => {
      const action = buildAction(spec, i, alert, rule.extensions.mode);
      if (!action) {
        this.counters.actionsWithoutTarget++;
        return;
      }
      const invalid = invalidTarget(action.target.kind, action.target.value);
      if (invalid) {
        this.counters.actionsInvalidTarget++;
        out.dropped.push({
          rule_id: alert.rule_id,
          alert_id: alert.alert_id,
          type: action.type,
          target: action.target,
          reason: invalid,
        });
        return;
      }
      // Every action expires: an instant one (a revocation, a notice) after the cooldown, so an
      // enforcer catching up on a backlog can tell a stale order from a fresh one.
      action.expires_at ??= action.created_at + this.actionCooldown;
      if (scope !== undefined && this.stillInForce(action, scope)) {
        this.counters.actionsInForce++;
        return;
      }
      out.actions.push(action);
      this.counters.actions++;
    });
  }

  /**
   * True when the same action (type, target, duration, factor, mode) ordered from the same
   * scope (`Routing.scopeOf`: the state key it came from) is still in force, so it is not
   * published again; otherwise records this one as in force until it expires (or, for one with
   * no duration, for the cooldown). Notices are about their alert, not their target: they
   * always go out. The scope keeps the decision with the state that led to it, so a scaled-out
   * deployment, where each key lives in one partition, decides as one engine does.
   */
  private stillInForce(action: Action, scope: string): boolean {
    if (action.type === 'notify') return false;
    const { type, target, mode, parameters } = action;
    const key = `${scope}\u0000${type}\u0000${target.kind}\u0000${target.value}\u0000${mode}\u0000${parameters.duration_ms ?? ''}\u0000${parameters.factor ?? ''}`;
    const held = this.actionsInForce.peek(key);
    if (held !== undefined && action.created_at < held) return true;
    this.actionsInForce.set(key, action.expires_at!);
    return false;
  }

  /**
   * Whether enough events went by since the last sweep to pay for visiting every group: at
   * most SWEEP_GROUPS_PER_EVENT visits per event. The groups are counted once per sweep interval.
   */
  private sweepAffordable(): boolean {
    if (this.sweepAfterEvents === undefined) {
      let groups = this.actionsInForce.size;
      for (const c of this.correlatorsByUid.values()) groups += c.stats().keys;
      this.sweepAfterEvents = Math.ceil(groups / this.sweepGroupsPerEvent);
    }
    return this.eventsSinceSweep >= this.sweepAfterEvents;
  }

  /** Frees state that can no longer contribute, as event time advances. */
  private sweep(watermark: number): void {
    this.lastSweep = this.time.maxTime;
    this.eventsSinceSweep = 0;
    this.sweepAfterEvents = undefined;
    for (const c of this.correlatorsByUid.values()) c.expire(watermark);
    this.actionsInForce.sweep((until) => until <= watermark);
  }

  /** Records on which each rule's backtracking expressions ran out of time (cheap; `stats` has it too). */
  regexBudgetExhausted(): ReadonlyMap<string, number> {
    return this.regexBudget?.exhausted ?? EMPTY;
  }

  stats(): EngineStats {
    const rules: Record<string, CorrelatorStats> = {};
    for (const [uid, c] of this.correlatorsByUid) {
      const s = c.stats();
      rules[uid] = { ...s, bytes: stateBytes(c.rule.type, s) };
    }
    const matches: Record<string, number> = {};
    for (const [uid, n] of this.matches) matches[this.ruleIds.get(uid) ?? uid] = n;
    return {
      ...this.counters,
      watermark: Number.isFinite(this.time.maxTime) ? this.time.maxTime - this.lateness : null,
      rules,
      matches,
      actionsTracked: this.actionsInForce.size,
      pendingHits: this.pending.size,
      regexBudgetExhausted: Object.fromEntries(this.regexBudget?.exhausted ?? []),
    };
  }

  /** The whole state, as JSON, so a restarted engine continues its windows. */
  snapshot(deferred?: DeferredSnapshot): EngineSnapshot {
    const correlatorState: Record<string, unknown> = {};
    for (const [uid, c] of this.correlatorsByUid) correlatorState[uid] = c.snapshot(deferred);
    return {
      version: 1,
      maxTime: Number.isFinite(this.time.maxTime) ? this.time.maxTime : null,
      lastSweep: Number.isFinite(this.lastSweep) ? this.lastSweep : null,
      eventsSinceSweep: this.eventsSinceSweep,
      counters: { ...this.counters },
      ahead: [...this.time.ahead],
      suppression: this.suppression.snapshot((t) => t, deferred),
      actions: this.actionsInForce.snapshot((t) => t, deferred),
      correlators: correlatorState,
      pending: this.pending.values().map((w) => ({
        t: w.time,
        id: w.eventId,
        e: w.event,
        h: w.hits.map((h) => (h.doc === (w.event as unknown) ? { r: h.ruleUid } : { r: h.ruleUid, d: h.doc })),
      })),
    };
  }

  /**
   * The state as it is now, written a slice at a time while the engine goes on: `step` between
   * batches until it returns true, then `text` is the JSON that `restore` takes (parsed). The
   * engine copies a group just before it changes one not yet written, so the result is exactly
   * the state when the snapshot began, without stopping the engine for the whole of it.
   */
  beginSnapshot(): SnapshotInProgress {
    const deferred = new DeferredSnapshot();
    const skeleton = JSON.stringify(this.snapshot(deferred));
    return {
      step: (budget) => deferred.step(budget),
      text: () => deferred.text(skeleton),
      abandon: () => deferred.end(),
    };
  }

  /**
   * Takes back a snapshot. State of rules that are no longer loaded is dropped; rules that are
   * new start empty. A snapshot of another version is refused rather than half-read.
   */
  restore(snapshot: EngineSnapshot): void {
    if (snapshot?.version !== 1) throw new Error(`Unsupported engine snapshot version ${String(snapshot?.version)}.`);
    this.time.restore(snapshot.maxTime, snapshot.ahead);
    this.lastSweep = snapshot.lastSweep ?? Number.NEGATIVE_INFINITY;
    this.eventsSinceSweep = snapshot.eventsSinceSweep ?? 0;
    this.sweepAfterEvents = undefined;
    Object.assign(this.counters, snapshot.counters);
    this.suppression.restore(snapshot.suppression, (t: number) => t);
    if (snapshot.actions) this.actionsInForce.restore(snapshot.actions, (t: number) => t);
    for (const [uid, state] of Object.entries(snapshot.correlators)) this.correlatorsByUid.get(uid)?.restore(state);
    this.pending.clear();
    for (const p of snapshot.pending ?? []) {
      const event = p.e as unknown as Doc;
      const hits = p.h
        .filter((h) => this.detections.has(h.r))
        .map((h): Hit => ({ ruleUid: h.r, time: p.t, eventId: p.id, doc: h.d ?? event, event: p.e }));
      if (hits.length > 0) this.pending.push({ time: p.t, eventId: p.id, event: p.e, hits });
    }
    this.lastEvent = undefined;
  }
}

function suppressValue(read: Accessor, firing: Firing | undefined, hit: Hit): string {
  const fromGroup = firing ? read(firing.group) : undefined;
  return scalarText(fromGroup ?? read(hit.doc) ?? read(hit.event as unknown as Doc)) ?? '';
}

function entitiesOf(event: AuthEvent): Entities {
  const e: Entities = {};
  const user = event.user?.name ?? event.user?.id;
  if (user !== undefined) e.user = user;
  if (event.user?.id !== undefined) e.user_id = event.user.id;
  if (event.ip !== undefined) e.ip = event.ip;
  if (event.session_id !== undefined) e.session = event.session_id;
  if (event.device_id !== undefined) e.device = event.device_id;
  if (event.client?.id !== undefined) e.client = event.client.id;
  if (event.phone?.number !== undefined) e.phone = event.phone.number;
  if (event.geo?.country !== undefined) e.country = event.geo.country;
  if (event.asn !== undefined) e.asn = event.asn;
  return e;
}

function buildAlert(rule: Rule, hit: Hit, firing: Firing | undefined): Alert {
  const ruleId = rule.id ?? rule.uid;
  const alert: Alert = {
    alert_id: stableId(ruleId, firing?.groupKey ?? '', hit.eventId, hit.time),
    rule_id: ruleId,
    rule_title: rule.title,
    rule_type: rule.kind === 'detection' ? 'detection' : (rule as CorrelationRule).type,
    level: rule.level,
    tags: rule.tags,
    mode: rule.extensions.mode,
    group: firing?.group ?? {},
    entities: entitiesOf(hit.event),
    first_seen: firing?.first ?? hit.time,
    last_seen: firing?.last ?? hit.time,
    detected_at: hit.time,
    event_count: firing?.count ?? 1,
    event_ids: firing?.eventIds.slice(0, ALERT_SAMPLE_SIZE) ?? [hit.eventId],
  };
  if (firing?.distinctValues) alert.distinct_values = firing.distinctValues.slice(0, ALERT_SAMPLE_SIZE);
  if (firing?.context) alert.context = firing.context;
  if (rule.description) alert.description = rule.description;
  return alert;
}

function buildAction(spec: ResponseSpec, index: number, alert: Alert, mode: 'monitor' | 'enforce'): Action | undefined {
  const kind = spec.target ?? DEFAULT_TARGET[spec.action];
  const e = alert.entities;
  const value =
    kind === 'none'
      ? ''
      : kind === 'user'
        ? (e.user_id ?? e.user)
        : kind === 'session'
          ? e.session
          : kind === 'device'
            ? e.device
            : kind === 'client'
              ? e.client
              : kind === 'phone'
                ? e.phone
                : e.ip;
  if (value === undefined) return undefined;
  const action: Action = {
    action_id: stableId(alert.alert_id, index, spec.action),
    alert_id: alert.alert_id,
    type: spec.action,
    target: { kind, value },
    parameters: {},
    mode: mode === 'enforce' ? 'enforce' : 'dry_run',
    created_at: alert.detected_at,
  };
  const duration = spec.duration ? parseTimespan(spec.duration) : DEFAULT_DURATION_MS[spec.action];
  if (duration !== undefined) {
    action.parameters.duration_ms = duration;
    action.expires_at = alert.detected_at + duration;
  }
  if (spec.channel) action.parameters.channel = spec.channel;
  if (spec.reason) action.parameters.reason = spec.reason;
  if (spec.factor) action.parameters.factor = spec.factor;
  return action;
}

/** Words sources write where they have no value; an action on them would hit nobody, or everybody. */
const PLACEHOLDERS = new Set(['null', 'undefined', 'none', 'nil', 'n/a', 'na', 'unknown', '-', '0']);
const PHONE = /^\+?[0-9][0-9 ().-]*[0-9]$/;

/**
 * Why an action's target value is not what its kind claims, or undefined when it is: an
 * address that does not parse, an empty or placeholder user, a phone number with no digits.
 */
export function invalidTarget(kind: ActionTargetKind, value: string): string | undefined {
  if (kind === 'none') return undefined;
  const text = value.trim();
  if (text === '') return `an empty ${kind}`;
  if (PLACEHOLDERS.has(text.toLowerCase())) return `a placeholder (${JSON.stringify(text)}), not a ${kind}`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) return `a ${kind} with control characters`;
  if (text.length > 1024) return `a ${kind} of ${text.length} characters`;
  if (kind === 'ip' && !parseIp(text)) return `not an IP address: ${JSON.stringify(text.slice(0, 64))}`;
  if (kind === 'phone') {
    const digits = text.replace(/[^0-9]/g, '').length;
    if (!PHONE.test(text) || digits < 6 || digits > 15)
      return `not a phone number: ${JSON.stringify(text.slice(0, 64))}`;
  }
  return undefined;
}
