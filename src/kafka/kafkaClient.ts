import { Kafka, Partitioners, logLevel, type Consumer, type Producer, type SASLOptions } from 'kafkajs';
import type { KafkaConfig } from '../config/config.js';
import { ServiceError } from '../errors.js';
import { silentLogger, type Logger } from '../log/logger.js';

/** One record read from a topic. Offsets are decimal strings, as Kafka's are 64-bit. */
export interface KafkaRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** Broker or producer timestamp, epoch milliseconds. */
  timestamp: number;
}

/** One record to write. A key keeps all records of one entity in one partition, in order. */
export interface OutgoingRecord {
  key?: string | Buffer | null;
  value: string | Buffer;
  headers?: Record<string, string>;
}

export interface TopicSpec {
  name: string;
  partitions?: number;
}

/**
 * Writes records. `send` resolves once the broker acknowledged every record (acks=all),
 * so a caller may acknowledge its own input only after it resolved.
 */
export interface KafkaProducer {
  send(topic: string, records: OutgoingRecord[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Reads records of a consumer group. The handler sees records one at a time in partition
 * order; a record's offset is committed only after its handler resolved, so delivery is
 * at-least-once. A handler that throws stops the consumer and the record is read again
 * after a restart.
 */
export interface KafkaConsumer {
  run(handler: (record: KafkaRecord) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

export interface ConsumerOptions {
  groupId: string;
  topics: string[];
  /** Where a group without committed offsets starts: the oldest record (true) or new ones. */
  fromBeginning?: boolean;
}

/**
 * authwatch's view of a Kafka cluster. The rest of the code depends on this interface,
 * never on kafkajs, so the client library can change without touching sources and sinks.
 */
export interface KafkaClient {
  producer(): Promise<KafkaProducer>;
  consumer(options: ConsumerOptions): Promise<KafkaConsumer>;
  /** Creates the topics that do not exist yet; existing ones are left as they are. */
  createTopics(topics: TopicSpec[]): Promise<void>;
  deleteTopics(names: string[]): Promise<void>;
  listTopics(): Promise<string[]>;
}

export function createKafkaClient(
  config: Pick<KafkaConfig, 'brokers' | 'client_id' | 'ssl' | 'sasl'>,
  logger: Logger = silentLogger,
): KafkaClient {
  if (config.brokers.length === 0) {
    throw new ServiceError('kafka', 'No Kafka brokers are configured (kafka.brokers).');
  }
  const kafka = new Kafka({
    clientId: config.client_id,
    brokers: config.brokers,
    ssl: config.ssl,
    ...(config.sasl ? { sasl: config.sasl as SASLOptions } : {}),
    connectionTimeout: 5000,
    retry: { retries: 8, initialRetryTime: 200 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }) => {
        const { message, ...fields } = log;
        const method = level <= logLevel.ERROR ? 'error' : level === logLevel.WARN ? 'warn' : 'debug';
        logger[method]({ component: 'kafkajs', ...fields }, String(message));
      },
  });
  return new KafkajsClient(kafka);
}

class KafkajsClient implements KafkaClient {
  constructor(private readonly kafka: Kafka) {}

  async producer(): Promise<KafkaProducer> {
    const producer = this.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      idempotent: false,
    });
    await wrap('connect a producer', () => producer.connect());
    return new KafkajsProducer(producer);
  }

  async consumer(options: ConsumerOptions): Promise<KafkaConsumer> {
    const consumer = this.kafka.consumer({ groupId: options.groupId, allowAutoTopicCreation: false });
    await wrap('connect a consumer', () => consumer.connect());
    await wrap('subscribe', () =>
      consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning ?? false }),
    );
    return new KafkajsConsumer(consumer);
  }

  async createTopics(topics: TopicSpec[]): Promise<void> {
    await this.withAdmin('create topics', async (admin) => {
      await admin.createTopics({
        waitForLeaders: true,
        topics: topics.map((t) => ({ topic: t.name, numPartitions: t.partitions ?? 1 })),
      });
    });
  }

  async deleteTopics(names: string[]): Promise<void> {
    await this.withAdmin('delete topics', (admin) => admin.deleteTopics({ topics: names }));
  }

  async listTopics(): Promise<string[]> {
    return this.withAdmin('list topics', (admin) => admin.listTopics());
  }

  private async withAdmin<T>(what: string, fn: (admin: ReturnType<Kafka['admin']>) => Promise<T>): Promise<T> {
    const admin = this.kafka.admin();
    await wrap('connect the admin client', () => admin.connect());
    try {
      return await wrap(what, () => fn(admin));
    } finally {
      await admin.disconnect();
    }
  }
}

class KafkajsProducer implements KafkaProducer {
  constructor(private readonly producer: Producer) {}

  async send(topic: string, records: OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return;
    await wrap(`produce to ${topic}`, () =>
      this.producer.send({
        topic,
        acks: -1,
        messages: records.map((r) => ({ key: r.key ?? null, value: r.value, headers: r.headers })),
      }),
    );
  }

  close(): Promise<void> {
    return this.producer.disconnect();
  }
}

class KafkajsConsumer implements KafkaConsumer {
  constructor(private readonly consumer: Consumer) {}

  async run(handler: (record: KafkaRecord) => Promise<void>): Promise<void> {
    await this.consumer.run({
      eachBatchAutoResolve: false,
      autoCommit: true,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
        for (const m of batch.messages) {
          if (!isRunning() || isStale()) break;
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) {
            if (v !== undefined) headers[k] = Array.isArray(v) ? v.map(String).join(',') : String(v);
          }
          await handler({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key,
            value: m.value,
            headers,
            timestamp: Number(m.timestamp),
          });
          resolveOffset(m.offset);
          await heartbeat();
        }
        await commitOffsetsIfNecessary();
      },
    });
  }

  close(): Promise<void> {
    return this.consumer.disconnect();
  }
}

async function wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = err as { message?: string; retriable?: boolean };
    throw new ServiceError('kafka', `Kafka: could not ${what}: ${e.message ?? String(err)}`, {
      retriable: e.retriable ?? true,
      cause: err,
    });
  }
}
