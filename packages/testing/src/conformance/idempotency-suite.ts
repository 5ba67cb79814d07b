// The idempotency store conformance suite: the claim -> in-progress -> completed | released state
// machine of the port, run against every store (memory, Redis, Postgres) through one factory.
// With `advanceTime` the store's clock is moved by hand and nothing waits; without it the suite
// uses short real leases and polls the store until the expected state shows, under a deadline.

import type { ClaimResult, IdempotencyStore } from '@switchyard/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { uniqueName } from '../names/unique-name.js';

export interface IdempotencyStoreFixture {
  readonly store: IdempotencyStore;
  /** Move the store's clock forward (memory store with a manual clock). Without it, real time passes. */
  advanceTime?(ms: number): Promise<void> | void;
  /** Remove what the test wrote and close connections. */
  cleanup(): Promise<void>;
}

export type IdempotencyStoreFactory = () => Promise<IdempotencyStoreFixture>;

export interface IdempotencyConformanceOptions {
  /** Lease and TTL used when real time must pass (no `advanceTime`); default 300 ms. */
  readonly realTimeLeaseMs?: number;
  /** Deadline for a real-time state change to show; default 10 s. */
  readonly waitTimeoutMs?: number;
  /** Parallel claims in the atomicity test; default 25. */
  readonly concurrency?: number;
}

/** How long a claim holds when the clock is manual: long enough that only advanceTime expires it. */
const MANUAL_LEASE_MS = 60_000;
const POLL_MS = 20;

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class StoreTime {
  readonly #fixture: IdempotencyStoreFixture;
  readonly #realLeaseMs: number;
  readonly #waitTimeoutMs: number;

  constructor(fixture: IdempotencyStoreFixture, realLeaseMs: number, waitTimeoutMs: number) {
    this.#fixture = fixture;
    this.#realLeaseMs = realLeaseMs;
    this.#waitTimeoutMs = waitTimeoutMs;
  }

  get manual(): boolean {
    return typeof this.#fixture.advanceTime === 'function';
  }

  /** The lease (and TTL) tests use. */
  get leaseMs(): number {
    return this.manual ? MANUAL_LEASE_MS : this.#realLeaseMs;
  }

  /**
   * Let `ms` pass, then resolve once `check` holds. Manual clock: advance, check once. Real time:
   * poll `check` until it holds (deadline `ms` + waitTimeoutMs); the store's own clock decides.
   */
  async passUntil(ms: number, what: string, check: () => Promise<boolean>): Promise<void> {
    if (this.manual) {
      await this.#fixture.advanceTime!(ms);
      if (!(await check())) throw new Error(`after advancing the store clock ${ms} ms, expected ${what}`);
      return;
    }
    const deadline = Date.now() + ms + this.#waitTimeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline)
        throw new Error(`expected ${what} within ${ms + this.#waitTimeoutMs} ms of real time; it did not happen`);
      await pause(POLL_MS);
    }
  }

  /**
   * Let `ms` pass while `invariant` keeps holding (checked throughout in real time, before and
   * after in manual time). For "still held after the original lease would have lapsed".
   */
  async passWhile(ms: number, what: string, invariant: () => Promise<boolean>): Promise<void> {
    if (!(await invariant())) throw new Error(`expected ${what} before time passed`);
    if (this.manual) {
      await this.#fixture.advanceTime!(ms);
    } else {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        await pause(POLL_MS);
        if (!(await invariant())) throw new Error(`expected ${what} throughout ${ms} ms; it stopped holding`);
      }
    }
    if (!(await invariant())) throw new Error(`expected ${what} after ${ms} ms passed`);
  }
}

function expectClaimed(result: ClaimResult): Extract<ClaimResult, { status: 'claimed' }> {
  expect(result.status).toBe('claimed');
  if (result.status !== 'claimed') throw new Error('unreachable');
  expect(typeof result.token === 'string' && result.token.length > 0, 'token').toBe(true);
  return result;
}

