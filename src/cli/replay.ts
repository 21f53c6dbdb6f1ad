import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { createEnrichers } from '../enrich/createEnrichers.js';
import { Engine, type EngineStats } from '../engine/engine.js';
import { withoutRaw } from '../events/authEvent.js';
import { EVENT_FORMATS, type EventFormat } from '../events/decoder.js';
import type { DeadLetter } from '../events/deadLetter.js';
import { Ingest, ingestLines, type IngestCounters } from '../events/ingest.js';
import { createLogger } from '../log/logger.js';
import { emptyOutput, evaluate, type EvaluationOutput } from '../pipeline/evaluate.js';
import { DEFAULT_MAX_FUTURE_MS, DEFAULT_MAX_RECORD_BYTES } from '../events/recordDecoder.js';
import { parseTimespan } from '../time/duration.js';
import { loadRulesWithValues } from '../rules/overrides.js';
import { readNdjson } from '../sources/ndjsonSource.js';
import { durationMs, loadConfig } from '../config/config.js';
import type { DetectionStore } from '../store/detectionStore.js';
import type { StoreWriter } from '../store/storeWriter.js';
import { StopRequest } from './stopRequest.js';
import { renderText } from './validate.js';

const USAGE = `usage: authwatch replay --input FILE [--rules PATH]... [--values FILE] [--format auto|auth0|okta|canonical]
                        [--actions FILE] [--dlq FILE] [--events] [--no-enrich] [--asn-mmdb FILE]
                        [--max-record-bytes N] [--lateness DURATION] [--store] [--config FILE]

Reads recorded events (NDJSON, gzip too; '-' for stdin), decodes and enriches them, and runs
the engine over them in file order, on event time. Alerts go to stdout as NDJSON, a summary
to stderr. --actions writes the response actions to FILE, --dlq the dead letters; --events
writes the canonical events to stdout instead of running rules. --store also writes the
alerts and actions (and the events, with clickhouse.events on) into the store the
configuration names: a ClickHouse server (clickhouse.url) or the embedded one in .authwatch/.
--config also brings its enrichment (enrich.*: network list files, ASN database).
`;

