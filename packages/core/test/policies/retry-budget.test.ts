import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { RetryBudget, type RetryBudgetOptions } from '../../src/policies/retry-budget.js';
import { FakeClock } from '../support/fake-clock.js';

function budget(options: RetryBudgetOptions = {}) {
  const clock = new FakeClock(0);
  return { clock, budget: new RetryBudget({ clock, ...options }) };
}

function acquire(b: RetryBudget, n: number): boolean[] {
  return Array.from({ length: n }, () => b.tryAcquireRetry());
}

describe('RetryBudget', () => {
  it('allows minRetriesPerSecond × window seconds with no traffic (default 100)', () => {
    const { budget: b } = budget();
    expect(b.snapshot()).toEqual({ attempts: 0, retries: 0, allowed: 100, remaining: 100 });
    const granted = acquire(b, 101);
    expect(granted.filter(Boolean)).toHaveLength(100);
    expect(granted[100]).toBe(false);
    expect(b.snapshot()).toEqual({ attempts: 0, retries: 100, allowed: 100, remaining: 0 });
  });

  it('grants ratio × first attempts on top of the floor', () => {
    const { budget: b } = budget({ ratio: 0.1, minRetriesPerSecond: 0 });
    for (let i = 0; i < 100; i++) b.recordAttempt();
    expect(acquire(b, 12)).toEqual([true, true, true, true, true, true, true, true, true, true, false, false]);
    expect(b.snapshot()).toEqual({ attempts: 100, retries: 10, allowed: 10, remaining: 0 });
    // More traffic earns more retries.
    for (let i = 0; i < 10; i++) b.recordAttempt();
    expect(acquire(b, 2)).toEqual([true, false]);
  });

  it('floors fractional allowances: 9 attempts at 10 % allow no retry', () => {
    const { budget: b } = budget({ ratio: 0.1, minRetriesPerSecond: 0 });
    for (let i = 0; i < 9; i++) b.recordAttempt();
    expect(b.snapshot().allowed).toBe(0);
    expect(b.tryAcquireRetry()).toBe(false);
    b.recordAttempt();
    expect(b.tryAcquireRetry()).toBe(true);
  });

  it('does not let float error cost a retry (0.1 × 30 = 3)', () => {
    const { budget: b } = budget({ ratio: 0.1, minRetriesPerSecond: 0.7, windowMs: 1_000 });
    for (let i = 0; i < 30; i++) b.recordAttempt();
    // 0.1 * 30 = 3.0000000000000004 and 0.7 * 1 = 0.7 -> 3
    expect(b.snapshot().allowed).toBe(3);
  });

  it('forgets attempts and retries as the window slides past them', () => {
    const { clock, budget: b } = budget({ ratio: 0.5, minRetriesPerSecond: 0, windowMs: 10_000 });
    for (let i = 0; i < 10; i++) b.recordAttempt(); // t = 0
    expect(acquire(b, 5)).toEqual([true, true, true, true, true]);
    clock.set(5_000);
    for (let i = 0; i < 4; i++) b.recordAttempt(); // t = 5 s
    expect(b.snapshot()).toEqual({ attempts: 14, retries: 5, allowed: 7, remaining: 2 });
    clock.set(9_999);
    expect(b.snapshot().attempts).toBe(14);
    clock.set(10_000); // the t = 0 bucket leaves the window, with its retries
    expect(b.snapshot()).toEqual({ attempts: 4, retries: 0, allowed: 2, remaining: 2 });
    expect(acquire(b, 3)).toEqual([true, true, false]);
    clock.set(15_000); // the t = 5 s attempts are gone; the retries granted at t = 10 s still count
    expect(b.snapshot()).toEqual({ attempts: 0, retries: 2, allowed: 0, remaining: 0 });
    clock.set(20_000);
    expect(b.snapshot()).toEqual({ attempts: 0, retries: 0, allowed: 0, remaining: 0 });
  });

  it('stops a retry storm: with every message failing, retries stay at the ratio of traffic', () => {
    const { clock, budget: b } = budget({ ratio: 0.2, minRetriesPerSecond: 1, windowMs: 10_000 });
    let granted = 0;
    let denied = 0;
    // 60 s of 100 first attempts per second, each failing and asking for one retry.
    for (let second = 0; second < 60; second++) {
      clock.set(second * 1_000);
      for (let i = 0; i < 100; i++) {
        b.recordAttempt();
        if (b.tryAcquireRetry()) granted += 1;
        else denied += 1;
      }
      const { retries, allowed } = b.snapshot();
      expect(retries).toBeLessThanOrEqual(allowed);
    }
    // Over a 10 s window: 0.2 × 1000 attempts + 10 = 210 retries at most, i.e. about 21 % of traffic.
    expect(granted / (granted + denied)).toBeLessThan(0.25);
    expect(granted).toBeGreaterThan(0.15 * 6_000);
  });

  it('keeps memory fixed: traffic spread over many windows only counts the last one', () => {
    const { clock, budget: b } = budget({ ratio: 1, minRetriesPerSecond: 0, windowMs: 1_000, buckets: 4 });
    for (let t = 0; t < 100_000; t += 50) {
      clock.set(t);
      b.recordAttempt();
    }
    // 20 attempts per second; the window holds the last 4 buckets of 250 ms = 20 attempts.
    expect(b.snapshot().attempts).toBe(20);
  });

  it('survives the clock stepping backwards', () => {
    const { clock, budget: b } = budget({ ratio: 1, minRetriesPerSecond: 0, windowMs: 1_000 });
    clock.set(50_000);
    b.recordAttempt();
    clock.set(10_000);
    b.recordAttempt();
    expect(b.snapshot().attempts).toBe(1);
    expect(acquire(b, 2)).toEqual([true, false]);
  });

  const invalid: Array<[string, RetryBudgetOptions, string]> = [
    ['a negative ratio', { ratio: -0.1 }, 'retryBudget.ratio'],
    ['a NaN ratio', { ratio: Number.NaN }, 'retryBudget.ratio'],
    ['a negative floor', { minRetriesPerSecond: -1 }, 'retryBudget.minRetriesPerSecond'],
    ['a zero window', { windowMs: 0 }, 'retryBudget.windowMs'],
    ['an infinite window', { windowMs: Number.POSITIVE_INFINITY }, 'retryBudget.windowMs'],
    ['zero buckets', { buckets: 0 }, 'retryBudget.buckets'],
    ['fractional buckets', { buckets: 2.5 }, 'retryBudget.buckets'],
  ];
  it.each(invalid)('rejects %s, naming the option', (_, options, option) => {
    expect(() => new RetryBudget(options)).toThrow(InvalidOptionError);
    try {
      new RetryBudget(options);
    } catch (error) {
      expect((error as InvalidOptionError).option).toBe(option);
    }
  });
});