export function describeIdempotencyStoreConformance(
  name: string,
  factory: IdempotencyStoreFactory,
  options: IdempotencyConformanceOptions = {},
): void {
  const realLeaseMs = options.realTimeLeaseMs ?? 300;
  const waitTimeoutMs = options.waitTimeoutMs ?? 10_000;
  const concurrency = options.concurrency ?? 25;

  describe(`idempotency store conformance: ${name}`, () => {
    let fixture: IdempotencyStoreFixture | undefined;
    let time: StoreTime;
    let store: IdempotencyStore;
    const key = () => uniqueName('idem');
    const claim = (k: string, payloadHash = 'hash-1', leaseMs = time.leaseMs) =>
      store.claim({ key: k, payloadHash, leaseMs });
    const status = async (k: string) => (await claim(k, 'probe-hash')).status;

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
      time = new StoreTime(fixture, realLeaseMs, waitTimeoutMs);
    });

    afterEach(async () => {
      const f = fixture;
      fixture = undefined;
      if (!f) return;
      try {
        await f.store.close?.();
      } finally {
        await f.cleanup();
      }
    });

    it('claims a new key and hands out a token', async () => {
      const result = expectClaimed(await claim(key()));
      expect(result.takenOver).toBe(false);
    });

    it(`lets exactly one of ${concurrency} concurrent claims win`, async () => {
      const k = key();
      const results = await Promise.all(Array.from({ length: concurrency }, (_, i) => claim(k, `hash-${i}`)));
      const claimed = results.filter((r) => r.status === 'claimed');
      const waiting = results.filter((r) => r.status === 'in-progress');
      expect(claimed).toHaveLength(1);
      expect(waiting).toHaveLength(concurrency - 1);
      for (const r of waiting) if (r.status === 'in-progress') expect(Number.isFinite(r.leaseExpiresAt)).toBe(true);
    });

    it('reports a live claim as in progress to every other claimant', async () => {
      const k = key();
      expectClaimed(await claim(k));
      const again = await claim(k);
      expect(again.status).toBe('in-progress');
      if (again.status === 'in-progress') expect(Number.isFinite(again.leaseExpiresAt)).toBe(true);
      expect(await status(k)).toBe('in-progress');
    });

    it('lets another claimant take over once the lease lapses, and fences the old token', async () => {
      const k = key();
      const first = expectClaimed(await claim(k));
      let takeover: ClaimResult | undefined;
      await time.passUntil(time.leaseMs + 1, 'the lapsed claim to be taken over', async () => {
        takeover = await claim(k, 'hash-1');
        return takeover.status === 'claimed';
      });
      const second = expectClaimed(takeover!);
      expect(second.takenOver).toBe(true);
      expect(second.token).not.toBe(first.token);
      expect(await store.renew(k, first.token, time.leaseMs)).toBe(false);
      expect(await store.complete(k, first.token, { ttlMs: time.leaseMs })).toBe(false);
      expect(await store.release(k, first.token)).toBe(false);
      expect(await status(k), 'the new holder keeps the key').toBe('in-progress');
      expect(await store.complete(k, second.token, { ttlMs: time.leaseMs })).toBe(true);
    });

    it('extends a held lease on renew', async () => {
      const k = key();
      const lease = time.leaseMs;
      const held = expectClaimed(await claim(k, 'hash-1', lease));
      const before = await claim(k);
      expect(await store.renew(k, held.token, lease * 4)).toBe(true);
      const after = await claim(k);
      if (before.status !== 'in-progress' || after.status !== 'in-progress')
        throw new Error(`expected in-progress, got ${before.status} / ${after.status}`);
      expect(after.leaseExpiresAt).toBeGreaterThan(before.leaseExpiresAt);
      await time.passWhile(
        lease * 2,
        'the renewed claim to stay in progress',
        async () => (await status(k)) === 'in-progress',
      );
      expect(await store.complete(k, held.token, { ttlMs: lease })).toBe(true);
    });

    it('turns a completed key into a duplicate carrying the stored payload hash and result', async () => {
      const k = key();
      const held = expectClaimed(await claim(k, 'hash-original'));
      expect(await store.complete(k, held.token, { ttlMs: time.leaseMs, result: '{"charged":42}' })).toBe(true);
      expect(await claim(k, 'hash-original')).toEqual({
        status: 'completed',
        payloadHash: 'hash-original',
        result: '{"charged":42}',
      });
      // A different payload under the same key: the stored hash comes back so the caller can tell.
      const changed = await claim(k, 'hash-changed');
      expect(changed).toEqual({ status: 'completed', payloadHash: 'hash-original', result: '{"charged":42}' });

      const bare = key();
      const other = expectClaimed(await claim(bare, 'hash-bare'));
      expect(await store.complete(bare, other.token, { ttlMs: time.leaseMs })).toBe(true);
      expect(await claim(bare, 'hash-bare')).toEqual({
        status: 'completed',
        payloadHash: 'hash-bare',
        result: undefined,
      });
    });

    it('makes a completed key claimable again once its TTL lapses', async () => {
      const k = key();
      const held = expectClaimed(await claim(k));
      expect(await store.complete(k, held.token, { ttlMs: time.leaseMs })).toBe(true);
      expect(await status(k)).toBe('completed');
      let next: ClaimResult | undefined;
      await time.passUntil(time.leaseMs + 1, 'the expired record to be claimable', async () => {
        next = await claim(k);
        return next.status === 'claimed';
      });
      expectClaimed(next!);
    });

    it('makes a released key claimable again at once, not as a takeover', async () => {
      const k = key();
      const held = expectClaimed(await claim(k));
      expect(await store.release(k, held.token)).toBe(true);
      const next = expectClaimed(await claim(k));
      expect(next.takenOver).toBe(false);
    });

    it('rejects renew, complete and release with a wrong token and keeps the holder', async () => {
      const k = key();
      const held = expectClaimed(await claim(k));
      const wrong = `${held.token}-not-mine`;
      expect(await store.renew(k, wrong, time.leaseMs)).toBe(false);
      expect(await store.complete(k, wrong, { ttlMs: time.leaseMs })).toBe(false);
      expect(await store.release(k, wrong)).toBe(false);
      expect(await status(k)).toBe('in-progress');
      expect(await store.complete(k, held.token, { ttlMs: time.leaseMs })).toBe(true);
    });

    it('does not release or renew a key that is already completed', async () => {
      const k = key();
      const held = expectClaimed(await claim(k));
      expect(await store.complete(k, held.token, { ttlMs: time.leaseMs })).toBe(true);
      expect(await store.release(k, held.token)).toBe(false);
      expect(await store.renew(k, held.token, time.leaseMs)).toBe(false);
      expect(await status(k)).toBe('completed');
    });

    it('answers false for every operation on a key nobody claimed', async () => {
      const k = key();
      expect(await store.renew(k, 'no-token', time.leaseMs)).toBe(false);
      expect(await store.complete(k, 'no-token', { ttlMs: time.leaseMs })).toBe(false);
      expect(await store.release(k, 'no-token')).toBe(false);
      expectClaimed(await claim(k));
    });

    it('keeps keys independent', async () => {
      const a = key();
      const b = key();
      const heldA = expectClaimed(await claim(a));
      const heldB = expectClaimed(await claim(b));
      expect(await store.complete(a, heldA.token, { ttlMs: time.leaseMs })).toBe(true);
      expect(await status(b)).toBe('in-progress');
      expect(await store.release(b, heldB.token)).toBe(true);
      expect(await status(a)).toBe('completed');
    });
  });
}
