// Publishing to SQS: SendMessage for one message, SendMessageBatch for more, split by 10 entries
// and by the byte limit on a batch; entries that failed on the server's side are sent again.
// FIFO queues get a MessageGroupId (the message key) and a MessageDeduplicationId (the message id
// unless given), and their batches go out one after another so a group keeps its order.

import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { type Clock, type Logger, type OutgoingMessage, type RandomSource, SwitchyardError } from '@switchyard/core';
import { type BatchSender, batchEntryId, fifoDeduplicationId, sendBatches } from './batch-sender.js';
import { encodeBody } from './body-codec.js';
import { type AttributeValue, attributesSize, encodeHeaders, utf8Length } from './message-attributes.js';
import { SqsLimits } from './options.js';
import { isFifoName, type QueueDirectory, queueNameOf } from './queue-directory.js';

export interface PreparedEntry {
  readonly messageId: string;
  readonly body: string;
  readonly attributes: Record<string, AttributeValue>;
  /** Body plus attributes, as SQS counts them. */
  readonly size: number;
  readonly delaySeconds: number | undefined;
  readonly groupId: string | undefined;
  readonly deduplicationId: string | undefined;
}

/** Checks and converts one message; throws a non-retryable SwitchyardError for what SQS would refuse. */
export function prepareEntry(
  message: OutgoingMessage,
  options: { readonly destination: string; readonly fifo: boolean; readonly maxMessageBytes: number },
): PreparedEntry {
  const encoded = encodeBody(message.body);
  const body = encoded.text;
  const attributes = encodeHeaders({ ...message.headers, ...encoded.headers });
  const size = utf8Length(body) + attributesSize(attributes);
  if (size > options.maxMessageBytes)
    throw new SwitchyardError(
      'SWITCHYARD_MESSAGE_TOO_LARGE',
      `message ${message.id} is ${size} bytes (body plus attributes), over the ${options.maxMessageBytes}-byte SQS limit: ` +
        'store the payload elsewhere (S3) and send a reference to it (claim check)',
      { retryable: false, details: { messageId: message.id, size, limit: options.maxMessageBytes } },
    );
  let delaySeconds: number | undefined;
  if (message.delayMs !== undefined && message.delayMs > 0) {
    if (options.fifo)
      throw new SwitchyardError(
        'SWITCHYARD_CAPABILITY',
        `message ${message.id}: FIFO queue '${options.destination}' has no per-message delay; set the queue's DelaySeconds instead`,
        { retryable: false },
      );
    delaySeconds = Math.ceil(message.delayMs / 1000);
    if (delaySeconds > SqsLimits.maxDelaySeconds)
      throw new SwitchyardError(
        'SWITCHYARD_CAPABILITY',
        `message ${message.id}: delay of ${message.delayMs} ms exceeds SQS's ${SqsLimits.maxDelaySeconds} s maximum`,
        { retryable: false },
      );
  }
  return {
    messageId: message.id,
    body,
    attributes,
    size,
    delaySeconds,
    // A FIFO message without a key has nothing to stay in order with: its own group.
    groupId: options.fifo ? (message.key ?? message.id).slice(0, 128) : undefined,
    deduplicationId: options.fifo ? fifoDeduplicationId(message.deduplicationId ?? message.id) : undefined,
  };
}

/** Splits entries into batches of at most 10 entries and `maxBytes` in total, keeping their order. */
/**
 * Splits entries into batches of at most `maxEntries` whose sizes add up to at most `maxBytes` (a
 * single entry larger than that still goes alone). SQS SendMessageBatch and SNS PublishBatch share
 * these limits.
 */
export function splitBatches<T extends { readonly size: number }>(
  entries: readonly T[],
  maxBytes: number,
  maxEntries: number = SqsLimits.maxBatchEntries,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (current.length === maxEntries || (current.length > 0 && bytes + entry.size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += entry.size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

function toBatchEntry(entry: PreparedEntry, index: number): SendMessageBatchRequestEntry {
  return {
    Id: batchEntryId(index),
    MessageBody: entry.body,
    ...(Object.keys(entry.attributes).length > 0 ? { MessageAttributes: entry.attributes as never } : {}),
    ...(entry.delaySeconds === undefined ? {} : { DelaySeconds: entry.delaySeconds }),
    ...(entry.groupId === undefined ? {} : { MessageGroupId: entry.groupId }),
    ...(entry.deduplicationId === undefined ? {} : { MessageDeduplicationId: entry.deduplicationId }),
  };
}

function publishError(destination: string, what: string, cause: unknown, retryable: boolean): SwitchyardError {
  return new SwitchyardError('SWITCHYARD_PUBLISH', `SQS publish to '${destination}' failed: ${what}`, {
    cause,
    retryable,
    details: { destination },
  });
}

export interface SqsPublisherOptions {
  readonly maxMessageBytes: number;
  readonly concurrency: number;
  readonly attempts: number;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly logger: Logger;
}

export class SqsPublisher {
  readonly #client: SQSClient;
  readonly #directory: QueueDirectory;
  readonly #options: SqsPublisherOptions;

  constructor(client: SQSClient, directory: QueueDirectory, options: SqsPublisherOptions) {
    this.#client = client;
    this.#directory = directory;
    this.#options = options;
  }

  async publish(destination: string, messages: readonly OutgoingMessage[], signal?: AbortSignal): Promise<void> {
    if (messages.length === 0) return;
    const url = await this.#directory.urlFor(destination);
    const fifo = isFifoName(url);
    const name = queueNameOf(url);
    // Every message is checked before any is sent, so a bad one fails the call without a partial send.
    const entries = messages.map((m) =>
      prepareEntry(m, { destination: name, fifo, maxMessageBytes: this.#options.maxMessageBytes }),
    );
    const { attempts, concurrency, clock, random, logger } = this.#options;
    const sender: BatchSender<PreparedEntry> = {
      sendOne: async (entry, signal) => {
        const { Id: _id, ...input } = toBatchEntry(entry, 0);
        await this.#client.send(new SendMessageCommand({ QueueUrl: url, ...input }), sendOptions(signal));
      },
      sendBatch: (batch, signal) =>
        this.#client.send(
          new SendMessageBatchCommand({ QueueUrl: url, Entries: batch.map(toBatchEntry) }),
          sendOptions(signal),
        ),
      error: (what, cause, retryable) => publishError(name, what, cause, retryable),
      attempts,
      concurrency,
      clock,
      random,
      logger,
      label: `SendMessageBatch to '${name}'`,
    };
    await sendBatches(splitBatches(entries, this.#options.maxMessageBytes), sender, fifo, signal);
  }
}

function sendOptions(signal: AbortSignal | undefined) {
  return signal ? { abortSignal: signal } : {};
}
