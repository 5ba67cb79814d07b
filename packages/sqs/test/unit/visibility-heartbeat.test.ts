import { SwitchyardError } from '@switchyard/core';
import { ManualClock } from '@switchyard/testing';
import { describe, expect, it } from 'vitest';
import { type LeasedMessage, VisibilityHeartbeat } from '../../src/visibility-heartbeat.js';

function leased(clock: ManualClock, visibilityS: number, handle = 'h1'): LeasedMessage & { lostWith: unknown[] } {
  const lostWith: unknown[] = [];
  return {
    receiptHandle: handle,
    receivedAt: clock.now(),
    leaseUntil: clock.now() + visibilityS * 1000,
    lost: (reason) => lostWith.push(reason),
    lostWith,
  };
}

describe('VisibilityHeartbeat', () => {
  it('extends a held message before its visibility lapses, for as long as it is held', async () => {
    const clock = new ManualClock();
    const start = clock.now();
    const extensions: [number, number][] = [];
    const heartbeat = new VisibilityHeartbeat({
      intervalMs: 10_000,
      visibilityTimeoutS: 30,
      maxProcessingMs: 15 * 60_000,
      clock,
      extend: async (_handle, seconds) => {
        extensions.push([clock.now() - start, seconds]);
      },
    });
    const message = leased(clock, 30);
    heartbeat.track(message);
    await clock.advance(95_000);
    // Every round, by the visibility timeout, so a failed round leaves two more before the lease lapses.
    expect(extensions).toEqual(Array.from({ length: 9 }, (_, i) => [(i + 1) * 10_000, 30]));
    expect(message.leaseUntil).toBe(start + 120_000);
    expect(message.lostWith).toEqual([]);
    heartbeat.untrack(message);
    await clock.advance(60_000);
    expect(extensions).toHaveLength(9);
    await heartbeat.stop();
  });

  it('stops extending at maxProcessingMs and reports the lease lost when it lapses', async () => {
    const clock = new ManualClock();
    const start = clock.now();
    const extensions: [number, number][] = [];
    const heartbeat = new VisibilityHeartbeat({
      intervalMs: 1_000,
      visibilityTimeoutS: 3,
      maxProcessingMs: 5_000,
      clock,
      extend: async (_handle, seconds) => {
        extensions.push([clock.now() - start, seconds]);
      },
    });
    const message = leased(clock, 3);
    heartbeat.track(message);
    await clock.advance(7_000);
    // The third round could only reach receivedAt + maxProcessingMs, which the lease already does.
    expect(extensions).toEqual([
      [1_000, 3],
      [2_000, 3],
    ]);
    expect(message.lostWith).toHaveLength(1);
    expect((message.lostWith[0] as Error).message).toMatch(/maxProcessingMs/);
    await heartbeat.stop();
  });

  it('loses the lease at once when SQS refuses the extension, and retries a server-side failure', async () => {
    const clock = new ManualClock();
    const heartbeat = new VisibilityHeartbeat({
      intervalMs: 1_000,
      visibilityTimeoutS: 3,
      maxProcessingMs: 60_000,
      clock,
      extend: async (handle) => {
        if (handle === 'stale')
          throw new SwitchyardError('SWITCHYARD_TRANSPORT', 'ReceiptHandleIsInvalid', { retryable: false });
        if (handle === 'flaky' && clock.now() < Date.UTC(2025, 0, 1) + 1_500)
          throw new SwitchyardError('SWITCHYARD_TRANSPORT', 'InternalError', { retryable: true });
      },
    });
    const stale = leased(clock, 3, 'stale');
    const flaky = leased(clock, 3, 'flaky');
    heartbeat.track(stale);
    heartbeat.track(flaky);
    await clock.advance(4_500);
    expect(stale.lostWith).toHaveLength(1);
    expect(flaky.lostWith).toEqual([]);
    expect(flaky.leaseUntil).toBeGreaterThan(clock.now());
    await heartbeat.stop();
  });
});
