import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderText } from '../../../src/cli/validate.js';
import { loadRules } from '../../../src/rules/loader.js';

const dir = 'test/golden/diagnostics';
const inputs = readdirSync(dir).filter((f) => f.endsWith('.yml'));

/**
 * Each rule file in test/golden/diagnostics sits next to the text `authwatch validate`
 * must print for it. Expectations are written only on request: `UPDATE_GOLDEN=1 npx vitest run
 * test/unit/rules/golden.test.ts`, then read the diff. A missing one fails, in CI or not.
 */
describe('diagnostics golden files', () => {
  it('has inputs', () => {
    expect(inputs.length).toBeGreaterThan(5);
  });

  it.each(inputs)('%s', (input) => {
    const rendered = renderText(loadRules([join(dir, input)]));
    const expectedPath = join(dir, input.replace(/\.yml$/, '.txt'));
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(expectedPath, rendered);
    if (!existsSync(expectedPath))
      throw new Error(`${expectedPath} is missing; write it with UPDATE_GOLDEN=1 and read it.`);
    expect(rendered).toBe(readFileSync(expectedPath, 'utf8'));
  });
});
