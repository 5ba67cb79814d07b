// Operator tools for a dead-letter queue: look at what is in it without consuming it for good, and
// move its messages back. Redrive uses SQS's own StartMessageMoveTask where the server has it, and
// otherwise receives, re-sends (rate-limited) and only then deletes: a crash mid-way may send a
// message twice, never lose one.

import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import {
  type Clock,
  DEAD_LETTER_HEADER_PREFIX,
  type DeadLetterRecord,
  InvalidOptionError,
  optionValueText,
  readDeadLetterHeaders,
  SwitchyardError,
  setHeader,
  systemClock,
  TokenBucket,
} from '@switchyard/core';
import { decodeBody } from './body-codec.js';
import { decodeAttributes, PACKED_HEADERS_ATTRIBUTE } from './message-attributes.js';
import { SqsLimits } from './options.js';
import { isFifoName, QueueDirectory, queueNameFromArn, queueNameOf } from './queue-directory.js';

export interface SqsDeadLetter {
  readonly messageId: string;
  /** The original body, byte for byte (base64-carried bodies decoded). */
  readonly body: Uint8Array;
  /** Every header, the `sy-dlq-*` record fields included. */
  readonly headers: Readonly<Record<string, string>>;
  /** Written by Switchyard when it dead-lettered the message (reason, error, source, attempts …). */
  readonly record: Partial<DeadLetterRecord> | undefined;
  /** Moved by the queue's redrive policy (maxReceiveCount) rather than by Switchyard. */
  readonly movedByRedrivePolicy: boolean;
  /** The queue SQS moved it from, when SQS says (redrive policy moves). */
  readonly sourceQueueArn: string | undefined;
  readonly sentAt: number | undefined;
  /** Receives in the DLQ, this inspection included. */
  readonly receiveCount: number;
}

export interface InspectDeadLettersOptions {
  /** Most messages to show. Default 10. */
  readonly limit?: number;
  /** How long listed messages stay hidden while the listing goes on, seconds. Default 30. */
  readonly visibilityTimeoutS?: number;
}

function recordOf(headers: Record<string, string>): Partial<DeadLetterRecord> | undefined {
  const hasRecord = Object.keys(headers).some((name) => name.startsWith(DEAD_LETTER_HEADER_PREFIX));
  return hasRecord ? readDeadLetterHeaders(headers) : undefined;
}

