import { describe, expect, it } from 'vitest';
import { MAX_CONDITION_DEPTH, parseCondition, type ConditionNode } from '../../../../src/rules/sigma/condition.js';

/** `(and a (not b))`, `(1of sel*)`, `(allof them)`: ASTs small enough to read in a table. */
function sexpr(n: ConditionNode): string {
  switch (n.kind) {
    case 'ref':
      return n.name;
    case 'not':
      return `(not ${sexpr(n.operand)})`;
    case 'quantified':
      return `(${n.quantifier === 'one' ? '1of' : 'allof'} ${n.pattern})`;
    default:
      return `(${n.kind} ${sexpr(n.left)} ${sexpr(n.right)})`;
  }
}

function parse(text: string): string {
  const r = parseCondition(text);
  if (!r.ast) throw new Error(r.errors.map((e) => e.message).join('; '));
  return sexpr(r.ast);
}

describe('parseCondition: accepted forms', () => {
  it.each([
    ['selection', 'selection'],
    ['a and b', '(and a b)'],
    ['a or b', '(or a b)'],
    ['not a', '(not a)'],
    ['not not a', '(not (not a))'],
    ['a or b and c', '(or a (and b c))'],
    ['a and b or c', '(or (and a b) c)'],
    ['not a and b', '(and (not a) b)'],
    ['a and not b', '(and a (not b))'],
    ['a and b and c', '(and (and a b) c)'],
    ['a or b or c', '(or (or a b) c)'],
    ['(a or b) and c', '(and (or a b) c)'],
    ['((a))', 'a'],
    ['not (a or b)', '(not (or a b))'],
    ['1 of selection*', '(1of selection*)'],
    ['all of selection*', '(allof selection*)'],
    ['1 of them', '(1of them)'],
    ['all of them', '(allof them)'],
    ['all of selection', '(allof selection)'],
    ['1 of *filter*', '(1of *filter*)'],
    ['selection and not 1 of filter_*', '(and selection (not (1of filter_*)))'],
    ['all of sel_* and not 1 of filter*', '(and (allof sel_*) (not (1of filter*)))'],
    ['A AND Not b OR c', '(or (and A (not b)) c)'],
    ['ALL OF THEM', '(allof them)'],
    ['  selection\n  and not\tfilter  ', '(and selection (not filter))'],
    ['_private or 2fa_events', '(or _private 2fa_events)'],
  ])('%j → %s', (text, expected) => {
    expect(parse(text)).toBe(expected);
  });

  it('gives offsets that cover each construct', () => {
    const { ast } = parseCondition('sel and not (flt or 1 of x*)');
    expect(ast).toMatchObject({ kind: 'and', start: 0, end: 27 });
    if (ast?.kind !== 'and') throw new Error('expected and');
    expect(ast.left).toMatchObject({ kind: 'ref', name: 'sel', start: 0, end: 3 });
    expect(ast.right).toMatchObject({ kind: 'not', start: 8 });
    const q = (ast.right as Extract<ConditionNode, { kind: 'not' }>).operand;
    expect(q).toMatchObject({ kind: 'or', start: 13 });
    expect((q as Extract<ConditionNode, { kind: 'and' | 'or' }>).right).toMatchObject({
      kind: 'quantified',
      start: 20,
      end: 27,
    });
  });
});

describe('parseCondition: errors', () => {
  it.each([
    ['', 'AW1301', 0, 0, /empty/],
    ['   ', 'AW1301', 0, 0, /empty/],
    ['a and', 'AW1301', 2, 5, /after `and`/],
    ['a or or b', 'AW1301', 5, 7, /after `or`/],
    ['not', 'AW1301', 0, 3, /after `not`/],
    ['(a or b', 'AW1301', 0, 1, /never closed/],
    ['a or b)', 'AW1301', 6, 7, /no matching `\(`/],
    ['()', 'AW1301', 0, 2, /Empty parentheses/],
    ['a b', 'AW1301', 2, 3, /Expected `and`, `or`/],
    ['a && b', 'AW1301', 2, 3, /character `&`/],
    ['a = b', 'AW1301', 2, 3, /character `=`/],
    ['"a"', 'AW1301', 0, 1, /character `"`/],
    ['sel*', 'AW1301', 0, 4, /only follow `1 of`/],
    ['2 of sel*', 'AW1301', 0, 4, /not a quantifier/],
    ['any of sel*', 'AW1301', 0, 6, /not a quantifier/],
    ['all sel', 'AW1301', 4, 7, /Expected `of`/],
    ['1 of', 'AW1301', 2, 4, /after `of`/],
    ['1 of (a)', 'AW1301', 5, 6, /after `of`/],
    ['selection | count() by ip > 5', 'AW1304', 10, 29, /Aggregation/],
    ['(sel | near other)', 'AW1304', 5, 18, /Aggregation/],
  ])('%j → %s at %i..%i', (text, code, start, end, message) => {
    const r = parseCondition(text);
    expect(r.ast).toBeUndefined();
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ code, start, end });
    expect(r.errors[0]!.message).toMatch(message);
  });

  it('suggests a correlation for aggregations', () => {
    expect(parseCondition('sel | count() > 1').errors[0]!.hint).toMatch(/correlation/);
  });

  it('never throws, whatever the input', () => {
    const alphabet = ['a', 'b', '1', 'of', 'all', 'them', 'and', 'or', 'not', '(', ')', '*', '|', ' ', '&', '\n'];
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      let text = '';
      const len = (seed = (seed * 48271) % 2147483647) % 12;
      for (let j = 0; j < len; j++) text += alphabet[(seed = (seed * 48271) % 2147483647) % alphabet.length] + ' ';
      const r = parseCondition(text);
      expect(r.ast !== undefined || r.errors.length === 1).toBe(true);
    }
  });
});

describe('parseCondition: hostile sizes', () => {
  it('refuses nesting beyond the limit, pointing at where it goes too deep', () => {
    for (const [text, at] of [
      [`${'('.repeat(2000)}sel${')'.repeat(2000)}`, MAX_CONDITION_DEPTH],
      [`${'not '.repeat(10_000)}sel`, MAX_CONDITION_DEPTH * 4],
    ] as const) {
      const r = parseCondition(text);
      expect(r.ast).toBeUndefined();
      expect(r.errors).toEqual([expect.objectContaining({ code: 'AW1306', start: at })]);
    }
  });

  it('keeps nesting up to the limit', () => {
    expect(parse(`${'('.repeat(MAX_CONDITION_DEPTH)}a${')'.repeat(MAX_CONDITION_DEPTH)}`)).toBe('a');
  });

  it('parses a chain of thousands of terms into a shallow tree of the same terms, in order', () => {
    const names = Array.from({ length: 2000 }, (_, i) => `s${i}`);
    const r = parseCondition(names.join(' or '));
    const leaves: string[] = [];
    const depth = (n: ConditionNode): number =>
      n.kind === 'ref' ? (leaves.push(n.name), 1) : n.kind === 'or' ? 1 + Math.max(depth(n.left), depth(n.right)) : 0;
    expect(depth(r.ast!)).toBeLessThanOrEqual(12);
    expect(leaves).toEqual(names);
  });
});
