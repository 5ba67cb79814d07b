// Builds a KafkaTransport on the fake driver and one subscription joined to a given assignment.

import type { Delivery, DeliverySink, SubscriptionSpec, TransportObserver } from '@switchyard/core';
import { KafkaTransport, type KafkaTransportOptions } from '../../src/index.js';
import { type FakeConsumer, FakeDriver } from './fake-driver.js';

export function subscriptionSpec(overrides: Partial<SubscriptionSpec> = {}): SubscriptionSpec {
  const observer: TransportObserver = { lag: () => {}, depth: () => {} };
  return {
    destination: 'orders',
    consumerGroup: 'group-a',
    semantics: 'at-least-once',
    startFrom: 'earliest',
    maxInFlight: 100,
    maxInFlightBytes: 10_000_000,
    observer,
    ...overrides,
  };
}

export interface Harness {
  readonly driver: FakeDriver;
  readonly transport: KafkaTransport;
  readonly consumer: FakeConsumer;
  readonly deliveries: Delivery[];
  readonly subscription: Awaited<ReturnType<KafkaTransport['subscribe']>>;
}

export async function harness(
  options: Partial<KafkaTransportOptions> = {},
  spec: Partial<SubscriptionSpec> = {},
  assignment: Record<string, number[]> = { orders: [0] },
  sink?: DeliverySink,
  beforeJoin?: (driver: FakeDriver) => void,
): Promise<Harness> {
  const driver = new FakeDriver();
  beforeJoin?.(driver);
  for (const topic of Object.keys(assignment)) if (!topic.includes('.retry.')) driver.adminClient.topics.set(topic, 1);
  const transport = new KafkaTransport({
    driver,
    ...options,
    consumer: { commitIntervalMs: 60_000, ...options.consumer },
  });
  const deliveries: Delivery[] = [];
  const subscribing = transport.subscribe(
    subscriptionSpec(spec),
    sink ??
      (async (d) => {
        deliveries.push(d);
      }),
  );
  // The fake coordinator assigns partitions once the client runs.
  const consumer = await eventually(() => (driver.consumers[0]?.handler ? driver.consumers[0] : undefined));
  consumer.join(assignment);
  const subscription = await subscribing;
  return { driver, transport, consumer, deliveries, subscription };
}

/** Polls `probe` until it returns a value (each turn lets timers and promises run), up to 5 s. */
export async function eventually<T>(probe: () => T | undefined | false, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
