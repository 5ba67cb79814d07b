// The record written to a Kafka dead-letter topic: keyed as the original, the original value byte
// for byte, the original headers plus core's `sy-dlq-*` diagnostic headers, and (by default) the
// `kafka_dlt-*` headers Spring Kafka writes, encoded as Spring encodes them (partition as a
// big-endian int32, offset as a big-endian int64), so Spring-based tools can read our DLQs.
// Re-dead-lettering replaces these headers instead of appending a second set.

import {
  DEAD_LETTER_HEADER_PREFIX,
  DeadLetterHeaders,
  type DeadLetterRecord,
  deadLetterHeaders,
  setHeader,
} from '@switchyard/core';
import type { DriverMessage, DriverRecord } from './driver/driver.js';
import { asBuffer, KafkaHeaders, rawHeaders } from './records.js';

export const SpringDeadLetterHeaders = {
  originalTopic: 'kafka_dlt-original-topic',
  originalPartition: 'kafka_dlt-original-partition',
  originalOffset: 'kafka_dlt-original-offset',
  originalConsumerGroup: 'kafka_dlt-original-consumer-group',
  exceptionFqcn: 'kafka_dlt-exception-fqcn',
  exceptionMessage: 'kafka_dlt-exception-message',
  exceptionStacktrace: 'kafka_dlt-exception-stacktrace',
} as const;

const SPRING_PREFIX = 'kafka_dlt-';
/** Headers that steer retry-topic delivery and mean nothing on a dead-letter topic. */
const RETRY_CONTROL = new Set<string>([
  KafkaHeaders.retryDueAt,
  KafkaHeaders.parked,
  KafkaHeaders.parkedBy,
  KafkaHeaders.bodyOmitted,
  KafkaHeaders.keyOmitted,
]);

export interface DeadLetterMessageOptions {
  readonly springHeaders: boolean;
  /** Leave the value out (it was too large to write); `sy-dlq-body-omitted` says how large it was. */
  readonly omitBody?: boolean;
  /**
   * The last resort when even that is too large: no value, no key and none of the original headers,
   * only the diagnostics; `sy-dlq-body-omitted` and `sy-dlq-key-omitted` give the sizes left out.
   */
  readonly diagnosticsOnly?: boolean;
  /** The consumed record: its header bytes and key bytes are copied as they were, not re-encoded. */
  readonly original?: DriverRecord;
}

const INT32_MAX = 2 ** 31 - 1;
const INT64_MAX = 2n ** 63n - 1n;

export function int32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(value);
  return b;
}

export function int64(value: string): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(value));
  return b;
}

/** Where the message was first consumed: the retry headers when it came through a retry topic. */
export function originalPosition(
  record: DeadLetterRecord,
): { topic: string; partition: number; offset: string } | undefined {
  const h = record.headers;
  const topic = h[KafkaHeaders.retryOriginalTopic];
  const partition = Number(h[KafkaHeaders.retryOriginalPartition]);
  const offset = h[KafkaHeaders.retryOriginalOffset];
  // The headers came with the record and may be anything: only a position Spring's int32 partition
  // and int64 offset can hold is used, or every dead-letter write would throw on it.
  if (
    topic !== undefined &&
    Number.isInteger(partition) &&
    partition >= 0 &&
    partition <= INT32_MAX &&
    offset !== undefined &&
    /^\d{1,19}$/.test(offset) &&
    BigInt(offset) <= INT64_MAX
  )
    return { topic, partition, offset };
  if (record.source.kind === 'log')
    return { topic: record.source.topic, partition: record.source.partition, offset: record.source.offset };
  return undefined;
}

export function deadLetterMessage(record: DeadLetterRecord, options: DeadLetterMessageOptions): DriverMessage {
  const headers: Record<string, string | Buffer> = {};
  const keep = (name: string) => {
    const lower = name.toLowerCase();
    return (
      !lower.startsWith(SPRING_PREFIX) && !lower.startsWith(DEAD_LETTER_HEADER_PREFIX) && !RETRY_CONTROL.has(lower)
    );
  };
  const bare = options.diagnosticsOnly === true;
  const originals = options.original ? rawHeaders(options.original.headers) : record.headers;
  if (!bare) for (const [name, value] of Object.entries(originals)) if (keep(name)) setHeader(headers, name, value);
  for (const [name, value] of Object.entries(deadLetterHeaders(record)))
    if (name.startsWith(DEAD_LETTER_HEADER_PREFIX) && !(bare && name === DeadLetterHeaders.key))
      setHeader(headers, name, value);
  if (options.springHeaders) {
    const s = SpringDeadLetterHeaders;
    const origin = originalPosition(record);
    if (origin) {
      headers[s.originalTopic] = origin.topic;
      headers[s.originalPartition] = int32(origin.partition);
      headers[s.originalOffset] = int64(origin.offset);
    }
    const group = record.consumerGroup ?? (record.source.kind === 'log' ? record.source.consumerGroup : undefined);
    if (group !== undefined) headers[s.originalConsumerGroup] = group;
    headers[s.exceptionFqcn] = record.error.className;
    headers[s.exceptionMessage] = record.error.message.slice(0, 4_096);
    if (record.error.stack !== undefined) headers[s.exceptionStacktrace] = record.error.stack.slice(0, 8_192);
  }
  const body = record.body ?? new Uint8Array(0);
  const key = options.original ? options.original.key : (record.key ?? null);
  if (options.omitBody || bare) headers[KafkaHeaders.bodyOmitted] = String(body.byteLength);
  if (bare) headers[KafkaHeaders.keyOmitted] = String(key === null ? 0 : Buffer.byteLength(key));
  return {
    key: bare ? null : key,
    value: options.omitBody || bare ? Buffer.alloc(0) : asBuffer(body),
    headers,
  };
}
