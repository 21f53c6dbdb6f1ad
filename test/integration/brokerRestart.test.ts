import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/engine/alert.js';
import { createKafkaClient, type KafkaClient } from '../../src/kafka/kafkaClient.js';
import {
  AuthwatchProcess,
  distinctIds,
  produceLines,
  readJson,
  replayLines,
  testTopics,
  writeConfig,
} from '../support/authwatchProcess.js';
import { OwnService } from '../support/services.js';
import { authTraffic } from '../support/traffic.js';

describe('authwatch run across a broker restart (real broker, real process)', () => {
  const broker = new OwnService('kafka');
  let client: KafkaClient;

  beforeAll(async () => {
    await broker.start();
    client = createKafkaClient({ brokers: [`127.0.0.1:${broker.port}`], client_id: 'broker-restart-test' });
  }, 120_000);

  afterAll(async () => {
    await client?.close().catch(() => undefined);
    await broker.remove();
  }, 60_000);

  it('reconnects when the broker comes back and finishes the stream without losing an alert', async () => {
    const topics = testTopics('restart');
    await client.createTopics([{ name: topics.events, partitions: 3 }]);
    const { lines } = authTraffic({ seed: 31, events: 40_000, attacks: 6 });
    await produceLines(client, topics.events, lines);
    const expected = replayLines(lines);

    // Small fetches and batches, one write at a time: the stream takes long enough to be cut.
    const file = writeConfig(topics, [`127.0.0.1:${broker.port}`], {
      kafka: { consumer: { session_timeout: '6s', heartbeat_interval: '1s', max_bytes_per_partition: 16_384 } },
      pipeline: { batch_max_records: 50, max_inflight_batches: 1 },
    });
    const proc = new AuthwatchProcess(file);
    try {
      for (;;) {
        const batches = await proc.metric('authwatch_batches_total').catch(() => 0);
        if (batches >= 50) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await broker.stop();
      const before = await proc.metric('authwatch_batches_total');
      await new Promise((r) => setTimeout(r, 1000));
      // While the broker is away nothing is acknowledged, and the process keeps running.
      expect(await proc.get('/healthz')).toMatchObject({ status: 200 });
      await broker.start();
      await proc.caughtUp(lines.length, 3, 120_000);
      expect(await proc.metric('authwatch_batches_total')).toBeGreaterThan(before);
      proc.kill('SIGTERM');
      expect((await proc.exited).code).toBe(0);
    } finally {
      proc.kill('SIGKILL');
    }
    const alerts = (await readJson<Alert>(client, topics.alerts)).map((a) => a.value);
    expect(distinctIds(alerts)).toEqual(distinctIds(expected.alerts));
  }, 240_000);
});
