import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { Action, Alert } from '../../src/engine/alert.js';
import { createKafkaClient } from '../../src/kafka/kafkaClient.js';
import {
  AuthwatchProcess,
  distinctIds,
  readJson,
  replayLines,
  testTopics,
  writeConfig,
  type TestTopics,
} from '../support/authwatchProcess.js';
import { testConfig } from '../support/services.js';
import { authTraffic } from '../support/traffic.js';
import { ident, sql } from '../../src/clickhouse/sql.js';
import { openStore } from '../../src/store/store.js';

const config = testConfig();
const client = createKafkaClient(config.kafka);
const created: TestTopics[] = [];
afterAll(async () => {
  const names = created.flatMap((t) => [t.events, t.alerts, t.actions, t.dlq, t.state, t.hits]);
  const existing = new Set(await client.listTopics());
  await client.deleteTopics(names.filter((n) => existing.has(n)));
  await client.close();
});

const INPUT_PARTITIONS = 6;
const HITS_PARTITIONS = 6;

async function freshTopics(prefix: string): Promise<TestTopics> {
  const topics = testTopics(prefix);
  created.push(topics);
  await client.createTopics([{ name: topics.events, partitions: INPUT_PARTITIONS }]);
  return topics;
}

/** Produces lines with random keys: any record may land in any partition, in order within each. */
async function produceRandomly(topic: string, lines: string[]): Promise<void> {
  const producer = await client.producer();
  try {
    for (let i = 0; i < lines.length; i += 1000) {
      const records = lines.slice(i, i + 1000).map((value) => ({ key: randomBytes(8).toString('hex'), value }));
      await producer.send([{ topic, records }]);
    }
  } finally {
    await producer.close();
  }
}

/** Members of one group: one config, the ClickHouse server as their shared store. */
function members(topics: TestTopics, n: number, pipeline: Record<string, unknown> = {}): AuthwatchProcess[] {
  const file = writeConfig(topics, config.kafka.brokers, {
    kafka: { hits_partitions: HITS_PARTITIONS },
    clickhouse: { url: config.clickhouse.url, database: databaseOf(topics) },
    pipeline: { idle_timeout: '2s', ...pipeline },
  });
  return Array.from({ length: n }, () => new AuthwatchProcess(file));
}

interface Sample {
  records: number;
  lag: number;
  waiting: number;
  sent: number;
  read: number;
  /** Input and hits partitions the member owns. */
  inputs: number;
  hits: number;
}

async function sample(p: AuthwatchProcess): Promise<Sample | undefined> {
  const { body } = await p.get('/metrics').catch(() => ({ body: '' }));
  const ready = await p.get('/readyz').catch(() => ({ body: '' }));
  if (body === '' || ready.body === '') return undefined;
  const { checks } = JSON.parse(ready.body) as { checks: Record<string, number> };
  const lines = body.split('\n');
  const sum = (prefix: string) =>
    lines.filter((l) => l.startsWith(prefix)).reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return {
    records: sum('authwatch_records_total{'),
    lag: sum('authwatch_consumer_lag{'),
    waiting: sum('authwatch_pending_hits ') + sum('authwatch_unwritten_batches '),
    sent: sum('authwatch_hits_records_total{stage="match"}'),
    read: sum('authwatch_hits_records_total{stage="correlate"}'),
    inputs: checks.partitions_assigned ?? 0,
    hits: checks.hits_partitions_assigned ?? 0,
  };
}

/**
 * Until the members own every partition between them, read `records` between them, every hits
 * record written was read, and nothing waits.
 */
async function caughtUp(procs: AuthwatchProcess[], records: number, timeoutMs = 90_000): Promise<void> {
  const start = Date.now();
  let last: (Sample | undefined)[] = [];
  while (Date.now() - start < timeoutMs) {
    last = await Promise.all(procs.map(sample));
    const all = last.filter((s): s is Sample => s !== undefined);
    if (
      all.length === procs.length &&
      all.reduce((n, s) => n + s.records, 0) >= records &&
      all.reduce((n, s) => n + s.inputs, 0) === INPUT_PARTITIONS &&
      all.reduce((n, s) => n + s.hits, 0) === HITS_PARTITIONS &&
      all.every((s) => s.lag === 0 && s.waiting === 0) &&
      all.reduce((n, s) => n + s.read, 0) >= all.reduce((n, s) => n + s.sent, 0)
    )
      return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`not caught up after ${timeoutMs} ms: ${JSON.stringify(last)}`);
}

