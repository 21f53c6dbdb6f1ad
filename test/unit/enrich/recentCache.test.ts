import { describe, expect, it } from 'vitest';
import { RecentCache } from '../../../src/enrich/recentCache.js';

describe('RecentCache', () => {
  it('keeps the last `capacity` keys, forgetting the oldest insertion first', () => {
    const c = new RecentCache<number | null>(3);
    c.set('a', 1);
    c.set('b', null);
    c.set('c', 3);
    expect([c.get('a'), c.get('b'), c.get('c'), c.size]).toEqual([1, null, 3, 3]);
    c.set('d', 4);
    expect(c.get('a')).toBeUndefined();
    expect([c.get('b'), c.get('d'), c.size]).toEqual([null, 4, 3]);
    c.set('b', 9); // kept already: neither replaced nor moved
    expect(c.get('b')).toBeNull();
    c.set('e', 5);
    c.set('f', 6);
    expect([c.get('b'), c.get('c'), c.get('d'), c.get('e'), c.get('f')]).toEqual([undefined, undefined, 4, 5, 6]);
  });

  it('stays bounded through many misses, and keeps nothing at capacity 0', () => {
    const c = new RecentCache<number>(100);
    for (let i = 0; i < 10_000; i++) c.set(`k${i}`, i);
    expect(c.size).toBe(100);
    expect(c.get('k9999')).toBe(9999);
    expect(c.get('k9899')).toBeUndefined();
    const none = new RecentCache<number>(0);
    none.set('a', 1);
    expect([none.get('a'), none.size]).toEqual([undefined, 0]);
  });
});
