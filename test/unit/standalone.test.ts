import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Every file under `dir` whose name ends in one of `ext`. */
function files(dir: string, ext: string[]): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? files(p, ext) : ext.some((x) => p.endsWith(x)) ? [p] : [];
  });
}

/**
 * A user's clone has no team desk (the `shared` folder CI keeps beside the repository): nothing
 * they run may need it.
 * Only the compatibility check (`test/compat`, run by `.ci/run`) reads the references there.
 */
describe('the repository stands alone', () => {
  it('no source, unit or integration test, script or document reads the team desk beside the repository', () => {
    const read = [
      ...files('src', ['.ts']),
      ...files('test/unit', ['.ts']),
      ...files('test/integration', ['.ts']),
      ...files('test/support', ['.ts', '.js']),
      ...files('scripts', ['.sh', '.mjs', '.js']),
      ...files('bench', ['.js']),
      ...files('docs', ['.md']),
      'README.md',
      'detections/README.md',
      'package.json',
    ].filter((f) => f !== join('test', 'unit', 'standalone.test.ts'));
    const offenders = read.filter((f) => /\.\.\/shared\b/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
