// One test's world: the fixture, the started transport, unique names, the subscriptions opened
// (closed after the test, newest first) and one place to wait on what any of them received.

import type {
  DeadLetterRecord,
  OutgoingMessage,
  StartPosition,
  SubscriptionSpec,
  Transport,
  TransportCapabilities,
  TransportObserver,
  TransportSubscription,
} from '@switchyard/core';
import { TestResources } from '../../names/test-resources.js';
import { uniqueName } from '../../names/unique-name.js';
import { EventLog } from '../../spies/event-log.js';
import { DeliveryProbe, type Reaction, type ReceivedDelivery } from './delivery-probe.js';
import type {
  ConformanceDestination,
  DestinationOptions,
  TransportConformanceFixture,
  TransportConformanceOptions,
} from './fixture.js';
import { type TestMessageInput, testMessage } from './test-messages.js';

export interface ResolvedConformanceOptions {
  readonly waitTimeoutMs: number;
  readonly shortLeaseMs: number;
  readonly testTimeoutMs: number;
  readonly capabilities: TransportCapabilities | undefined;
  readonly subscriptionOptions: Readonly<Record<string, unknown>> | undefined;
}

export function resolveOptions(options: TransportConformanceOptions = {}): ResolvedConformanceOptions {
  return {
    waitTimeoutMs: options.waitTimeoutMs ?? 20_000,
    shortLeaseMs: options.shortLeaseMs ?? 1_000,
    testTimeoutMs: options.testTimeoutMs ?? 60_000,
    capabilities: options.capabilities,
    subscriptionOptions: options.subscriptionOptions,
  };
}

const quietObserver: TransportObserver = { lag: () => {}, depth: () => {} };

/** A subscription under test with the probe that plays core for it. */
export class TestConsumer {
  readonly probe: DeliveryProbe;
  readonly subscription: TransportSubscription;
  readonly group: string;
  #closing: Promise<void> | undefined;

  constructor(probe: DeliveryProbe, subscription: TransportSubscription, group: string) {
    this.probe = probe;
    this.subscription = subscription;
    this.group = group;
  }

  /** stopFetching, then close; once. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.subscription.stopFetching();
      await this.subscription.close();
    })();
    return this.#closing;
  }
}

export class ConformanceRun {
  readonly fixture: TransportConformanceFixture;
  readonly options: ResolvedConformanceOptions;
  readonly resources = new TestResources();
  readonly runId = uniqueName('m');
  readonly #activity = new EventLog<never>();
  readonly #probes: DeliveryProbe[] = [];
  #seq = 0;

  private constructor(fixture: TransportConformanceFixture, options: ResolvedConformanceOptions) {
    this.fixture = fixture;
    this.options = options;
  }

  static async open(
    factory: () => Promise<TransportConformanceFixture>,
    options: ResolvedConformanceOptions,
  ): Promise<ConformanceRun> {
    const fixture = await factory();
    const run = new ConformanceRun(fixture, options);
    try {
      await fixture.transport.start();
    } catch (error) {
      await fixture.cleanup().catch(() => {});
      throw error;
    }
    return run;
  }

  get transport(): Transport {
    return this.fixture.transport;
  }

  get caps(): TransportCapabilities {
    return this.fixture.transport.capabilities;
  }

  /** Subscriptions first, then the transport, then the fixture; every step runs even if one fails. */
  async close(): Promise<void> {
    const errors: unknown[] = [];
    await this.resources.cleanup().catch((e) => errors.push(e));
    await this.transport.close().catch((e) => errors.push(e));
    await this.fixture.cleanup().catch((e) => errors.push(e));
    if (errors.length > 0) throw new AggregateError(errors, 'transport conformance: cleanup failed');
  }

  async destination(options: DestinationOptions = {}): Promise<ConformanceDestination> {
    const kind = this.caps.model === 'log' ? 'topic' : 'queue';
    const created = await this.fixture.createDestination(kind, {
      ...(this.caps.ordering === 'group' ? { fifo: true } : {}),
      purpose: 'main',
      ...options,
    });
    return typeof created === 'string' ? { publish: created, subscribe: created } : created;
  }

  group(label: string): string {
    return uniqueName(`conformance-${label}`);
  }

