// A minimal stand-in for core on the consuming side: acks every delivery and keeps it.

import type { Delivery, Transport, TransportSubscription } from '@switchyard/core';

export interface Collected {
  readonly deliveries: Delivery[];
  readonly subscription: TransportSubscription;
  types(): string[];
  close(): Promise<void>;
}

export async function collect(transport: Transport, queue: string): Promise<Collected> {
  const deliveries: Delivery[] = [];
  const subscription = await transport.subscribe(
    {
      destination: queue,
      consumerGroup: queue,
      semantics: 'at-least-once',
      startFrom: 'earliest',
      maxInFlight: 10,
      maxInFlightBytes: 1 << 20,
      observer: { lag: () => {}, depth: () => {} },
      options: { waitTimeSeconds: 1 },
    },
    async (delivery) => {
      deliveries.push(delivery);
      queueMicrotask(() => void Promise.resolve(delivery.settle({ kind: 'ack' })).catch(() => {}));
    },
  );
  return {
    deliveries,
    subscription,
    types: () => deliveries.map((d) => d.message.headers['sy-type'] ?? '?'),
    close: async () => {
      await subscription.stopFetching();
      await subscription.close();
    },
  };
}
