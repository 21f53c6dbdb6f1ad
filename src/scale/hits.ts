import type { AuthEvent } from '../events/authEvent.js';
import type { Engine, EngineOutput } from '../engine/engine.js';
import type { Hit } from '../engine/correlations/correlator.js';
import { EventClock } from '../engine/eventClock.js';
import type { Doc, Rule } from '../rules/model.js';
import { accessorFor, type Accessor } from '../rules/sigma/fieldPath.js';
import type { Routing } from '../engine/routes.js';

/**
 * The records of `authwatch.hits`, between the match stage and the correlate stage of a
 * scaled-out deployment. One record holds the hits one match batch sends to one partition,
 * then the event time of each input partition that batch read (its watermark), so the
 * correlate stage knows how far every input has come.
 *
 * Hits come by event: each event whose hits go to the partition is one entry, with the input
 * partition and offset it came from (for de-duplication after a match restart), whether it was
 * late, the event's entities (not the event), the fields its hits read, and per hit its index
 * within the event, its rule, its route and which of those field sets it reads. Rule and route
 * ids and input partitions are named once per record and referred to by index. Version 1 (a
 * list of hits, each with its event's position, time, id and rule ids written out) is still
 * read, so hits written before an upgrade are not lost.
 */
export type HitEnvelope = HitEnvelopeV2 | HitEnvelopeV1;

interface EnvelopeHeader {
  /** Input topics and their partition counts, as the match stage saw them. */
  topics: Record<string, number>;
  /** Partitions of the hits topic the match stage keyed by: a mismatch is refused, never mis-keyed. */
  n: number;
  /** Input partitions (`topic/partition`) the hits and watermarks refer to by index. */
  s: string[];
  /**
   * After the hits: each input partition's watermark, whether it is idle, and, while it is read
   * to its end, how far the wall clock lets its hits be released (as the single engine's `idle`).
   */
  w?: Array<[source: number, watermark: number | null, idle: 0 | 1, horizon: number | null]>;
}

export interface HitEnvelopeV2 extends EnvelopeHeader {
  v: 2;
  /** Rule uids and route ids the hits refer to by index. */
  u: string[];
  e: WireEntry[];
}

/** One event's hits for one partition. */
export type WireEntry = [
  source: number,
  offset: number,
  late: 0 | 1,
  event: WireEvent,
  /** The distinct sets of fields its hits read (most of an event's hits read the same). */
  docs: Array<Record<string, unknown>>,
  /** Four numbers a hit: its index within the event, rule (`u`), route (`u`), doc (`docs`). */
  hits: number[],
];

/**
 * The fields of an event the alert and the correlations read beyond the rule's own (entities,
 * geo), by position, trailing absent ones left out: id, time, source, type, outcome, user, ip,
 * asn, geo, session_id, device_id, client id, phone, tenant; user, geo and phone are arrays
 * too (`USER_KEYS`, `GEO_KEYS`, `PHONE_KEYS`). Last, the other fields correlations suppress by
 * (`Routing.suppressFields`), path → value: a correlation reads those from the event of the
 * hit that fired it.
 */
export type WireEvent = unknown[];

export interface HitEnvelopeV1 extends EnvelopeHeader {
  v: 1;
  h: WireHitV1[];
}

