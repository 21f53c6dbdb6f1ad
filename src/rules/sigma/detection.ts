import { isMap, isScalar, isSeq, type Node, type Scalar, type YAMLMap } from 'yaml';
import { closest, type Diagnostics } from '../diagnostics.js';
import { lookupField, type FieldTree } from '../fieldCatalog.js';
import type { Doc, Predicate, RuleTarget } from '../model.js';
import { pairs, type SourceFile } from '../source.js';
import { parseCidr } from './cidr.js';
import { parseCondition, type ConditionNode } from './condition.js';
import type { RegexBudget } from './regexBudget.js';
import {
  base64,
  base64Offsets,
  bytesToBinaryString,
  utf16be,
  utf16le,
  utf16WithBom,
  utf8,
  type Bytes,
} from './encodings.js';
import { compileAccessor, parseFieldPath, type Accessor } from './fieldPath.js';
import { compileGlob, hasWildcards, parseSigmaString, tokensToText, type SigmaToken } from './glob.js';
import { MODIFIER_NAMES, isModifier, modifierKinds, type Modifier } from './modifiers.js';
import { compileSafeRegex } from './safeRegex.js';
import { timePart, toEpochMs, type TimePart } from './timeParts.js';
import { normalizeWindash } from './windash.js';

export interface DetectionContext {
  file: SourceFile;
  diagnostics: Diagnostics;
  /** The rule's title or id, attached to every diagnostic. */
  rule: string;
  /** The field the rule index keys on for this rule's target (`type`, `data.type`, `eventType`). */
  typeField: string;
  /** The fields the rule's records can carry: paths outside them warn (AW1214), and take the records' case. */
  fields?: { target: RuleTarget; tree: FieldTree };
  /** Values for `%name%` placeholders of the `expand` modifier. */
  placeholders: Readonly<Record<string, readonly string[]>>;
  /**
   * Placeholders the rule declares itself (`placeholders:`), defaults included in
   * `placeholders`: one left empty is off until the values file fills it, without a warning.
   */
  declaredPlaceholders?: ReadonlySet<string>;
  /** Time budget per value for regular expressions that need backtracking. */
  regexBudgetMs: number;
  /** The shared budget of such expressions per rule and per record (see RegexBudget). */
  regexBudget?: RegexBudget;
  /** What budget exhaustions are counted under: the rule's id, else its title. */
  ruleKey?: string;
  /** Set while compiling when the rule holds an expression that runs under the budget. */
  budgeted?: boolean;
}

export interface CompiledDetection {
  predicate: Predicate;
  typeValues: ReadonlySet<string> | null;
}

/** A compiled search identifier (a selection or a keyword list). */
interface Selection {
  predicate: Predicate;
  typeValues: ReadonlySet<string> | null;
  /** How the selection combines its parts, kept so the condition can be generated as one function. */
  parts?: { op: 'and' | 'or'; of: Selection[] };
}

type Scalarish = string | number | boolean | null;
type ElementTest = (element: unknown) => boolean;

const NEVER: Predicate = () => false;

/**
 * Compiles a rule's `detection` mapping into one predicate, reporting every problem it finds.
 * Returns undefined when the detection has errors (the diagnostics say why).
 */
export function compileDetection(detection: YAMLMap, ctx: DetectionContext): CompiledDetection | undefined {
  const errorsBefore = ctx.diagnostics.errorCount;
  const selections = new Map<string, Selection>();
  const selectionKeys = new Map<string, Scalar>();
  let conditionNode: Node | null | undefined;
  let conditionKey: Scalar | undefined;

  for (const { key, keyNode, value } of pairs(detection)) {
    if (key === 'condition') {
      conditionNode = value;
      conditionKey = keyNode;
      continue;
    }
    if (key === 'timeframe') {
      ctx.diagnostics.add(
        'AW1304',
        'The `timeframe` attribute belongs to the old Sigma aggregation syntax, which authwatch does not run.',
        ctx.file.spanOf(keyNode),
        {
          hint: 'Write a correlation rule with a `timespan` instead.',
          rule: ctx.rule,
        },
      );
      continue;
    }
    selectionKeys.set(key, keyNode);
    const selection = compileSearchIdentifier(key, keyNode, value, ctx);
    if (selection) selections.set(key, selection);
  }

  if (conditionNode === undefined) {
    ctx.diagnostics.add('AW1201', 'The detection has no `condition`.', ctx.file.spanOf(detection), {
      hint: 'Add `condition: selection` (naming your search identifiers) to the detection.',
      rule: ctx.rule,
    });
    return undefined;
  }

  const used = new Set<string>();
  const conditions: Array<{ node: Scalar; text: string }> = [];
  if (isScalar(conditionNode) && typeof conditionNode.value === 'string') {
    conditions.push({ node: conditionNode, text: conditionNode.value });
  } else if (
    isSeq(conditionNode) &&
    conditionNode.items.length > 0 &&
    conditionNode.items.every((i) => isScalar(i) && typeof i.value === 'string')
  ) {
    for (const item of conditionNode.items as Scalar[]) conditions.push({ node: item, text: item.value as string });
  } else {
    ctx.diagnostics.add(
      'AW1102',
      'The `condition` must be a string, or a list of strings.',
      ctx.file.spanOf(conditionNode ?? conditionKey),
      { rule: ctx.rule },
    );
    return undefined;
  }

  const compiled: Selection[] = [];
  let allParsed = true;
  for (const { node, text } of conditions) {
    const parsed = parseCondition(text);
    if (!parsed.ast) allParsed = false;
    for (const e of parsed.errors) {
      ctx.diagnostics.add(e.code, e.message, ctx.file.spanInScalar(node, e.start, Math.max(1, e.end - e.start)), {
        ...(e.hint !== undefined ? { hint: e.hint } : {}),
        rule: ctx.rule,
      });
    }
    if (!parsed.ast) continue;
    const c = compileCondition(parsed.ast, selections, selectionKeys, used, node, ctx);
    if (c) compiled.push(c);
  }

  // Unused identifiers are only known once every condition parsed.
  for (const [name, keyNode] of allParsed ? selectionKeys : []) {
    if (!used.has(name)) {
      ctx.diagnostics.add(
        'AW1305',
        `The search identifier \`${name}\` is not used by the condition.`,
        ctx.file.spanOf(keyNode),
        {
          hint: 'Use it in the condition or remove it.',
          rule: ctx.rule,
        },
      );
    }
  }

  if (ctx.diagnostics.errorCount > errorsBefore || compiled.length === 0) return undefined;
  const result =
    compiled.length === 1
      ? compiled[0]!
      : { predicate: anyOf(compiled.map((c) => c.predicate)), typeValues: unionTypes(compiled) };
  const budget = ctx.regexBudget;
  if (!ctx.budgeted || !budget) return result;
  // Only rules holding a budgeted expression pay for the bookkeeping.
  const inner = result.predicate;
  const key = ctx.ruleKey ?? ctx.rule;
  return {
    typeValues: result.typeValues,
    predicate: (doc) => {
      budget.beginRule(key);
      return inner(doc);
    },
  };
}

