import { parseArgs } from 'node:util';
import { hasKafka, loadConfig } from '../config/config.js';
import { createLogger } from '../log/logger.js';
import { readNdjson } from '../sources/ndjsonSource.js';

/**
 * `authwatch run [--config F] [--input FILE]`: the streaming engine. Without Kafka brokers
 * configured it reads NDJSON from a file or stdin (the embedded default).
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
  const path = values.input ?? config.input.path;
  logger.info({ input: path === '-' ? 'stdin' : path }, 'No Kafka brokers are configured; reading NDJSON.');
  let records = 0;
  let invalid = 0;
  for await (const { line, bytes } of readNdjson(path)) {
    records++;
    try {
      JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      invalid++;
      logger.warn({ line, reason: (err as Error).message }, 'An input line is not valid JSON.');
    }
  }
  logger.info({ records, invalid }, 'The input has ended.');
  return 0;
}
