// KafkaTransport: the transport port on Apache Kafka. Publishing goes through one idempotent
// producer with linger/size batching and a bounded buffer; each subscription is one consumer-group
// member (see consumer/subscription.ts); exactly-once subscriptions add a transactional producer.

import {
  type DeliverySink,
  InvalidOptionError,
  isSwitchyardError,
  type OutgoingMessage,
  optionValueText,
  type PublishOptions,
  type SubscriptionSpec,
  SwitchyardError,
  type Transport,
  type TransportCapabilities,
  type TransportHealth,
  type TransportSubscription,
  TypedEvents,
} from '@switchyard/core';
import { KafkaAdmin } from './admin.js';
import { KafkaSubscription } from './consumer/subscription.js';
import type {
  DriverAdmin,
  DriverProducer,
  DriverSendOptions,
  DriverTopicMessages,
  KafkaDriver,
} from './driver/driver.js';
import { KafkajsDriver } from './driver/kafkajs.js';
import type { KafkaTransportEvents } from './events.js';
import {
  type KafkaTransportOptions,
  type ResolvedKafkaOptions,
  resolveKafkaOptions,
  resolveSubscriptionOptions,
} from './options.js';
import { KafkaPublisher } from './producer/publisher.js';
import { checkSubscriptionTopics, deadLetterTopicName, retryTopicName, sourceDeadLetterTopic } from './topic-names.js';
import { TransactionScope } from './transactions.js';

export class KafkaTransport implements Transport {
  readonly system = 'kafka';
  readonly capabilities: TransportCapabilities;
  /** Rebalances, pauses, commits, hot partitions: see KafkaTransportEvents. */
  readonly events = new TypedEvents<KafkaTransportEvents>();
  readonly driver: KafkaDriver;
  readonly options: ResolvedKafkaOptions;
  readonly #producer: DriverProducer;
  readonly #transactions: TransactionScope | undefined;
  readonly #admin: DriverAdmin;
  readonly #publisher: KafkaPublisher;
  readonly #subscriptions = new Set<KafkaSubscription>();
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #exactlyOnceSubscribed = false;
  readonly #publishing = new Set<Promise<void>>();