// ------------------------------------------------------------------------- condition

function compileCondition(
  ast: ConditionNode,
  selections: Map<string, Selection>,
  keys: Map<string, Scalar>,
  used: Set<string>,
  node: Scalar,
  ctx: DetectionContext,
): Selection | undefined {
  let ok = true;
  const span = (n: ConditionNode) => ctx.file.spanInScalar(node, n.start, Math.max(1, n.end - n.start));

  const walk = (n: ConditionNode): Selection => {
    switch (n.kind) {
      case 'ref': {
        used.add(n.name);
        const s = selections.get(n.name);
        if (s) return s;
        if (!keys.has(n.name)) {
          ok = false;
          const guess = closest(n.name, keys.keys());
          ctx.diagnostics.add(
            'AW1302',
            `The condition names \`${n.name}\`, which is not a search identifier of this detection.`,
            span(n),
            {
              ...(guess
                ? { hint: `did you mean \`${guess}\`?` }
                : { hint: `defined: ${[...keys.keys()].map((k) => `\`${k}\``).join(', ') || 'none'}` }),
              rule: ctx.rule,
            },
          );
        }
        return { predicate: NEVER, typeValues: null };
      }
      case 'quantified': {
        const names = matchPattern(n.pattern, [...keys.keys()]);
        for (const name of names) used.add(name);
        if (names.length === 0) {
          ok = false;
          ctx.diagnostics.add('AW1303', `\`${n.pattern}\` matches no search identifier of this detection.`, span(n), {
            hint:
              n.pattern === 'them'
                ? 'Identifiers starting with `_` are left out of `them`.'
                : `defined: ${[...keys.keys()].map((k) => `\`${k}\``).join(', ') || 'none'}`,
            rule: ctx.rule,
          });
          return { predicate: NEVER, typeValues: null };
        }
        const parts = names.map((name) => selections.get(name) ?? { predicate: NEVER, typeValues: null });
        return n.quantifier === 'one'
          ? { predicate: anyOf(parts.map((p) => p.predicate)), typeValues: unionTypes(parts) }
          : { predicate: allOf(parts.map((p) => p.predicate)), typeValues: intersectTypes(parts) };
      }
      case 'not': {
        const inner = walk(n.operand).predicate;
        return { predicate: (doc) => !inner(doc), typeValues: null };
      }
      case 'and': {
        const l = walk(n.left);
        const r = walk(n.right);
        const lp = l.predicate;
        const rp = r.predicate;
        return { predicate: (doc) => lp(doc) && rp(doc), typeValues: intersectTypes([l, r]) };
      }
      case 'or': {
        const l = walk(n.left);
        const r = walk(n.right);
        const lp = l.predicate;
        const rp = r.predicate;
        return { predicate: (doc) => lp(doc) || rp(doc), typeValues: unionTypes([l, r]) };
      }
    }
  };
  const result = walk(ast);
  if (!ok) return undefined;
  return { predicate: generatePredicate(ast, selections, keys), typeValues: result.typeValues };
}

/**
 * Writes the whole condition, selections included, as one function per rule: the leaf tests
 * (one per field item) are called from call sites of this rule's own, which V8 can inline,
 * where shared `a(doc) && b(doc)` closures would see every rule's tests at one site.
 */
function generatePredicate(
  ast: ConditionNode,
  selections: Map<string, Selection>,
  keys: Map<string, Scalar>,
): Predicate {
  const table: Predicate[] = [];
  const leaf = (p: Predicate) => `t[${table.push(p) - 1}](doc)`;
  const sel = (s: Selection): string =>
    s.parts ? `(${s.parts.of.map(sel).join(s.parts.op === 'and' ? ' && ' : ' || ')})` : leaf(s.predicate);
  const never = () => leaf(NEVER);
  const expr = (n: ConditionNode): string => {
    switch (n.kind) {
      case 'ref': {
        const s = selections.get(n.name);
        return s ? sel(s) : never();
      }
      case 'quantified': {
        const names = matchPattern(n.pattern, [...keys.keys()]);
        const parts = names.map((name) => selections.get(name)).map((s) => (s ? sel(s) : never()));
        return `(${parts.join(n.quantifier === 'one' ? ' || ' : ' && ')})`;
      }
      case 'not':
        return `!${expr(n.operand)}`;
      case 'and':
        return `(${expr(n.left)} && ${expr(n.right)})`;
      case 'or':
        return `(${expr(n.left)} || ${expr(n.right)})`;
    }
  };
  const body = expr(ast);
  return new Function('t', `'use strict';\nreturn function rule(doc) {\n  return ${body};\n};`)(table) as Predicate;
}

/** `them` is every identifier not starting with `_`; `sel*` a wildcard over identifiers. */
function matchPattern(pattern: string, names: string[]): string[] {
  if (pattern.toLowerCase() === 'them') return names.filter((n) => !n.startsWith('_'));
  if (!pattern.includes('*')) return names.filter((n) => n === pattern);
  const re = new RegExp('^' + pattern.split('*').map(escapeRegExp).join('.*') + '$');
  return names.filter((n) => re.test(n));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function anyOf(ps: Predicate[]): Predicate {
  if (ps.length === 1) return ps[0]!;
  if (ps.length === 2) {
    const [a, b] = ps as [Predicate, Predicate];
    return (doc) => a(doc) || b(doc);
  }
  return (doc) => {
    for (const p of ps) if (p(doc)) return true;
    return false;
  };
}

function allOf(ps: Predicate[]): Predicate {
  if (ps.length === 1) return ps[0]!;
  if (ps.length === 2) {
    const [a, b] = ps as [Predicate, Predicate];
    return (doc) => a(doc) && b(doc);
  }
  return (doc) => {
    for (const p of ps) if (!p(doc)) return false;
    return true;
  };
}

/** An `or` can match any type either side can; null (any type) wins. */
function unionTypes(parts: Array<{ typeValues: ReadonlySet<string> | null }>): ReadonlySet<string> | null {
  const out = new Set<string>();
  for (const p of parts) {
    if (p.typeValues === null) return null;
    for (const v of p.typeValues) out.add(v);
  }
  return out;
}

/** An `and` needs both sides: the narrower constraint is enough for indexing. */
function intersectTypes(parts: Array<{ typeValues: ReadonlySet<string> | null }>): ReadonlySet<string> | null {
  let out = null as Set<string> | null;
  for (const p of parts) {
    const values = p.typeValues;
    if (values === null) continue;
    out = out === null ? new Set(values) : new Set([...out].filter((v) => values.has(v)));
  }
  return out;
}

// ------------------------------------------------------------------ search identifiers

function compileSearchIdentifier(
  name: string,
  keyNode: Scalar,
  value: Node | null,
  ctx: DetectionContext,
): Selection | undefined {
  if (isMap(value)) return compileMapSelection(value, '', ctx);
  if (isSeq(value)) {
    if (value.items.length === 0) {
      ctx.diagnostics.add('AW1202', `The search identifier \`${name}\` is an empty list.`, ctx.file.spanOf(value), {
        rule: ctx.rule,
      });
      return undefined;
    }
    if (value.items.every((i) => isMap(i))) {
      const parts = (value.items as YAMLMap[]).map((m) => compileMapSelection(m, '', ctx));
      if (parts.some((p) => p === undefined)) return undefined;
      const ok = parts as Selection[];
      return { predicate: anyOf(ok.map((p) => p.predicate)), typeValues: unionTypes(ok), parts: { op: 'or', of: ok } };
    }
    if (value.items.every((i) => isScalar(i) && i.value !== null)) {
      return compileKeywords(value.items as Scalar[], ctx);
    }
    ctx.diagnostics.add(
      'AW1209',
      `The search identifier \`${name}\` mixes mappings and plain values in one list.`,
      ctx.file.spanOf(value),
      {
        hint: 'A list of mappings is an OR of selections; a list of plain values is a keyword search. Split them into two identifiers.',
        rule: ctx.rule,
      },
    );
    return undefined;
  }
  if (isScalar(value) && value.value !== null && value.value !== '') return compileKeywords([value], ctx);
  ctx.diagnostics.add('AW1202', `The search identifier \`${name}\` is empty.`, ctx.file.spanOf(value ?? keyNode), {
    hint: 'Give it field: value pairs (a selection) or a list of keywords.',
    rule: ctx.rule,
  });
  return undefined;
}

function compileMapSelection(map: YAMLMap, prefix: string, ctx: DetectionContext): Selection | undefined {
  const items = pairs(map);
  if (items.length === 0) {
    ctx.diagnostics.add(
      'AW1202',
      'The selection is an empty mapping, which would match every event.',
      ctx.file.spanOf(map),
      { rule: ctx.rule },
    );
    return undefined;
  }
  const parts: Selection[] = [];
  let failed = false;
  for (const { key, keyNode, value } of items) {
    if (isMap(value) && placeholderName(value) === undefined) {
      const field = key.split('|')[0]!;
      ctx.diagnostics.add(
        'AW1212',
        `The value of \`${key}\` is a mapping; authwatch reads its keys as fields below \`${prefix}${field}\` (e.g. \`${prefix}${field}.${String(pairs(value)[0]?.key ?? '…')}\`).`,
        ctx.file.spanOf(keyNode),
        {
          hint: 'Sigma values are plain values or lists; write the dotted field path instead.',
          rule: ctx.rule,
        },
      );
      if (key.includes('|')) {
        ctx.diagnostics.add('AW1209', 'Modifiers cannot apply to a mapping value.', ctx.file.spanOf(keyNode), {
          rule: ctx.rule,
        });
        failed = true;
        continue;
      }
      const nested = compileMapSelection(value, `${prefix}${key}.`, ctx);
      if (nested) parts.push(nested);
      else failed = true;
      continue;
    }
    const item = compileFieldItem(key, keyNode, value, prefix, ctx);
    if (item) parts.push(item);
    else failed = true;
  }
  if (failed) return undefined;
  return {
    predicate: allOf(parts.map((p) => p.predicate)),
    typeValues: intersectTypes(parts),
    parts: { op: 'and', of: parts },
  };
}

/** A keyword list: any string value anywhere in the record contains one of the keywords. */
function compileKeywords(items: Scalar[], ctx: DetectionContext): Selection | undefined {
  const tests: ElementTest[] = [];
  for (const item of items) {
    const v = item.value;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      ctx.diagnostics.add('AW1209', 'A keyword must be a string or a number.', ctx.file.spanOf(item), {
        rule: ctx.rule,
      });
      return undefined;
    }
    const tokens = surround(parseSigmaString(String(v)), true, true);
    const glob = compileGlob(tokens, { caseSensitive: false });
    tests.push((el) => (typeof el === 'string' ? glob(el) : typeof el === 'number' ? glob(String(el)) : false));
  }
  const test = tests.length === 1 ? tests[0]! : (el: unknown) => tests.some((t) => t(el));
  return { predicate: (doc) => anyLeaf(doc, test), typeValues: null };
}

/**
 * Whether any leaf of the record passes `test`. Iterative (records are depth-bounded when
 * decoded, and this must not depend on it), visiting leaves in document order.
 */
function anyLeaf(value: unknown, test: ElementTest): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') {
      if (test(v)) return true;
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
    } else {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) stack.push((v as Doc)[keys[i]!]);
    }
  }
  return false;
}

