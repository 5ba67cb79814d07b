// Property tests for KeyedScheduler: random submissions (schedule or tryAdmit, sized below and above
// the byte bound), tasks that finish synchronously, throw, resolve or reject later, hang for good or
// schedule a follow-up from inside, and aborts of waiting submissions, with fast-check's scheduler
// choosing the order in which asynchronous work settles. Checked against a model of what each key
// owes: per-key start order = submission order, one task per key at a time, never more than
// maxInFlight admitted, bytes within the bound unless one task is alone, nothing lost or run twice,
// nothing runs inside schedule(), and no waiter is left waiting while the bounds have room for it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyedScheduler } from '../../src/keyed-scheduler.js';
import { settle } from '../support/fake-clock.js';

const KEYS = ['a', 'b', 'c'] as const;
type Behavior = 'sync' | 'throw' | 'async' | 'reject' | 'hang' | 'spawn';

interface Submit {
  readonly kind: 'submit';
  readonly key: string;
  readonly size: number;
  readonly behavior: Behavior;
  readonly viaTryAdmit: boolean;
  readonly abortable: boolean;
}
interface Abort {
  readonly kind: 'abort';
  readonly pick: number;
}
type Op = Submit | Abort;

const behavior = (hang: boolean): fc.Arbitrary<Behavior> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant<Behavior>('sync') },
    { weight: 1, arbitrary: fc.constant<Behavior>('throw') },
    { weight: 4, arbitrary: fc.constant<Behavior>('async') },
    { weight: 1, arbitrary: fc.constant<Behavior>('reject') },
    { weight: 1, arbitrary: fc.constant<Behavior>('spawn') },
    { weight: hang ? 1 : 0, arbitrary: fc.constant<Behavior>('hang') },
  );

const submit = (maxBytes: number, hang: boolean): fc.Arbitrary<Submit> =>
  fc.record({
    kind: fc.constant('submit' as const),
    key: fc.constantFrom(...KEYS),
    // mostly within the bound, sometimes zero or larger than the whole bound
    size: fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: maxBytes }) },
      { weight: 1, arbitrary: fc.integer({ min: maxBytes + 1, max: maxBytes * 3 }) },
    ),
    behavior: behavior(hang),
    viaTryAdmit: fc.boolean(),
    abortable: fc.boolean(),
  });

