import { describe, expect, it } from 'vitest';
import { BoundedMap, TokenBuckets } from '../../lib/mesh/limits.js';

describe('BoundedMap', () => {
  it('is full at `max` entries, not before', () => {
    const map = new BoundedMap<string, number>(2);
    expect(map.full).toBe(false);
    map.set('a', 1);
    expect(map.full).toBe(false);
    map.set('b', 2);
    expect(map.full).toBe(true);
  });

  it('drops the oldest entry for a new key beyond the bound, and none for a key it holds', () => {
    const map = new BoundedMap<string, number>(2);
    map.set('a', 1).set('b', 2);
    map.set('a', 3);
    expect([...map]).toEqual([
      ['a', 3],
      ['b', 2],
    ]);
    map.set('c', 4);
    expect([...map]).toEqual([
      ['b', 2],
      ['c', 4],
    ]);
  });
});

describe('TokenBuckets', () => {
  it('grants a burst of `capacity`, then `perSecond` tokens a second, per key', () => {
    const buckets = new TokenBuckets(2, 4, 16);
    const t0 = 10_000;
    expect([buckets.take('a', t0), buckets.take('a', t0), buckets.take('a', t0)]).toEqual([true, true, false]);
    expect(buckets.take('b', t0)).toBe(true);
    // 4 a second: half a token after 125 ms, a whole one after 250 ms.
    expect(buckets.take('a', t0 + 125)).toBe(false);
    expect(buckets.take('a', t0 + 250)).toBe(true);
    expect(buckets.take('a', t0 + 250)).toBe(false);
    // Refilled to the burst and no further, however long a key was idle.
    expect([buckets.take('a', t0 + 60_000), buckets.take('a', t0 + 60_000), buckets.take('a', t0 + 60_000)]).toEqual([true, true, false]);
  });

  it('forgets the least recently used key beyond `maxKeys`: it starts again with a full burst', () => {
    const buckets = new TokenBuckets(1, 1, 2);
    expect([buckets.take('a', 0), buckets.take('b', 0), buckets.take('a', 0)]).toEqual([true, true, false]);
    buckets.take('c', 0);
    expect(buckets.take('a', 0)).toBe(false);
    expect(buckets.take('b', 0)).toBe(true);
  });
});
