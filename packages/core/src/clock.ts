// Time and randomness are injected so policies are pure values and tests list decisions
// instead of sleeping.

import { assertMethods, InvalidOptionError, optionKindText } from './errors.js';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` (or rejects with the signal's reason when aborted). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Returns a float in [0, 1). */
export type RandomSource = () => number;

/**
 * The longest delay one Node timer can hold (2^31 - 1 ms, 24.8 days). A longer one fires after 1 ms
 * (with a TimeoutOverflowWarning), which would turn a long backoff into an immediate retry.
 */
export const MAX_TIMER_MS = 2_147_483_647;

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      // Longer waits (Infinity included: never) are chained timers of at most MAX_TIMER_MS each.
      // biome-ignore lint/complexity/useMathMinMax: NaN must become 0, and Math.max(0, NaN) is NaN.
      let remaining = ms > 0 ? ms : 0;
      let timer: ReturnType<typeof setTimeout>;
      const arm = () => {
        const step = Math.min(remaining, MAX_TIMER_MS);
        remaining -= step;
        timer = setTimeout(() => {
          if (remaining > 0) return arm();
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, step);
      };
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      arm();
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

/** Refuses, naming the option, a `random` that is given and is not a function. */
export function assertRandom(option: string, value: unknown): void {
  if (value === undefined || value === null || typeof value === 'function') return;
  throw new InvalidOptionError(
    option,
    `must be a function returning a number in [0, 1), got ${optionKindText(value)}`,
    'pass Math.random, or a seeded source in tests',
  );
}
