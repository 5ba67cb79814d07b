import type { Transport, TransportCapabilities } from '@switchyard/core';

/** Where the suite publishes and where it subscribes; the same name for Kafka and SQS, a topic and a queue for SNS. */
export interface ConformanceDestination {
  readonly publish: string;
  readonly subscribe: string;
  /**
   * Transport-specific `SubscriptionSpec.options` for subscriptions to this destination, merged
   * over the suite's `subscriptionOptions`: how a fixture applies a per-destination lease when its
   * transport takes the lease per receive, or turns a visibility heartbeat off for the lease test.
   */
  readonly subscriptionOptions?: Readonly<Record<string, unknown>>;
}

export interface DestinationOptions {
  /** Log transports: partition count (the suite asks for 1 where it checks order across a whole destination). */
  readonly partitions?: number;
  /** Queue transports: FIFO (set when `capabilities.ordering` is `group`). */
  readonly fifo?: boolean;
  /** Queue transports: the lease (visibility timeout) for this destination. */
  readonly leaseMs?: number;
  /** `dead-letter` when the suite will write dead-letter records to it and read them back. */
  readonly purpose?: 'main' | 'dead-letter';
}

/** What an implementation gives the suite, once per test. */
export interface TransportConformanceFixture {
  /** The transport under test; the suite starts it and closes it after the test. */
  readonly transport: Transport;
  /**
   * A new, empty destination. Return a name, or `{ publish, subscribe }` when publishing and
   * consuming use different names (SNS topic -> SQS queue).
   */
  createDestination(kind: 'topic' | 'queue', options?: DestinationOptions): Promise<string | ConformanceDestination>;
  /** Delete what the fixture created; runs after the transport is closed. */
  cleanup(): Promise<void>;
  /** Stop and start the broker (same data, same address); enables the reconnect test. */
  restartBroker?(): Promise<void>;
  /**
   * A second, independent client of the same broker (not started). Enables the publisher-close test,
   * which must consume with another client after closing the first.
   */
  createTransport?(): Promise<Transport>;
}

export type TransportConformanceFactory = () => Promise<TransportConformanceFixture>;

export interface TransportConformanceOptions {
  /** Longest wait for something expected (a delivery, a settle); default 20 s. Never used as a sleep. */
  readonly waitTimeoutMs?: number;
  /** Lease asked for in the lease-expiry test (default 1000 ms; SQS counts whole seconds). */
  readonly shortLeaseMs?: number;
  /** vitest timeout per test (default 60 s; raised by the destination lease where a test may wait one out). */
  readonly testTimeoutMs?: number;
  /**
   * Capabilities known before any fixture exists: tests that cannot apply are then skipped with
   * `it.skipIf`, without building a fixture. Without it the suite reads `transport.capabilities` in
   * each test and skips there. When given, a test checks the transport declares exactly these.
   */
  readonly capabilities?: TransportCapabilities;
  /** Passed as `SubscriptionSpec.options` on every subscription (e.g. a short long-poll wait). */
  readonly subscriptionOptions?: Readonly<Record<string, unknown>>;
  /**
   * The server can hand one message to two concurrent receives (moto: its SQS backend is not
   * thread-safe, getmoto/moto#519). The two-subscriber test then tolerates a message processed twice
   * only when both copies carry the same message id and either the same receive count, different
   * first-receive times, or the second copy was handed out within 1 s of the first while the first
   * was still unsettled: one receive served twice. A redelivery after a lapse comes a lease later,
   * so it still fails the test; the fixture's default lease must be well above 1 s (SQS: 5 s).
   */
  readonly serverDoubleReceives?: boolean;
}
