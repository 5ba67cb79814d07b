// A queue with SQS semantics. A message is *delayed* until its delay passes, then *visible*; a
// receive makes it *in flight* for the visibility timeout and hands out a fresh receipt handle; it
// leaves the queue only when deleted with its current handle, and when the timeout lapses it becomes
// visible again and the next receive counts one more receive. FIFO queues keep one message in flight
// per message group, deliver a group strictly in order, run groups in parallel, and drop sends whose
// deduplication id was seen within the window. With a redrive policy, a message received
// `maxReceiveCount` times is moved to the dead-letter queue instead of being received again.

import { createHash, randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import {
  assertAbortSignal,
  InvalidOptionError,
  isOptionObject,
  optionKindText,
  optionValueText,
  refuseUnknownKeys,
  SwitchyardError,
} from '../errors.js';
import { copyBytes } from './bytes.js';
import { Wakeup } from './wakeup.js';

/** The service limits SQS enforces, which the in-memory queue enforces too so tests catch them. */
export const queueLimits = Object.freeze({
  maxVisibilityTimeoutMs: 43_200_000,
  maxDelayMs: 900_000,
  maxWaitTimeMs: 20_000,
  maxReceiveBatch: 10,
  minRetentionMs: 60_000,
  maxRetentionMs: 1_209_600_000,
});

export const queueDefaults = Object.freeze({
  visibilityTimeoutMs: 30_000,
  delayMs: 0,
  deduplicationWindowMs: 300_000,
  /** SQS's default message retention: 4 days. */
  retentionMs: 345_600_000,
});

export interface QueueOptions {
  /** How long a received message stays invisible (default 30 s, at most 12 h). */
  readonly visibilityTimeoutMs?: number;
  /** Queue-level delivery delay for new messages (default 0, at most 15 min). */
  readonly delayMs?: number;
  /** Receives before the broker moves a message to `deadLetterQueue` (SQS redrive policy). */
  readonly maxReceiveCount?: number;
  /** Name of an existing queue (FIFO for a FIFO source) that takes messages past `maxReceiveCount`. */
  readonly deadLetterQueue?: string;
  /** FIFO queue; inferred from a `.fifo` name suffix when absent. */
  readonly fifo?: boolean;
  /** FIFO: derive the deduplication id from the body's SHA-256 when a send gives none. */
  readonly contentBasedDeduplication?: boolean;
  /** FIFO: how long a deduplication id is remembered (default 5 min, as SQS). */
  readonly deduplicationWindowMs?: number;
  /** Messages older than this are dropped (default 4 days, 1 min to 14 days). */
  readonly retentionMs?: number;
}

export interface SendMessageInput {
  readonly body: Uint8Array;
  readonly headers?: Readonly<Record<string, string>>;
  /** FIFO message group id (required on FIFO queues); carried, but not ordered on, by standard queues. */
  readonly groupId?: string | undefined;
  /** Per-message delay (standard queues only, at most 15 min). */
  readonly delayMs?: number | undefined;
  /** FIFO deduplication id. */
  readonly deduplicationId?: string | undefined;
}

export interface SendResult {
  readonly messageId: string;
  readonly sequenceNumber: string | undefined;
  /** A FIFO send dropped because its deduplication id was seen within the window. */
  readonly duplicate: boolean;
}

export type QueueMessageState = 'visible' | 'in-flight' | 'delayed';

export interface QueueMessageView {
  readonly queue: string;
  readonly messageId: string;
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly groupId: string | undefined;
  readonly deduplicationId: string | undefined;
  readonly sequenceNumber: string | undefined;
  readonly state: QueueMessageState;
  readonly receiveCount: number;
  readonly sentAt: number;
  readonly firstReceivedAt: number | undefined;
  /** When it becomes (or became) visible. */
  readonly visibleAt: number;
  /** Set when the broker's redrive policy moved it here from that queue. */
  readonly deadLetterSourceQueue: string | undefined;
  /** Wrapped in a fan-out notification envelope (subscription without raw delivery). */
  readonly enveloped: boolean;
}

export interface ReceivedMessage extends QueueMessageView {
  /** Pass to delete / change visibility; replaced on every receive. */
  readonly receiptHandle: string;
}

export interface QueueDepth {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
  /** Age of the oldest message in the queue (SQS ApproximateAgeOfOldestMessage), 0 when empty. */
  readonly oldestAgeMs: number;
}

export interface ReceiveOptions {
  /** 1 to 10 (default 1). */
  readonly maxMessages?: number;
  /** Long poll: wait up to this long for a message (default 0, at most 20 s). */
  readonly waitTimeMs?: number;
  /** Override the queue's visibility timeout for these messages. */
  readonly visibilityTimeoutMs?: number;
  /** Stop waiting; resolves with what was received (nothing). */
  readonly signal?: AbortSignal;
}

interface StoredMessage {
  readonly messageId: string;
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly groupId: string | undefined;
  readonly deduplicationId: string | undefined;
  readonly sequenceNumber: string | undefined;
  readonly sentAt: number;
  readonly deadLetterSourceQueue: string | undefined;
  readonly enveloped: boolean;
  visibleAt: number;
  receiveCount: number;
  firstReceivedAt: number | undefined;
  receiptHandle: string | undefined;
  deleted: boolean;
}

/** A message as moved between queues (native redrive, operator redrive): identity and age kept. */
export interface MovedMessage {
  readonly messageId: string;
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly groupId: string | undefined;
  readonly deduplicationId: string | undefined;
  readonly sentAt: number;
  readonly deadLetterSourceQueue: string | undefined;
  readonly enveloped: boolean;
}

function checkDuration(option: string, value: number | undefined, min: number, max: number, fix: string): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value < min || value > max)
    throw new InvalidOptionError(
      option,
      `must be a number of milliseconds from ${min} to ${max}, got ${optionValueText(value)}`,
      fix,
    );
}

