import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { isMap, isScalar, isSeq, type Node, type Scalar, type YAMLMap } from 'yaml';
import { closest, Diagnostics, type Span } from './diagnostics.js';
import * as ruleChecks from './ruleChecks.generated.js';
import { correlationKinds } from './correlations/registry.js';
import { fieldTree } from './fieldCatalog.js';
import {
  EXTENSION_CORRELATION_TYPES,
  LEVELS,
  SIGMA_CORRELATION_TYPES,
  SOURCE_TARGETS,
  TYPE_FIELDS,
  type CorrelationRule,
  type CorrelationType,
  type CountCondition,
  type CountOperator,
  type DetectionRule,
  type Extensions,
  type FilterRule,
  type Level,
  type Rule,
  type RuleTarget,
  type TestCase,
} from './model.js';
import { compileDetection } from './sigma/detection.js';
import { RegexBudget } from './sigma/regexBudget.js';
import { get, pairs, SourceFile, toJs } from './source.js';
import { MAX_DURATION_TEXT, parseTimespan, tooLong } from '../time/duration.js';

export interface LoadOptions {
  /** Values for `%name%` placeholders used with the `expand` modifier. */
  placeholders?: Readonly<Record<string, readonly string[]>>;
  /** Time regular expressions that need backtracking may take per rule and record, ms (25). */
  regexBudgetMs?: number;
  /** Time they may take per record across all rules, ms (100). */
  regexRecordBudgetMs?: number;
  /** Files that are not rules even where they sit among them (the values file): skipped. */
  exclude?: readonly string[];
  /**
   * Whether to read the rules' inline `tests:` (default true). Commands that only run rules
   * (`run`, `replay`) leave them unparsed, and so unchecked: they are most of a rule file's text.
   */
  inlineTests?: boolean;
}

/** Everything loaded from a set of paths, with every problem found on the way. */
export interface RuleSet {
  detections: DetectionRule[];
  correlations: CorrelationRule[];
  filters: FilterRule[];
  /** uids of the detection and correlation rules whose matches are alerts of their own. */
  alerting: ReadonlySet<string>;
  diagnostics: Diagnostics;
  /** Source text by path, for rendering diagnostics. */
  sources: ReadonlyMap<string, string>;
  byUid: ReadonlyMap<string, Rule>;
  /** The time budget of the rules' backtracking expressions; the engine starts it per record. */
  regexBudget: RegexBudget;
}

