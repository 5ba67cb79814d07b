import { describe, expect, it } from 'vitest';
import { InvalidOptionError, isSwitchyardError } from '../../src/errors.js';
import {
  compareVersions,
  MemoryVersionStore,
  StaleEventGuard,
  type VersionComparison,
} from '../../src/idempotency/stale-event-guard.js';

describe('compareVersions', () => {
  const cases: Array<[number | bigint | undefined, number | bigint, VersionComparison]> = [
    [undefined, 0, 'newer'],
    [undefined, 5n, 'newer'],
    [1, 2, 'newer'],
    [2, 2, 'same'],
    [3, 2, 'older'],
    [2n, 2, 'same'],
    [2, 3n, 'newer'],
    [9007199254740993n, 9007199254740992n, 'older'],
    [9007199254740992n, 9007199254740993n, 'newer'],
    [-1, 0, 'newer'],
  ];
  it.each(cases)('stored %s, incoming %s -> %s', (stored, incoming, expected) => {
    expect(compareVersions(stored, incoming)).toBe(expected);
  });

  it('refuses versions that are not whole numbers, as a non-retryable validation error', () => {
    for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
      let thrown: unknown;
      try {
        compareVersions(1, bad);
      } catch (error) {
        thrown = error;
      }
      expect(isSwitchyardError(thrown) && thrown.code).toBe('SWITCHYARD_VALIDATION');
      expect(isSwitchyardError(thrown) && thrown.retryable).toBe(false);
    }
  });
});

describe('StaleEventGuard', () => {
  it('accepts newer versions and rejects same or older ones, recording after success', async () => {
    const guard = new StaleEventGuard(new MemoryVersionStore());
    const decisions: string[] = [];
    for (const version of [1, 3, 2, 3, 4, 10n, 9]) {
      const check = await guard.check('order-7', version);
      decisions.push(
        `${version}: ${check.stale ? 'stale' : 'apply'} (${check.comparison}, stored ${check.stored ?? '-'})`,
      );
      if (!check.stale) await guard.record('order-7', version);
    }
    expect(decisions).toEqual([
      '1: apply (newer, stored -)',
      '3: apply (newer, stored 1)',
      '2: stale (older, stored 3)',
      '3: stale (same, stored 3)',
      '4: apply (newer, stored 3)',
      '10: apply (newer, stored 4)',
      '9: stale (older, stored 10)',
    ]);
  });

  it('checks without recording, so a failed handler can retry the same version', async () => {
    const guard = new StaleEventGuard(new MemoryVersionStore());
    expect((await guard.check('order-7', 5)).stale).toBe(false);
    // The handler failed: nothing recorded, and the retry is not stale.
    expect((await guard.check('order-7', 5)).stale).toBe(false);
    expect(await guard.record('order-7', 5)).toBe('newer');
    expect((await guard.check('order-7', 5)).stale).toBe(true);
  });

  it('never moves a recorded version backwards', async () => {
    const store = new MemoryVersionStore();
    const guard = new StaleEventGuard(store);
    expect(await guard.record('order-7', 8)).toBe('newer');
    expect(await guard.record('order-7', 6)).toBe('older');
    expect(await guard.record('order-7', 8)).toBe('same');
    expect(await store.get('order-7')).toBe(8n);
  });

  it('keeps entities apart', async () => {
    const guard = new StaleEventGuard(new MemoryVersionStore());
    await guard.record('order-1', 10);
    expect((await guard.check('order-2', 1)).stale).toBe(false);
  });

  it('validates the version on check and record, and the store at construction', async () => {
    const guard = new StaleEventGuard(new MemoryVersionStore());
    await expect(guard.check('order-7', 1.5)).rejects.toMatchObject({ code: 'SWITCHYARD_VALIDATION' });
    await expect(guard.record('order-7', Number.NaN)).rejects.toMatchObject({ code: 'SWITCHYARD_VALIDATION' });
    expect(() => new StaleEventGuard({ get: async () => undefined } as never)).toThrow(InvalidOptionError);
  });
});

describe('MemoryVersionStore', () => {
  it('forgets the least recently advanced entity past maxEntries', async () => {
    const store = new MemoryVersionStore({ maxEntries: 2 });
    await store.advance('a', 1);
    await store.advance('b', 1);
    await store.advance('a', 2); // a is now the most recent
    await store.advance('c', 1);
    expect([await store.get('a'), await store.get('b'), await store.get('c')]).toEqual([2n, undefined, 1n]);
    expect(store.size).toBe(2);
  });

  it('keeps versions beyond 2^53 exactly', async () => {
    const store = new MemoryVersionStore();
    await store.advance('e', 9007199254740993n);
    expect(await store.advance('e', 9007199254740992n)).toBe('older');
    expect(await store.get('e')).toBe(9007199254740993n);
  });

  it('rejects a bad maxEntries', () => {
    expect(() => new MemoryVersionStore({ maxEntries: 0 })).toThrow(/versionStore\.maxEntries/);
  });
});
