// systemClock.sleep past Node's timer limit: one setTimeout longer than 2^31 - 1 ms fires after 1 ms,
// which would turn a long backoff or a long gauge interval into a hot loop.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, systemClock } from '../src/clock.js';

describe('systemClock.sleep', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function track(ms: number, signal?: AbortSignal) {
    const state = { done: false, error: undefined as unknown };
    systemClock.sleep(ms, signal).then(
      () => {
        state.done = true;
      },
      (error: unknown) => {
        state.error = error;
      },
    );
    return state;
  }

  it('the fake timers overflow as Node does, so the tests below can fail', async () => {
    let fired = false;
    setTimeout(() => {
      fired = true;
    }, MAX_TIMER_MS + 1);
    await vi.advanceTimersByTimeAsync(10);
    expect(fired).toBe(true);
  });

  it('waits the whole of a delay longer than one timer can hold', async () => {
    const ms = MAX_TIMER_MS * 2 + 5_000;
    const sleep = track(ms);
    await vi.advanceTimersByTimeAsync(10);
    expect(sleep.done).toBe(false);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS * 2);
    expect(sleep.done).toBe(false);
    await vi.advanceTimersByTimeAsync(4_989);
    expect(sleep.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(sleep.done).toBe(true);
  });

  it('waits exactly MAX_TIMER_MS with one timer, and a short delay as given', async () => {
    const long = track(MAX_TIMER_MS);
    const short = track(250);
    await vi.advanceTimersByTimeAsync(249);
    expect(short.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(short.done).toBe(true);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS - 251);
    expect(long.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(long.done).toBe(true);
  });

  it('never ends an infinite sleep by itself, and an abort ends it at any step', async () => {
    const controller = new AbortController();
    const sleep = track(Number.POSITIVE_INFINITY, controller.signal);
    await vi.advanceTimersByTimeAsync(MAX_TIMER_MS * 3);
    expect(sleep).toEqual({ done: false, error: undefined });
    controller.abort(new Error('stopping'));
    await vi.advanceTimersByTimeAsync(0);
    expect(sleep.done).toBe(false);
    expect((sleep.error as Error).message).toBe('stopping');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('treats a negative or NaN delay as 0', async () => {
    const negative = track(-5);
    const nan = track(Number.NaN);
    await vi.advanceTimersByTimeAsync(0);
    expect([negative.done, nan.done]).toEqual([true, true]);
  });
});
