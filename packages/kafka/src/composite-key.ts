// Hot tenants: one key that carries most of the traffic pins one partition (and one consumer).
// `compositeKey(tenant, subKey, buckets)` spreads a tenant over `buckets` keys
// (`tenant:murmur2(subKey) mod buckets`), so its load spreads over up to `buckets` partitions while
// each sub-key (an order, an account) still maps to one bucket and keeps its order. Order across a
// tenant's buckets is given up; `KeySequencer` stamps a per-tenant sequence number (`sy-seq`, with
// `sy-seq-source` naming the producer instance) so a consumer that needs tenant order can restore it.

import { randomUUID } from 'node:crypto';
import { InvalidOptionError, type OutgoingMessage, optionValueText, partitionForKey } from '@switchyard/core';
import { KafkaHeaders } from './records.js';

export function compositeKey(tenant: string, subKey: string, buckets: number): string {
  if (!Number.isInteger(buckets) || buckets < 1)
    throw new InvalidOptionError(
      'buckets',
      `expected an integer >= 1, got ${optionValueText(buckets)}`,
      'pass the number of buckets per tenant, e.g. 8',
    );
  return `${tenant}:${partitionForKey(subKey, buckets)}`;
}

export interface KeySequencerOptions {
  /** Sequence counters kept at most; the least recently used key is forgotten beyond this. */
  readonly maxKeys?: number;
  /** Names this producer instance in `sy-seq-source` (a random UUID by default). */
  readonly source?: string;
}

/**
 * Per-key sequence numbers, strictly increasing per key for the life of this instance (1, 2, 3, …
 * per key). Memory is bounded: once a key has been forgotten, any key not in memory continues
 * above every number handed out so far, so its sequence still increases (with a gap).
 */
export class KeySequencer {
  readonly source: string;
  readonly #maxKeys: number;
  readonly #counters = new Map<string, number>();
  #highest = 0;
  #evicted = false;

  constructor(options: KeySequencerOptions = {}) {
    this.#maxKeys = options.maxKeys ?? 100_000;
    if (!Number.isInteger(this.#maxKeys) || this.#maxKeys < 1)
      throw new InvalidOptionError(
        'maxKeys',
        `expected an integer >= 1, got ${optionValueText(options.maxKeys)}`,
        'pass maxKeys: 100000',
      );
    this.source = options.source ?? randomUUID();
  }

  /** The next sequence number for `key`. */
  next(key: string): number {
    const previous = this.#counters.get(key);
    // Until a key was forgotten, new keys count from 1; after that an unknown key may be a
    // forgotten one, so it continues above everything handed out.
    const value = previous !== undefined ? previous + 1 : this.#evicted ? this.#highest + 1 : 1;
    // Re-insert so Map order is least-recently-used first.
    this.#counters.delete(key);
    this.#counters.set(key, value);
    if (value > this.#highest) this.#highest = value;
    if (this.#counters.size > this.#maxKeys) {
      const oldest = this.#counters.keys().next().value;
      if (oldest !== undefined) {
        this.#counters.delete(oldest);
        this.#evicted = true;
      }
    }
    return value;
  }

  /** The message with `sy-seq` and `sy-seq-source` set for `sequenceKey` (the tenant, by default the message key). */
  stamp(message: OutgoingMessage, sequenceKey: string | undefined = message.key): OutgoingMessage {
    if (sequenceKey === undefined) return message;
    return {
      ...message,
      headers: {
        ...message.headers,
        [KafkaHeaders.sequence]: String(this.next(sequenceKey)),
        [KafkaHeaders.sequenceSource]: this.source,
      },
    };
  }
}
