import type { Doc } from '../model.js';

/** One step of a field path; `each` is the `{}` suffix: any element of the array there. */
export interface PathSegment {
  key: string;
  each: boolean;
}

const SEGMENT = /^[^{}]+(\{\})?$/;

/**
 * Parses a dotted field path such as `data.details.response.body.shields{}`. Returns the
 * 0-based offset of the first bad segment on error.
 */
export function parseFieldPath(
  path: string,
): { ok: true; segments: PathSegment[] } | { ok: false; offset: number; error: string } {
  if (path === '') return { ok: false, offset: 0, error: 'The field name is empty.' };
  const segments: PathSegment[] = [];
  let offset = 0;
  for (const part of path.split('.')) {
    if (!SEGMENT.test(part)) {
      const what = part === '' ? 'an empty segment (two dots in a row, or a dot at an end)' : `\`${part}\``;
      return { ok: false, offset, error: `The field path \`${path}\` has ${what}; \`{}\` may only end a segment.` };
    }
    const each = part.endsWith('{}');
    segments.push({ key: each ? part.slice(0, -2) : part, each });
    offset += part.length + 1;
  }
  return { ok: true, segments };
}

/** Reads a field: a single value, or an array when the path or the leaf holds several. */
export type Accessor = (doc: Doc) => unknown;

const inherited = new Set(Object.getOwnPropertyNames(Object.prototype));

/**
 * Compiles a parsed path into an accessor. Nested objects are followed first; when that
 * finds nothing, a key equal to the whole dotted path is tried, for flattened records
 * (`{"client.ip": …}`). `{}` segments make the result an array of every element's value.
 *
 * A plain dotted segment that meets an array reads every element, as the backends public
 * rules are written for do (Okta's `target.displayName` over its `target` array): the
 * result is then the array of the values found, one multi-valued field, and arrays met at
 * the leaf are spread into it.
 */
export function compileAccessor(path: string, segments: PathSegment[]): Accessor {
  const keys = segments.map((s) => s.key);
  const guarded = keys.some((k) => inherited.has(k));
  const explicit = segments.some((s) => s.each);
  const slow: Accessor = (doc) => {
    const out: unknown[] = [];
    const fanned = collect(doc, segments, 0, out, guarded);
    if (out.length === 0 && Object.hasOwn(doc, path)) return doc[path];
    return explicit || fanned ? out : out[0];
  };
  if (!explicit && !guarded) return generatedAccessor(path, keys, slow);
  return slow;
}

/**
 * A plain path becomes a generated function with the keys as literals, so every field read is
 * a property load V8 can cache at its own site, instead of one shared site that sees every
 * key of every rule. Keys enter the code only through JSON.stringify. An array met before the
 * last key, whose own property of that name is missing (not `0` or `length`), hands the record
 * to `throughArrays`, which reads every element; the check runs only on a miss.
 */
function generatedAccessor(path: string, keys: string[], throughArrays: Accessor): Accessor {
  const lit = (k: string) => JSON.stringify(k);
  if (keys.length === 1) return new Function('doc', `return doc[${lit(keys[0]!)}];`) as Accessor;
  const steps = keys
    .slice(1)
    .map(
      (k) =>
        `if (v === null || typeof v !== 'object') return doc[${lit(path)}];\n  n = v[${lit(k)}];\n  if (n === undefined && Array.isArray(v)) return slow(doc);\n  v = n;`,
    )
    .join('\n  ');
  const body = `let v = doc[${lit(keys[0]!)}];\n  let n;\n  ${steps}\n  return v !== undefined ? v : doc[${lit(path)}];`;
  return (new Function('slow', `return function (doc) {\n  ${body}\n};`) as (s: Accessor) => Accessor)(throughArrays);
}

/**
 * Pushes every value the path reaches onto `out`. Returns whether a plain segment met an
 * array on the way (the value is then multi-valued, like a `{}` path's).
 */
function collect(value: unknown, segments: PathSegment[], i: number, out: unknown[], guarded: boolean): boolean {
  if (i === segments.length) {
    if (value !== undefined) out.push(value);
    return false;
  }
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) {
    // A plain segment met an array: read the rest of the path in every element.
    for (const item of value) collectLeafSpread(item, segments, i, out, guarded);
    return true;
  }
  const seg = segments[i]!;
  const record = value as Doc;
  if (guarded && !Object.hasOwn(record, seg.key)) return false;
  const next = record[seg.key];
  if (seg.each) {
    let fanned = false;
    if (Array.isArray(next)) {
      for (const item of next) fanned = collect(item, segments, i + 1, out, guarded) || fanned;
    } else if (next !== undefined && i + 1 === segments.length) out.push(next);
    return fanned;
  }
  return collect(next, segments, i + 1, out, guarded);
}

/** `collect` inside an element reached through an array: arrays at the leaf are spread. */
function collectLeafSpread(item: unknown, segments: PathSegment[], i: number, out: unknown[], guarded: boolean): void {
  const found: unknown[] = [];
  collect(item, segments, i, found, guarded);
  for (const v of found) {
    if (Array.isArray(v)) for (const el of v) out.push(el);
    else out.push(v);
  }
}

/**
 * The accessor of a path validated elsewhere (a loaded rule's group-by, a suppress field); a
 * path that does not parse reads nothing.
 */
export function accessorFor(path: string): Accessor {
  const parsed = parseFieldPath(path);
  return parsed.ok ? compileAccessor(path, parsed.segments) : () => undefined;
}
