import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configKeys, hasKafka, loadConfig } from '../../../src/config/config.js';
import { renderConfigDocs } from '../../../src/config/configDocs.js';
import { ConfigError } from '../../../src/errors.js';

function tempFile(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'authwatch-config-'));
  const file = join(dir, 'authwatch.yaml');
  writeFileSync(file, text);
  return file;
}

describe('loadConfig', () => {
  it('gives embedded defaults with no file and no environment: no Kafka, the simulated input', () => {
    const config = loadConfig({ env: {} });
    expect(hasKafka(config)).toBe(false);
    expect(config.input.path).toBe('simulate');
    expect(config.kafka.topics).toEqual({
      events: ['auth-events'],
      alerts: 'authwatch.alerts',
      actions: 'authwatch.actions',
      dlq: 'authwatch.dlq',
      state: 'authwatch.state',
      hits: 'authwatch.hits',
    });
    expect(config.pipeline).toMatchObject({ role: 'all', batch_max_records: 5000, shutdown_grace: '30s' });
    expect(config.kafka).toMatchObject({ hits_partitions: 12, hits_retention: '7d' });
    expect(config.state.checkpoint_interval).toBe('10s');
    expect(config.server).toEqual({ enabled: true, host: '127.0.0.1', port: 9464 });
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
    expect(() => loadConfig({ file, env: {} })).toThrow(
      /kafka: unknown key `brokerz`[^]*server\.port: must be integer/,
    );
    expect(() => loadConfig({ env: { AUTHWATCH_KAFKA_BROKER: 'x:1' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { AUTHWATCH_KAFKA_BROKER: 'x:1' } })).toThrow(/AUTHWATCH_KAFKA_BROKER\b/);
    expect(() => loadConfig({ env: { AUTHWATCH_CLICKHOUSE_DATABASE: 'x; drop' } })).toThrow(/clickhouse\.database/);
  });

  it('refuses a duration longer than ten years, at its line or its variable', () => {
    const file = tempFile('engine:\n  allowed_lateness: 99999999999999999999d\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(
      /engine\.allowed_lateness: is longer than the longest duration taken, 3650d \(ten years\) \(\S+:2:21\)/,
    );
    expect(() => loadConfig({ env: { AUTHWATCH_STATE_CHECKPOINT_INTERVAL: '3651d' } })).toThrow(
      /state\.checkpoint_interval: is longer than the longest duration taken, 3650d \(ten years\) \(from AUTHWATCH_STATE_CHECKPOINT_INTERVAL\)/,
    );
    expect(loadConfig({ env: { AUTHWATCH_ENGINE_ALLOWED_LATENESS: '3650d' } }).engine.allowed_lateness).toBe('3650d');
  });

  it('has decode and enrichment defaults, overridable like every key', () => {
    const defaults = loadConfig({ env: {} });
    expect(defaults.decode).toEqual({
      format: 'auto',
      max_record_bytes: 1048576,
      max_depth: 64,
      max_future_minutes: 1440,
    });
    const noLists = { tor_exits: [], proxy_networks: [], hosting_networks: [] };
    expect(defaults.enrich).toEqual({ geo: true, asn: true, networks: true, network_reload: '1m', ...noLists });
    const config = loadConfig({
      env: {
        AUTHWATCH_DECODE_FORMAT: 'okta',
        AUTHWATCH_DECODE_MAX_RECORD_BYTES: '4096',
        AUTHWATCH_ENRICH_GEO: 'false',
        AUTHWATCH_ENRICH_ASN_MMDB_PATH: '/data/GeoLite2-ASN.mmdb',
        AUTHWATCH_ENRICH_TOR_EXITS: '/var/lib/authwatch/tor-exits.txt, /var/lib/authwatch/tor-extra.txt',
        AUTHWATCH_ENRICH_NETWORK_RELOAD: '5m',
      },
    });
    expect(config.decode).toMatchObject({ format: 'okta', max_record_bytes: 4096 });
    expect(config.enrich).toEqual({
      geo: false,
      asn: true,
      asn_mmdb_path: '/data/GeoLite2-ASN.mmdb',
      networks: true,
      network_reload: '5m',
      ...noLists,
      tor_exits: ['/var/lib/authwatch/tor-exits.txt', '/var/lib/authwatch/tor-extra.txt'],
    });
    expect(() => loadConfig({ env: { AUTHWATCH_DECODE_FORMAT: 'xml' } })).toThrow(/decode\.format/);
  });
});

describe('loadConfig: the streaming engine', () => {
  it('maps every nested key to an AUTHWATCH_* variable', () => {
    const config = loadConfig({
      env: {
        AUTHWATCH_KAFKA_BROKERS: 'k:9092',
        AUTHWATCH_KAFKA_TOPICS_EVENTS: 'auth0-logs, okta-logs',
        AUTHWATCH_KAFKA_CONSUMER_SESSION_TIMEOUT: '10s',
        AUTHWATCH_KAFKA_CONSUMER_START_FROM: 'latest',
        AUTHWATCH_KAFKA_TLS_ENABLED: 'true',
        AUTHWATCH_KAFKA_TLS_CA_FILE: '/etc/ca.pem',
        AUTHWATCH_KAFKA_SASL_MECHANISM: 'scram-sha-512',
        AUTHWATCH_KAFKA_SASL_USERNAME: 'authwatch',
        AUTHWATCH_KAFKA_SASL_PASSWORD: 's3cret',
        AUTHWATCH_PIPELINE_BATCH_MAX_RECORDS: '2000',
        AUTHWATCH_PIPELINE_SHUTDOWN_GRACE: '45s',
        AUTHWATCH_STATE_CHECKPOINT_INTERVAL: '5s',
        AUTHWATCH_SINKS_KAFKA_MAX_BATCH_BYTES: '500000',
        AUTHWATCH_ENGINE_ACTION_COOLDOWN: '10m',
        AUTHWATCH_SERVER_ENABLED: 'false',
      },
    });
    expect(config.kafka.topics.events).toEqual(['auth0-logs', 'okta-logs']);
    expect(config.kafka.consumer).toMatchObject({ session_timeout: '10s', start_from: 'latest' });
    expect(config.kafka.tls).toEqual({ enabled: true, ca_file: '/etc/ca.pem', reject_unauthorized: true });
    expect(config.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'authwatch', password: 's3cret' });
    expect(config.pipeline).toMatchObject({ batch_max_records: 2000, shutdown_grace: '45s' });
    expect(config.state.checkpoint_interval).toBe('5s');
    expect(config.sinks.kafka.max_batch_bytes).toBe(500000);
    expect(config.engine.action_cooldown).toBe('10m');
    expect(config.server.enabled).toBe(false);
  });

  it('takes a list of input topics from the file', () => {
    const file = tempFile('kafka:\n  topics:\n    events: [a, b]\n');
    expect(loadConfig({ file, env: {} }).kafka.topics.events).toEqual(['a', 'b']);
  });

  it('lists every problem at once, each with its key path and where it was written', () => {
    const file = tempFile(
      [
        'kafka:',
        '  brokers: [localhost]',
        '  consumer:',
        '    session_timeout: 3s',
        '    heartbeat_interval: 5s',
        'pipeline:',
        '  batch_max_records: 0',
        '  partition_wait: soon',
        'state:',
        '  checkpoint_interval: 10 seconds',
        '',
      ].join('\n'),
    );
    let message = '';
    try {
      loadConfig({ file, env: { AUTHWATCH_SINKS_KAFKA_COMPRESSION: 'zstd' } });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    const lines = message.split('\n');
    expect(lines[0]).toBe(`Invalid configuration in ${file}:`);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`kafka\\.brokers\\.0: must match pattern .*\\(${file}:2:13\\)$`)),
        expect.stringMatching(new RegExp(`pipeline\\.batch_max_records: must be >= 1 \\(${file}:7:22\\)$`)),
        expect.stringMatching(/pipeline\.partition_wait: must match pattern/),
        expect.stringMatching(/state\.checkpoint_interval: must match pattern/),
        expect.stringMatching(
          /sinks\.kafka\.compression: must be one of "none", "gzip" \(from AUTHWATCH_SINKS_KAFKA_COMPRESSION\)$/,
        ),
        expect.stringMatching(
          /kafka\.consumer\.heartbeat_interval: must be shorter than kafka\.consumer\.session_timeout/,
        ),
      ]),
    );
    expect(lines).toHaveLength(7);
  });

  it('points at the line of a YAML syntax error', () => {
    const file = tempFile('kafka:\n  brokers: [a:9092\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(new RegExp(`not valid YAML:\\n  - ${file}:\\d+:\\d+`));
  });

  it('gives every key a default or says it has none, a description, and one variable', () => {
    const keys = configKeys();
    const envs = keys.map((k) => k.env);
    expect(new Set(envs).size).toBe(envs.length);
    for (const k of keys) {
      expect(k.env).toBe(`AUTHWATCH_${k.path.replaceAll('.', '_').toUpperCase()}`);
      // Each variable maps back to its own key (no shorter key swallows it).
      expect(k.schema.description, `${k.path} has a description`).toBeTruthy();
      const fallback = k.schema.enum
        ? String(k.schema.enum[0])
        : k.schema.type === 'integer'
          ? String(k.schema.minimum ?? 1)
          : ({
              'kafka.brokers': 'h:1',
              'clickhouse.url': 'http://db:8123',
              'sinks.signing.key': 'k'.repeat(16),
              'sinks.hec.url': 'https://splunk:8088',
              'sinks.webhook.url': 'https://soar/hook',
              'sinks.webhook.secret': 's'.repeat(16),
            }[k.path] ?? 'x');
      const value = Array.isArray(k.schema.default)
        ? k.schema.default.join(',')
        : k.schema.default !== undefined
          ? String(k.schema.default)
          : fallback;
      const env: Record<string, string> = { [k.env]: value };
      if (k.path.startsWith('kafka.sasl.'))
        Object.assign(
          env,
          {
            AUTHWATCH_KAFKA_SASL_MECHANISM: 'plain',
            AUTHWATCH_KAFKA_SASL_USERNAME: 'u',
            AUTHWATCH_KAFKA_SASL_PASSWORD: 'p',
          },
          { [k.env]: value },
        );
      const config = loadConfig({ env }) as unknown as Record<string, Record<string, unknown>>;
      const got = k.path.split('.').reduce<unknown>((o, key) => (o as Record<string, unknown>)[key], config);
      expect(got, k.path).toBeDefined();
    }
  });
});

describe('docs/configuration.md', () => {
  it('is what the schema generates (run `npm run docs:config` after changing the schema)', async () => {
    const { format } = await import('prettier');
    const expected = await format(renderConfigDocs(), { parser: 'markdown', filepath: 'docs/configuration.md' });
    expect(readFileSync('docs/configuration.md', 'utf8')).toBe(expected);
  });
});
