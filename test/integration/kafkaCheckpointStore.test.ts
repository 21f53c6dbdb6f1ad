import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaClient } from '../../src/kafka/kafkaClient.js';
import { STATE_TOPIC_CONFIG } from '../../src/pipeline/kafkaTopics.js';
import { JOURNAL_SLOTS, type Checkpoint } from '../../src/state/checkpointStore.js';
import { KafkaCheckpointStore } from '../../src/state/kafkaCheckpointStore.js';
import { testConfig, uniqueName } from '../support/services.js';

const client = createKafkaClient(testConfig().kafka);
const topics: string[] = [];
afterAll(async () => {
  await client.deleteTopics(topics);
  await client.close();
});

async function stateTopic(): Promise<string> {
  const name = uniqueName('state');
  topics.push(name);
  await client.createTopics([{ name, partitions: 1, config: STATE_TOPIC_CONFIG }]);
  return name;
}

const checkpoint = (seq: number, state: string): Checkpoint => ({
  seq,
  positions: { 'in/0': seq * 10, 'in/1': seq * 7 },
  state,
  createdAt: 1_800_000_000_000 + seq,
});

describe('KafkaCheckpointStore (real broker)', () => {
  it('loads the newest checkpoint and the journal after it, for its own task only', async () => {
    const topic = await stateTopic();
    const producer = await client.producer();
    const store = new KafkaCheckpointStore(client, producer, topic, 'group-a');
    const other = new KafkaCheckpointStore(client, producer, topic, 'group-b');
    expect(await store.load()).toEqual({ journal: [], problems: [] });
    const range = (first: number) => [{ topic: 'in', partition: 0, first, last: first + 9 }];
    await store.appendJournal([1, 2, 3].map((seq) => ({ seq, ranges: range(seq * 10) })));
    await store.saveCheckpoint(checkpoint(2, '{"engine":2}'));
    await store.appendJournal([{ seq: 4, ranges: range(40) }]);
    await other.saveCheckpoint(checkpoint(9, '{"engine":"b"}'));
    const fresh = new KafkaCheckpointStore(client, producer, topic, 'group-a');
    expect(await fresh.load()).toEqual({
      checkpoint: checkpoint(2, '{"engine":2}'),
      journal: [
        { seq: 3, ranges: range(30) },
        { seq: 4, ranges: range(40) },
      ],
      problems: [],
    });
    await producer.close();
  });

  it('stores a state larger than a Kafka message in chunks, and falls back to the previous checkpoint when the newest is torn', async () => {
    const topic = await stateTopic();
    const producer = await client.producer();
    const store = new KafkaCheckpointStore(client, producer, topic, 'big');
    // Random text does not compress: about 3 MB stored, six chunks.
    const big = JSON.stringify({ noise: randomBytes(2_200_000).toString('base64') });
    const bytes = await store.saveCheckpoint(checkpoint(5, big));
    expect(bytes).toBeGreaterThan(2_000_000);
    await store.saveCheckpoint(checkpoint(6, '{"small":true}'));
    expect((await new KafkaCheckpointStore(client, producer, topic, 'big').load()).checkpoint?.seq).toBe(6);
    // A crash in the middle of the next checkpoint (slot of 5): its first chunk is new, the rest old.
    await producer.send([{ topic, records: [{ key: 'authwatch/v1/big/checkpoint/0/0', value: Buffer.from('torn') }] }]);
    const afterTear = await new KafkaCheckpointStore(client, producer, topic, 'big').load();
    expect(afterTear.checkpoint?.seq).toBe(6); // the other slot is whole
    // And when the newest one is torn, the one before it is used, with the reason.
    await producer.send([{ topic, records: [{ key: 'authwatch/v1/big/checkpoint/1/0', value: Buffer.from('torn') }] }]);
    await store.saveCheckpoint(checkpoint(7, big)); // into slot 0 again, whole
    await producer.send([{ topic, records: [{ key: 'authwatch/v1/big/checkpoint/0/3', value: Buffer.from('torn') }] }]);
    const torn = await new KafkaCheckpointStore(client, producer, topic, 'big').load();
    expect(torn.checkpoint).toBeUndefined();
    expect(torn.problems).toEqual([
      expect.stringMatching(/^checkpoint 7 \(slot 0\): its hash is/),
      expect.stringMatching(/^checkpoint 6 \(slot 1\): its hash is/),
    ]);
    await producer.close();
  });

  it('keeps the journal in a ring, so the topic does not grow with the batches', async () => {
    const topic = await stateTopic();
    const producer = await client.producer();
    const store = new KafkaCheckpointStore(client, producer, topic, 'ring');
    const entry = (seq: number) => ({ seq, ranges: [{ topic: 'in', partition: 0, first: seq, last: seq }] });
    await store.saveCheckpoint(checkpoint(JOURNAL_SLOTS - 2, '{}'));
    await store.appendJournal([JOURNAL_SLOTS - 1, JOURNAL_SLOTS, JOURNAL_SLOTS + 1].map(entry));
    const loaded = await new KafkaCheckpointStore(client, producer, topic, 'ring').load();
    expect(loaded.journal.map((e) => e.seq)).toEqual([JOURNAL_SLOTS - 1, JOURNAL_SLOTS, JOURNAL_SLOTS + 1]);
    const keys = new Set<string>();
    await client.readToEnd(topic, (r) => keys.add(r.key!.toString()));
    expect([...keys].filter((k) => k.includes('/journal/')).sort()).toEqual([
      'authwatch/v1/ring/journal/0',
      'authwatch/v1/ring/journal/1',
      `authwatch/v1/ring/journal/${JOURNAL_SLOTS - 1}`,
    ]);
    await producer.close();
  });
});
