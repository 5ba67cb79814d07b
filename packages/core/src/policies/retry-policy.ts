// A retry policy is a value: given the attempt that failed, the time of the first failure, now and
// the error, it answers "retry after d ms" or "stop, because …". Time and randomness come in as
// arguments, so the same inputs always give the same decision and tests list decisions.
//
// Backoff is exponential with "full jitter" (AWS Architecture Blog, "Exponential Backoff And
// Jitter"): the delay is uniform in [0, ceiling], which spreads a burst of failures out instead
// of making them retry in lockstep.

import type { RandomSource } from '../clock.js';
import {
  causeChain,
  type ErrorCode,
  ErrorCodes,
  InvalidOptionError,
  isOptionObject,
  isRetryable,
  optionKindText,
  optionValueText,
} from '../errors.js';

export interface RetryPolicyOptions {
  /** Total deliveries including the first; 1 = never retry. Default 5. `Infinity` with `maxElapsedMs` bounds by time only. */
  readonly maxAttempts?: number;
  /** Ceiling of the first retry's delay. Default 100 ms. */
  readonly initialDelayMs?: number;
  /** No delay exceeds this, whatever the attempt or a `RetryableError.delayMs`. Default 30 000 ms. */
  readonly maxDelayMs?: number;
  /** Growth of the ceiling per attempt. Default 2. */
  readonly multiplier?: number;
  /** `full`: uniform in [0, ceiling]; `none`: exactly the ceiling. Default `full`. */
  readonly jitter?: 'full' | 'none';
  /** Stop once the next retry would start later than this after the first failure. Default: no limit. */
  readonly maxElapsedMs?: number;
  /** Per-error policies; the first that matches decides. */
  readonly overrides?: readonly RetryOverride[];
}

/** What an override matches: a Switchyard error code, a predicate, or an error class. */
export type RetryMatcher = ErrorCode | ((error: unknown) => boolean) | (abstract new (...args: any[]) => Error);

export interface RetryOverride {
  /**
   * An error code matches when any link of the cause chain carries it (as `code`); a class when
   * any link is an instance of it; a predicate is called with the error as thrown.
   */
  readonly match: RetryMatcher;
  /** `no-retry` dead-letters at once; options are merged over the policy's own for that decision. */
  readonly policy: 'no-retry' | Omit<RetryPolicyOptions, 'overrides'>;
}

export type RetryStopReason = 'max-attempts' | 'max-elapsed' | 'non-retryable';

export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number }
  | { readonly retry: false; readonly reason: RetryStopReason };

export interface RetryDecisionInput {
  /** The 1-based attempt that just failed. */
  readonly attempt: number;
  /** When the first attempt failed, ms since the epoch. */
  readonly firstFailureAt: number;
  readonly now: number;
  /** What the attempt threw (or the error standing for a `retry` outcome). */
  readonly error: unknown;
}

/** The policy's options with defaults filled in. */
export interface ResolvedBackoff {
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  readonly jitter: 'full' | 'none';
  /** `undefined`: no limit. */
  readonly maxElapsedMs: number | undefined;
}

export interface ResolvedRetryOverride {
  readonly match: RetryMatcher;
  readonly policy: 'no-retry' | ResolvedBackoff;
}

export interface ResolvedRetryPolicyOptions extends ResolvedBackoff {
  readonly overrides: readonly ResolvedRetryOverride[];
}

export const retryPolicyDefaults = Object.freeze({
  maxAttempts: 5,
  initialDelayMs: 100,
  maxDelayMs: 30_000,
  multiplier: 2,
  jitter: 'full',
  maxElapsedMs: undefined,
} as const satisfies ResolvedBackoff);

const NO_RETRY: ResolvedBackoff = Object.freeze({ ...retryPolicyDefaults, maxAttempts: 1 });

export class RetryPolicy {
  readonly options: ResolvedRetryPolicyOptions;

  private constructor(options: ResolvedRetryPolicyOptions) {
    this.options = options;
  }

  /** Exponential backoff with full jitter; throws InvalidOptionError (`retry.<option>`) on bad options. */
  static exponential(options: RetryPolicyOptions = {}): RetryPolicy {
    if (!isOptionObject(options))
      throw new InvalidOptionError(
        'retry',
        `must be an options object, got ${optionKindText(options)}`,
        'pass e.g. { maxAttempts: 5 }',
      );
    const base = resolveBackoff(options, retryPolicyDefaults, 'retry');
    const overrides = resolveOverrides(options.overrides, base);
    return new RetryPolicy(Object.freeze({ ...base, overrides }));
  }

  /** Never retries: every failure stops after the first attempt. */
  static none(): RetryPolicy {
    return new RetryPolicy(Object.freeze({ ...NO_RETRY, overrides: Object.freeze([]) }));
  }

