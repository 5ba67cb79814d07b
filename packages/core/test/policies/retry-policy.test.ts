import { describe, expect, it } from 'vitest';
import type { RandomSource } from '../../src/clock.js';
import { InvalidOptionError, NonRetryableError, RetryableError, SwitchyardError } from '../../src/errors.js';
import { type RetryDecision, RetryPolicy, type RetryPolicyOptions } from '../../src/policies/retry-policy.js';
import { scriptedRandom, seededRandom } from '../support/fake-clock.js';

const T0 = 1_000_000;
const never: RandomSource = () => {
  throw new Error('random() must not be called here');
};

/** The decisions after attempts 1..n fail in a row, `stepMs` apart. */
function decisions(policy: RetryPolicy, n: number, error: unknown = new Error('boom'), random = never, stepMs = 0) {
  const out: RetryDecision[] = [];
  for (let attempt = 1; attempt <= n; attempt++)
    out.push(policy.decide({ attempt, firstFailureAt: T0, now: T0 + (attempt - 1) * stepMs, error }, random));
  return out;
}

class DownstreamTimeout extends Error {}
class GatewayTimeout extends DownstreamTimeout {}

describe('RetryPolicy', () => {
  it('resolves the documented defaults', () => {
    expect(RetryPolicy.exponential().options).toEqual({
      maxAttempts: 5,
      initialDelayMs: 100,
      maxDelayMs: 30_000,
      multiplier: 2,
      jitter: 'full',
      maxElapsedMs: undefined,
      overrides: [],
    });
  });

  it('doubles the delay per attempt and stops after maxAttempts deliveries', () => {
    const policy = RetryPolicy.exponential({ jitter: 'none' });
    expect(decisions(policy, 5)).toEqual([
      { retry: true, delayMs: 100 },
      { retry: true, delayMs: 200 },
      { retry: true, delayMs: 400 },
      { retry: true, delayMs: 800 },
      { retry: false, reason: 'max-attempts' },
    ]);
  });

  it('caps the ceiling at maxDelayMs', () => {
    const policy = RetryPolicy.exponential({
      jitter: 'none',
      maxAttempts: 8,
      initialDelayMs: 1_000,
      maxDelayMs: 5_000,
      multiplier: 3,
    });
    expect(decisions(policy, 5).map((d) => (d.retry ? d.delayMs : d.reason))).toEqual([
      1_000, 3_000, 5_000, 5_000, 5_000,
    ]);
    expect([1, 2, 3, 4].map((n) => policy.ceilingFor(n))).toEqual([1_000, 3_000, 5_000, 5_000]);
  });

  it('draws full jitter uniformly from [0, ceiling] in whole milliseconds', () => {
    const policy = RetryPolicy.exponential();
    const random = scriptedRandom(0, 0.5, 0.999_999, 0.25);
    expect(decisions(policy, 5, new Error('boom'), random)).toEqual([
      { retry: true, delayMs: 0 },
      { retry: true, delayMs: 100 },
      { retry: true, delayMs: 400 },
      { retry: true, delayMs: 200 },
      { retry: false, reason: 'max-attempts' },
    ]);
    expect(random.calls).toBe(4);
  });

  it('keeps seeded full-jitter delays inside their ceilings, spread over the whole range', () => {
    const policy = RetryPolicy.exponential({ maxAttempts: 20, maxDelayMs: 10_000 });
    const random = seededRandom(42);
    const ratios: number[] = [];
    for (let round = 0; round < 50; round++) {
      for (let attempt = 1; attempt < 20; attempt++) {
        const decision = policy.decide({ attempt, firstFailureAt: T0, now: T0, error: new Error('x') }, random);
        if (!decision.retry) throw new Error('expected a retry');
        const ceiling = policy.ceilingFor(attempt);
        expect(Number.isInteger(decision.delayMs)).toBe(true);
        expect(decision.delayMs).toBeGreaterThanOrEqual(0);
        expect(decision.delayMs).toBeLessThanOrEqual(ceiling);
        ratios.push(decision.delayMs / ceiling);
      }
    }
    const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
    expect(mean).toBeGreaterThan(0.4);
    expect(mean).toBeLessThan(0.6);
    expect(Math.min(...ratios)).toBeLessThan(0.05);
    expect(Math.max(...ratios)).toBeGreaterThan(0.95);
  });

  it('gives the same decisions for the same seed', () => {
    const policy = RetryPolicy.exponential({ maxAttempts: 10 });
    expect(decisions(policy, 10, new Error('x'), seededRandom(7))).toEqual(
      decisions(policy, 10, new Error('x'), seededRandom(7)),
    );
  });

  it('clamps a random source that strays outside [0, 1)', () => {
    const policy = RetryPolicy.exponential();
    expect(policy.decide({ attempt: 1, firstFailureAt: T0, now: T0, error: new Error() }, () => 1)).toEqual({
      retry: true,
      delayMs: 100,
    });
    expect(policy.decide({ attempt: 1, firstFailureAt: T0, now: T0, error: new Error() }, () => -3)).toEqual({
      retry: true,
      delayMs: 0,
    });
    expect(policy.decide({ attempt: 1, firstFailureAt: T0, now: T0, error: new Error() }, () => Number.NaN)).toEqual({
      retry: true,
      delayMs: 0,
    });
  });

  it('computes ceilings for huge attempt numbers without overflow or NaN', () => {
    const policy = RetryPolicy.exponential({ maxAttempts: Number.POSITIVE_INFINITY, maxElapsedMs: 3_600_000 });
    expect(policy.ceilingFor(1)).toBe(100);
    expect(policy.ceilingFor(1_100)).toBe(30_000);
    expect(policy.ceilingFor(Number.MAX_SAFE_INTEGER)).toBe(30_000);
    expect(RetryPolicy.exponential({ initialDelayMs: 0, maxDelayMs: 0 }).ceilingFor(5_000)).toBe(0);
    expect(RetryPolicy.exponential({ multiplier: 1, initialDelayMs: 250 }).ceilingFor(5_000)).toBe(250);
    const decision = policy.decide({ attempt: 100_000, firstFailureAt: T0, now: T0, error: new Error() }, () => 0.5);
    expect(decision).toEqual({ retry: true, delayMs: 15_000 });
  });

  it('stops at once for a non-retryable error, also when it is the cause of a wrapper', () => {
    const policy = RetryPolicy.exponential();
    const wrapped = new Error('handler failed', { cause: new NonRetryableError('card declined') });
    expect(decisions(policy, 1, new NonRetryableError('bad'))).toEqual([{ retry: false, reason: 'non-retryable' }]);
    expect(decisions(policy, 1, wrapped)).toEqual([{ retry: false, reason: 'non-retryable' }]);
    expect(decisions(policy, 1, new SwitchyardError('SWITCHYARD_VALIDATION', 'schema'))).toEqual([
      { retry: false, reason: 'non-retryable' },
    ]);
    expect(decisions(policy, 1, Object.assign(new Error('flagged'), { retryable: false }))).toEqual([
      { retry: false, reason: 'non-retryable' },
    ]);
  });

  it('retries errors that say nothing about retryability, and non-Error values', () => {
    const policy = RetryPolicy.exponential({ jitter: 'none' });
    expect(decisions(policy, 1, new TypeError('x'))).toEqual([{ retry: true, delayMs: 100 }]);
    expect(decisions(policy, 1, 'a string')).toEqual([{ retry: true, delayMs: 100 }]);
    expect(decisions(policy, 1, undefined)).toEqual([{ retry: true, delayMs: 100 }]);
  });

  it("uses a RetryableError's delayMs without jitter, capped by maxDelayMs", () => {
    const policy = RetryPolicy.exponential({ maxDelayMs: 10_000 });
    expect(decisions(policy, 1, new RetryableError('rate limited', { delayMs: 2_500 }))).toEqual([
      { retry: true, delayMs: 2_500 },
    ]);
    expect(decisions(policy, 1, new RetryableError('rate limited', { delayMs: 60_000 }))).toEqual([
      { retry: true, delayMs: 10_000 },
    ]);
    expect(decisions(policy, 1, new RetryableError('clock skew', { delayMs: -5 }))).toEqual([
      { retry: true, delayMs: 0 },
    ]);
    const wrapped = new SwitchyardError('SWITCHYARD_HANDLER', 'handler failed', {
      cause: new RetryableError('429', { delayMs: 1_234 }),
    });
    expect(decisions(policy, 1, wrapped)).toEqual([{ retry: true, delayMs: 1_234 }]);
    // Without delayMs the backoff applies.
    expect(decisions(policy, 1, new RetryableError('flaky'), () => 0.5)).toEqual([{ retry: true, delayMs: 50 }]);
  });

  it('still stops a RetryableError at maxAttempts', () => {
    const policy = RetryPolicy.exponential({ maxAttempts: 2 });
    expect(decisions(policy, 2, new RetryableError('x', { delayMs: 10 }))).toEqual([
      { retry: true, delayMs: 10 },
      { retry: false, reason: 'max-attempts' },
    ]);
  });

  it('stops when the next retry would start past maxElapsedMs after the first failure', () => {
    const policy = RetryPolicy.exponential({ jitter: 'none', maxAttempts: 100, maxElapsedMs: 1_000 });
    // Failures 150 ms apart: retry delays 100, 200, 400, 800 …
    expect(decisions(policy, 5, new Error('x'), never, 150)).toEqual([
      { retry: true, delayMs: 100 }, // 0 + 100
      { retry: true, delayMs: 200 }, // 150 + 200
      { retry: true, delayMs: 400 }, // 300 + 400
      { retry: false, reason: 'max-elapsed' }, // 450 + 800 > 1000
      { retry: false, reason: 'max-elapsed' },
    ]);
    // Landing exactly on the limit is still inside it.
    expect(policy.decide({ attempt: 1, firstFailureAt: T0, now: T0 + 900, error: new Error() }, never)).toEqual({
      retry: true,
      delayMs: 100,
    });
    expect(policy.decide({ attempt: 1, firstFailureAt: T0, now: T0 + 901, error: new Error() }, never)).toEqual({
      retry: false,
      reason: 'max-elapsed',
    });
  });

  it('reports max-attempts before max-elapsed, and non-retryable before both', () => {
    const policy = RetryPolicy.exponential({ maxAttempts: 2, maxElapsedMs: 10 });
    const late = { firstFailureAt: T0, now: T0 + 1_000 };
    expect(policy.decide({ attempt: 2, ...late, error: new Error() }, never)).toEqual({
      retry: false,
      reason: 'max-attempts',
    });
    expect(policy.decide({ attempt: 2, ...late, error: new NonRetryableError('x') }, never)).toEqual({
      retry: false,
      reason: 'non-retryable',
    });
  });

  it('retries forever within maxElapsedMs when maxAttempts is Infinity', () => {
    const policy = RetryPolicy.exponential({
      jitter: 'none',
      maxAttempts: Number.POSITIVE_INFINITY,
      maxElapsedMs: 60_000,
      maxDelayMs: 1_000,
    });
    const out = decisions(policy, 70, new Error('x'), never, 1_000);
    expect(out.slice(0, 60).every((d) => d.retry)).toBe(true);
    expect(out.slice(60).every((d) => !d.retry && d.reason === 'max-elapsed')).toBe(true);
  });

  it('never retries with RetryPolicy.none()', () => {
    const policy = RetryPolicy.none();
    expect(policy.options.maxAttempts).toBe(1);
    expect(decisions(policy, 1)).toEqual([{ retry: false, reason: 'max-attempts' }]);
    expect(decisions(policy, 1, new NonRetryableError('x'))).toEqual([{ retry: false, reason: 'non-retryable' }]);
  });

  describe('overrides', () => {
    it('matches an error code anywhere in the cause chain', () => {
      const policy = RetryPolicy.exponential({
        jitter: 'none',
        overrides: [{ match: 'SWITCHYARD_HANDLER_TIMEOUT', policy: { maxAttempts: 3, initialDelayMs: 1_000 } }],
      });
      const timeout = new SwitchyardError('SWITCHYARD_HANDLER_TIMEOUT', 'slow');
      const wrapped = new Error('outer', { cause: new Error('middle', { cause: timeout }) });
      expect(decisions(policy, 3, wrapped)).toEqual([
        { retry: true, delayMs: 1_000 },
        { retry: true, delayMs: 2_000 },
        { retry: false, reason: 'max-attempts' },
      ]);
      // Other errors keep the policy's own options.
      expect(decisions(policy, 1)).toEqual([{ retry: true, delayMs: 100 }]);
    });

    it('matches an error class by instanceof, subclasses and causes included', () => {
      const policy = RetryPolicy.exponential({
        jitter: 'none',
        overrides: [{ match: DownstreamTimeout, policy: 'no-retry' }],
      });
      expect(decisions(policy, 1, new DownstreamTimeout())).toEqual([{ retry: false, reason: 'non-retryable' }]);
      expect(decisions(policy, 1, new GatewayTimeout())).toEqual([{ retry: false, reason: 'non-retryable' }]);
      expect(decisions(policy, 1, new Error('x', { cause: new GatewayTimeout() }))).toEqual([
        { retry: false, reason: 'non-retryable' },
      ]);
      expect(decisions(policy, 1, new TypeError('x'))).toEqual([{ retry: true, delayMs: 100 }]);
    });

    it('matches with a predicate, called with the error as thrown', () => {
      const seen: unknown[] = [];
      const policy = RetryPolicy.exponential({
        jitter: 'none',
        overrides: [
          {
            match: (error) => {
              seen.push(error);
              return (error as { status?: number }).status === 503;
            },
            policy: { initialDelayMs: 5_000 },
          },
        ],
      });
      const unavailable = Object.assign(new Error('503'), { status: 503 });
      expect(decisions(policy, 2, unavailable)).toEqual([
        { retry: true, delayMs: 5_000 },
        { retry: true, delayMs: 10_000 },
      ]);
      expect(seen).toEqual([unavailable, unavailable]);
    });

    it('lets the first matching override decide', () => {
      const policy = RetryPolicy.exponential({
        jitter: 'none',
        overrides: [
          { match: GatewayTimeout, policy: { initialDelayMs: 7 } },
          { match: DownstreamTimeout, policy: 'no-retry' },
        ],
      });
      expect(decisions(policy, 1, new GatewayTimeout())).toEqual([{ retry: true, delayMs: 7 }]);
      expect(decisions(policy, 1, new DownstreamTimeout())).toEqual([{ retry: false, reason: 'non-retryable' }]);
    });

    it("merges an override's options over the policy's own", () => {
      const policy = RetryPolicy.exponential({
        maxAttempts: 3,
        initialDelayMs: 10,
        jitter: 'none',
        maxElapsedMs: 500,
        overrides: [{ match: 'SWITCHYARD_TRANSPORT', policy: { maxAttempts: 6 } }],
      });
      const override = policy.options.overrides[0]!.policy;
      expect(override).toEqual({
        maxAttempts: 6,
        initialDelayMs: 10,
        maxDelayMs: 30_000,
        multiplier: 2,
        jitter: 'none',
        maxElapsedMs: 500,
      });
    });

    it('retries an error marked non-retryable when an override names it, and stops a retryable one with no-retry', () => {
      const policy = RetryPolicy.exponential({
        jitter: 'none',
        overrides: [
          { match: 'SWITCHYARD_VALIDATION', policy: { maxAttempts: 2 } },
          { match: 'SWITCHYARD_PUBLISH', policy: 'no-retry' },
        ],
      });
      expect(
        decisions(policy, 2, new SwitchyardError('SWITCHYARD_VALIDATION', 'reference data not loaded yet')),
      ).toEqual([
        { retry: true, delayMs: 100 },
        { retry: false, reason: 'max-attempts' },
      ]);
      expect(decisions(policy, 1, new SwitchyardError('SWITCHYARD_PUBLISH', 'x'))).toEqual([
        { retry: false, reason: 'non-retryable' },
      ]);
    });

    it('matches a code carried by a non-Switchyard error in the chain', () => {
      const policy = RetryPolicy.exponential({ overrides: [{ match: 'SWITCHYARD_TRANSPORT', policy: 'no-retry' }] });
      const foreign = Object.assign(new Error('copy of another package'), { code: 'SWITCHYARD_TRANSPORT' });
      expect(decisions(policy, 1, foreign)).toEqual([{ retry: false, reason: 'non-retryable' }]);
    });
  });

  describe('validation', () => {
    const cases: Array<[string, RetryPolicyOptions, string]> = [
      ['zero attempts', { maxAttempts: 0 }, 'retry.maxAttempts'],
      ['fractional attempts', { maxAttempts: 2.5 }, 'retry.maxAttempts'],
      ['NaN attempts', { maxAttempts: Number.NaN }, 'retry.maxAttempts'],
      ['endless attempts without a time limit', { maxAttempts: Number.POSITIVE_INFINITY }, 'retry.maxAttempts'],
      ['a negative initial delay', { initialDelayMs: -1 }, 'retry.initialDelayMs'],
      ['an infinite initial delay', { initialDelayMs: Number.POSITIVE_INFINITY }, 'retry.initialDelayMs'],
      ['a max delay below the initial delay', { initialDelayMs: 500, maxDelayMs: 100 }, 'retry.maxDelayMs'],
      ['a shrinking multiplier', { multiplier: 0.5 }, 'retry.multiplier'],
      ['an unknown jitter', { jitter: 'equal' as 'full' }, 'retry.jitter'],
      ['a zero time limit', { maxElapsedMs: 0 }, 'retry.maxElapsedMs'],
      ['overrides that are not an array', { overrides: {} as never }, 'retry.overrides'],
      [
        'an unknown error code',
        { overrides: [{ match: 'ECONNRESET' as never, policy: 'no-retry' }] },
        'retry.overrides[0].match',
      ],
      [
        'a match that is neither',
        { overrides: [{ match: 42 as never, policy: 'no-retry' }] },
        'retry.overrides[0].match',
      ],
      [
        'a bad override policy',
        { overrides: [{ match: 'SWITCHYARD_HANDLER', policy: 'sometimes' as never }] },
        'retry.overrides[0].policy',
      ],
      [
        'bad options inside an override',
        {
          overrides: [
            { match: 'SWITCHYARD_HANDLER', policy: 'no-retry' },
            { match: 'SWITCHYARD_HANDLER', policy: { maxAttempts: 0 } },
          ],
        },
        'retry.overrides[1].policy.maxAttempts',
      ],
      [
        'nested overrides',
        { overrides: [{ match: 'SWITCHYARD_HANDLER', policy: { overrides: [] } as never }] },
        'retry.overrides[0].policy.overrides',
      ],
    ];
    it.each(cases)('rejects %s, naming the option', (_, options, option) => {
      let thrown: unknown;
      try {
        RetryPolicy.exponential(options);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidOptionError);
      expect((thrown as InvalidOptionError).option).toBe(option);
      expect((thrown as InvalidOptionError).code).toBe('SWITCHYARD_INVALID_OPTION');
      expect((thrown as Error).message).toMatch(/Fix: /);
    });

    it('raises maxDelayMs to a larger initialDelayMs when maxDelayMs is not given', () => {
      expect(RetryPolicy.exponential({ initialDelayMs: 60_000 }).options.maxDelayMs).toBe(60_000);
    });

    it('rejects an attempt number below 1', () => {
      const policy = RetryPolicy.exponential();
      expect(() => policy.decide({ attempt: 0, firstFailureAt: T0, now: T0, error: new Error() }, never)).toThrow(
        InvalidOptionError,
      );
    });
  });

  describe('delayFor', () => {
    it('is the jittered backoff of an attempt, as decide gives it, without deciding', () => {
      const policy = RetryPolicy.exponential({ initialDelayMs: 50, maxDelayMs: 1_000, multiplier: 2 });
      expect([1, 2, 3, 6].map((n) => policy.delayFor(n, scriptedRandom(0.5)))).toEqual([25, 50, 100, 500]);
      expect(policy.delayFor(9, scriptedRandom(0.9999))).toBe(1_000);
      const error = new RetryableError('down');
      for (const [n, r] of [
        [1, 0.3],
        [4, 0.7],
      ] as const)
        expect(policy.delayFor(n, scriptedRandom(r))).toEqual(
          (policy.decide({ attempt: n, firstFailureAt: T0, now: T0, error }, scriptedRandom(r)) as { delayMs: number })
            .delayMs,
        );
      const fixed = RetryPolicy.exponential({ initialDelayMs: 50, jitter: 'none' });
      expect(fixed.delayFor(3, never)).toBe(200);
    });
  });

  it('mostAttempts is the largest maxAttempts of the policy and its retrying overrides', () => {
    expect(RetryPolicy.exponential({ maxAttempts: 3 }).mostAttempts).toBe(3);
    expect(
      RetryPolicy.exponential({
        maxAttempts: 3,
        overrides: [
          { match: 'SWITCHYARD_VALIDATION', policy: 'no-retry' },
          { match: 'SWITCHYARD_HANDLER_TIMEOUT', policy: { maxAttempts: 7 } },
        ],
      }).mostAttempts,
    ).toBe(7);
    expect(RetryPolicy.none().mostAttempts).toBe(1);
  });
});