function allLeaves(doc: Doc): unknown[] {
  const out: unknown[] = [];
  anyLeaf(doc, (leaf) => {
    out.push(leaf);
    return false;
  });
  return out;
}

// ------------------------------------------------------------------------ field items

interface ParsedKey {
  field: string;
  modifiers: Modifier[];
}

function parseKey(key: string, keyNode: Scalar, ctx: DetectionContext): ParsedKey | undefined {
  const parts = key.split('|');
  const field = parts[0]!;
  const modifiers: Modifier[] = [];
  let offset = field.length + 1;
  let ok = true;
  for (const m of parts.slice(1)) {
    if (isModifier(m)) {
      modifiers.push(m);
    } else {
      ok = false;
      const guess = closest(m, MODIFIER_NAMES);
      ctx.diagnostics.add(
        'AW1203',
        m === '' ? 'An empty modifier (`||` or a trailing `|`).' : `Unknown modifier \`${m}\`.`,
        ctx.file.spanInScalar(keyNode, offset, Math.max(1, m.length)),
        {
          ...(guess ? { hint: `did you mean \`${guess}\`?` } : {}),
          rule: ctx.rule,
        },
      );
    }
    offset += m.length + 1;
  }
  return ok ? { field, modifiers } : undefined;
}

function checkCombination(mods: Modifier[], keyNode: Scalar, ctx: DetectionContext): boolean {
  const bad = (message: string, hint?: string) => {
    ctx.diagnostics.add('AW1204', message, ctx.file.spanOf(keyNode), { ...(hint ? { hint } : {}), rule: ctx.rule });
    return false;
  };
  const of = (kind: string) => mods.filter((m) => modifierKinds[m] === kind);
  const positions = of('position');
  const operators = of('operator');
  const transforms = of('transform');
  const times = of('time');
  const flags = of('regex_flag');
  if (new Set(mods).size !== mods.length) return bad('A modifier is repeated.');
  if (positions.length > 1)
    return bad(
      `\`${positions.join('` and `')}\` cannot be combined; use one.`,
      'Use `contains|all` with several values to require each of them.',
    );
  const numeric: Modifier[] = operators.filter((m) => m === 'lt' || m === 'lte' || m === 'gt' || m === 'gte');
  const others = operators.filter((m) => !numeric.includes(m));
  if (others.length > 1 || (others.length === 1 && numeric.length > 0))
    return bad(`\`${operators.join('` and `')}\` cannot be combined.`);
  if (numeric.length > 1)
    return bad(
      `\`${numeric.join('` and `')}\` cannot be combined on one key.`,
      'Write two selections and join them with `and` to express a range.',
    );
  if (times.length > 1) return bad(`Only one time modifier can be used; found \`${times.join('`, `')}\`.`);
  if (flags.length > 0 && !mods.includes('re'))
    return bad(
      `\`${flags.join('`, `')}\` ${flags.length === 1 ? 'applies' : 'apply'} only to \`re\`.`,
      'Write `field|re|i` for a case-insensitive regular expression.',
    );
  const op = operators[0];
  if (op === 're' || op === 'cidr' || op === 'exists') {
    const extra = mods.filter(
      (m) =>
        m !== op &&
        !(op === 're' && modifierKinds[m] === 'regex_flag') &&
        m !== 'all' &&
        m !== 'neq' &&
        !(op === 're' && m === 'cased'),
    );
    if (extra.length > 0) return bad(`\`${op}\` cannot be combined with \`${extra.join('`, `')}\`.`);
    if (op === 'exists' && (mods.includes('all') || mods.includes('neq')))
      return bad('`exists` takes no other modifier; use `exists: false` for absence.');
  }
  if (numeric.length > 0 && (positions.length > 0 || transforms.length > 0))
    return bad(`\`${numeric[0]}\` compares numbers and cannot be combined with string modifiers.`);
  if (
    times.length > 0 &&
    (positions.length > 0 || transforms.length > 0 || (op !== undefined && !numeric.includes(op)))
  )
    return bad(
      `\`${times[0]}\` reads the field as a time; it combines only with \`lt\`, \`lte\`, \`gt\`, \`gte\` and \`neq\`.`,
    );
  if (op === 'fieldref' && (positions.length > 0 || transforms.length > 0))
    return bad('`fieldref` compares two fields for equality and takes no string modifiers besides `cased` and `neq`.');
  return true;
}

