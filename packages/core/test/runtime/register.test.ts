import { describe, expect, it } from 'vitest';
import { Consumer, Handle } from '../../src/decorators.js';
import type { Envelope } from '../../src/envelope.js';
import { deliver, harness, nextEvent, OrderPlaced, orders } from './harness.js';

// Decorators applied by hand with the legacy calling convention (what `experimentalDecorators`
// emits), so this file needs no decorator transform.
class ShippingConsumer {
  readonly shipped: string[] = [];
  onPlaced(message: Envelope<{ orderId: string }>): void {
    this.shipped.push(message.payload.orderId);
  }
}
const descriptor = Object.getOwnPropertyDescriptor(ShippingConsumer.prototype, 'onPlaced')!;
Handle(OrderPlaced)(ShippingConsumer.prototype, 'onPlaced', descriptor as never);
Consumer(orders, { group: 'shipping', maxInFlight: 4 })(ShippingConsumer);

describe('app.register', () => {
  it('consumes through a decorated instance with its options, calling methods on the instance', async () => {
    const h = harness();
    const instance = new ShippingConsumer();
    h.app.register(instance);
    await h.app.start();
    expect(h.transport.subscription().spec).toMatchObject({
      destination: 'orders',
      consumerGroup: 'shipping',
      maxInFlight: 4,
    });
    const acked = nextEvent(h.app, 'consumer:message:acked');
    await deliver(h.transport, OrderPlaced, { orderId: 'o-5', total: 1 });
    await acked;
    expect(instance.shipped).toEqual(['o-5']);
    await h.app.stop();
  });

  it('adds nothing when one of the instances is not a consumer', () => {
    const h = harness();
    expect(() => h.app.register(new ShippingConsumer(), {})).toThrow(/has no @Consumer and no @Handle methods/);
    expect(h.app.health().consumers).toEqual([]);
  });

  it('validates decorator options like consume() does', () => {
    class Typo {
      onPlaced(): void {}
    }
    const d = Object.getOwnPropertyDescriptor(Typo.prototype, 'onPlaced')!;
    Handle(OrderPlaced)(Typo.prototype, 'onPlaced', d as never);
    Consumer(orders, { group: 'g', maxInflight: 2 } as never)(Typo);
    expect(() => harness().app.register(new Typo())).toThrow(/Invalid option 'maxInflight': is not a consumer option/);
  });
});
