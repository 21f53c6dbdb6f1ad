import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type * as AjvModule from 'ajv';
import type { Ajv } from 'ajv';
import type { EnrichConfig } from '../enrich/createEnrichers.js';
import { ConfigError } from '../errors.js';
import { parseDuration } from '../time/duration.js';
import { ruleFormats } from '../rules/ruleFormats.js';
import { dedupeErrors, describeError, readYamlMapping } from './yamlFile.js';

export interface TlsConfig {
  enabled: boolean;
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  reject_unauthorized: boolean;
  servername?: string;
}

export interface KafkaConfig {
  brokers: string[];
  client_id: string;
  group_id: string;
  tls: TlsConfig;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  /** `events` is always a list here, whether the file gave one topic or several. */
  topics: { events: string[]; alerts: string; actions: string; dlq: string; state: string; hits: string };
  consumer: {
    start_from: 'earliest' | 'latest';
    session_timeout: string;
    heartbeat_interval: string;
    max_bytes_per_partition: number;
    max_wait: string;
  };
  create_topics: boolean;
  topic_partitions: number;
  hits_partitions: number;
  hits_retention: string;
  connection_timeout: string;
  request_timeout: string;
}

/** TLS towards a SIEM receiver. */
export interface ReceiverTlsConfig {
  ca_file?: string;
  cert_file?: string;
  key_file?: string;
  reject_unauthorized: boolean;
  servername?: string;
}

/** CEF over syslog; off without a host. */
export interface SyslogSinkConfig {
  host?: string;
  port?: number;
  protocol: 'tcp' | 'udp' | 'tls';
  facility: number;
  hostname?: string;
  app_name: string;
  max_message_bytes: number;
  timeout: string;
  tls: ReceiverTlsConfig;
}

/** Splunk HTTP Event Collector; off without a url. */
export interface HecSinkConfig {
  url?: string;
  token?: string;
  index?: string;
  source: string;
  sourcetype: string;
  host?: string;
  batch_max_events: number;
  batch_max_bytes: number;
  gzip: boolean;
  ack: boolean;
  ack_timeout: string;
  timeout: string;
  tls: ReceiverTlsConfig;
}

/** Signed webhook; off without a url. */
export interface WebhookSinkConfig {
  url?: string;
  secret?: string;
  key_id?: string;
  format: 'json' | 'ocsf' | 'ecs';
  timeout: string;
  tls: ReceiverTlsConfig;
}

export type PipelineRole = 'all' | 'match' | 'correlate' | 'single';

export interface PipelineConfig {
  role: PipelineRole;
  idle_timeout: string;
  batch_max_records: number;
  max_buffered_records: number;
  max_inflight_batches: number;
  write_linger: string;
  partition_wait: string;
  max_record_attempts: number;
  shutdown_grace: string;
  status_interval: string;
}

export interface ClickhouseConfig {
  url?: string;
  database: string;
  username: string;
  password: string;
  /** Whether `run` stores alerts, actions (and events) at all. */
  enabled?: boolean;
  /** The embedded store's folder (no url). */
  path?: string;
  events?: boolean;
  retention?: { alerts?: string; actions?: string; events?: string };
  insert_max_rows?: number;
  retry_max_backoff?: string;
}

export interface Config {
  log_level: string;
  kafka: KafkaConfig;
  pipeline: PipelineConfig;
  state: { checkpoint_interval: string };
  sinks: {
    kafka: { max_batch_bytes: number; compression: 'none' | 'gzip' };
    signing?: { key?: string; key_id?: string };
    syslog: SyslogSinkConfig;
    hec: HecSinkConfig;
    webhook: WebhookSinkConfig;
  };
  clickhouse: ClickhouseConfig;
  input: { path: string };
  decode: {
    format: 'auto' | 'auth0' | 'okta' | 'canonical';
    max_record_bytes: number;
    max_depth: number;
    max_future_minutes: number;
  };
  enrich: EnrichConfig;
  rules: { paths: string[]; values?: string };
  engine: {
    allowed_lateness: string;
    watermark_corroboration: number;
    max_keys_per_rule: number;
    state_memory_mb?: number;
    state_mb_per_rule?: number;
    max_entries_per_group: number;
    long_state_mb_per_rule: number;
    max_pending_hits: number;
    action_cooldown: string;
    regex_budget: string;
    regex_budget_per_record: string;
  };
  server: { enabled: boolean; port: number; host: string };
}

