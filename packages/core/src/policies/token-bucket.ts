// A token bucket paces redrive and replay: tokens refill continuously at `ratePerSecond` up to
// `burst`, and each message takes one. `take` reserves its tokens at once (the level may go
// below zero) and sleeps until they would have been there, so concurrent callers are served in
// call order and none is starved. Time comes from the injected clock: tests list waits.

import { assertClock, type Clock, systemClock } from '../clock.js';
import { InvalidOptionError, optionValueText } from '../errors.js';

/** Float refills land a hair short of whole tokens; this much short still counts. */
const EPSILON = 1e-9;

export interface TokenBucketOptions {
  /** Tokens added per second. */
  readonly ratePerSecond: number;
  /** Most tokens held at once, and the most one call may take. Default 1 (strict pacing, no burst). */
  readonly burst?: number;
  readonly clock?: Clock;
}

export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #updatedAt: number;

  constructor(options: TokenBucketOptions) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionError('tokenBucket', 'must be an options object', 'pass e.g. { ratePerSecond: 50 }');
    const { ratePerSecond } = options;
    if (!(typeof ratePerSecond === 'number' && Number.isFinite(ratePerSecond) && ratePerSecond > 0))
      throw new InvalidOptionError(
        'ratePerSecond',
        `must be a positive finite number, got ${optionValueText(ratePerSecond)}`,
        'pass e.g. ratePerSecond: 50',
      );
    const burst = options.burst ?? 1;
    if (!(Number.isFinite(burst) && burst >= 1))
      throw new InvalidOptionError(
        'burst',
        `must be a finite number of at least 1, got ${optionValueText(burst)}`,
        'pass e.g. burst: 10, or leave it out',
      );
    assertClock('clock', options.clock);
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.#clock = options.clock ?? systemClock;
    this.#tokens = burst;
    this.#updatedAt = this.#clock.now();
  }

  /** Tokens available now (negative while reservations are outstanding). */
  get available(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Takes `n` tokens if they are there and returns 0; otherwise takes nothing and returns the ms to wait. */
  tryTake(n = 1): number {
    this.#check(n);
    this.#refill();
    if (this.#tokens + EPSILON >= n) {
      this.#tokens -= n;
      return 0;
    }
    return this.#msUntil(n);
  }

  /** Waits on the clock until `n` tokens are there, then has taken them. Rejects with the signal's reason when aborted (tokens handed back). */
  async take(n = 1, signal?: AbortSignal): Promise<void> {
    this.#check(n);
    signal?.throwIfAborted();
    this.#refill();
    const wait = this.#tokens + EPSILON >= n ? 0 : this.#msUntil(n);
    this.#tokens -= n;
    if (wait === 0) return;
    try {
      await this.#clock.sleep(wait, signal);
    } catch (error) {
      this.#refill();
      this.#tokens = Math.min(this.burst, this.#tokens + n);
      throw error;
    }
  }

  #msUntil(n: number): number {
    return Math.ceil(((n - this.#tokens) * 1000) / this.ratePerSecond);
  }

  #check(n: number): void {
    if (!(Number.isFinite(n) && n > 0 && n <= this.burst))
      throw new InvalidOptionError(
        'n',
        `must be a positive number of tokens up to burst (${this.burst}), got ${optionValueText(n)}`,
        'take at most burst tokens at once, or raise burst',
      );
  }

  #refill(): void {
    const now = this.#clock.now();
    const elapsed = Math.max(0, now - this.#updatedAt);
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.ratePerSecond) / 1000);
    this.#updatedAt = now;
  }
}
