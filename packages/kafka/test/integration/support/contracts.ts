// The message the integration tests publish: a key, a per-key sequence number and a unique id, so
// each test can count what was produced against what was processed and check per-key order.

import { defineEvent, defineTopic } from '@switchyard/core';
import { z } from 'zod';

export const Tick = defineEvent({
  name: 'Tick',
  schema: z.object({ id: z.string(), key: z.string(), seq: z.number().int() }),
  key: (p) => p.key,
});

export function ticks(name: string) {
  return defineTopic({ name, events: [Tick] });
}

/** `count` ticks spread round-robin over `keys` keys, seq counting per key from 0. */
export function tickPayloads(
  count: number,
  keys: number,
  prefix = 't',
): Array<{ id: string; key: string; seq: number }> {
  const seqs = new Map<string, number>();
  return Array.from({ length: count }, (_, i) => {
    const key = `k${i % keys}`;
    const seq = seqs.get(key) ?? 0;
    seqs.set(key, seq + 1);
    return { id: `${prefix}-${i}`, key, seq };
  });
}

/** Keys whose sequence numbers, in first-seen order, are not increasing. */
export function orderViolations(events: ReadonlyArray<{ key: string; seq: number }>): string[] {
  const firstSeen = new Map<string, number[]>();
  const seen = new Set<string>();
  for (const e of events) {
    const id = `${e.key}#${e.seq}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const list = firstSeen.get(e.key) ?? [];
    list.push(e.seq);
    firstSeen.set(e.key, list);
  }
  const bad: string[] = [];
  for (const [key, seqs] of firstSeen)
    for (let i = 1; i < seqs.length; i++)
      if (seqs[i]! < seqs[i - 1]!) bad.push(`${key}: ${seqs[i - 1]} before ${seqs[i]}`);
  return bad;
}

/**
 * The planned failure of a tick (`t-<n>`) for the churn test: `poison` (non-retryable), `always`
 * (retryable, fails every attempt), `once` (fails its first attempt only), or none.
 */
export function failureOf(id: string): 'poison' | 'always' | 'once' | undefined {
  const n = Number(id.slice(id.lastIndexOf('-') + 1));
  if (n % 97 === 5) return 'poison';
  if (n % 211 === 7) return 'always';
  if (n % 13 === 3) return 'once';
  return undefined;
}
