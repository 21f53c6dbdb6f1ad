import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { durationMs, hasKafka, loadConfig, type Config, type PipelineRole } from '../config/config.js';
import { createEnrichers } from '../enrich/createEnrichers.js';
import { ConfigError } from '../errors.js';
import { retrying, type WriteHealth } from '../pipeline/retry.js';
import type { Alert } from '../engine/alert.js';
import { Engine, type EngineOptions } from '../engine/engine.js';
import type { DeadLetter } from '../events/deadLetter.js';
import { Ingest, ingestLines } from '../events/ingest.js';
import { createKafkaClient, type KafkaProducer } from '../kafka/kafkaClient.js';
import { createLogger, type Logger } from '../log/logger.js';
import { emptyOutput, evaluate } from '../pipeline/evaluate.js';
import { ensureTopics } from '../pipeline/kafkaTopics.js';
import { StatusReporter } from '../pipeline/statusReporter.js';
import { StreamPipeline } from '../pipeline/streamPipeline.js';
import type { RuleSet } from '../rules/loader.js';
import { loadRulesWithValues } from '../rules/overrides.js';
import { startHttpServer, type RunningServer } from '../server/httpServer.js';
import { Metrics } from '../server/metrics.js';
import { ClickHouseSink, type StoreCounters } from '../sinks/clickhouseSink.js';
import { KafkaSink } from '../sinks/kafkaSink.js';
import { HitsSink } from '../sinks/hitsSink.js';
import type { Sink, SinkBatch } from '../sinks/sink.js';
import { siemSinks, type SiemSink } from '../siem/sinks.js';
import { CorrelatePipeline } from '../scale/correlatePipeline.js';
import { HitRouter } from '../scale/hits.js';
import { Stages } from '../scale/stages.js';
import { DetectionStore } from '../store/detectionStore.js';
import { userStatement } from '../store/store.js';
import { StoreWriter } from '../store/storeWriter.js';
import { readNdjson } from '../sources/ndjsonSource.js';
import { KafkaSource } from '../sources/kafkaSource.js';
import { KafkaCheckpointStore } from '../state/kafkaCheckpointStore.js';
import { NoCheckpointStore } from '../state/checkpointStore.js';
import { parseTimespan } from '../time/duration.js';
import { alertLine, demoLines, demoPlan, RunTally, type DemoPlan } from '../simulate/demo.js';
import { loadScenario, type Scenario } from '../simulate/scenario.js';
import { ATTACK_KINDS } from '../simulate/simulate.js';
import { StopRequest } from './stopRequest.js';
import { renderText } from './validate.js';

/** The pack that ships with authwatch, used when the configured `detections` folder is not in the working directory. */
const SHIPPED_DETECTIONS = fileURLToPath(new URL('../../detections', import.meta.url));

const USAGE = `usage: authwatch run [--config FILE] [--role all|match|correlate|single] [--input FILE|-|simulate]
                     [--scenario FILE] [--seed N] [--speed N]

The streaming engine. With Kafka brokers configured (kafka.brokers, or AUTHWATCH_KAFKA_BROKERS)
it consumes the input topics, publishes alerts, actions and dead letters to their topics,
checkpoints its state to the state topic and serves /healthz, /readyz and /metrics. Without,
it reads NDJSON from --input FILE, or stdin with --input -, and writes alerts to stdout: one
readable line each on a terminal, NDJSON otherwise. With no input configured it plays the
simulated default scenario (a day of a thousand users with every attack kind mixed in, as
Auth0 records), or the scenario file --scenario (as authwatch simulate reads it; --seed
another seed), at --speed times real time (4000; 0 for as fast as possible), and ends with
what it caught. A summary of the alerts goes to stderr at the end. Either way it stores
alerts and actions in ClickHouse: the server at clickhouse.url, else the embedded store in
.authwatch/, whose reads it answers on its HTTP port while it runs (clickhouse.enabled: false
turns storing off). SIGTERM or SIGINT stops it cleanly: outputs flushed, state checkpointed,
offsets committed.

On Kafka it scales out: start more processes with the same configuration and they share the
work, producing the alerts one process would. --role (pipeline.role) picks the stages this
process runs: all (the default) runs both the match stage (input topics: decode, enrich,
single-event rules) and the correlate stage (windows, from the hits topic); match or correlate
runs one, to size them apart; single runs one engine without the hits topic, for a group of
exactly one process.
`;

