import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import {
  CompressionTypes,
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type Consumer,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import type { KafkaConfig } from '../config/config.js';
import { durationMs } from '../config/config.js';
import { ConfigError, ServiceError } from '../errors.js';
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
  /** The partition to write to; by default the key's (Kafka's own hash). */
  partition?: number;
  value: string | Buffer | null;
  headers?: Record<string, string>;
}

export interface TopicSpec {
  name: string;
  partitions?: number;
  /** Topic-level configuration, e.g. `cleanup.policy: compact`. */
  config?: Record<string, string>;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** Where a partition starts and ends now: the next offset to be written is `high`. */
export interface PartitionOffsets {
  partition: number;
  low: string;
  high: string;
}

/**
 * Writes records. `send` resolves once the brokers acknowledged every record (acks=all), so a
 * caller may acknowledge its own input only after it resolved. Calls must not overlap: the
 * idempotent producer numbers each partition's records in order, and so do its callers.
 */
export interface KafkaProducer {
  send(batches: { topic: string; records: OutgoingRecord[] }[]): Promise<void>;
  close(): Promise<void>;
}

/** A batch of one partition, as fetched, in offset order. */
export interface PartitionBatch {
  topic: string;
  partition: number;
  /** The partition's end when fetched: records up to `highWatermark - 1` exist. */
  highWatermark: string;
  records: KafkaRecord[];
}

/**
 * What a group consumer calls. `onAssign` runs when the group hands this member its partitions
 * (at start and after every rebalance); no batch of the new assignment is delivered before it
 * resolves, so it may restore state and `seek`. `onBatch` gets the fetched records of one
 * partition; the consumer fetches on as soon as it returns, so it should queue them rather than
 * process them, and apply backpressure with `pause`. Offsets are committed only by `commit`.
 * A handler that throws is reported to `onCrash` as final, and nothing more is delivered:
 * the record is never handed over again and again.
 */
export interface GroupHandlers {
  onAssign(assignment: TopicPartition[]): Promise<void>;
  onBatch(batch: PartitionBatch): void | Promise<void>;
  /** The group is rebalancing: the assignment is about to change. */
  onRebalance?(): void;
  /** The consumer failed; with `restarting` it rejoins by itself, else it has stopped for good. */
  onCrash?(error: Error, restarting: boolean): void;
}

/** A member of a consumer group on some topics, committing offsets only when told to. */
export interface GroupConsumer {
  /** Joins the group and starts fetching; resolves once running. */
  run(handlers: GroupHandlers): Promise<void>;
  assignment(): TopicPartition[];
  pause(partitions: TopicPartition[]): void;
  resume(partitions: TopicPartition[]): void;
  /** The next fetch of the partition starts at `offset`; batches fetched before are dropped. */
  seek(partition: TopicPartition, offset: string): void;
  /** Commits, for each partition, the offset of the next record to read. */
  commit(offsets: (TopicPartition & { offset: string })[]): Promise<void>;
  /** Stops fetching and leaves the group, so its partitions move at once. */
  close(): Promise<void>;
}

export interface GroupConsumerOptions {
  groupId: string;
  topics: string[];
  /** Where a group without committed offsets starts. Default: earliest. */
  startFrom?: 'earliest' | 'latest';
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  maxBytesPerPartition?: number;
  maxWaitMs?: number;
}

/**
 * authwatch's view of a Kafka cluster. The rest of the code depends on this interface,
 * never on kafkajs, so the client library can change without touching sources and sinks.
 */
export interface KafkaClient {
  producer(options?: { compression?: 'none' | 'gzip' }): Promise<KafkaProducer>;
  groupConsumer(options: GroupConsumerOptions): GroupConsumer;
  /**
   * Reads every record of a topic written before the call, from the oldest on, and returns
   * once it reached the end each partition had when the read started.
   */
  readToEnd(topic: string, onRecord: (record: KafkaRecord) => void): Promise<void>;
  /** Creates the topics that do not exist yet; returns the names it created. */
  createTopics(topics: TopicSpec[]): Promise<string[]>;
  deleteTopics(names: string[]): Promise<void>;
  listTopics(): Promise<string[]>;
  /** Partition count and the given configuration keys of each existing topic. */
  describeTopics(
    names: string[],
    configKeys?: string[],
  ): Promise<Map<string, { partitions: number; config: Record<string, string> }>>;
  offsets(topic: string): Promise<PartitionOffsets[]>;
  /** The group's committed offsets of a topic (`-1` where none). */
  committedOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: string }[]>;
  close(): Promise<void>;
}

