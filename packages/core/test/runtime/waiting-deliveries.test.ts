import { expect, it } from 'vitest';
import { defineHandler } from '../../src/handlers.js';
import { harness, OrderPlaced, orders } from './harness.js';

it('lets many deliveries wait for room without a MaxListenersExceededWarning', async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
  process.on('warning', onWarning);
  try {
    const h = harness();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handled: string[] = [];
    h.app.consume(orders, {
      group: 'g',
      maxInFlight: 1,
      handlers: [
        defineHandler(OrderPlaced, async (m) => {
          await gate;
          handled.push(m.payload.orderId);
        }),
      ],
    });
    await h.app.start();
    const subscription = h.transport.subscription();
    const encoder = new TextEncoder();
    const deliveries = Array.from({ length: 30 }, (_, i) =>
      subscription.deliver(
        {
          body: encoder.encode(JSON.stringify({ orderId: `o-${i}`, total: 1 })),
          headers: { 'sy-type': 'OrderPlaced', 'sy-id': `m-${i}` },
          key: `o-${i}`,
        },
        { orderingKey: `o-${i}` },
      ),
    );
    // 29 wait for room, each listening on the consumer's stop signal. A warning is emitted on the
    // next tick, so a turn of the event loop is enough for it to show.
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await Promise.all(deliveries.map((d) => d.settled));
    expect(handled).toHaveLength(30);
    await h.app.stop();
    expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
  } finally {
    process.off('warning', onWarning);
  }
});
