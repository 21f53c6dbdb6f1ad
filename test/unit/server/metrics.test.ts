import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import { Ingest } from '../../../src/events/ingest.js';
import { silentLogger } from '../../../src/log/logger.js';
import { StatusReporter } from '../../../src/pipeline/statusReporter.js';
import { StreamPipeline } from '../../../src/pipeline/streamPipeline.js';
import { loadRulesWithValues } from '../../../src/rules/overrides.js';
import { startHttpServer } from '../../../src/server/httpServer.js';
import { Metrics } from '../../../src/server/metrics.js';
import { FakeSink, FakeSource, FakeTopic, MemoryStore, until } from '../../support/pipelineFakes.js';

/** A pipeline that has processed credential stuffing and a bad record, with its metrics. */
async function ranPipeline() {
  const topic = new FakeTopic('in', 2);
  const t0 = Date.UTC(2026, 0, 1);
  const failures = Array.from({ length: 12 }, (_, i) =>
    JSON.stringify({
      id: `f${i}`,
      type: 'login.failure',
      time: t0 + i * 1000,
      user: { name: `v${i}` },
      ip: '185.220.101.9',
    }),
  );
  topic.append(0, failures.slice(0, 6));
  // Later traffic moves event time past the last failure by the lateness (60 s): the alert is decided.
  const later = [70_000, 71_001].map((at, i) =>
    JSON.stringify({ id: `o${i}`, type: 'other', time: t0 + at, ...(i === 0 ? { ip: 'null' } : {}) }),
  );
  topic.append(1, [...failures.slice(6), 'not json', ...later]);
  const metrics = new Metrics({ processMetrics: false });
  const engine = new Engine(loadRulesWithValues(['detections']));
  const ingest = new Ingest('kafka');
  const pipeline = new StreamPipeline(
    {
      source: new FakeSource(topic),
      ingest,
      engine,
      sinks: [new FakeSink()],
      store: new MemoryStore().client(),
      logger: silentLogger,
      observe: {
        batchLatency: (s) => metrics.batchLatency.observe(s),
        processSeconds: (s) => metrics.processSeconds.observe(s),
      },
    },
    {
      batchMaxRecords: 100,
      maxBufferedRecords: 1000,
      maxInflightBatches: 2,
      partitionWaitMs: 10,
      maxRecordAttempts: 1,
      checkpointIntervalMs: 10,
    },
  );
  const running = pipeline.run();
  metrics.observe(() => pipeline.metricsView());
  await until(
    () => pipeline.metricsView().checkpointAgeSeconds !== undefined && pipeline.backlog().jobs === 0,
    'a checkpoint',
  );
  return { pipeline, metrics, running };
}

