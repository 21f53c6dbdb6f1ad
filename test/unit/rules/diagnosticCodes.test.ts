import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { diagnosticCodes } from '../../../src/rules/diagnosticCodes.js';

const docs = readFileSync('docs/diagnostics.md', 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('diagnostic codes', () => {
  it.each(Object.keys(diagnosticCodes))('%s is documented in docs/diagnostics.md', (code) => {
    expect(docs).toMatch(new RegExp(`^### ${code}$`, 'm'));
  });

  it('documents no code that does not exist', () => {
    const documented = [...docs.matchAll(/^### (AW\d{4})$/gm)].map((m) => m[1]);
    expect(documented.filter((c) => !(c! in diagnosticCodes))).toEqual([]);
  });

  it('every code written in the sources is in the catalog', () => {
    const used = new Set<string>();
    for (const file of sourceFiles('src')) {
      for (const m of readFileSync(file, 'utf8').matchAll(/'(AW\d{4})'/g)) used.add(m[1]!);
    }
    expect([...used].filter((c) => !(c in diagnosticCodes))).toEqual([]);
    expect(used.size).toBeGreaterThan(30);
  });

  it('documents warnings as warnings', () => {
    for (const [code, spec] of Object.entries(diagnosticCodes)) {
      const section = docs.split(`### ${code}\n`)[1]!.split('\n### ')[0]!;
      expect(section.trimStart().startsWith('Warning.'), code).toBe(spec.severity === 'warning');
    }
  });
});
