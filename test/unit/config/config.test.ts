import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasKafka, loadConfig } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/errors.js';

function tempFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'authwatch-config-'));
  const file = join(dir, 'authwatch.yaml');
  writeFileSync(file, text);
  return file;
}

describe('loadConfig', () => {
  it('gives embedded defaults with no file and no environment: no Kafka, stdin input', () => {
    const config = loadConfig({ env: {} });
    expect(hasKafka(config)).toBe(false);
    expect(config.input.path).toBe('-');
    expect(config.kafka.topics).toEqual({
      events: 'auth-events',
      alerts: 'authwatch.alerts',
      actions: 'authwatch.actions',
      dlq: 'authwatch.dlq',
    });
    expect(config.clickhouse.database).toBe('authwatch');
    expect(config.clickhouse.url).toBeUndefined();
  });

  it('reads the YAML file and lets AUTHWATCH_* variables override any key, snake_case included', () => {
    const file = tempFile('kafka:\n  brokers: [a:9092]\n  client_id: from-file\nserver:\n  port: 1000\n');
    const config = loadConfig({
      file,
      env: {
        AUTHWATCH_KAFKA_BROKERS: 'b:9092, c:9093',
        AUTHWATCH_KAFKA_TOPICS_ALERTS: 'my.alerts',
        AUTHWATCH_SERVER_PORT: '2000',
        AUTHWATCH_SERVICES_DIR: '/ignored/belongs/to/scripts',
        PATH: '/usr/bin',
      },
    });
    expect(config.kafka.brokers).toEqual(['b:9092', 'c:9093']);
    expect(config.kafka.client_id).toBe('from-file');
    expect(config.kafka.topics.alerts).toBe('my.alerts');
    expect(config.server.port).toBe(2000);
    expect(hasKafka(config)).toBe(true);
  });

  it('rejects unknown keys, bad values and unknown variables, naming each', () => {
    const file = tempFile('kafka:\n  brokerz: [a:9092]\nserver:\n  port: seventy\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(/kafka: unknown key `brokerz`.*server\.port: must be integer/);
    expect(() => loadConfig({ env: { AUTHWATCH_KAFKA_BROKER: 'x:1' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { AUTHWATCH_KAFKA_BROKER: 'x:1' } })).toThrow(/AUTHWATCH_KAFKA_BROKER\b/);
    expect(() => loadConfig({ env: { AUTHWATCH_CLICKHOUSE_DATABASE: 'x; drop' } })).toThrow(/clickhouse\.database/);
  });

  it('has decode and enrichment defaults, overridable like every key', () => {
    const defaults = loadConfig({ env: {} });
    expect(defaults.decode).toEqual({ format: 'auto', max_record_bytes: 1048576, max_future_minutes: 1440 });
    expect(defaults.enrich).toEqual({ geo: true, asn: true });
    const config = loadConfig({
      env: {
        AUTHWATCH_DECODE_FORMAT: 'okta',
        AUTHWATCH_DECODE_MAX_RECORD_BYTES: '4096',
        AUTHWATCH_ENRICH_GEO: 'false',
        AUTHWATCH_ENRICH_ASN_MMDB_PATH: '/data/GeoLite2-ASN.mmdb',
      },
    });
    expect(config.decode).toMatchObject({ format: 'okta', max_record_bytes: 4096 });
    expect(config.enrich).toEqual({ geo: false, asn: true, asn_mmdb_path: '/data/GeoLite2-ASN.mmdb' });
    expect(() => loadConfig({ env: { AUTHWATCH_DECODE_FORMAT: 'xml' } })).toThrow(/decode\.format/);
  });
});
