// Plays core against the transport port: records deliveries, settles them as the test says (or
// holds them for the test to settle), and releases the unsettled ones on close, as core does.

import { randomUUID } from 'node:crypto';
import type {
  Delivery,
  OutgoingMessage,
  Settlement,
  SubscriptionSpec,
  Transport,
  TransportObserver,
  TransportSubscription,
} from '@switchyard/core';

export interface Received {
  readonly index: number;
  readonly delivery: Delivery;
  readonly id: string;
  readonly body: string;
  readonly receivedAt: number;
  settlement: Settlement | undefined;
  state: 'held' | 'settling' | 'settled' | 'failed';
  error: unknown;
}

export type Reaction = (
  received: Received,
  consumer: TestConsumer,
) => Settlement | 'hold' | Promise<Settlement | 'hold'>;

export const ackAll: Reaction = () => ({ kind: 'ack' });
export const holdAll: Reaction = () => 'hold';

const decoder = new TextDecoder();

export function idOf(delivery: Delivery): string {
  const header = delivery.message.headers['sy-id'];
  if (header) return header;
  try {
    const parsed = JSON.parse(decoder.decode(delivery.message.body ?? new Uint8Array())) as { id?: unknown };
    if (typeof parsed.id === 'string') return parsed.id;
  } catch {}
  return delivery.message.source.kind === 'queue' ? delivery.message.source.messageId : 'unknown';
}

export const quietObserver: TransportObserver = { lag: () => {}, depth: () => {} };

export class TestConsumer {
  readonly received: Received[] = [];
  subscription!: TransportSubscription;
  readonly #react: Reaction;

  private constructor(react: Reaction) {
    this.#react = react;
  }

  static async open(
    transport: Transport,
    destination: string,
    react: Reaction,
    spec: Partial<SubscriptionSpec> = {},
  ): Promise<TestConsumer> {
    const consumer = new TestConsumer(react);
    consumer.subscription = await transport.subscribe(
      {
        destination,
        consumerGroup: 'test',
        semantics: 'at-least-once',
        startFrom: 'earliest',
        maxInFlight: 10,
        maxInFlightBytes: 1 << 24,
        observer: quietObserver,
        options: { waitTimeSeconds: 1 },
        ...spec,
      },
      consumer.sink,
    );
    return consumer;
  }

  readonly sink = async (delivery: Delivery): Promise<void> => {
    const received: Received = {
      index: this.received.length,
      delivery,
      id: idOf(delivery),
      body: decoder.decode(delivery.message.body ?? new Uint8Array()),
      receivedAt: Date.now(),
      settlement: undefined,
      state: 'held',
      error: undefined,
    };
    this.received.push(received);
    // Like core: the sink returns once the delivery is accepted; the work runs after.
    queueMicrotask(async () => {
      try {
        const reaction = await this.#react(received, this);
        if (reaction !== 'hold') await this.settle(received, reaction);
      } catch (error) {
        received.error = error;
      }
    });
  };

  async settle(received: Received, settlement: Settlement): Promise<void> {
    received.state = 'settling';
    received.settlement = settlement;
    try {
      await received.delivery.settle(settlement);
      received.state = 'settled';
    } catch (error) {
      received.state = 'failed';
      received.error = error;
      throw error;
    }
  }

  held(): Received[] {
    return this.received.filter((r) => r.state === 'held');
  }

  /** Ids with a finished settlement of `kind`. */
  settledIds(kind: Settlement['kind'] = 'ack'): Set<string> {
    return new Set(this.received.filter((r) => r.state === 'settled' && r.settlement?.kind === kind).map((r) => r.id));
  }

  deliveriesOf(id: string): Received[] {
    return this.received.filter((r) => r.id === id);
  }

  failures(): Received[] {
    return this.received.filter((r) => r.state === 'failed');
  }

  summary(): string {
    return this.received
      .map((r) => `  #${r.index} ${r.id} attempt ${r.delivery.attempt} ${r.state} ${r.settlement?.kind ?? ''}`)
      .join('\n');
  }

  /** Core's shutdown: stop fetching, release what never started, close. */
  async close(): Promise<void> {
    await this.subscription.stopFetching();
    await Promise.allSettled(this.held().map((r) => this.settle(r, { kind: 'release' })));
    await this.subscription.close();
  }
}

const encoder = new TextEncoder();

/** Messages with an id in `sy-id` and in a small JSON body. */
export function outgoing(
  count: number,
  make: (i: number) => {
    key?: string;
    headers?: Record<string, string>;
    body?: Uint8Array;
    delayMs?: number;
  } = () => ({}),
): OutgoingMessage[] {
  return Array.from({ length: count }, (_, i) => {
    const id = randomUUID();
    const extra = make(i);
    return {
      id,
      key: extra.key,
      body: extra.body ?? encoder.encode(JSON.stringify({ id, seq: i })),
      headers: { 'sy-id': id, 'sy-type': 'test.Message', ...extra.headers },
      timestamp: Date.now(),
      ...(extra.delayMs === undefined ? {} : { delayMs: extra.delayMs }),
    };
  });
}
