import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import type { Action, Alert } from '../../src/engine/alert.js';
import type { DeadLetter } from '../../src/events/deadLetter.js';
import { createKafkaClient } from '../../src/kafka/kafkaClient.js';
import { sql } from '../../src/clickhouse/sql.js';
import { SCHEMA_HEADERS } from '../../src/sinks/kafkaSink.js';
import { SIGNATURE_HEADER, verify } from '../../src/sinks/signature.js';

const SIGNING_KEY = 'integration-test-signing-key-0123456789';
import { openStore } from '../../src/store/store.js';
import {
  AuthwatchProcess,
  distinctIds,
  produceLines,
  readJson,
  replayLines,
  testTopics,
  writeConfig,
  type TestTopics,
} from '../support/authwatchProcess.js';
import { testConfig } from '../support/services.js';
import { authTraffic } from '../support/traffic.js';

const config = testConfig();
const client = createKafkaClient(config.kafka);
const created: TestTopics[] = [];
afterAll(async () => {
  const names = created.flatMap((t) => [t.events, t.alerts, t.actions, t.dlq, t.state, t.hits]);
  const existing = new Set(await client.listTopics());
  await client.deleteTopics(names.filter((n) => existing.has(n)));
  await client.close();
});

const ajv = new Ajv({ strict: false });
const schema = (name: string) => ajv.compile(JSON.parse(readFileSync(`schemas/${name}.schema.json`, 'utf8')) as object);
const validAlert = schema('alert');
const validAction = schema('action');
const validDeadLetter = schema('dead-letter');

async function freshTopics(prefix: string): Promise<TestTopics> {
  const topics = testTopics(prefix);
  created.push(topics);
  await client.createTopics([{ name: topics.events, partitions: 3 }]);
  return topics;
}