async function processed(procs: AuthwatchProcess[]): Promise<number> {
  const all = await Promise.all(procs.map(sample));
  return all.reduce((n, s) => n + (s?.records ?? 0), 0);
}

/** The hits partitions with a checkpoint in the state topic. */
async function checkpointed(topics: TestTopics): Promise<Set<string>> {
  const partitions = new Set<string>();
  await client.readToEnd(topics.state, (record) => {
    const m = /\/correlate\/(\d+)\/checkpoint\/\d+$/.exec(record.key?.toString('utf8') ?? '');
    if (m) partitions.add(m[1]!);
  });
  return partitions;
}

async function stopAll(procs: AuthwatchProcess[]): Promise<void> {
  for (const p of procs) p.kill('SIGTERM');
  for (const p of procs) expect((await p.exited).code).toBe(0);
}

const databaseOf = (topics: TestTopics) => topics.group.replace(/[^A-Za-z0-9_]/g, '_');

/** What the members published to Kafka, and stored in ClickHouse (each alert and action once). */
async function published(topics: TestTopics) {
  const alerts = (await readJson<Alert>(client, topics.alerts)).map((a) => a.value);
  const actions = (await readJson<Action>(client, topics.actions)).map((a) => a.value);
  const store = await openStore({ ...config.clickhouse, database: databaseOf(topics) });
  try {
    const ids = async (q: ReturnType<typeof sql>) => (await store.query<{ id: string }>(q)).map((r) => r.id).sort();
    const db = databaseOf(topics);
    const stored = {
      alerts: await ids(sql`SELECT DISTINCT alert_id AS id FROM ${ident(db)}.alerts`),
      actions: await ids(sql`SELECT DISTINCT action_id AS id FROM ${ident(db)}.actions`),
    };
    await store.command(sql`DROP DATABASE IF EXISTS ${ident(db)}`);
    return { alerts, actions, stored };
  } finally {
    await store.close();
  }
}

