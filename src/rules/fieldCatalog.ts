import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RuleTarget } from './model.js';

/**
 * What fields the records of one rule target can carry, as a tree: a key's subtree, `1` for a
 * leaf value, or `'*'` for an object whose keys are open (Auth0 `details.request.body`, the
 * canonical `raw`). A tree with a `"*"` key lists the keys it knows and allows others (Okta
 * `debugContext.debugData`). Array elements merge into their array's key,
 * as Sigma paths read them (`target.displayName` over Okta's `target` array).
 *
 * It tells the loader two things: that a rule names a field no record of its product has
 * (AW1214, the rule can never match on it), and how a field is spelt when a public rule writes
 * it in another case (SigmaHQ's Okta rules say `eventtype` and `target.displayname`; Okta writes
 * `eventType` and `displayName`).
 */
export type FieldTree = { readonly [key: string]: FieldTree | 1 | '*' };

/** Where a catalog's trees live: generated or written from each source's published schema. */
const CATALOG_FILES: Readonly<Record<RuleTarget, string>> = {
  canonical: '../../schemas/auth-event.schema.json',
  auth0: '../../schemas/fields/auth0.json',
  okta: '../../schemas/fields/okta.json',
};

const loaded = new Map<RuleTarget, FieldTree>();

/** The field tree of a target; read once per process, when a rule of that target first loads. */
export function fieldTree(target: RuleTarget): FieldTree {
  let tree = loaded.get(target);
  if (!tree) {
    const text = readFileSync(fileURLToPath(new URL(CATALOG_FILES[target], import.meta.url)), 'utf8');
    const json = JSON.parse(text) as unknown;
    tree = target === 'canonical' ? treeOfJsonSchemas([json as JsonSchema]) : (json as FieldTree);
    loaded.set(target, tree);
  }
  return tree;
}

export type FieldLookup =
  | { known: true; /** the path as records spell it (differs from the rule's only in case) */ path: string }
  | { known: false; /** the longest prefix that exists, as records spell it */ prefix: string; suggestion?: string };

/**
 * Looks a dotted path (segments may end in `{}`) up in a tree. A segment that matches no key
 * exactly but one key ignoring case takes that key's spelling; under an open object anything
 * goes, as written.
 */
export function lookupField(tree: FieldTree, path: string): FieldLookup {
  const parts = path.split('.');
  const out: string[] = [];
  let node: FieldTree | 1 | '*' = tree;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (node === '*') {
      out.push(...parts.slice(i));
      return { known: true, path: out.join('.') };
    }
    if (node === 1) return { known: false, prefix: out.join('.') };
    const each = part.endsWith('{}') ? '{}' : '';
    const key = each ? part.slice(0, -2) : part;
    const spelt: string | undefined = Object.hasOwn(node, key) ? key : caseless(node, key);
    if (spelt === undefined && Object.hasOwn(node, '*')) {
      out.push(...parts.slice(i));
      return { known: true, path: out.join('.') };
    }
    if (spelt === undefined) {
      const suggestion = closestKey(node, key);
      return {
        known: false,
        prefix: out.join('.'),
        ...(suggestion ? { suggestion: [...out, suggestion].join('.') } : {}),
      };
    }
    out.push(spelt + each);
    node = node[spelt]!;
  }
  return { known: true, path: out.join('.') };
}

function caseless(node: FieldTree, key: string): string | undefined {
  const lower = key.toLowerCase();
  let found: string | undefined;
  for (const k of Object.keys(node)) {
    if (k === '*' || k.toLowerCase() !== lower) continue;
    if (found !== undefined) return undefined; // two spellings: do not guess
    found = k;
  }
  return found;
}

/** The key nearest `key` by edit distance, when it is near enough to be a typo. */
function closestKey(node: FieldTree, key: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 4)) + 1;
  for (const k of Object.keys(node)) {
    const d = editDistance(k.toLowerCase(), key.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The part of JSON Schema the trees are built from. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema | JsonSchema[];
  allOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

const SCALAR_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null']);

/**
 * The union of the fields several JSON Schemas describe. An object with no listed properties,
 * or one that allows others, is open; so is a value of no stated type (it may be an object).
 */
export function treeOfJsonSchemas(schemas: readonly JsonSchema[]): FieldTree {
  let tree: FieldTree | 1 | '*' = {};
  for (const s of schemas) tree = merge(tree, treeOf(s));
  return tree === 1 || tree === '*' ? {} : tree;
}

function treeOf(s: JsonSchema): FieldTree | 1 | '*' {
  let out: FieldTree | 1 | '*' | undefined;
  const add = (t: FieldTree | 1 | '*') => {
    out = out === undefined ? t : merge(out, t);
  };
  for (const sub of [...(s.allOf ?? []), ...(s.anyOf ?? []), ...(s.oneOf ?? [])]) add(treeOf(sub));
  const types = s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
  if (s.properties) {
    const props: Record<string, FieldTree | 1 | '*'> = {};
    for (const [k, v] of Object.entries(s.properties)) props[k] = treeOf(v);
    add(props);
    if (s.additionalProperties !== undefined && s.additionalProperties !== false) add('*');
  } else if (types.includes('object')) {
    add(s.additionalProperties === false ? {} : '*');
  }
  if (s.items !== undefined) for (const item of Array.isArray(s.items) ? s.items : [s.items]) add(treeOf(item));
  if (types.length > 0 && types.every((t) => SCALAR_TYPES.has(t) || t === 'array')) add(1);
  if (out === undefined) return types.length === 0 ? '*' : 1;
  return out;
}

/** Open wins; a leaf and a tree are the tree (the value may be either). */
function merge(a: FieldTree | 1 | '*', b: FieldTree | 1 | '*'): FieldTree | 1 | '*' {
  if (a === '*' || b === '*') return '*';
  if (a === 1) return b;
  if (b === 1) return a;
  const out: Record<string, FieldTree | 1 | '*'> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = Object.hasOwn(out, k) ? merge(out[k]!, v) : v;
  return out;
}

/**
 * The Auth0 tree from Auth0's log schemas, in the wrapper form rules read (`data.type`). The
 * compatibility check rebuilds it from the published schemas and compares it with the one
 * shipped (`schemas/fields/auth0.json`).
 */
export function auth0CatalogOf(schemas: readonly JsonSchema[]): FieldTree {
  const data = treeOfJsonSchemas(schemas) as Record<string, FieldTree | 1 | '*'>;
  // What the Logs API and log streams add to every record, which the schemas do not list.
  data.location_info ??= '*';
  data._id ??= 1;
  data.isMobile ??= 1;
  return sortTree({ log_id: 1, data });
}

function sortTree(t: FieldTree): FieldTree {
  const out: Record<string, FieldTree | 1 | '*'> = {};
  for (const k of Object.keys(t).sort()) {
    const v = t[k]!;
    out[k] = v === 1 || v === '*' ? v : sortTree(v);
  }
  return out;
}
