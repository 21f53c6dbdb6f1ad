import { beforeAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/engine/alert.js';
import { Engine } from '../../../src/engine/engine.js';
import { createEnrichers } from '../../../src/enrich/createEnrichers.js';
import type { Enricher } from '../../../src/enrich/enricher.js';
import { Ingest } from '../../../src/events/ingest.js';
import { silentLogger } from '../../../src/log/logger.js';
import { StreamPipeline, type StreamPipelineOptions } from '../../../src/pipeline/streamPipeline.js';
import type { RuleSet } from '../../../src/rules/loader.js';
import { loadRulesWithValues } from '../../../src/rules/overrides.js';
import { HitRouter } from '../../../src/scale/hits.js';
import { NoCheckpointStore } from '../../../src/state/checkpointStore.js';
import { FakeSink, FakeSource, FakeTopic, MemoryStore, SinkLog, until } from '../../support/pipelineFakes.js';
import { authTraffic } from '../../support/traffic.js';

let rules: RuleSet;
let enrichers: Enricher[];

beforeAll(() => {
  rules = loadRulesWithValues(['detections']);
  enrichers = createEnrichers({ geo: true, asn: true });
});

const OPTIONS: StreamPipelineOptions = {
  batchMaxRecords: 100,
  maxBufferedRecords: 2000,
  maxInflightBatches: 4,
  partitionWaitMs: 50,
  maxRecordAttempts: 3,
  checkpointIntervalMs: 30,
};

/**
 * The test traffic is dense (an event every 20 ms on average), so a short lateness: alerts that
 * wait for event time to pass them come within the run.
 */
const ENGINE = { allowedLatenessMs: 2000 };

/** One engine process: the pipeline and its parts, sharing the topic, store and sink log it is given. */
function engineProcess(
  topic: FakeTopic,
  store: MemoryStore,
  log: SinkLog,
  options: Partial<StreamPipelineOptions> = {},
  fetchSize = 50,
  holdWrites = false,
) {
  const engine = new Engine(rules, ENGINE);
  const ingest = new Ingest('kafka', { enrichers });
  const source = new FakeSource(topic, { fetchSize });
  const sink = new FakeSink(log);
  if (holdWrites) sink.hold();
  const storeClient = store.client();
  const pipeline = new StreamPipeline(
    { source, ingest, engine, sinks: [sink], store: storeClient, logger: silentLogger },
    { ...OPTIONS, ...options },
  );
  const running = pipeline.run();
  running.catch(() => undefined);
  return {
    engine,
    ingest,
    source,
    sink,
    pipeline,
    running,
    /** SIGKILL: every pending and later call of this process hangs; nothing more is written. */
    kill() {
      source.kill();
      sink.kill();
      storeClient.kill();
    },
  };
}

/** The alerts the engine gives over the records in the order given (what `replay` does). */
function expectedAlerts(lines: string[]): Alert[] {
  const engine = new Engine(rules, ENGINE);
  const ingest = new Ingest('file', { enrichers });
  const alerts: Alert[] = [];
  for (const line of lines) {
    const r = ingest.process(Buffer.from(line), {});
    if (r.ok) alerts.push(...engine.process(r.event).alerts);
  }
  return alerts;
}

/** Spreads records over partitions by user, as a producer keying by user would. */
function produce(topic: FakeTopic, lines: string[], partitions = 3): void {
  for (const line of lines) {
    let user = '';
    try {
      user = (JSON.parse(line) as { user?: { name?: string } }).user?.name ?? '';
    } catch {
      user = line;
    }
    let h = 0;
    for (const c of user) h = (h * 31 + c.charCodeAt(0)) | 0;
    topic.append(Math.abs(h) % partitions, [line]);
  }
}

/** Every record of the topic processed and every write done. */
function caughtUp(proc: { pipeline: StreamPipeline }, topic: FakeTopic): () => boolean {
  return () => {
    const lag = proc.pipeline.lag();
    const b = proc.pipeline.backlog();
    return (
      lag.size === topic.partitions.size && [...lag.values()].every((n) => n === 0) && b.buffered === 0 && b.jobs === 0
    );
  };
}

const ids = (alerts: readonly Alert[]): string[] => [...new Set(alerts.map((a) => a.alert_id))].sort();

describe('StreamPipeline', () => {
  it('publishes the alerts replay gives for the same records, with the same ids, across partitions', async () => {
    const { lines } = authTraffic({ seed: 7, events: 6000 });
    const topic = new FakeTopic('in', 3);
    produce(topic, lines);
    const log = new SinkLog();
    const proc = engineProcess(topic, new MemoryStore(), log);
    await until(caughtUp(proc, topic), 'all records');
    await proc.pipeline.stop();
    await proc.running;
    const expected = expectedAlerts(lines);
    expect(expected.length).toBeGreaterThan(10);
    expect(log.alerts.map((a) => a.alert_id)).toEqual(expect.arrayContaining(ids(expected)));
    expect(ids(log.alerts)).toEqual(ids(expected));
    // Nothing twice without a crash, and every partition committed to its end.
    expect(log.alerts).toHaveLength(expected.length);
    for (const p of topic.assignment) {
      expect(topic.committed.get(`in/${p.partition}`)).toBe(topic.partitions.get(`in/${p.partition}`)!.length);
    }
  });

  it('acknowledges a batch only once every sink has written it: nothing is committed while a write hangs', async () => {
    const { lines } = authTraffic({ seed: 3, events: 500 });
    const topic = new FakeTopic('in', 2);
    // A dead letter first on each partition: the first batch always has something to write
    // (a batch with nothing to write is acknowledged at once, as it should be).
    topic.append(0, ['not json (0)']);
    topic.append(1, ['not json (1)']);
    produce(topic, lines, 2);
    const store = new MemoryStore();
    const log = new SinkLog();
    const engine = new Engine(rules, ENGINE);
    const ingest = new Ingest('kafka', { enrichers });
    const source = new FakeSource(topic);
    const held = new FakeSink(log);
    const fast = new FakeSink(new SinkLog());
    held.hold();
    const pipeline = new StreamPipeline(
      { source, ingest, engine, sinks: [fast, held], store: store.client(), logger: silentLogger },
      OPTIONS,
    );
    const running = pipeline.run();
    await until(() => engine.counters.events > 0 && held.pending > 0, 'a held write');
    await new Promise((r) => setTimeout(r, 100)); // several checkpoint intervals
    expect([...topic.committed.entries()]).toEqual([]);
    expect(store.checkpoint).toBeUndefined();
    expect(fast.writes).toBeGreaterThan(0); // the other sink wrote; the batch still waits for this one
    held.release();
    await until(caughtUp({ pipeline }, topic), 'all records');
    await pipeline.stop();
    await running;
    expect(topic.committed.get('in/0')).toBe(topic.partitions.get('in/0')!.length);
    expect(store.checkpoint?.positions).toEqual({
      'in/0': topic.partitions.get('in/0')!.length,
      'in/1': topic.partitions.get('in/1')!.length,
    });
  });

  it('pauses partitions while the sinks lag, holding memory to a bound, and resumes when they catch up', async () => {
    const { lines } = authTraffic({ seed: 4, events: 8000 });
    const topic = new FakeTopic('in', 2);
    produce(topic, lines, 2);
    const log = new SinkLog();
    const proc = engineProcess(
      topic,
      new MemoryStore(),
      log,
      { batchMaxRecords: 100, maxBufferedRecords: 400, maxInflightBatches: 2 },
      50,
      true,
    );
    await until(() => proc.source.paused.size === 2, 'both partitions paused');
    await new Promise((r) => setTimeout(r, 50));
    // Held in memory: each queue up to its pause point (200, half the buffer) plus the fetch that
    // crossed it, and at most two processed batches waiting for the sink (batches that produce
    // nothing to write are acknowledged at once); never the 8,000 records of the topic.
    const { buffered, jobs } = proc.pipeline.backlog();
    expect(buffered).toBeLessThanOrEqual(2 * (200 + 50));
    expect(jobs).toBeLessThanOrEqual(2 + 1); // and a checkpoint
    expect(proc.ingest.counters.records).toBeLessThan(lines.length / 4);
    proc.sink.release();
    await until(caughtUp(proc, topic), 'all records');
    expect(proc.source.paused.size).toBe(0);
    await proc.pipeline.stop();
    expect(ids(log.alerts)).toEqual(ids(expectedAlerts(lines)));
  });

  it('sends bad records to the dead letters with their position, and the partition moves on', async () => {
    const topic = new FakeTopic('in', 1);
    const good = (i: number) =>
      JSON.stringify({
        id: `g${i}`,
        type: 'login.success',
        time: Date.UTC(2026, 0, 1) + i * 1000,
        user: { name: 'a' },
      });
    topic.append(0, [good(0), 'not json', good(1), null, '{"type":"login.success","time":"later"}', good(2)]);
    const log = new SinkLog();
    const proc = engineProcess(topic, new MemoryStore(), log);
    await until(caughtUp(proc, topic), 'all records');
    await proc.pipeline.stop();
    expect(log.deadLetters.map((d) => [d.reason, d.position.offset, d.source])).toEqual([
      ['invalid_json', '1', 'kafka:in'],
      ['invalid_json', '3', 'kafka:in'],
      ['invalid_time', '4', 'kafka:in'],
    ]);
    expect(Buffer.from(log.deadLetters[0]!.original_base64, 'base64').toString()).toBe('not json');
    expect(proc.engine.counters.events).toBe(3);
    expect(topic.committed.get('in/0')).toBe(6);
  });

  it('makes an event the engine fails on an engine_error dead letter and goes on with the next', async () => {
    const topic = new FakeTopic('in', 1);
    const event = (id: string, i: number) =>
      JSON.stringify({ id, type: 'login.success', time: Date.UTC(2026, 0, 1) + i * 1000, user: { name: 'a' } });
    topic.append(0, [event('a', 0), event('boom', 1), event('b', 2)]);
    const log = new SinkLog();
    const proc = engineProcess(topic, new MemoryStore(), log);
    const process = proc.engine.process.bind(proc.engine);
    proc.engine.process = (e, out) => {
      if (e.id === 'boom') throw new TypeError('cannot read properties of undefined');
      return process(e, out);
    };
    await until(caughtUp(proc, topic), 'all records');
    await proc.pipeline.stop();
    expect(log.deadLetters).toHaveLength(1);
    expect(log.deadLetters[0]).toMatchObject({
      reason: 'engine_error',
      position: { topic: 'in', partition: 0, offset: '1' },
    });
    expect(log.deadLetters[0]!.message).toMatch(/cannot read properties/);
    expect(proc.ingest.counters).toMatchObject({ events: 2, deadLetters: 1 });
    expect(proc.ingest.counters.deadLettersByReason.engine_error).toBe(1);
    expect(topic.committed.get('in/0')).toBe(3);
  });

  it('retries a write that fails with a retriable error and acknowledges nothing until it goes through', async () => {
    const { lines } = authTraffic({ seed: 5, events: 1500 });
    const topic = new FakeTopic('in', 1);
    produce(topic, lines, 1);
    const log = new SinkLog();
    const proc = engineProcess(topic, new MemoryStore(), log);
    proc.sink.failures = { count: 3, retriable: true };
    await until(caughtUp(proc, topic), 'all records', 20_000);
    await proc.pipeline.stop();
    expect(proc.pipeline.counters.sinkErrors.get('fake\u0000true')).toBe(3);
    expect(ids(log.alerts)).toEqual(ids(expectedAlerts(lines)));
  });

  it('stops on a write that can never succeed, without acknowledging what it held', async () => {
    const { lines } = authTraffic({ seed: 6, events: 1500 });
    const topic = new FakeTopic('in', 1);
    produce(topic, lines, 1);
    // No checkpoint in between: batches with nothing to write are acknowledged without a write,
    // and a checkpoint would rightly commit them on a machine slow enough to take one first.
    const proc = engineProcess(topic, new MemoryStore(), new SinkLog(), { checkpointIntervalMs: 600_000 });
    proc.sink.failures = { count: 1, retriable: false };
    await expect(proc.running).rejects.toThrow(/refused/);
    expect([...topic.committed.entries()]).toEqual([]);
    expect(proc.pipeline.health()).toMatchObject({ running: false, failure: expect.stringMatching(/refused/) });
  });

  it('processes every record once when a partition is taken away with records queued, then given back', async () => {
    const { lines } = authTraffic({ seed: 9, events: 3000 });
    const topic = new FakeTopic('in', 2);
    produce(topic, lines, 2);
    const log = new SinkLog();
    const proc = engineProcess(topic, new MemoryStore(), log, { maxInflightBatches: 1 });
    proc.sink.hold();
    await until(() => proc.ingest.counters.records > 600, 'records queued behind a held write');
    await proc.source.reassign([{ topic: 'in', partition: 0 }]);
    await proc.source.reassign(topic.assignment);
    proc.sink.release();
    await until(caughtUp(proc, topic), 'all records');
    await proc.pipeline.stop();
    expect(proc.engine.counters.events).toBe(lines.length);
    expect(ids(log.alerts)).toEqual(ids(expectedAlerts(lines)));
  });

  it('lets writes linger for more batches to join them when asked: fewer, larger writes, same output', async () => {
    const { lines } = authTraffic({ seed: 10, events: 600 });
    const writes = async (writeLingerMs: number) => {
      const topic = new FakeTopic('in', 1);
      const log = new SinkLog();
      const proc = engineProcess(topic, new MemoryStore(), log, { writeLingerMs, batchMaxRecords: 5000 }, 10);
      for (let i = 0; i < lines.length; i += 20) {
        produce(topic, lines.slice(i, i + 20), 1);
        await new Promise((r) => setTimeout(r, 4));
      }
      await until(caughtUp(proc, topic), 'all records');
      await proc.pipeline.stop();
      return { writes: proc.sink.writes, alerts: ids(log.alerts) };
    };
    const eager = await writes(0);
    const lingering = await writes(60);
    expect(lingering.writes).toBeLessThan(eager.writes / 3);
    expect(lingering.alerts).toEqual(eager.alerts);
  });

  it('after a graceful stop, a restart re-reads nothing and carries the windows on', async () => {
    const { lines } = authTraffic({ seed: 8, events: 4000 });
    const topic = new FakeTopic('in', 3);
    const store = new MemoryStore();
    const log = new SinkLog();
    produce(topic, lines.slice(0, 2000));
    const first = engineProcess(topic, store, log);
    await until(caughtUp(first, topic), 'first half');
    await first.pipeline.stop();
    await first.running;
    produce(topic, lines.slice(2000));
    const second = engineProcess(topic, store, log);
    await until(caughtUp(second, topic), 'second half');
    await second.pipeline.stop();
    // Read once each: 2,000 records per run, no journal to replay, no alert written twice.
    expect(second.ingest.counters.records).toBe(2000);
    expect(log.alerts.length).toBe(new Set(log.alerts.map((a) => a.alert_id)).size);
    expect(ids(log.alerts)).toEqual(ids(expectedAlerts(lines)));
  });

  // A crash at any point: before the first checkpoint, between checkpoints with journal
  // entries to replay, mid-write. After de-duplication by id, the alerts are exactly those of
  // one uninterrupted run, and a threshold crossed by events on both sides fires once.
  it.each([150, 900, 1700, 2600])('loses and doubles nothing when killed after %i records', async (killAt) => {
    const { lines } = authTraffic({ seed: 11, events: 4000, attacks: 4 });
    const topic = new FakeTopic('in', 3);
    const store = new MemoryStore();
    const log = new SinkLog();
    produce(topic, lines);
    const first = engineProcess(topic, store, log, { batchMaxRecords: 40, checkpointIntervalMs: 15 }, 20);
    await until(() => first.ingest.counters.records >= killAt, `${killAt} records`);
    first.kill();
    const second = engineProcess(topic, store, log, { batchMaxRecords: 40, checkpointIntervalMs: 15 }, 20);
    await until(caughtUp(second, topic), 'caught up', 20_000);
    await second.pipeline.stop();
    expect(ids(log.alerts)).toEqual(ids(expectedAlerts(lines)));
  });

  it.each([0, 1])(
    'replays the journal after checkpoint %i exactly, also when killed again during the replay',
    async (checkpoints) => {
      const { lines } = authTraffic({ seed: 12, events: 3000, attacks: 4 });
      const topic = new FakeTopic('in', 3);
      const store = new MemoryStore();
      const log = new SinkLog();
      produce(topic, lines);
      const options = { batchMaxRecords: 30, checkpointIntervalMs: checkpoints === 0 ? 3_600_000 : 100 };
      const first = engineProcess(topic, store, log, options, 20);
      await until(() => store.checkpoints >= checkpoints && store.toReplay >= 10, 'ten batches after the checkpoint');
      first.kill();
      // Killed again while replaying: the journal is still there for the third.
      const second = engineProcess(topic, store, log, options, 20);
      await until(() => second.pipeline.counters.replayedBatches >= 5, 'five batches replayed');
      second.kill();
      const third = engineProcess(topic, store, log, options, 20);
      await until(caughtUp(third, topic), 'caught up', 20_000);
      await third.pipeline.stop();
      expect(third.pipeline.counters.replayedBatches).toBeGreaterThan(0);
      expect(ids(log.alerts)).toEqual(ids(expectedAlerts(lines)));
    },
  );

  it('on a quiet stream, decides what waits for event time as the wall clock moves on, journaled for an exact replay', async () => {
    let now = Date.UTC(2026, 0, 1, 12);
    const t0 = now - 20_000;
    const failure = (i: number) =>
      JSON.stringify({
        id: `f${i}`,
        type: 'login.failure',
        time: t0 + i * 1000,
        user: { name: `v${i}@x.io` },
        ip: '185.220.101.9',
      });
    const topic = new FakeTopic('in', 1);
    topic.append(
      0,
      Array.from({ length: 10 }, (_, i) => failure(i)),
    );
    const store = new MemoryStore();
    const log = new SinkLog();
    const live = (name: string) => {
      const engine = new Engine(rules, { clock: () => now, allowedLatenessMs: 5000 });
      const ingest = new Ingest('kafka', { enrichers });
      const source = new FakeSource(topic);
      const sink = new FakeSink(log);
      const client = store.client();
      const pipeline = new StreamPipeline(
        { source, ingest, engine, sinks: [sink], store: client, logger: silentLogger },
        // No checkpoint within the test: a restart replays the whole journal.
        { ...OPTIONS, checkpointIntervalMs: 3_600_000, now: () => now },
      );
      const running = pipeline.run();
      running.catch(() => undefined);
      return { name, engine, pipeline, running, kill: () => (source.kill(), sink.kill(), client.kill()) };
    };
    const stuffing = () => log.alerts.filter((a) => a.rule_title === 'Credential stuffing from one IP');

    const first = live('first');
    await until(() => first.engine.counters.events === 10, 'ten failures');
    await new Promise((r) => setTimeout(r, 50));
    expect(stuffing()).toEqual([]); // the last failure waits for event time to pass it
    // The wall clock moves on with no record coming: it releases what waits.
    for (let i = 0; i < 8 && stuffing().length === 0; i++) {
      now += 1000;
      await new Promise((r) => setTimeout(r, 40));
    }
    await until(() => stuffing().length === 1, 'the alert, on a quiet stream');
    const idle = [...store.journal.values()].filter((e) => e.ranges.length === 0);
    expect(idle.length).toBeGreaterThan(0);
    for (const e of store.journal.values()) expect(typeof e.clock).toBe('number');
    first.kill();

    // A restart replays the journal, idle releases included, and decides alike.
    now += 3_600_000;
    const second = live('second');
    await until(() => stuffing().length === 2, 'the alert again, replayed');
    await second.pipeline.stop();
    expect(stuffing()[1]).toEqual(stuffing()[0]);
    expect(second.engine.counters.lateEvents).toBe(0);
  });

  it('fires a threshold crossed by events on both sides of a crash exactly once, counting both sides', async () => {
    const topic = new FakeTopic('in', 2);
    const store = new MemoryStore();
    const log = new SinkLog();
    const t0 = Date.UTC(2026, 0, 1);
    const failure = (i: number) =>
      JSON.stringify({
        id: `f${i}`,
        type: 'login.failure',
        time: t0 + i * 1000,
        user: { name: `v${i}@x.io` },
        ip: '185.220.101.9',
      });
    // Credential stuffing alerts at 10 accounts: 6 before the crash, 4 after.
    topic.append(0, [0, 2, 4].map(failure));
    topic.append(1, [1, 3, 5].map(failure));
    const first = engineProcess(topic, store, log);
    await until(() => first.engine.counters.events === 6 && first.sink.pending === 0, 'six failures');
    await until(() => store.checkpoint !== undefined, 'a checkpoint');
    first.kill();
    topic.append(0, [6, 8].map(failure));
    topic.append(1, [7, 9].map(failure));
    // Later traffic moves event time past the last failure by the lateness: the alert is decided.
    const later = (i: number) => JSON.stringify({ id: `o${i}`, type: 'other', time: t0 + i * 1000 });
    topic.append(0, [11, 12].map(later));
    const second = engineProcess(topic, store, log);
    await until(() => log.alerts.some((a) => a.rule_title === 'Credential stuffing from one IP'), 'the alert');
    await until(() => second.sink.pending === 0, 'writes done');
    await second.pipeline.stop();
    const stuffing = log.alerts.filter((a) => a.rule_title === 'Credential stuffing from one IP');
    expect(stuffing).toHaveLength(1);
    expect(stuffing[0]).toMatchObject({ event_count: 10, first_seen: t0, last_seen: t0 + 9000 });
    expect(second.ingest.counters.records).toBe(6);
  });

  it('as the match stage, takes an input partition for idle only once the brokers, asked after it went quiet, say it holds nothing more', async () => {
    const { lines } = authTraffic({ seed: 11, events: 600 });
    const topic = new FakeTopic('in', 2);
    produce(topic, lines, 2);
    const log = new SinkLog();
    const engine = new Engine(rules, ENGINE);
    const source = new FakeSource(topic);
    const pipeline = new StreamPipeline(
      {
        source,
        ingest: new Ingest('kafka', { enrichers }),
        engine,
        sinks: [new FakeSink(log)],
        store: new NoCheckpointStore(),
        logger: silentLogger,
        match: {
          router: new HitRouter(engine, 1, ENGINE.allowedLatenessMs),
          idleTimeoutMs: 150,
          heartbeatMs: 20,
        },
      },
      OPTIONS,
    );
    const running = pipeline.run();
    /** Whether in/1 was idle by the watermarks of the records written from the `from`th batch on. */
    const idleFrom = (from: number): boolean[] =>
      log.batches
        .slice(from)
        .flatMap((b) =>
          (b.hits ?? []).flatMap(({ envelope }) =>
            (envelope.w ?? []).filter(([si]) => envelope.s[si] === 'in/1').map(([, , idle]) => idle === 1),
          ),
        );
    try {
      await until(caughtUp({ pipeline }, topic), 'all records');
      await until(() => idleFrom(0).at(-1) === true, 'in/1 idle on the quiet stream');
      // More records for in/1, which no fetch brings yet: only asking the brokers tells.
      source.paused.add('in/1');
      const before = idleFrom(0).length;
      topic.append(1, lines.slice(0, 50));
      // What the brokers said before the records came holds for an idle timeout at most.
      await new Promise((r) => setTimeout(r, 300));
      const mark = log.batches.length;
      await until(() => idleFrom(mark).length >= 20, 'watermarks going out');
      expect(idleFrom(mark)).not.toContain(true);
      expect(idleFrom(0).length).toBeGreaterThan(before);
      // Fetched and read: quiet again, and idle once the brokers confirm it.
      source.paused.delete('in/1');
      await until(caughtUp({ pipeline }, topic), 'the new records');
      const after = log.batches.length;
      await until(() => idleFrom(after).at(-1) === true, 'in/1 idle again');
    } finally {
      await pipeline.stop();
      await running.catch(() => undefined);
    }
  });
});