type WireHitV1 = [
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

type User = NonNullable<AuthEvent['user']>;
type Geo = NonNullable<AuthEvent['geo']>;
type Phone = NonNullable<AuthEvent['phone']>;

/** The keys of the event's objects a `WireEvent` carries, by position. */
const USER_KEYS = ['id', 'name', 'email_domain', 'exists'] as const satisfies ReadonlyArray<keyof User>;
const GEO_KEYS = ['country', 'city', 'lat', 'lon', 'accuracy_km'] as const satisfies ReadonlyArray<keyof Geo>;
const PHONE_KEYS = ['number', 'country'] as const satisfies ReadonlyArray<keyof Phone>;

/** Every key listed: a field added to the event's user, geo or phone must be carried too. */
export type WireKeysComplete = [
  Exclude<keyof User, (typeof USER_KEYS)[number]>,
  Exclude<keyof Geo, (typeof GEO_KEYS)[number]>,
  Exclude<keyof Phone, (typeof PHONE_KEYS)[number]>,
] extends [never, never, never]
  ? true
  : never;
const _complete: WireKeysComplete = true;

/** Drops the trailing nulls of a positional array; null when nothing is left. */
function trimmed(a: unknown[]): unknown[] | null {
  let n = a.length;
  while (n > 0 && a[n - 1] === null) n--;
  if (n === 0) return null;
  a.length = n;
  return a;
}

// One packer and unpacker per object, in the order of its keys above: property reads and writes
// by name, which V8 makes fast where a loop over the key names is not.

function packUser(u: User | undefined): unknown[] | null {
  return u ? trimmed([u.id ?? null, u.name ?? null, u.email_domain ?? null, u.exists ?? null]) : null;
}

function unpackUser(a: unknown[]): User {
  const u: User = {};
  if (a[0] != null) u.id = a[0] as string;
  if (a[1] != null) u.name = a[1] as string;
  if (a[2] != null) u.email_domain = a[2] as string;
  if (a[3] != null) u.exists = a[3] as boolean;
  return u;
}

function packGeo(g: Geo | undefined): unknown[] | null {
  return g ? trimmed([g.country ?? null, g.city ?? null, g.lat ?? null, g.lon ?? null, g.accuracy_km ?? null]) : null;
}

function unpackGeo(a: unknown[]): Geo {
  const g: Geo = {};
  if (a[0] != null) g.country = a[0] as string;
  if (a[1] != null) g.city = a[1] as string;
  if (a[2] != null) g.lat = a[2] as number;
  if (a[3] != null) g.lon = a[3] as number;
  if (a[4] != null) g.accuracy_km = a[4] as number;
  return g;
}

function packPhone(p: Phone | undefined): unknown[] | null {
  return p ? trimmed([p.number ?? null, p.country ?? null]) : null;
}

function unpackPhone(a: unknown[]): Phone {
  const p: Phone = {};
  if (a[0] != null) p.number = a[0] as string;
  if (a[1] != null) p.country = a[1] as string;
  return p;
}

/** The paths a `WireEvent` carries in its own positions. */
const CARRIED = new Set([
  'id',
  'time',
  'source',
  'type',
  'outcome',
  ...USER_KEYS.map((k) => `user.${k}`),
  'ip',
  'asn',
  ...GEO_KEYS.map((k) => `geo.${k}`),
  'session_id',
  'device_id',
  'client.id',
  ...PHONE_KEYS.map((k) => `phone.${k}`),
  'tenant',
]);

/**
 * The fields beyond the entities a `WireEvent` has to carry for `routing`: those correlations
 * suppress by, unless carried anyway or in the raw record (which a waiting hit's event lacks).
 */
export function extraFields(routing: Routing): Array<[string, Accessor]> {
  return routing.suppressFields
    .filter((p) => !CARRIED.has(p) && !/^raw(?![A-Za-z0-9_])/.test(p))
    .map((p) => [p, accessorFor(p)]);
}

/** An event's entities for the hits topic, with the values of `extra` it has (see `WireEvent`). */
export function wireEvent(e: AuthEvent, extra: ReadonlyArray<[string, Accessor]> = []): WireEvent {
  const w: unknown[] = [
    e.id,
    e.time,
    e.source,
    e.type,
    e.outcome,
    packUser(e.user),
    e.ip ?? null,
    e.asn ?? null,
    packGeo(e.geo),
    e.session_id ?? null,
    e.device_id ?? null,
    e.client?.id ?? null,
    packPhone(e.phone),
    e.tenant ?? null,
    null,
  ];
  for (const [path, read] of extra) {
    const v = read(e as unknown as Doc);
    if (v !== undefined) ((w[14] ??= {}) as Record<string, unknown>)[path] = v;
  }
  return trimmed(w)!; // never empty: the id leads
}

/** The event a `WireEvent` carries: its entities, as the single engine's alerts read them. */
export function eventOf(w: WireEvent): AuthEvent {
  const [id, time, source, type, outcome, user, ip, asn, geo, session, device, client, phone, tenant, extra] = w as [
    string,
    number,
    AuthEvent['source'],
    string,
    AuthEvent['outcome'],
    unknown[] | null,
    string | null,
    number | null,
    unknown[] | null,
    string | null,
    string | null,
    string | null,
    unknown[] | null,
    string | null,
    Record<string, unknown> | null | undefined,
  ];
  const s: AuthEvent = { id, time, source, type, outcome };
  if (user) s.user = unpackUser(user);
  if (ip != null) s.ip = ip;
  if (asn != null) s.asn = asn;
  if (geo) s.geo = unpackGeo(geo);
  if (session != null) s.session_id = session;
  if (device != null) s.device_id = device;
  if (client != null) s.client = { id: client };
  if (phone) s.phone = unpackPhone(phone);
  if (tenant != null) s.tenant = tenant;
  if (extra) for (const [path, v] of Object.entries(extra)) setPath(s as unknown as Record<string, unknown>, path, v);
  return s;
}

/**
 * Sets a dotted path's value, making the objects on the way. Own properties only, and never a
 * prototype's name: a field name in a rule must not reach `Object.prototype`.
 */
function setPath(into: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  if (parts.some((p) => p === '__proto__' || p === 'constructor' || p === 'prototype')) return;
  let o = into;
  for (const part of parts.slice(0, -1)) {
    const next = Object.hasOwn(o, part) ? o[part] : undefined;
    o = (next !== null && typeof next === 'object' ? next : (o[part] = {})) as Record<string, unknown>;
  }
  o[parts[parts.length - 1]!] = value;
}

/** How many hits a record holds. */
export function hitCount(envelope: HitEnvelope): number {
  if (envelope.v === 1) return envelope.h?.length ?? 0;
  let n = 0;
  for (const entry of envelope.e ?? []) n += entry[5].length / 4;
  return n;
}

/** Strings a record names once and refers to by index. */
class StringTable {
  readonly list: string[] = [];
  private readonly index = new Map<string, number>();

  of(text: string): number {
    let i = this.index.get(text);
    if (i === undefined) this.index.set(text, (i = this.list.push(text) - 1));
    return i;
  }
}

/** The index of `doc` (of `size` keys) in `docs`, added when no equal one is there (equal: the same keys, values ===). */
function docIndex(docs: Array<Record<string, unknown>>, doc: Record<string, unknown>, size: number): number {
  search: for (let i = 0; i < docs.length; i++) {
    const d = docs[i]!;
    let n = 0;
    for (const k in d) {
      if (d[k] !== doc[k]) continue search;
      n++;
    }
    if (n === size) return i;
  }
  docs.push(doc);
  return docs.length - 1;
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
  /** Per hits partition, the entries since the last `take`. */
  private entries = new Map<number, WireEntry[]>();
  private sources = new StringTable();
  private uids = new StringTable();
  /** The entries of the event being matched, by partition. */
  private readonly current = new Map<number, WireEntry>();
  private readonly extra: Array<[string, Accessor]>;

  constructor(
    private readonly engine: Engine,
    private readonly partitions: number,
    private readonly lateness: number,
    private readonly corroboration = 5,
  ) {
    this.extra = extraFields(engine.routing);
  }

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

  /** Runs one event of `source` at `offset`: single-event alerts into `out`, hits into the entries. */
  match(event: AuthEvent, source: string, offset: number, now: number, out: EngineOutput): void {
    const sc = this.clockOf(source, now);
    sc.lastRecordAt = now;
    let index = 0;
    let wire: WireEvent | undefined;
    const src = this.sources.of(source);
    const current = this.current;
    current.clear();
    this.engine.match(event, sc.clock, out, (rule: Rule, hit: Hit, late: boolean) => {
      for (const route of this.engine.routing.byDetection.get(rule.uid) ?? []) {
        const doc: Record<string, unknown> = {};
        let size = 0;
        for (const [path, read] of route.fields) {
          const v = read(hit.doc) ?? read(event as unknown as Doc);
          if (v !== undefined) {
            doc[path] = v;
            size++;
          }
        }
        const p = hitsPartition(route.key(hit.doc, event), this.partitions);
        let entry = current.get(p);
        if (!entry) {
          wire ??= wireEvent(event, this.extra);
          entry = [src, offset, late ? 1 : 0, wire, [], []];
          current.set(p, entry);
          let list = this.entries.get(p);
          if (!list) this.entries.set(p, (list = []));
          list.push(entry);
        }
        entry[5].push(index++, this.uids.of(rule.uid), this.uids.of(route.id), docIndex(entry[4], doc, size));
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
  ): Array<{ partition: number; envelope: HitEnvelopeV2 }> {
    for (const o of owned) this.sources.of(o.source);
    const w: NonNullable<HitEnvelope['w']> = owned.map(({ source, idle, caughtUp = idle }) => {
      const sc = this.clockOf(source, now);
      const { maxTime } = sc.clock;
      const watermark = Number.isFinite(maxTime) ? maxTime - this.lateness : null;
      // As the single engine does when its input goes quiet: event time moves on with the wall clock.
      const quiet = now - sc.lastRecordAt;
      const horizon =
        caughtUp && Number.isFinite(maxTime) ? Math.min(maxTime + quiet, now + this.lateness) - this.lateness : null;
      return [this.sources.of(source), watermark, idle ? 1 : 0, horizon];
    });
    const out: Array<{ partition: number; envelope: HitEnvelopeV2 }> = [];
    const header = { topics, n: this.partitions, s: this.sources.list, u: this.uids.list };
    for (let p = 0; p < this.partitions; p++) {
      const entries = this.entries.get(p) ?? [];
      // Whole events, up to HITS_PER_RECORD hits a record; the watermarks go with the last.
      let from = 0;
      let hits = 0;
      for (let i = 0; i < entries.length; i++) {
        hits += entries[i]![5].length / 4;
        if (hits >= HITS_PER_RECORD && i + 1 < entries.length) {
          out.push({ partition: p, envelope: { v: 2, ...header, e: entries.slice(from, i + 1) } });
          from = i + 1;
          hits = 0;
        }
      }
      out.push({ partition: p, envelope: { v: 2, ...header, e: entries.slice(from), w } });
    }
    this.entries = new Map();
    this.sources = new StringTable();
    this.uids = new StringTable();
    return out;
  }
}

/**
 * A record of version 1 as one of version 2: hits of one event (one after the other in the
 * record) become its entry, the event the first of them carried its entities.
 */
function fromV1(v1: HitEnvelopeV1): HitEnvelopeV2 {
  const uids = new StringTable();
  const e: WireEntry[] = [];
  let entry: WireEntry | undefined;
  for (const [si, offset, index, rule, route, , , late, doc, sent] of v1.h ?? []) {
    if (!entry || entry[0] !== si || entry[1] !== offset) {
      if (!sent) throw new Error(`A hits record lacks the event of ${v1.s[si]} at offset ${offset}.`);
      entry = [si, offset, late, wireEvent(sent), [], []];
      e.push(entry);
    }
    entry[4].push(doc);
    entry[5].push(index, uids.of(rule), uids.of(route), entry[4].length - 1);
  }
  const { topics, n, s, w } = v1;
  return { v: 2, topics, n, s, u: uids.list, e, ...(w ? { w } : {}) };
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

  apply(record: HitEnvelope, out: EngineOutput): void {
    if (record.v !== 1 && record.v !== 2) {
      throw new Error(`A hits record of version ${String((record as { v: unknown }).v)}; this version reads 1 and 2.`);
    }
    const envelope = record.v === 1 ? fromV1(record) : record;
    if (envelope.n !== this.partitions) {
      throw new Error(
        `A hits record was keyed for ${envelope.n} partitions, but the hits topic has ${this.partitions}: the members disagree on the partition count, and windows would be split.`,
      );
    }
    for (const [topic, count] of Object.entries(envelope.topics)) {
      if ((this.topics[topic] ?? 0) < count) this.topics[topic] = count;
    }
    const { s: sources, u: uids } = envelope;
    for (const [si, offset, late, wire, docs, hits] of envelope.e) {
      const seen = this.sourceState(sources[si]!);
      let event: AuthEvent | undefined;
      let group: Hit[] | undefined;
      for (let i = 0; i < hits.length; i += 4) {
        const index = hits[i]!;
        if (offset < seen.offset || (offset === seen.offset && index <= seen.index)) {
          this.duplicates++;
          continue;
        }
        seen.offset = offset;
        seen.index = index;
        event ??= eventOf(wire);
        (group ??= []).push({
          ruleUid: uids[hits[i + 1]!]!,
          time: event.time,
          eventId: event.id,
          doc: docs[hits[i + 3]!] as Doc,
          event,
          route: uids[hits[i + 2]!]!,
        });
      }
      if (group) this.engine.accept(event!.time, event!.id, event!, group, late === 1, out);
    }
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
