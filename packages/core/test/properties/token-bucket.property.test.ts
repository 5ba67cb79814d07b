// Property tests for TokenBucket on an injected clock (FakeClock: time moves only when the test
// advances it). Whatever the mix of tryTake and take (concurrent, some aborted), the tokens granted
// up to any time t never exceed burst + ratePerSecond × (t − t0) / 1000; a tryTake that says "wait
// w ms" succeeds after w ms; take() callers are served in call order, each no later than its fair
// slot; an aborted take gets nothing and hands its tokens back.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/policies/token-bucket.js';
import { FakeClock, settle } from '../support/fake-clock.js';

const RUNS = { numRuns: 150 };

const config = fc.record({
  ratePerSecond: fc.oneof(fc.constantFrom(1, 3, 7, 10, 1000), fc.double({ min: 0.5, max: 500, noNaN: true })),
  burst: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 8 }), fc.double({ min: 1, max: 8, noNaN: true })),
});
/** A whole number of tokens up to burst (fractional requests are allowed too, up to burst). */
const request = (burst: number) => fc.oneof(fc.constant(1), fc.double({ min: 0.1, max: burst, noNaN: true }));

/** The fluid upper bound on what may have been granted by `now`, with room for float rounding. */
const ceilingOf = (c: { ratePerSecond: number; burst: number }, t0: number, now: number) =>
  c.burst + (c.ratePerSecond * (now - t0)) / 1000 + 1e-6;

