import { afterEach, describe, expect, it } from 'vitest';
import { createKafkaClient, type KafkaRecord } from '../../src/kafka/kafkaClient.js';
import { testConfig, uniqueName } from '../support/services.js';

const config = testConfig();
const client = createKafkaClient(config.kafka);

describe('Kafka (real broker)', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('produces to a fresh topic and consumes every record back, in order, with keys and headers', async () => {
    const topic = uniqueName('smoke');
    await client.createTopics([{ name: topic, partitions: 2 }]);
    cleanup.push(() => client.deleteTopics([topic]));
    expect(await client.listTopics()).toContain(topic);

    const producer = await client.producer();
    cleanup.push(() => producer.close());
    const sent = Array.from({ length: 20 }, (_, i) => ({
      key: `user-${i % 3}`,
      value: JSON.stringify({ seq: i }),
      headers: { source: 'smoke' },
    }));
    await producer.send(topic, sent);

    const consumer = await client.consumer({ groupId: uniqueName('group'), topics: [topic], fromBeginning: true });
    cleanup.push(() => consumer.close());
    const received: KafkaRecord[] = [];
    const done = new Promise<void>((resolve) => {
      void consumer.run(async (record) => {
        received.push(record);
        if (received.length === sent.length) resolve();
      });
    });
    await done;

    expect(received).toHaveLength(20);
    expect(received.every((r) => r.topic === topic && r.headers.source === 'smoke')).toBe(true);
    // Records with one key stay in one partition, in the order they were sent.
    for (const key of ['user-0', 'user-1', 'user-2']) {
      const ofKey = received.filter((r) => r.key?.toString() === key);
      expect(new Set(ofKey.map((r) => r.partition)).size).toBe(1);
      const seqs = ofKey.map((r) => (JSON.parse(r.value!.toString()) as { seq: number }).seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(seqs.every((s) => `user-${s % 3}` === key)).toBe(true);
    }
  });

  it('commits offsets only for handled records, so a new consumer of the group resumes after them', async () => {
    const topic = uniqueName('resume');
    const groupId = uniqueName('group');
    await client.createTopics([{ name: topic }]);
    cleanup.push(() => client.deleteTopics([topic]));
    const producer = await client.producer();
    cleanup.push(() => producer.close());
    await producer.send(
      topic,
      ['a', 'b', 'c'].map((v) => ({ value: v })),
    );

    const first = await client.consumer({ groupId, topics: [topic], fromBeginning: true });
    const seenFirst: string[] = [];
    await new Promise<void>((resolve) => {
      void first.run(async (r) => {
        seenFirst.push(r.value!.toString());
        if (seenFirst.length === 3) resolve();
      });
    });
    await first.close();
    expect(seenFirst).toEqual(['a', 'b', 'c']);

    await producer.send(topic, [{ value: 'd' }]);
    const second = await client.consumer({ groupId, topics: [topic], fromBeginning: true });
    cleanup.push(() => second.close());
    const seenSecond = await new Promise<string[]>((resolve) => {
      void second.run(async (r) => resolve([r.value!.toString()]));
    });
    expect(seenSecond).toEqual(['d']);
  });
});
