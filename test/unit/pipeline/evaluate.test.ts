import { describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import { Ingest } from '../../../src/events/ingest.js';
import { ServiceError } from '../../../src/errors.js';
import { emptyOutput, evaluate } from '../../../src/pipeline/evaluate.js';
import { loadRuleText } from '../../../src/rules/loader.js';

const RULE = `
title: Any login
id: 77777777-7777-4777-8777-777777777777
logsource: {product: authwatch}
detection:
  sel: {type: login.success}
  condition: sel
`;

function setup() {
  const engine = new Engine(loadRuleText('r.yml', RULE));
  const ingest = new Ingest('test');
  const bytes = Buffer.from(
    JSON.stringify({ id: 'e1', type: 'login.success', time: Date.UTC(2026, 0, 1), user: { name: 'a' } }),
  );
  const r = ingest.process(bytes, { line: 3 });
  if (!r.ok) throw new Error('fixture does not decode');
  return { engine, ingest, event: r.event, record: { bytes, position: { line: 3 } } };
}

describe('evaluate', () => {
  it('adds what the engine produced', () => {
    const { engine, ingest, event, record } = setup();
    const out = emptyOutput();
    evaluate(engine, ingest, event, record, out);
    expect(out.alerts).toHaveLength(1);
    expect(out.deadLetters).toEqual([]);
  });

  it('makes an event the engine fails on an engine_error dead letter, taking back what it half-produced', () => {
    const { engine, ingest, event, record } = setup();
    const process = engine.process.bind(engine);
    engine.process = (e, o) => {
      process(e, o); // an alert already pushed, then the failure
      throw new RangeError('Maximum call stack size exceeded');
    };
    const out = emptyOutput();
    evaluate(engine, ingest, event, record, out);
    expect(out.alerts).toEqual([]);
    expect(out.deadLetters).toEqual([
      expect.objectContaining({
        reason: 'engine_error',
        position: { line: 3 },
        message: expect.stringMatching(/call stack/),
      }),
    ]);
    expect(ingest.counters).toMatchObject({ events: 0, deadLetters: 1 });
  });

  it('tries again a failure marked retriable, up to the attempts given', () => {
    const { engine, ingest, event, record } = setup();
    const process = engine.process.bind(engine);
    let calls = 0;
    engine.process = (e, o) => {
      if (++calls < 3) throw new ServiceError('kafka', 'for a moment', { retriable: true });
      return process(e, o);
    };
    const out = emptyOutput();
    evaluate(engine, ingest, event, record, out, { attempts: 3 });
    expect(calls).toBe(3);
    expect(out.alerts).toHaveLength(1);
    const twice = setup();
    twice.engine.process = () => {
      throw new ServiceError('kafka', 'still', { retriable: true });
    };
    const out2 = emptyOutput();
    evaluate(twice.engine, twice.ingest, twice.event, twice.record, out2, { attempts: 2 });
    expect(out2.deadLetters.map((d) => d.reason)).toEqual(['engine_error']);
  });
});
