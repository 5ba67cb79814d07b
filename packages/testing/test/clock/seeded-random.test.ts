import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/index.js';

describe('seededRandom', () => {
  it('gives the same sequence for the same seed, and another for another seed', () => {
    const take = (seed: number) => {
      const random = seededRandom(seed);
      return Array.from({ length: 50 }, () => random());
    };
    expect(take(42)).toEqual(take(42));
    expect(take(43)).not.toEqual(take(42));
  });

  it('stays in [0, 1) and spreads over it', () => {
    const random = seededRandom(7);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const value = random();
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
      buckets[Math.floor(value * 10)]! += 1;
    }
    // Each tenth gets roughly its share: far from an empty or a doubled bucket.
    for (const count of buckets) expect(count).toBeGreaterThan(800);
    for (const count of buckets) expect(count).toBeLessThan(1_200);
  });

  it('refuses a seed it cannot replay, naming the option', () => {
    expect(() => seededRandom(-1)).toThrow(/seed/);
    expect(() => seededRandom(1.5)).toThrow(/non-negative safe integer/);
  });
});
