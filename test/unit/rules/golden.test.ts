import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderText } from '../../../src/cli/validate.js';
import { loadRules } from '../../../src/rules/loader.js';

const dir = 'test/golden/diagnostics';
const inputs = readdirSync(dir).filter((f) => f.endsWith('.yml'));

/**
 * Each rule file in test/golden/diagnostics sits next to the text `authwatch validate`
 * must print for it. Run with UPDATE_GOLDEN=1 to rewrite the expectations, then read the diff.
 */
describe('diagnostics golden files', () => {
  it('has inputs', () => {
    expect(inputs.length).toBeGreaterThan(5);
  });

  it.each(inputs)('%s', (input) => {
    const rendered = renderText(loadRules([join(dir, input)]));
    const expectedPath = join(dir, input.replace(/\.yml$/, '.txt'));
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(expectedPath)) {
      if (process.env.CI === 'true') throw new Error(`${expectedPath} is missing.`);
      writeFileSync(expectedPath, rendered);
    }
    expect(rendered).toBe(readFileSync(expectedPath, 'utf8'));
  });
});
