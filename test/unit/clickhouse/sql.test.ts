import { describe, expect, it } from 'vitest';
import { ident, join, literal, sql } from '../../../src/clickhouse/sql.js';

describe('sql', () => {
  it('escapes string values so they cannot leave their literal', () => {
    expect(sql`SELECT ${"a'; DROP TABLE x; --"}`.text).toBe("SELECT 'a\\'; DROP TABLE x; --'");
    expect(literal('back\\slash\nnew')).toBe("'back\\\\slash\\nnew'");
    expect(literal('\0')).toBe("'\\0'");
  });

  it('renders numbers, booleans, null, dates and arrays', () => {
    expect(sql`${1} ${2.5} ${true} ${null} ${10n}`.text).toBe('1 2.5 1 NULL 10');
    expect(literal(new Date(1_700_000_000_500))).toBe('toDateTime(1700000000)');
    expect(literal(['a', 1])).toBe("['a', 1]");
    expect(() => literal(Number.NaN)).toThrow(/NaN/);
  });

  it('accepts only plain identifiers', () => {
    expect(ident('alerts_2').text).toBe('`alerts_2`');
    for (const bad of ['', '1abc', 'a-b', 'a`b', 'a b', 'x;drop', 'a'.repeat(200)]) {
      expect(() => ident(bad)).toThrow(/identifier/);
    }
  });

  it('nests fragments without escaping them twice', () => {
    const cols = join([ident('a'), ident('b')]);
    expect(sql`SELECT ${cols} FROM ${ident('t')} WHERE a = ${'x'}`.text).toBe("SELECT `a`, `b` FROM `t` WHERE a = 'x'");
  });
});