export type KafkaConnection = Pick<KafkaConfig, 'brokers' | 'client_id' | 'sasl'> &
  Partial<Pick<KafkaConfig, 'tls' | 'connection_timeout' | 'request_timeout'>>;

export function createKafkaClient(config: KafkaConnection, logger: Logger = silentLogger): KafkaClient {
  if (config.brokers.length === 0) {
    throw new ServiceError('kafka', 'No Kafka brokers are configured (kafka.brokers).');
  }
  const kafka = new Kafka({
    clientId: config.client_id,
    brokers: config.brokers,
    ssl: tlsOptions(config.tls),
    ...(config.sasl ? { sasl: config.sasl as SASLOptions } : {}),
    connectionTimeout: config.connection_timeout ? durationMs(config.connection_timeout) : 5000,
    requestTimeout: config.request_timeout ? durationMs(config.request_timeout) : 30_000,
    // Short waits between retries: a broker that restarts is back within seconds, and every
    // caller of this client retries on its own after kafkajs gives up.
    retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 3000 },
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

function tlsOptions(tls: KafkaConfig['tls'] | undefined): ConnectionOptions | boolean {
  if (!tls?.enabled) return false;
  const read = (path: string | undefined, key: string): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(`kafka.tls.${key}: cannot read ${path}: ${(err as Error).message}`);
    }
  };
  const options: ConnectionOptions = { rejectUnauthorized: tls.reject_unauthorized };
  const ca = read(tls.ca_file, 'ca_file');
  if (ca) options.ca = [ca];
  const cert = read(tls.cert_file, 'cert_file');
  if (cert) options.cert = cert;
  const key = read(tls.key_file, 'key_file');
  if (key) options.key = key;
  if (tls.servername) options.servername = tls.servername;
  return options;
}

class KafkajsClient implements KafkaClient {
  private admin: Admin | undefined;

  constructor(private readonly kafka: Kafka) {}

  async producer(options: { compression?: 'none' | 'gzip' } = {}): Promise<KafkaProducer> {
    const producer = this.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      idempotent: true,
      // The idempotent producer retries until the brokers take the records, so a broker that
      // restarts neither loses nor duplicates them; callers see a slow write, not an error.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 3000 },
    });
    await wrap('connect a producer', () => producer.connect());
    return new KafkajsProducer(producer, options.compression === 'gzip' ? CompressionTypes.GZIP : undefined);
  }

  groupConsumer(options: GroupConsumerOptions): GroupConsumer {
    const consumer = this.kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: options.heartbeatIntervalMs ?? 3000,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1_048_576,
      maxWaitTimeInMs: options.maxWaitMs ?? 100,
      // kafkajs restarts a crashed consumer itself; it must never stop for good on a broker
      // that is away for longer than its retries last.
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 3000, restartOnFailure: async () => true },
    });
    return new KafkajsGroupConsumer(consumer, options);
  }

  async readToEnd(topic: string, onRecord: (record: KafkaRecord) => void): Promise<void> {
    const ends = new Map<number, bigint>();
    for (const p of await this.offsets(topic)) {
      if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high));
    }
    if (ends.size === 0) return;
    const groupId = `authwatch-reader-${randomBytes(6).toString('hex')}`;
    const consumer = this.kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 100 });
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const reached = (partition: number, lastOffset: string): void => {
      const end = ends.get(partition);
      if (end !== undefined && BigInt(lastOffset) + 1n >= end) ends.delete(partition);
      if (ends.size === 0) finish();
    };
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => reached(payload.partition, payload.lastOffset));
    try {
      await wrap('connect a reader', () => consumer.connect());
      await wrap(`subscribe to ${topic}`, () => consumer.subscribe({ topics: [topic], fromBeginning: true }));
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) onRecord(toRecord(batch.topic, batch.partition, m));
        },
      });
      await done;
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await this.withAdmin('delete the reader group', (admin) => admin.deleteGroups([groupId])).catch(() => undefined);
    }
  }

  async createTopics(topics: TopicSpec[]): Promise<string[]> {
    const existing = new Set(await this.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length === 0) return [];
    await this.withAdmin('create topics', async (admin) => {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions ?? 1,
          configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
    });
    return missing.map((t) => t.name);
  }

  async deleteTopics(names: string[]): Promise<void> {
    await this.withAdmin('delete topics', (admin) => admin.deleteTopics({ topics: names }));
  }

  async listTopics(): Promise<string[]> {
    return this.withAdmin('list topics', (admin) => admin.listTopics());
  }

  async describeTopics(
    names: string[],
    configKeys: string[] = [],
  ): Promise<Map<string, { partitions: number; config: Record<string, string> }>> {
    const out = new Map<string, { partitions: number; config: Record<string, string> }>();
    if (names.length === 0) return out;
    await this.withAdmin('describe topics', async (admin) => {
      const meta = await admin.fetchTopicMetadata({ topics: names });
      for (const t of meta.topics) out.set(t.name, { partitions: t.partitions.length, config: {} });
      if (configKeys.length === 0) return;
      const configs = await admin.describeConfigs({
        includeSynonyms: false,
        resources: names.map((name) => ({ type: 2 /* TOPIC */, name, configNames: configKeys })),
      });
      for (const r of configs.resources) {
        const entry = out.get(r.resourceName);
        if (entry) for (const c of r.configEntries) entry.config[c.configName] = c.configValue;
      }
    });
    return out;
  }

  async offsets(topic: string): Promise<PartitionOffsets[]> {
    return this.withAdmin(`read the offsets of ${topic}`, async (admin) =>
      (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, low: p.low, high: p.high })),
    );
  }

  async committedOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: string }[]> {
    return this.withAdmin(`read the committed offsets of ${groupId}`, async (admin) => {
      const res = await admin.fetchOffsets({ groupId, topics: [topic] });
      return (res[0]?.partitions ?? []).map((p) => ({ partition: p.partition, offset: p.offset }));
    });
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.disconnect();
  }

  /** One admin connection, kept for the client's life: metrics poll offsets every few seconds. */
  private async withAdmin<T>(what: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      await wrap('connect the admin client', () => admin.connect());
      this.admin = admin;
    }
    return wrap(what, () => fn(this.admin!));
  }
}

