// The in-memory idempotency store: one process, bounded, with leases and TTLs on an injected clock.
// Claim is atomic because nothing awaits between reading a record and writing it (the methods are
// async only to fit the port). When several processes share the work, use a shared store (Redis,
// Postgres): this one only deduplicates what reaches this process.
//
// Bounded by `maxEntries`: past it, expired completed records go first (a heap by expiry finds
// them in O(log n)), then the least recently used live completed record (a duplicate of it would
// then run again), then lapsed claims. Live claims are never evicted: that would let a concurrent
// duplicate run; their number is bounded by the work in flight.

import { randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '../clock.js';
import { InvalidOptionError, optionValueText } from '../errors.js';
import type { ClaimRequest, ClaimResult, IdempotencyStore } from '../ports/idempotency.js';
import { LruMap } from './lru-map.js';

export interface MemoryIdempotencyStoreOptions {
  /** Most records kept (default 100 000): least recently used completed records are evicted first. */
  readonly maxEntries?: number;
  readonly clock?: Clock;
}

interface Claimed {
  readonly status: 'in-progress';
  readonly token: string;
  readonly payloadHash: string;
  leaseExpiresAt: number;
  /** The lease length asked for (claim or last renewal): a clock stepped back cannot stretch it. */
  leaseMs: number;
}

interface Completed {
  readonly status: 'completed';
  readonly payloadHash: string;
  readonly result: string | undefined;
  readonly expiresAt: number;
}

export interface MemoryIdempotencyStoreStats {
  readonly inProgress: number;
  readonly completed: number;
  /** Completed records evicted to stay under maxEntries (their duplicates would run again). */
  readonly evicted: number;
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly maxEntries: number;
  readonly #clock: Clock;
  /** Claims; a lapsed one stays until taken over, released or evicted. */
  readonly #claims = new Map<string, Claimed>();
  /** Completed records in least-recently-used order (oldest first). */
  readonly #completed = new LruMap<string, Completed>();
  /** Completed records by expiry (earliest first); entries of replaced or deleted records linger. */
  readonly #expiry = new ExpiryHeap();
  #evicted = 0;
  #writesSinceSweep = 0;

  constructor(options: MemoryIdempotencyStoreOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionError(
        'idempotencyStore',
        'must be an options object',
        'pass e.g. { maxEntries: 100_000 }',
      );
    const maxEntries = options.maxEntries ?? 100_000;
    if (!(Number.isInteger(maxEntries) && maxEntries >= 1))
      throw new InvalidOptionError(
        'idempotencyStore.maxEntries',
        `must be a whole number >= 1, got ${optionValueText(maxEntries)}`,
        'pass e.g. 100_000',
      );
    this.maxEntries = maxEntries;
    this.#clock = options.clock ?? systemClock;
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    const { key, payloadHash, leaseMs } = request;
    checkKey(key);
    checkDuration('leaseMs', leaseMs);
    const now = this.#clock.now();

    const completed = this.#completed.get(key);
    if (completed !== undefined) {
      if (now < completed.expiresAt) {
        // A hit keeps the record warm in the LRU order.
        this.#completed.touch(key);
        return { status: 'completed', payloadHash: completed.payloadHash, result: completed.result };
      }
      this.#completed.delete(key);
    }

    const held = this.#claims.get(key);
    // A wall clock stepped back (an NTP correction) must not hold an abandoned lease past its length.
    if (held !== undefined && held.leaseExpiresAt - now > held.leaseMs) held.leaseExpiresAt = now + held.leaseMs;
    if (held !== undefined && now < held.leaseExpiresAt)
      return { status: 'in-progress', leaseExpiresAt: held.leaseExpiresAt };

    const claim: Claimed = {
      status: 'in-progress',
      token: randomUUID(),
      payloadHash,
      leaseExpiresAt: now + leaseMs,
      leaseMs,
    };
    this.#claims.delete(key);
    this.#claims.set(key, claim);
    this.#evict();
    return { status: 'claimed', token: claim.token, takenOver: held !== undefined };
  }

  /**
   * Extends the lease. A holder whose lease lapsed but whom nobody took over still holds the key
   * (no one else ran it), so renew and complete succeed for it.
   */
  async renew(key: string, token: string, leaseMs: number): Promise<boolean> {
    checkDuration('leaseMs', leaseMs);
    const held = this.#claims.get(key);
    if (held === undefined || held.token !== token) return false;
    held.leaseExpiresAt = this.#clock.now() + leaseMs;
    held.leaseMs = leaseMs;
    return true;
  }

  async complete(
    key: string,
    token: string,
    options: { readonly ttlMs: number; readonly result?: string },
  ): Promise<boolean> {
    checkDuration('ttlMs', options.ttlMs);
    const held = this.#claims.get(key);
    if (held === undefined || held.token !== token) return false;
    this.#claims.delete(key);
    const expiresAt = this.#clock.now() + options.ttlMs;
    this.#completed.set(key, { status: 'completed', payloadHash: held.payloadHash, result: options.result, expiresAt });
    this.#expiry.push(expiresAt, key);
    // Entries of records gone or replaced are dropped when they surface; rebuild before they pile up.
    if (this.#expiry.size > 2 * this.maxEntries + 16)
      this.#expiry.rebuild([...this.#completed.entries()].map(([k, r]) => [r.expiresAt, k] as const));
    this.#evict();
    return true;
  }

  async release(key: string, token: string): Promise<boolean> {
    const held = this.#claims.get(key);
    if (held === undefined || held.token !== token) return false;
    this.#claims.delete(key);
    return true;
  }

  async close(): Promise<void> {
    this.#claims.clear();
    this.#completed.clear();
    this.#expiry.rebuild([]);
  }

  /** Records held now (lapsed ones included until they are swept). */
  stats(): MemoryIdempotencyStoreStats {
    return { inProgress: this.#claims.size, completed: this.#completed.size, evicted: this.#evicted };
  }

  #evict(): void {
    this.#writesSinceSweep += 1;
    if (this.#claims.size + this.#completed.size <= this.maxEntries) return;
    const now = this.#clock.now();
    // Sweeping lapsed records costs O(size): done at most once per maxEntries writes, so amortised O(1).
    if (this.#writesSinceSweep >= this.maxEntries) {
      this.#writesSinceSweep = 0;
      for (const [key, record] of this.#completed.entries()) if (record.expiresAt <= now) this.#completed.delete(key);
      for (const [key, claim] of this.#claims) if (claim.leaseExpiresAt <= now) this.#claims.delete(key);
    }
    // Expired records first: dropping them loses nothing.
    while (this.#claims.size + this.#completed.size > this.maxEntries) {
      const next = this.#expiry.peek();
      if (next === undefined || next.expiresAt > now) break;
      this.#expiry.pop();
      if (this.#completed.get(next.key)?.expiresAt === next.expiresAt) this.#completed.delete(next.key);
    }
    while (this.#claims.size + this.#completed.size > this.maxEntries) {
      const oldest = this.#completed.oldest();
      if (oldest === undefined) break;
      this.#completed.delete(oldest[0]);
      if (oldest[1].expiresAt > now) this.#evicted += 1;
    }
    // Only claims left: drop lapsed ones (a crashed holder's); live ones stay whatever the bound.
    for (const [key, claim] of this.#claims) {
      if (this.#claims.size <= this.maxEntries) return;
      if (claim.leaseExpiresAt <= now) this.#claims.delete(key);
    }
  }
}

/** A binary min-heap of (expiresAt, key). */
class ExpiryHeap {
  #items: Array<{ expiresAt: number; key: string }> = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): { expiresAt: number; key: string } | undefined {
    return this.#items[0];
  }

  push(expiresAt: number, key: string): void {
    const items = this.#items;
    items.push({ expiresAt, key });
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]!.expiresAt <= items[i]!.expiresAt) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }

  pop(): void {
    const items = this.#items;
    const last = items.pop();
    if (last === undefined || items.length === 0) return;
    items[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && items[left]!.expiresAt < items[smallest]!.expiresAt) smallest = left;
      if (right < items.length && items[right]!.expiresAt < items[smallest]!.expiresAt) smallest = right;
      if (smallest === i) return;
      [items[smallest], items[i]] = [items[i]!, items[smallest]!];
      i = smallest;
    }
  }

  rebuild(entries: ReadonlyArray<readonly [number, string]>): void {
    this.#items = [];
    for (const [expiresAt, key] of entries) this.push(expiresAt, key);
  }
}

function checkKey(key: unknown): void {
  if (typeof key !== 'string' || key === '')
    throw new InvalidOptionError(
      'key',
      'must be a non-empty string',
      'derive the idempotency key from the message id or a business key',
    );
}

function checkDuration(name: string, ms: number): void {
  if (!(Number.isFinite(ms) && ms > 0))
    throw new InvalidOptionError(
      name,
      `must be a positive finite number of ms, got ${optionValueText(ms)}`,
      `pass e.g. ${name}: 30_000`,
    );
}
