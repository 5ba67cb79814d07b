// Type-level tests: `tsc --noEmit` fails if any `@ts-expect-error` line below stops being an error.
// The same mistakes made through `any` are caught at run time (the tests at the bottom).
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineCommand, defineEvent, defineQueue, defineTopic } from '../../src/contracts.js';
import { hasCode } from '../../src/errors.js';
import { defineHandler } from '../../src/handlers.js';
import { type App, createApp } from '../../src/runtime/app.js';
import { FakeTransport } from './fake-transport.js';

const OrderPlaced = defineEvent({
  name: 'OrderPlaced',
  schema: z.object({ orderId: z.string(), total: z.number() }),
  key: (p) => p.orderId,
});
const OrderShipped = defineEvent({
  name: 'OrderShipped',
  schema: z.object({ orderId: z.string() }),
  key: (p) => p.orderId,
});
const UserSignedUp = defineEvent({
  name: 'UserSignedUp',
  schema: z.object({ userId: z.string() }),
  key: (p) => p.userId,
});
const ChargeCard = defineCommand({
  name: 'ChargeCard',
  schema: z.object({ orderId: z.string(), cents: z.number() }),
  key: (p) => p.orderId,
});

const orders = defineTopic({ name: 'orders', events: [OrderPlaced, OrderShipped] });
const payments = defineQueue({ name: 'payments', commands: [ChargeCard] });

// Never called: only compiled.
export async function typeChecks(app: App): Promise<void> {
  await app.publish(orders, OrderPlaced, { orderId: 'o', total: 1 });
  await app.publish(orders, OrderShipped, { orderId: 'o' });
  await app.send(payments, ChargeCard, { orderId: 'o', cents: 100 });

  // @ts-expect-error an event cannot be sent to a queue
  await app.send(payments, OrderPlaced, { orderId: 'o', total: 1 });
  // @ts-expect-error a queue is not a topic
  await app.publish(payments, ChargeCard, { orderId: 'o', cents: 1 });
  // @ts-expect-error a command cannot be published to a topic
  await app.publish(orders, ChargeCard, { orderId: 'o', cents: 1 });
  // @ts-expect-error the contract is not listed on the topic
  await app.publish(orders, UserSignedUp, { userId: 'u' });
  // @ts-expect-error the payload must match the contract
  await app.publish(orders, OrderPlaced, { orderId: 'o', total: 'one' });
  // @ts-expect-error a required field is missing
  await app.send(payments, ChargeCard, { orderId: 'o' });

  app.consume(orders, {
    group: 'g',
    handlers: [
      defineHandler(OrderPlaced, async (m) => {
        const total: number = m.payload.total;
        void total;
      }),
    ],
  });
  app.consume(orders, {
    group: 'g2',
    // @ts-expect-error the handler's contract is not carried by the topic
    handlers: [defineHandler(UserSignedUp, async () => {})],
  });
}

describe('publish and send refuse the wrong channel at run time too', () => {
  const app = createApp({ transport: new FakeTransport() });
  const loose = app as any;

  it.each([
    [
      'an event sent to a queue',
      () => loose.send(payments, OrderPlaced, { orderId: 'o', total: 1 }),
      /goes to a queue, but 'payments'|event 'OrderPlaced' cannot go on queue/,
    ],
    [
      'a command published to a topic',
      () => loose.publish(orders, ChargeCard, { orderId: 'o', cents: 1 }),
      /command 'ChargeCard' cannot go on topic 'orders'/,
    ],
    [
      'a queue passed to publish',
      () => loose.publish(payments, ChargeCard, { orderId: 'o', cents: 1 }),
      /app.publish\(\) goes to a topic, but 'payments' is a queue: use app.send\(\)/,
    ],
    [
      'a contract the topic does not list',
      () => loose.publish(orders, UserSignedUp, { userId: 'u' }),
      /event 'UserSignedUp' is not listed on topic 'orders'/,
    ],
  ])('refuses %s', async (_name, call, message) => {
    const error = await Promise.resolve()
      .then(call)
      .catch((e: unknown) => e);
    expect(hasCode(error, 'SWITCHYARD_CHANNEL_MISMATCH')).toBe(true);
    expect(String(error)).toMatch(message);
  });

  it('refuses an invalid payload before anything is sent', async () => {
    const transport = new FakeTransport();
    const strict = createApp({ transport }) as any;
    const error = await strict.publish(orders, OrderPlaced, { orderId: 'o', total: 'x' }).catch((e: unknown) => e);
    expect(hasCode(error, 'SWITCHYARD_VALIDATION')).toBe(true);
    expect(transport.published).toEqual([]);
  });
});
