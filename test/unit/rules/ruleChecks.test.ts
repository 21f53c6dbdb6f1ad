import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { correlationKinds } from '../../../src/rules/correlations/registry.js';
import * as generated from '../../../src/rules/ruleChecks.generated.js';
import { paramProblem } from '../../../src/rules/loader.js';
import { ruleFormats } from '../../../src/rules/ruleFormats.js';
import { prng } from '../../../src/simulate/simulate.js';

const checks = generated as unknown as Record<string, ValidateFunction>;

function freshAjv(): Ajv {
  return new Ajv({ allErrors: true, strict: false }).addFormat('bounded-duration', ruleFormats['bounded-duration']);
}

describe('the rule checks compiled ahead', () => {
  it('judge extension attributes as ajv compiling the schema now does, errors included', () => {
    const fresh = freshAjv().compile(JSON.parse(readFileSync('schemas/rule-extensions.schema.json', 'utf8')) as object);
    const samples: unknown[] = [
      {},
      { mode: 'enforce' },
      { mode: 'sometimes' },
      { suppress: '1h' },
      { suppress: { timespan: '10m', 'group-by': ['ip'] } },
      { suppress: '1' + '0'.repeat(400) + 'h' },
      { suppress: 'soon' },
      { response: [{ action: 'block_ip', duration: '1h' }, { action: 'notify' }] },
      { response: [{ action: 'launch_missiles' }] },
      { response: [{ action: 'block_ip', target: 'planet' }] },
      { response: 'block_ip' },
      { tests: [{ name: 'fires', events: [{ type: 'login.failure' }], expect: 'fire' }] },
      { tests: [{ name: 'x', expect: 'maybe' }] },
      { tests: 'none' },
    ];
    const rnd = prng(9);
    const values = ['1h', '0m', 'x', 3, null, [], {}, 'enforce', 'monitor', ['ip'], [{ action: 'notify' }]];
    for (let i = 0; i < 400; i++) {
      const o: Record<string, unknown> = {};
      for (const k of ['mode', 'suppress', 'response', 'tests', 'other'])
        if (rnd() < 0.4) o[k] = values[Math.floor(rnd() * values.length)];
      samples.push(o);
    }
    let invalid = 0;
    for (const s of samples) {
      const want = fresh(s);
      expect(checks.extensions!(s), JSON.stringify(s)).toBe(want);
      if (!want) {
        invalid++;
        expect(checks.extensions!.errors).toEqual(fresh.errors);
      }
    }
    expect(invalid).toBeGreaterThan(100);
  });

  it('judge each correlation type’s parameters as ajv does, one parameter at a time', () => {
    const ajv = freshAjv();
    let problems = 0;
    for (const kind of Object.values(correlationKinds)) {
      if (!kind.params) continue;
      expect(checks[kind.type]).toBeDefined();
      for (const [key, schema] of Object.entries(kind.params.properties)) {
        for (const value of [
          '2h',
          '0h',
          '1' + '0'.repeat(300) + 'd',
          'soon',
          0,
          0.5,
          1,
          2,
          5000,
          -1,
          true,
          ['a'],
          [1],
          null,
        ]) {
          const ok = ajv.validate({ type: 'object', properties: { [key]: schema } }, { [key]: value });
          const problem = paramProblem(kind.type, key, value);
          expect(problem === undefined, `${kind.type}.${key} = ${JSON.stringify(value)}`).toBe(ok);
          if (!ok) problems++;
        }
      }
    }
    expect(problems).toBeGreaterThan(20);
    expect(paramProblem('dormant_account', 'gap', 'soon')).toMatch(/^`gap` /);
    expect(paramProblem('event_count', 'anything', 1)).toBeUndefined(); // no parameters to check
  });
});
