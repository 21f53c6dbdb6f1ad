import { describe, expect, it } from 'vitest';
import { Engine } from '../../../../src/engine/engine.js';
import { Ingest } from '../../../../src/events/ingest.js';
import { loadRuleText, loadRules } from '../../../../src/rules/loader.js';

const HOSTILE = `${'a'.repeat(28)}b`; // exponential for (a+)+$ with backtracking

function auth0(id: string, second: number, list: string[]) {
  const data = {
    log_id: id,
    date: `2026-01-01T00:00:0${second}.000Z`,
    type: 's',
    user_name: id,
    ip: '81.2.69.2',
    details: { list },
  };
  return Buffer.from(JSON.stringify({ log_id: id, data }));
}

describe('the time budget of backtracking regular expressions', () => {
  it('bounds one record of thousands of hostile values by the rule’s budget, not per value, and counts it', () => {
    const rules = loadRules(['test/fixtures/rules/hostile/backtracking.yml'], { regexBudgetMs: 25 });
    expect(rules.diagnostics.items.map((d) => d.code)).toEqual(['AW1207']);
    const engine = new Engine(rules);
    const ingest = new Ingest('test');
    const hostile = ingest.process(
      auth0('90020240115103000a0f1490a20d0211c997b44bc357e101', 0, Array(3000).fill(HOSTILE)),
      {},
    );
    if (!hostile.ok) throw new Error(hostile.deadLetter.message);
    expect(engine.process(hostile.event).alerts).toEqual([]);
    // 3,000 values × 25 ms would be 75 s; the rule has 25 ms for the whole record, which the
    // first value spends: the others are not run at all.
    expect(rules.regexBudget.ran).toBeLessThanOrEqual(2);
    expect(rules.regexBudget.skipped).toBeGreaterThanOrEqual(2998);
    expect(engine.stats().regexBudgetExhausted).toEqual({ '22222222-3333-4444-8555-666666666666': 1 });
    // The next record has a budget of its own, and matches.
    const plain = ingest.process(auth0('90020240115103000a0f1490a20d0211c997b44bc357e102', 1, ['aaa']), {});
    if (!plain.ok) throw new Error(plain.deadLetter.message);
    expect(engine.process(plain.event).alerts).toHaveLength(1);
    expect(engine.stats().regexBudgetExhausted).toEqual({ '22222222-3333-4444-8555-666666666666': 1 });
  });

  it('bounds a record across rules by the record’s budget', () => {
    const text = [1, 2, 3, 4, 5, 6]
      .map(
        (i) =>
          `title: backtracking ${i}\nlogsource: {product: auth0}\ndetection:\n  sel:\n    data.details.list|re: '^(?=(a+)+$)a${i}'\n  condition: sel\n`,
      )
      .join('---\n');
    const set = loadRuleText('six.yml', text, { regexBudgetMs: 40, regexRecordBudgetMs: 60 });
    const engine = new Engine(set);
    const ingest = new Ingest('test');
    const hostile = ingest.process(
      auth0('90020240115103000a0f1490a20d0211c997b44bc357e103', 0, Array(50).fill(HOSTILE)),
      {},
    );
    if (!hostile.ok) throw new Error(hostile.deadLetter.message);
    engine.process(hostile.event);
    // Six rules of 40 ms each would take 240 ms; the record has 60: two values run at most.
    expect(set.regexBudget.ran).toBeLessThanOrEqual(3);
    expect(Object.keys(engine.stats().regexBudgetExhausted)).toHaveLength(6);
  });
});