  /** A message with the next sequence number; the key defaults to one of four. */
  message(input: Partial<TestMessageInput> = {}): OutgoingMessage {
    const seq = this.#seq++;
    return testMessage(this.runId, { key: `key-${seq % 4}`, ...input, seq });
  }

  messages(count: number, input: (i: number) => Partial<TestMessageInput> = () => ({})): OutgoingMessage[] {
    return Array.from({ length: count }, (_, i) => this.message(input(i)));
  }

  async publish(destination: string, messages: readonly OutgoingMessage[], transport = this.transport): Promise<void> {
    await transport.publish(destination, messages);
  }

  async subscribe(
    target: ConformanceDestination,
    react: Reaction,
    options: {
      readonly group?: string;
      readonly startFrom?: StartPosition;
      readonly transport?: Transport;
      readonly label?: string;
    } = {},
  ): Promise<TestConsumer> {
    const destination = target.subscribe;
    const group = options.group ?? this.group('group');
    const probe = new DeliveryProbe(
      options.label ?? `subscriber ${this.#probes.length + 1} of '${destination}' (group ${group})`,
      react,
      () => this.#activity.touch(),
    );
    const spec: SubscriptionSpec = {
      destination,
      consumerGroup: group,
      semantics: 'at-least-once',
      startFrom: options.startFrom ?? 'earliest',
      maxInFlight: 16,
      maxInFlightBytes: 1 << 20,
      observer: quietObserver,
      ...(this.options.subscriptionOptions || target.subscriptionOptions
        ? { options: { ...this.options.subscriptionOptions, ...target.subscriptionOptions } }
        : {}),
    };
    const subscription = await (options.transport ?? this.transport).subscribe(spec, probe.sink);
    this.#probes.push(probe);
    const consumer = new TestConsumer(probe, subscription, group);
    this.resources.track(() => consumer.close(), `close ${probe.label}`);
    return consumer;
  }

  /**
   * Wait until `select` returns something other than undefined; checked on every delivery, every
   * finished settle and every aborted delivery signal of any probe. A timeout lists what every subscriber received.
   */
  waitFor<R>(what: string, select: () => R | undefined, timeoutMs = this.options.waitTimeoutMs): Promise<R> {
    return this.#activity.waitUntil(() => select(), {
      timeoutMs,
      describe: () =>
        [`Transport conformance: timed out after ${timeoutMs} ms waiting for ${what}.`, this.summary()].join('\n'),
    });
  }

  until(what: string, condition: () => boolean, timeoutMs?: number): Promise<void> {
    return this.waitFor(what, () => (condition() ? true : undefined), timeoutMs).then(() => undefined);
  }

  /** Wait for a delivery on `probe` matching `predicate`. */
  next(
    probe: DeliveryProbe,
    what: string,
    predicate: (r: ReceivedDelivery) => boolean,
    timeoutMs?: number,
  ): Promise<ReceivedDelivery> {
    return this.waitFor(what, () => probe.received.find(predicate), timeoutMs);
  }

  /** Wait until each id has a resolved `kind` settle on one of `probes`. */
  untilSettled(
    probes: readonly DeliveryProbe[],
    ids: readonly string[],
    kind: 'ack' | 'dead-letter' | 'retry' | 'release' = 'ack',
    timeoutMs?: number,
  ): Promise<void> {
    return this.until(
      `${ids.length} message(s) settled with '${kind}'`,
      () => {
        const done = new Set(probes.flatMap((p) => [...p.settledCounts(kind).keys()]));
        return ids.every((id) => done.has(id));
      },
      timeoutMs,
    );
  }

  summary(): string {
    return this.#probes.length === 0 ? '  (no subscribers)' : this.#probes.map((p) => p.summary()).join('\n');
  }

  /** A dead-letter record for a delivery, as core would write it. */
  deadLetterRecord(received: ReceivedDelivery, consumerGroup: string): DeadLetterRecord {
    const now = Date.now();
    const message = received.delivery.message;
    return {
      source: message.source,
      consumerGroup,
      messageId: received.id,
      messageType: 'conformance.Test',
      attempts: received.delivery.attempt,
      firstFailureAt: now,
      lastFailureAt: now,
      reason: 'handler-requested',
      error: {
        className: 'Error',
        code: undefined,
        message: 'dead-lettered by the conformance suite',
        stack: undefined,
      },
      body: message.body,
      headers: message.headers,
      key: message.key,
    };
  }
}
