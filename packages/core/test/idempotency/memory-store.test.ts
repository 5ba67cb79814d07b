import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { MemoryIdempotencyStore } from '../../src/idempotency/memory-store.js';
import type { ClaimResult } from '../../src/ports/idempotency.js';
import { FakeClock } from '../support/fake-clock.js';

function store(maxEntries?: number) {
  const clock = new FakeClock(0);
  return { clock, store: new MemoryIdempotencyStore({ clock, ...(maxEntries === undefined ? {} : { maxEntries }) }) };
}

function token(result: ClaimResult): string {
  if (result.status !== 'claimed') throw new Error(`expected claimed, got ${result.status}`);
  return result.token;
}

describe('MemoryIdempotencyStore', () => {
  it('walks the claim -> in-progress -> completed state machine', async () => {
    const { clock, store: s } = store();
    const first = await s.claim({ key: 'order-1', payloadHash: 'h1', leaseMs: 1_000 });
    expect(first).toMatchObject({ status: 'claimed', takenOver: false });
    expect(await s.claim({ key: 'order-1', payloadHash: 'h1', leaseMs: 1_000 })).toEqual({
      status: 'in-progress',
      leaseExpiresAt: 1_000,
    });
    clock.set(400);
    expect(await s.complete('order-1', token(first), { ttlMs: 10_000, result: 'ok' })).toBe(true);
    expect(await s.claim({ key: 'order-1', payloadHash: 'h2', leaseMs: 1_000 })).toEqual({
      status: 'completed',
      payloadHash: 'h1',
      result: 'ok',
    });
    expect(s.stats()).toEqual({ inProgress: 0, completed: 1, evicted: 0 });
  });

  // leaseExpiresAt is on the wall clock: stepped back an hour, an abandoned lease blocked the key
  // (every redelivery told 'in-progress') for that hour plus the lease.
  it('holds an abandoned lease no longer than its leaseMs when the wall clock steps back', async () => {
    const { clock, store: s } = store();
    clock.set(10_000_000);
    const first = await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 });
    expect(first.status).toBe('claimed');
    clock.set(10_000_000 - 3_600_000);
    expect(await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 })).toEqual({
      status: 'in-progress',
      leaseExpiresAt: 10_000_000 - 3_600_000 + 1_000,
    });
    clock.set(10_000_000 - 3_600_000 + 1_000);
    expect(await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 })).toMatchObject({
      status: 'claimed',
      takenOver: true,
    });
  });

  it('lets exactly one of many concurrent claims win', async () => {
    const { store: s } = store();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 })),
    );
    expect(results.filter((r) => r.status === 'claimed')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'in-progress')).toHaveLength(49);
  });

  it('hands a lapsed claim to the next claimant as a takeover and fences the old token', async () => {
    const { clock, store: s } = store();
    const crashed = token(await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 }));
    clock.set(999);
    expect((await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 })).status).toBe('in-progress');
    clock.set(1_000);
    const next = await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 });
    expect(next).toMatchObject({ status: 'claimed', takenOver: true });
    expect(await s.renew('k', crashed, 1_000)).toBe(false);
    expect(await s.complete('k', crashed, { ttlMs: 1_000 })).toBe(false);
    expect(await s.release('k', crashed)).toBe(false);
    expect(await s.complete('k', token(next), { ttlMs: 1_000 })).toBe(true);
  });

  it('lets a holder whose lease lapsed, but whom nobody took over, still renew and complete', async () => {
    const { clock, store: s } = store();
    const slow = token(await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 }));
    clock.set(5_000);
    expect(await s.renew('k', slow, 1_000)).toBe(true);
    expect(await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 })).toEqual({
      status: 'in-progress',
      leaseExpiresAt: 6_000,
    });
    expect(await s.complete('k', slow, { ttlMs: 1_000 })).toBe(true);
  });

  it('extends the lease on renew', async () => {
    const { clock, store: s } = store();
    const held = token(await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 }));
    clock.set(900);
    expect(await s.renew('k', held, 1_000)).toBe(true);
    clock.set(1_500);
    expect(await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 })).toEqual({
      status: 'in-progress',
      leaseExpiresAt: 1_900,
    });
  });

  it('forgets a completed record once its TTL lapses', async () => {
    const { clock, store: s } = store();
    const held = token(await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 }));
    await s.complete('k', held, { ttlMs: 60_000 });
    clock.set(59_999);
    expect((await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 })).status).toBe('completed');
    clock.set(60_000);
    expect(await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 })).toMatchObject({
      status: 'claimed',
      takenOver: false,
    });
  });

  it('makes a released key claimable at once', async () => {
    const { store: s } = store();
    const held = token(await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 }));
    expect(await s.release('k', held)).toBe(true);
    expect(await s.release('k', held)).toBe(false);
    expect(await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 })).toMatchObject({
      status: 'claimed',
      takenOver: false,
    });
  });

  it('checks the token on renew, complete and release, and does not touch completed records', async () => {
    const { store: s } = store();
    const held = token(await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 }));
    expect(await s.renew('k', 'forged', 1_000)).toBe(false);
    expect(await s.complete('k', 'forged', { ttlMs: 1_000 })).toBe(false);
    expect(await s.release('k', 'forged')).toBe(false);
    expect(await s.complete('k', held, { ttlMs: 1_000 })).toBe(true);
    expect(await s.complete('k', held, { ttlMs: 1_000 })).toBe(false);
    expect(await s.release('k', held)).toBe(false);
    expect(await s.renew('k', held, 1_000)).toBe(false);
    expect(await s.renew('nobody', 'x', 1_000)).toBe(false);
  });

  it('evicts the least recently used completed record first when full', async () => {
    const { store: s } = store(3);
    for (const key of ['a', 'b', 'c'])
      await s.complete(key, token(await s.claim({ key, payloadHash: key, leaseMs: 1_000 })), { ttlMs: 60_000 });
    expect((await s.claim({ key: 'a', payloadHash: 'a', leaseMs: 1_000 })).status).toBe('completed'); // a is now the most recent
    const d = token(await s.claim({ key: 'd', payloadHash: 'd', leaseMs: 1_000 }));
    expect(s.stats()).toEqual({ inProgress: 1, completed: 2, evicted: 1 });
    expect((await s.claim({ key: 'a', payloadHash: 'a', leaseMs: 1_000 })).status).toBe('completed');
    expect((await s.claim({ key: 'c', payloadHash: 'c', leaseMs: 1_000 })).status).toBe('completed');
    expect((await s.claim({ key: 'b', payloadHash: 'b', leaseMs: 1_000 })).status).toBe('claimed'); // b was evicted
    expect(await s.complete('d', d, { ttlMs: 1_000 })).toBe(true);
  });

  it('drops expired records before live ones when full', async () => {
    const { clock, store: s } = store(2);
    // 'long' is the least recently used, yet the expired 'short' goes first.
    await s.complete('long', token(await s.claim({ key: 'long', payloadHash: 'h', leaseMs: 1_000 })), {
      ttlMs: 60_000,
    });
    await s.complete('short', token(await s.claim({ key: 'short', payloadHash: 'h', leaseMs: 1_000 })), { ttlMs: 10 });
    clock.set(100);
    await s.claim({ key: 'new', payloadHash: 'h', leaseMs: 1_000 });
    expect(s.stats()).toEqual({ inProgress: 1, completed: 1, evicted: 0 });
    expect((await s.claim({ key: 'long', payloadHash: 'h', leaseMs: 1_000 })).status).toBe('completed');
  });

  it('never evicts a live claim, so a concurrent duplicate cannot run', async () => {
    const { store: s } = store(2);
    for (const key of ['a', 'b', 'c'])
      expect((await s.claim({ key, payloadHash: 'h', leaseMs: 1_000 })).status).toBe('claimed');
    expect(s.stats().inProgress).toBe(3);
    for (const key of ['a', 'b', 'c'])
      expect((await s.claim({ key, payloadHash: 'h', leaseMs: 1_000 })).status).toBe('in-progress');
  });

  it('stays bounded under a long stream of completed keys', async () => {
    const { clock, store: s } = store(100);
    for (let i = 0; i < 5_000; i++) {
      clock.set(i);
      const key = `m-${i}`;
      await s.complete(key, token(await s.claim({ key, payloadHash: 'h', leaseMs: 1_000 })), { ttlMs: 3_600_000 });
    }
    expect(s.stats()).toEqual({ inProgress: 0, completed: 100, evicted: 4_900 });
    expect((await s.claim({ key: 'm-4999', payloadHash: 'h', leaseMs: 1_000 })).status).toBe('completed');
  });

  it('clears everything on close', async () => {
    const { store: s } = store();
    await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 });
    await s.close();
    expect(s.stats()).toEqual({ inProgress: 0, completed: 0, evicted: 0 });
  });

  it('rejects bad arguments with the option named', async () => {
    expect(() => new MemoryIdempotencyStore({ maxEntries: 0 })).toThrow(InvalidOptionError);
    const { store: s } = store();
    await expect(s.claim({ key: '', payloadHash: 'h', leaseMs: 1_000 })).rejects.toThrow(/'key'/);
    await expect(s.claim({ key: 'k', payloadHash: 'h', leaseMs: 0 })).rejects.toThrow(/'leaseMs'/);
    const held = token(await s.claim({ key: 'k', payloadHash: 'h', leaseMs: 1_000 }));
    await expect(s.complete('k', held, { ttlMs: Number.NaN })).rejects.toThrow(/'ttlMs'/);
    await expect(s.renew('k', held, -1)).rejects.toThrow(/'leaseMs'/);
  });
});
