// The SQS transport: Switchyard's transport port on Amazon SQS through an injected AWS SDK v3 client.

import {
  type DeliverySink,
  InvalidOptionError,
  type OutgoingMessage,
  type PublishOptions,
  type SubscriptionSpec,
  SwitchyardError,
  type Transport,
  type TransportCapabilities,
  type TransportHealth,
  type TransportSubscription,
} from '@switchyard/core';
import { DeadLetterWriter } from './dead-letter-message.js';
import {
  type ResolvedSqsOptions,
  resolveSqsOptions,
  resolveSubscriptionOptions,
  SqsLimits,
  type SqsTransportOptions,
} from './options.js';
import { deadLetterQueueName } from './provisioning.js';
import { SqsPublisher } from './publisher.js';
import { QueueDepthMonitor } from './queue-depth-monitor.js';
import {
  isQueueMissing,
  type QueueDescription,
  QueueDirectory,
  queueNameFromArn,
  queueNameOf,
} from './queue-directory.js';
import { SqsSubscription } from './subscription.js';

export class SqsTransport implements Transport {
  readonly system = 'aws_sqs';
  readonly capabilities: TransportCapabilities;
  readonly #options: ResolvedSqsOptions;
  readonly #directory: QueueDirectory;
  readonly #publisher: SqsPublisher;
  readonly #deadLetters: DeadLetterWriter;
  readonly #subscriptions = new Set<SqsSubscription>();
  #closed = false;