const SIGMA_KEYS = [
  'title',
  'id',
  'name',
  'related',
  'taxonomy',
  'status',
  'description',
  'license',
  'author',
  'references',
  'date',
  'modified',
  'logsource',
  'detection',
  'correlation',
  'filter',
  'fields',
  'falsepositives',
  'level',
  'tags',
  'scope',
  'generate',
];
const EXTENSION_KEYS = ['response', 'suppress', 'mode', 'tests', 'placeholders'];
const STATUSES = ['stable', 'test', 'experimental', 'deprecated', 'unsupported'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE = /^\d{4}[-/]\d{2}[-/]\d{2}$/;
const TAG = /^[a-z0-9_-]+\.[a-z0-9._-]+$/i;

/**
 * The checks of extension attributes and of each correlation type's parameters: ajv's code for
 * schemas/rule-extensions.schema.json and the registry's parameter schemas, compiled ahead by
 * scripts/schema-code.mjs (a unit test keeps it in step), so loading rules loads no compiler.
 */
const checks = ruleChecks as unknown as Record<string, ValidateFunction | undefined>;

/** Lists the rule files under the given paths: .yml and .yaml files, directories recursively, sorted. */
export function listRuleFiles(
  paths: readonly string[],
  diagnostics: Diagnostics,
  exclude: readonly string[] = [],
): string[] {
  const out: string[] = [];
  const skip = new Set(exclude.map((p) => resolve(p)));
  const visit = (path: string) => {
    if (skip.has(resolve(path))) return;
    let st;
    try {
      st = statSync(path);
    } catch (err) {
      diagnostics.add(
        'AW1002',
        `Cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`,
        fileStart(path),
      );
      return;
    }
    if (st.isDirectory()) {
      for (const entry of readdirSync(path).sort()) {
        if (entry.startsWith('.') || entry === 'node_modules') continue;
        const child = join(path, entry);
        if (statSync(child).isDirectory() || /\.ya?ml$/i.test(entry)) visit(child);
      }
    } else {
      out.push(path);
    }
  };
  for (const p of paths) visit(p);
  return out;
}

/**
 * Loads rules in passes, as Falco does: read every file, collect every document, compile,
 * then resolve references between rules. Every problem in every file is reported; a broken
 * rule is left out and the rest load.
 */
export function loadRules(paths: readonly string[], options: LoadOptions = {}): RuleSet {
  const diagnostics = new Diagnostics();
  const files: SourceFile[] = [];
  for (const path of listRuleFiles(paths, diagnostics, options.exclude)) {
    try {
      files.push(new SourceFile(path, readFileSync(path, 'utf8'), { inlineTests: options.inlineTests }));
    } catch (err) {
      diagnostics.add('AW1002', `Cannot read ${path}: ${(err as Error).message}.`, fileStart(path));
    }
  }
  return loadSources(files, diagnostics, options);
}

/** Loads rules from text already in memory (tests, the API). */
export function loadRuleText(path: string, text: string, options: LoadOptions = {}): RuleSet {
  return loadSources([new SourceFile(path, text, { inlineTests: options.inlineTests })], new Diagnostics(), options);
}

function fileStart(path: string): Span {
  return { file: path, start: { line: 1, column: 1 }, end: { line: 1, column: 2 } };
}

interface Collected {
  file: SourceFile;
  document: number;
  map: YAMLMap;
  rule?: Rule | FilterRule;
  /** Raw references, resolved in the last pass. */
  refs?: Array<{ text: string; node: Node }>;
  aliases?: Array<{ alias: string; ruleName: string; field: string; node: Node }>;
}

function loadSources(files: SourceFile[], diagnostics: Diagnostics, options: LoadOptions): RuleSet {
  const collected: Collected[] = [];
  const sources = new Map<string, string>();

  // Pass 1: read every document.
  for (const file of files) {
    sources.set(file.path, file.text);
    file.documents.forEach((doc, index) => {
      let broken = false;
      for (const e of doc.errors) {
        broken = true;
        // Point at the text, not at the indentation before it.
        let start = e.pos[0];
        while (start < file.text.length && /\s/.test(file.text[start]!)) start++;
        diagnostics.add('AW1001', yamlMessage(e.message), file.span(start, Math.max(e.pos[1], start + 1)));
      }
      if (broken) return;
      const contents = doc.contents as Node | null;
      if (contents === null || (isScalar(contents) && contents.value === null)) return; // empty document
      if (!isMap(contents)) {
        diagnostics.add(
          'AW1003',
          'A rule document must be a mapping of attributes (title, detection, …).',
          file.spanOf(contents),
        );
        return;
      }
      collected.push({ file, document: index, map: contents });
    });
  }

  // Pass 2: compile each document on its own; a document with any error is left out.
  const regexBudget = new RegexBudget(options.regexBudgetMs ?? 25, options.regexRecordBudgetMs ?? 100);
  const ctxBase = { placeholders: options.placeholders ?? {}, regexBudgetMs: regexBudget.perRuleMs, regexBudget };
  for (const c of collected) {
    const errorsBefore = diagnostics.errorCount;
    try {
      compileDocument(c, diagnostics, ctxBase);
    } catch (err) {
      // Ours, not the author's: report it where the rule is, and load the other rules.
      diagnostics.add(
        'AW1005',
        `authwatch failed while compiling this rule: ${(err as Error).message ?? String(err)}.`,
        c.file.spanOf(c.map),
        { hint: 'This is a bug of authwatch; the other rules are loaded. Please report it with the rule.' },
      );
    }
    if (diagnostics.errorCount > errorsBefore) c.rule = undefined;
  }

  // Pass 3: identities, references, filters, cycles.
  return { ...link(collected, diagnostics, sources), regexBudget };
}

function yamlMessage(message: string): string {
  const first = message.split('\n')[0]!.trim();
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

function compileDocument(
  c: Collected,
  diagnostics: Diagnostics,
  base: { placeholders: Readonly<Record<string, readonly string[]>>; regexBudgetMs: number; regexBudget: RegexBudget },
): void {
  const { file, map } = c;
  const has = (k: string) => get(map, k) !== undefined;
  const kind = has('correlation')
    ? 'correlation'
    : has('filter')
      ? 'filter'
      : has('detection')
        ? 'detection'
        : undefined;
  if (!kind) {
    const keys = pairs(map).map((p) => p.key);
    const guess = keys.map((k) => ({ k, g: closest(k, ['detection', 'correlation', 'filter']) })).find((x) => x.g);
    diagnostics.add(
      'AW1004',
      'This document has no `detection`, `correlation` or `filter` section, so it is no rule authwatch can load.',
      file.spanOf(map),
      {
        ...(guess ? { hint: `did you mean \`${guess.g}\` instead of \`${guess.k}\`?` } : {}),
      },
    );
    return;
  }

  const title = stringAttr(c, 'title', diagnostics, true) ?? '(untitled)';
  const id = stringAttr(c, 'id', diagnostics, false);
  const name = stringAttr(c, 'name', diagnostics, false);
  const label = id ? `${title} (${id})` : title;
  if (id !== undefined && !UUID.test(id)) {
    diagnostics.add('AW1103', `The id \`${id}\` is not a UUID.`, file.spanOf(get(map, 'id')!.value), {
      hint: 'Sigma ids are UUIDs; generate one with `uuidgen`.',
      rule: label,
    });
  }
  checkMetadata(c, diagnostics, label);

  // Replaced in the link pass for a rule without an id (see assignUids).
  const uid = id ?? `${file.path}#${c.document}`;
  const span = file.spanOf(get(map, 'title')?.keyNode ?? map);
  const extensions = compileExtensions(c, diagnostics, label);

  if (kind === 'correlation') {
    c.rule = compileCorrelation(c, diagnostics, { uid, id, name, title, label, span, extensions });
    return;
  }

  const logsource = logsourceOf(c, diagnostics, label);
  const target: RuleTarget = SOURCE_TARGETS.find((t) => t === logsource.product?.toLowerCase()) ?? 'canonical';
  warnOfUndecodedProduct(c, logsource, diagnostics, label);
  const sectionKey = kind === 'filter' ? 'filter' : 'detection';
  const section = get(map, sectionKey)!;
  if (!isMap(section.value)) {
    diagnostics.add(
      'AW1102',
      `\`${sectionKey}\` must be a mapping of search identifiers and a condition.`,
      file.spanOf(section.value ?? section.keyNode),
      { rule: label },
    );
    return;
  }
  let detectionMap = section.value;
  let refs: Array<{ text: string; node: Node }> | undefined;
  if (kind === 'filter') {
    const rules = get(detectionMap, 'rules');
    refs = rules ? stringList(rules.value, c, diagnostics, label, 'rules') : undefined;
    if (!refs || refs.length === 0) {
      diagnostics.add(
        'AW1501',
        'A filter needs `rules:`, the ids or names of the rules it applies to.',
        file.spanOf(rules?.value ?? section.keyNode),
        { rule: label },
      );
      return;
    }
    // The filter's own selections and condition, without `rules`.
    detectionMap = detectionMap.clone() as YAMLMap;
    detectionMap.delete('rules');
  }
  const defaults = declaredPlaceholders(c);
  const compiled = compileDetection(detectionMap, {
    file,
    diagnostics,
    rule: label,
    typeField: TYPE_FIELDS[target],
    fields: { target, tree: fieldTree(target) },
    // The values file wins over the rule's own defaults.
    placeholders: defaults.size === 0 ? base.placeholders : { ...Object.fromEntries(defaults), ...base.placeholders },
    declaredPlaceholders: new Set(defaults.keys()),
    regexBudgetMs: base.regexBudgetMs,
    regexBudget: base.regexBudget,
    ruleKey: id ?? title,
  });
  if (!compiled) return;
  if (kind === 'filter') {
    c.refs = refs;
    c.rule = {
      kind: 'filter',
      uid,
      ...(id ? { id } : {}),
      title,
      file: file.path,
      span,
      target,
      predicate: compiled.predicate,
      ruleRefs: refs!.map((r) => r.text),
    };
    return;
  }
  c.rule = {
    kind: 'detection',
    uid,
    ...(id ? { id } : {}),
    ...(name ? { name } : {}),
    title,
    ...descriptionOf(c),
    level: levelOf(c),
    ...statusOf(c),
    tags: tagsOf(c),
    file: file.path,
    document: c.document,
    span,
    extensions,
    target,
    logsource,
    predicate: compiled.predicate,
    typeValues: compiled.typeValues,
    filters: [],
  };
}

// ------------------------------------------------------------------------ attributes

function stringAttr(c: Collected, key: string, diagnostics: Diagnostics, required: boolean): string | undefined {
  const entry = get(c.map, key);
  if (!entry) {
    if (required)
      diagnostics.add('AW1101', `The rule has no \`${key}\`.`, c.file.spanOf(c.map), {
        hint: `Add \`${key}:\` to the rule.`,
      });
    return undefined;
  }
  const v = isScalar(entry.value) ? entry.value.value : undefined;
  if (typeof v === 'string' && v.trim() !== '') return v;
  if (typeof v === 'number' && key === 'id') return String(v);
  diagnostics.add('AW1102', `\`${key}\` must be a non-empty string.`, c.file.spanOf(entry.value ?? entry.keyNode));
  return undefined;
}

function checkMetadata(c: Collected, diagnostics: Diagnostics, rule: string): void {
  const { file, map } = c;
  const level = get(map, 'level');
  if (level) {
    const v = isScalar(level.value) ? level.value.value : undefined;
    if (typeof v !== 'string' || !(LEVELS as readonly string[]).includes(v)) {
      const guess = typeof v === 'string' ? closest(v, LEVELS) : undefined;
      diagnostics.add(
        'AW1106',
        `\`${String(v)}\` is not a level; levels are ${LEVELS.join(', ')}.`,
        file.spanOf(level.value ?? level.keyNode),
        {
          ...(guess ? { hint: `did you mean \`${guess}\`?` } : {}),
          rule,
        },
      );
    }
  }
  const status = get(map, 'status');
  if (status) {
    const v = isScalar(status.value) ? status.value.value : undefined;
    if (typeof v !== 'string' || !STATUSES.includes(v)) {
      diagnostics.add(
        'AW1107',
        `\`${String(v)}\` is not a Sigma status; statuses are ${STATUSES.join(', ')}.`,
        file.spanOf(status.value ?? status.keyNode),
        { rule },
      );
    }
  }
  const tags = get(map, 'tags');
  if (tags) {
    if (!isSeq(tags.value)) {
      diagnostics.add('AW1102', '`tags` must be a list of strings.', file.spanOf(tags.value ?? tags.keyNode), { rule });
    } else {
      for (const t of tags.value.items) {
        const v = isScalar(t) ? t.value : undefined;
        if (typeof v !== 'string' || !TAG.test(v)) {
          diagnostics.add(
            'AW1108',
            `The tag \`${String(v)}\` is not of the form \`namespace.value\` (e.g. \`attack.t1110\`).`,
            file.spanOf(t as Node),
            { rule },
          );
        }
      }
    }
  }
  for (const key of ['date', 'modified']) {
    const entry = get(map, key);
    if (!entry) continue;
    const v = isScalar(entry.value) ? String(entry.value.value) : '';
    if (!DATE.test(v)) {
      diagnostics.add(
        'AW1109',
        `\`${key}\` should be a date such as 2025-07-11; found \`${v}\`.`,
        file.spanOf(entry.value ?? entry.keyNode),
        { rule },
      );
    }
  }
  for (const { key, keyNode } of pairs(map)) {
    if (SIGMA_KEYS.includes(key) || EXTENSION_KEYS.includes(key)) continue;
    // Sigma allows custom attributes; only a near-miss of a known one is worth a word.
    const guess = closest(key, [...SIGMA_KEYS, ...EXTENSION_KEYS]);
    if (guess && guess !== key) {
      diagnostics.add(
        'AW1110',
        `\`${key}\` is not an attribute authwatch knows, so it is ignored.`,
        file.spanOf(keyNode),
        { hint: `did you mean \`${guess}\`?`, rule },
      );
    }
  }
}

function logsourceOf(c: Collected, diagnostics: Diagnostics, rule: string): Record<string, string> {
  const entry = get(c.map, 'logsource');
  if (!entry) {
    diagnostics.add('AW1101', 'The rule has no `logsource`.', c.file.spanOf(c.map), {
      hint: 'Add `logsource: {product: auth0}` (or okta, or authwatch for canonical events).',
      rule,
    });
    return {};
  }
  if (!isMap(entry.value)) {
    diagnostics.add(
      'AW1102',
      '`logsource` must be a mapping (product, category, service).',
      c.file.spanOf(entry.value ?? entry.keyNode),
      { rule },
    );
    return {};
  }
  const out: Record<string, string> = {};
  for (const { key, value } of pairs(entry.value)) {
    if (isScalar(value) && value.value !== null) out[key] = String(value.value);
  }
  return out;
}

/** The products a rule may name: the sources authwatch decodes, and `authwatch` for canonical events. */
const DECODED_PRODUCTS = [...SOURCE_TARGETS, 'authwatch'];

/**
 * A rule for a product authwatch decodes no records of (OneLogin, Duo, Azure) reads the
 * canonical event under names that product's records use, and silently never fires: say so.
 */
function warnOfUndecodedProduct(
  c: Collected,
  logsource: Record<string, string>,
  diagnostics: Diagnostics,
  rule: string,
): void {
  const product = logsource.product;
  if (product === undefined || DECODED_PRODUCTS.includes(product.toLowerCase())) return;
  const entry = get(c.map, 'logsource')?.value;
  const node = isMap(entry) ? get(entry, 'product')?.value : undefined;
  diagnostics.add(
    'AW1112',
    `authwatch decodes no \`${product}\` records: this rule reads authwatch's canonical events, which do not carry \`${product}\`'s own field names, so it may never fire.`,
    c.file.spanOf(node ?? entry ?? c.map),
    {
      hint: `Decoded sources are ${SOURCE_TARGETS.join(' and ')}; write \`product: authwatch\` for a rule on canonical events (\`type\`, \`user.name\`, \`ip\`, …).`,
      rule,
    },
  );
}

function levelOf(c: Collected): Level {
  const v = get(c.map, 'level')?.value;
  const s = isScalar(v) ? v.value : undefined;
  return typeof s === 'string' && (LEVELS as readonly string[]).includes(s) ? (s as Level) : 'medium';
}

function descriptionOf(c: Collected): { description?: string } {
  const v = get(c.map, 'description')?.value;
  return isScalar(v) && typeof v.value === 'string' ? { description: v.value.trim() } : {};
}

function statusOf(c: Collected): { status?: string } {
  const v = get(c.map, 'status')?.value;
  return isScalar(v) && typeof v.value === 'string' ? { status: v.value } : {};
}

function tagsOf(c: Collected): string[] {
  const v = get(c.map, 'tags')?.value;
  return isSeq(v) ? v.items.filter(isScalar).map((t) => String(t.value)) : [];
}

function stringList(
  node: Node | null,
  c: Collected,
  diagnostics: Diagnostics,
  rule: string,
  what: string,
): Array<{ text: string; node: Node }> | undefined {
  const items = isSeq(node) ? node.items : isScalar(node) ? [node] : undefined;
  if (!items || !items.every((i) => isScalar(i) && (typeof i.value === 'string' || typeof i.value === 'number'))) {
    diagnostics.add('AW1102', `\`${what}\` must be a list of strings.`, c.file.spanOf(node ?? c.map), { rule });
    return undefined;
  }
  return (items as Scalar[]).map((i) => ({ text: String(i.value), node: i }));
}

// ------------------------------------------------------------------------ extensions

/**
 * The rule's `placeholders:` defaults, when well formed (compileExtensions reports it when not).
 * Names are read as written; a value that is not a list of text declares nothing.
 */
function declaredPlaceholders(c: Collected): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const entry = get(c.map, 'placeholders');
  const value: unknown = entry ? toJs(entry.value) : undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [name, list] of Object.entries(value as Record<string, unknown>))
    if (Array.isArray(list) && list.every((v) => typeof v === 'string')) out.set(name, list as string[]);
  return out;
}

