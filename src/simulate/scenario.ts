import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { isSupportedCountry } from 'libphonenumber-js/min';
import { dedupeErrors, describeError, readYamlMapping } from '../config/yamlFile.js';
import { ConfigError } from '../errors.js';
import { parseDuration } from '../time/duration.js';
import { parseIsoTime } from '../time/iso.js';
import type { SimFormat } from './formats.js';
import { ATTACK_SHAPES, type AttackKind, type AttackSpec } from './simulate.js';

/** What a scenario file sets; what it leaves out comes from the command line or the defaults. */
export interface Scenario {
  seed?: number;
  users?: number;
  hours?: number;
  /** Epoch ms. */
  start?: number;
  format?: SimFormat;
  /** `at` is still relative (ms after the start) or absolute; `placeAttacks` resolves it. */
  attacks: ScenarioAttack[];
}

export type ScenarioAttack = Omit<AttackSpec, 'at'> & { at?: { after: number } | { time: number } };

const schemaPath = fileURLToPath(new URL('../../schemas/scenario.schema.json', import.meta.url));
let validate: ValidateFunction | undefined;

/**
 * Reads a scenario file (`schemas/scenario.schema.json`). Every problem is reported at once,
 * each with the file, line and column it was written at; a ConfigError lists them.
 */
export function loadScenario(file: string): Scenario {
  const { value, locate } = readYamlMapping(file, 'scenario file');
  // validateSchema: the schema is checked by test/unit/schemas.test.ts, not at every start.
  validate ??= new Ajv({ allErrors: true, validateSchema: false }).compile(
    JSON.parse(readFileSync(schemaPath, 'utf8')) as object,
  );
  const problems: string[] = [];
  const problem = (path: (string | number)[], text: string) => {
    const p = path.map(String);
    problems.push(`${locate(p) ?? file}: ${p.join('.') || '(root)'}: ${text}`);
  };
  if (!validate(value)) {
    for (const e of dedupeErrors(validate.errors ?? [])) problem(e.instancePath.split('/').slice(1), describeError(e));
  }
  if (problems.length > 0) throw scenarioError(file, problems);

  const doc = value as {
    seed?: number;
    users?: number;
    hours?: number;
    start?: string;
    format?: SimFormat;
    attacks?: { kind: AttackKind; at?: string; size?: number; every?: string; country?: string }[];
  };
  const start = doc.start === undefined ? undefined : parseIsoTime(doc.start);
  if (start === undefined && doc.start !== undefined)
    problem(['start'], 'must be an ISO 8601 time, such as 2026-11-02T00:00:00Z');
  const attacks = (doc.attacks ?? []).map((a, i): ScenarioAttack => {
    const shape = ATTACK_SHAPES[a.kind];
    if (a.size !== undefined && shape.size === undefined) problem(['attacks', i, 'size'], `${a.kind} takes no size`);
    if (a.country !== undefined && a.kind !== 'sms_pumping')
      problem(['attacks', i, 'country'], 'only sms_pumping takes a country');
    if (a.country !== undefined && !isSupportedCountry(a.country))
      problem(['attacks', i, 'country'], `${a.country} is no country with a calling code`);
    let at: ScenarioAttack['at'];
    if (a.at !== undefined) {
      const after = parseDuration(a.at);
      const time = after === undefined ? parseIsoTime(a.at) : undefined;
      if (after !== undefined) at = { after };
      else if (time !== undefined) at = { time };
      else
        problem(['attacks', i, 'at'], `\`${a.at}\` is neither a time after the start (90m, 26h) nor an ISO 8601 time`);
    }
    return {
      kind: a.kind,
      ...(at ? { at } : {}),
      ...(a.size !== undefined ? { size: a.size } : {}),
      ...(a.every !== undefined ? { every: parseDuration(a.every) } : {}),
      ...(a.country !== undefined ? { country: a.country } : {}),
    };
  });
  if (problems.length > 0) throw scenarioError(file, problems);
  return {
    ...(doc.seed !== undefined ? { seed: doc.seed } : {}),
    ...(doc.users !== undefined ? { users: doc.users } : {}),
    ...(doc.hours !== undefined ? { hours: doc.hours } : {}),
    ...(start !== undefined ? { start } : {}),
    ...(doc.format !== undefined ? { format: doc.format } : {}),
    attacks,
  };
}

/**
 * The scenario's attacks placed on a stream from `start` for `hours`: relative times become
 * event times. An attack that would begin outside the stream is an error naming it.
 */
export function placeAttacks(attacks: readonly ScenarioAttack[], start: number, hours: number): AttackSpec[] {
  const end = start + hours * 3_600_000;
  return attacks.map((a, i) => {
    const { at, ...rest } = a;
    if (at === undefined) return rest;
    const t = 'after' in at ? start + at.after : at.time;
    if (t < start || t >= end)
      throw new ConfigError(
        `Attack ${i + 1} (${a.kind}) begins at ${new Date(t).toISOString()}, outside the simulated ${hours} h from ${new Date(start).toISOString()}.`,
      );
    return { ...rest, at: t };
  });
}

function scenarioError(file: string, problems: string[]): ConfigError {
  return new ConfigError(`Invalid scenario in ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}
