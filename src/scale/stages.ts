import type { Engine, EngineStats } from '../engine/engine.js';
import type { CorrelatorStats } from '../engine/correlations/correlator.js';
import type { Ingest } from '../events/ingest.js';
import type { StreamPipeline } from '../pipeline/streamPipeline.js';
import { newPipelineCounters, type MetricsView } from '../server/metrics.js';
import type { HitsSink } from '../sinks/hitsSink.js';
import type { CorrelatePipeline } from './correlatePipeline.js';

/** What /readyz reports of the stages a process runs. */
export interface StagesHealth {
  running: boolean;
  kafka: boolean;
  /** Input partitions owned (by the match stage). */
  assigned: number;
  /** Hits partitions owned, when the correlate stage runs. */
  hitsAssigned?: number;
  restored: boolean;
  sinks: boolean;
  failure?: string;
}

/**
 * The stages one process runs (`pipeline.role`): the match stage (or the single engine), the
 * correlate stage, or both, seen from outside as one: started and stopped together, healthy
 * when each is, measured as one.
 */
export class Stages {
  constructor(
    private readonly parts: {
      match?: StreamPipeline;
      correlate?: CorrelatePipeline;
      /** The match stage's writer to the hits topic. */
      hits?: HitsSink;
      ingest: Ingest;
      engine: Engine;
    },
  ) {}

  /** Runs every stage until each stops; the first failure stops the others and is thrown. */
  async run(): Promise<void> {
    const { match, correlate } = this.parts;
    const runs = [match?.run(), correlate?.run()].filter((r): r is Promise<void> => r !== undefined);
    let failed: unknown;
    await Promise.all(
      runs.map((r) =>
        r.catch(async (err: unknown) => {
          failed ??= err;
          await this.stop().catch(() => undefined);
        }),
      ),
    );
    if (failed) throw failed;
  }

  private stopping: Promise<void> | undefined;

  /** Stops the match stage first (its last hits written), then the correlate stage. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.parts.match?.stop();
      await this.parts.correlate?.stop();
    })();
    return this.stopping;
  }

  health(): StagesHealth {
    const m = this.parts.match?.health();
    const c = this.parts.correlate?.health();
    const failure = m?.failure ?? c?.failure;
    return {
      running: (m?.running ?? true) && (c?.running ?? true),
      kafka: (m?.kafka ?? true) && (c?.kafka ?? true),
      assigned: m?.assigned ?? 0,
      ...(c ? { hitsAssigned: c.assigned } : {}),
      restored: m?.restored ?? true,
      sinks: (m?.sinks ?? true) && (c?.sinks ?? true),
      ...(failure ? { failure } : {}),
    };
  }

  /**
   * Ready when every stage runs with its consumer in the group and its sinks writing; the match
   * stage also needs input partitions and its state. A correlate stage may own no hits
   * partition (more members than partitions) and still be ready.
   */
  isReady(): boolean {
    const h = this.health();
    const match = this.parts.match ? this.parts.match.isReady() : true;
    return match && h.running && h.kafka && h.sinks;
  }

  async refreshHighWatermarks(): Promise<void> {
    await Promise.all([this.parts.match?.refreshHighWatermarks(), this.parts.correlate?.refreshHighWatermarks()]);
  }

  metricsView(): MetricsView {
    const { match, correlate, ingest, engine } = this.parts;
    const base: MetricsView = match?.metricsView() ?? {
      ingest: ingest.counters,
      engine: engine.stats(),
      pipeline: newPipelineCounters(),
      lag: new Map(),
      checkpointAgeSeconds: undefined,
      checkpointBytes: 0,
      unwrittenBatches: 0,
      ready: false,
    };
    base.ready = this.isReady();
    const sent = this.parts.hits?.counters;
    const read = correlate?.counters;
    if (sent || read) {
      base.hits = {
        sentRecords: sent?.records ?? 0,
        sent: sent?.hits ?? 0,
        readRecords: read?.records ?? 0,
        read: read?.hits ?? 0,
        duplicates: read?.duplicates ?? 0,
      };
    }
    if (!correlate) return base;
    const engines = correlate.engines().map((e) => e.stats());
    base.engine = mergeEngineStats(match ? [base.engine, ...engines] : engines, base.engine);
    const alerts = new Map(base.pipeline.alerts);
    for (const [rule, a] of correlate.alertsByRule) {
      const seen = alerts.get(rule);
      alerts.set(rule, { level: a.level, count: (seen?.count ?? 0) + a.count });
    }
    const actions = new Map(base.pipeline.actions);
    for (const [key, n] of correlate.actionsByKey) actions.set(key, (actions.get(key) ?? 0) + n);
    const sinkErrors = new Map(base.pipeline.sinkErrors);
    for (const [key, n] of correlate.writeHealth.sinkErrors) sinkErrors.set(key, (sinkErrors.get(key) ?? 0) + n);
    base.pipeline = { ...base.pipeline, alerts, actions, sinkErrors };
    base.lag = new Map([...base.lag, ...correlate.lag()]);
    return base;
  }
}

/** The stats of several engines (the correlate partitions, the match stage) as one. */
export function mergeEngineStats(all: EngineStats[], empty: EngineStats): EngineStats {
  if (all.length === 0) return empty;
  const out = structuredClone(all[0]!);
  const sum = (into: Record<string, unknown>, from: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(from)) {
      if (typeof v === 'number') into[k] = ((into[k] as number | undefined) ?? 0) + v;
    }
  };
  for (const s of all.slice(1)) {
    const { watermark, rules, matches, regexBudgetExhausted, ...counters } = s;
    sum(out as unknown as Record<string, unknown>, counters as unknown as Record<string, unknown>);
    if (watermark !== null) out.watermark = out.watermark === null ? watermark : Math.min(out.watermark, watermark);
    for (const [uid, r] of Object.entries(rules)) {
      const into = (out.rules[uid] ??= { keys: 0, evictions: 0, late: 0 } as CorrelatorStats);
      sum(into as unknown as Record<string, unknown>, r as unknown as Record<string, unknown>);
    }
    sum(out.matches, matches);
    sum(out.regexBudgetExhausted, regexBudgetExhausted);
  }
  return out;
}
