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
  // Records before #head were dropped by retention but are still in the array: the prefix is cut
  // off only once it is half the array, so a full log that drops one record per append costs O(1)
  // per append instead of a copy of the partition.
  #records: LogRecord[] = [];
  #head = 0;
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
    return this.#startOffset + this.#records.length - this.#head;
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
    const from = offset - this.#startOffset + this.#head;
    return this.#records.slice(from, from + max);
  }

  all(): readonly LogRecord[] {
    this.#compact();
    return this.#records;
  }

  /** The earliest offset whose timestamp is at or after `timestamp` (Kafka ListOffsets), else the end. */
  offsetForTimestamp(timestamp: number): number {
    for (let i = this.#head; i < this.#records.length; i++)
      if (this.#records[i]!.timestamp >= timestamp) return this.#startOffset + i - this.#head;
    return this.endOffset;
  }

  /** Applies retention; returns how many records were dropped. */
  enforceRetention(now: number, options: TopicOptions): number {
    const stored = this.#records.length - this.#head;
    let drop = 0;
    if (options.retentionMs !== undefined) {
      const cutoff = now - options.retentionMs;
      while (drop < stored && this.#records[this.#head + drop]!.appendedAt <= cutoff) drop++;
    }
    if (options.retentionMessages !== undefined) drop = Math.max(drop, stored - options.retentionMessages);
    if (drop > 0) {
      // Cleared so the dropped records can be collected before the prefix is cut off.
      this.#records.fill(undefined as unknown as LogRecord, this.#head, this.#head + drop);
      this.#head += drop;
      this.#startOffset += drop;
      if (this.#head * 2 >= this.#records.length) this.#compact();
    }
    return drop;
  }

  #compact(): void {
    if (this.#head === 0) return;
    this.#records = this.#records.slice(this.#head);
    this.#head = 0;
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
