import { beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import { KeyedState, DeferredSnapshot } from '../../../src/engine/keyedState.js';
import type { AuthEvent } from '../../../src/events/authEvent.js';
import { createEnrichers } from '../../../src/enrich/createEnrichers.js';
import { Ingest } from '../../../src/events/ingest.js';
import type { RuleSet } from '../../../src/rules/loader.js';
import { loadRulesWithValues } from '../../../src/rules/overrides.js';
import { authTraffic, prng } from '../../support/traffic.js';

let rules: RuleSet;
let events: AuthEvent[];

beforeAll(() => {
  rules = loadRulesWithValues(['detections']);
  const ingest = new Ingest('test', { enrichers: createEnrichers({ geo: true, asn: true }) });
  // Few users and many events: groups change again and again while a snapshot is in progress.
  events = authTraffic({ seed: 3, events: 6000, users: 300, attacks: 5, stepMs: 200 }).lines.flatMap((l) => {
    const r = ingest.process(Buffer.from(l), {});
    return r.ok ? [r.event] : [];
  });
});

describe('incremental snapshot', () => {
  it.each([
    [1000, 7, 1],
    [2500, 50, 2],
    [4000, 500, 3],
  ])(
    'begun after %i events and written %i groups at a time while the engine goes on, is the state at its beginning',
    (at, budget, seed) => {
      const live = new Engine(rules, { maxKeysPerRule: 250, sweepEveryMs: 60_000 });
      const reference = new Engine(rules, { maxKeysPerRule: 250, sweepEveryMs: 60_000 });
      for (const e of events.slice(0, at)) {
        live.process(e);
        reference.process(e);
      }
      const expected = JSON.stringify(reference.snapshot());
      const snapshot = live.beginSnapshot();
      const rnd = prng(seed);
      let next = at;
      // Interleave: a few events (touching, creating, evicting and sweeping groups), a slice of the snapshot.
      while (!snapshot.step(budget)) {
        for (let n = Math.floor(rnd() * 40); n > 0 && next < events.length; n--) live.process(events[next++]!);
      }
      for (; next < events.length; next++) live.process(events[next]!);
      expect(snapshot.text()).toBe(expected);
      // And it restores into an engine that goes on exactly like the one it was taken from.
      const restored = new Engine(rules, { maxKeysPerRule: 250, sweepEveryMs: 60_000 });
      restored.restore(JSON.parse(expected));
      for (const e of events.slice(at)) {
        expect(restored.process(e)).toEqual(reference.process(e));
      }
    },
  );

  it('copies a group before each kind of change: set, touch, delete, eviction, sweep, entries', () => {
    const state = new KeyedState<{ n: number }>(3);
    for (const k of ['a', 'b', 'c']) state.set(k, { n: 1 });
    state.touch('b', () => ({ n: 0 }));
    const deferred = new DeferredSnapshot();
    const skeleton = JSON.stringify({ groups: state.snapshot((v) => ({ ...v }), deferred) });
    state.touch('a', () => ({ n: 0 })).n = 2; // changed in place
    state.set('b', { n: 5 });
    state.delete('c');
    state.set('d', { n: 9 }); // born after the beginning: not in it
    state.set('e', { n: 9 }); // evicts
    state.sweep((v) => v.n === 5);
    for (const [, v] of state.entries()) v.n = 7;
    expect(JSON.parse(deferred.text(skeleton))).toEqual({
      groups: {
        evictions: 0,
        entries: [
          ['a', { n: 1 }],
          ['b', { n: 1 }, 1],
          ['c', { n: 1 }],
        ],
      },
    });
    // Once done, changes are no longer copied, and a new snapshot can begin.
    expect(() => state.snapshot((v) => v, new DeferredSnapshot())).not.toThrow();
  });
});
