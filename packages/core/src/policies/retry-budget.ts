// A retry budget caps retries as a share of recent traffic, so a failing downstream cannot turn
// every message into several (a retry storm). As in Finagle's RetryBudget and the gRPC retry
// throttling design: over a sliding window, retries may not exceed
//   ratio × first attempts + minRetriesPerSecond × window seconds
// where the second term lets a quiet consumer still retry. The window is a ring of buckets, so
// memory stays fixed however much traffic passes.

import { assertClock, type Clock, systemClock } from '../clock.js';
import { InvalidOptionError, isOptionObject, optionKindText, optionValueText } from '../errors.js';

export interface RetryBudgetOptions {
  /** Retries allowed per first attempt in the window. Default 0.1 (10 %). */
  readonly ratio?: number;
  /** A floor, so low traffic can still retry. Default 10 per second of window. */
  readonly minRetriesPerSecond?: number;
  /** Sliding window length. Default 10 000 ms. */
  readonly windowMs?: number;
  /** How many buckets the window is cut into (its resolution). Default 10. */
  readonly buckets?: number;
  readonly clock?: Clock;
}

export interface RetryBudgetSnapshot {
  /** First attempts recorded in the window. */
  readonly attempts: number;
  /** Retries granted in the window. */
  readonly retries: number;
  /** Retries the window allows in total (granted ones included). */
  readonly allowed: number;
  /** allowed − retries, at least 0. */
  readonly remaining: number;
}

export const retryBudgetDefaults = Object.freeze({
  ratio: 0.1,
  minRetriesPerSecond: 10,
  windowMs: 10_000,
  buckets: 10,
});

export class RetryBudget {
  readonly ratio: number;
  readonly minRetriesPerSecond: number;
  readonly windowMs: number;
  readonly #clock: Clock;
  readonly #bucketMs: number;
  /** Per slot: the bucket index it holds (floor(now / bucketMs)), attempts and retries in it. */
  readonly #epochs: number[];
  readonly #attempts: number[];
  readonly #retries: number[];

  constructor(options: RetryBudgetOptions = {}) {
    if (!isOptionObject(options))
      throw new InvalidOptionError(
        'retryBudget',
        `must be an options object, got ${optionKindText(options)}`,
        'pass e.g. { ratio: 0.1 }',
      );
    const ratio = options.ratio ?? retryBudgetDefaults.ratio;
    if (!(Number.isFinite(ratio) && ratio >= 0))
      throw new InvalidOptionError(
        'retryBudget.ratio',
        `must be a finite number >= 0, got ${optionValueText(ratio)}`,
        'pass e.g. 0.1 for 10 % of first attempts',
      );
    const minRetriesPerSecond = options.minRetriesPerSecond ?? retryBudgetDefaults.minRetriesPerSecond;
    if (!(Number.isFinite(minRetriesPerSecond) && minRetriesPerSecond >= 0))
      throw new InvalidOptionError(
        'retryBudget.minRetriesPerSecond',
        `must be a finite number >= 0, got ${optionValueText(minRetriesPerSecond)}`,
        'pass e.g. 10',
      );
    const windowMs = options.windowMs ?? retryBudgetDefaults.windowMs;
    if (!(Number.isFinite(windowMs) && windowMs >= 1))
      throw new InvalidOptionError(
        'retryBudget.windowMs',
        `must be a finite number of ms >= 1, got ${optionValueText(windowMs)}`,
        'pass e.g. 10_000',
      );
    const buckets = options.buckets ?? retryBudgetDefaults.buckets;
    if (!(Number.isInteger(buckets) && buckets >= 1 && buckets <= 1_000))
      throw new InvalidOptionError(
        'retryBudget.buckets',
        `must be a whole number from 1 to 1000, got ${optionValueText(buckets)}`,
        'pass e.g. 10',
      );
    assertClock('retryBudget.clock', options.clock);
    this.ratio = ratio;
    this.minRetriesPerSecond = minRetriesPerSecond;
    this.windowMs = windowMs;
    this.#clock = options.clock ?? systemClock;
    this.#bucketMs = windowMs / buckets;
    this.#epochs = new Array<number>(buckets).fill(Number.NEGATIVE_INFINITY);
    this.#attempts = new Array<number>(buckets).fill(0);
    this.#retries = new Array<number>(buckets).fill(0);
  }

  /** Call once for every first delivery (not for retries): it is what the ratio is a share of. */
  recordAttempt(): void {
    this.#attempts[this.#slot()]! += 1;
  }

  /** Takes one retry from the budget; false when the window's allowance is spent. */
  tryAcquireRetry(): boolean {
    const slot = this.#slot();
    const { retries, allowed } = this.snapshot();
    if (retries + 1 > allowed) return false;
    this.#retries[slot]! += 1;
    return true;
  }

  snapshot(): RetryBudgetSnapshot {
    const current = this.#epoch();
    let attempts = 0;
    let retries = 0;
    for (let i = 0; i < this.#epochs.length; i++) {
      if (!this.#live(this.#epochs[i]!, current)) continue;
      attempts += this.#attempts[i]!;
      retries += this.#retries[i]!;
    }
    // Floored: a fraction of a retry is not a retry.
    const allowed = Math.floor(this.ratio * attempts + (this.minRetriesPerSecond * this.windowMs) / 1000 + 1e-9);
    return { attempts, retries, allowed, remaining: Math.max(0, allowed - retries) };
  }

  #epoch(): number {
    return Math.floor(this.#clock.now() / this.#bucketMs);
  }

  #live(epoch: number, current: number): boolean {
    return epoch <= current && epoch > current - this.#epochs.length;
  }

  /** The slot for now, cleared if it still holds an older bucket. */
  #slot(): number {
    const epoch = this.#epoch();
    const n = this.#epochs.length;
    const slot = ((epoch % n) + n) % n;
    if (this.#epochs[slot] !== epoch) {
      this.#epochs[slot] = epoch;
      this.#attempts[slot] = 0;
      this.#retries[slot] = 0;
    }
    return slot;
  }
}
