import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/index.js';

describe('ManualClock', () => {
  it('stands still until advanced', async () => {
    const clock = new ManualClock(1_000);
    expect(clock.now()).toBe(1_000);
    await clock.advance(250);
    expect(clock.now()).toBe(1_250);
  });

  it('wakes sleepers in deadline order, each at its own time', async () => {
    const clock = new ManualClock(0);
    const woke: [string, number][] = [];
    void clock.sleep(300).then(() => woke.push(['late', clock.now()]));
    void clock.sleep(100).then(() => woke.push(['early', clock.now()]));
    await clock.advance(200);
    expect(woke).toEqual([['early', 100]]);
    await clock.advance(200);
    expect(woke).toEqual([
      ['early', 100],
      ['late', 300],
    ]);
    expect(clock.now()).toBe(400);
  });

  it('runs chained sleeps inside one advance', async () => {
    const clock = new ManualClock(0);
    const ticks: number[] = [];
    void (async () => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(10);
        ticks.push(clock.now());
      }
    })();
    await clock.advance(30);
    expect(ticks).toEqual([10, 20, 30]);
  });

  it('rejects a sleep when its signal aborts and forgets it', async () => {
    const clock = new ManualClock(0);
    const controller = new AbortController();
    const sleeping = clock.sleep(100, controller.signal);
    expect(clock.pending).toBe(1);
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
    expect(clock.pending).toBe(0);
  });

  it('jumps to the next sleeper with runNext', async () => {
    const clock = new ManualClock(0);
    let woke = false;
    void clock.sleep(5_000).then(() => {
      woke = true;
    });
    expect(clock.nextWakeAt()).toBe(5_000);
    expect(await clock.runNext()).toBe(true);
    expect(woke).toBe(true);
    expect(await clock.runNext()).toBe(false);
  });
});
