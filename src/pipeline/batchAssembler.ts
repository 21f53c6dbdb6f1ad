import type { BatchRange, JournalEntry } from '../state/checkpointStore.js';
import { partitionKey, type TopicPartition } from '../sources/source.js';

/** A fetched record waiting for the engine: its offset, its event time, and what the pipeline made of it. */
export interface Pending<T> {
  offset: number;
  /** Event time, epoch ms; -Infinity for records without one (dead letters), which go first. */
  time: number;
  item: T;
}

/** A record of a batch, with its partition. */
export interface BatchRecord<T> extends Pending<T> {
  topic: string;
  partition: number;
}

export interface AssembledBatch<T> {
  /** Set when the batch is a replay of a journal entry: its sequence number. */
  seq?: number;
  /** A replayed batch: the wall time its engine clock read the first time. */
  clock?: number;
  records: BatchRecord<T>[];
  ranges: BatchRange[];
}

export interface AssemblerOptions {
  maxRecords: number;
  /**
   * How long records that could be taken wait for a partition known to have more records on
   * the broker (event-time order across partitions); the wait starts when both are the case.
   */
  partitionWaitMs: number;
}

class PartitionQueue<T> {
  items: Pending<T>[] = [];
  head = 0;
  /** Offset after the last record added. */
  fetchedTo = -1;
  /** The partition's end when last fetched. */
  highWatermark = -1;
  /** When the queue ran dry while the partition still had records to fetch. */
  dryAt: number | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  peek(): Pending<T> | undefined {
    return this.items[this.head];
  }

  shift(): Pending<T> {
    const item = this.items[this.head++]!;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Records are known to exist beyond what was fetched. */
  get lagging(): boolean {
    return this.highWatermark > this.fetchedTo;
  }
}

/**
 * Turns records fetched per partition into engine batches.
 *
 * Order: a batch takes the records of its partitions in one merged sequence: at each step the
 * head with the smallest (event time, topic, partition, offset). Within a partition, offset
 * order is kept. Because the merge looks at nothing but the records, the same records always
 * give the same sequence, which is what makes a journal of offset ranges enough to replay a
 * batch exactly.
 *
 * Selection: a partition that ran dry while the broker still holds more of it blocks the batch
 * (for at most `partitionWaitMs`), as Kafka Streams waits for its partitions, so that while
 * catching up on a backlog one partition's events do not run ahead of another's by more than
 * a fetch and make them late. A partition that is caught up never blocks.
 */
export class BatchAssembler<T> {
  private readonly queues = new Map<string, PartitionQueue<T>>();
  private plan: JournalEntry[] = [];
  private buffered = 0;

  constructor(private readonly options: AssemblerOptions) {}

  /** Records waiting across partitions. */
  get size(): number {
    return this.buffered;
  }

  queued(p: TopicPartition): number {
    return this.queues.get(partitionKey(p))?.length ?? 0;
  }

  /** The offset after the last record queued (or expected) for a partition; 0 when none. */
  fetchedTo(p: TopicPartition): number {
    return Math.max(0, this.queues.get(partitionKey(p))?.fetchedTo ?? 0);
  }

  /** Adds partitions and drops those no longer assigned, with their records; returns the dropped ones. */
  assign(assignment: readonly TopicPartition[]): TopicPartition[] {
    const keep = new Set(assignment.map(partitionKey));
    const dropped: TopicPartition[] = [];
    for (const [key, q] of this.queues) {
      if (keep.has(key)) continue;
      this.buffered -= q.length;
      this.queues.delete(key);
      dropped.push({ topic: q.topic, partition: q.partition });
    }
    for (const p of assignment) {
      const key = partitionKey(p);
      if (!this.queues.has(key)) this.queues.set(key, new PartitionQueue(p.topic, p.partition));
    }
    return dropped;
  }

  /** Queues fetched records of a partition (offsets ascending); records of unassigned partitions are ignored. */
  add(p: TopicPartition, records: Pending<T>[], highWatermark: number): void {
    const q = this.queues.get(partitionKey(p));
    if (!q) return;
    for (const r of records) q.items.push(r);
    this.buffered += records.length;
    if (records.length > 0) {
      q.fetchedTo = records[records.length - 1]!.offset + 1;
      q.dryAt = undefined;
    }
    q.highWatermark = Math.max(q.highWatermark, highWatermark);
  }

  /**
   * What is known of a partition before its first fetch: where reading starts and where the
   * partition ends. A partition with records beyond its start blocks batches until they come.
   */
  expect(p: TopicPartition, start: number | undefined, highWatermark: number): void {
    const q = this.queues.get(partitionKey(p));
    if (!q) return;
    if (start !== undefined && q.fetchedTo < start) q.fetchedTo = start;
    q.highWatermark = Math.max(q.highWatermark, highWatermark);
  }

