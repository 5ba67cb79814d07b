// Queue depth as gauges, from GetQueueAttributes polling: visible, in flight (received, not deleted)
// and delayed messages, for the consumed queue and its dead-letter queues. SQS has no API for the age
// of the oldest message (CloudWatch's ApproximateAgeOfOldestMessage is the true figure), so
// `oldest-age-s` reports the age of the oldest message this subscription received since the last poll.

import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Clock, Logger, TransportObserver } from '@switchyard/core';
import { queueNameOf } from './queue-directory.js';

export interface QueueDepthMonitorOptions {
  readonly client: SQSClient;
  readonly observer: TransportObserver;
  readonly intervalMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
}

export class QueueDepthMonitor {
  readonly #options: QueueDepthMonitorOptions;
  readonly #queues = new Map<string, string>();
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #primary: string | undefined;
  #oldestSentAt: number | undefined;

  constructor(options: QueueDepthMonitorOptions) {
    this.#options = options;
  }

  /** Watches a queue; the first one watched is the consumed queue (it gets `oldest-age-s`). */
  watch(url: string): void {
    if (this.#queues.has(url)) return;
    this.#queues.set(url, queueNameOf(url));
    this.#primary ??= url;
  }

  /** The consumed queue's messages were sent at these times. */
  noteReceived(sentAt: number): void {
    if (Number.isFinite(sentAt) && (this.#oldestSentAt === undefined || sentAt < this.#oldestSentAt))
      this.#oldestSentAt = sentAt;
  }

  start(): void {
    if (this.#options.intervalMs <= 0 || this.#loop) return;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { clock, intervalMs } = this.#options;
    try {
      while (!this.#stop.signal.aborted) {
        await this.poll();
        await clock.sleep(intervalMs, this.#stop.signal);
      }
    } catch {
      // Aborted by stop().
    }
  }

  /** One round of GetQueueAttributes for every watched queue. Failures are logged, never thrown. */
  async poll(): Promise<void> {
    const { client, observer, clock, logger } = this.#options;
    const oldest = this.#oldestSentAt;
    this.#oldestSentAt = undefined;
    if (oldest !== undefined && this.#primary)
      observer.depth(Math.max(0, (clock.now() - oldest) / 1000), {
        destination: this.#queues.get(this.#primary) as string,
        state: 'oldest-age-s',
      });
    await Promise.all(
      [...this.#queues].map(async ([url, destination]) => {
        try {
          const out = await client.send(
            new GetQueueAttributesCommand({
              QueueUrl: url,
              AttributeNames: [
                'ApproximateNumberOfMessages',
                'ApproximateNumberOfMessagesNotVisible',
                'ApproximateNumberOfMessagesDelayed',
              ],
            }),
            { abortSignal: this.#stop.signal },
          );
          const a = out.Attributes ?? {};
          const report = (value: string | undefined, state: 'visible' | 'in-flight' | 'delayed') => {
            if (value !== undefined && Number.isFinite(Number(value)))
              observer.depth(Number(value), { destination, state });
          };
          report(a.ApproximateNumberOfMessages, 'visible');
          report(a.ApproximateNumberOfMessagesNotVisible, 'in-flight');
          report(a.ApproximateNumberOfMessagesDelayed, 'delayed');
        } catch (error) {
          if (!this.#stop.signal.aborted) logger.warn({ err: error, queue: destination }, 'SQS depth poll failed');
        }
      }),
    );
  }
}
