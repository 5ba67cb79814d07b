import type { MessageEventBase, SwitchyardEvents } from '@switchyard/core';
import { TypedEvents } from '@switchyard/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushPromises, MessageSpy, spyOn, WaitTimeoutError } from '../../src/index.js';

function base(messageId: string, attempt = 1, consumerGroup = 'billing'): MessageEventBase {
  return {
    consumerGroup,
    destination: 'orders',
    messageId,
    type: 'OrderPlaced',
    key: 'order-1',
    attempt,
    source: { kind: 'log', topic: 'orders', partition: 0, offset: String(attempt) },
  };
}

function setup() {
  const events = new TypedEvents<SwitchyardEvents>();
  const spy = spyOn(events);
  return { events, spy };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('MessageSpy', () => {
  it('resolves when the message reaches the outcome, with the event payload', async () => {
    const { events, spy } = setup();
    const waiting = spy.waitFor('m-1', 'acked');
    events.emit('consumer:message:acked', { ...base('m-1'), durationMs: 12 });
    const event = await waiting;
    expect(event.messageId).toBe('m-1');
    expect(event.durationMs).toBe(12);
  });

  it('resolves at once for an outcome that already happened', async () => {
    const { events, spy } = setup();
    events.emit('consumer:message:dead-lettered', {
      ...base('m-2'),
      deadLetterDestination: 'orders.dlq',
      record: {} as SwitchyardEvents['consumer:message:dead-lettered']['record'],
    });
    const event = await spy.waitFor('m-2', 'dead-lettered');
    expect(event.deadLetterDestination).toBe('orders.dlq');
  });

  it('ignores other messages and other outcomes', async () => {
    const { events, spy } = setup();
    const waiting = spy.waitFor('m-3', 'acked');
    let settled = false;
    void waiting.then(() => {
      settled = true;
    });
    events.emit('consumer:message:acked', { ...base('other'), durationMs: 1 });
    events.emit('consumer:message:retried', { ...base('m-3'), delayMs: 100, error: new Error('boom') });
    await flushPromises();
    expect(settled).toBe(false);
    events.emit('consumer:message:acked', { ...base('m-3', 2), durationMs: 1 });
    expect((await waiting).attempt).toBe(2);
  });

  it('waits for a given attempt', async () => {
    const { events, spy } = setup();
    const third = spy.waitFor('m-4', 'retried', { attempt: 3 });
    for (const attempt of [1, 2, 3])
      events.emit('consumer:message:retried', { ...base('m-4', attempt), delayMs: attempt * 100, error: 'x' });
    expect((await third).delayMs).toBe(300);
    expect((await spy.waitFor('m-4', 'retried')).attempt).toBe(1);
  });

  it('counts outcomes and lists events per outcome', () => {
    const { events, spy } = setup();
    events.emit('consumer:message:acked', { ...base('a'), durationMs: 1 });
    events.emit('consumer:message:acked', { ...base('b'), durationMs: 1 });
    events.emit('consumer:message:duplicate', base('a'));
    events.emit('consumer:message:stale', { ...base('c'), version: '7' });
    events.emit('consumer:message:released', base('d'));
    expect(spy.counts()).toEqual({
      acked: 2,
      retried: 0,
      'dead-lettered': 0,
      duplicate: 1,
      stale: 1,
      released: 1,
    });
    expect(spy.events('acked').map((e) => e.messageId)).toEqual(['a', 'b']);
    expect(spy.events('stale')[0]?.version).toBe('7');
    expect(spy.historyOf('a').map((r) => r.outcome)).toEqual(['acked', 'duplicate']);
  });

  it('waits for a number of outcomes and resolves with the first ones', async () => {
    const { events, spy } = setup();
    const three = spy.waitForCount('acked', 3);
    for (const id of ['x', 'y', 'z', 'w']) events.emit('consumer:message:acked', { ...base(id), durationMs: 1 });
    expect((await three).map((e) => e.messageId)).toEqual(['x', 'y', 'z']);
    expect(await spy.waitForCount('acked', 0)).toEqual([]);
  });

  it('waits for an event matching a predicate', async () => {
    const { events, spy } = setup();
    const slow = spy.waitForEvent('acked', (e) => e.durationMs > 100);
    events.emit('consumer:message:acked', { ...base('fast'), durationMs: 5 });
    events.emit('consumer:message:acked', { ...base('slow'), durationMs: 500 });
    expect((await slow).messageId).toBe('slow');
  });

  it('rejects on timeout with what it saw, including app errors', async () => {
    vi.useFakeTimers();
    const { events, spy } = setup();
    events.emit('consumer:message:retried', { ...base('m-5', 1), delayMs: 100, error: new Error('db down') });
    events.emit('consumer:message:retried', { ...base('m-5', 2), delayMs: 200, error: new Error('db down') });
    events.emit('consumer:message:acked', { ...base('m-6'), durationMs: 3 });
    events.emit('app:error', { error: new Error('commit failed'), context: 'settle' });
    const waiting = spy.waitFor('m-5', 'acked', { timeoutMs: 1_000 });
    const caught = waiting.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1_000);
    const error = await caught;
    expect(error).toBeInstanceOf(WaitTimeoutError);
    const message = (error as Error).message;
    expect(message).toContain("timed out after 1000 ms waiting for message 'm-5' to be acked");
    expect(message).toContain("Seen for 'm-5': retried (attempt 1), retried (attempt 2)");
    expect(message).toContain('acked 1, retried 2');
    expect(message).toContain("acked 'm-6'");
    expect(message).toContain('settle: Error: commit failed');
  });

  it('says when nothing was seen for the message', async () => {
    vi.useFakeTimers();
    const { spy } = setup();
    const caught = spy.waitFor('ghost', 'acked', { timeoutMs: 50 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(50);
    expect(((await caught) as Error).message).toContain("Nothing seen for 'ghost'");
  });

  it('stops waiting when the signal aborts', async () => {
    const { spy } = setup();
    const controller = new AbortController();
    const waiting = spy.waitFor('m-7', 'acked', { signal: controller.signal });
    controller.abort(new Error('test over'));
    await expect(waiting).rejects.toThrow('test over');
  });

  it('forgets on reset but keeps pending waits alive', async () => {
    const { events, spy } = setup();
    events.emit('consumer:message:acked', { ...base('old'), durationMs: 1 });
    spy.reset();
    expect(spy.counts().acked).toBe(0);
    const waiting = spy.waitFor('old', 'acked');
    events.emit('consumer:message:acked', { ...base('old', 2), durationMs: 1 });
    expect((await waiting).attempt).toBe(2);
  });

  it('stops listening on detach and rejects pending waits', async () => {
    const { events, spy } = setup();
    const waiting = spy.waitFor('m-8', 'acked');
    spy.detach();
    await expect(waiting).rejects.toThrow('detached');
    events.emit('consumer:message:acked', { ...base('m-8'), durationMs: 1 });
    expect(spy.counts().acked).toBe(0);
  });

  it('records only what the filter accepts', () => {
    const events = new TypedEvents<SwitchyardEvents>();
    const spy = new MessageSpy(events, { filter: (e) => e.consumerGroup === 'shipping' });
    events.emit('consumer:message:acked', { ...base('a', 1, 'billing'), durationMs: 1 });
    events.emit('consumer:message:acked', { ...base('b', 1, 'shipping'), durationMs: 1 });
    expect(spy.events('acked').map((e) => e.messageId)).toEqual(['b']);
  });

  it('works with a source whose on() returns nothing, detaching through off()', () => {
    const listeners = new Map<string, Set<(payload: never) => void>>();
    const source = {
      on(name: string, listener: (payload: never) => void) {
        if (!listeners.has(name)) listeners.set(name, new Set());
        listeners.get(name)!.add(listener);
      },
      off(name: string, listener: (payload: never) => void) {
        listeners.get(name)?.delete(listener);
      },
    };
    const spy = spyOn(source);
    expect(listeners.get('consumer:message:acked')?.size).toBe(1);
    spy.detach();
    expect([...listeners.values()].every((set) => set.size === 0)).toBe(true);
  });

  it('refuses an unknown outcome and a bad timeout', () => {
    const { spy } = setup();
    expect(() => spy.waitFor('m', 'consumed' as never)).toThrow(/not a message outcome/);
    expect(() => spy.waitFor('m', 'acked', { timeoutMs: 0 })).toThrow(/timeoutMs/);
    // Longer than a Node timer holds: it would fire after 1 ms and time out at once.
    expect(() => spy.waitFor('m', 'acked', { timeoutMs: 2 ** 31 })).toThrow(/timeoutMs.*up to 2147483647/);
    expect(() => spyOn({} as never)).toThrow(/on\(name, listener\)/);
  });

  // spyOn(events, null) threw a TypeError reading defaultTimeoutMs; a misspelt option was ignored;
  // a signal that is not one threw a TypeError from addEventListener once the wait had begun.
  it('refuses wrong options and wait options, naming them', () => {
    const events = new TypedEvents<SwitchyardEvents>();
    const { spy } = setup();
    const rows: Array<[string, () => unknown, string]> = [
      ['null options', () => spyOn(events, null as never), 'options'],
      ['a misspelt option', () => spyOn(events, { defaultTimeout: 5 } as never), 'defaultTimeout'],
      ['a filter that is not a function', () => spyOn(events, { filter: 'billing' } as never), 'filter'],
      ['null wait options', () => spy.waitFor('m', 'acked', null as never), 'waitFor.options'],
      ['a misspelt wait option', () => spy.waitFor('m', 'acked', { timeout: 5 } as never), 'waitFor.timeout'],
      ['an unknown count option', () => spy.waitForCount('acked', 1, { attempt: 2 } as never), 'waitForCount.attempt'],
      ['a signal that is not one', () => spy.waitFor('m', 'acked', { signal: {} as never }), 'signal'],
      ['a null signal', () => spy.waitForEvent('acked', () => true, { signal: null as never }), 'signal'],
    ];
    for (const [, run, option] of rows)
      expect(run).toThrow(expect.objectContaining({ name: 'InvalidOptionError', option }));
    const controller = new AbortController();
    const waiting = spy.waitFor('m', 'acked', { timeoutMs: 1_000, signal: controller.signal, attempt: 1 });
    controller.abort(new Error('done'));
    return expect(waiting).rejects.toThrow('done');
  });
});
