import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EngineStats } from '../engine/engine.js';
import type { IngestCounters } from '../events/ingest.js';
import type { StoreCounters } from '../sinks/clickhouseSink.js';

/** Counts the pipeline keeps for metrics and the status line, cumulative since start. */
export interface PipelineCounters {
  /** Records taken from each input topic. */
  recordsByTopic: Map<string, number>;
  /** Alerts by rule id and level. */
  alerts: Map<string, { level: string; count: number }>;
  /** Actions published, by rule id, type and mode (`rule\u0000type\u0000mode`). */
  actions: Map<string, number>;
  /** Actions dropped for an invalid target, by rule id and type (`rule\u0000type`). */
  actionsDropped: Map<string, number>;
  batches: number;
  /** Batches rebuilt from the journal after a restart. */
  replayedBatches: number;
  checkpoints: number;
  /** Sink write failures, by sink and whether they were retried (`sink\u0000retriable`). */
  sinkErrors: Map<string, number>;
}

export function newPipelineCounters(): PipelineCounters {
  return {
    recordsByTopic: new Map(),
    alerts: new Map(),
    actions: new Map(),
    actionsDropped: new Map(),
    batches: 0,
    replayedBatches: 0,
    checkpoints: 0,
    sinkErrors: new Map(),
  };
}

/** What the metrics read at each scrape. */
export interface MetricsView {
  ingest: IngestCounters;
  engine: EngineStats;
  pipeline: PipelineCounters;
  /** Records whose outputs are not yet written, per input partition (`topic/partition`). */
  lag: Map<string, number>;
  /** Wall-clock age of the newest durable checkpoint, seconds (0 while it covers everything processed); undefined before the first. */
  checkpointAgeSeconds: number | undefined;
  checkpointBytes: number;
  /** Batches processed whose outputs are not yet written by every sink. */
  unwrittenBatches: number;
  ready: boolean;
  /** Rows the ClickHouse sink wrote, when it runs. */
  store?: StoreCounters;
  /** Alerts each SIEM sink (syslog, hec, webhook) delivered, by sink. */
  siem?: Map<string, number>;
  /** The hits topic between the stages: records and hits the match stage wrote and the correlate stage read. */
  hits?: { sentRecords: number; sent: number; readRecords: number; read: number; duplicates: number };
}

/**
 * authwatch's Prometheus metrics (prom-client, text format). Counters kept elsewhere (ingest,
 * engine, pipeline) are read at scrape time; latencies are observed as they happen.
 */
export class Metrics {
  readonly registry = new Registry();
  private view: (() => MetricsView) | undefined;

