import type { SwitchyardEvents } from '@switchyard/core';
import { TypedEvents } from '@switchyard/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { spyOnPublishes, WaitTimeoutError } from '../../src/index.js';

afterEach(() => {
  vi.useRealTimers();
});

function setup() {
  const events = new TypedEvents<SwitchyardEvents>();
  return { events, spy: spyOnPublishes(events) };
}

describe('PublishSpy', () => {
  it('resolves when the message was sent, also after the fact', async () => {
    const { events, spy } = setup();
    const waiting = spy.waitFor('p-1');
    events.emit('publisher:message:sent', { destination: 'orders', messageId: 'p-1', type: 'OrderPlaced' });
    expect((await waiting).destination).toBe('orders');
    expect((await spy.waitFor('p-1')).type).toBe('OrderPlaced');
  });

  it('counts per destination and waits for a number of sends to one', async () => {
    const { events, spy } = setup();
    const two = spy.waitForCount(2, { destination: 'payments' });
    events.emit('publisher:message:sent', { destination: 'orders', messageId: 'a', type: 'T' });
    events.emit('publisher:message:sent', { destination: 'payments', messageId: 'b', type: 'T' });
    events.emit('publisher:message:sent', { destination: 'payments', messageId: 'c', type: 'T' });
    expect((await two).map((m) => m.messageId)).toEqual(['b', 'c']);
    expect(spy.count()).toBe(3);
    expect(spy.count('orders')).toBe(1);
    expect(spy.messages('payments').map((m) => m.messageId)).toEqual(['b', 'c']);
  });

  it('waits for a message matching a predicate', async () => {
    const { events, spy } = setup();
    const waiting = spy.waitForMessage((m) => m.type === 'OrderShipped');
    events.emit('publisher:message:sent', { destination: 'orders', messageId: 'a', type: 'OrderPlaced' });
    events.emit('publisher:message:sent', { destination: 'orders', messageId: 'b', type: 'OrderShipped' });
    expect((await waiting).messageId).toBe('b');
  });

  it('times out listing what was sent', async () => {
    vi.useFakeTimers();
    const { events, spy } = setup();
    events.emit('publisher:message:sent', { destination: 'orders', messageId: 'a', type: 'OrderPlaced' });
    const caught = spy.waitFor('missing', { timeoutMs: 200 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(200);
    const error = await caught;
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as Error).message).toContain("waiting for message 'missing' to be sent");
    expect((error as Error).message).toContain("'a' (OrderPlaced) to 'orders'");
  });

  it('resets and detaches', async () => {
    const { events, spy } = setup();
    events.emit('publisher:message:sent', { destination: 'orders', messageId: 'a', type: 'T' });
    spy.reset();
    expect(spy.count()).toBe(0);
    const pending = spy.waitFor('b');
    spy.detach();
    await expect(pending).rejects.toThrow('detached');
    events.emit('publisher:message:sent', { destination: 'orders', messageId: 'b', type: 'T' });
    expect(spy.count()).toBe(0);
  });
});
