import { describe, expect, it } from 'vitest';
import { LruMap } from '../../src/idempotency/lru-map.js';
import { seededRandom } from '../support/fake-clock.js';

describe('LruMap', () => {
  it('orders entries from least to most recently used', () => {
    const m = new LruMap<string, number>();
    m.set('a', 1);
    m.set('b', 2);
    m.set('c', 3);
    m.touch('a');
    m.set('b', 20); // setting again counts as use
    expect([...m.entries()]).toEqual([
      ['c', 3],
      ['a', 1],
      ['b', 20],
    ]);
    expect(m.oldest()).toEqual(['c', 3]);
    expect(m.get('c')).toBe(3); // get does not reorder
    expect(m.oldest()).toEqual(['c', 3]);
  });

  it('deletes from any position and stays consistent when emptied', () => {
    const m = new LruMap<string, number>();
    for (const k of ['a', 'b', 'c']) m.set(k, 0);
    expect(m.delete('b')).toBe(true);
    expect(m.delete('b')).toBe(false);
    expect([...m.entries()].map(([k]) => k)).toEqual(['a', 'c']);
    m.delete('a');
    m.delete('c');
    expect([m.size, m.oldest(), [...m.entries()]]).toEqual([0, undefined, []]);
    m.set('d', 4);
    expect(m.oldest()).toEqual(['d', 4]);
    expect(m.touch('zzz')).toBe(false);
  });

  it('lets the current entry be deleted while iterating', () => {
    const m = new LruMap<number, number>();
    for (let i = 0; i < 6; i++) m.set(i, i);
    for (const [k] of m.entries()) if (k % 2 === 0) m.delete(k);
    expect([...m.entries()].map(([k]) => k)).toEqual([1, 3, 5]);
  });

  it('matches a reference model under random operations', () => {
    const random = seededRandom(5);
    const m = new LruMap<number, number>();
    let model: Array<[number, number]> = [];
    for (let step = 0; step < 5_000; step++) {
      const key = Math.floor(random() * 20);
      const op = random();
      if (op < 0.4) {
        model = model.filter(([k]) => k !== key);
        model.push([key, step]);
        m.set(key, step);
      } else if (op < 0.7) {
        const found = model.find(([k]) => k === key);
        if (found) model = [...model.filter(([k]) => k !== key), found];
        expect(m.touch(key)).toBe(found !== undefined);
      } else if (op < 0.9) {
        const had = model.some(([k]) => k === key);
        model = model.filter(([k]) => k !== key);
        expect(m.delete(key)).toBe(had);
      } else {
        const oldest = m.oldest();
        expect(oldest).toEqual(model[0]);
        if (oldest) {
          m.delete(oldest[0]);
          model.shift();
        }
      }
      expect(m.size).toBe(model.length);
    }
    expect([...m.entries()]).toEqual(model);
  });
});
