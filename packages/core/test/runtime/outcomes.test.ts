import { describe, expect, it } from 'vitest';
import type { DeadLetterRecord } from '../../src/dead-letter.js';
import { NonRetryableError, RetryableError } from '../../src/errors.js';
import { defineHandler, type HandlerResult } from '../../src/handlers.js';
import { ack, deadLetter, retry } from '../../src/outcome.js';
import type { Settlement } from '../../src/ports/transport.js';
import { queueCapabilities } from './fake-transport.js';
import {
  bytes,
  ChargeCard,
  deliver,
  harness,
  nextEvent,
  OrderPlaced,
  OrderShipped,
  orders,
  payments,
  text,
} from './harness.js';

const noRetryDelay = { maxAttempts: 5, initialDelayMs: 1_000, maxDelayMs: 60_000, jitter: 'none' } as const;

/** Runs one ChargeCard through a queue consumer whose handler does `behave`, returns the settlement. */
async function outcomeOf(behave: () => HandlerResult | Promise<HandlerResult>): Promise<Settlement> {
  const h = harness(queueCapabilities);
  h.app.consume(payments, {
    group: 'billing',
    retry: noRetryDelay,
    retryBudget: false,
    handlers: [defineHandler(ChargeCard, async () => behave())],
  });
  await h.app.start();
  const d = await deliver(h.transport, ChargeCard, { orderId: 'o-1', cents: 100 }, { attempt: 2 });
  return d.settled;
}

describe('outcome mapping', () => {
  it.each<[string, () => HandlerResult | Promise<HandlerResult>, Partial<Settlement> & { reason?: string }]>([
    ['returning nothing', () => undefined, { kind: 'ack' }],
    ['returning ack()', () => ack(), { kind: 'ack' }],
    ['returning retry()', () => retry(), { kind: 'retry', delayMs: 2_000 }],
    ['returning retry({ delayMs })', () => retry({ delayMs: 7 }), { kind: 'retry', delayMs: 7 }],
    [
      'throwing a plain Error (retryable until proven otherwise)',
      () => {
        throw new Error('socket hang up');
      },
      { kind: 'retry', delayMs: 2_000 },
    ],
    [
      'throwing RetryableError with a delay',
      () => {
        throw new RetryableError('busy', { delayMs: 30 });
      },
      { kind: 'retry', delayMs: 30 },
    ],
    [
      'throwing NonRetryableError',
      () => {
        throw new NonRetryableError('card declined');
      },
      { kind: 'dead-letter', reason: 'non-retryable' },
    ],
    [
      'throwing an error whose cause is marked non-retryable',
      () => {
        throw new Error('wrapped', { cause: Object.assign(new Error('4xx'), { retryable: false }) });
      },
      { kind: 'dead-letter', reason: 'non-retryable' },
    ],
    [
      'returning deadLetter(reason)',
      () => deadLetter('refund by hand'),
      { kind: 'dead-letter', reason: 'handler-requested' },
    ],
  ])('%s', async (_name, behave, expected) => {
    const settlement = await outcomeOf(behave);
    expect(settlement.kind).toBe(expected.kind);
    if (settlement.kind === 'retry') {
      expect(settlement.delayMs).toBe((expected as { delayMs: number }).delayMs);
      expect(settlement.attempt).toBe(2);
    }
    if (settlement.kind === 'dead-letter') {
      expect(settlement.record.reason).toBe(expected.reason);
      expect(settlement.destination).toBe('payments.dlq');
    }
  });

  it('caps a delayed retry at the transport’s longest delay', async () => {
    const settlement = await (async () => {
      const h = harness({ ...queueCapabilities, maxRetryDelayMs: 500 });
      h.app.consume(payments, {
        group: 'billing',
        retryBudget: false,
        handlers: [defineHandler(ChargeCard, () => retry({ delayMs: 60_000 }))],
      });
      await h.app.start();
      return (await deliver(h.transport, ChargeCard, { orderId: 'o', cents: 1 })).settled;
    })();
    expect(settlement).toEqual({ kind: 'retry', delayMs: 500, attempt: 1 });
  });

  it('emits acked, retried and dead-lettered events with the message identity', async () => {
    const h = harness(queueCapabilities);
    let calls = 0;
    h.app.consume(payments, {
      group: 'billing',
      retry: { maxAttempts: 2, initialDelayMs: 10, jitter: 'none' },
      retryBudget: false,
      handlers: [
        defineHandler(ChargeCard, (m) => {
          calls++;
          if (m.payload.orderId === 'ok') return;
          throw new Error('down');
        }),
      ],
    });
    await h.app.start();
    const acked = nextEvent(h.app, 'consumer:message:acked');
    await deliver(h.transport, ChargeCard, { orderId: 'ok', cents: 1 }, { id: 'id-ok' });
    expect(await acked).toMatchObject({
      messageId: 'id-ok',
      type: 'ChargeCard',
      key: 'ok',
      consumerGroup: 'billing',
      destination: 'payments',
      attempt: 1,
    });

    const retried = nextEvent(h.app, 'consumer:message:retried');
    await deliver(h.transport, ChargeCard, { orderId: 'bad', cents: 1 }, { id: 'id-bad', attempt: 1 });
    expect(await retried).toMatchObject({ messageId: 'id-bad', delayMs: 10, attempt: 1 });

    const dead = nextEvent(h.app, 'consumer:message:dead-lettered');
    await deliver(h.transport, ChargeCard, { orderId: 'bad', cents: 1 }, { id: 'id-bad', attempt: 2 });
    const event = await dead;
    expect(event).toMatchObject({ messageId: 'id-bad', attempt: 2, deadLetterDestination: 'payments.dlq' });
    expect(event.record).toMatchObject({ reason: 'retries-exhausted', attempts: 2 });
    expect(calls).toBe(3);
  });
});