/**
 * The name of a placeholder written as a field value the way the Auth0 Detection Catalog does,
 * `data.client_id: {global_client_id}`: a one-key flow mapping whose key has no value written
 * (not even `null`). Any other mapping is a nested path (AW1212).
 */
function placeholderName(node: unknown): string | undefined {
  if (!isMap(node) || !node.flow || node.items.length !== 1) return undefined;
  const { key, value } = node.items[0]!;
  if (!isScalar(key) || typeof key.value !== 'string' || key.value === '') return undefined;
  // `{name}` has no value node at all; `{name: null}` writes a null and is a nested path.
  if (value !== null) return undefined;
  return key.value;
}

/** A placeholder's values as configured (values file over the rule's defaults); an own key only. */
function configured(ctx: DetectionContext, name: string): readonly string[] | undefined {
  return Object.hasOwn(ctx.placeholders, name) ? ctx.placeholders[name] : undefined;
}

/**
 * The values of a placeholder (from `placeholders:` in the values file), each with the
 * placeholder's node for its spans; none, with a warning, while it is not set.
 */
function placeholderValues(name: string, node: Node, ctx: DetectionContext): { values: Scalarish[]; nodes: Node[] } {
  const values = configured(ctx, name) ?? [];
  if (values.length === 0 && !ctx.declaredPlaceholders?.has(name)) {
    ctx.diagnostics.add(
      'AW1213',
      `The placeholder \`{${name}}\` has no value configured, so it matches nothing.`,
      ctx.file.spanOf(node),
      {
        hint: `Set it under \`placeholders:\` in the values file (\`${name}: [value, …]\`), given with \`--values\` or \`rules.values\`.`,
        rule: ctx.rule,
      },
    );
  }
  return { values: [...values], nodes: values.map(() => node) };
}