/** `authwatch replay`: the engine over recorded events. */
export async function replayCommand(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        input: { type: 'string' },
        rules: { type: 'string', multiple: true },
        values: { type: 'string' },
        actions: { type: 'string' },
        lateness: { type: 'string', default: '1m' },
        format: { type: 'string', default: 'auto' },
        dlq: { type: 'string' },
        events: { type: 'boolean', default: false },
        'no-enrich': { type: 'boolean', default: false },
        'asn-mmdb': { type: 'string' },
        'max-record-bytes': { type: 'string' },
        store: { type: 'boolean', default: false },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`authwatch replay: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const format = values.format as EventFormat | 'auto';
  const maxRecordBytes = values['max-record-bytes'] ? Number(values['max-record-bytes']) : DEFAULT_MAX_RECORD_BYTES;
  const lateness = parseTimespan(values.lateness);
  const badArgs = values.events && values.rules?.length;
  if (
    !values.input ||
    (format !== 'auto' && !EVENT_FORMATS.includes(format)) ||
    !(maxRecordBytes > 0) ||
    lateness === undefined ||
    badArgs
  ) {
    process.stderr.write(USAGE);
    return 2;
  }

  let engine: Engine | undefined;
  if (values.rules?.length) {
    const set = loadRulesWithValues(values.rules, values.values, { inlineTests: false });
    if (set.diagnostics.errorCount > 0) {
      process.stderr.write(renderText(set));
      return 1;
    }
    engine = new Engine(set, { allowedLatenessMs: lateness });
  }

  let enrichers;
  try {
    // A configuration given explicitly brings its enrichment (network list files included).
    const enrich = values.config
      ? loadConfig({ file: values.config }).enrich
      : { geo: true, asn: true, networks: true };
    enrichers = values['no-enrich']
      ? []
      : createEnrichers({ ...enrich, ...(values['asn-mmdb'] ? { asn_mmdb_path: values['asn-mmdb'] } : {}) });
  } catch (err) {
    process.stderr.write(`authwatch replay: ${(err as Error).message}\n`);
    return 1;
  }
  let writer: StoreWriter | undefined;
  let store: DetectionStore | undefined;
  const stop = new StopRequest();
  if (values.store) {
    try {
      const config = loadConfig({ file: values.config ?? process.env.AUTHWATCH_CONFIG });
      // Loaded only when storing: the ClickHouse clients cost start-up time a plain replay need not pay.
      const [{ DetectionStore }, { StoreWriter }] = await Promise.all([
        import('../store/detectionStore.js'),
        import('../store/storeWriter.js'),
      ]);
      store = await DetectionStore.open(config.clickhouse);
      writer = new StoreWriter(store, {
        maxRows: config.clickhouse.insert_max_rows ?? 50_000,
        maxBackoffMs: durationMs(config.clickhouse.retry_max_backoff ?? '30s'),
        signal: stop.signal,
        onRetry: (err, attempt, waitMs) =>
          process.stderr.write(
            `authwatch replay: the store refused a write (${(err as Error).message}); retry ${attempt} in ${waitMs} ms\n`,
          ),
      });
    } catch (err) {
      stop.dispose();
      process.stderr.write(`authwatch replay: ${(err as Error).message}\n`);
      return 1;
    }
  }

  const source = values.input === '-' ? 'stdin' : `file:${values.input}`;
  const logger = createLogger({ level: 'warn' });
  const ingest = new Ingest(source, {
    format,
    maxRecordBytes,
    maxFutureMs: DEFAULT_MAX_FUTURE_MS,
    enrichers,
    log: logger,
  });
  const alertsByRule = new Map<string, number>();
  const dlq = values.dlq ? createWriteStream(values.dlq) : undefined;
  const actions = values.actions ? createWriteStream(values.actions) : undefined;
  const started = process.hrtime.bigint();

  const onDeadLetter = async (letter: DeadLetter): Promise<void> => {
    if (dlq) await write(dlq, `${JSON.stringify(letter)}\n`);
  };
  const writeOut = async (out: EvaluationOutput): Promise<void> => {
    for (const alert of out.alerts) {
      alertsByRule.set(alert.rule_title, (alertsByRule.get(alert.rule_title) ?? 0) + 1);
      await stop.write(`${JSON.stringify(alert)}\n`);
    }
    if (actions) for (const action of out.actions) await write(actions, `${JSON.stringify(action)}\n`);
    for (const letter of out.deadLetters) await onDeadLetter(letter);
    await writer?.add(out);
  };
  try {
    await ingestLines(
      readNdjson(values.input, process.stdin, undefined, stop.signal),
      ingest,
      {
        onEvent: async (event, record) => {
          if (values.events) await stop.write(`${JSON.stringify(withoutRaw(event))}\n`);
          await writer?.add({ events: [event] });
          if (!engine) return;
          const out = emptyOutput();
          evaluate(engine, ingest, event, record, out, { logger });
          await writeOut(out);
        },
        onDeadLetter,
      },
      stop.signal,
    );
    // The end of the input: what waited for event-time order is decided now.
    if (engine) await writeOut({ ...emptyOutput(), ...engine.flush() });
    await writer?.flush();
    for (const stream of [dlq, actions]) {
      if (!stream) continue;
      stream.end();
      await once(stream, 'finish');
    }
  } finally {
    stop.dispose();
    await store?.close();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const stopped = stop.reason ? `stopped (${stop.reason}): ` : '';
  process.stderr.write(stopped + summary(ingest.counters, seconds, engine?.stats(), alertsByRule));
  if (writer && store) process.stderr.write(storeSummary(writer, store));
  return 0;
}

async function write(stream: NodeJS.WritableStream | WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

function summary(
  c: IngestCounters,
  seconds: number,
  engine: EngineStats | undefined,
  alertsByRule: Map<string, number>,
): string {
  const lines = [
    `replayed ${c.records} record(s) in ${seconds.toFixed(2)}s: ${c.events} event(s), ${c.deadLetters} dead letter(s)`,
  ];
  const sources = Object.entries(c.eventsBySource).map(([s, n]) => `${s} ${n}`);
  if (sources.length > 0) lines.push(`  events by source: ${sources.join(', ')}`);
  const reasons = Object.entries(c.deadLettersByReason).filter(([, n]) => n > 0);
  if (reasons.length > 0) lines.push(`  dead letters by reason: ${reasons.map(([r, n]) => `${r} ${n}`).join(', ')}`);
  const dropped = Object.entries(c.droppedFields);
  if (dropped.length > 0)
    lines.push(
      `  values taken out of kept events: ${dropped.map(([k, n]) => `${k.replace(':', ' ')} ${n}`).join(', ')}`,
    );
  if (engine) {
    const evictions = Object.values(engine.rules).reduce((a, r) => a + r.evictions, 0);
    const late = Object.values(engine.rules).reduce((a, r) => a + r.late, 0);
    lines.push(
      `  alerts: ${engine.alerts} (${engine.suppressed} suppressed), actions: ${engine.actions} (${engine.actionsInForce} still in force, ${engine.actionsInvalidTarget} with an invalid target); late events: ${engine.lateEvents} (${late} hits not counted), events dated ahead: ${engine.aheadEvents}, state evictions: ${evictions}`,
    );
    if (engine.memorySheds > 0) {
      lines.push(
        `  state shed under memory pressure: ${engine.memorySheds} time(s), the stalest groups of every correlation (counted in the state evictions above)`,
      );
    }
    const forgotten = Object.entries(engine.rules).filter(([, r]) => (r.entriesForgotten ?? 0) > 0);
    if (forgotten.length > 0) {
      lines.push(
        `  window entries forgotten at the group bound (engine.max_entries_per_group): ${forgotten.map(([rule, r]) => `${rule} ${r.entriesForgotten}`).join(', ')}`,
      );
    }
    const exhausted = Object.entries(engine.regexBudgetExhausted);
    if (exhausted.length > 0) {
      lines.push(
        `  regular-expression time budget ran out on: ${exhausted.map(([rule, n]) => `${rule} (${n} record(s))`).join(', ')}; values it did not cover counted as no match`,
      );
    }
    const byRule = [...alertsByRule].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    for (const [title, n] of byRule) lines.push(`    ${String(n).padStart(6)}  ${title}`);
  }
  return `${lines.join('\n')}\n`;
}

function storeSummary(writer: StoreWriter, store: DetectionStore): string {
  const { rows, retries } = writer.counters;
  const where =
    store.store.kind === 'files'
      ? `NDJSON files in ${store.store.location} (${store.store.fallbackReason})`
      : `${store.store.kind === 'server' ? 'ClickHouse at' : 'the embedded ClickHouse in'} ${store.store.location}, database ${store.database}`;
  const events = store.storesEvents ? `, ${rows.events} event(s)` : '';
  return `  stored ${rows.alerts} alert(s), ${rows.actions} action(s)${events} in ${where}${retries ? ` after ${retries} retried write(s)` : ''}\n`;
}