const scenario = fc
  .record({
    maxInFlight: fc.integer({ min: 1, max: 4 }),
    maxInFlightBytes: fc.integer({ min: 1, max: 100 }),
    hang: fc.boolean(),
  })
  .chain((bounds) =>
    fc.record({
      bounds: fc.constant(bounds),
      ops: fc.array(
        fc.oneof(
          { weight: 5, arbitrary: submit(bounds.maxInFlightBytes, bounds.hang) },
          { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
        ),
        { minLength: 1, maxLength: 40, size: 'max' },
      ),
      spawned: fc.infiniteStream(submit(bounds.maxInFlightBytes, false)),
    }),
  );

interface Task {
  readonly id: number;
  readonly op: Submit;
  readonly controller: AbortController | undefined;
  /** admitted: tryAdmit said yes or the schedule promise resolved; removed: aborted while waiting. */
  admission: 'pending' | 'admitted' | 'aborted';
  removedByAbort: boolean;
  rejectedWith?: unknown;
  started: number;
  finished: boolean;
}

async function runScenario(
  s: fc.Scheduler,
  {
    bounds,
    ops,
    spawned,
  }: { bounds: { maxInFlight: number; maxInFlightBytes: number }; ops: Op[]; spawned: fc.Stream<Submit> },
): Promise<void> {
  const errors: Array<{ error: unknown; key: string }> = [];
  const scheduler = new KeyedScheduler({
    maxInFlight: bounds.maxInFlight,
    maxInFlightBytes: bounds.maxInFlightBytes,
    onTaskError: (error, key) => errors.push({ error, key }),
  });
  const tasks: Task[] = [];
  /** Per key: tasks submitted and not removed by an abort, in submission order, not started yet. */
  const owed = new Map<string, Task[]>();
  const running = new Map<string, Task>();
  const spawnedSubmits = spawned[Symbol.iterator]();
  let insideSchedule = false;

  const checkBounds = (where: string) => {
    expect(scheduler.inFlight, where).toBeLessThanOrEqual(bounds.maxInFlight);
    if (scheduler.inFlight > 1) expect(scheduler.inFlightBytes, where).toBeLessThanOrEqual(bounds.maxInFlightBytes);
    expect(running.size, where).toBeLessThanOrEqual(scheduler.inFlight);
    expect(running.size, where).toBeLessThanOrEqual(scheduler.queuedKeys);
  };

  const body = (task: Task) => () => {
    const { key, behavior } = task.op;
    const where = `task ${task.id} (${key}, ${behavior})`;
    expect(insideSchedule, `${where} ran inside schedule()`).toBe(false);
    expect(task.started, `${where} ran twice`).toBe(0);
    expect(task.removedByAbort, `${where} ran after its abort`).toBe(false);
    expect(running.get(key), `${where} ran beside another task of its key`).toBeUndefined();
    expect(owed.get(key)?.[0], `${where} overtook an earlier task of its key`).toBe(task);
    owed.get(key)!.shift();
    task.started += 1;
    running.set(key, task);
    checkBounds(where);
    const finish = () => {
      task.finished = true;
      running.delete(key);
    };
    switch (behavior) {
      case 'sync':
        finish();
        return;
      case 'throw':
        finish();
        throw new TaskError(task.id);
      case 'spawn':
        // A task that schedules more work from inside (e.g. a retry of its own key), then finishes.
        submitTask(spawnedSubmits.next().value!);
        finish();
        return;
      case 'hang':
        return new Promise<void>(() => {});
      case 'async':
        return s.schedule(Promise.resolve(), `finish ${task.id}`).then(finish);
      case 'reject':
        return s.schedule(Promise.resolve(), `fail ${task.id}`).then(() => {
          finish();
          throw new TaskError(task.id);
        });
    }
  };

  const submitTask = (op: Submit) => {
    const task: Task = {
      id: tasks.length,
      op,
      controller: op.abortable ? new AbortController() : undefined,
      admission: 'pending',
      removedByAbort: false,
      started: 0,
      finished: false,
    };
    tasks.push(task);
    const list = owed.get(op.key) ?? [];
    owed.set(op.key, list);
    list.push(task);
    insideSchedule = true;
    try {
      if (op.viaTryAdmit && scheduler.tryAdmit(op.key, op.size, body(task))) {
        task.admission = 'admitted';
        return;
      }
      scheduler.schedule(op.key, op.size, body(task), task.controller?.signal).then(
        () => {
          task.admission = 'admitted';
        },
        (reason) => {
          task.admission = 'aborted';
          task.rejectedWith = reason;
        },
      );
    } finally {
      insideSchedule = false;
    }
  };

  s.scheduleSequence(
    ops.map((op, i) => ({
      label: `op ${i} ${op.kind}`,
      builder: async () => {
        if (op.kind === 'submit') submitTask(op);
        else {
          const abortable = tasks.filter((t) => t.controller !== undefined && !t.controller.signal.aborted);
          const task = abortable[op.pick % Math.max(1, abortable.length)];
          if (task !== undefined) {
            const before = scheduler.waiting;
            task.controller!.abort(new Error(`abort ${task.id}`));
            if (scheduler.waiting < before) {
              // It was still waiting: it must never run.
              task.removedByAbort = true;
              const list = owed.get(task.op.key)!;
              list.splice(list.indexOf(task), 1);
            }
          }
        }
        checkBounds(`after op ${i}`);
      },
    })),
  );
  await s.waitIdle();
  await settle(); // let the last admission callbacks run

  // Quiescent: every callback has run.
  const hung = tasks.some((t) => t.op.behavior === 'hang' && t.started > 0);
  const live = tasks.filter((t) => t.admission === 'admitted' && !t.finished);
  expect(scheduler.inFlight).toBe(live.length);
  expect(scheduler.inFlightBytes).toBe(live.reduce((sum, t) => sum + Math.max(0, t.op.size), 0));
  for (const t of tasks) {
    expect(t.started).toBeLessThanOrEqual(1);
    expect(t.admission === 'aborted').toBe(t.removedByAbort);
    if (t.removedByAbort) expect(t.rejectedWith).toBe(t.controller!.signal.reason);
    if (t.admission === 'admitted' && t.started === 0)
      // Admitted, not started: only behind a hung task of its key.
      expect(running.get(t.op.key)?.op.behavior, `task ${t.id} admitted but never ran`).toBe('hang');
  }
  // Work-conserving: the first waiter (strict FIFO) must not fit, else it should have been admitted.
  const waiters = tasks.filter((t) => t.admission === 'pending');
  expect(scheduler.waiting).toBe(waiters.length);
  const first = waiters[0];
  if (first !== undefined) {
    const size = Math.max(0, first.op.size);
    const fits =
      scheduler.inFlight < bounds.maxInFlight &&
      (scheduler.inFlight === 0 || scheduler.inFlightBytes + size <= bounds.maxInFlightBytes);
    expect(fits, `task ${first.id} waits although the bounds have room for it`).toBe(false);
  }
  const failing = tasks.filter((t) => t.started > 0 && (t.op.behavior === 'throw' || t.op.behavior === 'reject'));
  expect(errors.map((e) => [(e.error as TaskError).id, e.key]).sort()).toEqual(
    failing.map((t) => [t.id, t.op.key]).sort(),
  );
  if (!hung) {
    for (const t of tasks) expect(t.started, `task ${t.id} lost`).toBe(t.removedByAbort ? 0 : 1);
    expect([scheduler.inFlight, scheduler.inFlightBytes, scheduler.waiting, scheduler.queuedKeys]).toEqual([
      0, 0, 0, 0,
    ]);
    for (const key of KEYS) expect(scheduler.depthOf(key)).toBe(0);
    expect(await scheduler.drain()).toBe(true);
  } else {
    const stopped = new AbortController();
    const drained = scheduler.drain(stopped.signal);
    stopped.abort();
    expect(await drained).toBe(false);
  }
}

class TaskError extends Error {
  constructor(readonly id: number) {
    super(`task ${id} failed`);
  }
}

describe('KeyedScheduler (properties)', () => {
  it('keeps per-key order, the bounds and every task, under any interleaving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), scenario, (s, input) => runScenario(s, input)),
      { numRuns: 300 },
    );
  });

  it('admits the next waiter when the one blocking the queue is aborted (minimal case)', async () => {
    const scheduler = new KeyedScheduler({ maxInFlight: 10, maxInFlightBytes: 100 });
    await scheduler.schedule('a', 60, () => new Promise<void>(() => {})); // runs for a long time
    const controller = new AbortController();
    const large = scheduler.schedule('b', 50, async () => {}, controller.signal).catch(() => 'aborted');
    let smallAdmitted = false;
    const small = scheduler
      .schedule('c', 10, async () => {})
      .then(() => {
        smallAdmitted = true;
      });
    controller.abort(new Error('stop'));
    expect(await large).toBe('aborted');
    await Promise.race([small, new Promise<void>((resolve) => setImmediate(resolve))]);
    // 60 + 10 <= 100: the small one fits once the large one ahead of it is gone.
    expect(smallAdmitted).toBe(true);
    expect(scheduler.waiting).toBe(0);
  });
});
