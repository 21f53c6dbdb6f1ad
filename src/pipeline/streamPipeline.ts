import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import {
  IDLE_AFTER_MS,
  type DroppedAction,
  type Engine,
  type EngineOutput,
  type EngineSnapshot,
} from '../engine/engine.js';
import type { AuthEvent } from '../events/authEvent.js';
import type { Ingest, IngestResult } from '../events/ingest.js';
import { AuthwatchError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { MetricsView, PipelineCounters } from '../server/metrics.js';
import { newPipelineCounters } from '../server/metrics.js';
import type { Sink, SinkBatch } from '../sinks/sink.js';
import { isEmptyBatch } from '../sinks/sink.js';
import { partitionKey, type PartitionFetch, type PartitionedSource, type TopicPartition } from '../sources/source.js';
import { type BatchRange, type Checkpoint, type CheckpointStore, type JournalEntry } from '../state/checkpointStore.js';
import { BatchAssembler, type AssembledBatch, type Pending } from './batchAssembler.js';
import { emptyOutput, evaluate } from './evaluate.js';
import { CheckpointScheduler } from './checkpointScheduler.js';
import { backoffMs, isRetriable, retrying, type WriteHealth } from './retry.js';
import { Signal, sleep } from './signal.js';
import type { HitRouter } from '../scale/hits.js';

export interface StreamPipelineOptions {
  /** Most records in one engine batch. */
  batchMaxRecords: number;
  /** Records fetched and not yet processed, across partitions; partitions pause beyond their share. */
  maxBufferedRecords: number;
  /** Processed batches whose writes are pending; processing waits beyond. */
  maxInflightBatches: number;
  /** How long a write waits for more processed batches to join it (0: writes at once). */
  writeLingerMs?: number;
  /** How long a batch waits for a partition known to have more records. */
  partitionWaitMs: number;
  /** Times a record is tried when it fails with a retriable error. */
  maxRecordAttempts: number;
  /** Wall-clock time between checkpoints (and offset commits). */
  checkpointIntervalMs: number;
  /** Hands every decoded event to the sinks too (the ClickHouse events table). */
  keepEvents?: boolean;
  /** Wall clock, for flush and checkpoint timers and latencies; never for windows. */
  now?: () => number;
}

export interface StreamPipelineDeps {
  source: PartitionedSource;
  ingest: Ingest;
  engine: Engine;
  sinks: Sink[];
  store: CheckpointStore;
  logger: Logger;
  /**
   * The match stage of a scaled-out deployment: events go through the single-event rules only,
   * and the hits that feed state go to the sinks (the hits topic) with every input partition's
   * watermark, for the correlate stage.
   */
  match?: MatchStageOptions;
  /** Observes batch latency and engine time (the Metrics histograms). */
  observe?: {
    batchLatency(seconds: number): void;
    processSeconds(seconds: number): void;
    /** From the Kafka timestamp of a batch's oldest record to its outputs written. */
    endToEnd?(seconds: number): void;
  };
}

export interface MatchStageOptions {
  router: HitRouter;
  /** An input partition read to its end that got no record for this long is idle. */
  idleTimeoutMs: number;
  /** While no batch comes, how often the watermarks go out anyway. */
  heartbeatMs: number;
}

/** What /readyz and the status line report. */
export interface PipelineHealth {
  running: boolean;
  /** The consumer is in the group (not crashed and restarting). */
  kafka: boolean;
  assigned: number;
  restored: boolean;
  sinks: boolean;
  failure?: string;
}

/** A fetched record on its way to the engine. */
interface Item {
  result: IngestResult;
  bytes: Uint8Array;
  fetchedAt: number;
  /** The record's Kafka timestamp (the producer's clock, or the broker's). */
  timestamp: number;
}

interface BatchJob {
  kind: 'batch';
  seq: number;
  ranges: BatchRange[];
  /** Rebuilt from the journal: its entry is already stored. */
  replayed: boolean;
  out: SinkBatch;
  records: number;
  fetchedAt: number;
  processedAt: number;
  /** Kafka timestamp of the batch's oldest record. */
  producedAt: number;
  /** Offsets after this batch, for the partitions it touched. */
  positions: [string, number][];
  /** The wall time the engine's clock read for it (journaled). */
  clock: number;
  /** The match stage's watermarks while no record comes: neither numbered nor journaled. */
  heartbeat?: boolean;
}

interface CheckpointJob {
  kind: 'checkpoint';
  checkpoint: Checkpoint;
}

type Job = BatchJob | CheckpointJob;

/** A write in progress for longer than this makes the pipeline not ready: a sink is unreachable. */
const SLOW_WRITE_MS = 10_000;

/**
 * The streaming engine over a partitioned source: fetch → decode and enrich → engine → sinks,
 * at least once, restart-safe.
 *
 * Acknowledgement: every batch is a job on one ordered write queue. A job's journal entry (which
 * records the batch held) is stored first, then every sink writes the batch's outputs, and only
 * then is the batch acknowledged; input offsets are committed with the checkpoint that follows
 * acknowledged batches. Processing runs ahead of writing by at most `maxInflightBatches` batches;
 * beyond that it waits, the fetched queues fill, and their partitions pause: memory is bounded
 * and backpressure reaches the brokers.
 *
 * Restart: the checkpoint holds the engine state after batch N and the offsets that state
 * reflects. On assignment the pipeline restores it, seeks every partition to its offset, and
 * replays the journal entries after N exactly (same records, same order, hence the same alert
 * ids) before forming new batches. Records re-read are thus counted once in the windows, and
 * outputs written twice are identical, for consumers to de-duplicate by id.
 */
export class StreamPipeline {
  readonly counters: PipelineCounters = newPipelineCounters();
  private readonly assembler: BatchAssembler<Item>;
  private readonly now: () => number;
  /** Next offset to process per partition (processed, not necessarily written). */
  private readonly positions = new Map<string, number>();
  /** Next offset to process per partition whose outputs every sink has written. */
  private readonly acked = new Map<string, number>();
  private readonly highWatermarks = new Map<string, number>();
  private readonly paused = new Set<string>();
  private readonly jobs: Job[] = [];
  private inflightBatches = 0;
  /** Wakes the process loop: records fetched, a write done, a stop. */
  private readonly wake = new Signal();
  /** Wakes the write loop: a job queued, processing ended. */
  private readonly queued = new Signal();
  private processingDone = false;
  /** When the write in progress started; a write that takes long means a sink is unreachable. */
  private writingSince: number | undefined;
  private assigned: TopicPartition[] = [];
  private seq = 0;
  private readonly checkpoints: CheckpointScheduler;
  private restored = false;
  /** Partitions assigned and state restored: batches may be taken. */
  private assignedAndRestored = false;
  private consumerUp = false;
  private stopping = false;
  private failure: Error | undefined;
  private loops: Promise<void> | undefined;
  private readonly warned = new Map<string, { at: number; count: number }>();

  constructor(
    private readonly deps: StreamPipelineDeps,
    private readonly options: StreamPipelineOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.assembler = new BatchAssembler<Item>({
      maxRecords: options.batchMaxRecords,
      partitionWaitMs: options.partitionWaitMs,
    });
    this.checkpoints = new CheckpointScheduler(deps.engine, deps.logger, options.checkpointIntervalMs, this.now);
  }

  /**
   * Joins the group and runs until `stop` (resolves) or a failure no retry can fix (rejects;
   * nothing after the failed write is acknowledged).
   */
  async run(): Promise<void> {
    const { source } = this.deps;
    this.loops = Promise.all([this.processLoop(), this.writeLoop()]).then(() => undefined);
    this.loops.catch(() => undefined);
    try {
      await source.start({
        onAssign: (assignment) => this.onAssign(assignment),
        onRecords: (fetch) => this.onRecords(fetch),
        onRebalance: () => {
          this.deps.logger.info('The consumer group is rebalancing; partitions may move.');
        },
        onFailure: (error, restarting) => this.onSourceFailure(error, restarting),
      });
    } catch (err) {
      this.fail(err as Error);
    }
    await this.loops;
    if (this.failure) throw this.failure;
  }

  /**
   * Graceful stop: no new batch is started, the batch in hand finishes, every sink writes what
   * was produced, the state is checkpointed and the offsets committed, then the consumer leaves
   * the group. Resolves when done.
   */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.deps.source.pause(this.assigned);
      this.wake.notify();
      this.queued.notify();
    }
    await this.loops;
    for (const sink of this.deps.sinks) await sink.close();
    await this.deps.source.stop().catch((err: unknown) => {
      this.deps.logger.warn(
        { err },
        'The consumer did not leave the group cleanly; its partitions move after the session timeout.',
      );
    });
  }

  health(): PipelineHealth {
    return {
      running: !this.stopping && !this.failure,
      kafka: this.consumerUp,
      assigned: this.assigned.length,
      restored: this.restored,
      sinks: this.writeHealth.ok && (this.writingSince === undefined || this.now() - this.writingSince < SLOW_WRITE_MS),
      ...(this.failure ? { failure: this.failure.message } : {}),
    };
  }

  isReady(): boolean {
    const h = this.health();
    return h.running && h.kafka && h.assigned > 0 && h.restored && h.sinks;
  }

  /** Records fetched and not yet processed, and jobs (batches, checkpoints) not yet written. */
  backlog(): { buffered: number; jobs: number } {
    return { buffered: this.assembler.size, jobs: this.jobs.length };
  }

  /**
   * Records per partition whose outputs are not yet written by every sink (the partition end
   * last seen minus the acknowledged position): what a crash now would leave to re-read.
   */
  lag(): Map<string, number> {
    const out = new Map<string, number>();
    for (const p of this.assigned) {
      const key = partitionKey(p);
      const high = this.highWatermarks.get(key);
      const position = this.acked.get(key);
      if (high !== undefined && position !== undefined) out.set(key, Math.max(0, high - position));
    }
    return out;
  }

  /** Partition ends from the brokers, for lag of partitions with nothing new to fetch. */
  async refreshHighWatermarks(): Promise<void> {
    const asked = this.now();
    for (const p of await this.deps.source.highWatermarks()) {
      const key = partitionKey(p);
      this.highWatermarks.set(key, Math.max(this.highWatermarks.get(key) ?? 0, p.high));
    }
    this.endsCheckedAt = Math.max(this.endsCheckedAt, asked);
  }

  /** When the partition ends were last asked of the brokers (not learnt from a fetch). */
  private endsCheckedAt = Number.NEGATIVE_INFINITY;
  private endsCheck: Promise<void> | undefined;

  metricsView(): MetricsView {
    return {
      ingest: this.deps.ingest.counters,
      engine: this.deps.engine.stats(),
      pipeline: this.counters,
      lag: this.lag(),
      checkpointAgeSeconds: this.checkpoints.ageSeconds(this.seq),
      checkpointBytes: this.checkpoints.stored?.bytes ?? 0,
      unwrittenBatches: this.inflightBatches,
      ready: this.isReady(),
    };
  }

  // ------------------------------------------------------------------ assignment and restore

  private async onAssign(assignment: TopicPartition[]): Promise<void> {
    this.assignedAndRestored = false;
    this.consumerUp = true;
    const { logger, source } = this.deps;
    const revoked = this.assembler.assign(assignment);
    // Their queued records are dropped with them: if they come back, reading resumes where processing stopped.
    for (const p of revoked) {
      this.paused.delete(partitionKey(p));
      this.deps.match?.router.drop(partitionKey(p));
    }
    this.assigned = assignment;
    if (revoked.length > 0) {
      logger.info(
        { revoked: revoked.map(partitionKey) },
        'Partitions moved to another member; their records not yet processed are left to it.',
      );
    }
    if (!this.restored) await this.restore();
    for (const p of assignment) {
      const position = this.positions.get(partitionKey(p));
      if (position !== undefined) source.seek(p, position);
    }
    // Pauses as this member means them: the consumer keeps a pause across a rejoin, also of a
    // partition given up and assigned again, and may have lost others with a lost connection.
    const paused = this.stopping ? assignment : assignment.filter((p) => this.paused.has(partitionKey(p)));
    const running = this.stopping ? [] : assignment.filter((p) => !this.paused.has(partitionKey(p)));
    if (running.length > 0) source.resume(running);
    if (paused.length > 0) source.pause(paused);
    // Knowing where each partition ends lets the first batches wait for partitions that have a
    // backlog, so a backlog is taken in event-time order across partitions.
    try {
      await this.refreshHighWatermarks();
    } catch (err) {
      logger.debug({ err }, 'Could not read the partition ends; batches start with what is fetched first.');
    }
    const owned = new Set(assignment.map(partitionKey));
    for (const p of assignment) {
      const key = partitionKey(p);
      const high = this.highWatermarks.get(key);
      if (high !== undefined && owned.has(key)) this.assembler.expect(p, this.positions.get(key), high);
    }
    if (this.assembler.replaying) {
      const plan = this.assembler.abandonReplay();
      if (plan.every((e) => e.ranges.every((r) => owned.has(partitionKey(r))))) this.assembler.replay(plan);
      else this.abandonReplay(plan, 'some of their partitions are assigned to another member');
    }
    logger.info(
      { partitions: assignment.map(partitionKey), replaying: this.assembler.replaying },
      'Partitions assigned; consuming.',
    );
    this.assignedAndRestored = true;
    this.wake.notify();
  }

  /** Loads the newest checkpoint and the journal after it, retrying while the store is unreachable. */
  private async restore(): Promise<void> {
    const { logger, store, engine } = this.deps;
    for (let attempt = 1; ; attempt++) {
      try {
        const stored = await store.load();
        for (const problem of stored.problems) {
          logger.error({ problem }, 'A stored checkpoint is unusable; restoring from the one before it.');
        }
        const c = stored.checkpoint;
        if (c) {
          engine.restore(JSON.parse(c.state) as EngineSnapshot);
          for (const [key, offset] of Object.entries(c.positions)) {
            this.positions.set(key, offset);
            this.acked.set(key, offset);
          }
          this.seq = c.seq;
          this.checkpoints.restoredFrom(c);
        }
        // Without a checkpoint the journal starts where the group's committed offsets did.
        for (const e of stored.journal) {
          for (const r of e.ranges) {
            const key = partitionKey(r);
            if (!this.positions.has(key)) this.positions.set(key, r.first);
          }
        }
        if (stored.journal.length > 0) this.assembler.replay(stored.journal);
        logger.info(
          {
            checkpoint: c ? { seq: c.seq, age_s: Math.round((this.now() - c.createdAt) / 1000) } : null,
            journal_batches: stored.journal.length,
            positions: Object.fromEntries(this.positions),
          },
          c ? 'Engine state restored from its checkpoint.' : 'No checkpoint found; the engine starts empty.',
        );
        this.restored = true;
        return;
      } catch (err) {
        if (!isRetriable(err) || this.stopping) throw err;
        logger.warn({ err, attempt }, 'Cannot read the state checkpoint yet; retrying.');
        await sleep(backoffMs(attempt));
      }
    }
  }

  private onSourceFailure(error: Error, restarting: boolean): void {
    this.consumerUp = false;
    if (restarting) {
      this.deps.logger.warn({ err: error }, 'The Kafka consumer lost its connection; it rejoins the group by itself.');
    } else this.fail(new AuthwatchError(`The Kafka consumer stopped: ${error.message}`, { cause: error }));
  }

  // ------------------------------------------------------------------------------- fetching

  private onRecords(fetch: PartitionFetch): void {
    if (this.stopping) return;
    const key = partitionKey(fetch);
    let position = this.positions.get(key);
    if (position !== undefined && fetch.highWatermark < position) {
      this.deps.logger.warn(
        { partition: key, checkpoint_offset: position, end: fetch.highWatermark },
        'The partition ends before the stored position: the topic was recreated or truncated. Reading it from what is there.',
      );
      this.positions.delete(key);
      this.acked.delete(key);
      position = undefined;
    }
    this.highWatermarks.set(key, Math.max(this.highWatermarks.get(key) ?? 0, fetch.highWatermark));
    if (position === undefined && fetch.records.length > 0) {
      // The first records of a partition with no stored position: reading starts here.
      position = fetch.records[0]!.offset;
      this.positions.set(key, position);
      this.acked.set(key, position);
    }
    const from = Math.max(position ?? 0, this.assembler.fetchedTo(fetch));
    const now = this.now();
    const pending: Pending<Item>[] = [];
    for (const r of fetch.records) {
      if (r.offset < from) continue; // processed already, or queued: the consumer re-fetched after a restart
      const bytes = r.value ?? new Uint8Array(0);
      const result = this.deps.ingest.process(bytes, {
        topic: fetch.topic,
        partition: fetch.partition,
        offset: String(r.offset),
      });
      if (!result.ok && result.error !== undefined) {
        this.deps.logger.error(
          { err: result.error, partition: key, offset: r.offset },
          'authwatch failed on a record while decoding it; it went to the dead-letter topic as internal_error.',
        );
      }
      pending.push({
        offset: r.offset,
        time: result.ok ? result.event.time : -Infinity,
        item: { result, bytes, fetchedAt: now, timestamp: r.timestamp },
      });
    }
    if (pending.length === 0) return;
    this.counters.recordsByTopic.set(
      fetch.topic,
      (this.counters.recordsByTopic.get(fetch.topic) ?? 0) + pending.length,
    );
    this.assembler.add(fetch, pending, fetch.highWatermark);
    if (this.assembler.queued(fetch) >= this.pauseAt() && !this.paused.has(key)) {
      this.paused.add(key);
      this.deps.source.pause([fetch]);
    }
    this.wake.notify();
  }

  /**
   * A partition pauses when it holds its share of the buffer, and resumes at half of that. The
   * share is never below a batch, so a journal entry to replay always fits.
   */
  private pauseAt(): number {
    const share = Math.ceil(this.options.maxBufferedRecords / Math.max(1, this.assigned.length));
    return Math.max(100, this.options.batchMaxRecords + 1, share);
  }

  private resumeDrained(): void {
    if (this.paused.size === 0 || this.stopping) return;
    const resumeAt = this.pauseAt() / 2;
    const resume: TopicPartition[] = [];
    for (const p of this.assigned) {
      const key = partitionKey(p);
      if (this.paused.has(key) && this.assembler.queued(p) < resumeAt) {
        this.paused.delete(key);
        resume.push(p);
      }
    }
    if (resume.length > 0) this.deps.source.resume(resume);
  }

  // ----------------------------------------------------------------------------- processing

  private async processLoop(): Promise<void> {
    while (!this.stopping && !this.failure) {
      if (!this.assignedAndRestored || this.inflightBatches >= this.options.maxInflightBatches) {
        await this.wake.wait();
        continue;
      }
      let taken;
      try {
        taken = this.assembler.take(this.now());
      } catch (err) {
        this.abandonReplay(this.assembler.abandonReplay(), (err as Error).message);
        continue;
      }
      if (!taken.batch) {
        if (this.idleTick() || this.heartbeat()) continue;
        this.checkpoint(true);
        if (this.checkpoints.writing) {
          await yieldToEventLoop(); // idle: go on writing the snapshot
          continue;
        }
        const until = Math.min(
          taken.retryAt ?? Number.POSITIVE_INFINITY,
          this.checkpoints.dueAt,
          this.deps.engine.pendingHits > 0 ? this.lastIdleTick + IDLE_AFTER_MS : Number.POSITIVE_INFINITY,
          this.deps.match ? this.lastHeartbeat + this.deps.match.heartbeatMs : Number.POSITIVE_INFINITY,
        );
        await this.wake.wait(Math.max(10, until - this.now()));
        // Woken by the first partition of a fetch: let the others of the same fetch come in too,
        // so the batch merges them by event time rather than taking one partition alone.
        await yieldToEventLoop();
        continue;
      }
      this.process(taken.batch);
      this.resumeDrained();
      this.checkpoint(false);
      await yieldToEventLoop();
    }
    // The batch boundary the stop left: checkpoint it so a restart re-reads nothing.
    if (this.stopping && !this.failure && this.restored)
      this.queueCheckpoint(this.checkpoints.takeNow(this.seq, this.positionsNow));
    this.processingDone = true;
    this.queued.notify();
  }

  /**
   * Gives up replaying the journal: its records are processed anew as new batches. A checkpoint
   * taken now, numbered after the last abandoned entry, retires those entries, so that a later
   * restore never mixes them with the batches that replace them.
   */
  private abandonReplay(left: JournalEntry[], why: string): void {
    if (left.length === 0) return;
    this.deps.logger.warn(
      { batches: left.length, reason: why },
      'Batches processed before the restart cannot be replayed exactly; their records are processed anew.',
    );
    this.seq = Math.max(this.seq, left[left.length - 1]!.seq);
    this.queueCheckpoint(this.checkpoints.takeNow(this.seq, this.positionsNow, true));
  }

  /**
   * While no batch can be formed, at most once per IDLE_AFTER_MS: lets the engine release, by
   * the wall clock, hits waiting for event-time order on a quiet stream. A release is a batch
   * without records, journaled with its clock.
   */
  private idleTick(): boolean {
    const now = this.now();
    const { engine } = this.deps;
    if (engine.pendingHits === 0 || now - this.lastIdleTick < IDLE_AFTER_MS || this.assembler.replaying) return false;
    this.lastIdleTick = now;
    this.process({ records: [], ranges: [] }, true);
    return true;
  }

  private lastIdleTick = 0;
  private lastHeartbeat = 0;

  /** The match stage, while no batch comes: the watermarks go out every `heartbeatMs`. */
  private heartbeat(): boolean {
    const match = this.deps.match;
    if (!match || this.assembler.replaying || this.now() - this.lastHeartbeat < match.heartbeatMs) return false;
    this.process({ records: [], ranges: [] }, false, true);
    return true;
  }

  /**
   * Asks the brokers where the partitions end (in the background, one request at a time) when
   * one has been quiet for the idle timeout since they were last asked: what the last fetch
   * said of its end may be old, and only a partition known to hold nothing more is idle.
   */
  private confirmEnds(owned: ReadonlyArray<{ unconfirmed: boolean }>): void {
    if (this.endsCheck || !owned.some((o) => o.unconfirmed)) return;
    this.endsCheck = this.refreshHighWatermarks()
      .catch((err: unknown) => this.deps.logger.debug({ err }, 'Could not read the partition ends.'))
      .finally(() => {
        this.endsCheck = undefined;
      });
  }

  /** The input partitions this member reads, each with whether it is idle, and the input topics' partition counts. */
  private inputs(now: number): {
    owned: Array<{ source: string; idle: boolean; caughtUp: boolean; unconfirmed: boolean }>;
    topics: Record<string, number>;
  } {
    const match = this.deps.match!;
    const topics: Record<string, number> = {};
    for (const key of this.highWatermarks.keys()) {
      const at = key.lastIndexOf('/');
      const topic = key.slice(0, at);
      topics[topic] = Math.max(topics[topic] ?? 0, Number(key.slice(at + 1)) + 1);
    }
    const owned = this.assigned.map((p) => {
      const source = partitionKey(p);
      // A partition with nothing fetched since it was assigned (read to its end by the member
      // before) is idle once quiet; one that is paused, or known to hold more, never is.
      const position = this.positions.get(source);
      const behind = position !== undefined && position < (this.highWatermarks.get(source) ?? 0);
      const quiet = now - match.router.clockOf(source, now).lastRecordAt;
      const caughtUp = !behind && !this.paused.has(source);
      // Idle only while the brokers, asked after it went quiet and lately, say it holds nothing
      // more: a fetch may not have brought its newest records yet, and an idle partition's
      // records come after the others' watermarks passed them. Asked again every half timeout.
      const quietLong = caughtUp && quiet >= match.idleTimeoutMs;
      const checked = this.endsCheckedAt - (now - quiet) >= match.idleTimeoutMs;
      const age = now - this.endsCheckedAt;
      return {
        source,
        idle: quietLong && checked && age <= match.idleTimeoutMs,
        caughtUp,
        unconfirmed: quietLong && (!checked || age > match.idleTimeoutMs / 2),
      };
    });
    return { owned, topics };
  }

  /** A batch of records; or, `idle`, a release by the wall clock while no record came (replayed too: no ranges). */
  private process(batch: AssembledBatch<Item>, idle = false, heartbeat = false): void {
    const { engine, ingest, logger } = this.deps;
    const started = process.hrtime.bigint();
    const out = emptyOutput();
    const events: AuthEvent[] | undefined = this.options.keepEvents ? [] : undefined;
    let fetchedAt = Number.POSITIVE_INFINITY;
    let producedAt = Number.POSITIVE_INFINITY;
    const clock = batch.clock ?? this.now();
    const match = this.deps.match;
    engine.pinClock(clock);
    try {
      if (batch.ranges.length === 0 && !match) {
        // An idle release: journaled only when it released, replayed as it was.
        if (!engine.idle(out) && idle) return;
      }
      for (const r of batch.records) {
        const { result, bytes } = r.item;
        if (r.item.fetchedAt < fetchedAt) fetchedAt = r.item.fetchedAt;
        if (r.item.timestamp < producedAt) producedAt = r.item.timestamp;
        if (!result.ok) {
          out.deadLetters.push(result.deadLetter);
          continue;
        }
        if (events) events.push(result.event);
        const position = { topic: r.topic, partition: r.partition, offset: String(r.offset) };
        const key = partitionKey(r);
        const run = match ? (e: AuthEvent, o: EngineOutput) => match.router.match(e, key, r.offset, clock, o) : engine;
        evaluate(run, ingest, result.event, { bytes, position }, out, {
          attempts: this.options.maxRecordAttempts,
          logger,
        });
      }
    } finally {
      engine.pinClock(undefined);
    }
    let hits: ReturnType<HitRouter['take']> | undefined;
    if (match) {
      if (heartbeat && this.assigned.length === 0) return;
      for (const r of batch.ranges) this.positions.set(partitionKey(r), r.last + 1);
      const { owned, topics } = this.inputs(clock);
      this.confirmEnds(owned);
      hits = match.router.take(owned, topics, clock);
      this.lastHeartbeat = this.now();
    }
    this.deps.observe?.processSeconds(Number(process.hrtime.bigint() - started) / 1e9);
    for (const d of out.dropped) this.warnDropped(d);
    this.warnRegexBudget();
    const positions: [string, number][] = batch.ranges.map((r) => [partitionKey(r), r.last + 1]);
    for (const [key, offset] of positions) this.positions.set(key, offset);
    const replayed = batch.seq !== undefined;
    if (replayed) this.counters.replayedBatches++;
    const seq = heartbeat ? this.seq : (this.seq = replayed ? batch.seq! : this.seq + 1);
    this.jobs.push({
      kind: 'batch',
      seq,
      ranges: batch.ranges,
      replayed,
      out: {
        alerts: out.alerts,
        actions: out.actions,
        deadLetters: out.deadLetters,
        ...(events ? { events } : {}),
        ...(hits ? { hits } : {}),
      },
      records: batch.records.length,
      fetchedAt,
      processedAt: this.now(),
      producedAt,
      positions,
      clock,
      ...(heartbeat ? { heartbeat } : {}),
    });
    this.inflightBatches++;
    this.queued.notify();
  }

  private readonly budgetWarned = new Map<string, number>();

  /** A warning (at most one a minute per rule) naming a rule whose regular expressions ran out of time. */
  private warnRegexBudget(): void {
    for (const [rule, records] of this.deps.engine.regexBudgetExhausted()) {
      const before = this.budgetWarned.get(rule) ?? 0;
      if (records === before || !this.rateLimit(`regex\u0000${rule}`)) continue;
      this.budgetWarned.set(rule, records);
      this.deps.logger.warn(
        { rule, records, since_last_warning: records - before },
        "A rule's backtracking regular expressions ran out of their time budget on some records; the values they did not cover counted as no match.",
      );
    }
  }

  /** True at most once a minute per key. */
  private rateLimit(key: string): boolean {
    const now = this.now();
    const seen = this.warned.get(key);
    if (seen && now - seen.at < 60_000) {
      seen.count++;
      return false;
    }
    this.warned.set(key, { at: now, count: 0 });
    return true;
  }

  private warnDropped(d: DroppedAction): void {
    const key = `${d.rule_id}\u0000${d.type}`;
    this.counters.actionsDropped.set(key, (this.counters.actionsDropped.get(key) ?? 0) + 1);
    if (!this.rateLimit(`dropped\u0000${key}`)) return;
    this.deps.logger.warn(
      { rule: d.rule_id, action: d.type, target: d.target, reason: d.reason },
      'A response action was not published: its target is not what it claims to be.',
    );
  }

  /** Begins, writes a slice of, or queues the checkpoint of the engine state. */
  private checkpoint(idle: boolean): void {
    this.checkpoints.maybeBegin(this.seq, this.positionsNow);
    this.queueCheckpoint(this.checkpoints.step(idle));
  }

  private readonly positionsNow = (): Record<string, number> => Object.fromEntries(this.positions);

  private queueCheckpoint(checkpoint: Checkpoint | undefined): void {
    if (!checkpoint) return;
    this.jobs.push({ kind: 'checkpoint', checkpoint });
    this.queued.notify();
  }

  // -------------------------------------------------------------------------------- writing

  /**
   * Writes the jobs in order. A checkpoint is stored once every batch before it is written, but
   * the batches after it do not wait for it (it may take a while for a large state, and they
   * have their own journal entries); the next checkpoint waits for it.
   */
  private async writeLoop(): Promise<void> {
    let storing: Promise<void> = Promise.resolve();
    for (;;) {
      if (this.failure) return;
      if (this.jobs.length === 0) {
        if (this.processingDone) {
          await storing;
          return;
        }
        await this.queued.wait();
        continue;
      }
      const first = this.jobs[0]!;
      this.writingSince = this.now();
      try {
        if (first.kind === 'checkpoint') {
          this.jobs.shift();
          await storing;
          storing = this.writeCheckpoint(first.checkpoint).then(
            () => this.wake.notify(),
            (err: unknown) => this.fail(err as Error),
          );
          continue;
        }
        const group: BatchJob[] = [];
        let records = 0;
        for (const job of this.jobs) {
          if (job.kind !== 'batch') break;
          group.push(job);
          records += job.records;
        }
        const linger = (this.options.writeLingerMs ?? 0) - (this.now() - first.processedAt);
        const more = group.length === this.jobs.length && records < this.options.batchMaxRecords;
        if (linger > 0 && more && !this.processingDone && !this.stopping) {
          this.writingSince = undefined;
          await this.queued.wait(linger);
          continue;
        }
        await this.writeBatches(group);
        this.jobs.splice(0, group.length);
        this.inflightBatches -= group.length;
        this.wake.notify();
      } catch (err) {
        this.fail(err as Error);
        return;
      } finally {
        this.writingSince = undefined;
      }
    }
  }

  private async writeBatches(group: BatchJob[]): Promise<void> {
    const journal: JournalEntry[] = group
      .filter((j) => !j.replayed && !j.heartbeat)
      .map((j) => ({ seq: j.seq, ranges: j.ranges, clock: j.clock }));
    // The journal first: a batch whose outputs may be out must be replayable exactly.
    if (journal.length > 0) await this.retrying('state', () => this.deps.store.appendJournal(journal));
    const merged: SinkBatch = {
      alerts: group.flatMap((j) => j.out.alerts),
      actions: group.flatMap((j) => j.out.actions),
      deadLetters: group.flatMap((j) => j.out.deadLetters),
      ...(this.options.keepEvents ? { events: group.flatMap((j) => j.out.events ?? []) } : {}),
      ...(this.deps.match ? { hits: group.flatMap((j) => j.out.hits ?? []) } : {}),
    };
    if (!isEmptyBatch(merged)) {
      await Promise.all(this.deps.sinks.map((sink) => this.retrying(sink.name, () => sink.write(merged))));
    }
    const now = this.now();
    for (const job of group) {
      for (const [key, offset] of job.positions) this.acked.set(key, offset);
      this.counters.batches++;
      if (job.records === 0) continue; // an idle release
      this.deps.observe?.batchLatency((now - job.fetchedAt) / 1000);
      if (job.producedAt > 0 && Number.isFinite(job.producedAt))
        this.deps.observe?.endToEnd?.((now - job.producedAt) / 1000);
    }
    for (const a of merged.alerts) {
      const entry = this.counters.alerts.get(a.rule_id);
      if (entry) entry.count++;
      else this.counters.alerts.set(a.rule_id, { level: a.level, count: 1 });
    }
    const ruleOf = new Map(merged.alerts.map((a) => [a.alert_id, a.rule_id]));
    for (const a of merged.actions) {
      const key = `${ruleOf.get(a.alert_id) ?? ''}\u0000${a.type}\u0000${a.mode}`;
      this.counters.actions.set(key, (this.counters.actions.get(key) ?? 0) + 1);
    }
  }

  private async writeCheckpoint(checkpoint: Checkpoint): Promise<void> {
    const { store, source, logger } = this.deps;
    const bytes = await this.retrying('state', () => store.saveCheckpoint(checkpoint));
    this.checkpoints.storedCheckpoint(checkpoint, bytes);
    this.counters.checkpoints++;
    logger.debug({ seq: checkpoint.seq, bytes, positions: checkpoint.positions }, 'Checkpoint stored.');
    const owned = new Set(source.assignment().map(partitionKey));
    const offsets = Object.entries(checkpoint.positions)
      .filter(([key]) => owned.has(key))
      .map(([key, offset]) => {
        const at = key.lastIndexOf('/');
        return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)), offset };
      });
    try {
      await source.commit(offsets);
    } catch (err) {
      // The checkpoint holds the offsets too, and restores from them; the commit is for lag tools.
      logger.warn({ err }, 'Committing the input offsets failed; the checkpoint has them and restores from them.');
    }
  }

  /** Runs a write until it succeeds, for as long as its errors are retriable (`retrying`). */
  private retrying<T>(sink: string, write: () => Promise<T>): Promise<T> {
    return retrying(sink, write, this.writeHealth, this.deps.logger);
  }

  private readonly writeHealth: WriteHealth = {
    sinkErrors: this.counters.sinkErrors,
    ok: true,
    failed: () => this.failure !== undefined,
  };

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.deps.logger.error(
      { err },
      'The pipeline stopped on an error no retry can fix; nothing after it was acknowledged.',
    );
    this.deps.source.pause(this.assigned);
    this.wake.notify();
    this.queued.notify();
  }
}