  private readonly records = this.counter('authwatch_records_total', 'Records read, by source.', ['source']);
  private readonly events = this.counter(
    'authwatch_events_total',
    'Records decoded into events, by the format they came in (auth0, okta, generic).',
    ['format'],
  );
  private readonly deadLetters = this.counter(
    'authwatch_dead_letters_total',
    'Records set aside as dead letters, by reason (decode errors, engine_error, internal_error).',
    ['reason'],
  );
  private readonly droppedValues = this.counter(
    'authwatch_event_values_dropped_total',
    'Values taken out of kept events because they are no fact: an ip that is no address, a placeholder place (Null Island, "City"), by field and reason.',
    ['field', 'reason'],
  );
  private readonly matches = this.counter('authwatch_rule_matches_total', 'Events matched, by single-event rule.', [
    'rule',
  ]);
  private readonly alerts = this.counter('authwatch_alerts_total', 'Alerts published, by rule and level.', [
    'rule',
    'level',
  ]);
  private readonly actions = this.counter(
    'authwatch_actions_total',
    'Response actions published, by rule, type and mode.',
    ['rule', 'type', 'mode'],
  );
  private readonly actionsDropped = this.counter(
    'authwatch_actions_dropped_total',
    'Response actions not published because their target is not a valid value of its kind, by rule and type.',
    ['rule', 'type'],
  );
  private readonly actionsInForce = this.counter(
    'authwatch_actions_deduplicated_total',
    'Response actions not published again because the same action on the same target is still in force.',
  );
  private readonly regexBudget = this.counter(
    'authwatch_regex_budget_exhausted_total',
    "Records on which a rule's backtracking regular expressions ran out of their time budget (values not covered count as no match), by rule.",
    ['rule'],
  );
  private readonly suppressed = this.counter(
    'authwatch_alerts_suppressed_total',
    "Alerts not raised because the rule's suppress window for the group was open.",
  );
  private readonly aheadEvents = this.counter(
    'authwatch_ahead_events_total',
    'Events dated ahead of event time by more than the allowed lateness (or of the wall clock): evaluated, but moving event time only when enough others back them.',
  );
  private readonly lateEvents = this.counter(
    'authwatch_late_events_total',
    'Events older than the allowed lateness: single-event rules see them, windows do not.',
  );
  private readonly hitsRecords = this.counter(
    'authwatch_hits_records_total',
    'Records of the hits topic, written by the match stage (stage="match") and read by the correlate stage (stage="correlate").',
    ['stage'],
  );
  private readonly hitsSent = this.counter(
    'authwatch_hits_total',
    'Hits sent by the match stage to the correlate stage (stage="match"), and taken by it (stage="correlate"), re-sent ones included.',
    ['stage'],
  );
  private readonly hitsDuplicates = this.counter(
    'authwatch_hits_duplicates_total',
    'Hits the correlate stage dropped because they were sent again (a match member re-read its input after a restart or a rebalance).',
  );
  private readonly pendingHits = this.gauge(
    'authwatch_pending_hits',
    'Hits of correlations (and of rules with suppress) waiting for event time to pass them, to be evaluated in event-time order.',
  );
  private readonly unwritten = this.gauge(
    'authwatch_unwritten_batches',
    'Batches processed whose outputs are not yet written by every sink.',
  );
  private readonly orderOverflow = this.counter(
    'authwatch_order_overflow_total',
    'Hits evaluated before event time passed them because the queue was full (engine.max_pending_hits): their order is not guaranteed.',
  );
  private readonly behindHits = this.counter(
    'authwatch_behind_hits_total',
    'Hits the correlate stage received after event time had passed them, from an input partition taken for idle whose records then came: evaluated out of order, not dropped.',
  );
  private readonly releaseErrors = this.counter(
    'authwatch_release_errors_total',
    'Hits held for event-time order that the engine failed on when they were released (skipped and logged).',
  );
  private readonly stateKeys = this.gauge('authwatch_state_keys', 'Groups tracked now, by correlation rule.', ['rule']);
  private readonly stateBytes = this.gauge(
    'authwatch_state_bytes',
    'Bytes of state by correlation rule: exact for the long-horizon correlations, held outside the heap (bounded by engine.long_state_mb_per_rule); estimated from groups and window entries for the others (bounded by engine.state_mb_per_rule).',
    ['rule'],
  );
  private readonly stateEvictions = this.counter(
    'authwatch_state_evictions_total',
    "Groups evicted at the rule's key limit, memory budget or byte bound, by correlation rule.",
    ['rule'],
  );
  private readonly memorySheds = this.counter(
    'authwatch_state_memory_sheds_total',
    'Times the heap outgrew engine.state_memory_mb and every correlation evicted its stalest share of groups.',
  );
  private readonly ruleSheds = this.counter(
    'authwatch_state_rule_sheds_total',
    "Times one rule's state outgrew engine.state_mb_per_rule and that rule evicted its stalest groups.",
  );
  private readonly stateForgotten = this.counter(
    'authwatch_state_entries_forgotten_total',
    'Window entries forgotten early, oldest first, because a group reached engine.max_entries_per_group, by correlation rule.',
    ['rule'],
  );
  private readonly lag = this.gauge(
    'authwatch_consumer_lag',
    'Records of the partition whose outputs are not yet written by every sink (the partition end minus the acknowledged offset).',
    ['topic', 'partition'],
  );
  private readonly checkpointAge = this.gauge(
    'authwatch_checkpoint_age_seconds',
    'Seconds since the newest durable checkpoint of the engine state, 0 while it covers every processed batch (-1 before the first).',
  );
  private readonly checkpointBytes = this.gauge(
    'authwatch_checkpoint_bytes',
    'Compressed size of the newest checkpoint of the engine state.',
  );
  private readonly checkpoints = this.counter('authwatch_checkpoints_total', 'Checkpoints written.');
  private readonly batches = this.counter('authwatch_batches_total', 'Batches processed and acknowledged.');
  private readonly replayed = this.counter(
    'authwatch_replayed_batches_total',
    'Batches rebuilt from the journal after a restart, exactly as they were before it.',
  );
  private readonly sinkErrors = this.counter(
    'authwatch_sink_errors_total',
    'Failed sink writes, by sink and retriability.',
    ['sink', 'retriable'],
  );
  private readonly ready = this.gauge('authwatch_ready', '1 when /readyz answers 200.');
  private readonly storeRows = this.counter(
    'authwatch_store_rows_total',
    'Rows written to the ClickHouse store (server or embedded), by table. Failed writes are in authwatch_sink_errors_total{sink="clickhouse"}.',
    ['table'],
  );
  private readonly storeInserts = this.counter('authwatch_store_inserts_total', 'INSERT statements that succeeded.');
  private readonly siemAlerts = this.counter(
    'authwatch_siem_alerts_total',
    'Alerts a SIEM sink delivered (syslog: handed to the connection; hec: accepted, or indexed with ack; webhook: answered 2xx), by sink. Failed writes are in authwatch_sink_errors_total.',
    ['sink'],
  );