  decide(input: RetryDecisionInput, random: RandomSource): RetryDecision {
    const { attempt, firstFailureAt, now, error } = input;
    if (!(Number.isInteger(attempt) && attempt >= 1))
      throw new InvalidOptionError(
        'attempt',
        `must be an integer of at least 1, got ${optionValueText(attempt)}`,
        'pass the 1-based attempt that just failed',
      );

    const override = this.#overrideFor(error);
    // An override names this error explicitly, so it decides instead of the error's `retryable` flag.
    if (override === undefined && !isRetryable(error)) return stop('non-retryable');
    if (override?.policy === 'no-retry') return stop('non-retryable');
    const backoff = override?.policy ?? this.options;

    if (attempt >= backoff.maxAttempts) return stop('max-attempts');

    const requested = requestedDelayOf(error);
    let delayMs: number;
    if (requested !== undefined) {
      // The thrower knows better (a Retry-After header, a rate-limit reset): no jitter, still capped.
      delayMs = Math.min(backoff.maxDelayMs, Math.max(0, requested));
    } else {
      const ceiling = ceilingOf(backoff, attempt);
      delayMs = backoff.jitter === 'full' ? fullJitter(ceiling, random) : ceiling;
    }

    if (backoff.maxElapsedMs !== undefined && now + delayMs - firstFailureAt > backoff.maxElapsedMs)
      return stop('max-elapsed');
    return { retry: true, delayMs };
  }

  /** The most attempts the policy makes of one message, whichever override applies. */
  get mostAttempts(): number {
    let most = this.options.maxAttempts;
    for (const o of this.options.overrides) if (o.policy !== 'no-retry') most = Math.max(most, o.policy.maxAttempts);
    return most;
  }

  /**
   * The backoff after attempt n fails, jittered as the policy says, without a decision: for callers
   * that decide themselves whether to go on (a batch send that retries only the entries the server failed).
   */
  delayFor(attempt: number, random: RandomSource): number {
    const ceiling = ceilingOf(this.options, attempt);
    return this.options.jitter === 'full' ? fullJitter(ceiling, random) : ceiling;
  }

  /** The delay ceiling after attempt n fails (before jitter): min(maxDelay, initial × multiplier^(n−1)). */
  ceilingFor(attempt: number): number {
    return ceilingOf(this.options, attempt);
  }

  #overrideFor(error: unknown): ResolvedRetryOverride | undefined {
    if (this.options.overrides.length === 0) return undefined;
    const chain = causeChain(error);
    return this.options.overrides.find((override) => matches(override.match, error, chain));
  }
}

function stop(reason: RetryStopReason): RetryDecision {
  return { retry: false, reason };
}

function ceilingOf(backoff: ResolvedBackoff, attempt: number): number {
  const n = Math.max(1, Math.floor(attempt));
  const { initialDelayMs, maxDelayMs, multiplier } = backoff;
  // initialDelayMs ≥ 0 and multiplier ≥ 1 are finite, so a huge attempt overflows to Infinity
  // (never NaN) and the min caps it; computed directly so the result is exact at the boundary.
  if (initialDelayMs === 0 || multiplier === 1) return Math.min(maxDelayMs, initialDelayMs);
  return Math.min(maxDelayMs, initialDelayMs * multiplier ** (n - 1));
}

/** Whole milliseconds, uniform over [0, ceiling]. */
function fullJitter(ceiling: number, random: RandomSource): number {
  const r = random();
  const unit = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1 - Number.EPSILON) : 0;
  return Math.floor(unit * (Math.floor(ceiling) + 1));
}

function requestedDelayOf(error: unknown): number | undefined {
  for (const link of causeChain(error)) {
    if (typeof link !== 'object' || link === null) continue;
    const candidate = link as { name?: unknown; delayMs?: unknown; retryable?: unknown };
    // RetryableError carries `delayMs`; checked by shape so two copies of the package agree.
    if (candidate.retryable === true && typeof candidate.delayMs === 'number' && Number.isFinite(candidate.delayMs))
      return candidate.delayMs;
  }
  return undefined;
}

function isErrorClass(match: unknown): match is abstract new (...args: any[]) => Error {
  if (typeof match !== 'function') return false;
  return match === Error || (match.prototype !== undefined && match.prototype instanceof Error);
}

function matches(match: RetryMatcher, error: unknown, chain: readonly unknown[]): boolean {
  if (typeof match === 'string')
    return chain.some(
      (link) => typeof link === 'object' && link !== null && (link as { code?: unknown }).code === match,
    );
  if (isErrorClass(match)) return chain.some((link) => link instanceof match);
  return (match as (error: unknown) => boolean)(error) === true;
}

