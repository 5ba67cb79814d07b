// A dead-letter record as an SQS message: the original body unchanged, the original headers plus
// the record's `sy-dlq-*` headers (core's shared format) as attributes, packed to fit SQS's limit
// of 10. The same shape is read back by `inspectDeadLetters` and stripped again by `redrive`.

import { createHash } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type DeadLetterRecord, deadLetterHeaders, SwitchyardError } from '@switchyard/core';
import { BODY_ENCODING_HEADER, EMPTY_BODY_TEXT, encodeBody } from './body-codec.js';
import { type AttributeValue, attributesSize, encodeHeaders, utf8Length } from './message-attributes.js';
import { isFifoName, type QueueDirectory } from './queue-directory.js';

export interface DeadLetterMessage {
  readonly MessageBody: string;
  readonly MessageAttributes: Record<string, AttributeValue>;
  readonly MessageGroupId?: string;
  readonly MessageDeduplicationId?: string;
}

function dedupIdFor(record: DeadLetterRecord): string {
  const s = record.source;
  const position = s.kind === 'queue' ? `queue:${s.queue}:${s.messageId}` : `log:${s.topic}:${s.partition}:${s.offset}`;
  // A crash between the DLQ send and the delete redelivers the original; within SQS's five-minute
  // deduplication window a FIFO DLQ then keeps one copy.
  return createHash('sha256').update(position).digest('hex');
}

/** Builds the DLQ message; trims the error stack, then the message, if the whole would not fit. */
export function buildDeadLetterMessage(
  record: DeadLetterRecord,
  options: { readonly fifo: boolean; readonly maxMessageBytes: number },
): DeadLetterMessage {
  // SQS bodies are at least one character: a tombstone (Kafka) is marked by `sy-dlq-tombstone`, an
  // empty body by `sy-body-encoding: empty`, so neither reads back as the space that stands for it.
  // Unless the original already declared an encoding it could not apply: that header is part of
  // what came and is kept, so that (rare) empty body reads back as ' '.
  const encoded =
    record.body === null
      ? { text: EMPTY_BODY_TEXT, headers: {} }
      : record.body.byteLength === 0
        ? {
            text: EMPTY_BODY_TEXT,
            headers: Object.hasOwn(record.headers, BODY_ENCODING_HEADER) ? {} : { [BODY_ENCODING_HEADER]: 'empty' },
          }
        : encodeBody(record.body);
  const body = encoded.text;
  const bodyBytes = utf8Length(body);
  const attempts: DeadLetterRecord[] = [
    record,
    { ...record, error: { ...record.error, stack: undefined } },
    { ...record, error: { ...record.error, stack: undefined, message: record.error.message.slice(0, 512) } },
  ];
  let attributes: Record<string, AttributeValue> | undefined;
  for (const candidate of attempts) {
    const attributesOf = encodeHeaders({ ...deadLetterHeaders(candidate), ...encoded.headers });
    if (bodyBytes + attributesSize(attributesOf) <= options.maxMessageBytes) {
      attributes = attributesOf;
      break;
    }
  }
  if (!attributes)
    throw new SwitchyardError(
      'SWITCHYARD_MESSAGE_TOO_LARGE',
      `the dead-letter message for ${record.messageId ?? 'a message'} does not fit SQS's ${options.maxMessageBytes}-byte limit ` +
        '(body plus record attributes); the queue’s native redrive policy (maxReceiveCount) will move the original instead',
      { retryable: false },
    );
  if (!options.fifo) return { MessageBody: body, MessageAttributes: attributes };
  const groupId =
    (record.source.kind === 'queue' ? record.source.groupId : undefined) ??
    record.key ??
    record.messageId ??
    'dead-letters';
  return {
    MessageBody: body,
    MessageAttributes: attributes,
    MessageGroupId: groupId.slice(0, 128),
    MessageDeduplicationId: dedupIdFor(record),
  };
}

/** Sends dead-letter records to their queues (names resolved once and cached). */
export class DeadLetterWriter {
  readonly #client: SQSClient;
  readonly #directory: QueueDirectory;
  readonly #maxMessageBytes: number;
  /** Queue URLs written to, for DLQ depth gauges. */
  readonly destinations = new Set<string>();

  constructor(client: SQSClient, directory: QueueDirectory, maxMessageBytes: number) {
    this.#client = client;
    this.#directory = directory;
    this.#maxMessageBytes = maxMessageBytes;
  }

  /** Resolves with the DLQ's URL once SQS accepted the message. */
  async write(destination: string, record: DeadLetterRecord): Promise<string> {
    let url: string;
    try {
      url = await this.#directory.urlFor(destination);
    } catch (error) {
      throw new SwitchyardError(
        'SWITCHYARD_DEAD_LETTER_PUBLISH',
        `dead-letter queue '${destination}' could not be resolved; the original stays in its queue`,
        { cause: error, retryable: true, details: { destination } },
      );
    }
    const message = buildDeadLetterMessage(record, { fifo: isFifoName(url), maxMessageBytes: this.#maxMessageBytes });
    try {
      await this.#client.send(new SendMessageCommand({ QueueUrl: url, ...message }));
    } catch (error) {
      throw new SwitchyardError(
        'SWITCHYARD_DEAD_LETTER_PUBLISH',
        `SendMessage to dead-letter queue '${destination}' failed; the original stays in its queue`,
        { cause: error, retryable: true, details: { destination } },
      );
    }
    this.destinations.add(url);
    return url;
  }
}
