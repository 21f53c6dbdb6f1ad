import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { hasKafka, loadConfig } from '../config/config.js';
import { createEnrichers } from '../enrich/createEnrichers.js';
import { Engine } from '../engine/engine.js';
import { Ingest, ingestLines } from '../events/ingest.js';
import { createLogger } from '../log/logger.js';
import { parseTimespan } from '../rules/loader.js';
import { loadRulesWithValues } from '../rules/overrides.js';
import { readNdjson } from '../sources/ndjsonSource.js';
import { renderText } from './validate.js';

/** The pack that ships with authwatch, used when the configured `detections` folder is not in the working directory. */
const SHIPPED_DETECTIONS = fileURLToPath(new URL('../../detections', import.meta.url));

/**
 * `authwatch run [--config F] [--input FILE]`: the streaming engine. Without Kafka brokers
 * configured it reads NDJSON from a file or stdin (the embedded default) and writes alerts to
 * stdout as NDJSON; logs go to stderr.
 */
export async function runCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, input: { type: 'string' } },
    strict: true,
  });
  const config = loadConfig({ file: values.config ?? process.env.AUTHWATCH_CONFIG });
  const logger = createLogger({ level: config.log_level });
  if (hasKafka(config)) {
    logger.error({ brokers: config.kafka.brokers }, 'The Kafka pipeline is not available in this build yet.');
    return 1;
  }
  const paths = config.rules.paths.map((p) => (p === 'detections' && !existsSync(p) ? SHIPPED_DETECTIONS : p));
  const rules = loadRulesWithValues(paths, config.rules.values);
  if (rules.diagnostics.errorCount > 0) {
    process.stderr.write(renderText(rules));
    logger.error({ paths, errors: rules.diagnostics.errorCount }, 'The rules have errors; nothing was started.');
    return 1;
  }
  const engine = new Engine(rules, {
    allowedLatenessMs: parseTimespan(config.engine.allowed_lateness),
    maxKeysPerRule: config.engine.max_keys_per_rule,
  });
  const path = values.input ?? config.input.path;
  const source = path === '-' ? 'stdin' : `file:${path}`;
  logger.info(
    { input: source, detections: rules.detections.length, correlations: rules.correlations.length },
    'No Kafka brokers are configured; reading NDJSON and writing alerts to stdout.',
  );
  const ingest = new Ingest(source, {
    format: config.decode.format,
    maxRecordBytes: config.decode.max_record_bytes,
    maxFutureMs: config.decode.max_future_minutes * 60_000,
    enrichers: createEnrichers(config.enrich),
  });
  await ingestLines(readNdjson(path), ingest, {
    onEvent: async (event) => {
      for (const alert of engine.process(event).alerts) {
        if (!process.stdout.write(`${JSON.stringify(alert)}\n`)) await once(process.stdout, 'drain');
      }
    },
    onDeadLetter: (letter) =>
      logger.warn(
        { source: letter.source, position: letter.position, reason: letter.reason, field: letter.field },
        `An input record is bad input and was set aside: ${letter.message}`,
      ),
  });
  const { records, events, deadLetters } = ingest.counters;
  const { alerts, suppressed, lateEvents } = engine.stats();
  logger.info(
    { records, events, dead_letters: deadLetters, alerts, suppressed, late_events: lateEvents },
    'The input has ended.',
  );
  return 0;
}