describe('messages that never reach a handler are dead-lettered with their original bytes', () => {
  async function consumeOrders() {
    const h = harness();
    let handled = 0;
    h.app.consume(orders, {
      group: 'shipping',
      handlers: [
        defineHandler(OrderPlaced, () => {
          handled++;
        }),
        defineHandler(OrderShipped, () => {
          handled++;
        }),
      ],
    });
    await h.app.start();
    return { ...h, handled: () => handled };
  }

  it('dead-letters a payload that fails validation, keeping body and headers byte for byte', async () => {
    const h = await consumeOrders();
    const body = bytes('{"orderId":"o-1","total":"ten"}');
    const headers = { 'sy-type': 'OrderPlaced', 'sy-id': 'id-1', 'x-tenant': 'acme' };
    const d = h.transport.subscription().deliver({ body, headers, key: 'o-1' });
    const settlement = await d.settled;
    expect(settlement.kind).toBe('dead-letter');
    const record = (settlement as { record: DeadLetterRecord }).record;
    expect(record).toMatchObject({
      reason: 'validation',
      messageId: 'id-1',
      messageType: 'OrderPlaced',
      consumerGroup: 'shipping',
      attempts: 1,
      key: 'o-1',
      source: { kind: 'log', topic: 'orders', partition: 0 },
      error: { className: 'SwitchyardError', code: 'SWITCHYARD_VALIDATION' },
    });
    expect(record.error.message).toMatch(/total/);
    expect(record.body).toEqual(body);
    expect(record.headers).toEqual(headers);
    expect(h.handled()).toBe(0);
  });

  it('dead-letters a body that is not JSON, and a tombstone, as decode failures', async () => {
    const h = await consumeOrders();
    const garbage = h.transport
      .subscription()
      .deliver({ body: bytes('<xml/>'), headers: { 'sy-type': 'OrderPlaced' } });
    const tombstone = h.transport.subscription().deliver({ body: null, key: 'o-9' });
    const [g, t] = await Promise.all([garbage.settled, tombstone.settled]);
    expect(g).toMatchObject({
      kind: 'dead-letter',
      record: { reason: 'decode', error: { code: 'SWITCHYARD_DECODE' } },
    });
    expect(text((g as { record: DeadLetterRecord }).record.body)).toBe('<xml/>');
    expect(t).toMatchObject({ kind: 'dead-letter', record: { reason: 'decode', body: null, key: 'o-9' } });
  });

  it('dead-letters a type the topic does not carry as unknown-type', async () => {
    const h = await consumeOrders();
    const d = h.transport.subscription().deliver({ body: bytes('{}'), headers: { 'sy-type': 'InvoiceSent' } });
    expect(await d.settled).toMatchObject({
      kind: 'dead-letter',
      record: { reason: 'unknown-type', messageType: 'InvoiceSent', error: { code: 'SWITCHYARD_UNKNOWN_TYPE' } },
    });
  });

  it('acks, without handling, a type the topic carries for other consumer groups', async () => {
    const h = await consumeOrders();
    const d = h.transport
      .subscription()
      .deliver({ body: bytes('{"orderId":"o"}'), headers: { 'sy-type': 'OrderAudited' } });
    expect(await d.settled).toEqual({ kind: 'ack' });
    expect(h.handled()).toBe(0);
  });

  it('dead-letters to a configured destination', async () => {
    const h = harness();
    h.app.consume(orders, {
      group: 'g',
      deadLetterDestination: 'orders-poison',
      handlers: [defineHandler(OrderPlaced, () => deadLetter('no'))],
    });
    await h.app.start();
    const d = await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1 });
    expect(await d.settled).toMatchObject({ kind: 'dead-letter', destination: 'orders-poison' });
  });

  it('tells the transport where dead letters go, and whether the consumer named it', async () => {
    const h = harness();
    h.app.consume(orders, { group: 'a', handlers: [defineHandler(OrderPlaced, () => {})] });
    h.app.consume(orders, {
      group: 'b',
      deadLetterDestination: 'orders-poison',
      handlers: [defineHandler(OrderPlaced, () => {})],
    });
    await h.app.start();
    expect(h.transport.subscriptions.map((s) => s.spec.maxAttempts)).toEqual([5, 5]);
    expect(h.transport.subscriptions.map((s) => s.spec.deadLetter)).toEqual([
      { destination: 'orders.dlq', named: false },
      { destination: 'orders-poison', named: true },
    ]);
  });

  it("dead-letters to the delivery's own destination unless the consumer named one", async () => {
    for (const named of [undefined, 'orders-poison']) {
      const h = harness();
      h.app.consume(orders, {
        group: 'g',
        ...(named === undefined ? {} : { deadLetterDestination: named }),
        handlers: [defineHandler(OrderPlaced, () => deadLetter('no'))],
      });
      await h.app.start();
      const dead = nextEvent(h.app, 'consumer:message:dead-lettered');
      const d = await deliver(
        h.transport,
        OrderPlaced,
        { orderId: 'o', total: 1 },
        { deadLetterDestination: 'orders-eu.dlq' },
      );
      const expected = named ?? 'orders-eu.dlq';
      expect(await d.settled).toMatchObject({ kind: 'dead-letter', destination: expected });
      expect(await dead).toMatchObject({ deadLetterDestination: expected });
    }
  });
});
