// Property tests for RetryBudget on an injected clock: random first attempts, retry requests and
// time steps against a model that keeps every event in a plain list. Over the sliding window
// (buckets of windowMs / buckets) a retry is granted exactly when the granted ones stay within
// floor(ratio × first attempts + minRetriesPerSecond × window seconds); an event counts until it
// is due to leave, leaving no earlier than one bucket before windowMs has passed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RetryBudget } from '../../src/policies/retry-budget.js';
import { FakeClock } from '../support/fake-clock.js';

const RUNS = { numRuns: 200 };

const options = fc.record({
  ratio: fc.oneof(fc.constantFrom(0, 0.1, 0.5, 1), fc.double({ min: 0, max: 2, noNaN: true })),
  minRetriesPerSecond: fc.oneof(fc.constantFrom(0, 1, 10), fc.double({ min: 0, max: 5, noNaN: true })),
  windowMs: fc.oneof(fc.integer({ min: 1, max: 5_000 }), fc.double({ min: 1, max: 5_000, noNaN: true })),
  buckets: fc.integer({ min: 1, max: 12 }),
});

type Op =
  | { readonly kind: 'attempt' }
  | { readonly kind: 'retry' }
  | { readonly kind: 'advance'; readonly fraction: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'attempt' as const }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'retry' as const }) },
  // a step of up to 1.5 windows, often a small one
  {
    weight: 3,
    arbitrary: fc
      .oneof(fc.double({ min: 0, max: 0.2, noNaN: true }), fc.double({ min: 0, max: 1.5, noNaN: true }))
      .map((fraction) => ({ kind: 'advance' as const, fraction })),
  },
);

describe('RetryBudget (properties)', () => {
  it('grants a retry exactly when the window allows one more, and reports the window as it is', () => {
    fc.assert(
      fc.property(
        options,
        fc.integer({ min: 0, max: 1e9 }),
        fc.array(op, { maxLength: 150, size: 'max' }),
        (o, start, ops) => {
          const clock = new FakeClock(start);
          const budget = new RetryBudget({ ...o, clock });
          const bucketMs = o.windowMs / o.buckets;
          const epoch = (t: number) => Math.floor(t / bucketMs);
          const events: Array<{ at: number; kind: 'attempt' | 'retry' }> = [];
          const window = () => {
            const now = epoch(clock.now());
            const live = events.filter((e) => epoch(e.at) > now - o.buckets && epoch(e.at) <= now);
            const attempts = live.filter((e) => e.kind === 'attempt').length;
            const retries = live.length - attempts;
            const allowed = Math.floor(o.ratio * attempts + (o.minRetriesPerSecond * o.windowMs) / 1000 + 1e-9);
            return { attempts, retries, allowed, remaining: Math.max(0, allowed - retries) };
          };
          for (const step of ops) {
            let granted = false;
            if (step.kind === 'attempt') {
              budget.recordAttempt();
              events.push({ at: clock.now(), kind: 'attempt' });
            } else if (step.kind === 'retry') {
              const { retries, allowed } = window();
              granted = retries + 1 <= allowed;
              expect(budget.tryAcquireRetry()).toBe(granted);
              if (granted) events.push({ at: clock.now(), kind: 'retry' });
            } else clock.set(clock.now() + step.fraction * o.windowMs);
            const snapshot = budget.snapshot();
            expect(snapshot).toEqual(window());
            // The README's bound, whenever a retry was just granted: retries <= the window's allowance.
            if (granted) expect(snapshot.retries).toBeLessThanOrEqual(snapshot.allowed);
          }
        },
      ),
      RUNS,
    );
  });

  it('counts an event for at least windowMs minus one bucket, and never once windowMs has passed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 1e9 }),
        fc.double({ min: 0, max: 2, noNaN: true }),
        (windowMs, buckets, at, later) => {
          const clock = new FakeClock(at);
          const budget = new RetryBudget({ ratio: 1, minRetriesPerSecond: 0, windowMs, buckets, clock });
          budget.recordAttempt();
          const elapsed = Math.floor(later * windowMs);
          clock.set(at + elapsed);
          const { attempts } = budget.snapshot();
          if (elapsed < windowMs - windowMs / buckets) expect(attempts).toBe(1);
          if (elapsed >= windowMs) expect(attempts).toBe(0);
        },
      ),
      RUNS,
    );
  });

  it('stays sane when the clock steps backwards: never grants past the allowance it reports', () => {
    const jump = fc.oneof(
      fc.constant({ kind: 'attempt' as const }),
      fc.constant({ kind: 'retry' as const }),
      fc.integer({ min: -20_000, max: 20_000 }).map((ms) => ({ kind: 'jump' as const, ms })),
    );
    fc.assert(
      fc.property(options, fc.array(jump, { maxLength: 100, size: 'max' }), (o, ops) => {
        const clock = new FakeClock(1_000_000);
        const budget = new RetryBudget({ ...o, clock });
        for (const step of ops) {
          if (step.kind === 'attempt') budget.recordAttempt();
          else if (step.kind === 'jump') clock.set(clock.now() + step.ms);
          else {
            const before = budget.snapshot();
            const granted = budget.tryAcquireRetry();
            expect(granted).toBe(before.retries + 1 <= before.allowed);
            if (granted) expect(budget.snapshot().retries).toBe(before.retries + 1);
          }
          const s = budget.snapshot();
          expect(s.remaining).toBe(Math.max(0, s.allowed - s.retries));
          expect(s.attempts).toBeGreaterThanOrEqual(0);
          expect(s.allowed).toBeGreaterThanOrEqual(Math.floor((o.minRetriesPerSecond * o.windowMs) / 1000 + 1e-9));
        }
      }),
      RUNS,
    );
  });
});