export interface JsonSchema {
  type?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  pattern?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
}

const schemaPath = fileURLToPath(new URL('../../schemas/config.schema.json', import.meta.url));
let compiled: { schema: JsonSchema; validate: ReturnType<Ajv['compile']> } | undefined;

/** The configuration schema and its validator, compiled on first use (not at import). */
export function configSchema(): JsonSchema {
  return compiledSchema().schema;
}

function compiledSchema(): { schema: JsonSchema; validate: ReturnType<Ajv['compile']> } {
  if (!compiled) {
    const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as JsonSchema;
    // validateSchema: the schema is checked by test/unit/schemas.test.ts, not at every start.
    // ajv loads here, not with this module: `replay` imports it and needs it only with --store.
    const { Ajv: AjvClass } = createRequire(import.meta.url)('ajv') as typeof AjvModule;
    const ajv = new AjvClass({
      allErrors: true,
      useDefaults: true,
      coerceTypes: false,
      validateSchema: false,
    }).addFormat('bounded-duration', ruleFormats['bounded-duration']);
    compiled = { schema, validate: ajv.compile(schema) };
  }
  return compiled;
}

export const ENV_PREFIX = 'AUTHWATCH_';
/** Variables under these prefixes belong to scripts and tooling, not to the configuration. */
const RESERVED_ENV = ['AUTHWATCH_SERVICES_'];
/** Variables that choose the configuration rather than set a key of it. */
const META_ENV = ['AUTHWATCH_CONFIG'];

/**
 * Loads the configuration: the YAML file when given, then every AUTHWATCH_* environment
 * variable on top, then schema defaults. Throws a ConfigError that lists every problem, each
 * with its key path, the file line and column or the variable it came from.
 */
