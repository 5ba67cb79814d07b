// Property tests for MemoryIdempotencyStore on an injected clock (time only moves when the test
// sets it): random claim / renew / complete / release sequences over a few keys, payload hashes and
// tokens (current, fenced and made up), with time jumps landing on and around lease and TTL ends.
//  - Unbounded: exact agreement with a model of the port's state machine (claim -> in-progress with
//    a lease; complete -> completed for ttlMs; release; lapsed lease -> takeover, old token fenced).
//  - Bounded (maxEntries 1..4): what eviction must never break: a live lease is never lost (no
//    concurrent duplicate claims it, its holder can still complete), a live completed record only
//    disappears as a counted eviction, and the size stays within maxEntries except for live claims.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryIdempotencyStore } from '../../src/idempotency/memory-store.js';
import type { ClaimResult } from '../../src/ports/idempotency.js';
import { FakeClock } from '../support/fake-clock.js';

const RUNS = { numRuns: 200 };

type Op =
  | { readonly kind: 'claim'; readonly key: number; readonly hash: number; readonly leaseMs: number }
  | { readonly kind: 'renew'; readonly token: number; readonly leaseMs: number }
  | { readonly kind: 'complete'; readonly token: number; readonly ttlMs: number; readonly result: string | undefined }
  | { readonly kind: 'release'; readonly token: number }
  | { readonly kind: 'advance'; readonly ms: number };

const ops = (keys: number): fc.Arbitrary<Op[]> =>
  fc.array(
    fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({
          kind: fc.constant('claim' as const),
          key: fc.nat({ max: keys - 1 }),
          hash: fc.nat({ max: 2 }),
          leaseMs: fc.integer({ min: 1, max: 40 }),
        }),
      },
      {
        weight: 2,
        arbitrary: fc.record({
          kind: fc.constant('renew' as const),
          token: fc.nat(),
          leaseMs: fc.integer({ min: 1, max: 40 }),
        }),
      },
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant('complete' as const),
          token: fc.nat(),
          ttlMs: fc.integer({ min: 1, max: 80 }),
          result: fc.option(fc.constantFrom('r1', 'r2', ''), { nil: undefined }),
        }),
      },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), token: fc.nat() }) },
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant('advance' as const),
          ms: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 60 })),
        }),
      },
    ),
    { maxLength: 80, size: 'max' },
  );

type Record =
  | { readonly status: 'claim'; readonly token: string; readonly hash: string; leaseExpiresAt: number }
  | {
      readonly status: 'completed';
      readonly hash: string;
      readonly result: string | undefined;
      readonly expiresAt: number;
    };

/** The port's state machine, one record per key, as the doc comments describe it. */
class Model {
  readonly records = new Map<string, Record>();

  /** What a claim answers now; a 'claimed' answer's token and lease are the caller's to record. */
  claim(key: string, now: number): ClaimResult | { status: 'claimed'; takenOver: boolean } {
    const held = this.records.get(key);
    if (held?.status === 'completed') {
      if (now < held.expiresAt) return { status: 'completed', payloadHash: held.hash, result: held.result };
      this.records.delete(key);
    } else if (held?.status === 'claim' && now < held.leaseExpiresAt)
      return { status: 'in-progress', leaseExpiresAt: held.leaseExpiresAt };
    return { status: 'claimed', takenOver: held?.status === 'claim' };
  }

  holder(key: string, token: string): Extract<Record, { status: 'claim' }> | undefined {
    const held = this.records.get(key);
    return held?.status === 'claim' && held.token === token ? held : undefined;
  }
}

interface Token {
  readonly key: string;
  readonly token: string;
}

const pickToken = (tokens: readonly Token[], i: number): Token =>
  // one pick in five (or when none exists yet) is a token no claim ever returned
  tokens.length === 0 || i % 5 === 4 ? { key: `k${i % 4}`, token: `made-up-${i}` } : tokens[i % tokens.length]!;

