import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { createKafkaClient } from '../../src/kafka/kafkaClient.js';
import { silentLogger } from '../../src/log/logger.js';
import { ensureTopics } from '../../src/pipeline/kafkaTopics.js';
import { testTopics, type TestTopics } from '../support/authwatchProcess.js';
import { testConfig } from '../support/services.js';

const client = createKafkaClient(testConfig().kafka);
const made: TestTopics[] = [];
afterAll(async () => {
  const existing = new Set(await client.listTopics());
  const names = new Set(made.flatMap((t) => [t.events, t.alerts, t.actions, t.dlq, t.state, t.hits]));
  const created = [...names].filter((n) => existing.has(n));
  if (created.length > 0) await client.deleteTopics(created);
  await client.close();
});

function kafkaTopics(t: TestTopics, create: boolean) {
  made.push(t);
  return {
    topics: { events: [t.events], alerts: t.alerts, actions: t.actions, dlq: t.dlq, state: t.state, hits: t.hits },
    create_topics: create,
    topic_partitions: 2,
    hits_partitions: 4,
    hits_retention: '7d',
  };
}

describe('topics at start (real broker)', () => {
  it('creates the missing topics: outputs with the configured partitions, the state topic compacted', async () => {
    const t = testTopics('ensure');
    await ensureTopics(client, kafkaTopics(t, true), silentLogger);
    const described = await client.describeTopics([t.events, t.alerts, t.state], ['cleanup.policy']);
    expect(described.get(t.events)?.partitions).toBe(2);
    expect(described.get(t.alerts)?.partitions).toBe(2);
    expect(described.get(t.state)).toEqual({ partitions: 1, config: { 'cleanup.policy': 'compact' } });
    const hits = (await client.describeTopics([t.hits], ['cleanup.policy', 'retention.ms'])).get(t.hits);
    expect(hits).toEqual({
      partitions: 4,
      config: { 'cleanup.policy': 'delete', 'retention.ms': String(7 * 86_400_000) },
    });
    // A second start finds them and changes nothing.
    await ensureTopics(client, kafkaTopics(t, true), silentLogger);
  });

  it('names every missing topic when it may not create them', async () => {
    const t = testTopics('nocreate');
    const err = await ensureTopics(client, kafkaTopics(t, false), silentLogger).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    for (const name of [t.events, t.alerts, t.actions, t.dlq, t.state, t.hits])
      expect((err as Error).message).toContain(name);
  });

  it('refuses a state topic that retention would empty', async () => {
    const t = testTopics('delete');
    await client.createTopics([{ name: t.state, config: { 'cleanup.policy': 'delete' } }]);
    const err = await ensureTopics(client, kafkaTopics(t, true), silentLogger).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/cleanup\.policy=delete; it must be compact/);
  });

  it('refuses a hits topic of another partition count, which would mis-place the windows', async () => {
    const t = testTopics('hitscount');
    await client.createTopics([{ name: t.hits, partitions: 3 }]);
    const err = await ensureTopics(client, kafkaTopics(t, true), silentLogger).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/has 3 partitions, and kafka\.hits_partitions is 4/);
  });

  it('leaves the hits topic alone for a single engine', async () => {
    const t = testTopics('single');
    await ensureTopics(client, kafkaTopics(t, true), silentLogger, 'single');
    expect(await client.listTopics()).not.toContain(t.hits);
  });
});
