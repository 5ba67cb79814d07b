// Waiting without polling: a loop checks its condition, and when it cannot proceed it waits for the
// next `notify()` (something changed), an optional point in time on the injected clock (a delayed
// message becomes visible, a lease lapses), or its abort signal, whichever comes first. Because the
// check and the wait start in the same synchronous turn, no notification can slip between them.

import type { Clock } from '../clock.js';

export class Wakeup {
  #waiters = new Set<() => void>();

  /** Wake every current waiter. */
  notify(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Waiting count, for inspection. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Resolves on the next `notify()`, when `clock` reaches `until` (if given), or when `signal`
   * aborts. Never rejects: the caller re-checks its condition and its signal afterwards.
   */
  wait(
    options: { readonly clock?: Clock; readonly until?: number; readonly signal?: AbortSignal } = {},
  ): Promise<void> {
    const { clock, until, signal } = options;
    if (signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      // Only a timed wait needs a controller to cancel its sleep; aborting with a plain value avoids
      // building a DOMException on every wake-up.
      const timer =
        clock !== undefined && until !== undefined && Number.isFinite(until) ? new AbortController() : undefined;
      const done = () => {
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', done);
        timer?.abort(WOKEN);
        resolve();
      };
      this.#waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
      if (timer) {
        clock!.sleep(Math.max(0, until! - clock!.now()), timer.signal).then(done, () => {
          // Cancelled because something else woke us first.
        });
      }
    });
  }
}

const WOKEN = Symbol('woken');

/**
 * Waits for `promise`, but stops waiting (resolving `false`) when `signal` aborts; resolves `true`
 * when the promise settled. A rejection of `promise` propagates.
 */
export function untilAborted(promise: Promise<unknown>, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.resolve(false);
  }
  return new Promise<boolean>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