async function giveBack(client: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += SqsLimits.maxBatchEntries) {
    const chunk = messages.slice(i, i + SqsLimits.maxBatchEntries);
    await client.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((m, j) => ({
          Id: String(j),
          ReceiptHandle: m.ReceiptHandle as string,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
}

/**
 * Lists dead letters with their records. Messages are received with a short visibility and made
 * visible again before returning, so nothing is consumed; each look counts as a receive, so a DLQ
 * with a redrive policy of its own should not be inspected more often than its maxReceiveCount.
 */
export async function inspectDeadLetters(
  client: SQSClient,
  deadLetterQueue: string,
  options: InspectDeadLettersOptions = {},
): Promise<SqsDeadLetter[]> {
  const limit = options.limit ?? 10;
  if (!Number.isInteger(limit) || limit < 1)
    throw new InvalidOptionError(
      'limit',
      `must be a positive integer, got ${optionValueText(limit)}`,
      'pass e.g. limit: 10',
    );
  const visibilityTimeoutS = options.visibilityTimeoutS ?? 30;
  const queueUrl = await new QueueDirectory(client).urlFor(deadLetterQueue);
  const seen: Message[] = [];
  const entries: SqsDeadLetter[] = [];
  try {
    while (entries.length < limit) {
      const out = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(SqsLimits.maxBatchEntries, limit - entries.length),
          WaitTimeSeconds: 1,
          VisibilityTimeout: visibilityTimeoutS,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
      );
      const messages = (out.Messages ?? []).filter((m) => m.ReceiptHandle);
      if (messages.length === 0) break;
      seen.push(...messages);
      for (const m of messages) {
        const { headers } = decodeAttributes(m.MessageAttributes as never);
        const system = m.Attributes ?? {};
        const body = decodeBody(m.Body ?? '', headers).bytes;
        const record = recordOf(headers);
        entries.push({
          messageId: m.MessageId ?? '',
          body,
          headers,
          record,
          movedByRedrivePolicy: record === undefined,
          sourceQueueArn: system.DeadLetterQueueSourceArn,
          sentAt: system.SentTimestamp === undefined ? undefined : Number(system.SentTimestamp),
          receiveCount: Number(system.ApproximateReceiveCount ?? '1'),
        });
      }
    }
  } finally {
    await giveBack(client, queueUrl, seen);
  }
  return entries;
}

export interface SqsRedriveOptions {
  readonly client: SQSClient;
  /** The dead-letter queue (name or URL). */
  readonly from: string;
  /**
   * Where the messages go (name or URL). Default: each message's source queue, as SQS recorded it
   * (redrive-policy moves) or as its dead-letter record says.
   */
  readonly to?: string;
  /** Messages per second, at most. */
  readonly ratePerSecond: number;
  /** Move at most this many (forces the receive/send/delete path: a move task cannot stop at a count). */
  readonly max?: number;
  /** `auto` (default): a move task where the server has one, else receive/send/delete. */
  readonly mode?: 'auto' | 'move-task' | 'receive-send-delete';
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
}

export interface SqsRedriveResult {
  readonly mode: 'move-task' | 'receive-send-delete';
  readonly moved: number;
  /** Receive/send/delete: messages left in the DLQ because no destination was known or the send failed. */
  readonly failed: number;
  /** Why each of those stayed (the first 100), so a failed redrive can be fixed without guessing. */
  readonly failures: ReadonlyArray<{ readonly messageId: string; readonly reason: string }>;
  /** Why the move task was not used, in `auto` mode. */
  readonly fallbackReason?: string;
}

async function arnOf(client: SQSClient, url: string): Promise<string> {
  const arn = (await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] })))
    .Attributes?.QueueArn;
  if (!arn) throw new SwitchyardError('SWITCHYARD_TRANSPORT', `no QueueArn for ${url}`);
  return arn;
}

/** Moves messages from a DLQ back to a queue. */
export async function redrive(options: SqsRedriveOptions): Promise<SqsRedriveResult> {
  const { client, ratePerSecond } = options;
  if (!(typeof ratePerSecond === 'number' && Number.isFinite(ratePerSecond) && ratePerSecond > 0))
    throw new InvalidOptionError(
      'ratePerSecond',
      `must be a positive number, got ${optionValueText(ratePerSecond)}`,
      'pass e.g. ratePerSecond: 50',
    );
  if (options.max !== undefined && !(Number.isInteger(options.max) && options.max > 0))
    throw new InvalidOptionError(
      'max',
      `must be a positive integer, got ${optionValueText(options.max)}`,
      'pass e.g. max: 100',
    );
  const mode = options.mode ?? 'auto';
  if (mode === 'move-task' && options.max !== undefined)
    throw new InvalidOptionError(
      'max',
      'a move task cannot stop at a count',
      "drop max, or use mode: 'receive-send-delete'",
    );
  const directory = new QueueDirectory(client);
  const fromUrl = await directory.urlFor(options.from);
  const toUrl = options.to === undefined ? undefined : await directory.urlFor(options.to);
  // Compared as URLs: a name and a URL can be the same queue.
  if (toUrl === fromUrl)
    throw new InvalidOptionError(
      'to',
      `is the dead-letter queue itself (${fromUrl}): every message would be sent back where it was read`,
      'name the queue to send them to, or leave `to` out for each message’s source queue',
    );
  let fallbackReason: string | undefined;
  if (mode !== 'receive-send-delete' && options.max === undefined) {
    try {
      return await moveTask(client, fromUrl, toUrl, options);
    } catch (error) {
      if (mode === 'move-task' || !(error instanceof MoveTaskUnavailable)) throw error;
      fallbackReason = error.message;
    }
  } else if (options.max !== undefined) fallbackReason = 'max was given';
  const result = await receiveSendDelete(client, directory, fromUrl, toUrl, options);
  return fallbackReason === undefined ? result : { ...result, fallbackReason };
}

