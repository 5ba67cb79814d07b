// How the scheduler chains a key's tasks: each admitted task runs exactly once, in order, also when
// a waiter of the same key is admitted into a queue that has just drained.
import { describe, expect, it } from 'vitest';
import { KeyedScheduler } from '../src/keyed-scheduler.js';
import { deferred } from './support/deferred.js';

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

  it('keeps each key apart while keys come and go, with queues and failures', async () => {
    // Many rounds of keys that become idle and busy again: every task runs once, in its key's order.
    const errors: string[] = [];
    const scheduler = new KeyedScheduler({
      maxInFlight: 4,
      maxInFlightBytes: 1_000,
      onTaskError: (_error, key) => errors.push(key),
    });
    const runs = new Map<string, number[]>();
    const expected = new Map<string, number[]>();
    const admissions: Promise<void>[] = [];
    for (let round = 0; round < 20; round++)
      for (let k = 0; k < 6; k++) {
        const key = `r${round % 3}-k${k}`;
        const depth = 1 + ((round + k) % 3);
        for (let i = 0; i < depth; i++) {
          const n = (expected.get(key) ?? []).length;
          expected.set(key, [...(expected.get(key) ?? []), n]);
          admissions.push(
            scheduler.schedule(key, 1, async () => {
              await Promise.resolve();
              runs.set(key, [...(runs.get(key) ?? []), n]);
              if (n % 5 === 4) throw new Error('boom');
            }),
          );
        }
      }
    await Promise.all(admissions);
    await scheduler.idle();
    expect(runs).toEqual(expected);
    expect(errors.length).toBe(
      [...expected.values()].reduce((sum, ns) => sum + ns.filter((n) => n % 5 === 4).length, 0),
    );
    expect([scheduler.inFlight, scheduler.inFlightBytes, scheduler.queuedKeys, scheduler.waiting]).toEqual([
      0, 0, 0, 0,
    ]);
    for (const key of expected.keys()) expect(scheduler.depthOf(key)).toBe(0);
  });

  it('keeps a key state while a task of that key still waits for admission', async () => {
    const scheduler = new KeyedScheduler({ maxInFlight: 1, maxInFlightBytes: 1_000 });
    const gates = new Map<string, () => void>();
    const started: string[] = [];
    const task = (name: string) => () =>
      new Promise<void>((resolve) => {
        started.push(name);
        gates.set(name, resolve);
      });
    await scheduler.schedule('a', 1, task('a1'));
    const a2 = scheduler.schedule('a', 1, task('a2'));
    await Promise.resolve();
    expect(started).toEqual(['a1']);
    gates.get('a1')!();
    await a2;
    // a2 now runs in the state that a1 left (it waited there): a new key gets a state of its own.
    const c1 = scheduler.schedule('c', 1, task('c1'));
    await Promise.resolve();
    expect(scheduler.depthOf('a')).toBe(1);
    expect(scheduler.depthOf('c')).toBe(1);
    gates.get('a2')!();
    await c1;
    await Promise.resolve();
    expect(started).toEqual(['a1', 'a2', 'c1']);
    gates.get('c1')!();
    await scheduler.idle();
    expect([scheduler.depthOf('a'), scheduler.depthOf('c'), scheduler.queuedKeys]).toEqual([0, 0, 0]);
  });

  it("runs a key's synchronous tasks back to back in one turn, in order, mixed with asynchronous ones", async () => {
    const scheduler = new KeyedScheduler({ maxInFlight: 10, maxInFlightBytes: 1_000 });
    const runs: string[] = [];
    const gate = deferred();
    expect(scheduler.tryAdmit('k', 1, () => void runs.push('s1'))).toBe(true);
    expect(scheduler.tryAdmit('k', 1, () => void runs.push('s2'))).toBe(true);
    expect(
      scheduler.tryAdmit('k', 1, () => {
        runs.push('a3');
        return gate.promise;
      }),
    ).toBe(true);
    expect(scheduler.tryAdmit('k', 1, () => void runs.push('s4'))).toBe(true);
    // One microtask turn: the ready keys run, and synchronous tasks hand over at once.
    await Promise.resolve();
    expect(runs).toEqual(['s1', 's2', 'a3']);
    expect(scheduler.inFlight).toBe(2);
    gate.resolve();
    await scheduler.idle();
    expect(runs).toEqual(['s1', 's2', 'a3', 's4']);
    expect([scheduler.inFlight, scheduler.queuedKeys, scheduler.depthOf('k')]).toEqual([0, 0, 0]);
  });

  it('runs a long queue of synchronous tasks of one key without deepening the stack', async () => {
    const count = 100_000;
    const scheduler = new KeyedScheduler({ maxInFlight: count, maxInFlightBytes: count });
    let next = 0;
    let outOfOrder = 0;
    for (let i = 0; i < count; i++)
      scheduler.tryAdmit('k', 1, () => {
        if (next++ !== i) outOfOrder++;
      });
    await scheduler.idle();
    expect([next, outOfOrder, scheduler.inFlight]).toEqual([count, 0, 0]);
  });

  it('goes on with the key when the error reporter itself throws', async () => {
    const scheduler = new KeyedScheduler({
      maxInFlight: 4,
      maxInFlightBytes: 1_000,
      onTaskError: () => {
        throw new Error('reporter broke');
      },
    });
    const runs: string[] = [];
    scheduler.tryAdmit('k', 1, () => {
      throw new Error('sync');
    });
    scheduler.tryAdmit('k', 1, () => Promise.reject(new Error('async')));
    scheduler.tryAdmit('k', 1, () => void runs.push('after'));
    await scheduler.idle();
    expect(runs).toEqual(['after']);
    expect(scheduler.inFlight).toBe(0);
  });
});
