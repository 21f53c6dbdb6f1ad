import { describe, expect, it } from 'vitest';
import { CompactState } from '../../../src/engine/compactState.js';
import { prng } from '../../../src/simulate/simulate.js';

/** The state's content as a plain map, in arena order. */
function contents(s: CompactState): Map<string, [number, string]> {
  const out = new Map<string, [number, string]>();
  s.forEach((key, time, value) => out.set(key, [time, value.toString('utf8')]));
  return out;
}

describe('CompactState', () => {
  it('keeps text and bytes by key, outside the heap, and overwrites or moves on change', () => {
    const s = new CompactState();
    s.set('auth0|alice', 1000, 'evt-1');
    s.set('auth0|bob', 2000, Buffer.from([1, 2, 3]));
    expect(s.size).toBe(2);
    expect(s.time('auth0|alice')).toBe(1000);
    expect(s.text('auth0|alice')).toBe('evt-1');
    expect([...s.value('auth0|bob')!]).toEqual([1, 2, 3]);
    expect(s.time('auth0|carol')).toBeUndefined();
    expect(s.value('auth0|carol')).toBeUndefined();
    s.set('auth0|alice', 3000, 'evt-2'); // same size: in place
    s.set('auth0|bob', 4000, 'a much longer value than before'); // moves to the end
    expect(contents(s)).toEqual(
      new Map([
        ['auth0|alice', [3000, 'evt-2']],
        ['auth0|bob', [4000, 'a much longer value than before']],
      ]),
    );
    expect(s.delete('auth0|alice')).toBe(true);
    expect(s.delete('auth0|alice')).toBe(false);
    expect(s.size).toBe(1);
  });

  it('tells apart keys that differ only past the hash, in any script', () => {
    const s = new CompactState();
    const keys = ['ü', 'u\u0308', '用户', '😀', 'a'.repeat(1000), 'a'.repeat(999) + 'b', ''];
    keys.forEach((k, i) => s.set(k, i, `v${i}`));
    keys.forEach((k, i) => expect(s.text(k)).toBe(`v${i}`));
    expect(s.size).toBe(keys.length);
  });

  it('behaves as a map under random sets, deletes, sweeps and restores (model check)', () => {
    const rnd = prng(7);
    const s = new CompactState();
    const model = new Map<string, [number, string]>();
    for (let step = 0; step < 60_000; step++) {
      const key = `user-${Math.floor(rnd() * 3000)}`;
      const r = rnd();
      if (r < 0.7) {
        const t = Math.floor(rnd() * 1e6);
        const v = 'x'.repeat(Math.floor(rnd() * 40));
        s.set(key, t, v);
        model.set(key, [t, v]);
      } else if (r < 0.95) {
        expect(s.delete(key)).toBe(model.delete(key));
      } else if (r < 0.99) {
        expect(s.time(key)).toBe(model.get(key)?.[0]);
        expect(s.text(key)).toBe(model.get(key)?.[1]);
      } else if (r < 0.995) {
        const horizon = Math.floor(rnd() * 3e5);
        let expected = 0;
        for (const [k, [t]] of model)
          if (t < horizon) {
            model.delete(k);
            expected++;
          }
        expect(s.sweepBefore(horizon)).toBe(expected);
      } else {
        const copy = new CompactState();
        copy.restore(JSON.parse(JSON.stringify(s.snapshot())));
        expect(contents(copy)).toEqual(contents(s));
        copy.set('probe', 1, 'p');
        expect(copy.text('probe')).toBe('p');
      }
      expect(s.size).toBe(model.size);
    }
    expect(new Map([...contents(s)].sort())).toEqual(new Map([...model].sort()));
  });

  it('stays within its byte bound by dropping the stalest quarter, counted', () => {
    const s = new CompactState(256 * 1024);
    for (let i = 0; i < 100_000; i++) {
      s.set(`auth0|user-${i}`, i, `evt-${i}`);
      expect(s.bytes).toBeLessThanOrEqual(256 * 1024);
    }
    expect(s.evictions).toBeGreaterThan(0);
    expect(s.size + s.evictions).toBe(100_000);
    // What is left is the newest: every group at or after the oldest kept is there.
    const times = [...contents(s).values()].map(([t]) => t).sort((a, b) => a - b);
    expect(times[times.length - 1]).toBe(99_999);
    expect(times.length).toBe(100_000 - times[0]!);
  });

  it('sheds the stalest share by time, whatever the order of arrival', () => {
    const s = new CompactState();
    for (const t of [5, 1, 4, 2, 3, 8, 7, 6]) s.set(`k${t}`, t, '');
    expect(s.shedShare(0.25)).toBe(2);
    expect([...contents(s).keys()].sort()).toEqual(['k3', 'k4', 'k5', 'k6', 'k7', 'k8']);
    expect(s.evictions).toBe(2);
  });

  it('writes a deferred snapshot in slices that join to the whole', () => {
    const s = new CompactState();
    for (let i = 0; i < 5000; i++) s.set(`user-${i}`, i, `evt-${i}`);
    const whole = s.snapshot();
    let part: { done: boolean; step(b: number): number; entriesText(): string } | undefined;
    const snap = s.snapshot((p) => ((part = p), 'placeholder'));
    expect(snap.records).toBe('placeholder');
    let steps = 0;
    while (!part!.done) {
      part!.step(7);
      steps++;
    }
    expect(steps).toBeGreaterThan(10);
    expect(JSON.parse(part!.entriesText())).toBe(whole.records);
  });

  it('reads the first layout (UTF-8 keys and text), as earlier checkpoints hold it', () => {
    const record = (key: string, time: number, value: Buffer) => {
      const k = Buffer.from(key, 'utf8');
      const size = (16 + k.length + value.length + 7) & ~7;
      const b = Buffer.alloc(size);
      b.writeUInt32LE(k.length, 0);
      b.writeUInt32LE(value.length, 4);
      b.writeDoubleLE(time, 8);
      k.copy(b, 16);
      value.copy(b, 16 + k.length);
      return b;
    };
    const records = Buffer.concat([
      record('auth0|alice', 1000, Buffer.from('evt-1')),
      record('ü-user', 2000, Buffer.from('évt-2', 'utf8')),
    ]).toString('base64');
    const texts = new CompactState();
    texts.restore({ compact: 1, evictions: 3, records }, true);
    expect([...contents(texts)].map(([key, [time]]) => [key, time])).toEqual([
      ['auth0|alice', 1000],
      ['ü-user', 2000],
    ]);
    expect(texts.text('auth0|alice')).toBe('evt-1');
    expect(texts.text('ü-user')).toBe('évt-2');
    expect(texts.evictions).toBe(3);
    const bytes = new CompactState();
    bytes.restore({ compact: 1, evictions: 0, records }, false);
    expect([...bytes.value('ü-user')!]).toEqual([...Buffer.from('évt-2', 'utf8')]);
  });

  it('refuses damaged records rather than half-reading them', () => {
    const s = new CompactState();
    s.set('a', 1, 'b');
    const snap = s.snapshot();
    const bytes = Buffer.from(snap.records, 'base64');
    bytes.writeUInt32LE(1000, 4); // a value length past the end
    expect(() => new CompactState().restore({ ...snap, records: bytes.toString('base64') })).toThrow(/damaged/);
  });
});
