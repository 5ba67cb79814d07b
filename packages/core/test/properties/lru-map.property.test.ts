// Property tests for LruMap (use order, O(1) touch and evict-oldest): random set / get / touch /
// delete / evict-oldest / delete-while-iterating / clear sequences against an array ordered from
// least to most recently used; entries, size and oldest are compared after every step.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LruMap } from '../../src/idempotency/lru-map.js';

const RUNS = { numRuns: 200 };

const KEYS = 6;
const key = fc.nat({ max: KEYS - 1 });
const lruOp = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('set' as const), key, value: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('get' as const), key }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('touch' as const), key }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('evict-oldest' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('iterate-delete' as const), mask: fc.nat({ max: 2 ** KEYS - 1 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const) }) },
);

describe('LruMap (properties)', () => {
  it('matches an array ordered from least to most recently used', () => {
    fc.assert(
      fc.property(fc.array(lruOp, { maxLength: 100, size: 'max' }), (ops) => {
        const m = new LruMap<number, number>();
        /** Least recently used first. */
        let model: Array<[number, number]> = [];
        const without = (k: number) => model.filter(([mk]) => mk !== k);
        for (const op of ops) {
          switch (op.kind) {
            case 'set':
              m.set(op.key, op.value);
              model = [...without(op.key), [op.key, op.value]];
              break;
            case 'get':
              // does not change the order
              expect(m.get(op.key)).toBe(model.find(([k]) => k === op.key)?.[1]);
              expect(m.has(op.key)).toBe(model.some(([k]) => k === op.key));
              break;
            case 'touch': {
              const found = model.find(([k]) => k === op.key);
              expect(m.touch(op.key)).toBe(found !== undefined);
              if (found) model = [...without(op.key), found];
              break;
            }
            case 'delete':
              expect(m.delete(op.key)).toBe(model.some(([k]) => k === op.key));
              model = without(op.key);
              break;
            case 'evict-oldest': {
              const oldest = m.oldest();
              expect(oldest).toEqual(model[0]);
              if (oldest !== undefined) m.delete(oldest[0]);
              model = model.slice(1);
              break;
            }
            case 'iterate-delete': {
              // deleting the current entry while iterating is safe, and every entry is seen once
              const seen: number[] = [];
              for (const [k] of m.entries()) {
                seen.push(k);
                if ((op.mask >> k) & 1) m.delete(k);
              }
              expect(seen).toEqual(model.map(([k]) => k));
              model = model.filter(([k]) => !((op.mask >> k) & 1));
              break;
            }
            case 'clear':
              m.clear();
              model = [];
              break;
          }
          expect([...m.entries()]).toEqual(model);
          expect(m.size).toBe(model.length);
          expect(m.oldest()).toEqual(model[0]);
        }
      }),
      RUNS,
    );
  });
});
