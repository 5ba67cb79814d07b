import { describe, expect, it } from 'vitest';
import { HandlerDeadlines, type TimedRun } from '../../src/runtime/handler-deadlines.js';
import { FakeClock } from '../support/fake-clock.js';

/** A run that records when it was timed out. */
class Run implements TimedRun {
  finished = false;
  timedOutAt: number | undefined;
  constructor(
    readonly deadline: number,
    readonly clock: FakeClock,
  ) {}
  timeOut(): void {
    expect(this.timedOutAt).toBeUndefined();
    this.timedOutAt = this.clock.now();
  }
}

function start(deadlines: HandlerDeadlines, clock: FakeClock, timeoutMs: number) {
  const run = new Run(clock.now() + timeoutMs, clock);
  const ticket = deadlines.add(timeoutMs, run);
  return {
    run,
    finish: () => {
      run.finished = true;
      deadlines.finished(ticket);
    },
  };
}

describe('HandlerDeadlines', () => {
  it('times out each run at its own deadline with one timer per timeout length', async () => {
    const clock = new FakeClock(0);
    const deadlines = new HandlerDeadlines(clock);
    const a = start(deadlines, clock, 100);
    await clock.advance(30);
    const b = start(deadlines, clock, 100);
    const c = start(deadlines, clock, 100);
    const slow = start(deadlines, clock, 500);
    expect(clock.sleeps).toEqual([100, 500]);
    await clock.advance(70);
    expect([a.run.timedOutAt, b.run.timedOutAt, c.run.timedOutAt]).toEqual([100, undefined, undefined]);
    c.finish();
    await clock.advance(30);
    expect([b.run.timedOutAt, c.run.timedOutAt]).toEqual([130, undefined]);
    await clock.advance(400);
    expect(slow.run.timedOutAt).toBe(530);
    expect(clock.pending).toEqual([]);
  });

  it('skips runs that finished and stays quiet when none is left', async () => {
    const clock = new FakeClock(0);
    const deadlines = new HandlerDeadlines(clock);
    const runs = Array.from({ length: 5 }, () => start(deadlines, clock, 100));
    for (const r of runs) r.finish();
    await clock.advance(1_000);
    expect(runs.map((r) => r.run.timedOutAt)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(clock.pending).toEqual([]);
  });

  it('keeps the oldest live run and its successors when it drops finished runs behind it', async () => {
    const clock = new FakeClock(0);
    const deadlines = new HandlerDeadlines(clock);
    const stuck = start(deadlines, clock, 1_000);
    const later: ReturnType<typeof start>[] = [];
    for (let i = 0; i < 300; i++) {
      await clock.advance(1);
      later.push(start(deadlines, clock, 1_000));
    }
    // All but every 50th finish: the lane compacts the finished ones out from behind the stuck run.
    later.forEach((r, i) => {
      if (i % 50 !== 49) r.finish();
    });
    await clock.advance(700);
    expect(stuck.run.timedOutAt).toBe(1_000);
    await clock.advance(300);
    const timedOut = later.filter((r) => r.run.timedOutAt !== undefined).map((r) => r.run.timedOutAt);
    expect(timedOut).toEqual([1_050, 1_100, 1_150, 1_200, 1_250, 1_300]);
  });

  it('cancels its timers on close', async () => {
    const clock = new FakeClock(0);
    const deadlines = new HandlerDeadlines(clock);
    const run = start(deadlines, clock, 100);
    expect(clock.pending).toEqual([100]);
    deadlines.close();
    await clock.advance(200);
    expect(clock.pending).toEqual([]);
    expect(run.run.timedOutAt).toBeUndefined();
  });
});

describe('HandlerDeadlines in a lane that never empties', () => {
  it('still times out the runs that overrun while thousands finish around them', async () => {
    const clock = new FakeClock(0);
    const deadlines = new HandlerDeadlines(clock);
    const live: ReturnType<typeof start>[] = [];
    const overrun: ReturnType<typeof start>[] = [];
    // A steady stream: a run starts every ms and the one started 8 ms earlier finishes, except
    // every 1000th, which hangs. The lane is never empty.
    for (let i = 0; i < 5_000; i++) {
      const run = start(deadlines, clock, 100);
      if (i % 1_000 === 500) overrun.push(run);
      else live.push(run);
      if (live.length > 8) live.shift()!.finish();
      await clock.advance(1);
    }
    await clock.advance(100);
    expect(overrun.map((r) => r.run.timedOutAt)).toEqual([600, 1_600, 2_600, 3_600, 4_600]);
    expect(live.every((r) => r.run.timedOutAt !== undefined)).toBe(true);
  });
});
