// Runs a handler once per idempotency key, as far as completions go, on top of an IdempotencyStore:
//   claim (a lease) -> run, renewing the lease every leaseMs/3 -> complete (kept ttlMs)
//                                                               -> or release on failure, so the next delivery runs again
// A duplicate of a completed key is skipped; one whose claim is live elsewhere is told to retry
// later (SWITCHYARD_IDEMPOTENCY_IN_PROGRESS); the same key with a different payload is rejected
// (or treated as a new message, if configured), never silently deduplicated.
//
// This narrows duplicates, it does not make a side effect exactly-once: a handler that crashes
// after its side effect and before `complete` runs again on the next delivery. Exactly-once needs
// the side effect and the record in one transaction (see the README).

import { assertClock, type Clock, systemClock } from '../clock.js';
import type { Envelope } from '../envelope.js';
import { InvalidOptionError, isOptionObject, optionKindText, optionValueText, SwitchyardError } from '../errors.js';
import type { IdempotencyStore } from '../ports/idempotency.js';
import { payloadHash } from './payload-hash.js';

export interface IdempotencyOptions {
  readonly store: IdempotencyStore;
  /** How long a completed key is remembered. Required: at least the source's redelivery/retention window. */
  readonly ttlMs: number;
  /** How long a claim holds before another delivery may take it over (a crashed holder). Default 30 000 ms. */
  readonly leaseMs?: number;
  /** The same key with a different payload: `reject` (default, not retryable) or `treat-as-new`. */
  readonly onPayloadMismatch?: 'reject' | 'treat-as-new';
  /** The idempotency key. Default: the message id. */
  readonly key?: (envelope: Envelope) => string;
  /** The part of the message that must match for a duplicate to count as one. Default: the payload. */
  readonly hashOf?: (envelope: Envelope) => unknown;
  /** Drives lease renewal. Default systemClock. */
  readonly clock?: Clock;
  /**
   * Store trouble that does not change the run's result: a failed renewal, a lost lease, a failed
   * release or completion after the handler finished. Default: ignored.
   */
  readonly onError?: (error: unknown, context: IdempotencyErrorContext) => void;
}

export interface IdempotencyErrorContext {
  readonly operation: 'renew' | 'complete' | 'release';
  readonly key: string;
}

export type IdempotentRun<T> = { readonly status: 'executed'; readonly result: T } | { readonly status: 'duplicate' };

export const idempotencyDefaults = Object.freeze({ leaseMs: 30_000, onPayloadMismatch: 'reject' as const });

export class Idempotency {
  readonly store: IdempotencyStore;
  readonly ttlMs: number;
  readonly leaseMs: number;
  readonly onPayloadMismatch: 'reject' | 'treat-as-new';
  readonly #key: (envelope: Envelope) => string;
  readonly #hashOf: (envelope: Envelope) => unknown;
  readonly #clock: Clock;
  readonly #onError: (error: unknown, context: IdempotencyErrorContext) => void;

  constructor(options: IdempotencyOptions) {
    if (!isOptionObject(options))
      throw new InvalidOptionError(
        'idempotency',
        `must be an options object, got ${optionKindText(options)}`,
        'pass { store: new MemoryIdempotencyStore(), ttlMs }',
      );
    const { store } = options;
    const methods = ['claim', 'renew', 'complete', 'release'] as const;
    if (
      typeof store !== 'object' ||
      store === null ||
      methods.some((m) => typeof (store as unknown as Record<string, unknown>)[m] !== 'function')
    )
      throw new InvalidOptionError(
        'idempotency.store',
        'must be an IdempotencyStore (claim, renew, complete, release)',
        'pass new MemoryIdempotencyStore(), or your own store implementing those four methods',
      );
    const { ttlMs } = options;
    if (!(typeof ttlMs === 'number' && Number.isFinite(ttlMs) && ttlMs > 0))
      throw new InvalidOptionError(
        'idempotency.ttlMs',
        `must be a positive finite number of ms, got ${optionValueText(ttlMs)}`,
        "set it to at least the source's redelivery or retention window, e.g. 7 days for a 7-day Kafka topic",
      );
    const leaseMs = options.leaseMs ?? idempotencyDefaults.leaseMs;
    if (!(Number.isFinite(leaseMs) && leaseMs >= 3))
      throw new InvalidOptionError(
        'idempotency.leaseMs',
        `must be a finite number of ms >= 3, got ${optionValueText(leaseMs)}`,
        'pass e.g. 30_000, above the handler timeout',
      );
    const mismatch = options.onPayloadMismatch ?? idempotencyDefaults.onPayloadMismatch;
    if (mismatch !== 'reject' && mismatch !== 'treat-as-new')
      throw new InvalidOptionError(
        'idempotency.onPayloadMismatch',
        `must be 'reject' or 'treat-as-new', got ${optionValueText(mismatch)}`,
        "pass 'reject' (default)",
      );
    for (const name of ['key', 'hashOf', 'onError'] as const)
      if (options[name] !== undefined && typeof options[name] !== 'function')
        throw new InvalidOptionError(
          `idempotency.${name}`,
          'must be a function',
          name === 'onError'
            ? 'pass (error, { operation, key }) => log(...)'
            : `pass e.g. ${name}: (envelope) => envelope.${name === 'key' ? 'id' : 'payload'}`,
        );
    assertClock('idempotency.clock', options.clock);
    this.store = store;
    this.ttlMs = ttlMs;
    this.leaseMs = leaseMs;
    this.onPayloadMismatch = mismatch;
    this.#key = options.key ?? ((envelope) => envelope.id);
    this.#hashOf = options.hashOf ?? ((envelope) => envelope.payload);
    this.#clock = options.clock ?? systemClock;
    this.#onError = options.onError ?? (() => {});
  }

