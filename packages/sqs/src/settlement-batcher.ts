// Settlements (deletes, visibility changes) one at a time from many handlers, sent as SQS batch calls:
// a batch goes out as soon as it holds 10 entries, or after a short linger. Entries that failed on
// the server's side are retried; entries the server refused (a stale receipt handle) fail for good
// and their caller hears why.

import { type Clock, type RandomSource, SwitchyardError } from '@switchyard/core';
import { isClientFault, resendDelay } from './batch-sender.js';

export interface BatchEntryFailure {
  readonly code: string;
  readonly message: string;
  /** AWS: the request was wrong (retrying will not help) rather than the service failing. */
  readonly senderFault: boolean;
}

export interface SettlementBatcherOptions<E> {
  /** The batch API, for messages: `DeleteMessageBatch`, `ChangeMessageVisibilityBatch`. */
  readonly operation: string;
  readonly maxBatch: number;
  readonly lingerMs: number;
  readonly maxAttempts: number;
  readonly clock: Clock;
  /** Jitter for the wait before a retry, so many subscriptions failing together do not retry together. */
  readonly random: RandomSource;
  /** Sends one batch; resolves with the failed entries by index (an empty map when all succeeded). */
  readonly send: (entries: readonly E[]) => Promise<ReadonlyMap<number, BatchEntryFailure>>;
}

interface Pending<E> {
  readonly entry: E;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  attempts: number;
}

export class SettlementBatcher<E> {
  readonly #options: SettlementBatcherOptions<E>;
  #queue: Pending<E>[] = [];
  #lingering = false;
  readonly #work = new Set<Promise<void>>();
  /** Batch calls made, for tests and metrics. */
  calls = 0;

  constructor(options: SettlementBatcherOptions<E>) {
    this.#options = options;
  }

  /** Resolves when the entry's batch call succeeded for it; rejects with a SwitchyardError otherwise. */
  submit(entry: E): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ entry, resolve, reject, attempts: 0 });
      this.#schedule();
    });
  }

  /** Entries waiting or being sent. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Sends everything queued now and waits for every call (retries included) to finish. */
  async drain(): Promise<void> {
    while (this.#queue.length > 0 || this.#work.size > 0) {
      while (this.#queue.length > 0) this.#sendSome();
      await Promise.allSettled([...this.#work]);
    }
  }

  #schedule(): void {
    while (this.#queue.length >= this.#options.maxBatch) this.#sendSome();
    if (this.#queue.length === 0 || this.#lingering) return;
    this.#lingering = true;
    // Not tracked as work: drain() sends what waits at once instead of waiting out the linger.
    void this.#options.clock.sleep(this.#options.lingerMs).then(() => {
      this.#lingering = false;
      while (this.#queue.length > 0) this.#sendSome();
    });
  }

  #track(promise: Promise<void>): void {
    this.#work.add(promise);
    void promise.finally(() => this.#work.delete(promise));
  }

  #sendSome(): void {
    const batch = this.#queue.splice(0, this.#options.maxBatch);
    if (batch.length > 0) this.#track(this.#send(batch));
  }

  async #send(batch: Pending<E>[]): Promise<void> {
    const { operation, maxAttempts } = this.#options;
    this.calls += 1;
    for (const item of batch) item.attempts += 1;
    let failures: ReadonlyMap<number, BatchEntryFailure>;
    try {
      failures = await this.#options.send(batch.map((p) => p.entry));
    } catch (error) {
      if (isClientFault(error)) {
        // One bad entry can make the server refuse the whole call: send each alone to find it.
        if (batch.length > 1) {
          await Promise.all(batch.map((p) => this.#send([{ ...p, attempts: p.attempts - 1 }])));
          return;
        }
        batch[0]?.reject(
          new SwitchyardError('SWITCHYARD_TRANSPORT', `${operation} refused: ${(error as Error).message}`, {
            cause: error,
            retryable: false,
            details: { operation },
          }),
        );
        return;
      }
      // The whole call failed (the SDK has already retried transport errors): try again, then give up.
      const again = batch.filter((p) => p.attempts < maxAttempts);
      for (const p of batch)
        if (p.attempts >= maxAttempts)
          p.reject(
            new SwitchyardError('SWITCHYARD_TRANSPORT', `${operation} failed after ${p.attempts} attempts`, {
              cause: error,
              retryable: true,
            }),
          );
      if (again.length > 0) await this.#requeueLater(again);
      return;
    }
    const retry: Pending<E>[] = [];
    batch.forEach((p, i) => {
      const failure = failures.get(i);
      if (!failure) p.resolve();
      else if (!failure.senderFault && p.attempts < maxAttempts) retry.push(p);
      else
        p.reject(
          new SwitchyardError(
            'SWITCHYARD_TRANSPORT',
            `${operation} refused an entry: ${failure.code}: ${failure.message}`,
            {
              retryable: !failure.senderFault,
              details: { operation, code: failure.code, senderFault: failure.senderFault },
            },
          ),
        );
    });
    if (retry.length > 0) await this.#requeueLater(retry);
  }

  async #requeueLater(items: Pending<E>[]): Promise<void> {
    let attempt = 1;
    for (const p of items) attempt = Math.max(attempt, p.attempts);
    await this.#options.clock.sleep(resendDelay(attempt, this.#options.random));
    this.#queue.unshift(...items);
    this.#schedule();
  }
}
