import type { TopicPartition } from '../kafka/kafkaClient.js';

export type { TopicPartition };

/** One record of a partitioned source, as fetched. */
export interface SourceRecord {
  /** The record's offset in its partition. */
  offset: number;
  value: Uint8Array | null;
  /** The source's timestamp of the record (Kafka: the producer's or the broker's), epoch ms. */
  timestamp: number;
}

/** Records of one partition, fetched together, in offset order. */
export interface PartitionFetch extends TopicPartition {
  records: SourceRecord[];
  /** Offset after the partition's last record when it was fetched: there is more to fetch below it. */
  highWatermark: number;
}

/**
 * What a partitioned source calls. `onAssign` is awaited before any record of the new
 * assignment is fetched, so the pipeline can restore its state and `seek`. `onRecords` must
 * not process the records, only take them; backpressure is `pause`.
 */
export interface PartitionedSourceHandlers {
  onAssign(assignment: TopicPartition[]): Promise<void>;
  onRecords(fetch: PartitionFetch): void;
  onRebalance(): void;
  /** The connection failed; `restarting` says whether the source rejoins by itself. */
  onFailure(error: Error, restarting: boolean): void;
}

/**
 * A source whose records come in partitions that a group of consumers shares, each partition
 * in order, each record at an offset (Kafka). Records are acknowledged by committing, per
 * partition, the offset of the next record to read; nothing is committed otherwise, so
 * whatever was not committed is read again after a restart or a rebalance.
 */
export interface PartitionedSource {
  readonly name: string;
  start(handlers: PartitionedSourceHandlers): Promise<void>;
  assignment(): TopicPartition[];
  pause(partitions: TopicPartition[]): void;
  resume(partitions: TopicPartition[]): void;
  seek(partition: TopicPartition, offset: number): void;
  commit(offsets: (TopicPartition & { offset: number })[]): Promise<void>;
  /** The end of each partition of the source's topics now, for lag. */
  highWatermarks(): Promise<(TopicPartition & { high: number })[]>;
  /** Stops fetching and leaves the group. */
  stop(): Promise<void>;
}

/** `topic/partition`, the key partitions go by in maps and checkpoints. */
export function partitionKey(p: TopicPartition): string {
  return `${p.topic}/${p.partition}`;
}

export function parsePartitionKey(key: string): TopicPartition {
  const at = key.lastIndexOf('/');
  return { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) };
}