/** How an options object of the in-memory broker is named in its InvalidOptionErrors. */
export interface MemoryOptionsNames {
  /** The option a non-object is reported as: 'options' at the top level, else the nested object's name. */
  readonly option: string;
  /** Prefix of an unknown key ('' at the top level: the key alone). */
  readonly prefix: string;
  /** Whose options, for "is not <owner> option": 'a MemoryBroker', 'a queue'. */
  readonly owner: string;
  readonly example: string;
  /** The options cannot be left out (redrive, joinGroup): the fix does not offer the defaults. */
  readonly required?: boolean;
}

/**
 * Refuses options of the in-memory broker or transports that are not an options object, or that hold
 * a key `known` does not list, so a misspelt option fails instead of falling back to its default
 * (as the Kafka and SQS transports refuse theirs). Here because every memory module may import this
 * one without an import cycle.
 */
export function refuseUnknownOptions(value: unknown, known: readonly string[], names: MemoryOptionsNames): void {
  if (!isOptionObject(value))
    throw new InvalidOptionError(
      names.option,
      `must be an options object, got ${optionKindText(value)}`,
      names.required ? `pass e.g. ${names.example}` : `pass e.g. ${names.example}, or leave it out for the defaults`,
    );
  refuseUnknownKeys(value, known, names.owner, (key) => (names.prefix === '' ? key : `${names.prefix}.${key}`));
}

/** A switch (`fifo`, `autoCreate`, …): a string 'false' would read as true. Absent (undefined or null) passes. */
export function checkFlag(option: string, value: unknown): void {
  if (value === undefined || value === null || typeof value === 'boolean') return;
  throw new InvalidOptionError(
    option,
    `must be true or false, got ${typeof value === 'string' ? `'${value}'` : optionValueText(value)}`,
    `set ${option} to a boolean, or leave it out for the default`,
  );
}

const RECEIVE_OPTION_KEYS: readonly (keyof ReceiveOptions)[] = [
  'maxMessages',
  'waitTimeMs',
  'visibilityTimeoutMs',
  'signal',
];

const QUEUE_OPTION_KEYS: readonly (keyof QueueOptions)[] = [
  'visibilityTimeoutMs',
  'delayMs',
  'maxReceiveCount',
  'deadLetterQueue',
  'fifo',
  'contentBasedDeduplication',
  'deduplicationWindowMs',
  'retentionMs',
];