class KafkajsProducer implements KafkaProducer {
  constructor(
    private readonly producer: Producer,
    private readonly compression: CompressionTypes | undefined,
  ) {}

  async send(batches: { topic: string; records: OutgoingRecord[] }[]): Promise<void> {
    const topicMessages = batches
      .filter((b) => b.records.length > 0)
      .map((b) => ({
        topic: b.topic,
        messages: b.records.map((r) => ({
          key: r.key ?? null,
          value: r.value,
          headers: r.headers,
          ...(r.partition !== undefined ? { partition: r.partition } : {}),
        })),
      }));
    if (topicMessages.length === 0) return;
    await wrap('produce', () => this.producer.sendBatch({ topicMessages, acks: -1, compression: this.compression }));
  }

  close(): Promise<void> {
    return this.producer.disconnect();
  }
}

class KafkajsGroupConsumer implements GroupConsumer {
  private assigned: TopicPartition[] = [];
  /** The current generation's onAssign; batches wait for it. */
  private assigning: Promise<void> = Promise.resolve();
  private closed = false;
  /** A handler threw: nothing more is handed over, the caller stops. */
  private failed = false;

  constructor(
    private readonly consumer: Consumer,
    private readonly options: GroupConsumerOptions,
  ) {}

  async run(handlers: GroupHandlers): Promise<void> {
    const { consumer } = this;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.assigned = Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) =>
        partitions.map((partition) => ({ topic, partition })),
      );
      const assignment = this.assigned;
      // A handler that fails is our failure, not the group's: report it and hold the batches
      // (kafkajs would otherwise deliver them again and again).
      this.assigning = this.assigning
        .then(() => handlers.onAssign(assignment))
        .catch((err: unknown) => {
          this.failed = true;
          handlers.onCrash?.(err as Error, false);
        });
    });
    consumer.on(consumer.events.REBALANCING, () => handlers.onRebalance?.());
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (this.closed) return;
      // kafkajs restarts only after errors it calls retriable; a broker that restarts also
      // gives errors it does not (no group coordinator), and those are worth a restart too.
      const restart = !payload.restart && isRetriableKafkaError(payload.error);
      handlers.onCrash?.(payload.error, payload.restart || restart);
      if (restart) this.restartAfterCrash(handlers);
    });
    await this.start(handlers);
  }

  private attempts = 0;

  private restartAfterCrash(handlers: GroupHandlers): void {
    const delay = Math.min(10_000, 500 * 2 ** Math.min(this.attempts++, 5));
    setTimeout(() => {
      if (this.closed) return;
      this.start(handlers).then(
        () => (this.attempts = 0),
        (err: unknown) => {
          handlers.onCrash?.(err as Error, isRetriableKafkaError(err));
          if (isRetriableKafkaError(err)) this.restartAfterCrash(handlers);
        },
      );
    }, delay).unref();
  }

  private async start(handlers: GroupHandlers): Promise<void> {
    const { consumer } = this;
    await wrap('connect a consumer', () => consumer.connect());
    await wrap('subscribe', () =>
      consumer.subscribe({ topics: this.options.topics, fromBeginning: this.options.startFrom !== 'latest' }),
    );
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        // Hold the batch until this generation's assignment is handled (state restored, seeks set).
        let settled = false;
        const gate = this.assigning.then(() => (settled = true));
        while (!settled) {
          await Promise.race([gate, sleep(1000)]);
          if (!settled) await heartbeat().catch(() => undefined);
        }
        if (this.failed || !isRunning() || isStale() || batch.messages.length === 0) return;
        try {
          await handlers.onBatch({
            topic: batch.topic,
            partition: batch.partition,
            highWatermark: batch.highWatermark,
            records: batch.messages.map((m) => toRecord(batch.topic, batch.partition, m)),
          });
        } catch (err) {
          this.failed = true;
          handlers.onCrash?.(err as Error, false);
          return;
        }
        resolveOffset(batch.messages[batch.messages.length - 1]!.offset);
      },
    });
  }

  assignment(): TopicPartition[] {
    return this.assigned;
  }

  // Between a crash and the rejoin kafkajs has no group to pause, resume or seek in; the caller
  // applies its pauses and positions again on the next assignment.
  pause(partitions: TopicPartition[]): void {
    if (partitions.length > 0) ignoreNotRunning(() => this.consumer.pause(byTopic(partitions)));
  }

  resume(partitions: TopicPartition[]): void {
    if (partitions.length > 0) ignoreNotRunning(() => this.consumer.resume(byTopic(partitions)));
  }

  seek(p: TopicPartition, offset: string): void {
    ignoreNotRunning(() => this.consumer.seek({ topic: p.topic, partition: p.partition, offset }));
  }

  async commit(offsets: (TopicPartition & { offset: string })[]): Promise<void> {
    if (offsets.length === 0) return;
    await wrap('commit offsets', () => this.consumer.commitOffsets(offsets));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.consumer.disconnect();
  }
}