function compileExtensions(c: Collected, diagnostics: Diagnostics, rule: string): Extensions {
  const subset: Record<string, unknown> = {};
  for (const key of EXTENSION_KEYS) {
    const entry = get(c.map, key);
    if (entry) subset[key] = toJs(entry.value);
  }
  const ext: Extensions = { response: [], mode: 'monitor', tests: [] };
  const validateExtensions = checks.extensions!;
  if (!validateExtensions(subset)) {
    for (const e of pruneOneOf(validateExtensions.errors ?? [])) {
      const { node, path } = nodeAt(c.map, e.instancePath);
      const code = path[0] === 'tests' ? 'AW1602' : 'AW1601';
      diagnostics.add(code, `\`${path.join('.') || '(rule)'}\` ${describeAjv(e)}.`, c.file.spanOf(node), {
        ...(e.keyword === 'enum' ? enumHint(e, node) : {}),
        rule,
      });
    }
    return ext;
  }
  const s = subset as {
    response?: Extensions['response'];
    suppress?: string | { timespan: string; 'group-by'?: string[] };
    mode?: Extensions['mode'];
    tests?: Array<Omit<TestCase, 'span'>>;
  };
  if (s.response) ext.response = s.response;
  if (s.mode) ext.mode = s.mode;
  if (s.suppress !== undefined) {
    const timespan = typeof s.suppress === 'string' ? s.suppress : s.suppress.timespan;
    ext.suppress = { timespanMs: parseTimespan(timespan)! };
    if (typeof s.suppress === 'object' && s.suppress['group-by']) ext.suppress.groupBy = s.suppress['group-by'];
  }
  if (s.tests) {
    const testsNode = get(c.map, 'tests')!.value;
    ext.tests = s.tests.map((t, i) => ({
      ...t,
      span: c.file.spanOf(isSeq(testsNode) ? (testsNode.items[i] as Node) : testsNode),
    }));
  }
  return ext;
}