/**
 * The checks of queue options that depend neither on the queue's name nor on the broker: an options
 * object with known keys, each value in range, the redrive pair. `prefix` names them: 'createQueue'
 * for a queue created now, 'autoCreateQueue' for the queue transport's options of queues it creates
 * later (so a wrong one fails at construction, not on first publish).
 */
export function checkQueueOptions(prefix: string, options: unknown): asserts options is QueueOptions {
  refuseUnknownOptions(options, QUEUE_OPTION_KEYS, {
    option: prefix,
    prefix,
    owner: 'a queue',
    example: '{ visibilityTimeoutMs: 30_000 }',
  });
  const o = options as QueueOptions;
  checkFlag(`${prefix}.fifo`, o.fifo);
  checkFlag(`${prefix}.contentBasedDeduplication`, o.contentBasedDeduplication);
  checkDuration(
    `${prefix}.visibilityTimeoutMs`,
    o.visibilityTimeoutMs,
    0,
    queueLimits.maxVisibilityTimeoutMs,
    'pass up to 43_200_000 (12 hours)',
  );
  checkDuration(`${prefix}.delayMs`, o.delayMs, 0, queueLimits.maxDelayMs, 'pass up to 900_000 (15 minutes)');
  checkDuration(
    `${prefix}.retentionMs`,
    o.retentionMs,
    queueLimits.minRetentionMs,
    queueLimits.maxRetentionMs,
    'pass 60_000 (1 minute) to 1_209_600_000 (14 days)',
  );
  checkDuration(
    `${prefix}.deduplicationWindowMs`,
    o.deduplicationWindowMs,
    1,
    Number.MAX_SAFE_INTEGER,
    'pass a positive window such as 300_000',
  );
  if ((o.maxReceiveCount === undefined) !== (o.deadLetterQueue === undefined))
    throw new InvalidOptionError(
      `${prefix}.maxReceiveCount`,
      'a redrive policy needs both maxReceiveCount and deadLetterQueue',
      'pass both, e.g. { maxReceiveCount: 5, deadLetterQueue: "orders-dlq" }, or neither',
    );
  if (
    o.maxReceiveCount !== undefined &&
    !(Number.isInteger(o.maxReceiveCount) && o.maxReceiveCount >= 1 && o.maxReceiveCount <= 1000)
  )
    throw new InvalidOptionError(
      `${prefix}.maxReceiveCount`,
      `must be an integer from 1 to 1000, got ${optionValueText(o.maxReceiveCount)}`,
      'pass e.g. maxReceiveCount: 5',
    );
  if (o.deadLetterQueue !== undefined && (typeof o.deadLetterQueue !== 'string' || o.deadLetterQueue === ''))
    throw new InvalidOptionError(
      `${prefix}.deadLetterQueue`,
      `must be the name of a queue, got ${optionKindText(o.deadLetterQueue)}`,
      "pass the dead-letter queue's name, e.g. deadLetterQueue: 'orders-dlq'",
    );
}

export class MemoryQueue {
  readonly name: string;
  readonly fifo: boolean;
  readonly visibilityTimeoutMs: number;
  readonly delayMs: number;
  readonly maxReceiveCount: number | undefined;
  readonly deadLetterQueue: string | undefined;
  readonly contentBasedDeduplication: boolean;
  readonly deduplicationWindowMs: number;
  readonly retentionMs: number;
  /** Wakes receivers: something was sent, deleted or made visible. */
  readonly changed = new Wakeup();

  readonly #clock: Clock;
  readonly #resolveQueue: (name: string) => MemoryQueue | undefined;
  readonly #messages = new Map<string, StoredMessage>();
  /**
   * Send order (FIFO order within a group), for receives: scanned from `#head`, so a receive costs
   * what is in flight ahead of it, not what was ever deleted. Deleted entries stay as tombstones
   * until the head passes them or a compaction drops them.
   */
  #order: StoredMessage[] = [];
  #head = 0;
  #tombstones = 0;
  /** A scan of `#order` is running: compaction waits so indices stay valid. */
  #scanning = false;
  readonly #byHandle = new Map<string, StoredMessage>();
  /** deduplication id -> expiry; insertion order is expiry order. */
  readonly #dedup = new Map<string, { readonly expiresAt: number; readonly messageId: string }>();
  #sequence = 0n;
  #handles = 0;
  /** Earliest time any stored message can expire; retention scans only once it has passed. */
  #nextExpiryAt = Number.POSITIVE_INFINITY;

