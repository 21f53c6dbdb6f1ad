import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createKafkaClient, type KafkaRecord, type PartitionBatch } from '../../src/kafka/kafkaClient.js';
import { testConfig, uniqueName } from '../support/services.js';

const config = testConfig();
const client = createKafkaClient(config.kafka);
afterAll(() => client.close());

describe('Kafka (real broker)', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('produces to a fresh topic and a group consumer reads every record back, in order, with keys and headers', async () => {
    const topic = uniqueName('smoke');
    expect(await client.createTopics([{ name: topic, partitions: 2 }])).toEqual([topic]);
    expect(await client.createTopics([{ name: topic, partitions: 2 }])).toEqual([]); // exists already
    cleanup.push(() => client.deleteTopics([topic]));
    const producer = await client.producer();
    cleanup.push(() => producer.close());
    const sent = Array.from({ length: 20 }, (_, i) => ({
      key: `user-${i % 3}`,
      value: JSON.stringify({ seq: i }),
      headers: { source: 'smoke' },
    }));
    await producer.send([{ topic, records: sent }]);

    const consumer = client.groupConsumer({ groupId: uniqueName('group'), topics: [topic] });
    cleanup.push(() => consumer.close());
    const received: KafkaRecord[] = [];
    const assigned: string[][] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        onAssign: async (a) => {
          assigned.push(a.map((p) => `${p.topic}/${p.partition}`).sort());
        },
        onBatch: (batch) => {
          received.push(...batch.records);
          if (received.length === sent.length) resolve();
        },
      });
    });
    expect(assigned).toEqual([[`${topic}/0`, `${topic}/1`]]);
    expect(received.every((r) => r.topic === topic && r.headers.source === 'smoke')).toBe(true);
    // Records with one key stay in one partition, in the order they were sent.
    for (const key of ['user-0', 'user-1', 'user-2']) {
      const ofKey = received.filter((r) => r.key?.toString() === key);
      expect(new Set(ofKey.map((r) => r.partition)).size).toBe(1);
      const seqs = ofKey.map((r) => (JSON.parse(r.value!.toString()) as { seq: number }).seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
  });

  it('commits only what it is told to: a new member of the group starts from the committed offset, and seek moves it', async () => {
    const topic = uniqueName('resume');
    const groupId = uniqueName('group');
    await client.createTopics([{ name: topic }]);
    cleanup.push(() => client.deleteTopics([topic]));
    const producer = await client.producer();
    cleanup.push(() => producer.close());
    await producer.send([{ topic, records: ['a', 'b', 'c', 'd', 'e'].map((v) => ({ value: v })) }]);

    const read = async (onAssign: (seek: (offset: number) => void) => void, count: number): Promise<string[]> => {
      const consumer = client.groupConsumer({ groupId, topics: [topic] });
      const seen: string[] = [];
      let batchOf: (b: PartitionBatch) => void = () => undefined;
      const done = new Promise<void>((resolve) => {
        batchOf = (b) => {
          seen.push(...b.records.map((r) => r.value!.toString()));
          if (seen.length >= count) resolve();
        };
      });
      await consumer.run({
        onAssign: async () => onAssign((offset) => consumer.seek({ topic, partition: 0 }, String(offset))),
        onBatch: (b) => batchOf(b),
      });
      await done;
      if (count === 5) await consumer.commit([{ topic, partition: 0, offset: '2' }]);
      await consumer.close();
      return seen;
    };
    expect(await read(() => undefined, 5)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(await client.committedOffsets(groupId, topic)).toEqual([{ partition: 0, offset: '2' }]);
    // The next member resumes at the commit, unless it seeks.
    expect(await read(() => undefined, 3)).toEqual(['c', 'd', 'e']);
    expect(await read((seek) => seek(4), 1)).toEqual(['e']);
  });

  it('reports a handler that throws as a final crash and never hands the records over again', async () => {
    const topic = uniqueName('poison');
    await client.createTopics([{ name: topic }]);
    cleanup.push(() => client.deleteTopics([topic]));
    const producer = await client.producer();
    cleanup.push(() => producer.close());
    await producer.send([{ topic, records: [{ value: 'boom' }] }]);
    const consumer = client.groupConsumer({ groupId: uniqueName('group'), topics: [topic] });
    cleanup.push(() => consumer.close());
    let calls = 0;
    const crashed = new Promise<[Error, boolean]>((resolve) => {
      void consumer.run({
        onAssign: async () => undefined,
        onBatch: () => {
          calls++;
          throw new TypeError('a bug in the handler');
        },
        onCrash: (error, restarting) => resolve([error, restarting]),
      });
    });
    const [error, restarting] = await crashed;
    expect(error.message).toBe('a bug in the handler');
    expect(restarting).toBe(false);
    await new Promise((r) => setTimeout(r, 1500));
    expect(calls).toBe(1);
  });

  it('reads a topic to its end, creates compacted topics and reports their configuration', async () => {
    const topic = uniqueName('compacted');
    await client.createTopics([{ name: topic, partitions: 2, config: { 'cleanup.policy': 'compact' } }]);
    cleanup.push(() => client.deleteTopics([topic]));
    const described = await client.describeTopics([topic], ['cleanup.policy']);
    expect(described.get(topic)).toEqual({ partitions: 2, config: { 'cleanup.policy': 'compact' } });
    const producer = await client.producer();
    cleanup.push(() => producer.close());
    await producer.send([
      { topic, records: Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 4}`, value: String(i) })) },
    ]);
    const seen: string[] = [];
    await client.readToEnd(topic, (r) => seen.push(r.value!.toString()));
    expect(seen.map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    const offsets = await client.offsets(topic);
    expect(offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0)).toBe(30);
    // An empty topic reads at once.
    const empty = uniqueName('empty');
    await client.createTopics([{ name: empty }]);
    cleanup.push(() => client.deleteTopics([empty]));
    await client.readToEnd(empty, () => seen.push('never'));
    expect(seen).toHaveLength(30);
  });
});