  /**
   * Runs `fn` unless the key is already completed. Throws SWITCHYARD_IDEMPOTENCY_IN_PROGRESS
   * (retryable) when another delivery holds the key, SWITCHYARD_IDEMPOTENCY_PAYLOAD_MISMATCH (not
   * retryable) for a changed payload under `reject`, and whatever `fn` throws (after releasing the key).
   * An already aborted `signal` stops it before claiming.
   */
  async run<T>(
    envelope: Envelope,
    fn: () => Promise<T>,
    options: { signal?: AbortSignal } = {},
  ): Promise<IdempotentRun<T>> {
    options.signal?.throwIfAborted();
    const key = this.#key(envelope);
    if (typeof key !== 'string' || key === '')
      throw new InvalidOptionError(
        'idempotency.key',
        `returned ${JSON.stringify(key)} for message '${envelope.id}'`,
        'return a non-empty string',
      );
    const hash = payloadHash(this.#hashOf(envelope));

    // treat-as-new: the payload is part of the identity, so every message is keyed by both. (Falling
    // back to `${key}#${hash}` only on a mismatch let a duplicate of the changed message claim the
    // bare key once the first payload's record expired, and run again within its own TTL.)
    const claimKey = this.onPayloadMismatch === 'treat-as-new' ? `${key}#${hash}` : key;
    const claim = await this.store.claim({ key: claimKey, payloadHash: hash, leaseMs: this.leaseMs });
    if (claim.status === 'completed' && claim.payloadHash !== hash)
      throw new SwitchyardError(
        'SWITCHYARD_IDEMPOTENCY_PAYLOAD_MISMATCH',
        `idempotency key '${key}' was already processed with a different payload (a reused id, or a changed message)`,
        { retryable: false, details: { key, storedPayloadHash: claim.payloadHash, payloadHash: hash } },
      );
    if (claim.status === 'completed') return { status: 'duplicate' };
    if (claim.status === 'in-progress')
      throw new SwitchyardError(
        'SWITCHYARD_IDEMPOTENCY_IN_PROGRESS',
        `idempotency key '${claimKey}' is being processed by another delivery; retry after its lease`,
        { retryable: true, details: { key: claimKey, leaseExpiresAt: claim.leaseExpiresAt } },
      );

    const { token } = claim;
    const stopRenewing = new AbortController();
    const renewing = this.#renew(claimKey, token, stopRenewing.signal);
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      stopRenewing.abort();
      await renewing;
      await this.#settle('release', claimKey, () => this.store.release(claimKey, token));
      throw error;
    }
    stopRenewing.abort();
    await renewing;
    await this.#settle('complete', claimKey, () => this.store.complete(claimKey, token, { ttlMs: this.ttlMs }));
    return { status: 'executed', result };
  }

  /** Renews every leaseMs/3 until stopped, or until the lease turns out lost. Never rejects. */
  async #renew(key: string, token: string, stop: AbortSignal): Promise<void> {
    const every = this.leaseMs / 3;
    while (!stop.aborted) {
      try {
        await this.#clock.sleep(every, stop);
      } catch {
        return;
      }
      if (stop.aborted) return;
      try {
        if (!(await this.store.renew(key, token, this.leaseMs))) {
          this.#onError(leaseLost(key, 'renew'), { operation: 'renew', key });
          return;
        }
      } catch (error) {
        // A store hiccup: the lease still runs; try again at the next tick.
        this.#onError(error, { operation: 'renew', key });
      }
    }
  }

  /** Release/complete after the handler: trouble here must not change the handler's result. */
  async #settle(operation: 'complete' | 'release', key: string, call: () => Promise<boolean>): Promise<void> {
    try {
      if (!(await call())) this.#onError(leaseLost(key, operation), { operation, key });
    } catch (error) {
      this.#onError(error, { operation, key });
    }
  }
}

function leaseLost(key: string, operation: string): SwitchyardError {
  return new SwitchyardError(
    'SWITCHYARD_IDEMPOTENCY_IN_PROGRESS',
    `lost the idempotency lease on '${key}' (${operation}): another delivery took it over; raise leaseMs above the handler's run time`,
    { retryable: true, details: { key, operation } },
  );
}