  constructor(
    name: string,
    options: QueueOptions,
    clock: Clock,
    resolveQueue: (name: string) => MemoryQueue | undefined,
  ) {
    checkQueueOptions('createQueue', options);
    const fifo = options.fifo ?? name.endsWith('.fifo');
    if (fifo !== name.endsWith('.fifo'))
      throw new InvalidOptionError(
        'createQueue.fifo',
        fifo
          ? `FIFO queue '${name}' must be named with a '.fifo' suffix`
          : `'${name}' ends in '.fifo' but fifo is false`,
        fifo ? `name it '${name}.fifo'` : "drop the '.fifo' suffix or pass fifo: true",
      );
    if (options.deadLetterQueue !== undefined) {
      const dlq = resolveQueue(options.deadLetterQueue);
      if (!dlq || options.deadLetterQueue === name)
        throw new InvalidOptionError(
          'createQueue.deadLetterQueue',
          `queue '${options.deadLetterQueue}' does not exist`,
          'create the dead-letter queue first',
        );
      if (dlq.fifo !== fifo)
        throw new InvalidOptionError(
          'createQueue.deadLetterQueue',
          `a ${fifo ? 'FIFO' : 'standard'} queue needs a ${fifo ? 'FIFO' : 'standard'} dead-letter queue`,
          `point deadLetterQueue at a ${fifo ? '.fifo' : 'standard'} queue`,
        );
    }
    if (options.contentBasedDeduplication && !fifo)
      throw new InvalidOptionError(
        'createQueue.contentBasedDeduplication',
        'applies to FIFO queues only',
        'drop it, or make the queue FIFO',
      );
    this.name = name;
    this.fifo = fifo;
    this.visibilityTimeoutMs = options.visibilityTimeoutMs ?? queueDefaults.visibilityTimeoutMs;
    this.delayMs = options.delayMs ?? queueDefaults.delayMs;
    this.maxReceiveCount = options.maxReceiveCount;
    this.deadLetterQueue = options.deadLetterQueue;
    this.contentBasedDeduplication = options.contentBasedDeduplication ?? false;
    this.deduplicationWindowMs = options.deduplicationWindowMs ?? queueDefaults.deduplicationWindowMs;
    this.retentionMs = options.retentionMs ?? queueDefaults.retentionMs;
    this.#clock = clock;
    this.#resolveQueue = resolveQueue;
  }

