// Publishing to SNS: Publish for one message, PublishBatch for more (split by 10 entries and by
// 256 KiB), server-side entry failures sent again. Headers travel as message attributes, `sy-type`
// first so filter policies can match the message type; at most 10 of them, because that is what SNS
// hands to an SQS subscription with raw delivery (the rest ride packed in `sy-headers`).

import { createHash } from 'node:crypto';
import {
  type MessageAttributeValue,
  PublishBatchCommand,
  type PublishBatchCommandOutput,
  type PublishBatchRequestEntry,
  PublishCommand,
  type SNSClient,
} from '@aws-sdk/client-sns';
import { type Clock, type OutgoingMessage, SwitchyardError } from '@switchyard/core';
import {
  type AttributeValue,
  attributesSize,
  encodeBody,
  encodeHeaders,
  splitBatches,
  utf8Length,
} from '@switchyard/sqs';
import { SnsLimits } from './options.js';
import { type TopicDirectory, topicNameOf } from './topic-directory.js';

export interface PreparedPublish {
  readonly messageId: string;
  readonly message: string;
  readonly attributes: Record<string, AttributeValue>;
  readonly size: number;
  readonly groupId: string | undefined;
  readonly deduplicationId: string | undefined;
}

function toDeduplicationId(value: string): string {
  if (value.length > 0 && value.length <= 128 && /^[\x21-\x7e]+$/.test(value)) return value;
  return createHash('sha256').update(value).digest('hex');
}

export function isFifoTopic(nameOrArn: string): boolean {
  return topicNameOf(nameOrArn).endsWith('.fifo');
}

/** Checks and converts one message; throws a non-retryable SwitchyardError for what SNS would refuse. */
export function preparePublish(
  message: OutgoingMessage,
  options: { readonly topic: string; readonly fifo: boolean },
): PreparedPublish {
  if (message.delayMs !== undefined && message.delayMs > 0)
    throw new SwitchyardError(
      'SWITCHYARD_CAPABILITY',
      `message ${message.id}: SNS has no delayed delivery; publish later, or delay on the subscribed queue (DelaySeconds)`,
      { retryable: false },
    );
  const encoded = encodeBody(message.body);
  const attributes = encodeHeaders(
    { ...message.headers, ...encoded.headers },
    { maxAttributes: SnsLimits.maxMessageAttributes },
  );
  const size = utf8Length(encoded.text) + attributesSize(attributes);
  if (size > SnsLimits.maxMessageBytes)
    throw new SwitchyardError(
      'SWITCHYARD_MESSAGE_TOO_LARGE',
      `message ${message.id} is ${size} bytes (body plus attributes), over SNS's ${SnsLimits.maxMessageBytes}-byte limit: ` +
        'store the payload elsewhere (S3) and publish a reference to it (claim check)',
      { retryable: false, details: { messageId: message.id, size, limit: SnsLimits.maxMessageBytes } },
    );
  return {
    messageId: message.id,
    message: encoded.text,
    attributes,
    size,
    groupId: options.fifo ? (message.key ?? message.id).slice(0, 128) : undefined,
    deduplicationId: options.fifo ? toDeduplicationId(message.deduplicationId ?? message.id) : undefined,
  };
}

export function splitPublishBatches(entries: readonly PreparedPublish[]): PreparedPublish[][] {
  return splitBatches(entries, SnsLimits.maxMessageBytes, SnsLimits.maxBatchEntries);
}

function toEntry(entry: PreparedPublish, index: number): PublishBatchRequestEntry {
  return {
    Id: `m${index}`,
    Message: entry.message,
    ...(Object.keys(entry.attributes).length > 0
      ? { MessageAttributes: entry.attributes as Record<string, MessageAttributeValue> }
      : {}),
    ...(entry.groupId === undefined ? {} : { MessageGroupId: entry.groupId }),
    ...(entry.deduplicationId === undefined ? {} : { MessageDeduplicationId: entry.deduplicationId }),
  };
}

function isClientFault(error: unknown): boolean {
  const e = error as { $fault?: unknown; name?: unknown };
  if (typeof e?.name === 'string' && /throttl/i.test(e.name)) return false;
  return e?.$fault === 'client';
}

function publishError(topic: string, what: string, cause: unknown, retryable: boolean): SwitchyardError {
  return new SwitchyardError('SWITCHYARD_PUBLISH', `SNS publish to '${topic}' failed: ${what}`, {
    cause,
    retryable,
    details: { topic },
  });
}

export class SnsPublisher {
  readonly #client: SNSClient;
  readonly #topics: TopicDirectory;
  readonly #options: { readonly concurrency: number; readonly attempts: number; readonly clock: Clock };

  constructor(
    client: SNSClient,
    topics: TopicDirectory,
    options: { readonly concurrency: number; readonly attempts: number; readonly clock: Clock },
  ) {
    this.#client = client;
    this.#topics = topics;
    this.#options = options;
  }

  async publish(destination: string, messages: readonly OutgoingMessage[], signal?: AbortSignal): Promise<void> {
    if (messages.length === 0) return;
    const arn = await this.#topics.arnFor(destination);
    const fifo = isFifoTopic(arn);
    const topic = topicNameOf(arn);
    const entries = messages.map((m) => preparePublish(m, { topic, fifo }));
    const batches = splitPublishBatches(entries);
    if (fifo) {
      for (const batch of batches) await this.#send(arn, topic, batch, signal);
      return;
    }
    let next = 0;
    const worker = async () => {
      while (next < batches.length) await this.#send(arn, topic, batches[next++] as PreparedPublish[], signal);
    };
    const results = await Promise.allSettled(
      Array.from({ length: Math.min(this.#options.concurrency, batches.length) }, worker),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async #send(arn: string, topic: string, batch: PreparedPublish[], signal: AbortSignal | undefined): Promise<void> {
    const sendOptions = signal ? { abortSignal: signal } : {};
    let pending = batch;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      let retry: PreparedPublish[] = [];
      if (pending.length === 1) {
        const entry = pending[0] as PreparedPublish;
        const { Id: _id, ...input } = toEntry(entry, 0);
        try {
          await this.#client.send(new PublishCommand({ TopicArn: arn, ...input }), sendOptions);
        } catch (error) {
          if (signal?.aborted || isClientFault(error) || attempt >= this.#options.attempts)
            throw publishError(topic, `message ${entry.messageId}`, error, !isClientFault(error));
          retry = pending;
        }
      } else {
        let out: Partial<Pick<PublishBatchCommandOutput, 'Failed'>> = {};
        try {
          out = await this.#client.send(
            new PublishBatchCommand({ TopicArn: arn, PublishBatchRequestEntries: pending.map(toEntry) }),
            sendOptions,
          );
        } catch (error) {
          if (signal?.aborted || isClientFault(error) || attempt >= this.#options.attempts)
            throw publishError(topic, `batch of ${pending.length}`, error, !isClientFault(error));
          retry = pending;
        }
        for (const failure of out.Failed ?? []) {
          const entry = pending[Number((failure.Id ?? '').slice(1))];
          if (!entry) continue;
          if (failure.SenderFault || attempt >= this.#options.attempts)
            throw publishError(
              topic,
              `message ${entry.messageId} refused: ${failure.Code ?? 'unknown'}: ${failure.Message ?? ''}`,
              undefined,
              !failure.SenderFault,
            );
          retry.push(entry);
        }
      }
      if (retry.length === 0) return;
      pending = retry;
      await this.#options.clock.sleep(Math.min(1000, 50 * 2 ** (attempt - 1)), signal);
    }
  }
}
