import { describe, expect, it } from 'vitest';
import { KeyedState } from '../../../src/engine/keyedState.js';
import { prng } from '../../../src/simulate/simulate.js';

/** CLOCK eviction written the plain way (an array, linear searches): what KeyedState must equal. */
class ReferenceClock {
  order: { key: string; value: number; used: boolean }[] = [];
  evictions = 0;
  constructor(private readonly maxKeys: number) {}
  touch(key: string, init: number): number {
    const slot = this.order.find((s) => s.key === key);
    if (slot) {
      slot.used = true;
      return slot.value;
    }
    this.order.push({ key, value: init, used: false });
    while (this.order.length > this.maxKeys) {
      const s = this.order.shift()!;
      if (s.used) {
        s.used = false;
        this.order.push(s);
      } else this.evictions++;
    }
    return init;
  }
  delete(key: string): void {
    this.order = this.order.filter((s) => s.key !== key);
  }
  sweep(expired: (v: number) => boolean): void {
    this.order = this.order.filter((s) => !expired(s.value));
  }
  snapshot() {
    return {
      evictions: this.evictions,
      entries: this.order.map((s) => (s.used ? [s.key, s.value, 1] : [s.key, s.value])),
    };
  }
}

describe('KeyedState', () => {
  it('evicts, iterates and snapshots as plain CLOCK does, whatever the mix of operations', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rnd = prng(seed);
      const max = 1 + Math.floor(rnd() * 40);
      const state = new KeyedState<number>(max);
      const ref = new ReferenceClock(max);
      for (let op = 0; op < 4000; op++) {
        const key = `k${Math.floor(rnd() * max * 3)}`;
        const r = rnd();
        if (r < 0.6) expect(state.touch(key, () => op)).toBe(ref.touch(key, op));
        else if (r < 0.8) {
          state.delete(key);
          ref.delete(key);
        } else if (r < 0.85) {
          const cut = op - Math.floor(rnd() * 500);
          state.sweep((v) => v < cut);
          ref.sweep((v) => v < cut);
        } else expect(state.peek(key)).toBe(ref.order.find((s) => s.key === key)?.value);
        if (op % 97 === 0) {
          expect(state.snapshot((v) => v)).toEqual(ref.snapshot());
          expect([...state.entries()].map(([k]) => k)).toEqual(ref.order.map((s) => s.key));
        }
      }
      expect(state.size).toBe(ref.order.length);
      expect(state.evictions).toBe(ref.evictions);
      // A restored state goes on exactly as the one it was saved from.
      const restored = new KeyedState<number>(max);
      restored.restore(
        state.snapshot((v) => v),
        (v) => v,
      );
      for (let i = 0; i < 200; i++) {
        const key = `n${Math.floor(rnd() * max * 2)}`;
        restored.touch(key, () => i);
        state.touch(key, () => i);
      }
      expect(restored.snapshot((v) => v)).toEqual(state.snapshot((v) => v));
    }
  });

  it('keeps its eviction order within a constant factor of the live groups, however long it churns', () => {
    // A Map's deleted entries stay as holes that its first entry must be walked past; the
    // eviction order must not grow like that: compaction keeps it within 2× the groups + 1024.
    const state = new KeyedState<number>(10_000);
    const inner = state as unknown as { order: unknown[] };
    let worst = 0;
    for (let i = 0; i < 300_000; i++) {
      state.touch(`user${i}`, () => i);
      if (i % 3 === 0) state.touch(`user${i - 5000}`, () => i); // some come back: second chances
      if (i % 7 === 0) state.delete(`user${i - 100}`);
      worst = Math.max(worst, inner.order.length - 2 * state.size);
    }
    expect(worst).toBeLessThanOrEqual(1024);
    expect(state.size).toBeGreaterThan(9_900);
    expect(state.evictions).toBeGreaterThan(250_000);
  });
});

describe('KeyedState.shed', () => {
  it('evicts the stalest groups as the key limit would, giving used ones a second chance, and counts them', () => {
    const s = new KeyedState<number>(100);
    for (let i = 0; i < 10; i++) s.touch(`k${i}`, () => i);
    s.touch('k0', () => -1); // used again: goes to the back instead
    expect(s.shed(3)).toBe(3);
    expect(s.evictions).toBe(3);
    expect([...s.entries()].map(([k]) => k)).toEqual(['k4', 'k5', 'k6', 'k7', 'k8', 'k9', 'k0']);
    expect(s.shed(0)).toBe(0);
    expect(s.shed(100)).toBe(7);
    expect(s.size).toBe(0);
    // Still usable, and still bounded by its key limit.
    for (let i = 0; i < 150; i++) s.touch(`n${i}`, () => i);
    expect(s.size).toBe(100);
  });
});
