import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml';
import type { ErrorObject } from 'ajv';
import { ConfigError } from '../errors.js';
import { MAX_DURATION_TEXT } from '../time/duration.js';

/**
 * A YAML file read for a schema check: its value and where each key path was written
 * (`file:line:col`), so every problem found later can point at its line. A file that cannot
 * be read, is not YAML or holds no mapping is a ConfigError naming `what` and the place.
 */
export function readYamlMapping(
  file: string,
  what: string,
): { value: Record<string, unknown>; locate: (path: string[]) => string | undefined } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`Cannot read ${what} ${file}: ${(err as Error).message}`);
  }
  const lines = new LineCounter();
  const parsed = parseDocument(text, { lineCounter: lines });
  if (parsed.errors.length > 0) {
    const problems = parsed.errors.map((e) => {
      const at = e.linePos?.[0];
      return `${file}${at ? `:${at.line}:${at.col}` : ''}: ${e.message.split('\n')[0]}`;
    });
    throw new ConfigError(`The ${what} is not valid YAML:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  const value: unknown = parsed.toJS();
  if (value != null && (typeof value !== 'object' || Array.isArray(value))) {
    throw new ConfigError(`The ${what} ${file} must hold a YAML mapping.`);
  }
  return {
    value: (value as Record<string, unknown> | null) ?? {},
    locate: (path) => {
      const node = nodeAt(parsed.contents, path);
      if (!node?.range) return undefined;
      const { line, col } = lines.linePos(node.range[0]);
      return `${file}:${line}:${col}`;
    },
  };
}

/** A schema error in words a reader of the file understands. */
export function describeError(e: ErrorObject): string {
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown key \`${String(e.params.additionalProperty)}\``;
    case 'enum':
      return `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'anyOf':
      return 'must be a topic name or a list of them';
    case 'format':
      return `is longer than the longest duration taken, ${MAX_DURATION_TEXT} (ten years)`;
    default:
      return e.message ?? 'is invalid';
  }
}

/** anyOf reports each branch's failure as well as its own; only the summary helps a reader. */
export function dedupeErrors(errors: ErrorObject[]): ErrorObject[] {
  const anyOf = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const seen = new Set<string>();
  return errors.filter((e) => {
    if (e.keyword !== 'anyOf' && [...anyOf].some((p) => e.instancePath.startsWith(p) && e.schemaPath.includes('anyOf')))
      return false;
    const id = `${e.instancePath}|${e.keyword}|${e.message ?? ''}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** The YAML node at a key path, or the deepest one that exists (a missing key points at its parent). */
function nodeAt(root: unknown, path: string[]): Node | undefined {
  let node = root as Node | null | undefined;
  for (const step of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === step);
      if (!pair) return node;
      node = (pair.value as Node | null) ?? (pair.key as Node);
    } else if (isSeq(node)) {
      const item = node.items[Number(step)] as Node | undefined;
      if (!item) return node;
      node = item;
    } else break;
  }
  return node ?? undefined;
}
