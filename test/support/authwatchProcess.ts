import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Engine } from '../../src/engine/engine.js';
import type { Action, Alert } from '../../src/engine/alert.js';
import { createEnrichers } from '../../src/enrich/createEnrichers.js';
import { Ingest } from '../../src/events/ingest.js';
import type { KafkaClient, KafkaRecord } from '../../src/kafka/kafkaClient.js';
import { loadRulesWithValues } from '../../src/rules/overrides.js';
import { parseTimespan } from '../../src/time/duration.js';
import { uniqueName } from './services.js';

/** Fresh topic names and group for one test. */
export function testTopics(prefix: string) {
  const base = uniqueName(prefix);
  return {
    events: `${base}.in`,
    alerts: `${base}.alerts`,
    actions: `${base}.actions`,
    dlq: `${base}.dlq`,
    state: `${base}.state`,
    hits: `${base}.hits`,
    group: `${base}.group`,
  };
}
export type TestTopics = ReturnType<typeof testTopics>;

/** The allowed lateness of the engines of integration tests, and of their `replayLines`. */
export const TEST_LATENESS = '5s';

/** A config file for `authwatch run` on the test broker, with quick timers for tests. */
export function writeConfig(topics: TestTopics, brokers: string[], overrides: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'authwatch-run-'));
  const config = {
    log_level: (overrides.log_level as string | undefined) ?? 'info',
    kafka: {
      brokers,
      group_id: topics.group,
      topics: {
        events: topics.events,
        alerts: topics.alerts,
        actions: topics.actions,
        dlq: topics.dlq,
        state: topics.state,
        hits: topics.hits,
      },
      consumer: { session_timeout: '6s', heartbeat_interval: '1s' },
      ...((overrides.kafka as object | undefined) ?? {}),
    },
    server: { port: 0 },
    state: { checkpoint_interval: '1s', ...((overrides.state as object | undefined) ?? {}) },
    // A short lateness: what waits for event time is decided seconds after the stream goes quiet.
    engine: { allowed_lateness: TEST_LATENESS, ...((overrides.engine as object | undefined) ?? {}) },
    // A long partition wait: a loaded test machine must not take a slow fetch for an idle partition.
    pipeline: { status_interval: '0', partition_wait: '3s', ...((overrides.pipeline as object | undefined) ?? {}) },
    // The embedded store by default, as users get it, in a folder of this process's own.
    clickhouse: { path: join(dir, 'store'), ...((overrides.clickhouse as object | undefined) ?? {}) },
    ...(overrides.sinks ? { sinks: overrides.sinks } : {}),
  };
  const file = join(dir, 'authwatch.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

/** One `authwatch run` process, with its JSON log lines. */
export class AuthwatchProcess {
  readonly logs: Record<string, unknown>[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private stderrTail = '';

  constructor(config: string) {
    // The config file says everything; variables of the test run must not override it.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('AUTHWATCH_') || k.startsWith('AUTHWATCH_SERVICES_')),
    );
    this.child = spawn(process.execPath, ['bin/authwatch.js', 'run', '--config', config], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env,
    });
    let buffered = '';
    this.child.stderr!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4000);
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          this.logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.logs.push({ msg: line });
        }
      }
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Waits for a log line whose message matches; fails with the log tail when the process exits first. */
  async waitForLog(msg: RegExp, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const start = Date.now();
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const found = this.logs.find((l) => msg.test(String(l.msg)));
      if (found) return found;
      if (exited || Date.now() - start > timeoutMs) {
        throw new Error(
          `authwatch ${exited ? 'exited' : 'did not log'} before ${msg}; its stderr ended with:\n${this.stderrTail}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async port(): Promise<number> {
    return (await this.waitForLog(/^Serving \/healthz/)).port as number;
  }

  async get(path: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`http://127.0.0.1:${await this.port()}${path}`);
    return { status: res.status, body: await res.text() };
  }

  /** A sample of /metrics (summed over its label sets when no labels are given). */
  async metric(name: string, labels?: string): Promise<number> {
    const { body } = await this.get('/metrics');
    let sum = 0;
    for (const line of body.split('\n')) {
      if (
        labels !== undefined
          ? line.startsWith(`${name}{${labels}} `)
          : line.startsWith(`${name}{`) || line.startsWith(`${name} `)
      ) {
        sum += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  /**
   * Waits until the engine has read `records` records and written all they produced: every
   * partition reports its lag, and it is 0 everywhere; no hit waits for event time, no batch
   * for its writes.
   */
  async caughtUp(records: number, partitions = 3, timeoutMs = 60_000): Promise<void> {
    const start = Date.now();
    for (;;) {
      const { body } = await this.get('/metrics').catch(() => ({ body: '' }));
      const samples = (name: string) =>
        body
          .split('\n')
          .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
          .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
      const seen = samples('authwatch_records_total').reduce((a, b) => a + b, 0);
      const lags = samples('authwatch_consumer_lag');
      // The input partitions, and the hits partitions of the correlate stage.
      const lag = lags.length >= partitions ? lags.reduce((a, b) => a + b, 0) : -1;
      // What waits for event time is decided on the quiet stream, and written.
      const waiting = (samples('authwatch_pending_hits')[0] ?? -1) + (samples('authwatch_unwritten_batches')[0] ?? -1);
      // Both stages in this process: every hits record written was read (and, after a restart,
      // those an earlier process wrote).
      const [sent, read] = ['match', 'correlate'].map((stage) => {
        const line = body.split('\n').find((l) => l.startsWith(`authwatch_hits_records_total{stage="${stage}"} `));
        return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
      });
      if (seen >= records && lag === 0 && waiting === 0 && read! >= sent!) return;
      if (Date.now() - start > timeoutMs)
        throw new Error(
          `not caught up: ${seen} of ${records} records, lag ${lag}, ${waiting} hits and batches waiting`,
        );
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

/** Produces NDJSON lines to a topic, keyed by the user they are about, in order, in requests of 1,000. */
export async function produceLines(client: KafkaClient, topic: string, lines: string[]): Promise<void> {
  const producer = await client.producer();
  try {
    for (let i = 0; i < lines.length; i += 1000) {
      const records = lines.slice(i, i + 1000).map((value) => ({ key: userOf(value), value }));
      await producer.send([{ topic, records }]);
    }
  } finally {
    await producer.close();
  }
}

function userOf(line: string): string | null {
  try {
    return (JSON.parse(line) as { user?: { name?: string } }).user?.name ?? null;
  } catch {
    return null;
  }
}

/** Every record of a topic, parsed. */
export async function readJson<T>(client: KafkaClient, topic: string): Promise<{ record: KafkaRecord; value: T }[]> {
  const out: { record: KafkaRecord; value: T }[] = [];
  await client.readToEnd(topic, (record) =>
    out.push({ record, value: JSON.parse(record.value!.toString('utf8')) as T }),
  );
  return out;
}

/** What `authwatch replay` gives for the records in this order: the alerts and actions one uninterrupted run publishes. */
export function replayLines(lines: string[]): { alerts: Alert[]; actions: Action[] } {
  const engine = new Engine(loadRulesWithValues(['detections']), { allowedLatenessMs: parseTimespan(TEST_LATENESS) });
  const ingest = new Ingest('file', { enrichers: createEnrichers({ geo: true, asn: true }) });
  const out = { alerts: [] as Alert[], actions: [] as Action[], dropped: [] };
  for (const line of lines) {
    const r = ingest.process(Buffer.from(line), {});
    if (r.ok) engine.process(r.event, out);
  }
  engine.flush(out);
  return { alerts: out.alerts, actions: out.actions };
}

export const distinctIds = (items: { alert_id?: string; action_id?: string }[]): string[] =>
  [...new Set(items.map((i) => i.action_id ?? i.alert_id!))].sort();
