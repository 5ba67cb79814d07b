// SNS as a Switchyard transport: publishing to topics. Messages published to a topic are consumed
// from the SQS queues subscribed to it, so subscribing goes through `consumeWith` (an SqsTransport);
// without one, this transport publishes only and says so.

import {
  type DeliverySink,
  type OutgoingMessage,
  type PublishOptions,
  type SubscriptionSpec,
  SwitchyardError,
  type Transport,
  type TransportCapabilities,
  type TransportHealth,
  type TransportSubscription,
} from '@switchyard/core';
import { type ResolvedSnsOptions, resolveSnsOptions, type SnsTransportOptions } from './options.js';
import { SnsPublisher } from './publisher.js';
import { TopicDirectory } from './topic-directory.js';

/** What a publish-only SNS transport can do: nothing on the consuming side. */
export const snsPublishOnlyCapabilities: TransportCapabilities = Object.freeze({
  model: 'queue',
  ordering: 'none',
  consumerGroups: false,
  replay: false,
  delayedRetry: false,
  maxRetryDelayMs: 0,
  nativeRedrive: false,
  exactlyOnce: false,
  leaseMs: undefined,
});

export class SnsTransport implements Transport {
  readonly system = 'aws.sns';
  readonly #options: ResolvedSnsOptions;
  readonly #publisher: SnsPublisher;
  #closed = false;

  constructor(options: SnsTransportOptions) {
    this.#options = resolveSnsOptions(options);
    this.#publisher = new SnsPublisher(
      this.#options.client,
      new TopicDirectory(this.#options.client, this.#options.topicArnPrefix),
      {
        concurrency: this.#options.publishConcurrency,
        attempts: this.#options.publishAttempts,
        clock: this.#options.clock,
        random: this.#options.random,
        logger: this.#options.logger,
      },
    );
  }

  /** The consuming transport's capabilities (SNS -> SQS), or publish-only ones. */
  get capabilities(): TransportCapabilities {
    return this.#options.consumeWith?.capabilities ?? snsPublishOnlyCapabilities;
  }

  async start(): Promise<void> {
    if (this.#closed) throw new SwitchyardError('SWITCHYARD_SHUTDOWN', 'SnsTransport is closed', { retryable: false });
    await this.#options.consumeWith?.start();
  }

  async subscribe(spec: SubscriptionSpec, sink: DeliverySink): Promise<TransportSubscription> {
    const consumer = this.#options.consumeWith;
    if (!consumer)
      throw new SwitchyardError(
        'SWITCHYARD_CAPABILITY',
        `SNS delivers to subscribers, it cannot be read from: subscribe an SQS queue to the topic ` +
          `(subscribeQueue(sns, sqs, { topicArn, queueUrl })) and consume the queue, e.g. new SnsTransport({ client, consumeWith: new SqsTransport({ client: sqsClient }) }) ` +
          `(asked to subscribe to '${spec.destination}')`,
        { retryable: false, details: { destination: spec.destination } },
      );
    return consumer.subscribe(spec, sink);
  }

  /** The consuming transport's dead-letter queue for a queue it reads (SQS: `<queue>-dlq`). */
  deadLetterDestinationFor(destination: string): string {
    const consumer = this.#options.consumeWith;
    // Without a consumer nothing is read here, so nothing is dead-lettered: core's default is moot.
    return consumer?.deadLetterDestinationFor?.(destination) ?? `${destination}.dlq`;
  }

  async publish(destination: string, messages: readonly OutgoingMessage[], options?: PublishOptions): Promise<void> {
    if (this.#closed) throw new SwitchyardError('SWITCHYARD_SHUTDOWN', 'SnsTransport is closed', { retryable: false });
    await this.#publisher.publish(destination, messages, options?.signal);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#options.consumeWith?.close();
  }

  health(): TransportHealth {
    if (this.#closed) return { ok: false, detail: 'closed' };
    return this.#options.consumeWith?.health() ?? { ok: true, detail: 'publish-only' };
  }
}
