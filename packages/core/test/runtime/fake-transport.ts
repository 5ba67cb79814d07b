// A test-only transport: the test hands deliveries to core's sink one by one and reads back every
// settlement, and can make settlements fail. It drives the pipeline without any broker semantics.

import type { OutgoingMessage, RawMessage, SourcePosition } from '../../src/envelope.js';
import type {
  Delivery,
  DeliverySink,
  Settlement,
  SubscriptionSpec,
  Transport,
  TransportCapabilities,
} from '../../src/ports/transport.js';

export const logCapabilities: TransportCapabilities = {
  model: 'log',
  ordering: 'partition',
  consumerGroups: true,
  replay: true,
  delayedRetry: false,
  maxRetryDelayMs: 60_000,
  nativeRedrive: false,
  exactlyOnce: false,
  leaseMs: undefined,
};

export const queueCapabilities: TransportCapabilities = {
  model: 'queue',
  ordering: 'none',
  consumerGroups: false,
  replay: false,
  delayedRetry: true,
  maxRetryDelayMs: 43_200_000,
  nativeRedrive: false,
  exactlyOnce: false,
  leaseMs: 30_000,
};

export interface FakeDelivery {
  readonly delivery: Delivery;
  /** Every settle call, failed ones included. */
  readonly settlements: Settlement[];
  /** Resolves with the first settlement that succeeded. */
  readonly settled: Promise<Settlement>;
  /** Resolves when the sink accepted the delivery. */
  readonly accepted: Promise<void>;
  /** The transport lost the message (lease lapsed, partition revoked). */
  lose(reason?: unknown): void;
}

export interface DeliverOptions {
  readonly attempt?: number;
  /** Queue sources: when the queue first handed the message out. */
  readonly firstReceivedAt?: number;
  readonly orderingKey?: string;
  /** The delivery's own dead-letter destination (a transport default that depends on the message). */
  readonly deadLetterDestination?: string;
}

export class FakeSubscription {
  readonly spec: SubscriptionSpec;
  readonly sink: DeliverySink;
  stoppedFetching = false;
  closed = false;
  #offset = 0;
  readonly #transport: FakeTransport;

  constructor(transport: FakeTransport, spec: SubscriptionSpec, sink: DeliverySink) {
    this.#transport = transport;
    this.spec = spec;
    this.sink = sink;
  }

  /** Hands a raw message to core as the transport would. */
  deliver(message: Partial<RawMessage> & { body: Uint8Array | null }, options: DeliverOptions = {}): FakeDelivery {
    const offset = this.#offset++;
    const source: SourcePosition =
      message.source ??
      (this.#transport.capabilities.model === 'log'
        ? {
            kind: 'log',
            topic: this.spec.destination,
            partition: 0,
            offset: String(offset),
            consumerGroup: this.spec.consumerGroup,
          }
        : {
            kind: 'queue',
            queue: this.spec.destination,
            messageId: `m-${offset}`,
            receiveCount: options.attempt ?? 1,
            ...(options.firstReceivedAt === undefined ? {} : { firstReceivedAt: options.firstReceivedAt }),
          });
    const raw: RawMessage = {
      body: message.body,
      key: message.key,
      headers: message.headers ?? {},
      timestamp: message.timestamp ?? 1_700_000_000_000,
      source,
    };
    const controller = new AbortController();
    const settlements: Settlement[] = [];
    let resolveSettled!: (s: Settlement) => void;
    const settled = new Promise<Settlement>((resolve) => {
      resolveSettled = resolve;
    });
    const transport = this.#transport;
    const delivery: Delivery = {
      message: raw,
      attempt: options.attempt ?? 1,
      orderingKey: options.orderingKey ?? raw.key ?? `${offset}`,
      sizeBytes: raw.body?.byteLength ?? 0,
      signal: controller.signal,
      ...(options.deadLetterDestination === undefined ? {} : { deadLetterDestination: options.deadLetterDestination }),
      async settle(settlement) {
        settlements.push(settlement);
        transport.settleLog.push({ settlement, delivery });
        await transport.onSettle(settlement, delivery);
        resolveSettled(settlement);
      },
    };
    const accepted = this.sink(delivery) ?? Promise.resolve();
    return {
      delivery,
      settlements,
      settled,
      accepted,
      lose: (reason) => controller.abort(reason ?? new Error('lost')),
    };
  }

  async stopFetching(): Promise<void> {
    this.stoppedFetching = true;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  pause(): void {}
  resume(): void {}
  health() {
    return { ok: !this.closed };
  }
}

export class FakeTransport implements Transport {
  readonly system: string;
  readonly capabilities: TransportCapabilities;
  readonly subscriptions: FakeSubscription[] = [];
  readonly published: Array<{ destination: string; message: OutgoingMessage }> = [];
  readonly settleLog: Array<{ settlement: Settlement; delivery: Delivery }> = [];
  started = 0;
  closed = 0;
  /** Replace to make settlements slow or failing. */
  onSettle: (settlement: Settlement, delivery: Delivery) => Promise<void> = async () => {};
  /** Replace to make publishing fail. */
  onPublish: (destination: string, messages: readonly OutgoingMessage[]) => Promise<void> = async () => {};

  constructor(capabilities: Partial<TransportCapabilities> = {}, system = 'kafka') {
    this.capabilities = { ...logCapabilities, ...capabilities };
    this.system = system;
  }

  async start(): Promise<void> {
    this.started++;
  }

  async subscribe(spec: SubscriptionSpec, sink: DeliverySink): Promise<FakeSubscription> {
    const sub = new FakeSubscription(this, spec, sink);
    this.subscriptions.push(sub);
    return sub;
  }

  async publish(destination: string, messages: readonly OutgoingMessage[]): Promise<void> {
    await this.onPublish(destination, messages);
    for (const message of messages) this.published.push({ destination, message });
  }

  async close(): Promise<void> {
    this.closed++;
  }

  health() {
    return { ok: this.closed === 0 };
  }

  /** The subscription for `destination` (the only one when omitted). */
  subscription(destination?: string): FakeSubscription {
    const sub = destination
      ? this.subscriptions.find((s) => s.spec.destination === destination)
      : this.subscriptions[0];
    if (!sub) throw new Error(`no subscription${destination ? ` for ${destination}` : ''}`);
    return sub;
  }
}