/** When a oneOf fails, ajv reports every branch; keep the most specific messages. */
function pruneOneOf(errors: ErrorObject[]): ErrorObject[] {
  const specific = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'type');
  const chosen = specific.length > 0 ? specific : errors;
  const seen = new Set<string>();
  return chosen.filter((e) => {
    const k = e.instancePath;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * What is wrong with the value of a parameter of a correlation type, in a sentence, or
 * undefined when it fits the type's schema (or the type has no such check).
 */
export function paramProblem(type: string, key: string, value: unknown): string | undefined {
  const check = checks[type];
  if (!check || check({ [key]: value })) return undefined;
  const error = check.errors?.find((e) => e.instancePath === `/${key}` || e.instancePath.startsWith(`/${key}/`));
  return error ? `\`${key}\` ${describeAjv(error)}.` : undefined;
}

function describeAjv(e: ErrorObject): string {
  switch (e.keyword) {
    case 'enum':
      return `must be one of ${(e.params.allowedValues as unknown[]).map((v) => `\`${String(v)}\``).join(', ')}`;
    case 'additionalProperties':
      return `has an unknown attribute \`${String(e.params.additionalProperty)}\``;
    case 'required':
      return `needs \`${String(e.params.missingProperty)}\``;
    case 'pattern':
      return 'must be a duration such as 30m, 1h or 7d';
    case 'format':
      return `is longer than the longest duration taken, ${MAX_DURATION_TEXT} (ten years)`;
    case 'minItems':
      return `must list at least ${String(e.params.limit)} item(s)`;
    default:
      return e.message ?? 'is invalid';
  }
}

