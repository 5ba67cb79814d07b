// Publishing to SNS: Publish for one message, PublishBatch for more (split by 10 entries and by
// 256 KiB), server-side entry failures sent again. Headers travel as message attributes, `sy-type`
// first so filter policies can match the message type; at most 10 of them, because that is what SNS
// hands to an SQS subscription with raw delivery (the rest ride packed in `sy-headers`).

import {
  type MessageAttributeValue,
  PublishBatchCommand,
  type PublishBatchRequestEntry,
  PublishCommand,
  type SNSClient,
} from '@aws-sdk/client-sns';
import { type Clock, type Logger, type OutgoingMessage, type RandomSource, SwitchyardError } from '@switchyard/core';
import {
  type AttributeValue,
  attributesSize,
  type BatchSender,
  batchEntryId,
  encodeBody,
  encodeHeaders,
  fifoDeduplicationId,
  sendBatches,
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
    deduplicationId: options.fifo ? fifoDeduplicationId(message.deduplicationId ?? message.id) : undefined,
  };
}

export function splitPublishBatches(entries: readonly PreparedPublish[]): PreparedPublish[][] {
  return splitBatches(entries, SnsLimits.maxMessageBytes, SnsLimits.maxBatchEntries);
}

function toEntry(entry: PreparedPublish, index: number): PublishBatchRequestEntry {
  return {
    Id: batchEntryId(index),
    Message: entry.message,
    ...(Object.keys(entry.attributes).length > 0
      ? { MessageAttributes: entry.attributes as Record<string, MessageAttributeValue> }
      : {}),
    ...(entry.groupId === undefined ? {} : { MessageGroupId: entry.groupId }),
    ...(entry.deduplicationId === undefined ? {} : { MessageDeduplicationId: entry.deduplicationId }),
  };
}

function publishError(topic: string, what: string, cause: unknown, retryable: boolean): SwitchyardError {
  return new SwitchyardError('SWITCHYARD_PUBLISH', `SNS publish to '${topic}' failed: ${what}`, {
    cause,
    retryable,
    details: { topic },
  });
}

export interface SnsPublisherOptions {
  readonly concurrency: number;
  readonly attempts: number;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly logger: Logger;
}

export class SnsPublisher {
  readonly #client: SNSClient;
  readonly #topics: TopicDirectory;
  readonly #options: SnsPublisherOptions;

  constructor(client: SNSClient, topics: TopicDirectory, options: SnsPublisherOptions) {
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
    const sender: BatchSender<PreparedPublish> = {
      sendOne: async (entry, signal) => {
        const { Id: _id, ...input } = toEntry(entry, 0);
        await this.#client.send(new PublishCommand({ TopicArn: arn, ...input }), sendOptions(signal));
      },
      sendBatch: (batch, signal) =>
        this.#client.send(
          new PublishBatchCommand({ TopicArn: arn, PublishBatchRequestEntries: batch.map(toEntry) }),
          sendOptions(signal),
        ),
      error: (what, cause, retryable) => publishError(topic, what, cause, retryable),
      ...this.#options,
      label: `PublishBatch to '${topic}'`,
    };
    await sendBatches(splitPublishBatches(entries), sender, fifo, signal);
  }
}

function sendOptions(signal: AbortSignal | undefined) {
  return signal ? { abortSignal: signal } : {};
}