function cli(args: string[], env: Record<string, string>) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AUTHWATCH_')));
  const r = spawnSync(process.execPath, ['bin/authwatch.js', ...args], { env: { ...clean, ...env }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('authwatch run on Kafka (real broker, real process)', () => {
  it('turns a stream with known attacks into exactly the alerts and actions replay gives, bad records into dead letters', async () => {
    const topics = await freshTopics('e2e');
    const { lines } = authTraffic({ seed: 21, events: 12_000, attacks: 3, malformed: 0.005 });
    await produceLines(client, topics.events, lines);
    const expected = replayLines(lines);
    expect(expected.alerts.length).toBeGreaterThan(20);

    const configFile = writeConfig(topics, config.kafka.brokers, {
      // Kept forever: the traffic is dated November 2026, which the events' 30-day retention
      // would drop as it is stored once the clock is past that.
      clickhouse: { events: true, retention: { events: '0' } },
      sinks: { signing: { key: SIGNING_KEY, key_id: 'test-key' } },
    });
    const proc = new AuthwatchProcess(configFile);
    try {
      await proc.caughtUp(lines.length);
      // Operations endpoints of the running engine.
      expect(await proc.get('/healthz')).toEqual({ status: 200, body: '{"status":"ok"}\n' });
      const ready = await proc.get('/readyz');
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.body)).toEqual({
        status: 'ready',
        checks: {
          kafka: true,
          partitions_assigned: 3,
          hits_partitions_assigned: 12,
          state_restored: true,
          sinks: true,
        },
      });
      expect(await proc.metric('authwatch_records_total', `source="kafka:${topics.events}"`)).toBe(lines.length);
      expect(await proc.metric('authwatch_alerts_total')).toBe(expected.alerts.length);
      expect(await proc.metric('authwatch_batch_latency_seconds_count')).toBeGreaterThan(0);
      expect(await proc.metric('authwatch_store_rows_total', 'table="alerts"')).toBe(expected.alerts.length);
      // While run holds its embedded store, `authwatch query` reads it through run's port.
      const url = `http://127.0.0.1:${await proc.port()}`;
      const storeDir = join(dirname(configFile), 'store');
      const q = (...args: string[]) => cli(['query', ...args], { AUTHWATCH_CLICKHOUSE_PATH: storeDir });
      const counted = q('--url', url, 'SELECT count() AS n FROM authwatch.alerts FINAL');
      expect(counted.stderr).toBe('');
      expect(Number((JSON.parse(counted.stdout) as { n: unknown }).n)).toBe(expected.alerts.length);
      const summary = q('--url', url, '--summary', '--hours', '1000000');
      expect(
        summary.stdout
          .trim()
          .split('\n')
          .reduce((n, l) => n + Number(JSON.parse(l).alerts), 0),
      ).toBe(expected.alerts.length);
      const write = q('--url', url, 'DROP TABLE authwatch.alerts');
      expect(write.code).toBe(1);
      expect(write.stderr).toMatch(/Only statements that read are answered here .* not DROP/);
      // Opening it directly is refused with the way round.
      expect(q('SELECT 1').stderr).toMatch(/another process, such as a running `authwatch run`, holds it/);
      proc.kill('SIGTERM');
      expect((await proc.exited).code).toBe(0);
    } finally {
      proc.kill('SIGKILL');
    }

    const alerts = await readJson<Alert>(client, topics.alerts);
    const actions = await readJson<Action>(client, topics.actions);
    const letters = await readJson<DeadLetter>(client, topics.dlq);
    // The same alerts and actions in the embedded store (the default), and every event.
    const store = await openStore({ ...config.clickhouse, url: undefined, path: join(dirname(configFile), 'store') });
    try {
      const ids = async (q: ReturnType<typeof sql>) => (await store.query<{ id: string }>(q)).map((r) => r.id).sort();
      expect(await ids(sql`SELECT alert_id AS id FROM authwatch.alerts FINAL`)).toEqual(distinctIds(expected.alerts));
      expect(await ids(sql`SELECT action_id AS id FROM authwatch.actions FINAL`)).toEqual(
        distinctIds(expected.actions),
      );
      const [events] = await store.query<{ n: string }>(sql`SELECT count() AS n FROM authwatch.events FINAL`);
      expect(Number(events!.n)).toBe(lines.length - letters.length);
    } finally {
      await store.close();
    }
    // Exactly the alerts and actions of replay, each once, ids included.
    expect(alerts.map((a) => a.value.alert_id).sort()).toEqual(distinctIds(expected.alerts));
    expect(actions.map((a) => a.value.action_id).sort()).toEqual(distinctIds(expected.actions));
    expect(new Set(alerts.map((a) => a.value.rule_title))).toEqual(
      new Set([
        'Credential stuffing from one IP',
        'Successful login from an IP that is credential stuffing',
        'Password guessing against one account',
        'Impossible travel between two logins of one user',
        'MFA push bombing of one user',
        'Refresh token reuse',
        'Signup with a disposable email domain',
        ...expected.alerts.map((a) => a.rule_title),
      ]),
    );
    // Signed as published: the signature verifies against the record's bytes, within the hour.
    const signedOk = (record: { value: Buffer | null; headers: Record<string, string> }) =>
      verify(SIGNING_KEY, record.value!.toString('utf8'), record.headers[SIGNATURE_HEADER], { maxAgeMs: 3_600_000 });
    for (const { record, value } of alerts) {
      expect(validAlert(value), JSON.stringify(validAlert.errors)).toBe(true);
      expect(record.headers).toEqual({
        'content-type': 'application/json',
        'authwatch-schema': SCHEMA_HEADERS.alert,
        'authwatch-signature': expect.stringMatching(/^t=\d+,v1=[0-9a-f]{64}$/),
        'authwatch-key-id': 'test-key',
      });
      expect(signedOk(record)).toMatchObject({ ok: true });
    }
    for (const { record, value } of actions) {
      expect(validAction(value), JSON.stringify(validAction.errors)).toBe(true);
      expect(record.key!.toString()).toBe(`${value.target.kind}:${value.target.value}`);
      expect(record.headers['authwatch-schema']).toBe(SCHEMA_HEADERS.action);
      expect(signedOk(record)).toMatchObject({ ok: true });
    }
    // The key never reaches the log.
    expect(JSON.stringify(proc.logs)).not.toContain(SIGNING_KEY);
    // Every malformed record is a dead letter with its reason, position and original bytes.
    const malformed = lines.filter((l) => !l.startsWith('{"id"'));
    expect(malformed.length).toBeGreaterThan(20);
    expect(letters).toHaveLength(malformed.length);
    for (const { record, value } of letters) {
      expect(validDeadLetter(value), JSON.stringify(validDeadLetter.errors)).toBe(true);
      expect(value.source).toBe(`kafka:${topics.events}`);
      expect(record.key!.toString()).toBe(`${topics.events}/${value.position.partition}/${value.position.offset}`);
      expect(['invalid_json', 'not_an_object', 'invalid_time']).toContain(value.reason);
    }
    expect(letters.map((l) => Buffer.from(l.value.original_base64, 'base64').toString()).sort()).toEqual(
      malformed.sort(),
    );
  });

  it('killed with SIGKILL mid-stream and started again: no alert lost, none doubled, a threshold across the crash fires once', async () => {
    const topics = await freshTopics('crash');
    const { lines } = authTraffic({ seed: 22, events: 16_000, attacks: 4 });
    // Credential stuffing from one address (it alerts at 10 accounts): cut the stream after its
    // 6th failure, so 6 are processed before the crash and the rest after.
    const failures = lines.flatMap((l, i) =>
      l.includes('"login.failure"') && l.includes('"185.220.101.11"') ? [i] : [],
    );
    expect(failures.length).toBeGreaterThanOrEqual(10);
    const cut = failures[5]! + 1;
    const before = lines.slice(0, cut);
    const after = lines.slice(cut);
    const expected = replayLines(lines);
    const straddling = expected.alerts.filter((a) => a.group.ip === '185.220.101.11' && a.rule_type === 'value_count');
    expect(straddling.length).toBeGreaterThan(0);

    // The single engine: its batches journaled since the checkpoint are replayed exactly. (The
    // stages of a scaled-out deployment are killed mid-stream in scaleOut.test.ts.)
    const file = writeConfig(topics, config.kafka.brokers, {
      log_level: 'debug',
      pipeline: { batch_max_records: 250, role: 'single' },
      state: { checkpoint_interval: '4s' },
    });
    const tail = 1500; // processed after the first checkpoint, journalled, not checkpointed
    await produceLines(client, topics.events, before.slice(0, -tail));
    const first = new AuthwatchProcess(file);
    await first.caughtUp(before.length - tail);
    await first.waitForLog(/^Checkpoint stored/, 10_000);
    await produceLines(client, topics.events, before.slice(-tail));
    await first.caughtUp(before.length);
    first.kill('SIGKILL');
    await first.exited;
    const alertsBefore = (await readJson<Alert>(client, topics.alerts)).length;
    await produceLines(client, topics.events, after);
    const second = new AuthwatchProcess(file);
    try {
      const restored = await second.waitForLog(/^Engine state restored from its checkpoint|^No checkpoint found/);
      expect(restored.msg).toMatch(/restored from its checkpoint/);
      expect(restored.journal_batches).toBeGreaterThan(0);
      await second.caughtUp(after.length);
      expect(await second.metric('authwatch_replayed_batches_total')).toBe(restored.journal_batches);
      second.kill('SIGTERM');
      expect((await second.exited).code).toBe(0);
    } finally {
      second.kill('SIGKILL');
    }
    const alerts = (await readJson<Alert>(client, topics.alerts)).map((a) => a.value);
    expect(alertsBefore).toBeGreaterThan(0);
    // After de-duplication by id: exactly the alerts of one uninterrupted run.
    expect(distinctIds(alerts)).toEqual(distinctIds(expected.alerts));
    const fired = alerts.filter((a) => a.group.ip === '185.220.101.11' && a.rule_type === 'value_count');
    expect(distinctIds(fired)).toEqual(distinctIds(straddling));
    // Counted across the crash: the first of its events came before it.
    const firstSeen = Math.min(...fired.map((a) => a.first_seen));
    expect(firstSeen).toBe((JSON.parse(lines[failures[0]!]!) as { time: number }).time);
  });

  it('stopped with SIGTERM mid-stream: exits 0, commits what it processed, and a restart re-reads nothing', async () => {
    const topics = await freshTopics('term');
    const { lines } = authTraffic({ seed: 23, events: 30_000, attacks: 3 });
    await produceLines(client, topics.events, lines);
    const expected = replayLines(lines);
    const file = writeConfig(topics, config.kafka.brokers, {
      pipeline: { batch_max_records: 200, max_inflight_batches: 1 },
    });
    const first = new AuthwatchProcess(file);
    await first.waitForLog(/Partitions assigned/);
    for (;;) {
      const n = await first.metric('authwatch_batches_total').catch(() => 0);
      if (n >= 10) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    await first.waitForLog(/^Stopped cleanly/);
    const committed = (await client.committedOffsets(topics.group, topics.events)).reduce(
      (n, p) => n + Number(p.offset),
      0,
    );
    expect(committed).toBeLessThan(lines.length); // stopped mid-stream

    const second = new AuthwatchProcess(file);
    try {
      // The match stage keeps no state: it starts at the committed offsets, with no journal.
      const restored = await second.waitForLog(/^No checkpoint found/);
      expect(restored.journal_batches).toBe(0);
      await second.caughtUp(lines.length - committed);
      second.kill('SIGTERM');
      expect((await second.exited).code).toBe(0);
    } finally {
      second.kill('SIGKILL');
    }
    const rest = (await second.waitForLog(/^Stopped cleanly/)).records as number;
    // Each record read once: what the first run committed, then the rest.
    expect(committed).toBeGreaterThan(0);
    expect(rest).toBe(lines.length - committed);
    const alerts = (await readJson<Alert>(client, topics.alerts)).map((a) => a.value);
    expect(alerts.map((a) => a.alert_id).sort()).toEqual(distinctIds(expected.alerts));
  });
});