function enumHint(e: ErrorObject, node: Node | null): { hint?: string } {
  const v = isScalar(node) ? node.value : undefined;
  if (typeof v !== 'string') return {};
  const guess = closest(v, (e.params.allowedValues as unknown[]).map(String));
  return guess ? { hint: `did you mean \`${guess}\`?` } : {};
}

/** The YAML node an ajv instancePath points at, for a precise position. */
function nodeAt(map: YAMLMap, instancePath: string): { node: Node | null; path: string[] } {
  const path = instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node: Node | null = map;
  for (const step of path) {
    if (isMap(node)) node = get(node, step)?.value ?? node;
    else if (isSeq(node)) node = (node.items[Number(step)] as Node | undefined) ?? node;
    else break;
  }
  return { node, path };
}

// ---------------------------------------------------------------------- correlations

const COUNT_OPERATORS: readonly CountOperator[] = ['gt', 'gte', 'lt', 'lte', 'eq', 'neq'];

function compileCorrelation(
  c: Collected,
  diagnostics: Diagnostics,
  meta: {
    uid: string;
    id: string | undefined;
    name: string | undefined;
    title: string;
    label: string;
    span: Span;
    extensions: Extensions;
  },
): CorrelationRule | undefined {
  const { file } = c;
  const rule = meta.label;
  const section = get(c.map, 'correlation')!;
  if (!isMap(section.value)) {
    diagnostics.add(
      'AW1102',
      '`correlation` must be a mapping (type, rules, group-by, timespan, condition).',
      file.spanOf(section.value ?? section.keyNode),
      { rule },
    );
    return undefined;
  }
  const corr = section.value;
  const errorsBefore = diagnostics.errorCount;
  const missing = (key: string, why = '') =>
    diagnostics.add('AW1402', `The correlation has no \`${key}\`${why}.`, file.spanOf(section.keyNode), {
      hint: `Add \`${key}:\` under \`correlation:\`.`,
      rule,
    });

  const typeEntry = get(corr, 'type');
  const typeText = isScalar(typeEntry?.value) ? String(typeEntry.value.value) : undefined;
  const allTypes: readonly string[] = [...SIGMA_CORRELATION_TYPES, ...EXTENSION_CORRELATION_TYPES];
  if (!typeEntry) {
    missing('type');
    return undefined;
  }
  if (typeText === undefined || !allTypes.includes(typeText)) {
    const guess = typeText ? closest(typeText, allTypes) : undefined;
    diagnostics.add(
      'AW1401',
      `\`${String(typeText)}\` is not a correlation type.`,
      file.spanOf(typeEntry.value ?? typeEntry.keyNode),
      {
        hint: guess ? `did you mean \`${guess}\`?` : `types: ${allTypes.join(', ')}`,
        rule,
      },
    );
    return undefined;
  }
  const type = typeText as CorrelationType;
  const spec = correlationKinds[type];

  const rulesEntry = get(corr, 'rules');
  const refs = rulesEntry ? stringList(rulesEntry.value, c, diagnostics, rule, 'rules') : undefined;
  if (!rulesEntry) missing('rules', ', the rules whose matches it correlates');
  else if (refs && refs.length === 0) missing('rules', ' entries');
  else if (refs && type === 'conversion' && refs.length !== 2)
    diagnostics.add(
      'AW1402',
      `A \`conversion\` correlation refers to two rules, the attempts and then the completions; this one lists ${refs.length}.`,
      file.spanOf(rulesEntry.value ?? rulesEntry.keyNode),
      { rule },
    );

  const groupEntry = get(corr, 'group-by');
  let groupBy: string[] = [];
  if (groupEntry) groupBy = (stringList(groupEntry.value, c, diagnostics, rule, 'group-by') ?? []).map((g) => g.text);
  else if (spec.groupBy === 'required') missing('group-by', ' (the fields that define a group, e.g. data.ip)');

  const timespanEntry = get(corr, 'timespan');
  let timespanMs = 0;
  if (timespanEntry) {
    const text = isScalar(timespanEntry.value) ? String(timespanEntry.value.value) : '';
    const ms = parseTimespan(text);
    if (ms === undefined) {
      diagnostics.add(
        'AW1403',
        tooLong(text)
          ? `\`${text}\` is longer than the longest timespan taken, ${MAX_DURATION_TEXT} (ten years).`
          : `\`${text}\` is not a timespan.`,
        file.spanOf(timespanEntry.value ?? timespanEntry.keyNode),
        {
          hint: 'Write a number and a lower-case unit: 30s, 10m, 1h, 7d (90m for an hour and a half).',
          rule,
        },
      );
    } else timespanMs = ms;
  } else if (spec.condition !== 'none' || type === 'new_value') {
    missing('timespan');
  }

  const condition: CountCondition = {};
  let field: string[] | undefined;
  let fieldNode: Node | null = null;
  const conditionEntry = get(corr, 'condition');
  if (conditionEntry) {
    if (!isMap(conditionEntry.value)) {
      diagnostics.add(
        'AW1404',
        'The correlation `condition` must be a mapping such as `gte: 10`.',
        file.spanOf(conditionEntry.value ?? conditionEntry.keyNode),
        { rule },
      );
    } else {
      for (const { key, keyNode, value } of pairs(conditionEntry.value)) {
        if (key === 'field') {
          fieldNode = keyNode;
          const list = stringList(value, c, diagnostics, rule, 'field');
          if (list) field = list.map((f) => f.text);
          continue;
        }
        if (!(COUNT_OPERATORS as readonly string[]).includes(key)) {
          const guess = closest(key, [...COUNT_OPERATORS, 'field']);
          diagnostics.add(
            'AW1404',
            `\`${key}\` is not a condition operator; operators are ${COUNT_OPERATORS.join(', ')}.`,
            file.spanOf(keyNode),
            {
              ...(guess ? { hint: `did you mean \`${guess}\`?` } : {}),
              rule,
            },
          );
          continue;
        }
        const n = isScalar(value) ? value.value : undefined;
        if (typeof n !== 'number' || !Number.isFinite(n)) {
          diagnostics.add('AW1404', `\`${key}\` needs a number.`, file.spanOf(value ?? keyNode), { rule });
          continue;
        }
        condition[key as CountOperator] = n;
      }
      if (Object.keys(condition).length === 0 && spec.condition !== 'none') {
        diagnostics.add(
          'AW1404',
          'The correlation `condition` has no operator (gt, gte, lt, lte, eq, neq).',
          file.spanOf(conditionEntry.value),
          { rule },
        );
      }
    }
  } else if (spec.condition === 'required') {
    missing('condition', ', the threshold (e.g. `gte: 10`)');
  }
  // The extension types that watch one value take `field` directly under `correlation:`.
  const directField = get(corr, 'field');
  if (directField && !field)
    field = (stringList(directField.value, c, diagnostics, rule, 'field') ?? []).map((f) => f.text);
  if (spec.field === 'required' && (!field || field.length === 0)) {
    diagnostics.add(
      'AW1407',
      `This \`${type}\` correlation needs \`field\`, the field whose values it ${type === 'value_count' ? 'counts' : 'reads'}.`,
      file.spanOf(conditionEntry?.value ?? section.keyNode),
      {
        hint:
          type.startsWith('value_') && type !== 'value_change'
            ? 'Add `field: <name>` under `condition:`.'
            : 'Add `field: <name>` under `correlation:`.',
        rule,
      },
    );
  } else if (spec.field === 'ignored' && field) {
    diagnostics.add(
      'AW1406',
      `This \`${type}\` correlation does not use \`field\`; authwatch ignores it.`,
      file.spanOf(fieldNode ?? directField?.keyNode ?? section.keyNode),
      {
        hint:
          type === 'event_count'
            ? 'To count distinct values of the field, use `type: value_count`.'
            : 'Remove `field`.',
        rule,
      },
    );
    field = undefined;
  }

  // Type-specific parameters of the extension types.
  const params: Record<string, unknown> = {};
  const known = new Set(['type', 'rules', 'group-by', 'timespan', 'condition', 'aliases', 'generate', 'field']);
  for (const { key, keyNode, value } of pairs(corr)) {
    if (known.has(key)) continue;
    const schema = spec.params?.properties[key] as
      { type?: string; pattern?: string; exclusiveMinimum?: number; minimum?: number } | undefined;
    if (!schema) {
      const guess = closest(key, [...known, ...Object.keys(spec.params?.properties ?? {})]);
      diagnostics.add('AW1601', `\`${key}\` is not an attribute of a \`${type}\` correlation.`, file.spanOf(keyNode), {
        ...(guess ? { hint: `did you mean \`${guess}\`?` } : {}),
        rule,
      });
      continue;
    }
    const v = toJs(value);
    const problem = paramProblem(type, key, v);
    if (problem) {
      diagnostics.add('AW1601', problem, file.spanOf(value ?? keyNode), { rule });
      continue;
    }
    params[key] = v;
  }
  for (const req of spec.params?.required ?? []) {
    if (!get(corr, req)) missing(req); // present but invalid: reported above
  }

  const aliases: Collected['aliases'] = [];
  const aliasesEntry = get(corr, 'aliases');
  if (aliasesEntry) {
    if (!isMap(aliasesEntry.value)) {
      diagnostics.add(
        'AW1408',
        '`aliases` must map alias names to `{rule name: field}` mappings.',
        file.spanOf(aliasesEntry.value ?? aliasesEntry.keyNode),
        { rule },
      );
    } else {
      for (const { key: alias, value } of pairs(aliasesEntry.value)) {
        if (!isMap(value)) {
          diagnostics.add(
            'AW1408',
            `The alias \`${alias}\` must map rule names to field names.`,
            file.spanOf(value ?? aliasesEntry.value),
            { rule },
          );
          continue;
        }
        for (const { key: ruleName, keyNode, value: f } of pairs(value)) {
          if (!isScalar(f) || typeof f.value !== 'string') {
            diagnostics.add(
              'AW1408',
              `The alias \`${alias}\` needs a field name for \`${ruleName}\`.`,
              file.spanOf(f ?? keyNode),
              { rule },
            );
            continue;
          }
          aliases.push({ alias, ruleName, field: f.value, node: keyNode });
        }
      }
    }
  }

  let generate = false;
  const generateEntry = get(c.map, 'generate') ?? get(corr, 'generate');
  if (generateEntry) {
    const v = isScalar(generateEntry.value) ? generateEntry.value.value : undefined;
    if (typeof v !== 'boolean')
      diagnostics.add(
        'AW1102',
        '`generate` must be true or false.',
        file.spanOf(generateEntry.value ?? generateEntry.keyNode),
        { rule },
      );
    else generate = v;
  }

  if (diagnostics.errorCount > errorsBefore || !refs) return undefined;
  c.refs = refs;
  c.aliases = aliases;
  return {
    kind: 'correlation',
    uid: meta.uid,
    ...(meta.id ? { id: meta.id } : {}),
    ...(meta.name ? { name: meta.name } : {}),
    title: meta.title,
    ...descriptionOf(c),
    level: levelOf(c),
    ...statusOf(c),
    tags: tagsOf(c),
    file: file.path,
    document: c.document,
    span: meta.span,
    extensions: meta.extensions,
    type,
    rules: [],
    groupBy,
    aliases: {},
    timespanMs,
    condition,
    ...(field ? { field } : {}),
    generate,
    params,
  };
}

