// How a DeadLetterRecord travels: the dead-lettered message keeps the original body byte for byte
// and the original headers unchanged, and the record's other fields ride along as `sy-dlq-*`
// headers. Every transport (in-memory, Kafka, SQS) writes and reads the same set, so a DLQ written
// by one can be inspected and redriven by any tool that knows these names. Re-dead-lettering
// replaces the previous `sy-dlq-*` values rather than appending (the pile-up Spring Kafka warns of),
// and the error message and stack are capped so the headers stay within a record's size limit.

import type { DeadLetterError, DeadLetterReason, DeadLetterRecord } from './dead-letter.js';
import type { SourcePosition } from './envelope.js';
import { setHeader } from './header-map.js';

export const DEAD_LETTER_HEADER_PREFIX = 'sy-dlq-';

/** Every header name the record is written under. */
export const DeadLetterHeaders = Object.freeze({
  reason: 'sy-dlq-reason',
  sourceKind: 'sy-dlq-source-kind',
  sourceTopic: 'sy-dlq-source-topic',
  sourcePartition: 'sy-dlq-source-partition',
  sourceOffset: 'sy-dlq-source-offset',
  sourceQueue: 'sy-dlq-source-queue',
  sourceMessageId: 'sy-dlq-source-message-id',
  sourceReceiveCount: 'sy-dlq-source-receive-count',
  sourceGroupId: 'sy-dlq-source-group-id',
  consumerGroup: 'sy-dlq-consumer-group',
  messageId: 'sy-dlq-message-id',
  messageType: 'sy-dlq-message-type',
  key: 'sy-dlq-key',
  attempts: 'sy-dlq-attempts',
  firstFailureAt: 'sy-dlq-first-failure-at',
  lastFailureAt: 'sy-dlq-last-failure-at',
  errorClass: 'sy-dlq-error-class',
  errorCode: 'sy-dlq-error-code',
  errorMessage: 'sy-dlq-error-message',
  errorStack: 'sy-dlq-error-stack',
  /** `true` when the original was a Kafka tombstone (null body); the DLQ message then has an empty body. */
  tombstone: 'sy-dlq-tombstone',
});

/** Caps, in characters, so the headers never outgrow a record (Kafka 1 MB, SQS 256 KiB+). */
export const deadLetterHeaderLimits = Object.freeze({ errorMessage: 4_096, errorStack: 8_192 });

const REASONS: ReadonlySet<string> = new Set<DeadLetterReason>([
  'validation',
  'decode',
  'unknown-type',
  'non-retryable',
  'retries-exhausted',
  'budget-exhausted',
  'handler-requested',
  'timeout',
]);

function cap(value: string, limit: number): string {
  return value.length <= limit ? value : `${value.slice(0, limit - 1)}…`;
}

/** The original headers without any `sy-dlq-*` header from an earlier dead-lettering. */
export function stripDeadLetterHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers))
    if (!name.toLowerCase().startsWith(DEAD_LETTER_HEADER_PREFIX)) setHeader(out, name, value);
  return out;
}

/** Headers for the dead-lettered message: the original headers unchanged, plus the record. */
export function deadLetterHeaders(record: DeadLetterRecord): Record<string, string> {
  const h = DeadLetterHeaders;
  const out = stripDeadLetterHeaders(record.headers);
  out[h.reason] = record.reason;
  out[h.sourceKind] = record.source.kind;
  if (record.source.kind === 'log') {
    out[h.sourceTopic] = record.source.topic;
    out[h.sourcePartition] = String(record.source.partition);
    out[h.sourceOffset] = record.source.offset;
  } else {
    out[h.sourceQueue] = record.source.queue;
    out[h.sourceMessageId] = record.source.messageId;
    out[h.sourceReceiveCount] = String(record.source.receiveCount);
    if (record.source.groupId !== undefined) out[h.sourceGroupId] = record.source.groupId;
  }
  const group = record.consumerGroup ?? (record.source.kind === 'log' ? record.source.consumerGroup : undefined);
  if (group !== undefined) out[h.consumerGroup] = group;
  if (record.messageId !== undefined) out[h.messageId] = record.messageId;
  if (record.messageType !== undefined) out[h.messageType] = record.messageType;
  if (record.key !== undefined) out[h.key] = record.key;
  out[h.attempts] = String(record.attempts);
  out[h.firstFailureAt] = isoTime(record.firstFailureAt);
  out[h.lastFailureAt] = isoTime(record.lastFailureAt);
  out[h.errorClass] = record.error.className;
  if (record.error.code !== undefined) out[h.errorCode] = record.error.code;
  out[h.errorMessage] = cap(record.error.message, deadLetterHeaderLimits.errorMessage);
  if (record.error.stack !== undefined) out[h.errorStack] = cap(record.error.stack, deadLetterHeaderLimits.errorStack);
  if (record.body === null) out[h.tombstone] = 'true';
  return out;
}

