import type { KafkaConfig } from '../config/config.js';
import { durationMs } from '../config/config.js';
import type { GroupConsumer, KafkaClient } from '../kafka/kafkaClient.js';
import type { PartitionedSource, PartitionedSourceHandlers, TopicPartition } from './source.js';

/** The input topics of a consumer group, as a PartitionedSource. */
export class KafkaSource implements PartitionedSource {
  readonly name: string;
  private readonly consumer: GroupConsumer;

  constructor(
    private readonly client: KafkaClient,
    private readonly config: Pick<KafkaConfig, 'group_id' | 'consumer'> & { topics: { events: string[] } },
  ) {
    this.name = `kafka:${config.topics.events.join(',')}`;
    const c = config.consumer;
    this.consumer = client.groupConsumer({
      groupId: config.group_id,
      topics: config.topics.events,
      startFrom: c.start_from,
      sessionTimeoutMs: durationMs(c.session_timeout),
      heartbeatIntervalMs: durationMs(c.heartbeat_interval),
      maxBytesPerPartition: c.max_bytes_per_partition,
      maxWaitMs: durationMs(c.max_wait),
    });
  }

  async start(handlers: PartitionedSourceHandlers): Promise<void> {
    await this.consumer.run({
      onAssign: (assignment) => handlers.onAssign(assignment),
      onBatch: (batch) =>
        handlers.onRecords({
          topic: batch.topic,
          partition: batch.partition,
          highWatermark: Number(batch.highWatermark),
          records: batch.records.map((r) => ({ offset: Number(r.offset), value: r.value, timestamp: r.timestamp })),
        }),
      onRebalance: () => handlers.onRebalance(),
      onCrash: (error, restarting) => handlers.onFailure(error, restarting),
    });
  }

  assignment(): TopicPartition[] {
    return this.consumer.assignment();
  }

  pause(partitions: TopicPartition[]): void {
    this.consumer.pause(partitions);
  }

  resume(partitions: TopicPartition[]): void {
    this.consumer.resume(partitions);
  }

  seek(partition: TopicPartition, offset: number): void {
    this.consumer.seek(partition, String(offset));
  }

  commit(offsets: (TopicPartition & { offset: number })[]): Promise<void> {
    return this.consumer.commit(offsets.map((o) => ({ ...o, offset: String(o.offset) })));
  }

  async highWatermarks(): Promise<(TopicPartition & { high: number })[]> {
    const out: (TopicPartition & { high: number })[] = [];
    for (const topic of this.config.topics.events) {
      for (const p of await this.client.offsets(topic))
        out.push({ topic, partition: p.partition, high: Number(p.high) });
    }
    return out;
  }

  stop(): Promise<void> {
    return this.consumer.close();
  }
}