/** What a field item tests: values with the nodes they were written at; `never` when only unset placeholders were given. */
interface FieldValues {
  values: Scalarish[];
  nodes: Array<Node | null>;
  never?: boolean;
}

/** `{name}` inside a text value, as the Auth0 Detection Catalog writes tenant-specific parts. */
const INLINE_PLACEHOLDER = /\{([A-Za-z0-9_][A-Za-z0-9_.-]*)\}/g;
const MAX_INLINE_VALUES = 1000;

/**
 * A text value that names configured placeholders inline (`'{trusted-client_id-1}'`,
 * `'https://{your-tenant-domain}/api/v2/'`) stands for one value per configured value (every
 * combination, when it names several). A name the values file does not set stays as written:
 * braces in text are ordinary characters in Sigma, so an unset one is no error and no warning.
 */
function withInlinePlaceholders(value: Scalarish, ctx: DetectionContext): Scalarish[] {
  if (typeof value !== 'string' || !value.includes('{')) return [value];
  let out: string[] = [value];
  for (const m of value.matchAll(INLINE_PLACEHOLDER)) {
    const set = configured(ctx, m[1]!);
    if (set === undefined || set.length === 0 || !out[0]!.includes(m[0])) continue;
    out = out.flatMap((text) => set.map((v) => text.split(m[0]).join(String(v))));
    if (out.length > MAX_INLINE_VALUES) out = out.slice(0, MAX_INLINE_VALUES);
  }
  return out;
}

function valuesOf(node: Node | null, ctx: DetectionContext, inline = true): FieldValues | undefined {
  const single = placeholderName(node);
  if (single !== undefined) {
    const p = placeholderValues(single, node!, ctx);
    return p.values.length > 0 ? p : { values: [], nodes: [], never: true };
  }
  if (isSeq(node)) {
    const values: Scalarish[] = [];
    const nodes: Array<Node | null> = [];
    let placeholders = false;
    for (const item of node.items) {
      const name = placeholderName(item);
      if (name !== undefined) {
        const p = placeholderValues(name, item as Node, ctx);
        values.push(...p.values);
        nodes.push(...p.nodes);
        placeholders = true;
        continue;
      }
      if (item !== null && !isScalar(item)) {
        ctx.diagnostics.add(
          'AW1209',
          'A list of field values may only hold plain values.',
          ctx.file.spanOf(item as Node),
          { rule: ctx.rule },
        );
        return undefined;
      }
      for (const v of inline ? withInlinePlaceholders(scalarValue(item), ctx) : [scalarValue(item)]) {
        values.push(v);
        nodes.push(item);
      }
    }
    if (values.length === 0 && placeholders) return { values: [], nodes: [], never: true };
    if (values.length === 0) {
      ctx.diagnostics.add('AW1202', 'An empty list of values matches nothing.', ctx.file.spanOf(node), {
        hint: 'Use `null` to require that the field is absent.',
        rule: ctx.rule,
      });
      return undefined;
    }
    return { values, nodes };
  }
  if (node === null || isScalar(node)) {
    const values = inline ? withInlinePlaceholders(scalarValue(node), ctx) : [scalarValue(node)];
    return { values, nodes: values.map(() => node) };
  }
  ctx.diagnostics.add('AW1209', 'A field value must be a plain value or a list of them.', ctx.file.spanOf(node), {
    rule: ctx.rule,
  });
  return undefined;
}

function scalarValue(node: Scalar | null): Scalarish {
  const v = node?.value;
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  return String(v);
}

