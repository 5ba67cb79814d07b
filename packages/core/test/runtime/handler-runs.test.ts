// How a running handler is aborted and timed out, and what its context makes only on demand: a
// delivery signal shared by several deliveries (as a partition's is), the shutdown deadline, handler
// timeouts sharing one timer per timeout length, and the lazily made signal and logger.
import { describe, expect, it } from 'vitest';
import { defineHandler, type HandlerContext } from '../../src/handlers.js';
import type { Logger } from '../../src/logger.js';
import type { Delivery, Settlement } from '../../src/ports/transport.js';
import { encodeMessage } from '../../src/wire.js';
import { FakeClock } from '../support/fake-clock.js';
import { deliver, harness, OrderPlaced, orders } from './harness.js';

/** A promise and the function that resolves it. */
function gate<T = void>() {
  let open!: (value: T) => void;
  const opened = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

/** Hands a delivery to the consumer with the given signal (as a transport does for a partition's deliveries). */
async function deliverOn(
  h: ReturnType<typeof harness>,
  signal: AbortSignal,
  orderId: string,
): Promise<{ readonly settlements: Settlement[] }> {
  const message = await encodeMessage(OrderPlaced, { orderId, total: 1 }, { clock: h.clock });
  const settlements: Settlement[] = [];
  const delivery: Delivery = {
    message: {
      body: message.body,
      key: message.key,
      headers: message.headers,
      timestamp: message.timestamp,
      source: { kind: 'log', topic: 'orders', partition: 0, offset: orderId, consumerGroup: 'g' },
    },
    attempt: 1,
    orderingKey: orderId,
    sizeBytes: message.body.byteLength,
    signal,
    settle: async (settlement) => {
      settlements.push(settlement);
    },
  };
  await h.transport.subscription().sink(delivery);
  return { settlements };
}

describe('aborting running handlers', () => {
  it('aborts every running handler of a delivery signal when it fires, and only those', async () => {
    const h = harness();
    const started = new Map<string, HandlerContext>();
    const everyoneRunning = gate();
    const release = gate();
    h.app.consume(orders, {
      group: 'g',
      handlers: [
        defineHandler(OrderPlaced, async (m, ctx) => {
          started.set(m.payload.orderId, ctx);
          if (started.size === 3) everyoneRunning.open();
          await Promise.race([
            release.opened,
            new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
          ]);
        }),
      ],
    });
    await h.app.start();
    const partitionA = new AbortController();
    const partitionB = new AbortController();
    const a1 = await deliverOn(h, partitionA.signal, 'a1');
    const a2 = await deliverOn(h, partitionA.signal, 'a2');
    const b1 = await deliverOn(h, partitionB.signal, 'b1');
    await everyoneRunning.opened;

    const revoked = new Error('partition revoked');
    partitionA.abort(revoked);
    expect(started.get('a1')?.signal.reason).toBe(revoked);
    expect(started.get('a2')?.signal.reason).toBe(revoked);
    expect(started.get('b1')?.signal.aborted).toBe(false);

    release.open();
    expect(await h.app.stop({ deadlineMs: 1_000 })).toEqual({ drained: true, abandoned: 0 });
    // Lost deliveries are left to the next owner; the other partition's finished normally.
    expect([a1.settlements, a2.settlements, b1.settlements]).toEqual([[], [], [{ kind: 'ack' }]]);
  });

  it('moves on from a handler that never reads its signal once its delivery is lost', async () => {
    const h = harness();
    const running = gate();
    h.app.consume(orders, {
      group: 'g',
      handlers: [
        defineHandler(OrderPlaced, () => {
          running.open();
          return new Promise<void>(() => {});
        }),
      ],
    });
    await h.app.start();
    const d = await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1 });
    await running.opened;
    d.lose(new Error('lease lapsed'));
    expect(await h.app.stop({ deadlineMs: 1_000 })).toEqual({ drained: true, abandoned: 0 });
    expect(d.settlements).toEqual([]);
  });

  it('hands a signal that is already aborted to a handler that reads it after the abort', async () => {
    const h = harness();
    const running = gate();
    const readLater = gate();
    const seen = gate<AbortSignal>();
    h.app.consume(orders, {
      group: 'g',
      handlers: [
        defineHandler(OrderPlaced, async (_m, ctx) => {
          running.open();
          await readLater.opened;
          seen.open(ctx.signal);
        }),
      ],
    });
    await h.app.start();
    const d = await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1 });
    await running.opened;
    const reason = new Error('lost');
    d.lose(reason);
    readLater.open();
    const signal = await seen.opened;
    expect([signal.aborted, signal.reason]).toEqual([true, reason]);
    await h.app.stop({ deadlineMs: 1_000 });
  });

  it('aborts handlers still running at the shutdown deadline, read signal or not', async () => {
    const h = harness();
    const running = new Set<string>();
    const bothRunning = gate();
    const signals: AbortSignal[] = [];
    h.app.consume(orders, {
      group: 'g',
      handlers: [
        defineHandler(OrderPlaced, (m, ctx) => {
          running.add(m.payload.orderId);
          if (m.payload.orderId === 'reads') signals.push(ctx.signal);
          if (running.size === 2) bothRunning.open();
          return new Promise<void>(() => {});
        }),
      ],
    });
    await h.app.start();
    const reads = await deliver(h.transport, OrderPlaced, { orderId: 'reads', total: 1 });
    const ignores = await deliver(h.transport, OrderPlaced, { orderId: 'ignores', total: 1 });
    await bothRunning.opened;
    const stopping = h.app.stop({ deadlineMs: 50 });
    await h.clock.whenSleeping((ms) => ms === 50);
    await h.clock.advance(50);
    expect(await stopping).toEqual({ drained: false, abandoned: 2 });
    expect((signals[0]?.reason as { code?: string } | undefined)?.code).toBe('SWITCHYARD_SHUTDOWN');
    expect([reads.settlements, ignores.settlements]).toEqual([[{ kind: 'release' }], [{ kind: 'release' }]]);
  });
});

