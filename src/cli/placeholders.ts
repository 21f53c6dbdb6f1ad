import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/**
 * Reads `placeholders:` from a rule values file: `%name%` → list of values for the `expand`
 * modifier. No file, no placeholders.
 */
export function loadPlaceholders(file: string | undefined): Record<string, string[]> {
  if (!file) return {};
  const doc = parse(readFileSync(file, 'utf8')) as { placeholders?: unknown } | null;
  const raw = doc?.placeholders;
  if (raw === undefined) return {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new Error(`${file}: \`placeholders\` must map names to lists of values.`);
  const out: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(raw)) {
    const list = Array.isArray(values) ? values : [values];
    if (!list.every((v) => typeof v === 'string' || typeof v === 'number'))
      throw new Error(`${file}: placeholder \`${name}\` must be a list of strings.`);
    out[name] = list.map(String);
  }
  return out;
}
