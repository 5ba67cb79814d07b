// Publishing to SQS: SendMessage for one message, SendMessageBatch for more, split by 10 entries
// and by the byte limit on a batch; entries that failed on the server's side are sent again.
// FIFO queues get a MessageGroupId (the message key) and a MessageDeduplicationId (the message id
// unless given), and their batches go out one after another so a group keeps its order.

import { createHash } from 'node:crypto';
import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { type Clock, type OutgoingMessage, SwitchyardError } from '@switchyard/core';
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

/** SQS's rule for deduplication ids: up to 128 of alphanumerics and punctuation. */
function toDeduplicationId(value: string): string {
  if (value.length > 0 && value.length <= 128 && /^[\x21-\x7e]+$/.test(value)) return value;
  return createHash('sha256').update(value).digest('hex');
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
    deduplicationId: options.fifo ? toDeduplicationId(message.deduplicationId ?? message.id) : undefined,
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
    Id: `m${index}`,
    MessageBody: entry.body,
    ...(Object.keys(entry.attributes).length > 0 ? { MessageAttributes: entry.attributes as never } : {}),
    ...(entry.delaySeconds === undefined ? {} : { DelaySeconds: entry.delaySeconds }),
    ...(entry.groupId === undefined ? {} : { MessageGroupId: entry.groupId }),
    ...(entry.deduplicationId === undefined ? {} : { MessageDeduplicationId: entry.deduplicationId }),
  };
}

function isClientFault(error: unknown): boolean {
  const e = error as { $fault?: unknown; name?: unknown };
  if (typeof e?.name === 'string' && /throttl|RequestThrottled|OverLimit/i.test(e.name)) return false;
  return e?.$fault === 'client';
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
    const batches = splitBatches(entries, this.#options.maxMessageBytes);
    if (fifo) {
      for (const batch of batches) await this.#sendBatch(url, name, batch, signal);
      return;
    }
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++] as PreparedEntry[];
        await this.#sendBatch(url, name, batch, signal);
      }
    };
    const workers = Array.from({ length: Math.min(this.#options.concurrency, batches.length) }, worker);
    const results = await Promise.allSettled(workers);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async #sendBatch(url: string, name: string, batch: PreparedEntry[], signal: AbortSignal | undefined): Promise<void> {
    const { attempts, clock } = this.#options;
    const sendOptions = signal ? { abortSignal: signal } : {};
    let pending = batch;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      let retry: PreparedEntry[] = [];
      if (pending.length === 1) {
        const entry = pending[0] as PreparedEntry;
        const { Id: _id, ...input } = toBatchEntry(entry, 0);
        try {
          await this.#client.send(new SendMessageCommand({ QueueUrl: url, ...input }), sendOptions);
        } catch (error) {
          if (signal?.aborted || isClientFault(error) || attempt >= attempts)
            throw publishError(name, `message ${entry.messageId}`, error, !isClientFault(error));
          retry = pending;
        }
      } else {
        let out: Partial<Pick<SendMessageBatchCommandOutput, 'Failed'>>;
        try {
          out = await this.#client.send(
            new SendMessageBatchCommand({ QueueUrl: url, Entries: pending.map(toBatchEntry) }),
            sendOptions,
          );
        } catch (error) {
          if (signal?.aborted || isClientFault(error) || attempt >= attempts)
            throw publishError(name, `batch of ${pending.length}`, error, !isClientFault(error));
          retry = pending;
          out = {};
        }
        for (const failure of out.Failed ?? []) {
          const index = Number((failure.Id ?? '').slice(1));
          const entry = pending[index];
          if (!entry) continue;
          if (failure.SenderFault || attempt >= attempts)
            throw publishError(
              name,
              `message ${entry.messageId} refused: ${failure.Code ?? 'unknown'}: ${failure.Message ?? ''}`,
              undefined,
              !failure.SenderFault,
            );
          retry.push(entry);
        }
      }
      if (retry.length === 0) return;
      pending = retry;
      await clock.sleep(Math.min(1000, 50 * 2 ** (attempt - 1)), signal);
    }
  }
}