  constructor(options: SqsTransportOptions) {
    this.#options = resolveSqsOptions(options);
    const o = this.#options;
    this.#directory = new QueueDirectory(o.client);
    this.#publisher = new SqsPublisher(o.client, this.#directory, {
      maxMessageBytes: o.maxMessageBytes,
      concurrency: o.publishConcurrency,
      attempts: o.publishAttempts,
      clock: o.clock,
      random: o.random,
      logger: o.logger,
    });
    this.#deadLetters = new DeadLetterWriter(o.client, this.#directory, o.maxMessageBytes);
    this.capabilities = Object.freeze({
      model: 'queue',
      ordering: o.fifo ? 'group' : 'none',
      consumerGroups: false,
      replay: false,
      delayedRetry: true,
      maxRetryDelayMs: SqsLimits.maxVisibilitySeconds * 1000,
      nativeRedrive: true,
      exactlyOnce: false,
      // With the heartbeat, a message stays leased until maxProcessingMs; without it, for the visibility timeout.
      leaseMs: o.heartbeatIntervalMs === false ? o.visibilityTimeoutS * 1000 : o.maxProcessingMs,
    });
  }

  /** The SDK connects lazily; nothing to do but refuse use after close. */
  async start(): Promise<void> {
    this.#assertOpen();
  }

  async subscribe(spec: SubscriptionSpec, sink: DeliverySink): Promise<TransportSubscription> {
    this.#assertOpen();
    if (spec.semantics === 'exactly-once')
      throw new SwitchyardError(
        'SWITCHYARD_CAPABILITY',
        `SQS queue '${spec.destination}' cannot be consumed exactly-once: use at-least-once with idempotency`,
        { retryable: false },
      );
    const { pollers, waitTimeSeconds, lease } = resolveSubscriptionOptions(this.#options, spec.options);
    const queue = await this.#directory.describe(spec.destination);
    if (this.#options.fifo && !queue.fifo)
      throw new SwitchyardError(
        'SWITCHYARD_CAPABILITY',
        `SqsTransport was created with fifo: true (group ordering) but '${queue.name}' is a standard queue`,
        { retryable: false },
      );
    const deadLetterUrl = spec.deadLetter && (await this.#deadLetterQueue(queue, spec.deadLetter));
    const receives = queue.redrive?.maxReceiveCount;
    // Equal still works (core dead-letters on the last receive), but leaves no room for releases.
    if (receives !== undefined && spec.maxAttempts !== undefined && receives < spec.maxAttempts)
      this.#options.logger.warn(
        { queue: queue.name, maxReceiveCount: receives, maxAttempts: spec.maxAttempts },
        `the redrive policy of '${queue.name}' moves a message after ${receives} receives, but the retry ` +
          `policy makes up to ${spec.maxAttempts} attempts: a message failing them all reaches the dead-letter ` +
          'queue as it came, without its dead-letter record; set maxReceiveCount above retry.maxAttempts',
      );
    let depth: QueueDepthMonitor | undefined;
    if (this.#options.depthIntervalMs > 0) {
      depth = new QueueDepthMonitor({
        client: this.#options.client,
        observer: spec.observer,
        intervalMs: this.#options.depthIntervalMs,
        clock: this.#options.clock,
        logger: this.#options.logger,
      });
      depth.watch(queue.url);
      if (deadLetterUrl) depth.watch(deadLetterUrl);
      if (queue.redrive)
        try {
          depth.watch(await this.#directory.urlFor(queueNameFromArn(queue.redrive.deadLetterTargetArn)));
        } catch (error) {
          this.#options.logger.warn(
            { err: error, queue: queue.name },
            'dead-letter queue of the redrive policy not found',
          );
        }
    }
    const subscription = new SqsSubscription({
      options: this.#options,
      queue,
      spec,
      sink,
      pollers,
      waitTimeSeconds,
      lease,
      deadLetters: this.#deadLetters,
      depth,
    });
    this.#subscriptions.add(subscription);
    subscription.start();
    return subscription;
  }

  /**
   * The URL of the queue core dead-letters to. It must exist before the first poison message, so a
   * missing one fails the subscription now, naming it, instead of holding that message later. A
   * redrive policy aimed elsewhere splits the dead letters over two queues: worth a warning.
   */
  async #deadLetterQueue(
    queue: QueueDescription,
    deadLetter: NonNullable<SubscriptionSpec['deadLetter']>,
  ): Promise<string> {
    let url: string;
    try {
      // Described, not only resolved: a queue URL resolves without asking SQS.
      url = (await this.#directory.describe(deadLetter.destination)).url;
    } catch (error) {
      if (!(error instanceof SwitchyardError && isQueueMissing(error.cause))) throw error;
      throw new SwitchyardError(
        'SWITCHYARD_TRANSPORT',
        `dead-letter queue '${deadLetter.destination}' of '${queue.name}' does not exist: create it ` +
          `(createQueueWithDeadLetter makes a queue with its dead-letter queue)` +
          (deadLetter.named ? '' : ', or name an existing one with the consumer option deadLetterDestination'),
        { cause: error, retryable: false, details: { queue: queue.name, deadLetterQueue: deadLetter.destination } },
      );
    }
    // Core compares names; a URL of the consumed queue (or its name against its URL) gets past it.
    if (url === queue.url)
      throw new InvalidOptionError(
        'deadLetterDestination',
        `'${deadLetter.destination}' is the consumed queue '${queue.name}' itself: dead letters would be consumed again`,
        `name a separate queue such as '${deadLetterQueueName(queue.name)}'`,
      );
    const redriveTarget = queue.redrive && queueNameFromArn(queue.redrive.deadLetterTargetArn);
    if (redriveTarget !== undefined && redriveTarget !== queueNameOf(url))
      this.#options.logger.warn(
        { queue: queue.name, redriveTarget, deadLetterQueue: deadLetter.destination },
        `the redrive policy of '${queue.name}' moves messages to '${redriveTarget}' after ` +
          `${queue.redrive?.maxReceiveCount} receives, but Switchyard dead-letters to '${deadLetter.destination}': ` +
          'dead letters will be split over two queues',
      );
    return url;
  }

  /** `<queue>-dlq` (`<queue>-dlq.fifo`): what `createQueueWithDeadLetter` provisions. */
  deadLetterDestinationFor(destination: string): string {
    return deadLetterQueueName(destination);
  }

  async publish(destination: string, messages: readonly OutgoingMessage[], options?: PublishOptions): Promise<void> {
    this.#assertOpen();
    await this.#publisher.publish(destination, messages, options?.signal);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#subscriptions].map((s) => s.close()));
  }

  health(): TransportHealth {
    if (this.#closed) return { ok: false, detail: 'closed' };
    const failing = [...this.#subscriptions].map((s) => s.health()).filter((h) => !h.ok);
    if (failing.length > 0) return { ok: false, detail: failing.map((h) => h.detail).join('; ') };
    return { ok: true, detail: `${this.#subscriptions.size} subscription(s)` };
  }

  #assertOpen(): void {
    if (this.#closed) throw new SwitchyardError('SWITCHYARD_SHUTDOWN', 'SqsTransport is closed', { retryable: false });
  }
}