describe('TokenBucket (properties)', () => {
  it('tryTake never grants more than burst + rate × elapsed, and its wait is enough', () => {
    fc.assert(
      fc.property(
        config.chain((c) =>
          fc.record({
            c: fc.constant(c),
            steps: fc.array(
              fc.record({
                n: request(c.burst),
                advance: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2_000 })),
                obey: fc.boolean(),
              }),
              { maxLength: 60, size: 'max' },
            ),
          }),
        ),
        ({ c, steps }) => {
          const clock = new FakeClock(5_000);
          const bucket = new TokenBucket({ ...c, clock });
          let granted = 0;
          for (const { n, advance, obey } of steps) {
            const wait = bucket.tryTake(n);
            if (wait === 0) granted += n;
            else {
              expect(wait).toBeGreaterThan(0);
              expect(Number.isInteger(wait)).toBe(true);
              if (obey) {
                // waiting what it said is enough
                clock.set(clock.now() + wait);
                expect(bucket.tryTake(n)).toBe(0);
                granted += n;
              }
            }
            expect(granted).toBeLessThanOrEqual(ceilingOf(c, 5_000, clock.now()));
            expect(bucket.available).toBeLessThanOrEqual(c.burst);
            clock.set(clock.now() + advance);
          }
        },
      ),
      RUNS,
    );
  });

  it('a greedy poller gets no more than burst + rate × elapsed at any moment', () => {
    fc.assert(
      fc.property(
        config,
        fc.double({ min: 0.1, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 200 }),
        (c, share, everyMs, polls) => {
          const n = Math.max(0.1, share * c.burst);
          const clock = new FakeClock(0);
          const bucket = new TokenBucket({ ...c, clock });
          let grants = 0;
          for (let p = 0; p < polls; p++, clock.set(clock.now() + everyMs)) {
            // (bounded, so a bucket that grants forever fails the bound instead of hanging the test)
            for (let k = 0; k < 1_000 && bucket.tryTake(n) === 0; k++) grants += 1;
            expect(grants * n).toBeLessThanOrEqual(
              c.burst + (c.ratePerSecond * clock.now()) / 1000 + 1e-9 * (grants + 1),
            );
          }
        },
      ),
      RUNS,
    );
  });

  it('a long enough pause refills to burst, and no further', () => {
    fc.assert(
      fc.property(
        config,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 100_000 }),
        (c, used, extra) => {
          const clock = new FakeClock(0);
          const bucket = new TokenBucket({ ...c, clock });
          const first = Math.max(0.01, used * c.burst);
          expect(bucket.tryTake(first)).toBe(0);
          clock.set(Math.ceil((first * 1000) / c.ratePerSecond) + extra);
          expect(bucket.available).toBeCloseTo(c.burst, 9);
          expect(bucket.tryTake(c.burst)).toBe(0);
        },
      ),
      RUNS,
    );
  });

  it('serves concurrent take() calls in call order, within the rate, and an aborted one gets nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        config.chain((c) =>
          fc.record({
            c: fc.constant(c),
            takers: fc.array(
              fc.record({
                n: request(c.burst),
                abortAfter: fc.option(fc.integer({ min: 0, max: 3_000 }), { nil: undefined }),
              }),
              {
                minLength: 1,
                maxLength: 12,
              },
            ),
            steps: fc.array(fc.integer({ min: 0, max: 1_500 }), { minLength: 1, maxLength: 20 }),
          }),
        ),
        async ({ c, takers, steps }) => {
          const clock = new FakeClock(0);
          const bucket = new TokenBucket({ ...c, clock });
          const done: Array<{ i: number; at: number }> = [];
          const aborted = new Set<number>();
          const controllers = takers.map(() => new AbortController());
          const all = takers.map(({ n }, i) =>
            bucket.take(n, controllers[i]!.signal).then(
              () => void done.push({ i, at: clock.now() }),
              (reason) => {
                expect(reason).toBe(controllers[i]!.signal.reason);
                aborted.add(i);
              },
            ),
          );
          await settle();
          // Each caller's slot if nobody aborted: when the fluid bucket has everything asked up to it.
          let asked = 0;
          const slot = takers.map(({ n }) => {
            asked += n;
            return Math.max(0, ((asked - c.burst) * 1000) / c.ratePerSecond);
          });
          const aborts = takers
            .map(({ abortAfter }, i) => ({ i, at: abortAfter }))
            .filter((a): a is { i: number; at: number } => a.at !== undefined)
            .sort((a, b) => a.at - b.at);
          for (const ms of steps) {
            const target = clock.now() + ms;
            while (aborts.length > 0 && aborts[0]!.at <= target) {
              const { i, at } = aborts.shift()!;
              if (at > clock.now()) await clock.advance(at - clock.now());
              const sleeping = !done.some((d) => d.i === i);
              const before = bucket.available;
              controllers[i]!.abort(new Error(`stop ${i}`));
              await settle();
              // still waiting: it gets nothing and its tokens go back (up to burst)
              if (sleeping) {
                expect(aborted.has(i)).toBe(true);
                expect(bucket.available).toBeCloseTo(Math.min(c.burst, before + takers[i]!.n), 9);
              }
            }
            if (target > clock.now()) await clock.advance(target - clock.now());
            // granted so far: within the rate
            const granted = done.reduce((sum, d) => sum + takers[d.i]!.n, 0);
            expect(granted).toBeLessThanOrEqual(ceilingOf(c, 0, clock.now()));
          }
          await clock.advance(1e9);
          await Promise.all(all);
          expect(done.length + aborted.size).toBe(takers.length);
          for (const d of done) {
            expect(aborted.has(d.i)).toBe(false);
            // no later than its slot in the fluid model (each sleep is rounded up to a whole ms)
            expect(d.at).toBeLessThanOrEqual(Math.ceil(slot[d.i]!) + 1);
          }
          // within the rate at the moment of every grant
          let cumulative = 0;
          for (const d of done) {
            cumulative += takers[d.i]!.n;
            expect(cumulative).toBeLessThanOrEqual(ceilingOf(c, 0, d.at));
          }
          // served in call order
          const finished = done.map((d) => d.i);
          expect(finished).toEqual([...finished].sort((a, b) => a - b));
        },
      ),
      RUNS,
    );
  });
});