// ------------------------------------------------------------------------------ link

function link(
  collected: Collected[],
  diagnostics: Diagnostics,
  sources: Map<string, string>,
): Omit<RuleSet, 'regexBudget'> {
  const byId = new Map<string, Collected>();
  const byFileName = new Map<string, Map<string, Collected>>();
  const byName = new Map<string, Collected[]>();

  for (const c of collected) {
    const idEntry = get(c.map, 'id');
    const id = isScalar(idEntry?.value) ? String(idEntry.value.value) : undefined;
    if (id !== undefined && c.rule) {
      const prior = byId.get(id);
      if (prior) {
        diagnostics.add(
          'AW1104',
          `The id \`${id}\` is already used by the rule at ${prior.file.path}:${prior.file.spanOf(prior.map).start.line}.`,
          c.file.spanOf(idEntry!.value),
          {
            hint: 'Every rule needs its own id; generate a new UUID for one of them.',
          },
        );
        c.rule = undefined;
        continue;
      }
      byId.set(id, c);
    }
    const nameEntry = get(c.map, 'name');
    const name = isScalar(nameEntry?.value) ? String(nameEntry.value.value) : undefined;
    if (name !== undefined) {
      const names = byFileName.get(c.file.path) ?? new Map<string, Collected>();
      byFileName.set(c.file.path, names);
      if (names.has(name)) {
        diagnostics.add(
          'AW1105',
          `The name \`${name}\` is already used by another rule in this file.`,
          c.file.spanOf(nameEntry!.value),
          { hint: 'Names are unique per file; rename one of them.' },
        );
        c.rule = undefined;
        continue;
      }
      names.set(name, c);
      byName.set(name, [...(byName.get(name) ?? []), c]);
    }
  }

  // A name is looked up in the referring file first (the Auth0 catalog reuses
  // `selected_events` in many files), then as an id, then as a name unique across files.
  const resolve = (
    from: Collected,
    ref: { text: string; node: Node },
    rule: string,
    consequence: string,
  ): Collected | undefined => {
    const local = byFileName.get(from.file.path)?.get(ref.text);
    if (local) return local;
    const viaId = byId.get(ref.text);
    if (viaId) return viaId;
    const global = byName.get(ref.text) ?? [];
    if (global.length === 1) return global[0];
    if (global.length > 1) {
      diagnostics.add(
        'AW1410',
        `\`${ref.text}\` names rules in ${global.length} files: ${global.map((g) => g.file.path).join(', ')}.`,
        from.file.spanOf(ref.node),
        {
          hint: 'Refer to the rule by its id, or keep the correlation in the same file as the rule.',
          rule,
        },
      );
      return undefined;
    }
    diagnostics.add(
      'AW1405',
      `No loaded rule has the id or name \`${ref.text}\`; ${consequence}`,
      from.file.spanOf(ref.node),
      {
        ...(closestName(ref.text, byFileName.get(from.file.path), byId) ?? {}),
        rule,
      },
    );
    return undefined;
  };

  // Every reference is resolved once, before the uids: a correlation's uid covers the rules
  // it resolved to.
  const targets = new Map<Collected, Array<Collected | undefined>>();
  for (const c of collected) {
    const r = c.rule;
    if (!r || !c.refs) continue;
    const consequence =
      r.kind === 'correlation'
        ? `the correlation \`${r.title}\` is disabled until that rule loads, since over its other rules alone it would match more than it says.`
        : 'this reference matches nothing until that rule is loaded.';
    targets.set(
      c,
      c.refs.map((ref) => resolve(c, ref, r.title, consequence)),
    );
  }
  assignUids(collected, targets);

  const byUid = new Map<string, Rule>();
  const firstWith = new Map<string, Collected>();
  for (const c of collected) {
    if (!c.rule || c.rule.kind === 'filter') continue;
    const prior = firstWith.get(c.rule.uid);
    if (prior) {
      diagnostics.add(
        'AW1111',
        `This rule has no id and the same content as the rule at ${prior.file.path}:${prior.file.spanOf(prior.map).start.line}, so it is loaded once.`,
        c.file.spanOf(c.map),
        { hint: 'Delete one copy, or give each its own id if both are meant to run.', rule: c.rule.title },
      );
      continue;
    }
    firstWith.set(c.rule.uid, c);
    byUid.set(c.rule.uid, c.rule);
  }
  const titles = new Map([...byUid].map(([uid, r]) => [uid, r.title]));

  const filters: FilterRule[] = [];
  const nonGenerating = new Set<string>();
  const generating = new Set<string>();
  for (const c of collected) {
    const r = c.rule;
    if (!r || !c.refs) continue;
    if (firstWith.get(r.uid) !== c && r.kind !== 'filter') continue;
    if (r.kind === 'correlation') {
      const resolved = targets.get(c)!.filter((x): x is Collected => x?.rule !== undefined);
      r.rules = resolved.map((x) => (x.rule as Rule).uid);
      // The rules it names stay quiet even while it is disabled: a typo in a
      // correlation must not turn its building blocks into alerts of their own.
      for (const uid of r.rules) (r.generate ? generating : nonGenerating).add(uid);
      if (resolved.length < c.refs.length) {
        byUid.delete(r.uid);
        continue;
      }
      for (const a of c.aliases ?? []) {
        const target = resolved.find((x) => (x.rule as Rule).name === a.ruleName || (x.rule as Rule).id === a.ruleName);
        if (!target) {
          diagnostics.add(
            'AW1408',
            `The alias \`${a.alias}\` names \`${a.ruleName}\`, which is not one of this correlation's rules.`,
            c.file.spanOf(a.node),
            { rule: r.title },
          );
          byUid.delete(r.uid);
          continue;
        }
        (r.aliases[a.alias] ??= {})[(target.rule as Rule).uid] = a.field;
      }
    } else if (r.kind === 'filter') {
      filters.push(r);
      for (const target of targets.get(c)!) {
        const rule = target?.rule && byUid.get(target.rule.uid);
        if (rule?.kind === 'detection' && !rule.filters.includes(r)) rule.filters.push(r);
      }
    }
  }

  // Cycles in correlation chains would never resolve; report each once.
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (uid: string, stack: string[]): void => {
    const r = byUid.get(uid);
    if (!r || r.kind !== 'correlation' || state.get(uid) === 'done') return;
    if (state.get(uid) === 'visiting') {
      const cycle = stack.slice(stack.indexOf(uid));
      diagnostics.add(
        'AW1409',
        `The correlation chain ${[...cycle, uid].map((u) => `\`${byUid.get(u)?.title ?? u}\``).join(' → ')} refers back to itself.`,
        r.span,
        { rule: r.title },
      );
      for (const u of cycle) byUid.delete(u);
      return;
    }
    state.set(uid, 'visiting');
    for (const child of r.rules) visit(child, [...stack, uid]);
    state.set(uid, 'done');
  };
  for (const uid of [...byUid.keys()]) visit(uid, []);

  // A correlation over one that did not load (a cycle, a bad alias, a missing
  // reference) is disabled in turn, down the chain.
  for (let changed = true; changed;) {
    changed = false;
    for (const r of [...byUid.values()]) {
      if (r.kind !== 'correlation') continue;
      const missing = r.rules.find((uid) => !byUid.has(uid));
      if (missing === undefined) continue;
      diagnostics.add(
        'AW1411',
        `The correlation \`${r.title}\` is disabled: it builds on \`${titles.get(missing) ?? missing}\`, which did not load.`,
        r.span,
        { rule: r.title },
      );
      byUid.delete(r.uid);
      changed = true;
    }
  }

  const detections = [...byUid.values()].filter((r): r is DetectionRule => r.kind === 'detection');
  const correlations = [...byUid.values()].filter((r): r is CorrelationRule => r.kind === 'correlation');
  // Sigma: a rule referenced by a correlation does not alert on its own unless a
  // referencing correlation says `generate: true`.
  const alerting = new Set([...byUid.keys()].filter((uid) => generating.has(uid) || !nonGenerating.has(uid)));
  return { detections, correlations, filters, alerting, diagnostics, sources, byUid };
}

