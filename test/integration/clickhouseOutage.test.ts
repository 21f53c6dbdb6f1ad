import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickhouseClient, type ClickhouseClient } from '../../src/clickhouse/clickhouseClient.js';
import { ident, sql } from '../../src/clickhouse/sql.js';
import { createKafkaClient, type KafkaClient } from '../../src/kafka/kafkaClient.js';
import type { Action, Alert } from '../../src/engine/alert.js';
import {
  AuthwatchProcess,
  distinctIds,
  readJson,
  produceLines,
  replayLines,
  testTopics,
  writeConfig,
} from '../support/authwatchProcess.js';
import { OwnService, testConfig, uniqueName } from '../support/services.js';
import { authTraffic } from '../support/traffic.js';

describe('authwatch run while ClickHouse is down (real server, real process)', () => {
  const server = new OwnService('clickhouse');
  let kafka: KafkaClient;
  let db: ClickhouseClient;
  const database = uniqueName('outage');

  beforeAll(async () => {
    await server.start();
    kafka = createKafkaClient({ brokers: testConfig().kafka.brokers, client_id: 'clickhouse-outage-test' });
    db = createClickhouseClient({ ...testConfig().clickhouse, url: `http://127.0.0.1:${server.port}` });
  }, 120_000);

  afterAll(async () => {
    await kafka?.close().catch(() => undefined);
    await db?.close().catch(() => undefined);
    await server.remove();
  }, 60_000);

  it('holds the pipeline for the 30 s the database is stopped, retries, and stores every alert exactly once after', async () => {
    const topics = testTopics('chdown');
    await kafka.createTopics([{ name: topics.events, partitions: 3 }]);
    const { lines } = authTraffic({ seed: 51, events: 16_000, attacks: 4 });
    const half = lines.length / 2;
    const expected = replayLines(lines);
    expect(expected.alerts.length).toBeGreaterThan(20);

    const file = writeConfig(topics, testConfig().kafka.brokers, {
      clickhouse: { url: `http://127.0.0.1:${server.port}`, database },
      pipeline: { batch_max_records: 250 },
    });
    const proc = new AuthwatchProcess(file);
    let late: number | undefined;
    try {
      await produceLines(kafka, topics.events, lines.slice(0, half));
      await proc.caughtUp(half);
      const before = await proc.metric('authwatch_store_rows_total', 'table="alerts"');

      await server.stop();
      await produceLines(kafka, topics.events, lines.slice(half));
      const downSince = Date.now();
      // While it is down: every record is read, but batches wait unwritten and unacknowledged.
      while (Date.now() - downSince < 30_000) {
        await new Promise((r) => setTimeout(r, 1000));
        expect((await proc.get('/healthz')).status).toBe(200);
      }
      expect(await proc.metric('authwatch_sink_errors_total', 'sink="clickhouse",retriable="true"')).toBeGreaterThan(0);
      expect(await proc.metric('authwatch_unwritten_batches')).toBeGreaterThan(0);
      expect(await proc.metric('authwatch_store_rows_total', 'table="alerts"')).toBe(before);
      expect((await proc.get('/readyz')).status).toBe(503);

      await server.start();
      await proc.caughtUp(lines.length, 3, 90_000);
      expect((await proc.get('/readyz')).status).toBe(200);
      // Events that arrived later than the lateness are not counted in windows.
      late = await proc.metric('authwatch_late_events_total');
      proc.kill('SIGTERM');
      expect((await proc.exited).code).toBe(0);
    } finally {
      proc.kill('SIGKILL');
    }
    const ids = await db.query<{ id: string }>(sql`SELECT alert_id AS id FROM ${ident(database)}.alerts FINAL`);
    const actions = await db.query<{ id: string }>(sql`SELECT action_id AS id FROM ${ident(database)}.actions FINAL`);
    // Stored exactly once: every alert and action the engine published, each once, none more.
    const published = async <T extends { alert_id?: string; action_id?: string }>(topic: string) =>
      distinctIds((await readJson<T>(kafka, topic)).map((r) => r.value));
    expect(ids.map((r) => r.id).sort()).toEqual(await published<Alert>(topics.alerts));
    expect(actions.map((r) => r.id).sort()).toEqual(await published<Action>(topics.actions));
    // And what one uninterrupted replay gives. After the outage the three partitions are read
    // unevenly; event time moves per partition, so none runs ahead and makes the others late.
    expect(late).toBe(0);
    expect(ids.map((r) => r.id).sort()).toEqual(distinctIds(expected.alerts));
    expect(actions.map((r) => r.id).sort()).toEqual(distinctIds(expected.actions));
  }, 240_000);
});
