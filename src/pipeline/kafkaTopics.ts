import { durationMs, type KafkaConfig, type PipelineRole } from '../config/config.js';
import { ConfigError } from '../errors.js';
import type { KafkaClient } from '../kafka/kafkaClient.js';
import type { Logger } from '../log/logger.js';

/** Configuration of the state topic: compacted, so it keeps the newest checkpoint and journal per key. */
export const STATE_TOPIC_CONFIG: Record<string, string> = {
  'cleanup.policy': 'compact',
  // Roll segments hourly so compaction can reclaim old checkpoints; the active segment never compacts.
  'segment.ms': '3600000',
  'min.cleanable.dirty.ratio': '0.1',
  // Checkpoint chunks are up to 512 KiB each; leave room above the broker default of 1 MB.
  'max.message.bytes': '2097152',
};

/**
 * Makes sure every topic the pipeline uses exists before it starts: missing ones are created
 * (input and output topics with `topic_partitions` partitions, the state topic compacted with
 * one, the hits topic with `hits_partitions` and its retention), or with `create_topics: false`,
 * named in an error. An existing state topic that is not compacted is refused: retention would
 * delete the checkpoints under the running engine. So is a hits topic whose partition count
 * is not the configured one: every group's windows live in the partition its key hashes to.
 */
export async function ensureTopics(
  client: KafkaClient,
  kafka: Pick<KafkaConfig, 'topics' | 'create_topics' | 'topic_partitions' | 'hits_partitions' | 'hits_retention'>,
  logger: Logger,
  role: PipelineRole = 'all',
): Promise<void> {
  const { topics } = kafka;
  const wanted = [
    ...topics.events.map((name) => ({ name, partitions: kafka.topic_partitions })),
    ...[topics.alerts, topics.actions, topics.dlq].map((name) => ({ name, partitions: kafka.topic_partitions })),
    { name: topics.state, partitions: 1, config: STATE_TOPIC_CONFIG },
    ...(role === 'single'
      ? []
      : [
          {
            name: topics.hits,
            partitions: kafka.hits_partitions,
            config: {
              'cleanup.policy': 'delete',
              'retention.ms': String(durationMs(kafka.hits_retention)),
              'max.message.bytes': '4194304',
            },
          },
        ]),
  ];
  const existing = new Set(await client.listTopics());
  const missing = wanted.filter((t) => !existing.has(t.name));
  if (missing.length > 0 && !kafka.create_topics) {
    throw new ConfigError(
      `These topics do not exist and kafka.create_topics is false: ${missing.map((t) => t.name).join(', ')}.`,
    );
  }
  if (missing.length > 0) {
    const created = await client.createTopics(missing);
    if (created.length > 0) logger.info({ topics: created }, 'Created the Kafka topics that were missing.');
  }
  const described = await client.describeTopics(role === 'single' ? [topics.state] : [topics.state, topics.hits], [
    'cleanup.policy',
  ]);
  const hits = described.get(topics.hits);
  if (role !== 'single' && hits && hits.partitions !== kafka.hits_partitions) {
    throw new ConfigError(
      `The hits topic ${topics.hits} has ${hits.partitions} partitions, and kafka.hits_partitions is ${kafka.hits_partitions}. Each group's windows live in the partition its key hashes to, so the count cannot change under a deployment: set kafka.hits_partitions to ${hits.partitions}, or start afresh with a new hits topic and group id.`,
    );
  }
  const policy = described.get(topics.state)?.config['cleanup.policy'];
  if (policy !== undefined && !policy.split(',').includes('compact')) {
    throw new ConfigError(
      `The state topic ${topics.state} has cleanup.policy=${policy}; it must be compact, or retention deletes the engine's checkpoints.`,
    );
  }
}
