import { describe, expect, it } from 'vitest';
import { hasCode } from '../../src/errors.js';
import { defineHandler } from '../../src/handlers.js';
import { currentMessage } from '../../src/runtime/message-scope.js';
import { ChargeCard, deliver, harness, nextEvent, OrderPlaced, orders, payments, text } from './harness.js';

describe('publish and send', () => {
  it('publishes an encoded event with the Switchyard headers and reports it', async () => {
    const h = harness();
    const sent = nextEvent(h.app, 'publisher:message:sent');
    const receipt = await h.app.publish(
      orders,
      OrderPlaced,
      { orderId: 'o-1', total: 3 },
      { id: 'm-1', headers: { 'X-Source': 'web' } },
    );
    expect(receipt).toEqual({ id: 'm-1', destination: 'orders' });
    expect(await sent).toEqual({ destination: 'orders', messageId: 'm-1', type: 'OrderPlaced' });
    const [{ destination, message }] = h.transport.published as [(typeof h.transport.published)[number]];
    expect(destination).toBe('orders');
    expect(message.key).toBe('o-1');
    expect(text(message.body)).toBe('{"orderId":"o-1","total":3}');
    expect(message.headers).toMatchObject({ 'sy-id': 'm-1', 'sy-type': 'OrderPlaced', 'x-source': 'web' });
    expect(message.headers['sy-causation-id']).toBeUndefined();
    // The transport is started on first use, once.
    expect(h.transport.started).toBe(1);
  });

  // Unchecked: a misspelt option was ignored, a number as a header value failed as a
  // SWITCHYARD_PUBLISH whose cause was a TypeError, and null options threw a TypeError.
  it('refuses wrong options before anything is encoded or sent, naming them', async () => {
    const h = harness();
    const rows: Array<[() => Promise<unknown>, string]> = [
      [() => h.app.publish(orders, OrderPlaced, { orderId: 'o', total: 1 }, null as never), 'publish.options'],
      [() => h.app.publish(orders, OrderPlaced, { orderId: 'o', total: 1 }, 'k' as never), 'publish.options'],
      [
        () => h.app.publish(orders, OrderPlaced, { orderId: 'o', total: 1 }, { correlationid: 'c' } as never),
        'publish.correlationid',
      ],
      [
        () => h.app.publish(orders, OrderPlaced, { orderId: 'o', total: 1 }, { headers: { a: 5 } } as never),
        'publish.headers.a',
      ],
      [
        () => h.app.publish(orders, OrderPlaced, { orderId: 'o', total: 1 }, { headers: 'a=1' } as never),
        'publish.headers',
      ],
      [() => h.app.publish(orders, OrderPlaced, { orderId: 'o', total: 1 }, { id: '' }), 'publish.id'],
      [() => h.app.publish(orders, OrderPlaced, { orderId: 'o', total: 1 }, { signal: {} as never }), 'publish.signal'],
      [() => h.app.send(payments, ChargeCard, { orderId: 'o', cents: 5 }, { delayMs: -1 }), 'send.delayMs'],
      [
        () => h.app.send(payments, ChargeCard, { orderId: 'o', cents: 5 }, { causationId: 5 } as never),
        'send.causationId',
      ],
      [
        () => h.app.publishBatch(orders, OrderPlaced, [{ orderId: 'o', total: 1 }], { id: 'm' } as never),
        'publishBatch.id',
      ],
      [
        () => h.app.sendBatch(payments, ChargeCard, [{ orderId: 'o', cents: 5 }], { delayMs: Number.NaN }),
        'sendBatch.delayMs',
      ],
    ];
    for (const [run, option] of rows) await expect(run()).rejects.toMatchObject({ name: 'InvalidOptionError', option });
    expect(h.transport.published).toEqual([]);
    // Keys set to undefined are left out, as the types allow.
    await h.app.publish(orders, OrderPlaced, { orderId: 'o', total: 1 }, {
      id: undefined,
      headers: undefined,
    } as never);
    expect(h.transport.published).toHaveLength(1);
  });

  it('passes delay and deduplication id to the transport for queues', async () => {
    const h = harness();
    await h.app.send(payments, ChargeCard, { orderId: 'o', cents: 5 }, { delayMs: 1_000, deduplicationId: 'dedup-1' });
    expect(h.transport.published[0]?.message).toMatchObject({ delayMs: 1_000, deduplicationId: 'dedup-1' });
  });

  it('sets causation and correlation ids from the message being handled', async () => {
    const h = harness();
    const seenInHandler: Array<string | undefined> = [];
    h.app.consume(orders, {
      group: 'billing',
      handlers: [
        defineHandler(OrderPlaced, async (m) => {
          seenInHandler.push(currentMessage()?.id);
          await h.app.send(payments, ChargeCard, { orderId: m.payload.orderId, cents: m.payload.total * 100 });
        }),
      ],
    });
    await h.app.start();
    const acked = nextEvent(h.app, 'consumer:message:acked');
    await deliver(h.transport, OrderPlaced, { orderId: 'o-7', total: 2 }, { id: 'placed-1' });
    await acked;
    const [{ destination, message }] = h.transport.published as [(typeof h.transport.published)[number]];
    expect(destination).toBe('payments');
    expect(message.headers).toMatchObject({
      'sy-causation-id': 'placed-1',
      'sy-correlation-id': 'placed-1',
      'sy-type': 'ChargeCard',
    });
    expect(seenInHandler).toEqual(['placed-1']);
    expect(currentMessage()).toBeUndefined();
    await h.app.stop();
  });

  it('keeps an existing correlation id along a chain and lets the caller override both', async () => {
    const h = harness();
    h.app.consume(orders, {
      group: 'billing',
      handlers: [
        defineHandler(OrderPlaced, async (m) => {
          await h.app.send(payments, ChargeCard, { orderId: 'a', cents: 1 });
          await h.app.send(
            payments,
            ChargeCard,
            { orderId: 'b', cents: 1 },
            { causationId: 'manual', correlationId: 'other' },
          );
          void m;
        }),
      ],
    });
    await h.app.start();
    const acked = nextEvent(h.app, 'consumer:message:acked');
    await deliver(
      h.transport,
      OrderPlaced,
      { orderId: 'o', total: 1 },
      { id: 'p-2', headers: { 'sy-correlation-id': 'checkout-9' } },
    );
    await acked;
    expect(
      h.transport.published.map((p) => [p.message.headers['sy-causation-id'], p.message.headers['sy-correlation-id']]),
    ).toEqual([
      ['p-2', 'checkout-9'],
      ['manual', 'other'],
    ]);
    await h.app.stop();
  });

  it('wraps a transport failure in SWITCHYARD_PUBLISH with the cause', async () => {
    const h = harness();
    const cause = new Error('broker unreachable');
    h.transport.onPublish = async () => {
      throw cause;
    };
    const error = await h.app.publish(orders, OrderPlaced, { orderId: 'o', total: 1 }).catch((e: unknown) => e);
    expect(hasCode(error, 'SWITCHYARD_PUBLISH')).toBe(true);
    expect((error as Error).cause).toBe(cause);
    expect((error as { retryable: boolean }).retryable).toBe(true);
  });

  it('refuses to publish once the app is stopped', async () => {
    const h = harness();
    await h.app.stop();
    const error = await h.app.publish(orders, OrderPlaced, { orderId: 'o', total: 1 }).catch((e: unknown) => e);
    expect(hasCode(error, 'SWITCHYARD_SHUTDOWN')).toBe(true);
  });
});
