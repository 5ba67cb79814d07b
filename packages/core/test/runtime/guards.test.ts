import { describe, expect, it } from 'vitest';
import { defineHandler } from '../../src/handlers.js';
import { MemoryIdempotencyStore } from '../../src/idempotency/memory-store.js';
import { MemoryVersionStore } from '../../src/idempotency/stale-event-guard.js';
import { queueCapabilities } from './fake-transport.js';
import { ChargeCard, deliver, harness, nextEvent, OrderPlaced, orders, payments } from './harness.js';

describe('circuit breaker', () => {
  it('defers messages while the downstream’s circuit is open, without counting attempts', async () => {
    const h = harness();
    const calls: number[] = [];
    let down = true;
    h.app.consume(orders, {
      group: 'g',
      retry: { maxAttempts: 2, initialDelayMs: 10, jitter: 'none' },
      retryBudget: false,
      circuitBreaker: {
        failureRateThreshold: 0.5,
        minimumCalls: 2,
        windowMs: 60_000,
        openMs: 5_000,
        halfOpenMaxCalls: 1,
      },
      handlers: [
        defineHandler(
          OrderPlaced,
          (m, ctx) => {
            calls.push(ctx.attempt);
            if (down && m.payload.total < 10) throw new Error('ledger 503');
          },
          { downstream: 'ledger' },
        ),
      ],
    });
    const opened = nextEvent(h.app, 'circuit:state-changed', (e) => e.to === 'open');
    await h.app.start();
    // Two failures open the circuit (the second exhausts the message's 2 attempts).
    const first = await deliver(h.transport, OrderPlaced, { orderId: 'a', total: 1 });
    await h.clock.whenSleeping((ms) => ms === 10);
    await h.clock.advance(10);
    expect(await first.settled).toMatchObject({ kind: 'dead-letter', record: { attempts: 2 } });
    expect(await opened).toEqual({ downstream: 'ledger', from: 'closed', to: 'open' });

    // While open, a message is deferred in place for the open time; its handler does not run.
    const deferred = nextEvent(h.app, 'consumer:message:retried');
    const second = await deliver(h.transport, OrderPlaced, { orderId: 'b', total: 20 });
    const event = await deferred;
    expect(event.delayMs).toBe(5_000);
    expect((event.error as { code: string }).code).toBe('SWITCHYARD_CIRCUIT_OPEN');
    expect(calls).toEqual([1, 2]);

    down = false;
    await h.clock.advance(5_000);
    expect(await second.settled).toEqual({ kind: 'ack' });
    // Still attempt 1: the deferral did not count.
    expect(calls).toEqual([1, 2, 1]);
    await h.app.stop();
  });

  it('hands a deferral to a leased queue as a delayed redelivery', async () => {
    const h = harness(queueCapabilities);
    let fail = true;
    h.app.consume(payments, {
      group: 'billing',
      retry: { maxAttempts: 1 },
      retryBudget: false,
      circuitBreaker: { failureRateThreshold: 0.5, minimumCalls: 1, windowMs: 60_000, openMs: 7_000 },
      handlers: [
        defineHandler(
          ChargeCard,
          () => {
            if (fail) throw new Error('gateway down');
          },
          { downstream: 'gateway' },
        ),
      ],
    });
    await h.app.start();
    await (await deliver(h.transport, ChargeCard, { orderId: 'a', cents: 1 })).settled;
    fail = false;
    const d = await deliver(h.transport, ChargeCard, { orderId: 'b', cents: 1 }, { attempt: 1 });
    expect(await d.settled).toEqual({ kind: 'retry', delayMs: 7_000, attempt: 1 });
  });
});

