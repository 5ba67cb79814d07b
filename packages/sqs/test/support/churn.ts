// The churn test's command and its planned failures, shared by the test and its worker process.

import { defineCommand, defineQueue } from '@switchyard/core';
import { z } from 'zod';

export const Tick = defineCommand({
  name: 'Tick',
  schema: z.object({ id: z.string(), key: z.string() }),
  key: (p) => p.key,
});

export function ticks(queue: string) {
  return defineQueue({ name: queue, commands: [Tick] });
}

/**
 * The planned failure of a tick (`t-<n>`): `poison` (non-retryable), `always` (retryable, fails every
 * attempt), `once` (fails its first attempt only), or none.
 */
export function failureOf(id: string): 'poison' | 'always' | 'once' | undefined {
  const n = Number(id.slice(id.lastIndexOf('-') + 1));
  if (n % 97 === 5) return 'poison';
  if (n % 211 === 7) return 'always';
  if (n % 13 === 3) return 'once';
  return undefined;
}
