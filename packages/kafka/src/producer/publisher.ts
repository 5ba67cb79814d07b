// Batched publishing with a bounded buffer. Publishes are collected for `lingerMs` (or until
// `batchBytes` are waiting) and sent as one request; one request is in flight at a time, so an
// idempotent producer keeps per-partition order and what arrives meanwhile forms the next batch.
// Memory is bounded by `bufferBytes` (waiting + in flight): when full, `publish` waits up to
// `bufferTimeoutMs` for room and then fails with SWITCHYARD_BACKPRESSURE, never growing unbounded.

import { type Clock, hasCode, type OutgoingMessage, SwitchyardError } from '@switchyard/core';
import type { DriverMessage, DriverRecordMetadata, DriverTopicMessages } from '../driver/driver.js';
import { messageBytes, toDriverMessage } from '../records.js';

export type BatchSender = (batch: readonly DriverTopicMessages[]) => Promise<DriverRecordMetadata[]>;

export interface PublisherOptions {
  readonly lingerMs: number;
  readonly batchBytes: number;
  readonly bufferBytes: number;
  readonly bufferTimeoutMs: number;
  readonly clock: Clock;
}

interface Pending {
  readonly topic: string;
  readonly messages: readonly DriverMessage[];
  readonly bytes: number;
  /** When it was queued: the linger runs from the oldest waiting publish. */
  readonly queuedAt: number;
  resolve(): void;
  reject(error: unknown): void;
}

interface Waiter {
  readonly bytes: number;
  wake(): void;
}

export class KafkaPublisher {
  readonly #send: () => BatchSender;
  readonly #options: PublisherOptions;
  #pending: Pending[] = [];
  #pendingBytes = 0;
  /** Bytes waiting plus bytes in flight. */
  #buffered = 0;
  #waiters: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight: Promise<void> | undefined;
  #closed = false;

  /** `sender` is read at each flush, so a transaction can take over sending while it is open. */
  constructor(sender: () => BatchSender, options: PublisherOptions) {
    this.#send = sender;
    this.#options = options;
  }

  get bufferedBytes(): number {
    return this.#buffered;
  }

  async publish(topic: string, messages: readonly OutgoingMessage[], signal?: AbortSignal): Promise<void> {
    const records: DriverMessage[] = [];
    let bytes = 0;
    for (const message of messages) {
      if (message.delayMs !== undefined && message.delayMs > 0)
        throw new SwitchyardError('SWITCHYARD_CAPABILITY', 'Kafka has no delayed delivery: publish without delayMs', {
          retryable: false,
          details: { destination: topic, messageId: message.id },
        });
      records.push(toDriverMessage(message));
      bytes += messageBytes(message);
    }
    return this.publishRecords(topic, records, bytes, signal);
  }

  /** Publishes records as they are (raw header bytes); `bytes` is their buffer footprint. */
  async publishRecords(
    topic: string,
    records: readonly DriverMessage[],
    bytes: number = recordsBytes(records),
    signal?: AbortSignal,
  ): Promise<void> {
    if (this.#closed)
      throw new SwitchyardError('SWITCHYARD_SHUTDOWN', 'the Kafka publisher is closed', { retryable: false });
    if (records.length === 0) return;
    if (bytes > this.#options.bufferBytes)
      throw new SwitchyardError(
        'SWITCHYARD_MESSAGE_TOO_LARGE',
        `publish of ${bytes} bytes exceeds the producer buffer (${this.#options.bufferBytes} bytes)`,
        { retryable: false, details: { destination: topic, bytes } },
      );
    // Queued in the same turn when there is room, so a flush() or close() right after sees it.
    const waiting = this.#reserve(bytes, signal, topic);
    if (waiting !== undefined) await waiting;
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ topic, messages: records, bytes, queuedAt: this.#options.clock.now(), resolve, reject });
      this.#pendingBytes += bytes;
      this.#sendWhenDue();
    });
  }