describe('handler timeout', () => {
  it('aborts the handler with a retryable timeout and dead-letters with reason timeout when retries run out', async () => {
    const h = harness();
    const signals: AbortSignal[] = [];
    h.app.consume(orders, {
      group: 'g',
      timeoutMs: 1_000,
      retry: { maxAttempts: 2, initialDelayMs: 50, jitter: 'none' },
      retryBudget: false,
      handlers: [
        defineHandler(OrderPlaced, (_m, ctx) => {
          signals.push(ctx.signal);
          return new Promise(() => {});
        }),
      ],
    });
    await h.app.start();
    const d = await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1 });
    await h.clock.whenSleeping((ms) => ms === 1_000);
    await h.clock.advance(1_000);
    expect(signals[0]?.aborted).toBe(true);
    expect((signals[0]!.reason as { code: string }).code).toBe('SWITCHYARD_HANDLER_TIMEOUT');
    await h.clock.whenSleeping((ms) => ms === 50);
    await h.clock.advance(50);
    await h.clock.whenSleeping((ms) => ms === 1_000);
    await h.clock.advance(1_000);
    expect(await d.settled).toMatchObject({
      kind: 'dead-letter',
      record: { reason: 'timeout', attempts: 2, error: { code: 'SWITCHYARD_HANDLER_TIMEOUT' } },
    });
  });

  it('lets a handler’s own timeout win over the consumer’s', async () => {
    const h = harness();
    h.app.consume(orders, {
      group: 'g',
      timeoutMs: 10_000,
      retry: { maxAttempts: 1 },
      handlers: [defineHandler(OrderPlaced, () => new Promise(() => {}), { timeoutMs: 200 })],
    });
    await h.app.start();
    const d = await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1 });
    await h.clock.whenSleeping((ms) => ms === 200);
    await h.clock.advance(200);
    expect(await d.settled).toMatchObject({ kind: 'dead-letter', record: { reason: 'timeout' } });
  });
});

describe('idempotency', () => {
  it('absorbs a redelivery of a completed message: acked, handler not run again', async () => {
    const h = harness();
    let runs = 0;
    h.app.consume(orders, {
      group: 'g',
      idempotency: { store: new MemoryIdempotencyStore({ clock: h.clock }), ttlMs: 86_400_000 },
      handlers: [
        defineHandler(OrderPlaced, () => {
          runs++;
        }),
      ],
    });
    await h.app.start();
    const first = await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1 }, { id: 'same' });
    expect(await first.settled).toEqual({ kind: 'ack' });
    const duplicate = nextEvent(h.app, 'consumer:message:duplicate');
    const again = await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1 }, { id: 'same' });
    expect(await again.settled).toEqual({ kind: 'ack' });
    expect(await duplicate).toMatchObject({ messageId: 'same', type: 'OrderPlaced' });
    expect(runs).toBe(1);
  });

  it('runs a failed message again on redelivery (the claim is released, not completed)', async () => {
    const h = harness(queueCapabilities);
    let runs = 0;
    h.app.consume(payments, {
      group: 'billing',
      retryBudget: false,
      idempotency: { store: new MemoryIdempotencyStore({ clock: h.clock }), ttlMs: 86_400_000 },
      handlers: [
        defineHandler(ChargeCard, () => {
          if (++runs === 1) throw new Error('timeout talking to the bank');
        }),
      ],
    });
    await h.app.start();
    const first = await deliver(h.transport, ChargeCard, { orderId: 'o', cents: 1 }, { id: 'c-1', attempt: 1 });
    expect((await first.settled).kind).toBe('retry');
    const second = await deliver(h.transport, ChargeCard, { orderId: 'o', cents: 1 }, { id: 'c-1', attempt: 2 });
    expect(await second.settled).toEqual({ kind: 'ack' });
    expect(runs).toBe(2);
  });
});

describe('idempotency conflicts', () => {
  it('dead-letters a reused id with a different payload instead of silently dropping it', async () => {
    const h = harness();
    h.app.consume(orders, {
      group: 'g',
      idempotency: { store: new MemoryIdempotencyStore({ clock: h.clock }), ttlMs: 60_000 },
      handlers: [defineHandler(OrderPlaced, () => {})],
    });
    await h.app.start();
    await (await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1 }, { id: 'reused' })).settled;
    const d = await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 999 }, { id: 'reused' });
    expect(await d.settled).toMatchObject({
      kind: 'dead-letter',
      record: { reason: 'non-retryable', error: { code: 'SWITCHYARD_IDEMPOTENCY_PAYLOAD_MISMATCH' } },
    });
  });
});