function compileFieldItem(
  key: string,
  keyNode: Scalar,
  valueNode: Node | null,
  prefix: string,
  ctx: DetectionContext,
): Selection | undefined {
  const parsed = parseKey(key, keyNode, ctx);
  if (!parsed) return undefined;
  const { modifiers: mods } = parsed;
  if (!checkCombination(mods, keyNode, ctx)) return undefined;
  // A regular expression keeps its braces: `{3}` there is a repetition, not a placeholder.
  const vs = valuesOf(valueNode, ctx, !mods.includes('re'));
  if (!vs) return undefined;
  if (vs.never) return { predicate: NEVER, typeValues: null };

  let accessor: Accessor;
  const field = prefix + parsed.field;
  if (field === '') {
    accessor = allLeaves;
  } else {
    const path = parseFieldPath(field);
    if (!path.ok) {
      ctx.diagnostics.add(
        'AW1211',
        path.error,
        ctx.file.spanInScalar(keyNode, Math.max(0, path.offset - prefix.length), Math.max(1, parsed.field.length)),
        { rule: ctx.rule },
      );
      return undefined;
    }
    const spelt = checkField(field, keyNode, prefix, ctx);
    const resolved = spelt === field ? path : parseFieldPath(spelt);
    accessor = resolved.ok ? compileAccessor(spelt, resolved.segments) : compileAccessor(field, path.segments);
  }

  const has = (m: Modifier) => mods.includes(m);
  if (has('all') && vs.values.length === 1) {
    ctx.diagnostics.add('AW1208', '`all` on a single value changes nothing.', ctx.file.spanOf(keyNode), {
      hint: 'Remove `|all`, or list several values.',
      rule: ctx.rule,
    });
  }

  if (has('exists')) {
    const want = vs.values[0];
    if (vs.values.length !== 1 || typeof want !== 'boolean') {
      return valueError(ctx, vs.nodes[0] ?? keyNode, '`exists` takes `true` or `false`.');
    }
    return { predicate: (doc) => isPresent(accessor(doc)) === want, typeValues: null };
  }

  // Per-value tests. A null value tests the whole field (absent or null); others test elements.
  const elementTests: ElementTest[] = [];
  const fieldTests: Predicate[] = [];
  let nullWanted = false;
  let failed = false;
  for (let i = 0; i < vs.values.length; i++) {
    const value = vs.values[i]!;
    const node = vs.nodes[i] ?? keyNode;
    if (value === null) {
      nullWanted = true;
      continue;
    }
    if (has('fieldref')) {
      if (typeof value !== 'string') {
        failed = valueError(ctx, node, '`fieldref` takes the name of another field.') === undefined;
        continue;
      }
      const other = parseFieldPath(value);
      if (!other.ok) {
        ctx.diagnostics.add('AW1211', other.error, ctx.file.spanOf(node), { rule: ctx.rule });
        failed = true;
        continue;
      }
      const otherAccessor = compileAccessor(value, other.segments);
      const cased = has('cased');
      fieldTests.push((doc) => {
        const b = otherAccessor(doc);
        if (!isPresent(b)) return false;
        return someElement(accessor(doc), (a) => someElement(b, (bb) => sameValue(a, bb, cased)));
      });
      continue;
    }
    const test = compileElementTest(value, node, mods, ctx);
    if (test === undefined) failed = true;
    else for (const t of test) elementTests.push(t);
  }
  if (failed) return undefined;

  let predicate: Predicate;
  const setTest = fastSet(vs.values, mods);
  if (setTest && !nullWanted && fieldTests.length === 0) {
    predicate = (doc) => someElement(accessor(doc), setTest);
  } else if (has('all')) {
    const tests: Predicate[] = [
      ...elementTests.map((t) => (doc: Doc) => someElement(accessor(doc), t)),
      ...fieldTests,
      ...(nullWanted ? [(doc: Doc) => isAbsent(accessor(doc))] : []),
    ];
    predicate = allOf(tests);
  } else {
    const one = mergeTests(elementTests);
    const hasElementTests = elementTests.length > 0;
    const fieldTest = fieldTests.length > 0 ? anyOf(fieldTests) : undefined;
    predicate = (doc) => {
      const v = accessor(doc);
      if (nullWanted && isAbsent(v)) return true;
      if (hasElementTests && someElement(v, one)) return true;
      return fieldTest !== undefined && fieldTest(doc);
    };
  }
  if (has('neq')) {
    const positive = predicate;
    predicate = (doc) => !positive(doc);
  }

  const typeValues =
    field === ctx.typeField && setTest && !has('neq') && !nullWanted
      ? new Set(vs.values.map((v) => String(v).toLowerCase()))
      : null;
  return { predicate, typeValues };
}

const TARGET_NAMES: Readonly<Record<RuleTarget, string>> = {
  canonical: "authwatch's canonical events",
  auth0: 'Auth0 log records',
  okta: 'Okta System Log events',
};

/**
 * The field as the rule's records spell it (a public rule's `eventtype` is Okta's `eventType`),
 * with a warning when no record of the rule's product carries it: such a test never matches.
 */
function checkField(field: string, keyNode: Scalar, prefix: string, ctx: DetectionContext): string {
  if (!ctx.fields) return field;
  const found = lookupField(ctx.fields.tree, field);
  if (found.known) return found.path;
  ctx.diagnostics.add(
    'AW1214',
    `${TARGET_NAMES[ctx.fields.target]} never carry \`${field}\`${found.prefix ? ` (\`${found.prefix}\` has no such field below it)` : ''}, so this test never matches.`,
    ctx.file.spanInScalar(keyNode, 0, Math.max(1, field.length - prefix.length)),
    {
      ...(found.suggestion ? { hint: `did you mean \`${found.suggestion}\`?` } : {}),
      rule: ctx.rule,
    },
  );
  return field;
}

function valueError(ctx: DetectionContext, node: Node, message: string): undefined {
  ctx.diagnostics.add('AW1205', message, ctx.file.spanOf(node), { rule: ctx.rule });
  return undefined;
}

