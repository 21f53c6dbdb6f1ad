import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { Ajv, type ErrorObject } from 'ajv';
import type { EnrichConfig } from '../enrich/createEnrichers.js';
import { ConfigError } from '../errors.js';

export interface KafkaConfig {
  brokers: string[];
  client_id: string;
  group_id: string;
  ssl: boolean;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  topics: { events: string; alerts: string; actions: string; dlq: string };
}

export interface ClickhouseConfig {
  url?: string;
  database: string;
  username: string;
  password: string;
}

export interface Config {
  log_level: string;
  kafka: KafkaConfig;
  clickhouse: ClickhouseConfig;
  input: { path: string };
  decode: { format: 'auto' | 'auth0' | 'okta' | 'canonical'; max_record_bytes: number; max_future_minutes: number };
  enrich: EnrichConfig;
  rules: { paths: string[]; values?: string };
  engine: { allowed_lateness: string; max_keys_per_rule: number };
  server: { port: number; host: string };
}

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  default?: unknown;
}

const schemaPath = fileURLToPath(new URL('../../schemas/config.schema.json', import.meta.url));
export const configSchema = JSON.parse(readFileSync(schemaPath, 'utf8')) as JsonSchema;

const ENV_PREFIX = 'AUTHWATCH_';
/** Variables under these prefixes belong to scripts and tooling, not to the configuration. */
const RESERVED_ENV = ['AUTHWATCH_SERVICES_'];

const ajv = new Ajv({ allErrors: true, useDefaults: true, coerceTypes: false });
const validateConfig = ajv.compile(configSchema);

/**
 * Loads the configuration: the YAML file when given, then every AUTHWATCH_* environment
 * variable on top, then schema defaults. Throws a ConfigError that names every problem.
 */
export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv } = {}): Config {
  const env = options.env ?? process.env;
  let doc: Record<string, unknown> = {};
  if (options.file) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`Cannot read config file ${options.file}: ${(err as Error).message}`);
    }
    const parsed: unknown = parseYaml(text);
    if (parsed != null && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new ConfigError(`Config file ${options.file} must hold a YAML mapping.`);
    }
    doc = (parsed as Record<string, unknown> | null) ?? {};
  }
  applyEnv(doc, env);
  fillObjects(doc, configSchema);
  if (!validateConfig(doc)) {
    const problems = (validateConfig.errors ?? []).map(describeError).join('; ');
    throw new ConfigError(`Invalid configuration${options.file ? ` in ${options.file}` : ''}: ${problems}`);
  }
  return doc as unknown as Config;
}

/** True when the configuration names Kafka brokers, i.e. `run` streams from Kafka. */
export function hasKafka(config: Config): boolean {
  return config.kafka.brokers.length > 0;
}

function describeError(e: ErrorObject): string {
  const where = e.instancePath ? e.instancePath.slice(1).replaceAll('/', '.') : '(root)';
  if (e.keyword === 'additionalProperties') {
    return `${where}: unknown key \`${String(e.params.additionalProperty)}\``;
  }
  return `${where}: ${e.message ?? 'is invalid'}`;
}

/**
 * Maps AUTHWATCH_KAFKA_CLIENT_ID onto kafka.client_id by walking the schema, so snake_case
 * keys need no separator convention. Unknown variables are an error, not silently ignored:
 * a typo in a deployment must not fall back to a default without notice.
 */
function applyEnv(doc: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const unknown: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    if (RESERVED_ENV.some((p) => name.startsWith(p)) || name === 'AUTHWATCH_CONFIG') continue;
    const path = resolveEnvPath(name.slice(ENV_PREFIX.length).toLowerCase().split('_'), configSchema);
    if (!path) {
      unknown.push(name);
      continue;
    }
    setPath(doc, path.keys, coerceEnv(value, path.schema));
  }
  if (unknown.length > 0) {
    throw new ConfigError(`Unknown configuration variable(s): ${unknown.join(', ')}.`);
  }
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
