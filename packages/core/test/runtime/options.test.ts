import { describe, expect, it } from 'vitest';
import { hasCode, NonRetryableError } from '../../src/errors.js';
import { defineHandler } from '../../src/handlers.js';
import { createApp } from '../../src/runtime/app.js';
import { FakeTransport, queueCapabilities } from './fake-transport.js';
import { ChargeCard, deliver, harness, OrderPlaced, OrderShipped, orders, payments } from './harness.js';

const placed = defineHandler(OrderPlaced, () => {});
const charge = defineHandler(ChargeCard, () => {});

function consumeError(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected consume() to throw');
}

describe('consumer options are checked at consume()', () => {
  it.each<[string, () => unknown, RegExp]>([
    [
      'a missing group',
      () => harness().app.consume(orders, { group: '', handlers: [placed] }),
      /Invalid option 'group': must be a non-empty string/,
    ],
    [
      'no handlers',
      () => harness().app.consume(orders, { group: 'g', handlers: [] }),
      /Invalid option 'handlers': must be a non-empty array/,
    ],
    [
      'a handler for a contract the channel does not carry',
      () => harness().app.consume(orders, { group: 'g', handlers: [charge as never] }),
      /Invalid option 'handlers\[0\]': handles 'ChargeCard', which topic 'orders' does not carry \(it carries 'OrderPlaced', 'OrderShipped', 'OrderAudited'\)/,
    ],
    [
      'two handlers for one type',
      () => harness().app.consume(orders, { group: 'g', handlers: [placed, defineHandler(OrderPlaced, () => {})] }),
      /Invalid option 'handlers\[1\]': is a second handler for 'OrderPlaced'/,
    ],
    [
      'maxInFlight below one',
      () => harness().app.consume(orders, { group: 'g', handlers: [placed], maxInFlight: 0 }),
      /Invalid option 'maxInFlight': must be an integer >= 1, got 0/,
    ],
    [
      'a fractional maxInFlight',
      () => harness().app.consume(orders, { group: 'g', handlers: [placed], maxInFlight: 2.5 }),
      /'maxInFlight'/,
    ],
    [
      'maxInFlightBytes of zero',
      () => harness().app.consume(orders, { group: 'g', handlers: [placed], maxInFlightBytes: 0 }),
      /'maxInFlightBytes'/,
    ],
    [
      'a negative timeout',
      () => harness().app.consume(orders, { group: 'g', handlers: [placed], timeoutMs: -1 }),
      /Invalid option 'timeoutMs': must be a positive number/,
    ],
    [
      'a handler timeout not below the visibility timeout',
      () => harness(queueCapabilities).app.consume(payments, { group: 'g', handlers: [charge], timeoutMs: 60_000 }),
      /Invalid option 'timeoutMs': handler timeout 60000 ms is not below the visibility timeout 30000 ms\. Fix: lower timeoutMs or raise the queue's visibility timeout/,
    ],
    [
      'a per-handler timeout not below the visibility timeout',
      () =>
        harness(queueCapabilities).app.consume(payments, {
          group: 'g',
          handlers: [defineHandler(ChargeCard, () => {}, { timeoutMs: 30_000 })],
        }),
      /Invalid option 'handlers\[0\]\.options\.timeoutMs \(ChargeCard\)': handler timeout 30000 ms is not below the visibility timeout 30000 ms/,
    ],
    [
      'an unknown semantics',
      () => harness().app.consume(orders, { group: 'g', handlers: [placed], semantics: 'twice' as never }),
      /Invalid option 'semantics'/,
    ],
    [
      'a misspelt option',
      () => harness().app.consume(orders, { group: 'g', handlers: [placed], maxInflight: 3 } as never),
      /Invalid option 'maxInflight': is not a consumer option/,
    ],
    [
      'a dead-letter destination equal to the source',
      () => harness().app.consume(orders, { group: 'g', handlers: [placed], deadLetterDestination: 'orders' }),
      /Invalid option 'deadLetterDestination': is the consumed topic itself/,
    ],
    [
      'a versionStore for contracts without versions',
      () =>
        harness().app.consume(orders, {
          group: 'g',
          handlers: [defineHandler(OrderShipped, () => {})],
          versionStore: { get: async () => undefined, set: async () => {} } as never,
        }),
      /Invalid option 'versionStore': is set but none of the handled contracts \(OrderShipped\) has a version function/,
    ],
    [
      'resolveType that is not a function',
      () => harness().app.consume(orders, { group: 'g', handlers: [placed], resolveType: 'type' as never }),
      /'resolveType'/,
    ],
    [
      'the same group consuming a channel twice',
      () => {
        const { app } = harness();
        app.consume(orders, { group: 'g', handlers: [placed] });
        app.consume(orders, { group: 'g', handlers: [defineHandler(OrderShipped, () => {})] });
      },
      /Invalid option 'group': 'g' already consumes topic 'orders' in this app/,
    ],
  ])('refuses %s, naming the option', (_name, run, message) => {
    const error = consumeError(run);
    expect(hasCode(error, 'SWITCHYARD_INVALID_OPTION')).toBe(true);
    expect(error.message).toMatch(message);
  });

  it('refuses exactly-once on a transport without transactions with a capability error', () => {
    const error = consumeError(() =>
      harness().app.consume(orders, { group: 'g', handlers: [placed], semantics: 'exactly-once' }),
    );
    expect(hasCode(error, 'SWITCHYARD_CAPABILITY')).toBe(true);
    expect(error.message).toMatch(/Invalid option 'semantics': 'exactly-once' is not supported by the kafka transport/);
  });

  it('accepts exactly-once where the transport supports it and passes the semantics on', async () => {
    const h = harness({ exactlyOnce: true });
    h.app.consume(orders, {
      group: 'g',
      handlers: [placed],
      semantics: 'exactly-once',
      maxInFlight: 8,
      startFrom: 'latest',
    });
    await h.app.start();
    expect(h.transport.subscription().spec).toMatchObject({
      destination: 'orders',
      consumerGroup: 'g',
      semantics: 'exactly-once',
      maxInFlight: 8,
      maxInFlightBytes: 64 * 1024 * 1024,
      startFrom: 'latest',
    });
    await h.app.stop();
  });

  it('subscribes through a per-consumer transport override and starts and closes it', async () => {
    const h = harness();
    const other = new FakeTransport(queueCapabilities, 'aws_sqs');
    h.app.consume(payments, {
      group: 'g',
      handlers: [charge],
      transport: other,
      transportOptions: { waitTimeSeconds: 1 },
    });
    await h.app.start();
    expect(other.started).toBe(1);
    expect(other.subscription().spec.options).toEqual({ waitTimeSeconds: 1 });
    expect(h.transport.subscriptions).toEqual([]);
    await h.app.stop();
    expect(other.closed).toBe(1);
  });

  it('refuses an app without a transport and a negative shutdown deadline', () => {
    expect(() => createApp({} as never)).toThrow(/Invalid option 'transport'/);
    expect(() => createApp({ transport: new FakeTransport(), shutdown: { deadlineMs: -1 } })).toThrow(
      /Invalid option 'shutdown.deadlineMs'/,
    );
  });
});

describe('the default dead-letter destination', () => {
  const poison = defineHandler(ChargeCard, () => {
    throw new NonRetryableError('card declined for good');
  });

  it('is <destination>.dlq unless the transport names its own', async () => {
    const { app, transport } = harness(queueCapabilities);
    app.consume(payments, { group: 'payments', handlers: [poison] });
    await app.start();
    const d = await deliver(transport, ChargeCard, { orderId: 'o-1', cents: 100 });
    const settlement = await d.settled;
    expect(settlement).toMatchObject({ kind: 'dead-letter', destination: 'payments.dlq' });
    await app.stop();
  });

  it("follows the transport's naming when it has one (SQS names cannot hold '.dlq')", async () => {
    const { app, transport } = harness(queueCapabilities);
    Object.assign(transport, { deadLetterDestinationFor: (name: string) => `${name}-dlq` });
    app.consume(payments, { group: 'payments', handlers: [poison] });
    await app.start();
    const d = await deliver(transport, ChargeCard, { orderId: 'o-2', cents: 100 });
    expect(await d.settled).toMatchObject({ kind: 'dead-letter', destination: 'payments-dlq' });
    await app.stop();
  });
});