describe('handler context', () => {
  it('makes the per-message logger only for a handler that reads it', async () => {
    const children: Record<string, unknown>[] = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn() {},
      error() {},
      child(bindings) {
        children.push(bindings);
        return logger;
      },
    };
    const h = harness({}, { logger });
    h.app.consume(orders, {
      group: 'g',
      handlers: [
        defineHandler(OrderPlaced, (m, ctx) => {
          if (m.payload.orderId === 'logs') ctx.logger.info({}, 'handling');
        }),
      ],
    });
    await h.app.start();
    const before = children.length;
    await (await deliver(h.transport, OrderPlaced, { orderId: 'quiet', total: 1 })).settled;
    const logs = await deliver(h.transport, OrderPlaced, { orderId: 'logs', total: 1 }, { id: 'm-logs' });
    await logs.settled;
    expect(children.slice(before)).toEqual([{ messageId: 'm-logs', type: 'OrderPlaced', attempt: 1 }]);
    await h.app.stop();
  });
});

describe('handler timeouts', () => {
  it('times out runs started at different times each at its own deadline', async () => {
    const h = harness({}, { clock: new FakeClock() });
    h.app.consume(orders, {
      group: 'g',
      timeoutMs: 1_000,
      retry: { maxAttempts: 1 },
      handlers: [defineHandler(OrderPlaced, () => new Promise<void>(() => {}))],
    });
    await h.app.start();
    const first = await deliver(h.transport, OrderPlaced, { orderId: 'first', total: 1 });
    await h.clock.whenSleeping((ms) => ms === 1_000);
    await h.clock.advance(400);
    const second = await deliver(h.transport, OrderPlaced, { orderId: 'second', total: 1 });
    await h.clock.advance(600);
    expect(await first.settled).toMatchObject({ kind: 'dead-letter', record: { reason: 'timeout' } });
    expect(second.settlements).toEqual([]);
    await h.clock.advance(400);
    expect(await second.settled).toMatchObject({
      kind: 'dead-letter',
      record: { reason: 'timeout', error: { code: 'SWITCHYARD_HANDLER_TIMEOUT' } },
    });
    await h.app.stop();
  });

  it('leaves finished handlers alone, with one timer for the lane rather than one per message', async () => {
    const h = harness({}, { clock: new FakeClock() });
    h.app.consume(orders, {
      group: 'g',
      timeoutMs: 1_000,
      handlers: [defineHandler(OrderPlaced, async () => {})],
    });
    await h.app.start();
    const done = [];
    for (const orderId of ['a', 'b', 'c', 'd'])
      done.push(await deliver(h.transport, OrderPlaced, { orderId, total: 1 }));
    expect(await Promise.all(done.map((d) => d.settled))).toEqual(done.map(() => ({ kind: 'ack' })));
    expect(h.clock.sleeps.filter((ms) => ms === 1_000)).toHaveLength(1);
    await h.clock.advance(1_000);
    expect(done.map((d) => d.settlements.length)).toEqual([1, 1, 1, 1]);
    expect(h.seen.filter((e) => e.name === 'app:error')).toEqual([]);
    await h.app.stop();
  });

  it('cancels the timeout timer when the app stops', async () => {
    const h = harness({}, { clock: new FakeClock() });
    h.app.consume(orders, {
      group: 'g',
      timeoutMs: 1_000,
      handlers: [defineHandler(OrderPlaced, async () => {})],
    });
    await h.app.start();
    await (await deliver(h.transport, OrderPlaced, { orderId: 'a', total: 1 })).settled;
    expect(h.clock.pending).toContain(1_000);
    await h.app.stop();
    expect(h.clock.pending).not.toContain(1_000);
  });
});