  /** Batches to rebuild, in order, before any new one is formed. */
  replay(entries: readonly JournalEntry[]): void {
    this.plan = [...entries];
  }

  get replaying(): boolean {
    return this.plan.length > 0;
  }

  /** Gives up the replay (a partition of it is no longer assigned); returns the entries left. */
  abandonReplay(): JournalEntry[] {
    const left = this.plan;
    this.plan = [];
    return left;
  }

  /**
   * The next batch, or when none can be formed now, the time at which to try again (a blocking
   * partition's wait ends) or nothing (wait for records). Throws when the journal names a
   * partition that is not assigned: the caller abandons the replay.
   */
  take(now: number): { batch?: AssembledBatch<T>; retryAt?: number } {
    if (this.plan.length > 0) return this.takeReplay();
    // Nothing to take: no wait starts, the first records to come start them.
    if (this.buffered === 0) return {};
    const queues = [...this.queues.values()];
    let retryAt: number | undefined;
    const blocked = (q: PartitionQueue<T>): boolean => {
      if (q.length > 0 || !q.lagging) return false;
      q.dryAt ??= now;
      const until = q.dryAt + this.options.partitionWaitMs;
      if (until <= now) return false;
      retryAt = retryAt === undefined ? until : Math.min(retryAt, until);
      return true;
    };
    if (queues.some(blocked)) return { retryAt };
    const records: BatchRecord<T>[] = [];
    while (records.length < this.options.maxRecords) {
      const q = minHead(queues);
      if (!q) break;
      records.push(this.shiftFrom(q));
      if (q.length === 0 && blocked(q)) break;
    }
    if (records.length === 0) return { retryAt };
    return { batch: { records, ranges: rangesOf(records) } };
  }

  private takeReplay(): { batch?: AssembledBatch<T> } {
    const entry = this.plan[0]!;
    const sources: PartitionQueue<T>[] = [];
    for (const r of entry.ranges) {
      const q = this.queues.get(partitionKey(r));
      if (!q) throw new Error(`batch ${entry.seq} of the journal holds ${partitionKey(r)}, which is not assigned`);
      // Complete once fetched past its last offset (records deleted since are simply gone).
      if (q.fetchedTo <= r.last) return {};
      sources.push(q);
    }
    this.plan.shift();
    const lastOf = new Map(entry.ranges.map((r) => [partitionKey(r), r.last]));
    // A view of each queue holding only the range, so the merge sees what the batch saw.
    const views = sources.map((q) => {
      const last = lastOf.get(partitionKey(q))!;
      let end = q.head;
      while (end < q.items.length && q.items[end]!.offset <= last) end++;
      const view = new PartitionQueue<T>(q.topic, q.partition);
      view.items = q.items.slice(q.head, end);
      return { q, view, count: end - q.head };
    });
    const records: BatchRecord<T>[] = [];
    for (;;) {
      const v = minHead(views.map((x) => x.view));
      if (!v) break;
      const item = v.shift();
      records.push({ ...item, topic: v.topic, partition: v.partition });
    }
    for (const { q, count } of views) {
      q.head += count;
      this.buffered -= count;
    }
    return {
      batch: {
        seq: entry.seq,
        records,
        ranges: entry.ranges,
        ...(entry.clock !== undefined ? { clock: entry.clock } : {}),
      },
    };
  }

  private shiftFrom(q: PartitionQueue<T>): BatchRecord<T> {
    this.buffered--;
    const item = q.shift();
    return { offset: item.offset, time: item.time, item: item.item, topic: q.topic, partition: q.partition };
  }
}

/** The queue whose head comes first: (event time, topic, partition, offset). */
function minHead<T>(queues: readonly PartitionQueue<T>[]): PartitionQueue<T> | undefined {
  let best: PartitionQueue<T> | undefined;
  let bestHead: Pending<T> | undefined;
  for (const q of queues) {
    const head = q.peek();
    if (!head) continue;
    if (!bestHead || head.time < bestHead.time || (head.time === bestHead.time && comparePartitions(q, best!) < 0)) {
      best = q;
      bestHead = head;
    }
  }
  return best;
}

function comparePartitions(a: TopicPartition, b: TopicPartition): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;
}

/** Offsets per partition of a batch, partitions in a fixed order. */
function rangesOf<T>(records: readonly BatchRecord<T>[]): BatchRange[] {
  const byKey = new Map<string, BatchRange>();
  for (const r of records) {
    const key = `${r.topic}/${r.partition}`;
    const range = byKey.get(key);
    if (range) range.last = r.offset;
    else byKey.set(key, { topic: r.topic, partition: r.partition, first: r.offset, last: r.offset });
  }
  return [...byKey.values()].sort(comparePartitions);
}
