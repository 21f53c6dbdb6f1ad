import { describe, expect, it, vi } from 'vitest';
import { loadRuleText } from '../../../src/rules/loader.js';
import type * as Detection from '../../../src/rules/sigma/detection.js';

// A compiler bug stands for what nobody foresaw: the loader must not let it take the others down.
vi.mock('../../../src/rules/sigma/detection.js', async (importOriginal) => {
  const original = await importOriginal<typeof Detection>();
  return {
    ...original,
    compileDetection: (...args: Parameters<typeof original.compileDetection>) => {
      if (args[1].rule === 'Broken') throw new RangeError('Maximum call stack size exceeded');
      return original.compileDetection(...args);
    },
  };
});

describe('a rule authwatch fails to compile', () => {
  it('is an AW1005 diagnostic at the rule, and the other rules load', () => {
    const text = ['Broken', 'Fine']
      .map(
        (t) =>
          `title: ${t}\nlogsource: {product: authwatch}\ndetection:\n  sel: {type: login.success}\n  condition: sel\n`,
      )
      .join('---\n');
    const set = loadRuleText('rules.yml', text);
    expect(set.diagnostics.items).toEqual([
      expect.objectContaining({
        code: 'AW1005',
        message: expect.stringMatching(/Maximum call stack size exceeded/),
        span: expect.objectContaining({ file: 'rules.yml', start: { line: 1, column: 1 } }),
      }),
    ]);
    expect(set.detections.map((r) => r.title)).toEqual(['Fine']);
  });
});
