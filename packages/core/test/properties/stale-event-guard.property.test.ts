// Property tests for the stale-event guard: compareVersions against bigint arithmetic on numbers
// and bigints (past 2^53 too), and StaleEventGuard over a bounded MemoryVersionStore against a
// model: check is read-only, record keeps the highest version, stale = not newer than the stored
// one, and past maxEntries the least recently advanced entity is the one forgotten.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSwitchyardError } from '../../src/errors.js';
import { compareVersions, MemoryVersionStore, StaleEventGuard } from '../../src/idempotency/stale-event-guard.js';

const RUNS = { numRuns: 200 };

/** A version as a caller may pass it: a safe integer or a bigint, near 0 and around 2^53. */
const version: fc.Arbitrary<number | bigint> = fc.oneof(
  fc.integer({ min: -3, max: 12 }),
  fc.bigInt({ min: -3n, max: 12n }),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
  fc.bigInt({ min: 2n ** 53n - 3n, max: 2n ** 53n + 3n }),
  fc.maxSafeInteger(),
  fc.bigInt(),
);

const sign = (d: bigint) => (d > 0n ? 'newer' : d === 0n ? 'same' : 'older');

describe('compareVersions (properties)', () => {
  it('orders versions exactly, whatever mix of numbers and bigints', () => {
    fc.assert(
      fc.property(version, version, (stored, incoming) => {
        expect(compareVersions(stored, incoming)).toBe(sign(BigInt(incoming) - BigInt(stored)));
        expect(compareVersions(undefined, incoming)).toBe('newer');
      }),
      RUNS,
    );
  });

  it('refuses numbers that are not safe integers as a validation error', () => {
    const unsafe = fc.oneof(
      fc.double({ noInteger: true }),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, -(2 ** 53), 1e300),
    );
    fc.assert(
      fc.property(unsafe, version, (bad, good) => {
        for (const call of [() => compareVersions(good, bad), () => compareVersions(bad, good)]) {
          let thrown: unknown;
          try {
            call();
          } catch (error) {
            thrown = error;
          }
          expect(isSwitchyardError(thrown) && thrown.code === 'SWITCHYARD_VALIDATION').toBe(true);
        }
      }),
      RUNS,
    );
  });
});

type Op =
  | { readonly kind: 'check'; readonly entity: number; readonly version: number | bigint }
  | { readonly kind: 'record'; readonly entity: number; readonly version: number | bigint }
  | { readonly kind: 'get'; readonly entity: number };

describe('StaleEventGuard over MemoryVersionStore (properties)', () => {
  it('accepts only newer versions, records only forward, and forgets the least recently advanced', async () => {
    const entity = fc.nat({ max: 5 });
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('check' as const), entity, version }),
      fc.record({ kind: fc.constant('record' as const), entity, version }),
      fc.record({ kind: fc.constant('get' as const), entity }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(op, { maxLength: 60, size: 'max' }),
        async (max, ops) => {
          const store = new MemoryVersionStore({ maxEntries: max });
          const guard = new StaleEventGuard(store);
          /** Least recently advanced first. */
          let model: Array<[string, bigint]> = [];
          const stored = (key: string) => model.find(([k]) => k === key)?.[1];
          for (const o of ops) {
            const key = `e${o.entity}`;
            const before = stored(key);
            if (o.kind === 'get') expect(await store.get(key)).toBe(before);
            else {
              const expected = before === undefined ? 'newer' : sign(BigInt(o.version) - before);
              if (o.kind === 'check') {
                expect(await guard.check(key, o.version)).toEqual({
                  stale: expected !== 'newer',
                  comparison: expected,
                  stored: before,
                });
              } else {
                expect(await guard.record(key, o.version)).toBe(expected);
                if (expected === 'newer') {
                  model = [...model.filter(([k]) => k !== key), [key, BigInt(o.version)]];
                  if (model.length > max) model = model.slice(1);
                }
              }
            }
            expect(store.size).toBe(model.length);
            for (const [k, v] of model) expect(await store.get(k)).toBe(v);
          }
        },
      ),
      RUNS,
    );
  });
});