describe('stale-event guard', () => {
  it('acks without handling an event whose version is not newer than the one applied', async () => {
    const h = harness();
    const applied: number[] = [];
    h.app.consume(orders, {
      group: 'g',
      versionStore: new MemoryVersionStore(),
      handlers: [
        defineHandler(OrderPlaced, (m) => {
          applied.push(m.payload.version ?? 0);
        }),
      ],
    });
    await h.app.start();
    for (const version of [1, 3])
      await (await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1, version })).settled;
    const stale = nextEvent(h.app, 'consumer:message:stale');
    const old = await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1, version: 2 });
    expect(await old.settled).toEqual({ kind: 'ack' });
    expect(await stale).toMatchObject({ version: '2', key: 'o' });
    // Another entity is tracked on its own.
    await (await deliver(h.transport, OrderPlaced, { orderId: 'p', total: 1, version: 1 })).settled;
    expect(applied).toEqual([1, 3, 1]);
  });

  it('does not record the version of an event whose handler failed, so its retry is not stale', async () => {
    const h = harness();
    let runs = 0;
    h.app.consume(orders, {
      group: 'g',
      versionStore: new MemoryVersionStore(),
      retry: { maxAttempts: 2, initialDelayMs: 5, jitter: 'none' },
      retryBudget: false,
      handlers: [
        defineHandler(OrderPlaced, () => {
          if (++runs === 1) throw new Error('db blip');
        }),
      ],
    });
    await h.app.start();
    const d = await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1, version: 4 });
    await h.clock.whenSleeping((ms) => ms === 5);
    await h.clock.advance(5);
    expect(await d.settled).toEqual({ kind: 'ack' });
    expect(runs).toBe(2);
  });
});

describe('at-most-once', () => {
  it('settles before the handler runs and drops a failure instead of retrying', async () => {
    const h = harness();
    const order: string[] = [];
    h.transport.onSettle = async (s) => {
      order.push(`settle ${s.kind}`);
    };
    h.app.consume(orders, {
      group: 'telemetry',
      semantics: 'at-most-once',
      handlers: [
        defineHandler(OrderPlaced, (m) => {
          order.push(`handle ${m.payload.orderId}`);
          if (m.payload.orderId === 'bad') throw new Error('boom');
        }),
      ],
    });
    await h.app.start();
    const acked = nextEvent(h.app, 'consumer:message:acked');
    await (await deliver(h.transport, OrderPlaced, { orderId: 'ok', total: 1 })).settled;
    await acked;
    const error = nextEvent(h.app, 'app:error');
    const bad = await deliver(h.transport, OrderPlaced, { orderId: 'bad', total: 1 });
    expect((await error).context).toMatch(/at-most-once: handler failed .* the message is dropped/);
    expect(bad.settlements).toEqual([{ kind: 'ack' }]);
    expect(order).toEqual(['settle ack', 'handle ok', 'settle ack', 'handle bad']);
    expect(h.clock.sleeps).toEqual([]);
  });

  it('still dead-letters a message that fails validation, before acking it', async () => {
    const h = harness();
    h.app.consume(orders, {
      group: 'telemetry',
      semantics: 'at-most-once',
      handlers: [defineHandler(OrderPlaced, () => {})],
    });
    await h.app.start();
    const d = h.transport
      .subscription()
      .deliver({ body: new TextEncoder().encode('{"orderId":1}'), headers: { 'sy-type': 'OrderPlaced' } });
    expect(await d.settled).toMatchObject({ kind: 'dead-letter', record: { reason: 'validation' } });
    expect(d.settlements).toHaveLength(1);
  });
});
