import { createClickhouseClient } from '../../src/clickhouse/clickhouseClient.js';
import { createKafkaClient } from '../../src/kafka/kafkaClient.js';
import { testConfig } from '../support/services.js';

/**
 * Integration tests never skip: when a service is unreachable the run fails here, before
 * any test, with a message that says how to start it.
 */
export default async function setup(): Promise<void> {
  const config = testConfig();
  const problems: string[] = [];
  try {
    await createKafkaClient({ ...config.kafka, brokers: config.kafka.brokers }).listTopics();
  } catch (err) {
    problems.push(`Kafka at ${config.kafka.brokers.join(',')}: ${(err as Error).message}`);
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