class MoveTaskUnavailable extends Error {}

async function moveTask(
  client: SQSClient,
  fromUrl: string,
  toUrl: string | undefined,
  options: SqsRedriveOptions,
): Promise<SqsRedriveResult> {
  const clock = options.clock ?? systemClock;
  const sourceArn = await arnOf(client, fromUrl);
  const destinationArn = toUrl === undefined ? undefined : await arnOf(client, toUrl);
  let handle: string | undefined;
  try {
    handle = (
      await client.send(
        new StartMessageMoveTaskCommand({
          SourceArn: sourceArn,
          ...(destinationArn === undefined ? {} : { DestinationArn: destinationArn }),
          MaxNumberOfMessagesPerSecond: Math.max(1, Math.floor(options.ratePerSecond)),
        }),
      )
    ).TaskHandle;
  } catch (error) {
    // Nothing moved yet, so falling back is safe: servers without the API (moto) answer with an
    // unknown-operation error or a page that is not JSON; AWS refuses queues that are no one's DLQ.
    throw new MoveTaskUnavailable(
      `StartMessageMoveTask failed: ${(error as Error)?.name}: ${(error as Error)?.message}`,
    );
  }
  for (;;) {
    await clock.sleep(250, options.signal);
    const tasks =
      (await client.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 }))).Results ?? [];
    const task = tasks.find((t) => t.TaskHandle === handle) ?? tasks[0];
    if (!task || task.Status === 'RUNNING') continue;
    if (task.Status !== 'COMPLETED')
      throw new SwitchyardError(
        'SWITCHYARD_TRANSPORT',
        `message move task ended ${task.Status}: ${task.FailureReason ?? ''}`,
        {
          details: { moved: task.ApproximateNumberOfMessagesMoved },
        },
      );
    return { mode: 'move-task', moved: task.ApproximateNumberOfMessagesMoved ?? 0, failed: 0, failures: [] };
  }
}

/** Attributes for the re-sent message: the original ones without the dead-letter record. */
function withoutRecord(
  attributes: Record<string, MessageAttributeValue> | undefined,
): Record<string, MessageAttributeValue> {
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (name.toLowerCase().startsWith(DEAD_LETTER_HEADER_PREFIX)) continue;
    if (name.toLowerCase() === PACKED_HEADERS_ATTRIBUTE && value.StringValue !== undefined) {
      try {
        const packed = JSON.parse(value.StringValue) as Record<string, string>;
        const kept = Object.fromEntries(
          Object.entries(packed).filter(([k]) => !k.toLowerCase().startsWith(DEAD_LETTER_HEADER_PREFIX)),
        );
        if (Object.keys(kept).length > 0) out[name] = { DataType: 'String', StringValue: JSON.stringify(kept) };
        continue;
      } catch {
        // Not ours to fix: passed on as it is.
      }
    }
    setHeader(out, name, value);
  }
  return out;
}

async function destinationOf(
  directory: QueueDirectory,
  message: Message,
  toUrl: string | undefined,
): Promise<string | undefined> {
  if (toUrl) return toUrl;
  const sourceArn = message.Attributes?.DeadLetterQueueSourceArn;
  if (sourceArn) return directory.urlFor(queueNameFromArn(sourceArn));
  const { headers } = decodeAttributes(message.MessageAttributes as never);
  const source = readDeadLetterHeaders(headers).source;
  if (source?.kind === 'queue') return directory.urlFor(source.queue);
  return undefined;
}

/** Failure reasons a redrive result lists (the count covers all of them). */
const MAX_LISTED_FAILURES = 100;

/** An SDK error as `Name: message`, for a failure reason. */
function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return typeof error === 'string' ? error : 'a non-Error value';
}

