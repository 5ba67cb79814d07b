// A topic as Kafka stores it: a fixed number of partitions, each an append-only log with increasing
// offsets. Retention drops whole records from the head (Kafka drops segments; here the unit is one
// record), which advances the log start offset; offsets are never reused.

import { SwitchyardError } from '../errors.js';
import { Wakeup } from './wakeup.js';

export interface LogRecord {
  readonly topic: string;
  readonly partition: number;
  /** Decimal string, as Kafka offsets are exposed everywhere in Switchyard. */
  readonly offset: string;
  readonly key: string | undefined;
  /** `null` is a tombstone. */
  readonly body: Uint8Array | null;
  readonly headers: Readonly<Record<string, string>>;
  /** Record timestamp (producer CreateTime when given, else append time), ms since the epoch. */
  readonly timestamp: number;
  /** Broker time of the append; retention by time is measured from it. */
  readonly appendedAt: number;
}

export interface TopicOptions {
  /** Partition count (default 3). */
  readonly partitions?: number;
  /** Drop records appended longer ago than this (Kafka `retention.ms`). Unlimited when absent. */
  readonly retentionMs?: number;
  /** Keep at most this many records per partition (stands in for Kafka `retention.bytes`). */
  readonly retentionMessages?: number;
}

export class PartitionLog {
  readonly topic: string;
  readonly partition: number;
  /** Wakes fetch loops waiting at the end of the log. */
  readonly appended = new Wakeup();
  #records: LogRecord[] = [];
  #startOffset = 0;

  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
  }

  /** First offset still stored (Kafka's log start offset). */
  get startOffset(): number {
    return this.#startOffset;
  }

  /** Offset the next append gets (Kafka's log end offset / high watermark). */
  get endOffset(): number {
    return this.#startOffset + this.#records.length;
  }

  append(record: Omit<LogRecord, 'topic' | 'partition' | 'offset'>): LogRecord {
    const stored: LogRecord = Object.freeze({
      ...record,
      topic: this.topic,
      partition: this.partition,
      offset: String(this.endOffset),
    });
    this.#records.push(stored);
    return stored;
  }

  /** Up to `max` records from `offset` on (an offset below the start yields nothing: out of range). */
  read(offset: number, max: number): LogRecord[] {
    if (offset < this.#startOffset) return [];
    const from = offset - this.#startOffset;
    return this.#records.slice(from, from + max);
  }

  all(): readonly LogRecord[] {
    return this.#records;
  }

  /** The earliest offset whose timestamp is at or after `timestamp` (Kafka ListOffsets), else the end. */
  offsetForTimestamp(timestamp: number): number {
    const index = this.#records.findIndex((r) => r.timestamp >= timestamp);
    return index < 0 ? this.endOffset : this.#startOffset + index;
  }

  /** Applies retention; returns how many records were dropped. */
  enforceRetention(now: number, options: TopicOptions): number {
    let drop = 0;
    if (options.retentionMs !== undefined) {
      const cutoff = now - options.retentionMs;
      while (drop < this.#records.length && this.#records[drop]!.appendedAt <= cutoff) drop++;
    }
    if (options.retentionMessages !== undefined) {
      drop = Math.max(drop, this.#records.length - options.retentionMessages);
    }
    if (drop > 0) {
      this.#records = this.#records.slice(drop);
      this.#startOffset += drop;
    }
    return drop;
  }
}

export class TopicLog {
  readonly name: string;
  readonly options: Required<Pick<TopicOptions, 'partitions'>> & TopicOptions;
  readonly partitions: readonly PartitionLog[];
  /** Next partition for a record without a key. */
  roundRobin = 0;

  constructor(name: string, options: TopicOptions) {
    this.name = name;
    this.options = { ...options, partitions: options.partitions ?? 3 };
    this.partitions = Array.from({ length: this.options.partitions }, (_, p) => new PartitionLog(name, p));
  }

  partition(index: number): PartitionLog {
    const log = this.partitions[index];
    if (!log)
      throw new SwitchyardError('SWITCHYARD_TRANSPORT', `topic '${this.name}' has no partition ${index}`, {
        retryable: false,
        details: { topic: this.name, partition: index },
      });
    return log;
  }

  enforceRetention(now: number): void {
    for (const p of this.partitions) p.enforceRetention(now, this.options);
  }
}
