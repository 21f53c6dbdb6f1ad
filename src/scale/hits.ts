import type { AuthEvent } from '../events/authEvent.js';
import type { Engine, EngineOutput } from '../engine/engine.js';
import type { Hit } from '../engine/correlations/correlator.js';
import { EventClock } from '../engine/eventClock.js';
import type { Doc, Rule } from '../rules/model.js';

/**
 * The records of `authwatch.hits`, between the match stage and the correlate stage of a
 * scaled-out deployment. One record holds the hits one match batch sends to one partition,
 * then the event time of each input partition that batch read (its watermark), so the
 * correlate stage knows how far every input has come.
 *
 * A hit carries what the correlations read and the alert needs, not the event: the input
 * partition and offset it came from (for de-duplication after a match restart), the rule, the
 * route, time, event id, whether it was late, the fields read, and the event's entities.
 */
export interface HitEnvelope {
  v: 1;
  /** Input topics and their partition counts, as the match stage saw them. */
  topics: Record<string, number>;
  /** Partitions of the hits topic the match stage keyed by: a mismatch is refused, never mis-keyed. */
  n: number;
  /** Input partitions (`topic/partition`) the hits and watermarks refer to by index. */
  s: string[];
  h: WireHit[];
  /**
   * After the hits: each input partition's watermark, whether it is idle, and, while it is read
   * to its end, how far the wall clock lets its hits be released (as the single engine's `idle`).
   */
  w?: Array<[source: number, watermark: number | null, idle: 0 | 1, horizon: number | null]>;
}

export type WireHit = [
  source: number,
  offset: number,
  index: number,
  rule: string,
  route: string,
  time: number,
  id: string,
  late: 0 | 1,
  doc: Record<string, unknown>,
  /** Null when the hit before it in the record is of the same event. */
  event: AuthEvent | null,
];

/** The fields of an event the alert and the correlations read beyond the rule's own (entities, geo). */
export function slimEvent(e: AuthEvent): AuthEvent {
  const s: AuthEvent = { id: e.id, time: e.time, source: e.source, type: e.type, outcome: e.outcome };
  if (e.user) s.user = e.user;
  if (e.ip !== undefined) s.ip = e.ip;
  if (e.asn !== undefined) s.asn = e.asn;
  if (e.geo) s.geo = e.geo;
  if (e.session_id !== undefined) s.session_id = e.session_id;
  if (e.device_id !== undefined) s.device_id = e.device_id;
  if (e.client?.id !== undefined) s.client = { id: e.client.id };
  if (e.phone) s.phone = e.phone;
  if (e.tenant !== undefined) s.tenant = e.tenant;
  return s;
}

