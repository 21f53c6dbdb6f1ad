import { configKeys, type JsonSchema } from './config.js';

/**
 * docs/configuration.md, generated from schemas/config.schema.json so that the two never
 * disagree (a test compares them; `npm run docs:config` rewrites the file).
 */
export function renderConfigDocs(): string {
  const rows = configKeys().map((k) => {
    const cells = [`\`${k.path}\``, `\`${k.env}\``, typeOf(k.schema), defaultOf(k.schema), k.schema.description ?? ''];
    return `| ${cells.map((c) => c.replaceAll('|', '\\|').replaceAll('\n', ' ')).join(' | ')} |`;
  });
  return `# Configuration

<!-- Generated from schemas/config.schema.json by \`npm run docs:config\`; do not edit by hand. -->

authwatch reads one YAML file (\`authwatch run --config FILE\`, or the file named by
\`AUTHWATCH_CONFIG\`), then applies every \`AUTHWATCH_*\` environment variable on top, then the
defaults below. A variable is named after the key's path, upper-cased, with \`_\` between the
parts: \`kafka.consumer.session_timeout\` is \`AUTHWATCH_KAFKA_CONSUMER_SESSION_TIMEOUT\`. Lists
are comma-separated (\`AUTHWATCH_KAFKA_BROKERS=a:9092,b:9092\`). A variable that names no key is
an error, so a typo never falls back to a default unnoticed; \`AUTHWATCH_SERVICES_*\` belong to
\`scripts/services.sh\` and are not read.

A configuration with problems is refused at start with every problem listed, each with its
key path and the file line and column or the variable it came from.

Durations are written \`0\`, \`250ms\`, \`10s\`, \`5m\`, \`1h\` or \`1d\`.

| key | variable | type | default | description |
| --- | --- | --- | --- | --- |
${rows.join('\n')}
`;
}

function typeOf(schema: JsonSchema): string {
  if (schema.enum) return schema.enum.map((v) => `\`${String(v)}\``).join(', ');
  if (schema.anyOf) return 'string or list';
  if (schema.pattern?.includes('ms|s|m|h|d')) return 'duration';
  if (schema.type === 'array') return `list of ${schema.items?.type ?? 'values'}`;
  const range =
    schema.minimum !== undefined || schema.maximum !== undefined
      ? ` (${schema.minimum ?? ''}…${schema.maximum ?? ''})`
      : '';
  return `${schema.type ?? 'value'}${range}`;
}

function defaultOf(schema: JsonSchema): string {
  if (schema.default === undefined) return '';
  if (Array.isArray(schema.default)) return `\`${schema.default.join(',')}\``;
  return `\`${String(schema.default)}\``;
}
