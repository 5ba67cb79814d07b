// A deterministic random source for tests that pick actions, delays or interleavings at random: the
// same seed gives the same sequence, so a test prints its seed and a failing run can be replayed.

import { InvalidOptionError, optionValueText, type RandomSource } from '@switchyard/core';

/**
 * Values in [0, 1) from a 32-bit linear congruential generator (Numerical Recipes constants). Its
 * high bits are what `Math.floor(random() * n)` uses, and they are good enough to choose test
 * actions; not for anything statistical. Where core takes a `random` (jitter), it fits there too.
 */
export function seededRandom(seed: number): RandomSource {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new InvalidOptionError(
      'seed',
      `must be a non-negative safe integer, got ${optionValueText(seed)}`,
      'pass e.g. Date.now() % 1_000_000, and print it so the run can be replayed',
    );
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 4_294_967_296;
  };
}