/**
 * A rule's uid is its `id`; a rule without one gets an id derived from what it says, never
 * from where it sits, so moving or renaming its file keeps its alerts' ids: a UUID (version
 * 8) hashed from the document's content (comments, layout and inline tests aside) and, for a
 * correlation, from the uids of the rules it resolved to (the same `rules: [selected_events]`
 * means a different rule in each catalog file). Editing the rule changes the derived id; an
 * `id` keeps it through edits.
 */
function assignUids(collected: Collected[], targets: Map<Collected, Array<Collected | undefined>>): void {
  const done = new Map<Collected, string>();
  const visiting = new Set<Collected>();
  const uidOf = (c: Collected): string => {
    const known = done.get(c);
    if (known !== undefined) return known;
    const rule = c.rule!;
    if (rule.id !== undefined) {
      done.set(c, rule.id);
      return rule.id;
    }
    visiting.add(c);
    const refs = (targets.get(c) ?? []).map((t) => (t?.rule && !visiting.has(t) ? uidOf(t) : null));
    visiting.delete(c);
    // Inline tests aside: they say what the rule should do, not what it does, and commands that
    // only run rules do not read them (LoadOptions.inlineTests).
    const { tests: _tests, ...said } = toJs(c.map) as Record<string, unknown>;
    const uid = contentUuid(canonicalJson({ rule: said, refs }));
    done.set(c, uid);
    return uid;
  };
  for (const c of collected) if (c.rule) c.rule.uid = uidOf(c);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

function contentUuid(text: string): string {
  const b = createHash('sha256').update('authwatch rule\u0000').update(text).digest();
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function closestName(
  text: string,
  local: Map<string, Collected> | undefined,
  byId: Map<string, Collected>,
): { hint: string } | undefined {
  const guess = closest(text, [...(local?.keys() ?? []), ...byId.keys()]);
  return guess ? { hint: `did you mean \`${guess}\`?` } : undefined;
}