/**
 * Plain string equality against a list of literal values is the commonest test in auth
 * rules (`data.type: [f, fu, fp]`); it becomes one Set lookup.
 */
function fastSet(values: Scalarish[], mods: Modifier[]): ElementTest | undefined {
  if (mods.some((m) => m !== 'cased' && m !== 'neq')) return undefined;
  if (!values.every((v) => typeof v === 'string' && !hasWildcards(parseSigmaString(v)))) return undefined;
  const cased = mods.includes('cased');
  const set = new Set(
    values.map((v) => tokensToText(parseSigmaString(v as string))).map((v) => (cased ? v : v.toLowerCase())),
  );
  if (set.size === 1) {
    const only = [...set][0]!;
    return cased
      ? (el) =>
          typeof el === 'string'
            ? el === only
            : typeof el === 'number' || typeof el === 'boolean'
              ? String(el) === only
              : false
      : (el) =>
          typeof el === 'string'
            ? el.length === only.length && el.toLowerCase() === only
            : typeof el === 'number' || typeof el === 'boolean'
              ? String(el) === only
              : false;
  }
  return cased
    ? (el) =>
        typeof el === 'string' || typeof el === 'number' || typeof el === 'boolean' ? set.has(String(el)) : false
    : (el) =>
        typeof el === 'string'
          ? set.has(el.toLowerCase())
          : typeof el === 'number' || typeof el === 'boolean'
            ? set.has(String(el))
            : false;
}

/** Tests for one written value; transforms such as base64offset or expand may yield several. */
function compileElementTest(
  value: Exclude<Scalarish, null>,
  node: Node,
  mods: Modifier[],
  ctx: DetectionContext,
): ElementTest[] | undefined {
  const has = (m: Modifier) => mods.includes(m);
  const time = mods.find((m) => modifierKinds[m] === 'time') as TimePart | undefined;
  const numericOp = mods.find((m) => m === 'lt' || m === 'lte' || m === 'gt' || m === 'gte') as
    'lt' | 'lte' | 'gt' | 'gte' | undefined;

  if (numericOp || time) {
    const n =
      typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
    if (!Number.isFinite(n))
      return valueError(ctx, node, `\`${numericOp ?? time}\` needs a number; \`${String(value)}\` is not one.`);
    const read = time
      ? (el: unknown) => {
          const ms = toEpochMs(el);
          return ms === undefined ? Number.NaN : timePart(time, ms);
        }
      : toNumber;
    switch (numericOp) {
      case 'lt':
        return [(el) => read(el) < n];
      case 'lte':
        return [(el) => read(el) <= n];
      case 'gt':
        return [(el) => read(el) > n];
      case 'gte':
        return [(el) => read(el) >= n];
      default:
        return [(el) => read(el) === n];
    }
  }

  if (has('cidr')) {
    if (typeof value !== 'string') return valueError(ctx, node, '`cidr` needs a network such as `10.0.0.0/8`.');
    const cidr = parseCidr(value);
    if (!cidr.ok) return valueError(ctx, node, `\`${value}\` is not a CIDR network: ${cidr.error}`);
    const match = cidr.match;
    return [(el) => typeof el === 'string' && match(el)];
  }

  if (has('re')) {
    if (typeof value !== 'string') return valueError(ctx, node, '`re` needs a regular expression string.');
    const compiled = compileSafeRegex(value, {
      ignoreCase: has('i'),
      multiline: has('m'),
      dotAll: has('s'),
      budgetMs: ctx.regexBudgetMs,
      ...(ctx.regexBudget ? { budget: ctx.regexBudget } : {}),
    });
    if (!compiled.ok) {
      ctx.diagnostics.add('AW1206', `Invalid regular expression: ${compiled.error}`, ctx.file.spanOf(node), {
        rule: ctx.rule,
      });
      return undefined;
    }
    const re = compiled.regex;
    if (!re.linear) {
      ctx.budgeted = true;
      ctx.diagnostics.add(
        'AW1207',
        `This regular expression uses lookaround or backreferences, which the linear-time engine cannot run; it runs with backtracking under a budget of ${ctx.regexBudgetMs} ms per rule and record, and a value the budget does not cover counts as no match.`,
        ctx.file.spanOf(node),
        { hint: 'Rewrite it without lookaround or backreferences to make it linear-time.', rule: ctx.rule },
      );
    }
    return [(el) => (typeof el === 'string' ? re.test(el) : typeof el === 'number' ? re.test(String(el)) : false)];
  }

  if (
    typeof value === 'boolean' &&
    !mods.some((m) => modifierKinds[m] === 'position' || modifierKinds[m] === 'transform')
  ) {
    const text = String(value);
    return [(el) => el === value || (typeof el === 'string' && el.toLowerCase() === text)];
  }
  if (typeof value === 'number' && mods.every((m) => m === 'all' || m === 'neq' || m === 'cased')) {
    const text = String(value);
    return [(el) => (typeof el === 'number' ? el === value : typeof el === 'string' ? el === text : false)];
  }

  // Strings (numbers and booleans with string modifiers are matched as their text).
  const variants = applyTransforms(String(value), node, mods, ctx);
  if (!variants) return undefined;
  const cased = has('cased');
  const windash = has('windash');
  return variants.map((tokens) => {
    const positioned = surround(tokens, has('contains') || has('endswith'), has('contains') || has('startswith'));
    // Case folding and windash normalisation happen once per value in textTest (below),
    // so the glob itself compares prepared text.
    const folded = cased
      ? positioned
      : positioned.map((t) => (t.kind === 'text' ? { kind: 'text' as const, text: t.text.toLowerCase() } : t));
    const onText = compileGlob(windash ? folded.map(windashToken) : folded, { caseSensitive: true });
    return textTest([onText], !cased, windash);
  });
}

