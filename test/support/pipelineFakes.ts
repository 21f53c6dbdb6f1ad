import { ServiceError } from '../../src/errors.js';
import type { Sink, SinkBatch, SinkHealth } from '../../src/sinks/sink.js';
import {
  partitionKey,
  type PartitionedSource,
  type PartitionedSourceHandlers,
  type SourceRecord,
  type TopicPartition,
} from '../../src/sources/source.js';
import {
  journalAfter,
  type Checkpoint,
  type CheckpointStore,
  type JournalEntry,
  type StoredState,
} from '../../src/state/checkpointStore.js';

/** A promise that never settles: what a killed process's pending calls turn into. */
const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

/**
 * The partitions of a topic and a group's committed offsets, in memory: what survives a crash
 * of the engine (like the brokers do).
 */
export class FakeTopic {
  readonly partitions = new Map<string, SourceRecord[]>();
  readonly committed = new Map<string, number>();
  commits = 0;

  constructor(
    readonly topic: string,
    partitionCount: number,
  ) {
    for (let p = 0; p < partitionCount; p++) this.partitions.set(`${topic}/${p}`, []);
  }

  get assignment(): TopicPartition[] {
    return [...this.partitions.keys()].map((_, partition) => ({ topic: this.topic, partition }));
  }

  /** Appends records to a partition; returns their offsets. */
  append(partition: number, values: (string | null)[], timestamp = 0): number[] {
    const list = this.partitions.get(`${this.topic}/${partition}`)!;
    return values.map((v) => {
      list.push({ offset: list.length, value: v === null ? null : Buffer.from(v), timestamp });
      return list.length - 1;
    });
  }
}

/**
 * A PartitionedSource over a FakeTopic: fetches up to `fetchSize` records per partition every
 * few milliseconds from where the group's committed offset (or a seek) says, honours pause
 * and resume, and can be killed: it then stops fetching and committing at once.
 */
export class FakeSource implements PartitionedSource {
  readonly name = 'fake';
  private readonly positions = new Map<string, number>();
  readonly paused = new Set<string>();
  pauseCalls = 0;
  private handlers: PartitionedSourceHandlers | undefined;
  private timer: NodeJS.Timeout | undefined;
  private dead = false;
  private assigned: TopicPartition[];

  constructor(
    readonly topic: FakeTopic,
    private readonly options: { fetchSize?: number; intervalMs?: number } = {},
  ) {
    this.assigned = topic.assignment;
  }

  async start(handlers: PartitionedSourceHandlers): Promise<void> {
    this.handlers = handlers;
    await handlers.onAssign(this.assigned);
    this.timer = setInterval(() => this.fetch(), this.options.intervalMs ?? 2);
  }

  /**
   * A rebalance: the group gives this member `assignment`. Like kafkajs, it forgets where it
   * was reading and its pauses; it reads from the committed offsets unless the handler seeks.
   */
  async reassign(assignment: TopicPartition[]): Promise<void> {
    this.assigned = assignment;
    this.positions.clear();
    this.paused.clear();
    await this.handlers!.onAssign(assignment);
  }

  private fetch(): void {
    if (this.dead || !this.handlers) return;
    for (const p of this.assigned) {
      const key = partitionKey(p);
      if (this.paused.has(key)) continue;
      const records = this.topic.partitions.get(key)!;
      const from = this.positions.get(key) ?? this.topic.committed.get(key) ?? 0;
      if (from >= records.length) continue;
      const batch = records.slice(from, from + (this.options.fetchSize ?? 50));
      this.positions.set(key, from + batch.length);
      this.handlers.onRecords({ ...p, records: batch, highWatermark: records.length });
    }
  }

  assignment(): TopicPartition[] {
    return this.assigned;
  }

  pause(partitions: TopicPartition[]): void {
    this.pauseCalls++;
    for (const p of partitions) this.paused.add(partitionKey(p));
  }

  resume(partitions: TopicPartition[]): void {
    for (const p of partitions) this.paused.delete(partitionKey(p));
  }

  seek(p: TopicPartition, offset: number): void {
    this.positions.set(partitionKey(p), offset);
  }

  async commit(offsets: (TopicPartition & { offset: number })[]): Promise<void> {
    if (this.dead) return never();
    for (const o of offsets) this.topic.committed.set(partitionKey(o), o.offset);
    this.topic.commits++;
  }

  highWatermarks(): Promise<(TopicPartition & { high: number })[]> {
    return Promise.resolve(
      this.topic.assignment.map((p) => ({ ...p, high: this.topic.partitions.get(partitionKey(p))!.length })),
    );
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }

  /** The process died: nothing more is fetched or committed. */
  kill(): void {
    this.dead = true;
    if (this.timer) clearInterval(this.timer);
  }
}

/** What a sink received, kept across engine crashes like a topic keeps it. */
export class SinkLog {
  readonly batches: SinkBatch[] = [];

  get alerts(): SinkBatch['alerts'][number][] {
    return this.batches.flatMap((b) => b.alerts);
  }

  get actions(): SinkBatch['actions'][number][] {
    return this.batches.flatMap((b) => b.actions);
  }

  get deadLetters(): SinkBatch['deadLetters'][number][] {
    return this.batches.flatMap((b) => b.deadLetters);
  }
}

/**
 * A sink writing into a SinkLog. `gate` holds writes until opened; `failures` makes the next
 * writes fail (retriable or not); a killed sink never completes a write again.
 */
export class FakeSink implements Sink {
  readonly name = 'fake';
  writes = 0;
  pending = 0;
  failures: { count: number; retriable: boolean } = { count: 0, retriable: true };
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  private dead = false;

  constructor(readonly log: SinkLog = new SinkLog()) {}

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  async write(batch: SinkBatch): Promise<void> {
    this.writes++;
    this.pending++;
    try {
      if (this.gate) await this.gate;
      if (this.dead) return never();
      if (this.failures.count > 0) {
        this.failures.count--;
        throw new ServiceError('kafka', 'the fake sink refused the write', { retriable: this.failures.retriable });
      }
      this.log.batches.push(batch);
    } finally {
      this.pending--;
    }
  }

  healthcheck(): Promise<SinkHealth> {
    return Promise.resolve({ ok: true });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  kill(): void {
    this.dead = true;
  }
}

/** Checkpoints and journal in memory, shared by the engines that succeed one another. */
export class MemoryStore {
  readonly journal = new Map<number, JournalEntry>();
  checkpoint: Checkpoint | undefined;
  checkpoints = 0;

  /** Journal entries after the stored checkpoint: what a restart replays. */
  get toReplay(): number {
    return journalAfter(this.journal.values(), this.checkpoint?.seq ?? 0).length;
  }

  /** A CheckpointStore on this memory for one engine process; `kill` makes it hang. */
  client(): CheckpointStore & { kill(): void } {
    let dead = false;
    return {
      load: async (): Promise<StoredState> => ({
        checkpoint: this.checkpoint,
        journal: journalAfter(this.journal.values(), this.checkpoint?.seq ?? 0),
        problems: [],
      }),
      appendJournal: async (entries) => {
        if (dead) return never();
        for (const e of entries) this.journal.set(e.seq, structuredClone(e));
      },
      saveCheckpoint: async (c) => {
        if (dead) return never();
        this.checkpoint = structuredClone(c);
        this.checkpoints++;
        return c.state.length;
      },
      kill: () => {
        dead = true;
      },
    };
  }
}

/** Resolves when `check` holds, polling; rejects after `timeoutMs` with what it waited for. */
export async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
