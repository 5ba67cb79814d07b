import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { TokenBucket, type TokenBucketOptions } from '../../src/policies/token-bucket.js';
import { FakeClock, settle } from '../support/fake-clock.js';

function bucket(options: Omit<TokenBucketOptions, 'clock'>) {
  const clock = new FakeClock(0);
  return { clock, bucket: new TokenBucket({ clock, ...options }) };
}

describe('TokenBucket', () => {
  it('starts full, then answers how long to wait', () => {
    const { bucket: b } = bucket({ ratePerSecond: 10, burst: 3 });
    expect([b.tryTake(), b.tryTake(), b.tryTake(), b.tryTake(), b.tryTake(2)]).toEqual([0, 0, 0, 100, 200]);
  });

  it('refills at the rate, up to burst', () => {
    const { clock, bucket: b } = bucket({ ratePerSecond: 4, burst: 2 });
    b.tryTake(2);
    clock.set(250);
    expect(b.tryTake()).toBe(0);
    expect(b.tryTake()).toBe(250);
    clock.set(10_000); // a long pause refills only to burst
    expect([b.tryTake(), b.tryTake(), b.tryTake()]).toEqual([0, 0, 250]);
  });

  it('defaults to a burst of 1: strict pacing from the first call', () => {
    const { bucket: b } = bucket({ ratePerSecond: 50 });
    expect(b.burst).toBe(1);
    expect([b.tryTake(), b.tryTake()]).toEqual([0, 20]);
  });

  it('does not lose a token to float rounding at awkward rates', () => {
    const { clock, bucket: b } = bucket({ ratePerSecond: 3 });
    b.tryTake();
    let now = 0;
    for (let i = 0; i < 30; i++) {
      const wait = b.tryTake();
      expect(wait).toBeGreaterThan(0);
      now += wait;
      clock.set(now);
      expect(b.tryTake()).toBe(0);
    }
    // 30 more tokens at 3 per second, each waited for in whole ms: about 10 s.
    expect(now).toBeGreaterThanOrEqual(10_000);
    expect(now).toBeLessThanOrEqual(10_030);
  });

  it('paces take() on the clock: 50 takes at 10/s sleep 4.9 s in total', async () => {
    const { clock, bucket: b } = bucket({ ratePerSecond: 10 });
    let taken = 0;
    const run = (async () => {
      for (let i = 0; i < 50; i++) {
        await b.take();
        taken += 1;
      }
    })();
    await settle();
    expect(taken).toBe(1);
    expect(clock.pending).toEqual([100]);
    await clock.advance(4_899);
    expect(taken).toBe(49);
    await clock.advance(1);
    await run;
    expect(taken).toBe(50);
    expect(clock.now()).toBe(4_900);
  });

  it('serves concurrent takers in call order, each at its own slot', async () => {
    const { clock, bucket: b } = bucket({ ratePerSecond: 10 });
    const order: string[] = [];
    const takers = ['a', 'b', 'c', 'd'].map((name) => b.take().then(() => order.push(`${name}@${clock.now()}`)));
    await settle();
    expect(order).toEqual(['a@0']);
    expect(clock.pending).toEqual([100, 200, 300]);
    await clock.advance(300);
    await Promise.all(takers);
    expect(order).toEqual(['a@0', 'b@100', 'c@200', 'd@300']);
  });

  it('rejects an aborted take with the reason and hands its tokens back', async () => {
    const { clock, bucket: b } = bucket({ ratePerSecond: 10 });
    b.tryTake();
    const controller = new AbortController();
    const waiting = b.take(1, controller.signal);
    await settle();
    expect(clock.pending).toEqual([100]);
    const reason = new Error('operator stopped the redrive');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(clock.pending).toEqual([]);
    // The aborted reservation does not delay the next caller.
    expect(b.tryTake()).toBe(100);
    await expect(b.take(1, AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });

  it('refuses requests larger than burst, which could never be served', () => {
    const { bucket: b } = bucket({ ratePerSecond: 10, burst: 5 });
    expect(() => b.tryTake(6)).toThrow(InvalidOptionError);
    expect(() => b.tryTake(0)).toThrow(InvalidOptionError);
    return expect(b.take(6)).rejects.toThrow(/burst/);
  });

  const invalid: Array<[string, TokenBucketOptions, string]> = [
    ['a zero rate', { ratePerSecond: 0 }, 'ratePerSecond'],
    ['a NaN rate', { ratePerSecond: Number.NaN }, 'ratePerSecond'],
    ['an infinite rate', { ratePerSecond: Number.POSITIVE_INFINITY }, 'ratePerSecond'],
    ['a burst below 1', { ratePerSecond: 1, burst: 0.5 }, 'burst'],
  ];
  it.each(invalid)('rejects %s, naming the option', (_, options, option) => {
    try {
      new TokenBucket(options);
      expect.unreachable('constructor should have thrown');
    } catch (error) {
      expect((error as InvalidOptionError).option).toBe(option);
    }
  });
});