  /** From the first record of a batch being fetched to every sink having written its outputs. */
  readonly batchLatency = new Histogram({
    name: 'authwatch_batch_latency_seconds',
    help: 'Seconds from fetching the first record of a batch to every sink having written what it produced.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  /** From the Kafka timestamp of a batch's oldest record (when it was produced) to its outputs written. */
  readonly endToEnd = new Histogram({
    name: 'authwatch_end_to_end_latency_seconds',
    help: "Seconds from the Kafka timestamp of a batch's oldest record (its producer's clock) to every sink having written what the batch produced.",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  /** Engine time of a batch: decode is not in it, evaluation and state are. */
  readonly processSeconds = new Histogram({
    name: 'authwatch_batch_process_seconds',
    help: 'Seconds the engine spent on a batch.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'authwatch_' });
  }

  /** Where the counters come from; read at every scrape. */
  observe(view: () => MetricsView): void {
    this.view = view;
  }

  /** The metrics in Prometheus text format. */
  async text(): Promise<string> {
    this.refresh();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private refresh(): void {
    const v = this.view?.();
    if (!v) return;
    setAll(
      this.records,
      [...v.pipeline.recordsByTopic].map(([topic, n]) => [{ source: `kafka:${topic}` }, n]),
    );
    setAll(
      this.events,
      Object.entries(v.ingest.eventsBySource).map(([format, n]) => [{ format }, n]),
    );
    setAll(
      this.deadLetters,
      Object.entries(v.ingest.deadLettersByReason).map(([reason, n]) => [{ reason }, n]),
    );
    setAll(
      this.droppedValues,
      Object.entries(v.ingest.droppedFields).map(([key, n]) => {
        const at = key.lastIndexOf(':');
        return [{ field: key.slice(0, at), reason: key.slice(at + 1) }, n];
      }),
    );
    setAll(
      this.matches,
      Object.entries(v.engine.matches).map(([rule, n]) => [{ rule }, n]),
    );
    setAll(
      this.alerts,
      [...v.pipeline.alerts].map(([rule, a]) => [{ rule, level: a.level }, a.count]),
    );
    setAll(
      this.actions,
      [...v.pipeline.actions].map(([key, n]) => {
        const [rule = '', type = '', mode = ''] = key.split('\u0000');
        return [{ rule, type, mode }, n];
      }),
    );
    setAll(
      this.actionsDropped,
      [...v.pipeline.actionsDropped].map(([key, n]) => {
        const [rule = '', type = ''] = key.split('\u0000');
        return [{ rule, type }, n];
      }),
    );
    setAll(this.actionsInForce, [[{}, v.engine.actionsInForce]]);
    setAll(this.suppressed, [[{}, v.engine.suppressed]]);
    setAll(
      this.regexBudget,
      Object.entries(v.engine.regexBudgetExhausted).map(([rule, n]) => [{ rule }, n]),
    );
    setAll(this.lateEvents, [[{}, v.engine.lateEvents]]);
    setAll(this.aheadEvents, [[{}, v.engine.aheadEvents]]);
    this.pendingHits.set(v.engine.pendingHits);
    if (v.hits) {
      setAll(this.hitsRecords, [
        [{ stage: 'match' }, v.hits.sentRecords],
        [{ stage: 'correlate' }, v.hits.readRecords],
      ]);
      setAll(this.hitsSent, [
        [{ stage: 'match' }, v.hits.sent],
        [{ stage: 'correlate' }, v.hits.read],
      ]);
      setAll(this.hitsDuplicates, [[{}, v.hits.duplicates]]);
    }
    this.unwritten.set(v.unwrittenBatches);
    setAll(this.orderOverflow, [[{}, v.engine.orderOverflow]]);
    setAll(this.behindHits, [[{}, v.engine.behindHits]]);
    setAll(this.releaseErrors, [[{}, v.engine.releaseErrors]]);
    setAll(this.memorySheds, [[{}, v.engine.memorySheds]]);
    setAll(this.ruleSheds, [[{}, v.engine.ruleSheds]]);
    this.stateKeys.reset();
    this.stateBytes.reset();
    for (const [rule, s] of Object.entries(v.engine.rules)) {
      this.stateKeys.set({ rule }, s.keys);
      if (s.bytes !== undefined) this.stateBytes.set({ rule }, s.bytes);
    }
    setAll(
      this.stateEvictions,
      Object.entries(v.engine.rules).map(([rule, s]) => [{ rule }, s.evictions]),
    );
    setAll(
      this.stateForgotten,
      Object.entries(v.engine.rules).map(([rule, s]) => [{ rule }, s.entriesForgotten ?? 0]),
    );
    this.lag.reset();
    for (const [key, n] of v.lag) {
      const at = key.lastIndexOf('/');
      this.lag.set({ topic: key.slice(0, at), partition: key.slice(at + 1) }, n);
    }
    this.checkpointAge.set(v.checkpointAgeSeconds ?? -1);
    this.checkpointBytes.set(v.checkpointBytes);
    setAll(this.checkpoints, [[{}, v.pipeline.checkpoints]]);
    setAll(this.batches, [[{}, v.pipeline.batches]]);
    setAll(this.replayed, [[{}, v.pipeline.replayedBatches]]);
    setAll(
      this.sinkErrors,
      [...v.pipeline.sinkErrors].map(([key, n]) => {
        const [sink = '', retriable = ''] = key.split('\u0000');
        return [{ sink, retriable }, n];
      }),
    );
    this.ready.set(v.ready ? 1 : 0);
    if (v.store) {
      setAll(
        this.storeRows,
        Object.entries(v.store.rows).map(([table, n]) => [{ table }, n]),
      );
      setAll(this.storeInserts, [[{}, v.store.inserts]]);
    }
    if (v.siem)
      setAll(
        this.siemAlerts,
        [...v.siem].map(([sink, n]) => [{ sink }, n]),
      );
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge<L extends string>(name: string, help: string, labelNames: L[] = []): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }
}

/** Sets a counter to totals kept elsewhere (they only grow, so it stays a counter). */
function setAll<L extends string>(counter: Counter<L>, values: [Partial<Record<L, string>>, number][]): void {
  counter.reset();
  for (const [labels, n] of values) counter.inc(labels, n);
}
