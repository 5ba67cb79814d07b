// The transport conformance suite against the in-memory transports: the log transport (Kafka
// semantics), the queue transport on standard and FIFO queues (SQS semantics), and a fan-out
// delivering into a queue (SNS -> SQS). Each test gets its own broker.
//
// The queue transport takes its lease (visibility timeout) per transport, as a receive option, the
// way an SQS consumer may; the suite asks for a lease per destination. So the queue fixture hands the
// suite a thin router that subscribes each destination through a MemoryQueueTransport built with that
// destination's lease, all on the same broker. Every delivery and settle is the real transport's.

import type {
  DeliverySink,
  OutgoingMessage,
  PublishOptions,
  SubscriptionSpec,
  Transport,
  TransportCapabilities,
  TransportHealth,
  TransportSubscription,
} from '@switchyard/core';
import { MemoryBroker, MemoryLogTransport, MemoryQueueTransport, memoryLogCapabilities } from '@switchyard/core';
import {
  type DestinationOptions,
  describeTransportConformance,
  fifoName,
  type TransportConformanceFixture,
  uniqueName,
} from '../../src/index.js';

// Capabilities declared up front: scenarios the log cannot run are skipped without a fixture.
describeTransportConformance(
  'memory log transport',
  async (): Promise<TransportConformanceFixture> => {
    const broker = new MemoryBroker();
    const connect = () => new MemoryLogTransport({ broker, autoCreate: false });
    return {
      transport: connect(),
      async createDestination(_kind, options: DestinationOptions = {}) {
        const name = uniqueName(options.purpose === 'dead-letter' ? 'conformance-dlq' : 'conformance');
        broker.createTopic(name, { partitions: options.partitions ?? 3 });
        return name;
      },
      async createTransport() {
        return connect();
      },
      async cleanup() {},
    };
  },
  { capabilities: memoryLogCapabilities },
);

/** Subscribes each queue through a MemoryQueueTransport with that queue's lease; publishes through the default one. */
class LeaseRouter implements Transport {
  readonly system: string;
  readonly capabilities: TransportCapabilities;
  readonly #broker: MemoryBroker;
  readonly #fifo: boolean;
  readonly #main: MemoryQueueTransport;
  readonly #byLease = new Map<number, MemoryQueueTransport>();
  readonly #leaseOf = new Map<string, number>();
  #started = false;

  constructor(broker: MemoryBroker, fifo: boolean) {
    this.#broker = broker;
    this.#fifo = fifo;
    this.#main = new MemoryQueueTransport({ broker, fifo, autoCreate: false });
    this.system = this.#main.system;
    this.capabilities = this.#main.capabilities;
  }

  setLease(queue: string, leaseMs: number): void {
    this.#leaseOf.set(queue, leaseMs);
  }

  async start(): Promise<void> {
    this.#started = true;
    await this.#main.start();
    for (const t of this.#byLease.values()) await t.start();
  }

  async subscribe(spec: SubscriptionSpec, sink: DeliverySink): Promise<TransportSubscription> {
    const lease = this.#leaseOf.get(spec.destination);
    if (lease === undefined) return this.#main.subscribe(spec, sink);
    let transport = this.#byLease.get(lease);
    if (!transport) {
      transport = new MemoryQueueTransport({
        broker: this.#broker,
        fifo: this.#fifo,
        autoCreate: false,
        visibilityTimeoutMs: lease,
      });
      this.#byLease.set(lease, transport);
      if (this.#started) await transport.start();
    }
    return transport.subscribe(spec, sink);
  }

  publish(destination: string, messages: readonly OutgoingMessage[], options?: PublishOptions): Promise<void> {
    return this.#main.publish(destination, messages, options);
  }

  async close(): Promise<void> {
    await Promise.all([this.#main, ...this.#byLease.values()].map((t) => t.close()));
  }

  health(): TransportHealth {
    return this.#main.health();
  }
}

function queueFixture(fifo: boolean) {
  return async (): Promise<TransportConformanceFixture> => {
    const broker = new MemoryBroker();
    const router = new LeaseRouter(broker, fifo);
    return {
      transport: router,
      async createDestination(_kind, options: DestinationOptions = {}) {
        const prefix = options.purpose === 'dead-letter' ? 'conformance-dlq' : 'conformance';
        const name = fifo ? fifoName(prefix) : uniqueName(prefix);
        broker.createQueue(name, { fifo });
        if (options.leaseMs !== undefined) router.setLease(name, options.leaseMs);
        return name;
      },
      async createTransport() {
        return new MemoryQueueTransport({ broker, fifo, autoCreate: false });
      },
      async cleanup() {},
    };
  };
}

describeTransportConformance('memory queue transport (standard queue)', queueFixture(false));
describeTransportConformance('memory queue transport (FIFO queue)', queueFixture(true));

describeTransportConformance('memory fan-out into a queue (SNS -> SQS)', async () => {
  const broker = new MemoryBroker();
  const router = new LeaseRouter(broker, false);
  return {
    transport: router,
    async createDestination(_kind, options: DestinationOptions = {}) {
      const queue = uniqueName('conformance-queue');
      broker.createQueue(queue);
      if (options.leaseMs !== undefined) router.setLease(queue, options.leaseMs);
      // Dead letters go straight to a queue, as an SNS consumer's DLQ is an SQS queue.
      if (options.purpose === 'dead-letter') return queue;
      const topic = uniqueName('conformance-topic');
      broker.createFanout(topic);
      broker.subscribe(topic, queue);
      return { publish: topic, subscribe: queue };
    },
    async createTransport() {
      return new MemoryQueueTransport({ broker, autoCreate: false });
    },
    async cleanup() {},
  };
});