/**
 * ISO 8601, or the number as it is when it is no Date. Core takes the first failure time from a
 * message's own `sy-first-failure-at` header, and a garbled one (8640000000000001, say) is a
 * positive finite number but beyond Date's range: toISOString() threw a RangeError, so the record
 * could never be written and the message was stuck. `readDeadLetterHeaders` leaves such a value out.
 */
function isoTime(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

type Mutable<T> = { -readonly [K in keyof T]?: T[K] };

function integer(value: string | undefined): number | undefined {
  if (value === undefined || !/^-?\d+$/.test(value)) return undefined;
  return Number(value);
}

function time(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The record's fields back out of a dead-lettered message's headers (names matched
 * case-insensitively). `headers` is the original set; `body` is the message body itself and is
 * not in the headers, so it is absent here. Fields that are missing or malformed are left out.
 */
export function readDeadLetterHeaders(headers: Readonly<Record<string, string>>): Partial<DeadLetterRecord> {
  const lower: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) lower[name.toLowerCase()] = value;
  const h = DeadLetterHeaders;
  const get = (name: string): string | undefined => lower[name];
  const out: Mutable<DeadLetterRecord> = { headers: stripDeadLetterHeaders(headers) };

  const reason = get(h.reason);
  if (reason !== undefined && REASONS.has(reason)) out.reason = reason as DeadLetterReason;
  const group = get(h.consumerGroup);
  if (group !== undefined) out.consumerGroup = group;

  const kind = get(h.sourceKind);
  let source: SourcePosition | undefined;
  if (kind === 'log') {
    const topic = get(h.sourceTopic);
    const partition = integer(get(h.sourcePartition));
    const offset = get(h.sourceOffset);
    if (topic !== undefined && partition !== undefined && offset !== undefined)
      source = { kind: 'log', topic, partition, offset, ...(group !== undefined ? { consumerGroup: group } : {}) };
  } else if (kind === 'queue') {
    const queue = get(h.sourceQueue);
    const messageId = get(h.sourceMessageId);
    const receiveCount = integer(get(h.sourceReceiveCount));
    const groupId = get(h.sourceGroupId);
    if (queue !== undefined && messageId !== undefined && receiveCount !== undefined)
      source = { kind: 'queue', queue, messageId, receiveCount, ...(groupId !== undefined ? { groupId } : {}) };
  }
  if (source) out.source = source;

  const messageId = get(h.messageId);
  if (messageId !== undefined) out.messageId = messageId;
  const messageType = get(h.messageType);
  if (messageType !== undefined) out.messageType = messageType;
  const key = get(h.key);
  if (key !== undefined) out.key = key;
  const attempts = integer(get(h.attempts));
  if (attempts !== undefined) out.attempts = attempts;
  const first = time(get(h.firstFailureAt));
  if (first !== undefined) out.firstFailureAt = first;
  const last = time(get(h.lastFailureAt));
  if (last !== undefined) out.lastFailureAt = last;

  const className = get(h.errorClass);
  const message = get(h.errorMessage);
  if (className !== undefined || message !== undefined) {
    const error: DeadLetterError = {
      className: className ?? 'Error',
      code: get(h.errorCode),
      message: message ?? '',
      stack: get(h.errorStack),
    };
    out.error = error;
  }
  if (get(h.tombstone) === 'true') out.body = null;
  return out;
}
