// How the scheduler chains a key's tasks: each admitted task runs exactly once, in order, also when
// a waiter of the same key is admitted into a queue that has just drained.
import { describe, expect, it } from 'vitest';
import { KeyedScheduler } from '../src/keyed-scheduler.js';

describe('KeyedScheduler task runs', () => {
  it('runs a waiter of the same key once when it is admitted as that key drains', async () => {
    const scheduler = new KeyedScheduler({ maxInFlight: 1, maxInFlightBytes: 1_000 });
    const runs: string[] = [];
    let release!: () => void;
    const first = new Promise<void>((resolve) => {
      release = resolve;
    });
    await scheduler.schedule('k', 1, async () => {
      runs.push('first');
      await first;
    });
    const second = scheduler.schedule('k', 1, async () => {
      runs.push('second');
    });
    expect(scheduler.waiting).toBe(1);
    release();
    await second;
    await scheduler.idle();
    expect(runs).toEqual(['first', 'second']);
    expect([scheduler.inFlight, scheduler.queuedKeys, scheduler.depthOf('k')]).toEqual([0, 0, 0]);
  });

  it('keeps running a key whose next task was admitted while its head ran', async () => {
    const scheduler = new KeyedScheduler({ maxInFlight: 2, maxInFlightBytes: 1_000 });
    const runs: string[] = [];
    for (const name of ['a', 'b', 'c'])
      void scheduler.schedule('k', 1, async () => {
        runs.push(name);
      });
    await scheduler.idle();
    expect(runs).toEqual(['a', 'b', 'c']);
    expect(scheduler.queuedKeys).toBe(0);
  });

  it('reports a task that throws synchronously and goes on with the key', async () => {
    const errors: unknown[] = [];
    const scheduler = new KeyedScheduler({
      maxInFlight: 4,
      maxInFlightBytes: 1_000,
      onTaskError: (error) => errors.push(error),
    });
    const runs: string[] = [];
    expect(
      scheduler.tryAdmit('k', 1, () => {
        throw new Error('sync');
      }),
    ).toBe(true);
    expect(scheduler.tryAdmit('k', 1, async () => void runs.push('next'))).toBe(true);
    await scheduler.idle();
    expect(errors.map((e) => (e as Error).message)).toEqual(['sync']);
    expect(runs).toEqual(['next']);
  });

  it('tryAdmit refuses without side effects when full or when others wait', async () => {
    const scheduler = new KeyedScheduler({ maxInFlight: 1, maxInFlightBytes: 1_000 });
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    expect(scheduler.tryAdmit('a', 1, () => held)).toBe(true);
    expect(scheduler.tryAdmit('b', 1, async () => {})).toBe(false);
    expect([scheduler.inFlight, scheduler.depthOf('b'), scheduler.waiting]).toEqual([1, 0, 0]);
    const waiting = scheduler.schedule('c', 1, async () => {});
    release();
    await waiting;
    await scheduler.idle();
    expect(scheduler.inFlight).toBe(0);
  });
});