export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv } = {}): Config {
  const env = options.env ?? process.env;
  const { schema, validate } = compiledSchema();
  let doc: Record<string, unknown> = {};
  let locate: (path: string[]) => string | undefined = () => undefined;
  if (options.file) ({ value: doc, locate } = readYamlMapping(options.file, 'config file'));
  const fromEnv = applyEnv(doc, env, schema);
  fillObjects(doc, schema);
  const problems: string[] = [];
  if (!validate(doc)) {
    for (const e of dedupeErrors(validate.errors ?? [])) {
      const path = e.instancePath.split('/').slice(1);
      const key = path.join('.') || '(root)';
      const origin = fromEnv.get(path.join('.')) ?? locate(path);
      problems.push(`${key}: ${describeError(e)}${origin ? ` (${origin})` : ''}`);
    }
  }
  problems.push(...durationProblems(doc, schema));
  if (problems.length > 0) {
    const where = options.file ? ` in ${options.file}` : '';
    throw new ConfigError(`Invalid configuration${where}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  const config = doc as unknown as Config & { kafka: { topics: { events: string | string[] } } };
  const events = config.kafka.topics.events;
  config.kafka.topics.events = (typeof events === 'string' ? events.split(',') : events)
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  return config;
}

/** True when the configuration names Kafka brokers, i.e. `run` streams from Kafka. */
export function hasKafka(config: Config): boolean {
  return config.kafka.brokers.length > 0;
}

/** A configuration duration in milliseconds; the schema has checked its form. */
export function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new ConfigError(`Not a duration: ${text}`);
  return ms;
}

/** Every key of the configuration with its environment variable, for the documentation. */
export function configKeys(): { path: string; env: string; schema: JsonSchema }[] {
  const out: { path: string; env: string; schema: JsonSchema }[] = [];
  const walk = (schema: JsonSchema, path: string[]): void => {
    for (const [key, child] of Object.entries(schema.properties ?? {})) {
      const p = [...path, key];
      if (child.type === 'object' && child.properties) walk(child, p);
      else out.push({ path: p.join('.'), env: envName(p), schema: child });
    }
  };
  walk(configSchema(), []);
  return out;
}

export function envName(path: string[]): string {
  return ENV_PREFIX + path.join('_').toUpperCase();
}

/** Duration keys whose value fits the pattern but not a timer: heartbeats must be inside the session. */
function durationProblems(doc: Record<string, unknown>, _schema: JsonSchema): string[] {
  const kafka = doc.kafka as Partial<KafkaConfig> | undefined;
  const consumer = kafka?.consumer;
  if (!consumer) return [];
  const session = parseDuration(consumer.session_timeout ?? '');
  const heartbeat = parseDuration(consumer.heartbeat_interval ?? '');
  if (session !== undefined && heartbeat !== undefined && heartbeat >= session) {
    return [
      `kafka.consumer.heartbeat_interval: must be shorter than kafka.consumer.session_timeout (about a third of it)`,
    ];
  }
  return [];
}

/**
 * Maps AUTHWATCH_KAFKA_CLIENT_ID onto kafka.client_id by walking the schema, so snake_case
 * keys need no separator convention. Unknown variables are an error, not silently ignored:
 * a typo in a deployment must not fall back to a default without notice. Returns which
 * variable set which key, so errors can name it.
 */
function applyEnv(doc: Record<string, unknown>, env: NodeJS.ProcessEnv, schema: JsonSchema): Map<string, string> {
  const unknown: string[] = [];
  const origins = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    if (RESERVED_ENV.some((p) => name.startsWith(p)) || META_ENV.includes(name)) continue;
    const path = resolveEnvPath(name.slice(ENV_PREFIX.length).toLowerCase().split('_'), schema);
    if (!path || path.keys.length === 0) {
      unknown.push(name);
      continue;
    }
    setPath(doc, path.keys, coerceEnv(value, path.schema));
    origins.set(path.keys.join('.'), `from ${name}`);
  }
  if (unknown.length > 0) {
    throw new ConfigError(`Unknown configuration variable(s): ${unknown.join(', ')}.`);
  }
  return origins;
}

function resolveEnvPath(parts: string[], schema: JsonSchema): { keys: string[]; schema: JsonSchema } | null {
  if (parts.length === 0) return { keys: [], schema };
  const props = schema.properties ?? {};
  for (let n = parts.length; n >= 1; n--) {
    const key = parts.slice(0, n).join('_');
    const child = props[key];
    if (!child) continue;
    const rest = resolveEnvPath(parts.slice(n), child);
    if (rest) return { keys: [key, ...rest.keys], schema: rest.schema };
  }
  return null;
}

function coerceEnv(value: string, schema: JsonSchema): unknown {
  switch (schema.type) {
    case 'array':
      return value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
    case 'integer':
    case 'number':
      return value.trim() === '' ? value : Number(value);
    case 'boolean':
      return value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value;
    default:
      return value;
  }
}

function setPath(doc: Record<string, unknown>, keys: string[], value: unknown): void {
  let node = doc;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

/** Creates the nested objects so that ajv's useDefaults can fill their defaults. */
function fillObjects(doc: Record<string, unknown>, schema: JsonSchema): void {
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    if (child.type === 'object' && child.properties && key !== 'sasl') {
      if (doc[key] === undefined) doc[key] = {};
      const value = doc[key];
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        fillObjects(value as Record<string, unknown>, child);
      }
    } else if (child.type === 'array' && doc[key] === undefined && child.default === undefined) {
      doc[key] = [];
    }
  }
}
