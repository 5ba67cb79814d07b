// Kafka records to RawMessages and back. Decoding never throws: a record with garbled headers,
// a binary key or no value still becomes a RawMessage, so core can decide (and dead-letter it with
// a reason) instead of the fetch loop failing on it.

import { type OutgoingMessage, type RawMessage, setHeader } from '@switchyard/core';
import type { DriverHeaderValue, DriverMessage, DriverRecord } from './driver/driver.js';

/** Headers the Kafka binding itself reads and writes. */
export const KafkaHeaders = {
  /** When a record on a retry topic becomes due, ms since the epoch. */
  retryDueAt: 'sy-retry-due-at',
  /** The delivery attempt a retry-topic record stands for (2 for the first retry). */
  retryAttempt: 'sy-retry-attempt',
  /** Where the record was first consumed, kept through every retry tier. */
  retryOriginalTopic: 'sy-retry-original-topic',
  retryOriginalPartition: 'sy-retry-original-partition',
  retryOriginalOffset: 'sy-retry-original-offset',
  /** Set on records that were diverted behind a retried record of the same key (parkSameKey). */
  parked: 'sy-parked',
  /** The source-partition parking a retried or diverted record belongs to (parkSameKey). */
  parkedBy: 'sy-parked-by',
  /** First failure time, so the retry policy's elapsed time survives retry topics (core's wire header). */
  firstFailureAt: 'sy-first-failure-at',
  /** Per-key sequence number stamped by `KeySequencer`. */
  sequence: 'sy-seq',
  /** Which producer instance the sequence belongs to. */
  sequenceSource: 'sy-seq-source',
  /** Set on a dead-letter record whose body was left out because the record was too large to write. */
  bodyOmitted: 'sy-dlq-body-omitted',
  /** Set on a dead-letter record written with diagnostics only: the key's size in bytes. */
  keyOmitted: 'sy-dlq-key-omitted',
} as const;

const utf8 = new TextDecoder('utf-8');

function headerString(value: Buffer | string): string {
  return typeof value === 'string' ? value : utf8.decode(value);
}

/**
 * Header names lower-cased, values decoded as UTF-8 (invalid bytes become U+FFFD rather than an
 * error). A repeated header keeps its last value, which is the one Kafka's `lastHeader` returns.
 */
export function decodeHeaders(
  headers: Readonly<Record<string, DriverHeaderValue>> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  // for-in rather than Object.entries: this runs for every record, and the pairs were garbage.
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || value === null) continue;
    const last = Array.isArray(value) ? value[value.length - 1] : (value as Buffer | string);
    if (last === undefined || last === null) continue;
    setHeader(out, name.toLowerCase(), headerString(last));
  }
  return out;
}

export function recordKey(record: DriverRecord): string | undefined {
  return record.key === null ? undefined : utf8.decode(record.key);
}

/** `key` is the record's key as `recordKey` decodes it (the caller has it already). */
export function toRawMessage(
  record: DriverRecord,
  topic: string,
  partition: number,
  consumerGroup: string,
  headers: Record<string, string>,
  key: string | undefined,
): RawMessage {
  const timestamp = Number(record.timestamp);
  return {
    body: record.value,
    key,
    headers,
    timestamp: Number.isFinite(timestamp) ? timestamp : 0,
    source: { kind: 'log', topic, partition, offset: record.offset, consumerGroup },
  };
}

export function recordBytes(record: DriverRecord): number {
  return (record.value?.length ?? 0) + (record.key?.length ?? 0);
}

export function toDriverMessage(message: OutgoingMessage): DriverMessage {
  return {
    key: message.key ?? null,
    value: asBuffer(message.body),
    headers: message.headers,
    timestamp: message.timestamp,
  };
}

/** The bytes as a Buffer without copying (core's encoder already writes Buffers). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Bytes a message takes in the producer buffer (body, key, headers). */
export function messageBytes(message: OutgoingMessage): number {
  let size = message.body.byteLength + (message.key?.length ?? 0);
  const headers = message.headers;
  for (const name in headers) size += name.length + (headers[name]?.length ?? 0);
  return size;
}

/** A record's headers as they go back onto a topic: the original bytes, untouched. */
export function rawHeaders(
  headers: Readonly<Record<string, DriverHeaderValue>> | undefined,
): Record<string, Buffer | string> {
  const out: Record<string, Buffer | string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined || value === null) continue;
    const last = Array.isArray(value) ? value[value.length - 1] : (value as Buffer | string);
    if (last !== undefined && last !== null) setHeader(out, name, last);
  }
  return out;
}