  /** `enveloped` is set by the broker when a fan-out without raw delivery wrapped the body. */
  send(input: SendMessageInput, internal: { readonly enveloped?: boolean } = {}): SendResult {
    const now = this.#clock.now();
    if (this.fifo) {
      if (input.groupId === undefined || input.groupId === '')
        throw new SwitchyardError('SWITCHYARD_PUBLISH', `FIFO queue '${this.name}' needs a message group id (key)`, {
          retryable: false,
          details: { queue: this.name },
        });
      if (input.delayMs !== undefined && input.delayMs > 0)
        throw new SwitchyardError(
          'SWITCHYARD_PUBLISH',
          `FIFO queue '${this.name}' takes no per-message delay (SQS allows only a queue-level delay)`,
          { retryable: false, details: { queue: this.name } },
        );
    }
    if (input.delayMs !== undefined && !(input.delayMs >= 0 && input.delayMs <= queueLimits.maxDelayMs))
      throw new SwitchyardError(
        'SWITCHYARD_PUBLISH',
        `delay ${input.delayMs} ms is outside 0..${queueLimits.maxDelayMs} ms (SQS's 15 minutes)`,
        { retryable: false, details: { queue: this.name } },
      );
    let deduplicationId: string | undefined;
    if (this.fifo) {
      deduplicationId =
        input.deduplicationId ??
        (this.contentBasedDeduplication ? createHash('sha256').update(input.body).digest('hex') : undefined);
      if (deduplicationId === undefined)
        throw new SwitchyardError(
          'SWITCHYARD_PUBLISH',
          `FIFO queue '${this.name}' needs a deduplication id, or contentBasedDeduplication on the queue`,
          { retryable: false, details: { queue: this.name } },
        );
      this.#forgetExpiredDedup(now);
      const seen = this.#dedup.get(deduplicationId);
      if (seen) return { messageId: seen.messageId, sequenceNumber: undefined, duplicate: true };
    }
    const messageId = randomUUID();
    if (deduplicationId !== undefined)
      this.#dedup.set(deduplicationId, { expiresAt: now + this.deduplicationWindowMs, messageId });
    const stored = this.#store({
      messageId,
      body: copyBytes(input.body),
      headers: Object.freeze({ ...input.headers }),
      groupId: input.groupId,
      deduplicationId,
      sentAt: now,
      deadLetterSourceQueue: undefined,
      enveloped: internal.enveloped ?? false,
      visibleAt: now + (input.delayMs ?? this.delayMs),
    });
    this.changed.notify();
    return { messageId, sequenceNumber: stored.sequenceNumber, duplicate: false };
  }

  /** Takes in a message moved from another queue: visible at once, identity and age kept, no dedup. */
  accept(moved: MovedMessage): void {
    this.#store({ ...moved, visibleAt: this.#clock.now() });
    this.changed.notify();
  }

  async receive(options: ReceiveOptions = {}): Promise<ReceivedMessage[]> {
    refuseUnknownOptions(options, RECEIVE_OPTION_KEYS, {
      option: 'receive',
      prefix: 'receive',
      owner: 'a receive',
      example: '{ maxMessages: 10, waitTimeMs: 20_000 }',
    });
    assertAbortSignal('receive.signal', options.signal);
    const max = options.maxMessages ?? 1;
    if (!(typeof max === 'number' && Number.isInteger(max) && max >= 1 && max <= queueLimits.maxReceiveBatch))
      throw new InvalidOptionError(
        'receive.maxMessages',
        `must be an integer from 1 to ${queueLimits.maxReceiveBatch}, got ${optionValueText(max)}`,
        'pass 1..10',
      );
    const waitTimeMs = options.waitTimeMs ?? 0;
    checkDuration('receive.waitTimeMs', waitTimeMs, 0, queueLimits.maxWaitTimeMs, 'pass up to 20_000 (20 s)');
    const visibility = options.visibilityTimeoutMs ?? this.visibilityTimeoutMs;
    checkDuration(
      'receive.visibilityTimeoutMs',
      visibility,
      0,
      queueLimits.maxVisibilityTimeoutMs,
      'pass up to 43_200_000 (12 hours)',
    );
    const deadline = this.#clock.now() + waitTimeMs;
    for (;;) {
      if (options.signal?.aborted) return [];
      const { received, nextVisibleAt } = this.#receiveNow(max, visibility);
      if (received.length > 0 || this.#clock.now() >= deadline) return received;
      await this.changed.wait({
        clock: this.#clock,
        until: Math.min(deadline, nextVisibleAt),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    }
  }

  /** Delete with the current receipt handle. False when the handle is stale (received again since). */
  delete(receiptHandle: string): boolean {
    const m = this.#byHandle.get(receiptHandle);
    if (!m) return false;
    this.#remove(m);
    this.changed.notify();
    return true;
  }

  /**
   * Change an in-flight message's remaining invisibility to `timeoutMs` from now (0 makes it
   * visible at once). False when the handle is stale or the message is no longer in flight.
   */
  changeVisibility(receiptHandle: string, timeoutMs: number): boolean {
    checkDuration(
      'changeVisibility.timeoutMs',
      timeoutMs,
      0,
      queueLimits.maxVisibilityTimeoutMs,
      'pass up to 43_200_000 (12 hours)',
    );
    const m = this.#byHandle.get(receiptHandle);
    const now = this.#clock.now();
    if (!m || m.visibleAt <= now) return false;
    m.visibleAt = now + timeoutMs;
    this.changed.notify();
    return true;
  }

  /** Whether `receiptHandle` is the message's current handle and the message is still in flight. */
  holds(receiptHandle: string): { readonly current: boolean; readonly inFlight: boolean; readonly visibleAt: number } {
    const m = this.#byHandle.get(receiptHandle);
    if (!m) return { current: false, inFlight: false, visibleAt: 0 };
    return { current: true, inFlight: m.visibleAt > this.#clock.now(), visibleAt: m.visibleAt };
  }

  /** Every stored message with its state, without changing anything. */
  messages(): QueueMessageView[] {
    const now = this.#clock.now();
    this.#sweep(now);
    return [...this.#messages.values()].map((m) => this.#view(m, now));
  }

  depth(): QueueDepth {
    const now = this.#clock.now();
    this.#sweep(now);
    let visible = 0;
    let inFlight = 0;
    let delayed = 0;
    let oldest = now;
    for (const m of this.#messages.values()) {
      const state = this.#state(m, now);
      if (state === 'visible') visible++;
      else if (state === 'in-flight') inFlight++;
      else delayed++;
      oldest = Math.min(oldest, m.sentAt);
    }
    return { visible, inFlight, delayed, oldestAgeMs: now - oldest };
  }

  /**
   * The oldest message a receive could get now (FIFO: a group's head), without receiving it; for
   * moving messages between queues exactly once (look, copy, then `remove`). `skip` passes over
   * messages that could not be moved.
   */
  nextVisible(skip: ReadonlySet<string> = new Set()): MovedMessage | undefined {
    const now = this.#clock.now();
    this.#sweep(now);
    const seenGroups = new Set<string | undefined>();
    for (const m of this.#live()) {
      if (this.fifo) {
        if (seenGroups.has(m.groupId)) continue;
        seenGroups.add(m.groupId);
      }
      if (m.visibleAt > now || skip.has(m.messageId)) continue;
      return this.#moved(m);
    }
    return undefined;
  }

  /** Removes a message by id whatever its state (used after copying it elsewhere). */
  remove(messageId: string): boolean {
    const m = this.#messages.get(messageId);
    if (!m) return false;
    this.#remove(m);
    this.changed.notify();
    return true;
  }

  purge(): number {
    const count = this.#messages.size;
    this.#messages.clear();
    this.#byHandle.clear();
    this.#order = [];
    this.#head = 0;
    this.#tombstones = 0;
    this.changed.notify();
    return count;
  }

  #receiveNow(max: number, visibilityMs: number): { received: ReceivedMessage[]; nextVisibleAt: number } {
    const now = this.#clock.now();
    this.#sweep(now);
    const received: ReceivedMessage[] = [];
    const seenGroups = new Set<string | undefined>();
    let nextVisibleAt = Number.POSITIVE_INFINITY;
    for (const m of this.#live()) {
      if (received.length >= max) break;
      if (now - m.sentAt >= this.retentionMs) {
        this.#remove(m);
        continue;
      }
      // FIFO: only a group's head may be received, and only when nothing of the group is in flight.
      if (this.fifo) {
        if (seenGroups.has(m.groupId)) continue;
        seenGroups.add(m.groupId);
      }
      if (m.visibleAt > now) {
        nextVisibleAt = Math.min(nextVisibleAt, m.visibleAt);
        continue;
      }
      if (this.maxReceiveCount !== undefined && m.receiveCount >= this.maxReceiveCount) {
        const dlq = this.deadLetterQueue === undefined ? undefined : this.#resolveQueue(this.deadLetterQueue);
        if (dlq) {
          this.#remove(m);
          dlq.accept({ ...this.#moved(m), deadLetterSourceQueue: this.name });
          // The group's next message is now its head.
          if (this.fifo) seenGroups.delete(m.groupId);
          continue;
        }
      }
      if (m.receiptHandle !== undefined) this.#byHandle.delete(m.receiptHandle);
      m.receiveCount += 1;
      m.firstReceivedAt ??= now;
      m.receiptHandle = `${this.name}#${++this.#handles}#${m.messageId}`;
      m.visibleAt = now + visibilityMs;
      this.#byHandle.set(m.receiptHandle, m);
      received.push({ ...this.#view(m, now), receiptHandle: m.receiptHandle });
    }
    return { received, nextVisibleAt };
  }

  #store(
    fields: Omit<StoredMessage, 'sequenceNumber' | 'receiveCount' | 'firstReceivedAt' | 'receiptHandle' | 'deleted'>,
  ) {
    const stored: StoredMessage = {
      ...fields,
      sequenceNumber: this.fifo ? String(++this.#sequence).padStart(20, '0') : undefined,
      receiveCount: 0,
      firstReceivedAt: undefined,
      receiptHandle: undefined,
      deleted: false,
    };
    this.#messages.set(stored.messageId, stored);
    this.#order.push(stored);
    this.#nextExpiryAt = Math.min(this.#nextExpiryAt, stored.sentAt + this.retentionMs);
    return stored;
  }

  #remove(m: StoredMessage): void {
    if (m.deleted) return;
    m.deleted = true;
    this.#messages.delete(m.messageId);
    if (m.receiptHandle !== undefined) this.#byHandle.delete(m.receiptHandle);
    this.#tombstones += 1;
    const live = this.#order.length - this.#head;
    if (!this.#scanning && this.#tombstones > 1024 && this.#tombstones * 2 > live) {
      this.#order = this.#order.slice(this.#head).filter((x) => !x.deleted);
      this.#head = 0;
      this.#tombstones = 0;
    }
  }

  /** Stored messages in send order, skipping (and at the head, dropping) deleted ones. */
  *#live(): Generator<StoredMessage> {
    this.#scanning = true;
    try {
      for (let i = this.#head; i < this.#order.length; i++) {
        const m = this.#order[i]!;
        if (!m.deleted) {
          yield m;
          continue;
        }
        if (i === this.#head) {
          this.#head += 1;
          this.#tombstones -= 1;
        }
      }
    } finally {
      this.#scanning = false;
    }
    if (this.#head > 4096 && this.#head * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#head);
      this.#head = 0;
    }
  }

  #moved(m: StoredMessage): MovedMessage {
    return {
      messageId: m.messageId,
      body: m.body,
      headers: m.headers,
      groupId: m.groupId,
      deduplicationId: m.deduplicationId,
      sentAt: m.sentAt,
      deadLetterSourceQueue: m.deadLetterSourceQueue,
      enveloped: m.enveloped,
    };
  }

  #state(m: StoredMessage, now: number): QueueMessageState {
    if (m.visibleAt <= now) return 'visible';
    return m.receiptHandle === undefined ? 'delayed' : 'in-flight';
  }

  #view(m: StoredMessage, now: number): QueueMessageView {
    return {
      queue: this.name,
      messageId: m.messageId,
      // A copy, as if it crossed a wire: a consumer mutating it cannot change a redelivery.
      body: copyBytes(m.body),
      headers: m.headers,
      groupId: m.groupId,
      deduplicationId: m.deduplicationId,
      sequenceNumber: m.sequenceNumber,
      state: this.#state(m, now),
      receiveCount: m.receiveCount,
      sentAt: m.sentAt,
      firstReceivedAt: m.firstReceivedAt,
      visibleAt: m.visibleAt,
      deadLetterSourceQueue: m.deadLetterSourceQueue,
      enveloped: m.enveloped,
    };
  }

  /** Retention: a full scan, but only once the earliest possible expiry has passed. */
  #sweep(now: number): void {
    if (now < this.#nextExpiryAt) return;
    let next = Number.POSITIVE_INFINITY;
    for (const m of [...this.#messages.values()]) {
      if (now - m.sentAt >= this.retentionMs) this.#remove(m);
      else next = Math.min(next, m.sentAt + this.retentionMs);
    }
    this.#nextExpiryAt = next;
  }

  #forgetExpiredDedup(now: number): void {
    for (const [id, entry] of this.#dedup) {
      if (entry.expiresAt > now) break;
      this.#dedup.delete(id);
    }
  }
}
