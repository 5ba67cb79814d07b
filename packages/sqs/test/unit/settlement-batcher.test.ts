import { hasCode } from '@switchyard/core';
import { flushPromises, ManualClock } from '@switchyard/testing';
import { describe, expect, it } from 'vitest';
import { type BatchEntryFailure, SettlementBatcher } from '../../src/settlement-batcher.js';

function batcher(
  clock: ManualClock,
  respond: (entries: readonly string[], call: number) => Map<number, BatchEntryFailure> | Error,
  random: () => number = () => 0.5,
) {
  const calls: string[][] = [];
  const b = new SettlementBatcher<string>({
    operation: 'DeleteMessageBatch',
    maxBatch: 10,
    lingerMs: 5,
    maxAttempts: 3,
    clock,
    random,
    send: async (entries) => {
      calls.push([...entries]);
      const result = respond(entries, calls.length);
      if (result instanceof Error) throw result;
      return result;
    },
  });
  return { b, calls };
}

describe('SettlementBatcher', () => {
  it('sends a full batch at once and the rest after the linger', async () => {
    const clock = new ManualClock();
    const { b, calls } = batcher(clock, () => new Map());
    const done = Array.from({ length: 13 }, (_, i) => b.submit(`h${i}`));
    await flushPromises();
    expect(calls.map((c) => c.length)).toEqual([10]);
    await clock.advance(5);
    expect(calls.map((c) => c.length)).toEqual([10, 3]);
    await Promise.all(done);
    expect(b.calls).toBe(2);
  });

  it('retries entries that failed on the server side and fails entries the server refused', async () => {
    const clock = new ManualClock();
    const { b, calls } = batcher(clock, (entries, call) => {
      const failures = new Map<number, BatchEntryFailure>();
      entries.forEach((e, i) => {
        if (e === 'stale') failures.set(i, { code: 'ReceiptHandleIsInvalid', message: 'gone', senderFault: true });
        if (e === 'flaky' && call === 1)
          failures.set(i, { code: 'InternalError', message: 'try again', senderFault: false });
      });
      return failures;
    });
    const ok = b.submit('ok');
    const flaky = b.submit('flaky');
    const stale = b.submit('stale').catch((e: unknown) => e);
    await clock.advance(5);
    const error = await stale;
    expect(hasCode(error, 'SWITCHYARD_TRANSPORT')).toBe(true);
    expect((error as Error).message).toMatch(/ReceiptHandleIsInvalid/);
    await clock.advance(1000);
    await Promise.all([ok, flaky]);
    expect(calls).toEqual([['ok', 'flaky', 'stale'], ['flaky']]);
  });

  it('gives up after the attempts on a failing call, rejecting as retryable', async () => {
    const clock = new ManualClock();
    const { b, calls } = batcher(clock, () => new Error('network down'));
    const result = b.submit('h').catch((e: unknown) => e);
    await clock.advance(5);
    await clock.advance(1000);
    await clock.advance(1000);
    const error = (await result) as { retryable: boolean; cause: Error };
    expect(calls).toHaveLength(3);
    expect(error.retryable).toBe(true);
    expect(error.cause.message).toBe('network down');
  });

  it('drain sends what waits without lingering and waits for it', async () => {
    const clock = new ManualClock();
    const { b, calls } = batcher(clock, () => new Map());
    const one = b.submit('a');
    await b.drain();
    await one;
    expect(calls).toEqual([['a']]);
    expect(b.pending).toBe(0);
  });
});

describe('SettlementBatcher with a call the server refuses as a whole', () => {
  it('sends the entries one by one, so only the bad one fails', async () => {
    const clock = new ManualClock();
    const refused = Object.assign(new Error('InvalidParameterValue'), { $fault: 'client' });
    const { b, calls } = batcher(clock, (entries) => (entries.includes('bad') ? refused : new Map()));
    const good = b.submit('good');
    const bad = b.submit('bad').catch((e: unknown) => e);
    await clock.advance(5);
    await good;
    expect(((await bad) as { retryable: boolean }).retryable).toBe(false);
    expect(calls).toEqual([['good', 'bad'], ['good'], ['bad']]);
  });

  it('retries a throttled call (the SDK marks it a client fault) instead of refusing its entries', async () => {
    const clock = new ManualClock();
    const throttled = Object.assign(new Error('Rate exceeded'), {
      name: 'RequestThrottled',
      $fault: 'client',
      $retryable: { throttling: true },
    });
    const { b, calls } = batcher(clock, (_entries, call) => (call === 1 ? throttled : new Map()));
    const done = Promise.all([b.submit('a'), b.submit('b')]);
    await clock.advance(5);
    await clock.advance(1_000);
    await done;
    expect(calls).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
  });

  it('waits a fully jittered backoff before a retry, so subscriptions failing together spread out', async () => {
    const waits = [];
    for (const r of [0.1, 0.9]) {
      const clock = new ManualClock();
      const { b } = batcher(
        clock,
        (_entries, call) => (call === 1 ? new Error('internal') : new Map()),
        () => r,
      );
      const done = b.submit('a');
      await clock.advance(5);
      waits.push((clock.nextWakeAt() ?? Number.NaN) - clock.now());
      await clock.advance(1_000);
      await done;
    }
    // Attempt 1 failed: a wait drawn from [0, 50] ms.
    expect(waits).toEqual([5, 45]);
  });
});
