import { readFileSync } from 'node:fs';
import { isMap, type Node } from 'yaml';
import { closest, Diagnostics, type Span } from './diagnostics.js';
import { correlationKinds } from './correlations/registry.js';
import { parseTimespan } from '../time/duration.js';
import { loadRules, paramProblem, type LoadOptions, type RuleSet } from './loader.js';
import { LEVELS, type CountCondition, type CountOperator, type Level, type Rule } from './model.js';
import { pairs, SourceFile, toJs } from './source.js';

/**
 * A values file: deployment-specific settings for a rule pack, so thresholds change without
 * editing the rule files.
 *
 * ```yaml
 * placeholders:            # values for the `expand` modifier's %name%
 *   admin_ips: [10.0.0.1]
 * overrides:               # by rule id or name
 *   credential-stuffing-single-ip:
 *     condition: {gte: 20}
 *     timespan: 15m
 *     level: critical
 *     mode: enforce
 *     suppress: 30m
 *     params: {max_speed_kmh: 800}
 *     enabled: false
 * ```
 */
export interface ValuesFile {
  placeholders: Record<string, string[]>;
  overrides: { key: string; keySpan: Span; entries: { name: string; value: unknown; span: Span }[] }[];
  source: SourceFile;
  /** Problems in the file itself (shape, unknown keys); merged into the rule set's diagnostics. */
  diagnostics: Diagnostics;
}

const OVERRIDE_KEYS = ['condition', 'timespan', 'level', 'mode', 'suppress', 'params', 'enabled'];
const OPERATORS: readonly CountOperator[] = ['gt', 'gte', 'lt', 'lte', 'eq', 'neq'];

/** Reads a values file; a file that cannot be read or parsed throws with its path. */
export function loadValuesFile(path: string): ValuesFile {
  const source = new SourceFile(path, readFileSync(path, 'utf8'));
  const diagnostics = new Diagnostics();
  const out: ValuesFile = { placeholders: {}, overrides: [], source, diagnostics };
  const doc = source.documents[0];
  if (!doc) return out;
  if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]!.message}`);
  if (doc.contents !== null && !isMap(doc.contents)) {
    diagnostics.add(
      'AW1603',
      'A values file must be a mapping with `placeholders` and `overrides`.',
      source.spanOf(doc.contents),
    );
    return out;
  }
  for (const { key, keyNode, value } of doc.contents ? pairs(doc.contents) : []) {
    if (key === 'placeholders') out.placeholders = readPlaceholders(value, source, diagnostics);
    else if (key === 'overrides') {
      if (!isMap(value)) {
        diagnostics.add(
          'AW1603',
          '`overrides` must map rule ids or names to settings.',
          source.spanOf(value ?? keyNode),
        );
        continue;
      }
      for (const rule of pairs(value)) {
        if (!isMap(rule.value)) {
          diagnostics.add(
            'AW1603',
            `The override of \`${rule.key}\` must be a mapping of settings.`,
            source.spanOf(rule.value ?? rule.keyNode),
          );
          continue;
        }
        out.overrides.push({
          key: rule.key,
          keySpan: source.spanOf(rule.keyNode),
          entries: pairs(rule.value).map((e) => ({
            name: e.key,
            value: toJs(e.value),
            span: source.spanOf(e.value ?? e.keyNode),
          })),
        });
      }
    } else {
      const guess = closest(key, ['placeholders', 'overrides']);
      diagnostics.add(
        'AW1603',
        `\`${key}\` is not a section of a values file.`,
        source.spanOf(keyNode),
        guess ? { hint: `did you mean \`${guess}\`?` } : {},
      );
    }
  }
  return out;
}

function readPlaceholders(value: Node | null, source: SourceFile, diagnostics: Diagnostics): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (!isMap(value)) {
    diagnostics.add('AW1603', '`placeholders` must map names to lists of values.', source.spanOf(value));
    return out;
  }
  for (const { key, value: v } of pairs(value)) {
    const raw = toJs(v);
    const list = Array.isArray(raw) ? raw : [raw];
    if (!list.every((x) => typeof x === 'string' || typeof x === 'number')) {
      diagnostics.add('AW1603', `Placeholder \`${key}\` must be a list of strings.`, source.spanOf(v));
      continue;
    }
    out[key] = list.map(String);
  }
  return out;
}

/**
 * Applies a values file's overrides to a loaded rule set: changes thresholds, levels, modes and
 * parameters in place, and leaves out rules turned off. Every problem is a diagnostic pointing
 * into the values file; an override naming no loaded rule is a warning (AW1604), so one values
 * file can serve several rule packs.
 */