/**
 * `authwatch run [--config F] [--input FILE]`: the streaming engine. Without Kafka brokers
 * configured it reads NDJSON from a file or stdin (the embedded default) and writes alerts to
 * stdout as NDJSON; logs go to stderr.
 */
export async function runCommand(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        config: { type: 'string' },
        input: { type: 'string' },
        speed: { type: 'string', default: '4000' },
        scenario: { type: 'string' },
        seed: { type: 'string' },
        role: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`authwatch run: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const speed = Number(values.speed);
  if (!(speed >= 0)) {
    process.stderr.write(`authwatch run: --speed must be a number, 0 or more.\n\n${USAGE}`);
    return 2;
  }
  let scenario: Scenario | undefined;
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && (!Number.isSafeInteger(seed) || seed < 0 || seed > 2 ** 32 - 1)) {
    process.stderr.write(`authwatch run: --seed must be a whole number from 0 to ${2 ** 32 - 1}.\n\n${USAGE}`);
    return 2;
  }
  let plan: DemoPlan | undefined;
  try {
    scenario = values.scenario === undefined ? undefined : loadScenario(values.scenario);
    if (seed !== undefined) scenario = { attacks: ATTACK_KINDS.map((kind) => ({ kind })), ...scenario, seed };
    if (scenario) plan = demoPlan(scenario);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`authwatch run: ${err.message}\n`);
    return 2;
  }
  const roles = ['all', 'match', 'correlate', 'single'] as const;
  if (values.role !== undefined && !(roles as readonly string[]).includes(values.role)) {
    process.stderr.write(`authwatch run: --role must be one of ${roles.join(', ')}.\n\n${USAGE}`);
    return 2;
  }
  const config = loadConfig({ file: values.config ?? process.env.AUTHWATCH_CONFIG });
  if (values.role !== undefined) config.pipeline.role = values.role as PipelineRole;
  const logger = createLogger({ level: config.log_level });
  let siem: Sink[];
  try {
    siem = siemSinks(config); // checked now; without Kafka, these are the SIEM sinks written to
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`authwatch run: ${err.message}\n`);
    return 2;
  }
  const paths = config.rules.paths.map((p) => (p === 'detections' && !existsSync(p) ? SHIPPED_DETECTIONS : p));
  const rules = loadRulesWithValues(paths, config.rules.values, {
    inlineTests: false,
    regexBudgetMs: durationMs(config.engine.regex_budget),
    regexRecordBudgetMs: durationMs(config.engine.regex_budget_per_record),
  });
  if (rules.diagnostics.errorCount > 0) {
    process.stderr.write(renderText(rules));
    logger.error({ paths, errors: rules.diagnostics.errorCount }, 'The rules have errors; nothing was started.');
    return 1;
  }
  const engineOptions: EngineOptions = {
    allowedLatenessMs: parseTimespan(config.engine.allowed_lateness),
    maxKeysPerRule: config.engine.max_keys_per_rule,
    maxGroupEntries: config.engine.max_entries_per_group,
    compactBytesPerRule: config.engine.long_state_mb_per_rule * 2 ** 20,
    ...(config.engine.state_memory_mb === undefined
      ? {}
      : { memoryBudgetBytes: config.engine.state_memory_mb * 2 ** 20 }),
    ...(config.engine.state_mb_per_rule === undefined
      ? {}
      : { ruleMemoryBytes: config.engine.state_mb_per_rule * 2 ** 20 }),
    actionCooldownMs: durationMs(config.engine.action_cooldown),
    watermarkCorroboration: config.engine.watermark_corroboration,
    maxPendingHits: config.engine.max_pending_hits,
    onReleaseError: (err, hit) =>
      logger.error({ err, ...hit }, 'The engine failed on a hit it held for event-time order; the hit was skipped.'),
    // Streaming from Kafka is live: event time cannot run ahead of the wall clock. Files and
    // stdin may be recordings, whose event time is their own.
    ...(hasKafka(config) ? { clock: Date.now } : {}),
  };
  const engine = new Engine(rules, engineOptions);
  const ingestOptions = {
    format: config.decode.format,
    maxRecordBytes: config.decode.max_record_bytes,
    maxDepth: config.decode.max_depth,
    maxFutureMs: config.decode.max_future_minutes * 60_000,
    enrichers: createEnrichers(config.enrich, logger),
    log: logger,
  };
  let store: DetectionStore | undefined;
  if (config.clickhouse.enabled !== false) {
    try {
      store = await DetectionStore.open(config.clickhouse);
    } catch (err) {
      logger.error(
        { err },
        'The ClickHouse store could not be opened; nothing was started (clickhouse.enabled: false runs without it).',
      );
      return 1;
    }
    const { migration } = store;
    logger.info(
      {
        store: store.store.kind,
        location: store.store.location,
        database: store.database,
        schema_version: migration.to,
        ...(migration.from !== migration.to ? { migrated_from: migration.from } : {}),
        ...(store.store.fallbackReason ? { fallback: store.store.fallbackReason } : {}),
        events: store.storesEvents,
      },
      'Storing detections.',
    );
  }
  if (hasKafka(config)) {
    const newEngine = () => new Engine(rules, engineOptions);
    return runOnKafka(config, rules, engine, newEngine, new Ingest('kafka', ingestOptions), logger, store);
  }

  const path = values.input ?? (plan ? 'simulate' : config.input.path);
  const source = path === '-' ? 'stdin' : path === 'simulate' ? 'simulate' : `file:${path}`;
  logger.info(
    { input: source, detections: rules.detections.length, correlations: rules.correlations.length },
    path === 'simulate'
      ? `No Kafka brokers and no input are configured; playing ${values.scenario ? `the scenario ${values.scenario}` : 'the simulated default scenario'} and writing alerts to stdout.`
      : 'No Kafka brokers are configured; reading NDJSON and writing alerts to stdout.',
  );
  const ingest = new Ingest(source, ingestOptions);
  const onDeadLetter = (letter: DeadLetter): void =>
    logger.warn(
      { source: letter.source, position: letter.position, reason: letter.reason, field: letter.field },
      `An input record was set aside as a dead letter: ${letter.message}`,
    );
  // The embedded store is this process's alone while it runs: its port answers reads of it.
  const sqlServer =
    store?.store.kind === 'embedded' && config.server.enabled
      ? await startHttpServer({
          host: config.server.host,
          port: config.server.port,
          metrics: new Metrics(),
          logger,
          live: () => true,
          readiness: () => ({ ready: true, checks: {} }),
          sql: (query, format) => store.store.queryText(userStatement(query), format),
        })
      : undefined;
  const stop = new StopRequest();
  const writer = store
    ? new StoreWriter(store, {
        maxRows: config.clickhouse.insert_max_rows ?? 50_000,
        maxBackoffMs: durationMs(config.clickhouse.retry_max_backoff ?? '30s'),
        signal: stop.signal,
        onRetry: (err, attempt, wait_ms) =>
          logger.warn({ err, attempt, wait_ms }, 'The store refused a write; retrying. Reading waits meanwhile.'),
      })
    : undefined;
  if (path === 'simulate') plan ??= demoPlan();
  else plan = undefined;
  const tally = new RunTally(plan?.truth);
  // A terminal gets a readable line per alert and a progress line; a pipe gets NDJSON.
  const terminal = process.stdout.isTTY === true;
  const colour = terminal && process.env.NO_COLOR === undefined;
  const progress = process.stderr.isTTY ? new ProgressLine(ingest, engine, tally) : undefined;
  const emitAlert = async (alert: Alert): Promise<void> => {
    tally.add(alert);
    progress?.clear();
    await stop.write(terminal ? alertLine(alert, colour) : `${JSON.stringify(alert)}\n`);
  };
  // SIEM sinks hold the input while they fail, as the Kafka pipeline does.
  const siemHealth: WriteHealth = { sinkErrors: new Map(), ok: true, failed: () => false };
  const toSiem = async (out: Pick<SinkBatch, 'alerts' | 'actions' | 'deadLetters'>): Promise<void> => {
    if (out.alerts.length === 0) return;
    const batch: SinkBatch = { alerts: out.alerts, actions: out.actions, deadLetters: [] };
    await Promise.all(siem.map((sink) => retrying(sink.name, () => sink.write(batch), siemHealth, logger)));
  };
  try {
    await ingestLines(
      plan ? demoLines(plan, speed, stop.signal) : readNdjson(path, process.stdin, undefined, stop.signal),
      ingest,
      {
        onEvent: async (event, record) => {
          const out = emptyOutput();
          evaluate(engine, ingest, event, record, out, { logger });
          progress?.saw(event.time);
          for (const alert of out.alerts) await emitAlert(alert);
          out.deadLetters.forEach(onDeadLetter);
          await toSiem(out);
          await writer?.add({ ...out, events: [event] });
        },
        onDeadLetter,
      },
      stop.signal,
    );
    // The end of the input: what waited for event-time order is decided now.
    const last = engine.flush();
    for (const alert of last.alerts) await emitAlert(alert);
    await toSiem({ ...last, deadLetters: [] });
    await writer?.add(last);
    await writer?.flush();
  } finally {
    progress?.stop();
    stop.dispose();
    for (const sink of siem) await sink.close();
    await sqlServer?.close();
    await store?.close();
  }
  process.stderr.write(tally.summary(store !== undefined));
  const { records, events, deadLetters } = ingest.counters;
  const { alerts, suppressed, lateEvents } = engine.stats();
  logger.info(
    {
      records,
      events,
      dead_letters: deadLetters,
      alerts,
      suppressed,
      late_events: lateEvents,
      ...(writer ? { stored: writer.counters.rows } : {}),
      ...(stop.reason ? { stopped: stop.reason } : {}),
    },
    stop.reason ? 'Stopped as asked; what was read is processed and written.' : 'The input has ended.',
  );
  return 0;
}

/**
 * The Kafka pipeline, until SIGTERM/SIGINT (exit 0 once stopped cleanly, 1 if stopping takes
 * longer than the grace period) or an error no retry can fix (exit 1).
 */
async function runOnKafka(
  config: Config,
  rules: RuleSet,
  engine: Engine,
  newEngine: () => Engine,
  ingest: Ingest,
  logger: Logger,
  store: DetectionStore | undefined,
): Promise<number> {
  const { kafka } = config;
  const { role } = config.pipeline;
  const storeSink = () =>
    store
      ? [new ClickHouseSink(store, { maxRows: config.clickhouse.insert_max_rows ?? 50_000, closesStore: false })]
      : [];
  const client = createKafkaClient(kafka, logger);
  const metrics = new Metrics();
  let server: RunningServer | undefined;
  let reporter: StatusReporter | undefined;
  let pipeline: Stages | undefined;
  const producers: KafkaProducer[] = [];
  let lagTimer: NodeJS.Timeout | undefined;
  const closeAll = async (): Promise<void> => {
    reporter?.stop();
    if (lagTimer) clearInterval(lagTimer);
    await server?.close();
    await client.close().catch(() => undefined);
    // The stages share the store: it closes once both stopped.
    await store?.close().catch(() => undefined);
  };
  try {
    await ensureTopics(client, kafka, logger, role);
    const producer = async (options: { compression?: 'none' | 'gzip' } = {}) => {
      const made = await client.producer(options);
      producers.push(made);
      return made;
    };
    const kafkaSink = async () =>
      new KafkaSink(await producer({ compression: config.sinks.kafka.compression }), {
        topics: kafka.topics,
        maxBatchBytes: config.sinks.kafka.max_batch_bytes,
        ...(config.sinks.signing?.key
          ? { signing: { key: config.sinks.signing.key, keyId: config.sinks.signing.key_id } }
          : {}),
      });
    const checkpointIntervalMs = durationMs(config.state.checkpoint_interval);
    const lateness = parseTimespan(config.engine.allowed_lateness)!;
    const storeSinks: ClickHouseSink[] = [];
    const siemAll: SiemSink[] = [];
    /** The SIEM sinks of one stage (each stage writes through its own). */
    const siem = (): SiemSink[] => {
      const made = siemSinks(config);
      siemAll.push(...made);
      return made;
    };
    let match: StreamPipeline | undefined;
    let hitsSink: HitsSink | undefined;
    if (role !== 'correlate') {
      const sinks: Sink[] = [await kafkaSink(), ...storeSink(), ...siem()];
      if (role !== 'single') sinks.push((hitsSink = new HitsSink(await producer(), kafka.topics.hits)));
      match = new StreamPipeline(
        {
          source: new KafkaSource(client, kafka),
          ingest,
          engine,
          sinks,
          // The single engine keeps its windows in the state topic, under the task name it always
          // had; the match stage has no state to keep (see NoCheckpointStore).
          store:
            role === 'single'
              ? new KafkaCheckpointStore(client, await producer(), kafka.topics.state, kafka.group_id, await producer())
              : new NoCheckpointStore(),
          logger,
          observe: {
            batchLatency: (s) => metrics.batchLatency.observe(s),
            processSeconds: (s) => metrics.processSeconds.observe(s),
            endToEnd: (s) => metrics.endToEnd.observe(s),
          },
          ...(role === 'single'
            ? {}
            : {
                match: {
                  router: new HitRouter(engine, kafka.hits_partitions, lateness, config.engine.watermark_corroboration),
                  idleTimeoutMs: durationMs(config.pipeline.idle_timeout),
                  heartbeatMs: HEARTBEAT_MS,
                },
              }),
        },
        {
          batchMaxRecords: config.pipeline.batch_max_records,
          maxBufferedRecords: config.pipeline.max_buffered_records,
          maxInflightBatches: config.pipeline.max_inflight_batches,
          writeLingerMs: durationMs(config.pipeline.write_linger),
          partitionWaitMs: durationMs(config.pipeline.partition_wait),
          maxRecordAttempts: config.pipeline.max_record_attempts,
          checkpointIntervalMs,
          keepEvents: store?.storesEvents === true,
        },
      );
      storeSinks.push(...sinks.filter((x): x is ClickHouseSink => x instanceof ClickHouseSink));
    }
    let correlate: CorrelatePipeline | undefined;
    if (role === 'all' || role === 'correlate') {
      const sinks: Sink[] = [await kafkaSink(), ...storeSink(), ...siem()];
      const checkpoints = await producer();
      correlate = new CorrelatePipeline(
        {
          source: new KafkaSource(client, {
            group_id: `${kafka.group_id}.correlate`,
            consumer: kafka.consumer,
            topics: { events: [kafka.topics.hits] },
          }),
          newEngine,
          partitions: kafka.hits_partitions,
          sinks,
          store: (p) =>
            new KafkaCheckpointStore(client, checkpoints, kafka.topics.state, `${kafka.group_id}/correlate/${p}`),
          logger,
        },
        {
          batchMaxRecords: Math.max(1, Math.ceil(config.pipeline.batch_max_records / 100)),
          maxQueuedRecords: Math.max(10, Math.ceil(config.pipeline.batch_max_records / 100)),
          checkpointIntervalMs,
        },
      );
      storeSinks.push(...sinks.filter((x): x is ClickHouseSink => x instanceof ClickHouseSink));
    }
    pipeline = new Stages({
      ...(match ? { match } : {}),
      ...(correlate ? { correlate } : {}),
      ...(hitsSink ? { hits: hitsSink } : {}),
      ingest,
      engine,
    });
    const p = pipeline;
    metrics.observe(() => ({
      ...p.metricsView(),
      ...(storeSinks.length > 0 ? { store: sumStoreCounters(storeSinks.map((x) => x.counters)) } : {}),
      ...(siemAll.length > 0 ? { siem: deliveredBySink(siemAll) } : {}),
    }));
    if (config.server.enabled) {
      server = await startHttpServer({
        host: config.server.host,
        port: config.server.port,
        metrics,
        logger,
        live: () => p.health().running,
        // The embedded store is this process's alone: others read it through this port.
        ...(store?.store.kind === 'embedded'
          ? { sql: (query: string, format: string) => store.store.queryText(userStatement(query), format) }
          : {}),
        readiness: () => {
          const h = p.health();
          return {
            ready: p.isReady(),
            checks: {
              kafka: h.kafka,
              partitions_assigned: h.assigned,
              ...(h.hitsAssigned !== undefined ? { hits_partitions_assigned: h.hitsAssigned } : {}),
              state_restored: h.restored,
              sinks: h.sinks,
            },
          };
        },
      });
    }
    reporter = new StatusReporter(() => p.metricsView(), {
      intervalMs: durationMs(config.pipeline.status_interval),
      logger,
      tty: process.stderr.isTTY ? process.stderr : undefined,
    });
    reporter.start();
    // Lag of partitions with nothing new to fetch comes from the brokers, not from fetches.
    lagTimer = setInterval(() => void p.refreshHighWatermarks().catch(() => undefined), 5000);
    lagTimer.unref();
    logger.info(
      {
        brokers: kafka.brokers,
        group: kafka.group_id,
        role,
        topics: kafka.topics,
        detections: rules.detections.length,
        correlations: rules.correlations.length,
      },
      'Streaming from Kafka.',
    );
    const graceMs = durationMs(config.pipeline.shutdown_grace);
    let exitCode = 0;
    let stopped: Promise<void> | undefined;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopped) {
        logger.warn({ signal }, 'A second signal: exiting without finishing the stop.');
        process.exit(130);
      }
      logger.info({ signal, grace_ms: graceMs }, 'Stopping: finishing the batch in hand, flushing, checkpointing.');
      const timer = setTimeout(() => {
        logger.error(
          { grace_ms: graceMs },
          'Stopping took longer than the grace period; exiting with what was committed.',
        );
        process.exit(1);
      }, graceMs);
      timer.unref();
      stopped = p.stop();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onSignal);
    try {
      await p.run();
      await stopped;
      logger.info(
        {
          records: ingest.counters.records,
          alerts: p.metricsView().engine.alerts,
          actions: p.metricsView().engine.actions,
        },
        'Stopped cleanly: outputs written, state checkpointed, offsets committed.',
      );
    } catch (err) {
      logger.error({ err }, 'The engine stopped on an error.');
      exitCode = 1;
    } finally {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGHUP', onSignal);
      for (const made of producers) await made.close().catch(() => undefined);
    }
    // Everything is written and committed; a connection the client library keeps retrying
    // (after a broker restart, say) must not keep the process from exiting.
    setTimeout(() => {
      logger.debug({ resources: process.getActiveResourcesInfo() }, 'Exiting with connections still open.');
      process.exit(exitCode);
    }, 2000).unref();
    return exitCode;
  } catch (err) {
    logger.error({ err }, 'The Kafka pipeline could not start.');
    await pipeline?.stop().catch(() => undefined);
    return 1;
  } finally {
    await closeAll();
  }
}

/** While no batch comes, how often the match stage sends its watermarks to the correlate stage. */
const HEARTBEAT_MS = 1000;

/** Alerts delivered by the SIEM sinks of every stage, by sink name. */
function deliveredBySink(sinks: readonly SiemSink[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of sinks) out.set(s.name, (out.get(s.name) ?? 0) + s.delivered);
  return out;
}

/** The rows of several ClickHouse sinks (the match and correlate stages of one process), as one. */
function sumStoreCounters(all: StoreCounters[]): StoreCounters {
  const out: StoreCounters = { rows: { alerts: 0, actions: 0, events: 0 }, inserts: 0 };
  for (const c of all) {
    out.inserts += c.inserts;
    for (const table of Object.keys(out.rows) as (keyof StoreCounters['rows'])[]) out.rows[table] += c.rows[table];
  }
  return out;
}

/** A status line redrawn on a terminal's stderr while a run without Kafka reads its input. */
class ProgressLine {
  private latest = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly ingest: Ingest,
    private readonly engine: Engine,
    private readonly tally: RunTally,
  ) {
    this.timer = setInterval(() => this.draw(), 250);
    this.timer.unref();
  }

  saw(time: number): void {
    if (time > this.latest) this.latest = time;
  }

  private draw(): void {
    const { records, deadLetters } = this.ingest.counters;
    const at = this.latest > 0 ? new Date(this.latest).toISOString().slice(0, 16).replace('T', ' ') : '…';
    process.stderr.write(
      `\r\u001b[2K${records.toLocaleString('en')} records · event time ${at} · ${this.tally.count} alerts · ${this.engine.stats().actions} actions · ${deadLetters} dead letters`,
    );
  }

  /** Clears the line, so another line can be written where it was; the next tick draws it again. */
  clear(): void {
    process.stderr.write('\r\u001b[2K');
  }

  stop(): void {
    clearInterval(this.timer);
    this.clear();
  }
}
