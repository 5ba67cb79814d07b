// Time and randomness are injected so policies are pure values and tests list decisions
// instead of sleeping.

import { assertMethods } from './errors.js';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` (or rejects with the signal's reason when aborted). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Returns a float in [0, 1). */
export type RandomSource = () => number;

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const timer = setTimeout(
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

export const systemRandom: RandomSource = Math.random;

/**
 * Refuses a `clock` option that is not a Clock (now and sleep functions), naming `option`. Absent
 * (undefined or null) passes: the caller's default applies.
 */
export function assertClock(option: string, value: unknown): void {
  if (value === undefined || value === null) return;
  assertMethods(
    option,
    value,
    'a Clock (now and sleep functions)',
    ['now', 'sleep'],
    'pass systemClock, or a test clock',
  );
}