function resolveOverrides(overrides: unknown, base: ResolvedBackoff): readonly ResolvedRetryOverride[] {
  if (overrides === undefined) return Object.freeze([]);
  if (!Array.isArray(overrides))
    throw new InvalidOptionError(
      'retry.overrides',
      'must be an array',
      "pass e.g. [{ match: 'SWITCHYARD_VALIDATION', policy: 'no-retry' }]",
    );
  return Object.freeze(
    overrides.map((override: unknown, i): ResolvedRetryOverride => {
      const where = `retry.overrides[${i}]`;
      if (!isOptionObject(override))
        throw new InvalidOptionError(
          where,
          `must be an object { match, policy }, got ${optionKindText(override)}`,
          'pass e.g. { match: TimeoutError, policy: { maxAttempts: 10 } }',
        );
      const { match, policy } = override as { match?: unknown; policy?: unknown };
      if (typeof match === 'string') {
        if (!(ErrorCodes as readonly string[]).includes(match))
          throw new InvalidOptionError(
            `${where}.match`,
            `'${match}' is not a Switchyard error code`,
            `use one of ErrorCodes, e.g. 'SWITCHYARD_HANDLER_TIMEOUT', or a predicate`,
          );
      } else if (typeof match !== 'function') {
        throw new InvalidOptionError(
          `${where}.match`,
          'must be an error code, an error class or a predicate',
          'pass e.g. (error) => error instanceof TypeError',
        );
      }
      if (policy === 'no-retry') return Object.freeze({ match: match as RetryMatcher, policy });
      if (!isOptionObject(policy))
        throw new InvalidOptionError(
          `${where}.policy`,
          `must be 'no-retry' or retry options, got ${optionKindText(policy)}`,
          "pass 'no-retry' or e.g. { maxAttempts: 10 }",
        );
      if ('overrides' in policy)
        throw new InvalidOptionError(
          `${where}.policy.overrides`,
          'overrides cannot nest',
          'list every override at the top level',
        );
      return Object.freeze({
        match: match as RetryMatcher,
        policy: resolveBackoff(policy as RetryPolicyOptions, base, `${where}.policy`),
      });
    }),
  );
}

function resolveBackoff(options: RetryPolicyOptions, base: ResolvedBackoff, prefix: string): ResolvedBackoff {
  const maxAttempts = options.maxAttempts ?? base.maxAttempts;
  if (!(maxAttempts === Number.POSITIVE_INFINITY || (Number.isInteger(maxAttempts) && maxAttempts >= 1)))
    throw new InvalidOptionError(
      `${prefix}.maxAttempts`,
      `must be a whole number of at least 1 (deliveries including the first), got ${optionValueText(maxAttempts)}`,
      'pass e.g. 5; use 1 to never retry',
    );
  const initialDelayMs = options.initialDelayMs ?? base.initialDelayMs;
  if (!(Number.isFinite(initialDelayMs) && initialDelayMs >= 0))
    throw new InvalidOptionError(
      `${prefix}.initialDelayMs`,
      `must be a finite number of ms >= 0, got ${optionValueText(initialDelayMs)}`,
      'pass e.g. 100',
    );
  // A max below an explicitly given initial is a mistake; inherited values only move up to meet it.
  const maxDelayMs = options.maxDelayMs ?? Math.max(base.maxDelayMs, initialDelayMs);
  if (!(Number.isFinite(maxDelayMs) && maxDelayMs >= 0))
    throw new InvalidOptionError(
      `${prefix}.maxDelayMs`,
      `must be a finite number of ms >= 0, got ${optionValueText(maxDelayMs)}`,
      'pass e.g. 30_000',
    );
  if (maxDelayMs < initialDelayMs)
    throw new InvalidOptionError(
      `${prefix}.maxDelayMs`,
      `${maxDelayMs} ms is below initialDelayMs ${initialDelayMs} ms`,
      'raise maxDelayMs or lower initialDelayMs',
    );
  const multiplier = options.multiplier ?? base.multiplier;
  if (!(Number.isFinite(multiplier) && multiplier >= 1))
    throw new InvalidOptionError(
      `${prefix}.multiplier`,
      `must be a finite number >= 1, got ${optionValueText(multiplier)}`,
      'pass e.g. 2 (1 = constant delay)',
    );
  const jitter = options.jitter ?? base.jitter;
  if (jitter !== 'full' && jitter !== 'none')
    throw new InvalidOptionError(
      `${prefix}.jitter`,
      `must be 'full' or 'none', got ${optionValueText(jitter)}`,
      "pass 'full' (recommended) or 'none'",
    );
  const maxElapsedMs = 'maxElapsedMs' in options ? options.maxElapsedMs : base.maxElapsedMs;
  if (maxElapsedMs !== undefined && !(Number.isFinite(maxElapsedMs) && maxElapsedMs > 0))
    throw new InvalidOptionError(
      `${prefix}.maxElapsedMs`,
      `must be a positive finite number of ms, got ${optionValueText(maxElapsedMs)}`,
      'pass e.g. 60_000, or leave it out for no limit',
    );
  if (maxAttempts === Number.POSITIVE_INFINITY && maxElapsedMs === undefined)
    throw new InvalidOptionError(
      `${prefix}.maxAttempts`,
      'Infinity without maxElapsedMs would retry a failing message forever',
      'set maxElapsedMs as well, or a finite maxAttempts',
    );
  return Object.freeze({ maxAttempts, initialDelayMs, maxDelayMs, multiplier, jitter, maxElapsedMs });
}