  constructor(options: KafkaTransportOptions) {
    this.options = resolveKafkaOptions(options);
    const o = this.options;
    this.driver =
      o.driver ??
      new KafkajsDriver({
        ...(o.kafka ? { kafka: o.kafka } : {}),
        ...(o.brokers ? { brokers: o.brokers } : {}),
        clientId: o.clientId,
        ...(o.client ? { client: o.client } : {}),
        logger: o.logger,
      });
    this.capabilities = {
      model: 'log',
      ordering: 'partition',
      consumerGroups: true,
      replay: true,
      delayedRetry: o.retry.mode === 'retry-topics',
      maxRetryDelayMs: o.retry.maxDelayMs,
      nativeRedrive: false,
      exactlyOnce: o.producer.transactionalId !== undefined,
      leaseMs: undefined,
    };
    const p = o.producer;
    this.#producer = this.driver.producer({
      idempotent: p.idempotent,
      allowAutoTopicCreation: p.allowAutoTopicCreation,
      retries: p.retries,
    });
    this.#transactions =
      p.transactionalId === undefined
        ? undefined
        : new TransactionScope(
            this.driver.producer({
              idempotent: true,
              transactionalId: p.transactionalId,
              transactionTimeoutMs: p.transactionTimeoutMs,
              allowAutoTopicCreation: p.allowAutoTopicCreation,
              retries: p.retries,
            }),
          );
    this.#admin = this.driver.admin();
    const sendOptions: DriverSendOptions = { acks: p.acks, timeoutMs: p.requestTimeoutMs, compression: p.compression };
    this.#publisher = new KafkaPublisher(
      () => (batch: readonly DriverTopicMessages[]) => {
        // While an exactly-once batch is open, every write joins its transaction.
        const tx = this.#transactions?.current();
        return tx ? tx.send(batch, sendOptions) : this.#producer.send(batch, sendOptions);
      },
      {
        lingerMs: p.lingerMs,
        batchBytes: p.batchBytes,
        bufferBytes: p.bufferBytes,
        bufferTimeoutMs: p.bufferTimeoutMs,
        clock: o.clock,
      },
    );
  }

  /** Topic administration, group offsets, lag and replay on the same cluster. */
  admin(): KafkaAdmin {
    return new KafkaAdmin({ driver: this.driver, logger: this.options.logger, clock: this.options.clock });
  }

  start(): Promise<void> {
    if (this.#closing)
      return Promise.reject(
        new SwitchyardError('SWITCHYARD_SHUTDOWN', 'the Kafka transport is closed', { retryable: false }),
      );
    this.#starting ??= (async () => {
      await Promise.all([this.#producer.connect(), this.#admin.connect(), this.#transactions?.producer.connect()]);
    })().catch((error: unknown) => {
      this.#starting = undefined;
      throw new SwitchyardError(
        'SWITCHYARD_TRANSPORT',
        `could not connect to Kafka: ${error instanceof Error ? error.message : String(error)}`,
        {
          cause: error,
          retryable: true,
        },
      );
    });
    return this.#starting;
  }

  async subscribe(spec: SubscriptionSpec, sink: DeliverySink): Promise<TransportSubscription> {
    const sub = resolveSubscriptionOptions(spec.options);
    const o = this.options;
    const named = spec.deadLetter?.named ? spec.deadLetter.destination : undefined;
    if (named !== undefined && sub.deadLetterTopic !== undefined && named !== sub.deadLetterTopic)
      throw new InvalidOptionError(
        'options.deadLetterTopic',
        `names dead-letter topic '${sub.deadLetterTopic}', but the consumer's deadLetterDestination names '${named}'`,
        'name the dead-letter topic once: drop one of the two',
      );
    const naming = { named, deadLetterTopic: sub.deadLetterTopic, suffix: o.deadLetter.suffix };
    // A pattern matches topics that exist already; named topics and what derives from them are checked.
    checkSubscriptionTopics(
      sub.topics ? 'options.topics' : 'destination',
      sub.pattern ? [] : (sub.topics ?? [spec.destination]),
      (source) => [
        ...(o.retry.mode === 'retry-topics' ? [['retry', retryTopicName(source, o.retry.topics)] as const] : []),
        ['dead-letter', sourceDeadLetterTopic(source, naming)] as const,
      ],
    );
    const sources = sub.topics ?? [spec.destination];
    // What the subscription reads: its topics, and their retry tiers in retry-topics mode.
    const consumed = new Set(
      sources.flatMap((t) => [
        t,
        ...(o.retry.mode === 'retry-topics'
          ? Array.from({ length: o.retry.topics }, (_, i) => retryTopicName(t, i + 1))
          : []),
      ]),
    );
    const looping = sub.pattern ? undefined : sources.find((t) => consumed.has(sourceDeadLetterTopic(t, naming)));
    if (looping !== undefined)
      throw new InvalidOptionError(
        named === undefined ? 'options.deadLetterTopic' : 'deadLetterDestination',
        `the dead-letter topic of '${looping}' is '${sourceDeadLetterTopic(looping, naming)}', which this subscription consumes`,
        'name a dead-letter topic the subscription does not read',
      );
    if (!spec.consumerGroup)
      throw new InvalidOptionError(
        'consumerGroup',
        'Kafka subscriptions need a consumer group',
        'name the consumer group',
      );
    if (!Number.isInteger(spec.maxInFlight) || spec.maxInFlight < 1)
      throw new InvalidOptionError(
        'maxInFlight',
        `expected an integer >= 1, got ${optionValueText(spec.maxInFlight)}`,
        'set maxInFlight to at least 1',
      );
    if (spec.semantics === 'exactly-once') {
      if (!this.#transactions)
        throw new SwitchyardError('SWITCHYARD_CAPABILITY', 'exactly-once on Kafka needs a transactional producer', {
          retryable: false,
          details: { fix: 'set producer.transactionalId (stable per instance, unique across instances)' },
        });
      if (this.#exactlyOnceSubscribed)
        throw new SwitchyardError(
          'SWITCHYARD_CAPABILITY',
          'one exactly-once subscription per Kafka transport (one transactional producer)',
          {
            retryable: false,
            details: { fix: 'create another KafkaTransport with its own transactionalId' },
          },
        );
    }
    await this.start();
    const subscription = new KafkaSubscription(
      {
        driver: this.driver,
        admin: this.#admin,
        options: this.options,
        publisher: this.#publisher,
        events: this.events,
        transactions: this.#transactions,
      },
      spec,
      sink,
      sub,
    );
    if (spec.semantics === 'exactly-once') this.#exactlyOnceSubscribed = true;
    this.#subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (error) {
      this.#subscriptions.delete(subscription);
      if (spec.semantics === 'exactly-once') this.#exactlyOnceSubscribed = false;
      await subscription.close().catch(() => {});
      if (isSwitchyardError(error)) throw error;
      throw new SwitchyardError(
        'SWITCHYARD_TRANSPORT',
        `could not subscribe group '${spec.consumerGroup}' to '${spec.destination}': ${error instanceof Error ? error.message : String(error)}`,
        {
          cause: error,
          retryable: true,
          details: { destination: spec.destination, consumerGroup: spec.consumerGroup },
        },
      );
    }
    const close = subscription.close.bind(subscription);
    subscription.close = async () => {
      try {
        await close();
      } finally {
        this.#subscriptions.delete(subscription);
        if (spec.semantics === 'exactly-once') this.#exactlyOnceSubscribed = false;
      }
    };
    return subscription;
  }

  /** `<topic><deadLetter.suffix>` (`.dlq` unless configured), the topic a subscription creates. */
  deadLetterDestinationFor(destination: string): string {
    return deadLetterTopicName(destination, this.options.deadLetter.suffix);
  }

  publish(destination: string, messages: readonly OutgoingMessage[], options: PublishOptions = {}): Promise<void> {
    if (this.#closing)
      return Promise.reject(
        new SwitchyardError('SWITCHYARD_SHUTDOWN', 'the Kafka transport is closed', { retryable: false }),
      );
    const publishing = (async () => {
      await this.start();
      await this.#publisher.publish(destination, messages, options.signal);
    })();
    // close() waits for publishes already called, so none is cut off by the disconnect.
    this.#publishing.add(publishing);
    const forget = () => this.#publishing.delete(publishing);
    publishing.then(forget, forget);
    return publishing;
  }

  /** Sends everything buffered and waits for the acknowledgements. */
  flush(): Promise<void> {
    return this.#publisher.flush();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const errors: unknown[] = [];
      for (const subscription of [...this.#subscriptions])
        await subscription.close().catch((e: unknown) => errors.push(e));
      await Promise.allSettled([...this.#publishing]);
      await this.#publisher.close().catch((e: unknown) => errors.push(e));
      if (this.#starting) {
        await this.#starting.catch(() => {});
        for (const client of [this.#producer, this.#admin, this.#transactions?.producer])
          await client?.disconnect().catch((e: unknown) => errors.push(e));
      }
      if (errors.length > 0) this.options.logger.warn({ errors }, 'kafka transport closed with errors');
    })();
    return this.#closing;
  }

  health(): TransportHealth {
    if (this.#closing) return { ok: false, detail: 'closed' };
    const unhealthy = [...this.#subscriptions].map((s) => s.health()).filter((h) => !h.ok);
    if (unhealthy.length > 0) return { ok: false, detail: unhealthy.map((h) => h.detail).join('; ') };
    return {
      ok: true,
      detail: `kafka (${this.driver.name}): ${this.#subscriptions.size} subscriptions, ${this.#publisher.bufferedBytes} bytes buffered`,
    };
  }
}