describe('scaling out on Kafka: members of one group produce the alerts of one engine (real broker, real processes)', () => {
  const { lines } = authTraffic({ seed: 31, events: 12_000, attacks: 3 });
  const expected = replayLines(lines);

  /** Published to Kafka and stored in ClickHouse: exactly replay's alerts and actions, each id once after de-duplication. */
  async function exactlyReplay(topics: TestTopics) {
    const { alerts, actions, stored } = await published(topics);
    expect(distinctIds(alerts)).toEqual(distinctIds(expected.alerts));
    expect(distinctIds(actions)).toEqual(distinctIds(expected.actions));
    expect(stored).toEqual({ alerts: distinctIds(expected.alerts), actions: distinctIds(expected.actions) });
    return { alerts, actions };
  }

  it.each([1, 2, 3])(
    '%i member(s) over 6 input partitions: exactly the alerts and actions of replay',
    { timeout: 180_000 },
    async (n) => {
      expect(expected.alerts.filter((a) => a.rule_type !== 'detection').length).toBeGreaterThan(10);
      const topics = await freshTopics(`scale${n}`);
      await produceRandomly(topics.events, lines);
      const procs = members(topics, n);
      try {
        await caughtUp(procs, lines.length);
        // Every member took part: input partitions and hits partitions are shared out.
        for (const p of procs) {
          const ready = JSON.parse((await p.get('/readyz')).body) as { checks: Record<string, number> };
          expect(ready.checks.partitions_assigned).toBeGreaterThan(0);
          expect(ready.checks.hits_partitions_assigned).toBeGreaterThan(0);
        }
        await stopAll(procs);
      } finally {
        for (const p of procs) p.kill('SIGKILL');
      }
      const { alerts } = await exactlyReplay(topics);
      // The same alerts, not only the same ids.
      const want = new Map(expected.alerts.map((a) => [a.alert_id, a]));
      for (const a of alerts) expect(a).toEqual(want.get(a.alert_id));
    },
  );

  it(
    'one of 3 members killed with SIGKILL mid-stream: the others take over and restore; the union is still exactly that set',
    { timeout: 180_000 },
    async () => {
      const topics = await freshTopics('scalekill');
      await produceRandomly(topics.events, lines);
      const procs = members(topics, 3, { batch_max_records: 200 });
      const [victim, ...rest] = procs as [AuthwatchProcess, ...AuthwatchProcess[]];
      try {
        for (const p of procs) await p.waitForLog(/^Hits partitions assigned/);
        while ((await processed(procs)) < lines.length / 3) await new Promise((r) => setTimeout(r, 50));
        victim.kill('SIGKILL');
        await victim.exited;
        // The survivors own every partition again and read each to its end.
        await caughtUp(rest, 1, 120_000);
        // The survivors restored the hits partitions the victim had, from the checkpoints in the state topic.
        const restoredOrTaken = rest
          .flatMap((p) => p.logs)
          .filter((l) => /^Hits partition restored/.test(String(l.msg)));
        expect(restoredOrTaken.length).toBeGreaterThan(0);
        await stopAll(rest);
      } finally {
        for (const p of procs) p.kill('SIGKILL');
      }
      const { alerts } = await exactlyReplay(topics);
      // Written again after the takeover, never different: every copy of an id is the same alert.
      const byId = new Map<string, string>();
      for (const a of alerts) {
        const text = JSON.stringify(a);
        expect(byId.get(a.alert_id) ?? text).toBe(text);
        byId.set(a.alert_id, text);
      }
    },
  );

  it('the stages run apart: a match member and a correlate member', { timeout: 180_000 }, async () => {
    const topics = await freshTopics('scaleroles');
    await produceRandomly(topics.events, lines);
    const [match] = members(topics, 1, { role: 'match' }) as [AuthwatchProcess];
    const [correlate] = members(topics, 1, { role: 'correlate' }) as [AuthwatchProcess];
    try {
      await caughtUp([match, correlate], lines.length);
      const checks = async (p: AuthwatchProcess) =>
        (JSON.parse((await p.get('/readyz')).body) as { checks: Record<string, unknown> }).checks;
      expect(await checks(match)).toMatchObject({ partitions_assigned: INPUT_PARTITIONS });
      expect(await checks(match)).not.toHaveProperty('hits_partitions_assigned');
      expect(await checks(correlate)).toMatchObject({
        partitions_assigned: 0,
        hits_partitions_assigned: HITS_PARTITIONS,
      });
      // Single-event alerts come from the match member, the correlations' from the other.
      expect(await match.metric('authwatch_rule_matches_total')).toBeGreaterThan(0);
      expect(await correlate.metric('authwatch_rule_matches_total')).toBe(0);
      expect(await correlate.metric('authwatch_alerts_total')).toBeGreaterThan(0);
      await stopAll([match, correlate]);
    } finally {
      match.kill('SIGKILL');
      correlate.kill('SIGKILL');
    }
    await exactlyReplay(topics);
  });

  it('a member joining mid-stream takes partitions over without losing a window', { timeout: 180_000 }, async () => {
    const topics = await freshTopics('scalejoin');
    const half = Math.floor(lines.length / 2);
    await produceRandomly(topics.events, lines.slice(0, half));
    const [first] = members(topics, 1, { batch_max_records: 200 }) as [AuthwatchProcess];
    let second: AuthwatchProcess | undefined;
    try {
      while ((await processed([first])) < half / 2) await new Promise((r) => setTimeout(r, 50));
      // Every hits partition checkpointed once (each second): kafkajs tells the first member of
      // the new assignment only after the group re-formed, so its checkpoint of what it gives up
      // may come after the second member restored; the periodic one is there either way.
      while ((await checkpointed(topics)).size < HITS_PARTITIONS) await new Promise((r) => setTimeout(r, 100));
      [second] = members(topics, 1, { batch_max_records: 200 }) as [AuthwatchProcess];
      await produceRandomly(topics.events, lines.slice(half));
      await second.waitForLog(/^Hits partitions assigned/);
      await caughtUp([first, second], lines.length, 120_000);
      // Both own partitions now: the first gave some up, checkpointed, and the second restored them.
      expect(first.logs.some((l) => /^Hits partitions assigned/.test(String(l.msg)))).toBe(true);
      const ready = JSON.parse((await second.get('/readyz')).body) as { checks: Record<string, number> };
      expect(ready.checks.hits_partitions_assigned).toBeGreaterThan(0);
      expect(second.logs.some((l) => /^Hits partition restored from its checkpoint/.test(String(l.msg)))).toBe(true);
      await stopAll([first, second]);
    } finally {
      first.kill('SIGKILL');
      second?.kill('SIGKILL');
    }
    await exactlyReplay(topics);
  });
});