/** An element test over text, remembering how it prepares the text so tests can be merged. */
interface TextTest extends ElementTest {
  onText: Array<(prepared: string) => boolean>;
  fold: boolean;
  windash: boolean;
}

function textTest(onText: Array<(prepared: string) => boolean>, fold: boolean, windash: boolean): TextTest {
  const test = (el: unknown): boolean => {
    let s: string;
    if (typeof el === 'string') s = el;
    else if (typeof el === 'number' || typeof el === 'boolean') s = String(el);
    else return false;
    if (fold) s = s.toLowerCase();
    if (windash) s = normalizeWindash(s);
    for (const t of onText) if (t(s)) return true;
    return false;
  };
  return Object.assign(test, { onText, fold, windash });
}

/** Several text tests of one field item share one case fold of the value. */
function mergeTests(tests: ElementTest[]): ElementTest {
  if (tests.length === 1) return tests[0]!;
  const first = tests[0] as Partial<TextTest> | undefined;
  const texts = tests.filter((t): t is TextTest => 'onText' in t);
  if (
    first &&
    texts.length === tests.length &&
    texts.every((t) => t.fold === first.fold && t.windash === first.windash)
  ) {
    return textTest(
      texts.flatMap((t) => t.onText),
      first.fold!,
      first.windash!,
    );
  }
  return (el) => tests.some((t) => t(el));
}

/**
 * Applies the transform modifiers in the order written. Wildcards keep their meaning unless
 * an encoding turns the value into bytes, after which it is literal text.
 */
function applyTransforms(
  value: string,
  node: Node,
  mods: Modifier[],
  ctx: DetectionContext,
): SigmaToken[][] | undefined {
  let strings: string[] = [value];
  if (mods.includes('expand')) {
    const expanded: string[] = [];
    for (const s of strings) {
      const names = [...s.matchAll(/%([A-Za-z0-9_.-]+)%/g)].map((m) => m[1]!);
      if (names.length === 0) {
        return valueError(ctx, node, '`expand` needs a `%placeholder%` in the value.');
      }
      let results = [s];
      for (const name of names) {
        const values = configured(ctx, name);
        // Declared by the rule and left empty: off, so the value stands for nothing.
        if (values !== undefined && values.length === 0 && ctx.declaredPlaceholders?.has(name)) {
          results = [];
          break;
        }
        if (!values || values.length === 0) {
          ctx.diagnostics.add(
            'AW1210',
            `The placeholder \`%${name}%\` has no values configured.`,
            ctx.file.spanOf(node),
            {
              hint: 'Define it under `placeholders:` in the values file given with `--values`.',
              rule: ctx.rule,
            },
          );
          return undefined;
        }
        results = results.flatMap((r) => values.map((v) => r.split(`%${name}%`).join(v)));
      }
      expanded.push(...results);
    }
    strings = expanded;
  }
  const encoding = mods.filter((m) => ['utf16le', 'utf16be', 'utf16', 'wide', 'base64', 'base64offset'].includes(m));
  if (encoding.length === 0) return strings.map(parseSigmaString);

  // Each value is text or bytes as it passes through the encodings, e.g. `wide|base64offset`.
  let current: Array<string | Bytes> = strings.map((s) => tokensToText(parseSigmaString(s)));
  const asBytes = (v: string | Bytes): Bytes => (typeof v === 'string' ? utf8(v) : v);
  const asText = (v: string | Bytes): string => (typeof v === 'string' ? v : bytesToBinaryString(v));
  for (const m of encoding) {
    switch (m) {
      case 'utf16le':
      case 'wide':
        current = current.map((v) => utf16le(asText(v)));
        break;
      case 'utf16be':
        current = current.map((v) => utf16be(asText(v)));
        break;
      case 'utf16':
        current = current.map((v) => utf16WithBom(asText(v)));
        break;
      case 'base64':
        current = current.map((v) => base64(asBytes(v)));
        break;
      case 'base64offset':
        current = current.flatMap((v) => base64Offsets(asBytes(v)));
        break;
    }
  }
  return current.map((v) => [{ kind: 'text', text: asText(v) }]);
}

function surround(tokens: SigmaToken[], before: boolean, after: boolean): SigmaToken[] {
  const out = [...tokens];
  if (before && out[0]?.kind !== 'any') out.unshift({ kind: 'any' });
  if (after && out[out.length - 1]?.kind !== 'any') out.push({ kind: 'any' });
  return out;
}

function windashToken(t: SigmaToken): SigmaToken {
  return t.kind === 'text' ? { kind: 'text', text: normalizeWindash(t.text) } : t;
}

// -------------------------------------------------------------------------- helpers

function someElement(v: unknown, test: ElementTest): boolean {
  if (Array.isArray(v)) {
    for (const el of v) if (test(el)) return true;
    return false;
  }
  return v !== undefined && test(v);
}

function isPresent(v: unknown): boolean {
  return v !== undefined && !(Array.isArray(v) && v.length === 0);
}

/** `null` in a rule: the field is absent, null, or (multi-valued) carries no value. */
function isAbsent(v: unknown): boolean {
  return v === undefined || v === null || (Array.isArray(v) && v.every((el) => el === null || el === undefined));
}

function toNumber(el: unknown): number {
  if (typeof el === 'number') return el;
  if (typeof el === 'string' && el.trim() !== '') return Number(el);
  return Number.NaN;
}

function sameValue(a: unknown, b: unknown, cased: boolean): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a === 'object' || typeof b === 'object') return false;
  const x = String(a);
  const y = String(b);
  return cased ? x === y : x.toLowerCase() === y.toLowerCase();
}