/** The value of one sample of the Prometheus text, or undefined. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('metrics', () => {
  it('exposes records by source, dead letters by reason, matches, alerts and actions by rule, lag, latency, state and checkpoints', async () => {
    const { pipeline, metrics, running } = await ranPipeline();
    const text = await metrics.text();
    await pipeline.stop();
    await running;
    expect(sample(text, 'authwatch_records_total', 'source="kafka:in"')).toBe(15);
    expect(sample(text, 'authwatch_events_total', 'format="generic"')).toBe(14);
    expect(sample(text, 'authwatch_dead_letters_total', 'reason="invalid_json"')).toBe(1);
    expect(sample(text, 'authwatch_event_values_dropped_total', 'field="ip",reason="not_an_address"')).toBe(1);
    expect(sample(text, 'authwatch_rule_matches_total', 'rule="72192639-9892-4ba6-b3ef-bd4ee067383a"')).toBe(12);
    expect(sample(text, 'authwatch_alerts_total', 'rule="d2b335ac-7626-46e5-ba62-cb154f0afe50",level="high"')).toBe(1);
    expect(
      sample(
        text,
        'authwatch_actions_total',
        'rule="d2b335ac-7626-46e5-ba62-cb154f0afe50",type="block_ip",mode="enforce"',
      ),
    ).toBe(1);
    expect(sample(text, 'authwatch_consumer_lag', 'topic="in",partition="0"')).toBe(0);
    expect(sample(text, 'authwatch_consumer_lag', 'topic="in",partition="1"')).toBe(0);
    expect(sample(text, 'authwatch_batch_latency_seconds_count')).toBeGreaterThan(0);
    expect(sample(text, 'authwatch_state_keys', 'rule="d2b335ac-7626-46e5-ba62-cb154f0afe50"')).toBe(1);
    expect(sample(text, 'authwatch_state_evictions_total', 'rule="d2b335ac-7626-46e5-ba62-cb154f0afe50"')).toBe(0);
    expect(sample(text, 'authwatch_state_entries_forgotten_total', 'rule="d2b335ac-7626-46e5-ba62-cb154f0afe50"')).toBe(
      0,
    );
    // Every failure is past the watermark, decided: nothing waits, nothing overflowed.
    expect(sample(text, 'authwatch_pending_hits')).toBe(0);
    expect(sample(text, 'authwatch_order_overflow_total')).toBe(0);
    expect(sample(text, 'authwatch_release_errors_total')).toBe(0);
    expect(sample(text, 'authwatch_state_memory_sheds_total')).toBe(0);
    expect(sample(text, 'authwatch_checkpoint_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'authwatch_checkpoints_total')).toBeGreaterThan(0);
    expect(sample(text, 'authwatch_ready')).toBe(1);
    expect(text).toMatch(/# TYPE authwatch_batch_latency_seconds histogram/);
  });

  it('serves /healthz, /readyz and /metrics over HTTP', async () => {
    const { pipeline, metrics, running } = await ranPipeline();
    const server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      metrics,
      logger: silentLogger,
      live: () => pipeline.health().running,
      readiness: () => ({ ready: pipeline.isReady(), checks: { partitions_assigned: pipeline.health().assigned } }),
    });
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
      return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
    };
    try {
      expect(await get('/healthz')).toMatchObject({ status: 200, body: '{"status":"ok"}\n' });
      const ready = await get('/readyz');
      expect(ready.status).toBe(200);
      expect(JSON.parse(ready.body)).toEqual({ status: 'ready', checks: { partitions_assigned: 2 } });
      const m = await get('/metrics');
      expect(m.status).toBe(200);
      expect(m.type).toMatch(/^text\/plain/);
      expect(m.body).toMatch(/^authwatch_records_total\{source="kafka:in"\} 15$/m);
      expect((await get('/nope')).status).toBe(404);
      await pipeline.stop();
      await running;
      // Stopped: not ready any more, and no longer live.
      expect((await get('/readyz')).status).toBe(503);
      expect((await get('/healthz')).status).toBe(503);
    } finally {
      await server.close();
    }
  });

  it('shows people one status line on a terminal, and logs the same otherwise', async () => {
    const { pipeline, running } = await ranPipeline();
    let written = '';
    const tty = { write: (s: string) => ((written += s), true) } as unknown as NodeJS.WriteStream;
    let clock = 0;
    const onTerminal = new StatusReporter(() => pipeline.metricsView(), {
      intervalMs: 1000,
      logger: silentLogger,
      tty,
      now: () => clock,
    });
    onTerminal.start();
    clock = 2000;
    const line = onTerminal.report();
    onTerminal.stop();
    expect(line).toMatchObject({ records: 15, dead_letters: 1, alerts: 1, lag: 0 });
    // \r and the terminal's erase-line sequence, then the line.
    expect(written.slice(0, 5)).toBe('\r\u001b[2K');
    expect(written.slice(5)).toMatch(/^0 records\/s · records 15 · lag 0 · alerts 1 · actions \d+ · dead letters 1\n$/);
    const logged: unknown[] = [];
    const logger = {
      info: (fields: unknown, msg: string) => logged.push([fields, msg]),
    } as unknown as typeof silentLogger;
    const inLogs = new StatusReporter(() => pipeline.metricsView(), { intervalMs: 1000, logger });
    inLogs.report();
    expect(logged).toEqual([
      [expect.objectContaining({ status: expect.objectContaining({ records: 15, alerts: 1 }) }), 'Status.'],
    ]);
    await pipeline.stop();
    await running;
  });
});
