import { describe, expect, it } from 'vitest';
import { type HotKeyReport, KeyedScheduler } from '../src/keyed-scheduler.js';
import { settle } from './support/fake-clock.js';

/** A task the test finishes by hand. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe('KeyedScheduler', () => {
  it('runs tasks of one key in submission order, one at a time', async () => {
    const scheduler = new KeyedScheduler({ maxInFlight: 10, maxInFlightBytes: 1_000 });
    const log: string[] = [];
    const gates = [gate(), gate(), gate()];
    for (const [i, g] of gates.entries()) {
      await scheduler.schedule('k', 1, async () => {
        log.push(`start ${i}`);
        await g.opened;
        log.push(`end ${i}`);
      });
    }
    await settle();
    expect(log).toEqual(['start 0']);
    gates[2]!.open();
    gates[1]!.open();
    await settle();
    expect(log).toEqual(['start 0']);
    gates[0]!.open();
    await scheduler.idle();
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  });

  it('runs different keys concurrently', async () => {
    const scheduler = new KeyedScheduler({ maxInFlight: 10, maxInFlightBytes: 1_000 });
    const running = new Set<string>();
    const g = gate();
    for (const key of ['a', 'b', 'c']) {
      await scheduler.schedule(key, 1, async () => {
        running.add(key);
        await g.opened;
      });
    }
    await settle();
    expect([...running].sort()).toEqual(['a', 'b', 'c']);
    expect(scheduler.queuedKeys).toBe(3);
    g.open();
    await scheduler.idle();
    expect(scheduler.queuedKeys).toBe(0);
  });

  it('holds schedule() while maxInFlight tasks are admitted: backpressure', async () => {
    const scheduler = new KeyedScheduler({ maxInFlight: 2, maxInFlightBytes: 1_000 });
    const g = gate();
    await scheduler.schedule('a', 1, () => g.opened);
    await scheduler.schedule('b', 1, () => g.opened);
    let third = false;
    const accepted = scheduler
      .schedule('c', 1, async () => {})
      .then(() => {
        third = true;
      });
    await settle();
    expect(third).toBe(false);
    expect(scheduler.inFlight).toBe(2);
    expect(scheduler.waiting).toBe(1);
    g.open();
    await accepted;
    expect(third).toBe(true);
  });

  it('bounds bytes in flight but admits one oversized message alone', async () => {
    const scheduler = new KeyedScheduler({ maxInFlight: 10, maxInFlightBytes: 100 });
    const g1 = gate();
    await scheduler.schedule('a', 60, () => g1.opened);
    expect(scheduler.inFlightBytes).toBe(60);
    let admitted = false;
    const big = scheduler
      .schedule('b', 500, async () => {})
      .then(() => {
        admitted = true;
      });
    await settle();
    expect(admitted).toBe(false);
    g1.open();
    await big;
    expect(admitted).toBe(true);
    await scheduler.idle();
    expect(scheduler.inFlightBytes).toBe(0);
  });

  it('admits waiters first-come first-served so a large message is not starved', async () => {
    const scheduler = new KeyedScheduler({ maxInFlight: 10, maxInFlightBytes: 100 });
    const g = gate();
    await scheduler.schedule('a', 90, () => g.opened);
    const order: string[] = [];
    const large = scheduler.schedule('b', 50, async () => {}).then(() => order.push('large'));
    const small = scheduler.schedule('c', 5, async () => {}).then(() => order.push('small'));
    await settle();
    expect(order).toEqual([]);
    g.open();
    await Promise.all([large, small]);
    expect(order).toEqual(['large', 'small']);
  });

  it('rejects a waiting schedule when its signal aborts, and never runs that task', async () => {
    const scheduler = new KeyedScheduler({ maxInFlight: 1, maxInFlightBytes: 100 });
    const g = gate();
    await scheduler.schedule('a', 1, () => g.opened);
    const controller = new AbortController();
    let ran = false;
    const waiting = scheduler.schedule(
      'b',
      1,
      async () => {
        ran = true;
      },
      controller.signal,
    );
    controller.abort(new Error('stopping'));
    await expect(waiting).rejects.toThrow('stopping');
    g.open();
    await scheduler.idle();
    expect(ran).toBe(false);
  });

  it('drain() reports false when the signal fires first and true once idle', async () => {
    const scheduler = new KeyedScheduler({ maxInFlight: 4, maxInFlightBytes: 100 });
    const g = gate();
    await scheduler.schedule('a', 1, () => g.opened);
    const deadline = new AbortController();
    const drained = scheduler.drain(deadline.signal);
    deadline.abort();
    expect(await drained).toBe(false);
    g.open();
    expect(await scheduler.drain()).toBe(true);
  });

  it('keeps going after a task throws and reports the error', async () => {
    const errors: unknown[] = [];
    const scheduler = new KeyedScheduler({
      maxInFlight: 4,
      maxInFlightBytes: 100,
      onTaskError: (e) => errors.push(e),
    });
    const log: number[] = [];
    await scheduler.schedule('k', 1, async () => {
      throw new Error('boom');
    });
    await scheduler.schedule('k', 1, async () => {
      log.push(2);
    });
    await scheduler.idle();
    expect(log).toEqual([2]);
    expect(errors).toHaveLength(1);
  });

  it('detects a key whose backlog is far above the median', async () => {
    const reports: HotKeyReport[] = [];
    const scheduler = new KeyedScheduler({
      maxInFlight: 100,
      maxInFlightBytes: 10_000,
      hotKeyMinDepth: 4,
      hotKeyFactor: 4,
      onHotKey: (r) => reports.push(r),
    });
    const g = gate();
    for (const key of ['a', 'b', 'c', 'd', 'e']) await scheduler.schedule(key, 1, () => g.opened);
    for (let i = 0; i < 8; i++) await scheduler.schedule('hot', 1, () => g.opened);
    expect(scheduler.depthOf('hot')).toBe(8);
    expect(scheduler.hotKeys()).toEqual([{ key: 'hot', depth: 8, median: 1 }]);
    // Reported when the backlog crossed 4 and again at 8, not on every message.
    expect(reports.map((r) => r.depth)).toEqual([4, 8]);
    g.open();
    await scheduler.idle();
    expect(scheduler.hotKeys()).toEqual([]);
  });

  it('counts a size that is not a finite positive number as 0, so the byte bound keeps working', async () => {
    const scheduler = new KeyedScheduler({ maxInFlight: 10, maxInFlightBytes: 100 });
    const g = gate();
    for (const [key, size] of [
      ['nan', Number.NaN],
      ['inf', Number.POSITIVE_INFINITY],
      ['neg', -5],
    ] as const)
      await scheduler.schedule(key, size, () => g.opened);
    expect(scheduler.inFlight).toBe(3);
    expect(scheduler.inFlightBytes).toBe(0);
    // Before, NaN made the total NaN for good: this 60-byte task and every later one waited forever.
    expect(scheduler.tryAdmit('a', 60, () => g.opened)).toBe(true);
    expect(scheduler.tryAdmit('b', 60, () => g.opened)).toBe(false);
    expect(scheduler.inFlightBytes).toBe(60);
    g.open();
    await scheduler.idle();
    expect(scheduler.inFlightBytes).toBe(0);
  });

  it('refuses bounds below one', () => {
    expect(() => new KeyedScheduler({ maxInFlight: 0, maxInFlightBytes: 1 })).toThrow(/Invalid option 'maxInFlight'/);
    expect(() => new KeyedScheduler({ maxInFlight: 1, maxInFlightBytes: 0 })).toThrow(/maxInFlightBytes/);
  });
});