export function applyOverrides(set: RuleSet, values: ValuesFile): RuleSet {
  const diagnostics = set.diagnostics;
  diagnostics.items.push(...values.diagnostics.items);
  const rules: Rule[] = [...set.detections, ...set.correlations];
  const disabled = new Set<string>();
  for (const o of values.overrides) {
    const targets = rules.filter((r) => r.id === o.key || r.name === o.key);
    if (targets.length === 0) {
      const guess = closest(
        o.key,
        rules.flatMap((r) => [r.id, r.name]).filter((x): x is string => x !== undefined),
      );
      diagnostics.add(
        'AW1604',
        `The override \`${o.key}\` names no loaded rule (by id or name); it is ignored.`,
        o.keySpan,
        guess ? { hint: `did you mean \`${guess}\`?` } : {},
      );
      continue;
    }
    for (const rule of targets) {
      for (const e of o.entries) {
        const problem = applyEntry(rule, e.name, e.value, disabled);
        if (problem)
          diagnostics.add('AW1603', problem.message, e.span, {
            rule: rule.title,
            ...(problem.hint ? { hint: problem.hint } : {}),
          });
      }
    }
  }
  const sources = new Map(set.sources);
  sources.set(values.source.path, values.source.text);
  if (disabled.size === 0) return { ...set, sources };
  const keep = <R extends Rule>(r: R) => !disabled.has(r.uid);
  const byUid = new Map([...set.byUid].filter(([uid]) => !disabled.has(uid)));
  return {
    ...set,
    detections: set.detections.filter(keep),
    correlations: set.correlations.filter(keep),
    alerting: new Set([...set.alerting].filter((uid) => !disabled.has(uid))),
    byUid,
    sources,
  };
}

function applyEntry(
  rule: Rule,
  name: string,
  value: unknown,
  disabled: Set<string>,
): { message: string; hint?: string } | undefined {
  switch (name) {
    case 'enabled':
      if (typeof value !== 'boolean') return { message: '`enabled` must be true or false.' };
      if (!value) disabled.add(rule.uid);
      return undefined;
    case 'level':
      if (!LEVELS.includes(value as Level)) return { message: `\`level\` must be one of ${LEVELS.join(', ')}.` };
      rule.level = value as Level;
      return undefined;
    case 'mode':
      if (value !== 'monitor' && value !== 'enforce') return { message: '`mode` must be monitor or enforce.' };
      rule.extensions.mode = value;
      return undefined;
    case 'suppress': {
      const spec =
        typeof value === 'string' ? { timespan: value } : (value as { timespan?: unknown; 'group-by'?: unknown });
      const ms = typeof spec?.timespan === 'string' ? parseTimespan(spec.timespan) : undefined;
      const groupBy = spec?.['group-by'];
      if (
        ms === undefined ||
        (groupBy !== undefined && !(Array.isArray(groupBy) && groupBy.every((g) => typeof g === 'string')))
      )
        return { message: '`suppress` must be a timespan such as 30m, or {timespan, group-by: [fields]}.' };
      rule.extensions.suppress = { timespanMs: ms, ...(groupBy ? { groupBy: groupBy as string[] } : {}) };
      return undefined;
    }
    case 'timespan': {
      if (rule.kind !== 'correlation') return { message: '`timespan` applies to correlation rules only.' };
      const ms = typeof value === 'string' ? parseTimespan(value) : undefined;
      if (ms === undefined) return { message: '`timespan` must be a number and a unit (s, m, h, d), such as 15m.' };
      rule.timespanMs = ms;
      return undefined;
    }
    case 'condition': {
      if (rule.kind !== 'correlation' || correlationKinds[rule.type].condition === 'none')
        return { message: '`condition` applies to correlation rules that count (event_count, value_count, …) only.' };
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return { message: '`condition` must be a mapping such as {gte: 20}.' };
      const condition: CountCondition = {};
      for (const [op, n] of Object.entries(value)) {
        if (!(OPERATORS as readonly string[]).includes(op)) {
          const guess = closest(op, OPERATORS);
          return {
            message: `\`${op}\` is not a condition operator.`,
            ...(guess ? { hint: `did you mean \`${guess}\`?` } : {}),
          };
        }
        if (typeof n !== 'number' || !Number.isFinite(n)) return { message: `\`${op}\` needs a number.` };
        condition[op as CountOperator] = n;
      }
      rule.condition = condition;
      return undefined;
    }
    case 'params': {
      const spec = rule.kind === 'correlation' ? correlationKinds[rule.type].params : undefined;
      if (rule.kind !== 'correlation' || !spec)
        return { message: '`params` applies to correlation rules that take parameters only.' };
      const known = spec.properties;
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return { message: '`params` must be a mapping.' };
      for (const [k, v] of Object.entries(value)) {
        const schema = known[k];
        if (!schema) {
          const guess = closest(k, Object.keys(known));
          return {
            message: `\`${k}\` is not a parameter of \`${rule.type}\`.`,
            ...(guess ? { hint: `did you mean \`${guess}\`?` } : {}),
          };
        }
        // Checked as the rule's own parameters are.
        const problem = paramProblem(rule.type, k, v);
        if (problem) return { message: problem };
        rule.params[k] = v;
      }
      return undefined;
    }
    default: {
      const guess = closest(name, OVERRIDE_KEYS);
      return { message: `\`${name}\` cannot be overridden.`, ...(guess ? { hint: `did you mean \`${guess}\`?` } : {}) };
    }
  }
}

/**
 * Loads rules the way every command does: the values file's placeholders feed `expand`, then
 * its overrides apply. No values file: the rules as written.
 */
export function loadRulesWithValues(paths: readonly string[], valuesPath?: string, options: LoadOptions = {}): RuleSet {
  const values = valuesPath ? loadValuesFile(valuesPath) : undefined;
  const set = loadRules(paths, {
    ...options,
    placeholders: values?.placeholders ?? options.placeholders,
    // A values file kept beside the rules (detections/values.yaml) is not a rule file.
    exclude: valuesPath ? [...(options.exclude ?? []), valuesPath] : options.exclude,
  });
  return values ? applyOverrides(set, values) : set;
}