  /** Resolves when everything published so far was acknowledged (or failed). */
  async flush(): Promise<void> {
    while (this.#pending.length > 0 || this.#inFlight) {
      if (!this.#inFlight) this.#kick();
      await this.#inFlight?.catch(() => {});
    }
  }

  /** Flushes, then refuses new publishes. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) waiter.wake();
  }

  /** Takes buffer room: at once (undefined) when there is some, else a promise of it. */
  #reserve(bytes: number, signal: AbortSignal | undefined, topic: string): Promise<void> | undefined {
    if (this.#waiters.length === 0 && this.#buffered + bytes <= this.#options.bufferBytes) {
      this.#buffered += bytes;
      return undefined;
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const started = this.#options.clock.now();
      const timer = setTimeout(() => {
        giveUp();
        reject(
          new SwitchyardError(
            'SWITCHYARD_BACKPRESSURE',
            `Kafka producer buffer full (${this.#buffered} of ${this.#options.bufferBytes} bytes) for ${this.#options.bufferTimeoutMs} ms: the broker is not keeping up`,
            { details: { destination: topic, bytes, waitedMs: this.#options.clock.now() - started } },
          ),
        );
      }, this.#options.bufferTimeoutMs);
      const onAbort = () => {
        giveUp();
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        bytes,
        wake: () => {
          finish();
          if (this.#closed) {
            reject(new SwitchyardError('SWITCHYARD_SHUTDOWN', 'the Kafka publisher is closed', { retryable: false }));
            return;
          }
          this.#buffered += bytes;
          resolve();
        },
      };
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
      };
      // It may have been the head that held back smaller publishes that fit: they go now, not
      // when some request in flight completes (which can take longer than their own timeout).
      const giveUp = () => {
        finish();
        this.#admitWaiters();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #release(bytes: number): void {
    this.#buffered -= bytes;
    this.#admitWaiters();
  }

  #admitWaiters(): void {
    // First come, first served: a large waiter at the head is not overtaken by smaller ones.
    while (this.#waiters.length > 0) {
      const head = this.#waiters[0]!;
      if (this.#buffered + head.bytes > this.#options.bufferBytes) break;
      head.wake();
    }
  }

  #kick(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#inFlight || this.#pending.length === 0) return;
    const batch = this.#takeBatch();
    this.#inFlight = this.#sendBatch(batch).finally(() => {
      this.#inFlight = undefined;
      this.#sendWhenDue();
    });
  }

  /**
   * Sends now when a batch is full or the oldest waiting publish has lingered `lingerMs`, else
   * when it will have. Measured from the oldest publish (as Kafka's own producer does), not from
   * the end of the last request: kicking as soon as a request completes sent the few publishes
   * that had come back first alone, and the rest waited a whole round trip behind them.
   */
  #sendWhenDue(): void {
    if (this.#inFlight || this.#pending.length === 0) return;
    const { lingerMs, batchBytes, clock } = this.#options;
    // At most lingerMs: a wall clock stepped back must not hold the batch for the size of the step.
    const dueIn = Math.min(lingerMs, this.#pending[0]!.queuedAt + lingerMs - clock.now());
    if (this.#pendingBytes >= batchBytes || dueIn <= 0) {
      this.#kick();
      return;
    }
    this.#timer ??= setTimeout(() => this.#kick(), dueIn);
  }

  #takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let bytes = 0;
    while (this.#pending.length > 0) {
      const next = this.#pending[0]!;
      if (batch.length > 0 && bytes + next.bytes > this.#options.batchBytes) break;
      batch.push(next);
      bytes += next.bytes;
      this.#pending.shift();
    }
    this.#pendingBytes -= bytes;
    return batch;
  }

  async #sendBatch(batch: Pending[]): Promise<void> {
    try {
      await this.#send()(group(batch));
      for (const entry of batch) entry.resolve();
    } catch (error) {
      if (batch.length > 1 && !isRetriable(error)) {
        // One bad record (too large, invalid topic) must not fail the others: send each alone.
        for (const entry of batch) {
          try {
            await this.#send()(group([entry]));
            entry.resolve();
          } catch (single) {
            entry.reject(publishError(entry.topic, single));
          }
        }
      } else {
        for (const entry of batch) entry.reject(publishError(entry.topic, error));
      }
    } finally {
      let bytes = 0;
      for (const entry of batch) bytes += entry.bytes;
      this.#release(bytes);
    }
  }
}

export function recordsBytes(records: readonly DriverMessage[]): number {
  let size = 0;
  for (const r of records) {
    size += (r.value?.length ?? 0) + (r.key?.length ?? 0);
    for (const [name, value] of Object.entries(r.headers)) size += name.length + value.length;
  }
  return size;
}

function group(batch: readonly Pending[]): DriverTopicMessages[] {
  const byTopic = new Map<string, DriverMessage[]>();
  for (const entry of batch) {
    const list = byTopic.get(entry.topic);
    // A loop, not push(...messages): spreading a large publishBatch overflows the call stack.
    if (list === undefined) byTopic.set(entry.topic, entry.messages.slice());
    else for (const message of entry.messages) list.push(message);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** kafkajs marks transient errors `retriable`; an error that says nothing is treated as transient. */
export function isRetriable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const name = (current as { name?: unknown }).name;
    const type = (current as { type?: unknown }).type;
    if (type === 'MESSAGE_TOO_LARGE' || type === 'INVALID_TOPIC_EXCEPTION' || type === 'RECORD_LIST_TOO_LARGE')
      return false;
    if (name === 'KafkaJSNonRetriableError' && !(current as { cause?: unknown }).cause) return false;
    const flag = (current as { retriable?: unknown }).retriable;
    if (flag === false && name !== 'KafkaJSNonRetriableError' && name !== 'KafkaJSNumberOfRetriesExceeded')
      return false;
    current = (current as { cause?: unknown }).cause;
  }
  return true;
}

export function isTooLarge(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const type = (current as { type?: unknown }).type;
    if (type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE') return true;
    if (hasCode(current, 'SWITCHYARD_MESSAGE_TOO_LARGE')) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

function publishError(topic: string, cause: unknown): SwitchyardError {
  if (isTooLarge(cause))
    return new SwitchyardError('SWITCHYARD_MESSAGE_TOO_LARGE', `record too large for topic '${topic}'`, {
      cause,
      retryable: false,
      details: { destination: topic },
    });
  const message = cause instanceof Error ? cause.message : String(cause);
  return new SwitchyardError('SWITCHYARD_PUBLISH', `publish to '${topic}' failed: ${message}`, {
    cause,
    retryable: isRetriable(cause),
    details: { destination: topic },
  });
}