describe('MemoryIdempotencyStore (properties)', () => {
  it('follows the claim / lease / complete / release state machine exactly (unbounded)', async () => {
    await fc.assert(
      fc.asyncProperty(ops(3), async (steps) => {
        const clock = new FakeClock(1_000);
        const store = new MemoryIdempotencyStore({ clock, maxEntries: 1_000 });
        const model = new Model();
        const tokens: Token[] = [];
        for (const [i, op] of steps.entries()) {
          const now = clock.now();
          const where = `step ${i} ${JSON.stringify(op)} at ${now}`;
          switch (op.kind) {
            case 'claim': {
              const key = `k${op.key}`;
              const hash = `h${op.hash}`;
              const expected = model.claim(key, now);
              const actual = await store.claim({ key, payloadHash: hash, leaseMs: op.leaseMs });
              if (expected.status === 'claimed') {
                expect(actual, where).toMatchObject({ status: 'claimed', takenOver: expected.takenOver });
                const token = (actual as { token: string }).token;
                expect(
                  tokens.some((t) => t.token === token),
                  `${where}: token reused`,
                ).toBe(false);
                tokens.push({ key, token });
                model.records.set(key, { status: 'claim', token, hash, leaseExpiresAt: now + op.leaseMs });
              } else expect(actual, where).toEqual(expected);
              break;
            }
            case 'renew': {
              const { key, token } = pickToken(tokens, op.token);
              const held = model.holder(key, token);
              // A lapsed holder nobody took over still holds the key: renew succeeds for it.
              expect(await store.renew(key, token, op.leaseMs), where).toBe(held !== undefined);
              if (held !== undefined) held.leaseExpiresAt = now + op.leaseMs;
              break;
            }
            case 'complete': {
              const { key, token } = pickToken(tokens, op.token);
              const held = model.holder(key, token);
              const options = op.result === undefined ? { ttlMs: op.ttlMs } : { ttlMs: op.ttlMs, result: op.result };
              expect(await store.complete(key, token, options), where).toBe(held !== undefined);
              if (held !== undefined)
                model.records.set(key, {
                  status: 'completed',
                  hash: held.hash,
                  result: op.result,
                  expiresAt: now + op.ttlMs,
                });
              break;
            }
            case 'release': {
              const { key, token } = pickToken(tokens, op.token);
              const held = model.holder(key, token);
              expect(await store.release(key, token), where).toBe(held !== undefined);
              if (held !== undefined) model.records.delete(key);
              break;
            }
            case 'advance':
              clock.set(now + op.ms);
              break;
          }
          const records = [...model.records.values()];
          expect(store.stats(), where).toEqual({
            inProgress: records.filter((r) => r.status === 'claim').length,
            completed: records.filter((r) => r.status === 'completed').length,
            evicted: 0,
          });
        }
      }),
      RUNS,
    );
  });

  it('never loses a live lease or an uncounted live completion to eviction, and stays bounded (maxEntries 1..4)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), ops(6), async (maxEntries, steps) => {
        const clock = new FakeClock(1_000);
        const store = new MemoryIdempotencyStore({ clock, maxEntries });
        // What the store may still hold; live claims it must hold.
        const model = new Model();
        const tokens: Token[] = [];
        let lostCompletions = 0;
        const liveClaims = (now: number) =>
          [...model.records.values()].filter((r) => r.status === 'claim' && now < r.leaseExpiresAt).length;
        const checkBound = (where: string) => {
          const { inProgress, completed } = store.stats();
          expect(inProgress + completed, `${where}: over the bound`).toBeLessThanOrEqual(
            Math.max(maxEntries, liveClaims(clock.now())),
          );
        };
        for (const [i, op] of steps.entries()) {
          const now = clock.now();
          const where = `step ${i} ${JSON.stringify(op)} at ${now}`;
          switch (op.kind) {
            case 'claim': {
              const key = `k${op.key}`;
              const hash = `h${op.hash}`;
              const held = model.records.get(key);
              const expected = model.claim(key, now);
              const actual = await store.claim({ key, payloadHash: hash, leaseMs: op.leaseMs });
              if (expected.status === 'in-progress')
                expect(actual, `${where}: a live lease was lost`).toEqual(expected);
              else if (expected.status === 'completed' && actual.status !== 'completed') {
                // Evicted: allowed, but only as a counted eviction.
                lostCompletions += 1;
                expect(actual.status, where).toBe('claimed');
              } else if (expected.status === 'completed') expect(actual, where).toEqual(expected);
              else {
                expect(actual.status, where).toBe('claimed');
                // A lapsed claim may have been dropped meanwhile: then it is no takeover.
                if (!expected.takenOver) expect(actual, where).toMatchObject({ takenOver: false });
              }
              if (actual.status === 'claimed') {
                tokens.push({ key, token: actual.token });
                model.records.set(key, {
                  status: 'claim',
                  token: actual.token,
                  hash,
                  leaseExpiresAt: now + op.leaseMs,
                });
              } else if (held?.status === 'completed' && actual.status !== 'completed') model.records.delete(key);
              expect(store.stats().evicted, `${where}: a live completion vanished uncounted`).toBeGreaterThanOrEqual(
                lostCompletions,
              );
              if (actual.status === 'claimed') checkBound(where); // a write: the bound is enforced on writes
              break;
            }
            case 'renew':
            case 'complete':
            case 'release': {
              const { key, token } = pickToken(tokens, op.token);
              const held = model.holder(key, token);
              const ok =
                op.kind === 'renew'
                  ? await store.renew(key, token, op.leaseMs)
                  : op.kind === 'complete'
                    ? await store.complete(key, token, {
                        ttlMs: op.ttlMs,
                        ...(op.result === undefined ? {} : { result: op.result }),
                      })
                    : await store.release(key, token);
              if (held === undefined) expect(ok, `${where}: a fenced or unknown token was accepted`).toBe(false);
              else if (now < held.leaseExpiresAt) expect(ok, `${where}: the live holder was refused`).toBe(true);
              if (held !== undefined) {
                // A lapsed holder may have been dropped (evicted): then the key is free.
                if (!ok) model.records.delete(key);
                else if (op.kind === 'renew') held.leaseExpiresAt = now + op.leaseMs;
                else if (op.kind === 'release') model.records.delete(key);
                else
                  model.records.set(key, {
                    status: 'completed',
                    hash: held.hash,
                    result: op.result,
                    expiresAt: now + op.ttlMs,
                  });
              }
              if (op.kind === 'complete' && ok) checkBound(where);
              break;
            }
            case 'advance':
              clock.set(now + op.ms);
              break;
          }
        }
      }),
      RUNS,
    );
  });

  // Lapsed records were only swept once per maxEntries writes, so in between a live completed record
  // was evicted (its duplicate would run again) while an expired one was kept.
  it('evicts an expired record before a live completed one, whenever the bound is hit', async () => {
    const clock = new FakeClock(0);
    const s = new MemoryIdempotencyStore({ clock, maxEntries: 3 });
    const run = async (key: string, ttlMs: number) => {
      const claim = await s.claim({ key, payloadHash: 'h', leaseMs: 1_000 });
      if (claim.status !== 'claimed') throw new Error(`expected claimed, got ${claim.status}`);
      await s.complete(key, claim.token, { ttlMs });
    };
    for (const key of ['a', 'b', 'c']) await run(key, 60_000);
    await run('d', 10); // over the bound: 'a' (least recently used, live) is evicted, counted
    expect(s.stats()).toEqual({ inProgress: 0, completed: 3, evicted: 1 });
    clock.set(100); // 'd' has expired
    await s.claim({ key: 'e', payloadHash: 'h', leaseMs: 1_000 }); // over the bound again
    // The expired 'd' should go, not the live 'b'.
    expect(s.stats().evicted).toBe(1);
    expect((await s.claim({ key: 'b', payloadHash: 'h', leaseMs: 1_000 })).status).toBe('completed');
  });
});
