import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../src/config/config.js';

/**
 * The services integration tests talk to: the ones `scripts/services.sh` starts, unless
 * AUTHWATCH_KAFKA_BROKERS / AUTHWATCH_CLICKHOUSE_URL point elsewhere.
 */
export function testConfig(): Config {
  const config = loadConfig({
    env: {
      AUTHWATCH_KAFKA_BROKERS: process.env.AUTHWATCH_KAFKA_BROKERS ?? '127.0.0.1:9092',
      AUTHWATCH_CLICKHOUSE_URL: process.env.AUTHWATCH_CLICKHOUSE_URL ?? 'http://127.0.0.1:8123',
    },
  });
  return config;
}

/** A name no other test (or earlier run) uses: fresh topics, groups and tables per test. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}
