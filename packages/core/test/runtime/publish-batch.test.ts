import { describe, expect, it } from 'vitest';
import { hasCode } from '../../src/errors.js';
import type { OutgoingMessage } from '../../src/index.js';
import { createApp, defineHandler, MemoryBroker, MemoryLogTransport } from '../../src/index.js';
import { ChargeCard, harness, OrderPlaced, orders, payments, text } from './harness.js';

describe('publishBatch and sendBatch', () => {
  it('validates and encodes every payload, then hands all of them to the transport in one call', async () => {
    const h = harness();
    const calls: Array<readonly OutgoingMessage[]> = [];
    h.transport.onPublish = async (_destination, messages) => {
      calls.push(messages);
    };
    const sent: string[] = [];
    h.app.events.on('publisher:message:sent', (e) => sent.push(e.messageId));
    const receipts = await h.app.publishBatch(
      orders,
      OrderPlaced,
      [
        { orderId: 'o-1', total: 1 },
        { orderId: 'o-2', total: 2 },
        { orderId: 'o-3', total: 3 },
      ],
      { ids: ['a', 'b', 'c'], headers: { 'X-Source': 'import' }, correlationId: 'bulk-1' },
    );
    expect(receipts).toEqual([
      { id: 'a', destination: 'orders' },
      { id: 'b', destination: 'orders' },
      { id: 'c', destination: 'orders' },
    ]);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.map((m) => [m.id, m.key, text(m.body)])).toEqual([
      ['a', 'o-1', '{"orderId":"o-1","total":1}'],
      ['b', 'o-2', '{"orderId":"o-2","total":2}'],
      ['c', 'o-3', '{"orderId":"o-3","total":3}'],
    ]);
    for (const m of calls[0]!)
      expect(m.headers).toMatchObject({
        'sy-type': 'OrderPlaced',
        'x-source': 'import',
        'sy-correlation-id': 'bulk-1',
      });
    expect(sent).toEqual(['a', 'b', 'c']);
  });

  it('sends nothing when one payload is invalid, and names its index', async () => {
    const h = harness();
    const error = await h.app
      .sendBatch(payments, ChargeCard, [
        { orderId: 'o-1', cents: 100 },
        { orderId: 'o-2', cents: 1.5 },
      ])
      .catch((e: unknown) => e);
    expect(hasCode(error, 'SWITCHYARD_VALIDATION')).toBe(true);
    expect((error as Error).message).toMatch(/payload 1 of 2/);
    expect((error as { details: { index: number } }).details.index).toBe(1);
    expect(h.transport.published).toEqual([]);
  });

  it('names every message of a failed batch so it can be re-sent under the same ids', async () => {
    const h = harness();
    const cause = new Error('broker unreachable');
    h.transport.onPublish = async () => {
      throw cause;
    };
    const error = await h.app
      .publishBatch(orders, OrderPlaced, [
        { orderId: 'o-1', total: 1 },
        { orderId: 'o-2', total: 2 },
      ])
      .catch((e: unknown) => e);
    expect(hasCode(error, 'SWITCHYARD_PUBLISH')).toBe(true);
    expect((error as Error).cause).toBe(cause);
    const ids = (error as { details: { messageIds: string[] } }).details.messageIds;
    expect(ids).toHaveLength(2);
    h.transport.onPublish = async () => {};
    const receipts = await h.app.publishBatch(
      orders,
      OrderPlaced,
      [
        { orderId: 'o-1', total: 1 },
        { orderId: 'o-2', total: 2 },
      ],
      { ids },
    );
    expect(receipts.map((r) => r.id)).toEqual(ids);
  });

  it('refuses ids that do not match the payloads, a batch on the wrong channel kind, and returns [] for none', async () => {
    const h = harness();
    const mismatch = await h.app
      .publishBatch(orders, OrderPlaced, [{ orderId: 'o', total: 1 }], { ids: ['a', 'b'] })
      .catch((e: unknown) => e);
    expect(hasCode(mismatch, 'SWITCHYARD_INVALID_OPTION')).toBe(true);
    expect((mismatch as Error).message).toMatch(/publishBatch\.ids/);
    const wrongKind = await h.app
      // @ts-expect-error a queue is not a topic
      .publishBatch(payments, ChargeCard, [{ orderId: 'o', cents: 1 }])
      .catch((e: unknown) => e);
    expect(hasCode(wrongKind, 'SWITCHYARD_CHANNEL_MISMATCH')).toBe(true);
    expect((wrongKind as Error).message).toMatch(/use app\.sendBatch\(\)/);
    expect(await h.app.publishBatch(orders, OrderPlaced, [])).toEqual([]);
    expect(h.transport.published).toEqual([]);
  });

  it('delivers a batch through the in-memory log in order', async () => {
    const broker = new MemoryBroker();
    const app = createApp({ transport: new MemoryLogTransport({ broker, autoCreatePartitions: 1 }) });
    const seen: string[] = [];
    let done!: () => void;
    const all = new Promise<void>((resolve) => {
      done = resolve;
    });
    app.consume(orders, {
      group: 'g',
      handlers: [
        defineHandler(OrderPlaced, (m) => {
          seen.push(m.payload.orderId);
          if (seen.length === 50) done();
        }),
      ],
    });
    await app.start();
    await app.publishBatch(
      orders,
      OrderPlaced,
      Array.from({ length: 50 }, (_, i) => ({ orderId: `o-${i}`, total: i })),
    );
    await all;
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => `o-${i}`));
    await app.stop();
  });
});