function ignoreNotRunning(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!/not initialized/.test((err as Error).message)) throw err;
  }
}

function byTopic(partitions: TopicPartition[]): { topic: string; partitions: number[] }[] {
  const map = new Map<string, number[]>();
  for (const p of partitions) map.set(p.topic, [...(map.get(p.topic) ?? []), p.partition]);
  return [...map].map(([topic, ps]) => ({ topic, partitions: ps }));
}

function toRecord(
  topic: string,
  partition: number,
  m: {
    offset: string;
    key: Buffer | null;
    value: Buffer | null;
    timestamp: string;
    headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
  },
): KafkaRecord {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    if (v !== undefined) headers[k] = Array.isArray(v) ? v.map(String).join(',') : String(v);
  }
  return { topic, partition, offset: m.offset, key: m.key, value: m.value, headers, timestamp: Number(m.timestamp) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new ServiceError('kafka', `Kafka: could not ${what}: ${(err as Error).message ?? String(err)}`, {
      retriable: isRetriableKafkaError(err),
      cause: err,
    });
  }
}

/** Errors that waiting cannot fix: credentials, permissions, a broker too old for the request. */
const FATAL_TYPES = new Set([
  'SASL_AUTHENTICATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'INVALID_GROUP_ID',
  'UNSUPPORTED_VERSION',
]);
const FATAL_NAMES = new Set([
  'KafkaJSSASLAuthenticationError',
  'KafkaJSServerDoesNotSupportApiKey',
  'KafkaJSNotImplemented',
]);
/** Marked non-retriable by kafkajs, yet what a restarting or moving broker causes. */
const TRANSIENT_NAMES = new Set([
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSBrokerNotFound',
  'KafkaJSTimeout',
  'KafkaJSLockTimeout',
]);

/**
 * Whether trying again may succeed. Credentials and permissions never come right by waiting; a
 * record the broker refuses (too large, invalid) neither; everything a broker restart or a
 * leader move causes does, even where kafkajs gave up on its own retries.
 */
export function isRetriableKafkaError(err: unknown): boolean {
  for (let e = err as { name?: string; type?: string; retriable?: boolean; cause?: unknown } | undefined; e;) {
    if (FATAL_NAMES.has(e.name ?? '') || FATAL_TYPES.has(e.type ?? '')) return false;
    if (e.name === 'KafkaJSProtocolError') return e.retriable !== false;
    if (TRANSIENT_NAMES.has(e.name ?? '')) {
      const cause =
        (e as { cause?: unknown; originalError?: unknown }).cause ?? (e as { originalError?: unknown }).originalError;
      return cause === undefined ? true : isRetriableKafkaError(cause);
    }
    if (e.cause === undefined) return e.retriable ?? true;
    e = e.cause as typeof e;
  }
  return true;
}
