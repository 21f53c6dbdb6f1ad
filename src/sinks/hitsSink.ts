import type { KafkaProducer } from '../kafka/kafkaClient.js';
import type { Sink, SinkBatch, SinkHealth } from './sink.js';
import { hitCount } from '../scale/hits.js';

/**
 * The match stage's output to the correlate stage: each batch's hits and watermarks, one record
 * per hits partition (more for a large batch), written to the partition the keys hash to. The
 * producer is this sink's own, so its records go out in the order of the batches.
 */
export class HitsSink implements Sink {
  readonly name = 'hits';
  /** Records and bytes written, for the metrics. */
  readonly counters = { records: 0, bytes: 0, hits: 0 };

  constructor(
    private readonly producer: KafkaProducer,
    private readonly topic: string,
  ) {}

  async write(batch: SinkBatch): Promise<void> {
    if (!batch.hits || batch.hits.length === 0) return;
    // One record per partition per request: the brokers bound a partition's record batch.
    const rounds: Array<Array<{ partition: number; value: string }>> = [];
    const seen = new Map<number, number>();
    for (const { partition, envelope } of batch.hits) {
      const round = seen.get(partition) ?? 0;
      seen.set(partition, round + 1);
      const value = JSON.stringify(envelope);
      this.counters.bytes += value.length;
      this.counters.hits += hitCount(envelope);
      (rounds[round] ??= []).push({ partition, value });
    }
    for (const records of rounds) {
      await this.producer.send([{ topic: this.topic, records }]);
      this.counters.records += records.length;
    }
  }

  healthcheck(): Promise<SinkHealth> {
    return Promise.resolve({ ok: true });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