/** The partition of the hits topic a key lives in: FNV-1a over its UTF-16 code units. */
export function hitsPartition(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

/** Hits of one record at most: keeps a record well under the brokers' 1 MB. */
const HITS_PER_RECORD = 1000;

/** An input partition's event time, as the match stage tracks it. */
export interface SourceClock {
  clock: EventClock;
  /** Wall time of its last record, or of its assignment. */
  lastRecordAt: number;
}

/**
 * The match stage: runs events through the single-event rules with the event time of their
 * input partition, and collects the hits that feed state into one envelope per hits partition.
 */
export class HitRouter {
  private readonly clocks = new Map<string, SourceClock>();
  private envelopes = new Map<number, WireHit[]>();
  private sources: string[] = [];
  private sourceIndex = new Map<string, number>();

  constructor(
    private readonly engine: Engine,
    private readonly partitions: number,
    private readonly lateness: number,
    private readonly corroboration = 5,
  ) {}

  clockOf(source: string, now: number): SourceClock {
    let c = this.clocks.get(source);
    if (!c) {
      c = { clock: new EventClock(this.lateness, this.corroboration), lastRecordAt: now };
      this.clocks.set(source, c);
    }
    return c;
  }

  /** Forgets the clock of an input partition this member no longer reads. */
  drop(source: string): void {
    this.clocks.delete(source);
  }

  /** Runs one event of `source` at `offset`: single-event alerts into `out`, hits into the envelopes. */
  match(event: AuthEvent, source: string, offset: number, now: number, out: EngineOutput): void {
    const sc = this.clockOf(source, now);
    sc.lastRecordAt = now;
    let index = 0;
    let slim: AuthEvent | undefined;
    const src = this.indexOf(source);
    this.engine.match(event, sc.clock, out, (rule: Rule, hit: Hit, late: boolean) => {
      for (const route of this.engine.routing.byDetection.get(rule.uid) ?? []) {
        const doc: Record<string, unknown> = {};
        for (const [path, read] of route.fields) {
          const v = read(hit.doc) ?? read(event as unknown as Doc);
          if (v !== undefined) doc[path] = v;
        }
        const p = hitsPartition(route.key(hit.doc, event), this.partitions);
        let list = this.envelopes.get(p);
        if (!list) this.envelopes.set(p, (list = []));
        slim ??= slimEvent(event);
        list.push([src, offset, index++, rule.uid, route.id, event.time, event.id, late ? 1 : 0, doc, slim]);
      }
    });
  }

  /**
   * The records of what was matched since the last call: hits by partition, then every
   * partition of the hits topic gets the watermarks of `owned` (the input partitions this
   * member reads), so that none waits on a partition that sent it nothing. `caughtUp`: read to
   * its end, so its quiet is the stream's, not a backlog's.
   */
  take(
    owned: ReadonlyArray<{ source: string; idle: boolean; caughtUp?: boolean }>,
    topics: Record<string, number>,
    now: number,
  ): Array<{ partition: number; envelope: HitEnvelope }> {
    for (const o of owned) this.indexOf(o.source);
    const w: NonNullable<HitEnvelope['w']> = owned.map(({ source, idle, caughtUp = idle }) => {
      const sc = this.clockOf(source, now);
      const { maxTime } = sc.clock;
      const watermark = Number.isFinite(maxTime) ? maxTime - this.lateness : null;
      // As the single engine does when its input goes quiet: event time moves on with the wall clock.
      const quiet = now - sc.lastRecordAt;
      const horizon =
        caughtUp && Number.isFinite(maxTime) ? Math.min(maxTime + quiet, now + this.lateness) - this.lateness : null;
      return [this.sourceIndex.get(source)!, watermark, idle ? 1 : 0, horizon];
    });
    const out: Array<{ partition: number; envelope: HitEnvelope }> = [];
    for (let p = 0; p < this.partitions; p++) {
      const hits = this.envelopes.get(p) ?? [];
      for (let i = 0; i < hits.length || i === 0; i += HITS_PER_RECORD) {
        const last = i + HITS_PER_RECORD >= hits.length;
        const h = hits.slice(i, i + HITS_PER_RECORD).map((hit, j, all) => {
          const prev = all[j - 1];
          return prev && prev[0] === hit[0] && prev[1] === hit[1] ? (hit.with(9, null) as WireHit) : hit;
        });
        const envelope: HitEnvelope = { v: 1, topics, n: this.partitions, s: this.sources, h };
        if (last) envelope.w = w;
        out.push({ partition: p, envelope });
      }
    }
    this.envelopes = new Map();
    this.sources = [];
    this.sourceIndex = new Map();
    return out;
  }

  private indexOf(source: string): number {
    let i = this.sourceIndex.get(source);
    if (i === undefined) {
      i = this.sources.length;
      this.sources.push(source);
      this.sourceIndex.set(source, i);
    }
    return i;
  }
}

/** What the correlate stage knows of one input partition. */
interface SourceState {
  /** Last hit taken: offset and index within its event (re-sent hits at or before it are dropped). */
  offset: number;
  index: number;
  watermark: number | null;
  idle: boolean;
  horizon: number | null;
}

export interface CorrelateSnapshot {
  version: 1;
  partitions: number;
  topics: Record<string, number>;
  sources: Record<string, SourceState>;
  watermark: number | null;
  released: number | null;
  engine: unknown;
}

/**
 * One partition of the hits topic in the correlate stage: its own engine (the windows of the
 * keys that live in it), fed the hits in the order they come, released by the slowest input
 * partition's watermark. Everything it does is a function of the partition's records, so a
 * member that takes it over restores the last checkpoint, reads on from its offset and
 * produces the same alerts, ids included.
 */
export class CorrelatePartition {
  private topics: Record<string, number> = {};
  private readonly sources = new Map<string, SourceState>();
  private watermark = Number.NEGATIVE_INFINITY;
  /** How far hits were released (beyond the watermark while every input is idle). */
  private released = Number.NEGATIVE_INFINITY;
  /** Hits dropped as re-sent. */
  duplicates = 0;

  constructor(
    readonly engine: Engine,
    readonly partitions: number,
    readonly partition: number,
  ) {}

  apply(envelope: HitEnvelope, out: EngineOutput): void {
    if (envelope.v !== 1) throw new Error(`A hits record of version ${String(envelope.v)}; this version reads 1.`);
    if (envelope.n !== this.partitions) {
      throw new Error(
        `A hits record was keyed for ${envelope.n} partitions, but the hits topic has ${this.partitions}: the members disagree on the partition count, and windows would be split.`,
      );
    }
    for (const [topic, count] of Object.entries(envelope.topics)) {
      if ((this.topics[topic] ?? 0) < count) this.topics[topic] = count;
    }
    let group: Hit[] | undefined;
    let groupOf: { src: string; offset: number; time: number; id: string; late: boolean; event: AuthEvent } | undefined;
    const flush = () => {
      if (group && groupOf) this.engine.accept(groupOf.time, groupOf.id, groupOf.event, group, groupOf.late, out);
      group = undefined;
      groupOf = undefined;
    };
    let previous: { src: string; offset: number; event: AuthEvent } | undefined;
    for (const [si, offset, index, rule, route, time, id, late, doc, sent] of envelope.h) {
      const src = envelope.s[si]!;
      const event = sent ?? (previous?.src === src && previous.offset === offset ? previous.event : undefined);
      if (!event) throw new Error(`A hits record lacks the event of ${src} at offset ${offset}.`);
      previous = { src, offset, event };
      const seen = this.sourceState(src);
      if (offset < seen.offset || (offset === seen.offset && index <= seen.index)) {
        this.duplicates++;
        continue;
      }
      seen.offset = offset;
      seen.index = index;
      if (!groupOf || groupOf.src !== src || groupOf.offset !== offset) {
        flush();
        groupOf = { src, offset, time, id, late: late === 1, event };
        group = [];
      }
      group!.push({ ruleUid: rule, time, eventId: id, doc: doc as Doc, event: groupOf.event, route });
    }
    flush();
    if (!envelope.w) return;
    for (const [si, watermark, idle, horizon] of envelope.w) {
      const s = this.sourceState(envelope.s[si]!);
      if (watermark !== null && (s.watermark === null || watermark > s.watermark)) s.watermark = watermark;
      s.idle = idle === 1;
      if (horizon !== null && (s.horizon === null || horizon > s.horizon)) s.horizon = horizon;
    }
    const { watermark, release } = this.inputWatermark();
    if (watermark > this.watermark || release > this.released) {
      this.watermark = Math.max(this.watermark, watermark);
      this.released = Math.max(this.released, release);
      this.engine.releaseTo(this.watermark, out, this.released);
    }
  }

  /**
   * How far every input partition has come: the least watermark of those not idle (`watermark`,
   * up to which timed correlations decide). Hits are released up to the least of what each
   * allows (`release`): its watermark, or, read to its end and quiet, as far as the wall clock
   * has moved since its last record, as the single engine's `idle` does. When all are idle, the
   * furthest any has come. Until every input partition has been heard from, nothing moves: one
   * not yet read by any member holds the windows back.
   */
  private inputWatermark(): { watermark: number; release: number } {
    let active = Number.POSITIVE_INFINITY;
    let releasable = Number.POSITIVE_INFINITY;
    let furthest = Number.NEGATIVE_INFINITY;
    let horizon = Number.NEGATIVE_INFINITY;
    let anyActive = false;
    const none = { watermark: Number.NEGATIVE_INFINITY, release: Number.NEGATIVE_INFINITY };
    for (const [topic, count] of Object.entries(this.topics)) {
      for (let p = 0; p < count; p++) {
        const s = this.sources.get(`${topic}/${p}`);
        if (!s) return none;
        if (s.horizon !== null) horizon = Math.max(horizon, s.horizon);
        if (s.watermark !== null) furthest = Math.max(furthest, s.watermark);
        if (s.idle) continue;
        anyActive = true;
        const w = s.watermark ?? Number.NEGATIVE_INFINITY;
        active = Math.min(active, w);
        releasable = Math.min(releasable, Math.max(w, s.horizon ?? Number.NEGATIVE_INFINITY));
      }
    }
    if (anyActive) return { watermark: active, release: releasable };
    return { watermark: furthest, release: horizon };
  }

  private sourceState(src: string): SourceState {
    let s = this.sources.get(src);
    if (!s) {
      s = { offset: -1, index: -1, watermark: null, idle: false, horizon: null };
      this.sources.set(src, s);
    }
    return s;
  }

  snapshot(): CorrelateSnapshot {
    return {
      version: 1,
      partitions: this.partitions,
      topics: { ...this.topics },
      sources: Object.fromEntries([...this.sources].map(([k, v]) => [k, { ...v }])),
      watermark: Number.isFinite(this.watermark) ? this.watermark : null,
      released: Number.isFinite(this.released) ? this.released : null,
      engine: this.engine.snapshot(),
    };
  }

  restore(s: CorrelateSnapshot): void {
    if (s.version !== 1) throw new Error(`Unsupported correlate snapshot version ${String(s.version)}.`);
    if (s.partitions !== this.partitions) {
      throw new Error(
        `The state of hits partition ${this.partition} was kept with ${s.partitions} partitions, and the hits topic has ${this.partitions} now: its keys would be mis-placed. Put the partition count back, or start the correlate stage afresh under a new group id.`,
      );
    }
    this.topics = { ...s.topics };
    this.sources.clear();
    for (const [k, v] of Object.entries(s.sources)) this.sources.set(k, { ...v });
    this.watermark = s.watermark ?? Number.NEGATIVE_INFINITY;
    this.released = s.released ?? Number.NEGATIVE_INFINITY;
    this.engine.restore(s.engine as Parameters<Engine['restore']>[0]);
  }
}
