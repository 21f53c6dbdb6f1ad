import { readdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

/**
 * Checks documents against the published SIEM schemas vendored in test/fixtures/siem/ (made by
 * scripts/siem-schemas.mjs; see NOTICE.md there): OCSF's Detection Finding class, in each OCSF
 * version vendored (ocsf-<version>-detection_finding.schema.json), and the fields of the Elastic
 * Common Schema. Each check returns readable errors, none when the document fits.
 */

interface OcsfSchema {
  'x-ocsf-version': string;
  [keyword: string]: unknown;
}

interface EcsField {
  type: string;
  normalize: string[];
}

interface EcsFields {
  version: string;
  fields: Record<string, EcsField>;
}

const FIXTURES = new URL('../fixtures/siem/', import.meta.url);

const readJson = <T>(name: string): T => JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as T;

const ecs = readJson<EcsFields>('ecs-fields.json');

/** ocsf-<version>-detection_finding.schema.json, as scripts/siem-schemas.mjs names them. */
const OCSF_FILE = /^ocsf-(\d+\.\d+\.\d+)-detection_finding\.schema\.json$/;

function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const difference = (x[i] ?? 0) - (y[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** The OCSF versions of the vendored Detection Finding schemas, ascending. */
export const ocsfVersions: string[] = readdirSync(FIXTURES)
  .flatMap((file) => OCSF_FILE.exec(file)?.[1] ?? [])
  .sort(compareVersions);
if (ocsfVersions.length === 0)
  throw new Error(`no OCSF schema (ocsf-<version>-detection_finding.schema.json) in ${FIXTURES.pathname}`);
/** The ECS version of the vendored field list. */
export const ecsVersion: string = ecs.version;

// ---------------------------------------------------------------------------------------------
// OCSF

/** Each version's compiled schema, made on its first use. */
const ocsfValidators = new Map<string, ValidateFunction>();

function ocsfValidator(version: string): ValidateFunction {
  let validate = ocsfValidators.get(version);
  if (!validate) {
    const schema = readJson<OcsfSchema>(`ocsf-${version}-detection_finding.schema.json`);
    if (schema['x-ocsf-version'] !== version) {
      throw new Error(`ocsf-${version}-detection_finding.schema.json is of OCSF ${schema['x-ocsf-version']}`);
    }
    validate = new Ajv({ allErrors: true, strict: false, verbose: true }).compile(schema);
    ocsfValidators.set(version, validate);
  }
  return validate;
}

/** What the generator notes beside the keywords it writes, for the messages below. */
interface OcsfKeywordSchema {
  'x-ocsf-type'?: string;
  'x-ocsf-at-least-one'?: string[];
  'x-ocsf-just-one'?: string[];
}

function ocsfMessage(e: ErrorObject): string {
  const at = e.instancePath || '/';
  const parent = (e.parentSchema ?? {}) as OcsfKeywordSchema;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${at} has an attribute OCSF does not define: '${String(e.params.additionalProperty)}'`;
    case 'enum':
      return `${at} must be one of ${(e.params.allowedValues as unknown[]).join(', ')} (got ${JSON.stringify(e.data)})`;
    case 'pattern': // OCSF's patterns are long: the type's name says more.
      return `${at} is not a valid OCSF ${parent['x-ocsf-type'] ?? 'string'} (got ${JSON.stringify(e.data)})`;
    case 'maxLength':
    case 'minimum':
    case 'maximum':
      return `${at} is not a valid OCSF ${parent['x-ocsf-type'] ?? 'value'}: ${e.message ?? e.keyword} (got ${JSON.stringify(e.data)})`;
    case 'anyOf':
      if (parent['x-ocsf-at-least-one'])
        return `${at} must have at least one of ${parent['x-ocsf-at-least-one'].join(', ')}`;
      break;
    case 'oneOf':
      if (parent['x-ocsf-just-one']) return `${at} must have exactly one of ${parent['x-ocsf-just-one'].join(', ')}`;
      break;
  }
  return `${at} ${e.message ?? e.keyword}`;
}

/** The errors of `doc` against one version's schema. */
function ocsfErrors(doc: unknown, version: string): string[] {
  const validate = ocsfValidator(version);
  if (validate(doc)) return [];
  const errors = validate.errors ?? [];
  // The branches of an OCSF constraint (`anyOf` of `required`) are said once, by the constraint.
  const constraints = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf');
  const shown = errors.filter(
    (e) => !constraints.some((c) => c.instancePath === e.instancePath && e.schemaPath.startsWith(`${c.schemaPath}/`)),
  );
  return [...new Set(shown.map(ocsfMessage))];
}

/**
 * The errors of `doc` as an OCSF Detection Finding (class_uid 2004); empty when it is one.
 * Without `version`, `doc` is checked against every vendored version (ocsfVersions) and each
 * message starts with `OCSF <version>: `; with `version` (one of ocsfVersions), against that one
 * only, and the messages carry no prefix.
 */
export function validateOcsf(doc: unknown, version?: string): string[] {
  if (version !== undefined) {
    if (!ocsfVersions.includes(version)) {
      throw new Error(
        `OCSF ${version} is not vendored (there are ${ocsfVersions.join(', ')}): see test/fixtures/siem/NOTICE.md`,
      );
    }
    return ocsfErrors(doc, version);
  }
  return ocsfVersions.flatMap((v) => ocsfErrors(doc, v).map((message) => `OCSF ${v}: ${message}`));
}

// ---------------------------------------------------------------------------------------------
// ECS

const FREE_FORM = new Set(['object', 'flattened', 'nested']);
const STRING_TYPES = new Set(['keyword', 'constant_keyword', 'wildcard', 'text', 'match_only_text']);
const INTEGER_RANGES: Record<string, [number, number]> = {
  byte: [-128, 127],
  short: [-32768, 32767],
  integer: [-(2 ** 31), 2 ** 31 - 1],
  long: [-(2 ** 63), 2 ** 63],
  unsigned_long: [0, 2 ** 64],
};
const FLOAT_TYPES = new Set(['float', 'double', 'half_float', 'scaled_float']);
// strict_date_optional_time: a date, optionally with a time, seconds, fraction and offset.
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** True where `path` lies inside an ECS field that takes any keys (object, flattened, nested). */
function insideFreeForm(path: string): boolean {
  const parts = path.split('.');
  for (let i = parts.length - 1; i > 0; i--) {
    const field = ecs.fields[parts.slice(0, i).join('.')];
    if (field && FREE_FORM.has(field.type)) return true;
  }
  return false;
}

/** Why `value` does not fit ECS type `type`, or undefined when it does. */
function misfit(type: string, value: unknown): string | undefined {
  if (STRING_TYPES.has(type)) return typeof value === 'string' ? undefined : 'a string';
  const range = INTEGER_RANGES[type];
  if (range) {
    return Number.isInteger(value) && (value as number) >= range[0] && (value as number) <= range[1]
      ? undefined
      : `an integer in [${range[0]}, ${range[1]}]`;
  }
  if (FLOAT_TYPES.has(type)) return typeof value === 'number' && Number.isFinite(value) ? undefined : 'a number';
  switch (type) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'a boolean';
    case 'date':
      if (typeof value === 'number') return Number.isInteger(value) ? undefined : 'epoch milliseconds (an integer)';
      return typeof value === 'string' && ISO_8601.test(value) && !Number.isNaN(Date.parse(value))
        ? undefined
        : 'an ISO 8601 date string or epoch milliseconds';
    case 'ip':
      return typeof value === 'string' && isIP(value) !== 0 ? undefined : 'an IPv4 or IPv6 address string';
    case 'geo_point': {
      const ok =
        isPlainObject(value) &&
        Object.keys(value).every((k) => k === 'lat' || k === 'lon') &&
        typeof value.lat === 'number' &&
        typeof value.lon === 'number' &&
        Math.abs(value.lat) <= 90 &&
        Math.abs(value.lon) <= 180;
      return ok ? undefined : '{lat, lon} numbers (lat within ±90, lon within ±180)';
    }
    case 'object':
    case 'flattened':
    case 'nested':
      return isPlainObject(value) ? undefined : 'an object';
    default:
      return `a type this check does not know (${type})`;
  }
}

function checkField(path: string, field: EcsField, value: unknown, errors: string[]): void {
  if (value == null) return; // Elasticsearch indexes null as missing.
  // Elasticsearch takes an array of fitting values for every field.
  if (Array.isArray(value)) {
    for (const item of value) checkField(path, field, item, errors);
    return;
  }
  const expected = misfit(field.type, value);
  if (expected) {
    errors.push(`${path}: ${JSON.stringify(value)} does not fit ECS type ${field.type} (expected ${expected})`);
    return;
  }
  // Inside object and nested fields any key goes, but the subfields ECS defines keep their types.
  if (field.type === 'object' || field.type === 'nested') {
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) walk(child, `${path}.${key}`, errors);
  }
}

function walk(value: unknown, path: string, errors: string[]): void {
  const field = ecs.fields[path];
  if (field) return checkField(path, field, value, errors);
  if (Array.isArray(value)) {
    for (const item of value) walk(item, path, errors);
  } else if (isPlainObject(value)) {
    for (const [key, child] of Object.entries(value)) walk(child, path ? `${path}.${key}` : key, errors);
  } else if (!insideFreeForm(path)) {
    errors.push(`${path}: not an ECS ${ecs.version} field`);
  }
}

/**
 * The errors of `doc` as an ECS document: leaves (nested objects or dotted keys) that are no ECS
 * field nor lie inside an object, flattened or nested one (labels.* among them), and values
 * whose JSON type does not fit their field's ECS type. Empty when it fits.
 */
export function validateEcs(doc: unknown): string[] {
  if (!isPlainObject(doc)) return [`the document must be an object (got ${JSON.stringify(doc)})`];
  const errors: string[] = [];
  walk(doc, '', errors);
  return errors;
}
