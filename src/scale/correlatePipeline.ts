import type { Engine } from '../engine/engine.js';
import { AuthwatchError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { emptyOutput } from '../pipeline/evaluate.js';
import { Signal, sleep } from '../pipeline/signal.js';
import { backoffMs, isRetriable, retrying, type WriteHealth } from '../pipeline/retry.js';
import type { Sink, SinkBatch } from '../sinks/sink.js';
import { isEmptyBatch } from '../sinks/sink.js';
import {
  partitionKey,
  type PartitionFetch,
  type PartitionedSource,
  type SourceRecord,
  type TopicPartition,
} from '../sources/source.js';
import type { CheckpointStore } from '../state/checkpointStore.js';
import { CorrelatePartition, hitCount, type CorrelateSnapshot, type HitEnvelope } from './hits.js';

export interface CorrelatePipelineDeps {
  /** The hits topic, read by the correlate group. */
  source: PartitionedSource;
  /** A fresh engine for a partition taken over. */
  newEngine: () => Engine;
  /** Partitions of the hits topic, which the match stage keyed by. */
  partitions: number;
  sinks: Sink[];
  /** Where the state of one hits partition is checkpointed. */
  store: (partition: number) => CheckpointStore;
  logger: Logger;
}

export interface CorrelatePipelineOptions {
  /** Hits records taken at most between two writes to the sinks. */
  batchMaxRecords: number;
  /** Records fetched and not yet processed per partition; the partition pauses beyond. */
  maxQueuedRecords: number;
  /** Wall-clock time between checkpoints of a partition's state (and offset commits). */
  checkpointIntervalMs: number;
  now?: () => number;
}

/** One hits partition this member owns. */
interface Task {
  tp: TopicPartition;
  state: CorrelatePartition;
  store: CheckpointStore;
  /** The next offset to process; undefined until the first record (no checkpoint). */
  position: number | undefined;
  queue: SourceRecord[];
  /** The partition's end, as last seen: for lag. */
  high: number;
  paused: boolean;
  /** Processed records since the last checkpoint. */
  dirty: boolean;
  checkpointedAt: number;
}

/** What the correlate stage counts, for the metrics and the status line. */
export interface CorrelateCounters {
  records: number;
  hits: number;
  duplicates: number;
  badRecords: number;
  alerts: number;
  actions: number;
  checkpoints: number;
  restores: number;
}

/**
 * The correlate stage: owns partitions of the hits topic, each with an engine of its own, and
 * publishes the alerts and actions of the correlations and suppressed rules whose keys live
 * there.
 *
 * At least once, and exact: a partition's outputs are written before the checkpoint of the
 * state after them is stored, and its offset is committed only after that. A member that takes
 * a partition over restores the checkpoint and reads on from its offset; since everything a
 * partition does is a function of its records, what it writes again is what was written,
 * alert ids included. A partition given up in a rebalance is checkpointed as it goes (kafkajs
 * reports the new assignment once the group has re-formed, so its new owner may already have
 * restored the periodic checkpoint before it, and reads more again).
 */
export class CorrelatePipeline {
  readonly counters: CorrelateCounters = {
    records: 0,
    hits: 0,
    duplicates: 0,
    badRecords: 0,
    alerts: 0,
    actions: 0,
    checkpoints: 0,
    restores: 0,
  };
  /** Alerts published, by rule id. */
  readonly alertsByRule = new Map<string, { level: string; count: number }>();
  /** Actions published, by rule, type and mode (NUL-separated, as the pipeline counts them). */
  readonly actionsByKey = new Map<string, number>();
  private readonly tasks = new Map<number, Task>();
  private readonly wake = new Signal();
  private readonly now: () => number;
  /** Assignment and processing take turns: a rebalance waits for the batch in hand. */
  private turn: Promise<void> = Promise.resolve();
  private stopping = false;
  private failure: Error | undefined;
  private consumerUp = false;
  /** Failed writes by sink and retriability (merged into the metrics), and whether the last went through. */
  readonly writeHealth: WriteHealth = {
    sinkErrors: new Map(),
    ok: true,
    failed: () => this.failure !== undefined,
  };
  private loop: Promise<void> | undefined;
  private refreshedAt = 0;

  constructor(
    private readonly deps: CorrelatePipelineDeps,
    private readonly options: CorrelatePipelineOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  async run(): Promise<void> {
    this.loop = this.processLoop();
    this.loop.catch(() => undefined);
    try {
      await this.deps.source.start({
        onAssign: (assignment) => this.exclusive(() => this.onAssign(assignment)),
        onRecords: (fetch) => this.onRecords(fetch),
        onRebalance: () => this.deps.logger.info('The correlate group is rebalancing; hits partitions may move.'),
        onFailure: (error, restarting) => {
          this.consumerUp = false;
          if (restarting)
            this.deps.logger.warn({ err: error }, 'The correlate consumer lost its connection; it rejoins.');
          else this.fail(new AuthwatchError(`The correlate consumer stopped: ${error.message}`, { cause: error }));
        },
      });
    } catch (err) {
      this.fail(err as Error);
    }
    await this.loop;
    if (this.failure) throw this.failure;
  }

  /** Finishes the batch in hand, checkpoints every partition, leaves the group. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      this.wake.notify();
    }
    await this.loop;
    if (!this.failure) {
      await this.exclusive(async () => {
        for (const task of this.tasks.values()) await this.checkpoint(task, true);
      });
    }
    for (const sink of this.deps.sinks) await sink.close();
    await this.deps.source.stop().catch((err: unknown) => {
      this.deps.logger.warn({ err }, 'The correlate consumer did not leave the group cleanly.');
    });
  }

  health(): { running: boolean; kafka: boolean; assigned: number; sinks: boolean; failure?: string } {
    return {
      running: !this.stopping && !this.failure,
      kafka: this.consumerUp,
      assigned: this.tasks.size,
      sinks: this.writeHealth.ok,
      ...(this.failure ? { failure: this.failure.message } : {}),
    };
  }

  /** Hits records per owned partition not yet processed (the partition end last seen minus the position). */
  lag(): Map<string, number> {
    const out = new Map<string, number>();
    for (const t of this.tasks.values()) out.set(partitionKey(t.tp), Math.max(0, t.high - (t.position ?? 0)));
    return out;
  }

  /** Partition ends from the brokers, for lag of partitions with nothing new to fetch. */
  async refreshHighWatermarks(): Promise<void> {
    for (const p of await this.deps.source.highWatermarks()) {
      const t = this.tasks.get(p.partition);
      if (t) t.high = Math.max(t.high, p.high);
    }
  }

  /** The engines of the partitions owned now. */
  engines(): Engine[] {
    return [...this.tasks.values()].map((t) => t.state.engine);
  }

  private exclusive(fn: () => Promise<void>): Promise<void> {
    const next = this.turn.then(fn);
    this.turn = next.catch(() => undefined);
    return next;
  }

  // ------------------------------------------------------------------ assignment and restore

  private async onAssign(assignment: TopicPartition[]): Promise<void> {
    this.consumerUp = true;
    const { logger, source } = this.deps;
    const wanted = new Set(assignment.map((p) => p.partition));
    for (const [p, task] of this.tasks) {
      if (wanted.has(p)) continue;
      // Given up: its state as it stands, so that the member taking it over reads little again.
      await this.checkpoint(task, true).catch((err: unknown) =>
        logger.warn(
          { err, partition: p },
          'Could not checkpoint a hits partition given up; its new owner reads more again.',
        ),
      );
      this.tasks.delete(p);
    }
    for (const tp of assignment) {
      if (this.tasks.has(tp.partition)) {
        const t = this.tasks.get(tp.partition)!;
        if (t.position !== undefined) source.seek(tp, t.position);
        continue;
      }
      const task = await this.restore(tp);
      this.tasks.set(tp.partition, task);
      if (task.position !== undefined) source.seek(tp, task.position);
    }
    // The consumer keeps a pause across rebalances, also of a partition given up and assigned
    // again: make it what the tasks say.
    const paused = [...this.tasks.values()].filter((t) => t.paused).map((t) => t.tp);
    const running = [...this.tasks.values()].filter((t) => !t.paused).map((t) => t.tp);
    if (running.length > 0) source.resume(running);
    if (paused.length > 0) source.pause(paused);
    logger.info({ partitions: [...this.tasks.keys()] }, 'Hits partitions assigned; correlating.');
    this.wake.notify();
  }

  private async restore(tp: TopicPartition): Promise<Task> {
    const { logger, partitions } = this.deps;
    const store = this.deps.store(tp.partition);
    const state = new CorrelatePartition(this.deps.newEngine(), partitions, tp.partition);
    const task: Task = {
      tp,
      state,
      store,
      position: undefined,
      queue: [],
      high: 0,
      paused: false,
      dirty: false,
      checkpointedAt: this.now(),
    };
    for (let attempt = 1; ; attempt++) {
      try {
        const stored = await store.load();
        for (const problem of stored.problems)
          logger.error(
            { problem, partition: tp.partition },
            'A stored checkpoint is unusable; using the one before it.',
          );
        const c = stored.checkpoint;
        if (c) {
          state.restore(JSON.parse(c.state) as CorrelateSnapshot);
          task.position = c.positions[partitionKey(tp)];
          this.counters.restores++;
        }
        logger.info(
          { partition: tp.partition, offset: task.position ?? null },
          c
            ? 'Hits partition restored from its checkpoint.'
            : 'No checkpoint for this hits partition; it starts empty.',
        );
        return task;
      } catch (err) {
        if (!isRetriable(err) || this.stopping) throw err;
        logger.warn({ err, attempt }, 'Cannot read the state checkpoint yet; retrying.');
        await sleep(backoffMs(attempt));
      }
    }
  }

  // ------------------------------------------------------------------------------- fetching

  private onRecords(fetch: PartitionFetch): void {
    const task = this.tasks.get(fetch.partition);
    if (!task || this.stopping) return;
    task.high = Math.max(task.high, fetch.highWatermark);
    const last = task.queue.length > 0 ? task.queue[task.queue.length - 1]!.offset : (task.position ?? 0) - 1;
    for (const r of fetch.records) if (r.offset > last) task.queue.push(r);
    if (task.queue.length >= this.options.maxQueuedRecords && !task.paused) {
      task.paused = true;
      this.deps.source.pause([task.tp]);
    }
    this.wake.notify();
  }

  // ----------------------------------------------------------------------------- processing

  private async processLoop(): Promise<void> {
    while (!this.stopping && !this.failure) {
      const queued = [...this.tasks.values()].some((t) => t.queue.length > 0);
      if (!queued) {
        // Caught up: learn where the partitions end now, so that lag tells what is still to come.
        if (this.now() - this.refreshedAt >= 1000) {
          this.refreshedAt = this.now();
          this.refreshHighWatermarks().catch(() => undefined);
        }
        const due = Math.min(...[...this.tasks.values()].filter((t) => t.dirty).map((t) => t.checkpointedAt));
        if (Number.isFinite(due) && this.now() - due >= this.options.checkpointIntervalMs) {
          await this.exclusive(() => this.checkpointDue());
          continue;
        }
        const until = Number.isFinite(due) ? due + this.options.checkpointIntervalMs : this.now() + 1000;
        await this.wake.wait(Math.max(10, Math.min(until, this.refreshedAt + 1000) - this.now()));
        continue;
      }
      try {
        await this.exclusive(() => this.step());
      } catch (err) {
        this.fail(err as Error);
      }
    }
  }

  /** Takes queued records of every partition, writes what they produced, checkpoints what is due. */
  private async step(): Promise<void> {
    const out = emptyOutput();
    let budget = this.options.batchMaxRecords;
    const share = Math.max(1, Math.ceil(budget / Math.max(1, this.tasks.size)));
    for (const task of this.tasks.values()) {
      const take = task.queue.splice(0, Math.min(share, budget));
      budget -= take.length;
      for (const r of take) {
        if (task.position !== undefined && r.offset < task.position) continue;
        this.apply(task, r, out);
        task.position = r.offset + 1;
        task.dirty = true;
      }
      if (task.paused && task.queue.length < this.options.maxQueuedRecords / 2) {
        task.paused = false;
        this.deps.source.resume([task.tp]);
      }
    }
    const batch: SinkBatch = { alerts: out.alerts, actions: out.actions, deadLetters: [] };
    if (!isEmptyBatch(batch)) {
      await Promise.all(this.deps.sinks.map((sink) => this.retrying(sink.name, () => sink.write(batch))));
    }
    this.counters.alerts += out.alerts.length;
    for (const a of out.alerts) {
      const seen = this.alertsByRule.get(a.rule_id);
      if (seen) seen.count++;
      else this.alertsByRule.set(a.rule_id, { level: a.level, count: 1 });
    }
    const ruleOf = new Map(out.alerts.map((a) => [a.alert_id, a.rule_id]));
    for (const a of out.actions) {
      const key = `${ruleOf.get(a.alert_id) ?? ''}\u0000${a.type}\u0000${a.mode}`;
      this.actionsByKey.set(key, (this.actionsByKey.get(key) ?? 0) + 1);
    }
    this.counters.actions += out.actions.length;
    await this.checkpointDue();
  }

  private apply(task: Task, r: SourceRecord, out: ReturnType<typeof emptyOutput>): void {
    this.counters.records++;
    let envelope: HitEnvelope;
    try {
      envelope = JSON.parse(Buffer.from(r.value ?? new Uint8Array(0)).toString('utf8')) as HitEnvelope;
    } catch (err) {
      this.counters.badRecords++;
      this.deps.logger.error(
        { err, partition: task.tp.partition, offset: r.offset },
        'A hits record is not JSON; it was skipped. Only authwatch should write to the hits topic.',
      );
      return;
    }
    const before = task.state.duplicates;
    task.state.apply(envelope, out);
    this.counters.hits += hitCount(envelope);
    this.counters.duplicates += task.state.duplicates - before;
  }

  /**
   * Checkpoints the partition most overdue, one per step: a snapshot holds the loop while it is
   * made, and a dozen at once would hold back every alert behind them.
   */
  private async checkpointDue(): Promise<void> {
    const now = this.now();
    let due: Task | undefined;
    for (const task of this.tasks.values()) {
      if (!task.dirty || now - task.checkpointedAt < this.options.checkpointIntervalMs) continue;
      if (!due || task.checkpointedAt < due.checkpointedAt) due = task;
    }
    if (due) await this.checkpoint(due);
  }

  /** Stores the partition's state after every output it wrote, then commits its offset. */
  private async checkpoint(task: Task, force = false): Promise<void> {
    if ((!task.dirty && !force) || task.position === undefined) return;
    const key = partitionKey(task.tp);
    const state = JSON.stringify(task.state.snapshot());
    await this.retrying('state', () =>
      task.store.saveCheckpoint({
        seq: task.position!,
        positions: { [key]: task.position! },
        state,
        createdAt: this.now(),
      }),
    );
    task.dirty = false;
    task.checkpointedAt = this.now();
    this.counters.checkpoints++;
    await this.deps.source.commit([{ ...task.tp, offset: task.position }]).catch((err: unknown) => {
      this.deps.logger.warn({ err }, 'Committing a hits offset failed; the checkpoint has it and restores from it.');
    });
  }

  private retrying<T>(sink: string, write: () => Promise<T>): Promise<T> {
    return retrying(sink, write, this.writeHealth, this.deps.logger);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.deps.logger.error(
      { err },
      'The correlate stage stopped on an error no retry can fix; nothing after it was acknowledged.',
    );
    this.wake.notify();
  }
}
