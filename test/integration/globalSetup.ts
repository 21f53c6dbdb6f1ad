import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createClickhouseClient } from '../../src/clickhouse/clickhouseClient.js';
import { createKafkaClient } from '../../src/kafka/kafkaClient.js';
import { testConfig } from '../support/services.js';

/** Newest modification time of the files under a directory. */
function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return t;
}

/**
 * Integration tests never skip: when a service is unreachable the run fails here, before
 * any test, with a message that says how to start it. Tests that run `authwatch` as a process
 * need `dist/`: it is rebuilt here when a source file is newer (`npm ci` builds it in CI).
 */
export default async function setup(): Promise<void> {
  let built = 0;
  try {
    built = statSync('dist/cli/main.js').mtimeMs;
  } catch {
    built = 0;
  }
  if (newest('src') > built) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });

  const config = testConfig();
  const problems: string[] = [];
  const kafka = createKafkaClient(config.kafka);
  try {
    await kafka.listTopics();
  } catch (err) {
    problems.push(`Kafka at ${config.kafka.brokers.join(',')}: ${(err as Error).message}`);
  } finally {
    await kafka.close();
  }
  const ch = createClickhouseClient(config.clickhouse);
  try {
    if (!(await ch.ping())) problems.push(`ClickHouse at ${config.clickhouse.url} did not answer its ping.`);
  } catch (err) {
    problems.push(`ClickHouse at ${config.clickhouse.url}: ${(err as Error).message}`);
  } finally {
    await ch.close();
  }
  if (problems.length > 0) {
    throw new Error(
      `Integration tests need real services and cannot reach them (start them with \`npm run services:start\`):\n  ${problems.join('\n  ')}`,
    );
  }
}