async function receiveSendDelete(
  client: SQSClient,
  directory: QueueDirectory,
  fromUrl: string,
  toUrl: string | undefined,
  options: SqsRedriveOptions,
): Promise<SqsRedriveResult> {
  const clock = options.clock ?? systemClock;
  const bucket = new TokenBucket({
    ratePerSecond: options.ratePerSecond,
    burst: Math.max(1, Math.min(10, Math.floor(options.ratePerSecond))),
    clock,
  });
  const max = options.max ?? Number.POSITIVE_INFINITY;
  let moved = 0;
  const failed = new Set<string>();
  const failures: Array<{ messageId: string; reason: string }> = [];
  const noteFailure = (m: Message, reason: string) => {
    const messageId = m.MessageId ?? (m.ReceiptHandle as string);
    if (failed.has(messageId)) return;
    failed.add(messageId);
    if (failures.length < MAX_LISTED_FAILURES) failures.push({ messageId, reason });
  };
  while (moved + failed.size < max) {
    options.signal?.throwIfAborted();
    const out = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: fromUrl,
        MaxNumberOfMessages: Math.min(SqsLimits.maxBatchEntries, max - moved - failed.size),
        WaitTimeSeconds: 1,
        // Long enough to send and delete; a crash leaves them to reappear here, not lost.
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
      options.signal ? { abortSignal: options.signal } : {},
    );
    const messages = (out.Messages ?? []).filter((m) => m.ReceiptHandle);
    if (messages.length === 0) break;
    const byDestination = new Map<string, Message[]>();
    const notSent: Message[] = [];
    for (const m of messages) {
      let destination: string | undefined;
      try {
        destination = await destinationOf(directory, m, toUrl);
      } catch (error) {
        noteFailure(m, `its source queue could not be resolved: ${errorText(error)}`);
        notSent.push(m);
        continue;
      }
      if (!destination) {
        noteFailure(m, 'it names no source queue (no dead-letter record, not moved by a redrive policy): pass `to`');
        notSent.push(m);
        continue;
      }
      const group = byDestination.get(destination);
      if (group) group.push(m);
      else byDestination.set(destination, [m]);
    }
    const sent: Message[] = [];
    for (const [destination, group] of byDestination) {
      // One token per message, so the pace holds whatever the batch size and the bucket's burst.
      for (let i = 0; i < group.length; i++) await bucket.take(1, options.signal);
      const fifo = isFifoName(destination);
      const entries: SendMessageBatchRequestEntry[] = group.map((m, i) => {
        const attributes = withoutRecord(m.MessageAttributes);
        const { headers } = decodeAttributes(m.MessageAttributes as never);
        return {
          Id: String(i),
          MessageBody: m.Body ?? ' ',
          ...(Object.keys(attributes).length > 0 ? { MessageAttributes: attributes } : {}),
          ...(fifo
            ? {
                MessageGroupId:
                  m.Attributes?.MessageGroupId ?? headers['sy-dlq-source-group-id'] ?? m.MessageId ?? 'redrive',
                // The DLQ message id: a re-run after a crash within five minutes is deduplicated.
                MessageDeduplicationId: m.MessageId ?? String(i),
              }
            : {}),
        };
      });
      const name = queueNameOf(destination);
      try {
        const result = await client.send(new SendMessageBatchCommand({ QueueUrl: destination, Entries: entries }));
        const failedEntries = new Map((result.Failed ?? []).map((f) => [f.Id, f]));
        group.forEach((m, i) => {
          const failure = failedEntries.get(String(i));
          if (!failure) sent.push(m);
          else {
            noteFailure(m, `'${name}' refused it: ${failure.Code ?? 'unknown'}: ${failure.Message ?? ''}`);
            notSent.push(m);
          }
        });
      } catch (error) {
        for (const m of group) {
          noteFailure(m, `SendMessageBatch to '${name}' failed: ${errorText(error)}`);
          notSent.push(m);
        }
      }
    }
    // Delete only what the destination accepted.
    if (sent.length > 0) {
      const del = await client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: fromUrl,
          Entries: sent.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
        }),
      );
      moved += sent.length - (del.Failed?.length ?? 0);
    }
    if (notSent.length > 0) {
      await giveBack(client, fromUrl, notSent).catch(() => {});
      // Messages that cannot move would be received again at once: stop instead of spinning on them.
      if (sent.length === 0) break;
    }
  }
  return { mode: 'receive-send-delete', moved, failed: failed.size, failures };
}
