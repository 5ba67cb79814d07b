// The embedded broker behind the in-memory transports: Kafka-like topics with consumer groups,
// SQS-like queues, and SNS-like fan-outs, in one process, on an injected clock. Nothing is mocked:
// offsets, commits, rebalances, visibility timeouts, receive counts, FIFO groups, deduplication,
// redrive and retention behave as the real services do, within the differences the README lists.
// Topic, queue and fan-out names share one namespace so a destination name is never ambiguous.

import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { assertClock, systemClock } from '../clock.js';
import type { DeadLetterRecord } from '../dead-letter.js';
import { deadLetterHeaders, readDeadLetterHeaders, stripDeadLetterHeaders } from '../dead-letter-headers.js';
import type { OutgoingMessage } from '../envelope.js';
import {
  assertAbortSignal,
  assertMethods,
  InvalidOptionError,
  isOptionObject,
  optionKindText,
  optionValueText,
  SwitchyardError,
  shownValue,
} from '../errors.js';
import { TokenBucket } from '../policies/token-bucket.js';
import type { StartPosition } from '../ports/transport.js';
import { copyBytes } from './bytes.js';
import type { GroupMemberListener, GroupMembership, PartitionAssignor } from './consumer-group.js';
import { ConsumerGroup } from './consumer-group.js';
import type { FanoutSubscriptionOptions } from './fanout.js';
import { Fanout, writeFanoutEnvelope } from './fanout.js';
import { partitionForKey } from './partitioner.js';
import type {
  MovedMessage,
  QueueDepth,
  QueueMessageView,
  QueueOptions,
  ReceivedMessage,
  ReceiveOptions,
  SendMessageInput,
  SendResult,
} from './queue.js';
import { checkFlag, checkQueueOptions, MemoryQueue, refuseUnknownOptions } from './queue.js';
import type { LogRecord, TopicOptions } from './topic-log.js';
import { TopicLog } from './topic-log.js';
import { Wakeup } from './wakeup.js';

export type DestinationKind = 'topic' | 'queue' | 'fanout';

export interface MemoryBrokerOptions {
  /** Time source for timestamps, delays, visibility, retention and long polls (default: system clock). */
  readonly clock?: Clock;
  /** Largest message accepted, body plus header names and values in bytes (default 1 MiB, as Kafka). */
  readonly maxMessageBytes?: number;
}

export interface AppendRecord {
  readonly key?: string | undefined;
  /** `null` appends a tombstone. */
  readonly body: Uint8Array | null;
  readonly headers?: Readonly<Record<string, string>>;
  /** Record timestamp (CreateTime); defaults to the broker's clock. */
  readonly timestamp?: number | undefined;
  /** Explicit partition; otherwise murmur2(key), or round-robin for a null key. */
  readonly partition?: number | undefined;
}

export interface PartitionLag {
  readonly partition: number;
  readonly logStartOffset: string;
  readonly logEndOffset: string;
  /** Next offset the group will read, when it has committed one. */
  readonly committedOffset: string | undefined;
  /** Log end offset minus the committed offset (minus the log start offset before the first commit). */
  readonly lag: number;
}

export interface ResetGroupOptions {
  readonly to: StartPosition;
  /** Only these partitions (default: all). */
  readonly partitions?: readonly number[];
}

export interface JoinGroupOptions {
  /** How partitions are spread over members (default `range`, Kafka's default). */
  readonly assignor?: PartitionAssignor;
  readonly listener: GroupMemberListener;
}

export interface PublishToBrokerOptions {
  /** Create the destination as this kind when it does not exist yet (otherwise an unknown name fails). */
  readonly autoCreate?: 'topic' | 'queue';
}

function sizeOf(body: Uint8Array | null, headers: Readonly<Record<string, string>> | undefined): number {
  let size = body?.byteLength ?? 0;
  // UTF-8 lengths counted, not encoded: an encode would allocate two byte arrays per header.
  if (headers) for (const name in headers) size += Buffer.byteLength(name) + Buffer.byteLength(headers[name] ?? '');
  return size;
}

function unknown(kind: DestinationKind, name: string): SwitchyardError {
  return new SwitchyardError(
    'SWITCHYARD_TRANSPORT',
    `no ${kind} named '${optionValueText(name)}' in the in-memory broker`,
    {
      retryable: false,
      details: { kind, name },
    },
  );
}

const BROKER_KEYS: readonly (keyof MemoryBrokerOptions)[] = ['clock', 'maxMessageBytes'];
const TOPIC_KEYS: readonly (keyof TopicOptions)[] = ['partitions', 'retentionMs', 'retentionMessages'];
const JOIN_GROUP_KEYS: readonly (keyof JoinGroupOptions)[] = ['assignor', 'listener'];
const ASSIGNORS: readonly unknown[] = ['range', 'round-robin'] satisfies PartitionAssignor[];
const RESET_GROUP_KEYS: readonly (keyof ResetGroupOptions)[] = ['to', 'partitions'];
const SUBSCRIPTION_KEYS: readonly (keyof FanoutSubscriptionOptions)[] = ['filter', 'raw'];
const PUBLISH_KEYS: readonly (keyof PublishToBrokerOptions)[] = ['autoCreate'];
const INSPECT_KEYS: readonly string[] = ['limit'];
const REDRIVE_KEYS: readonly (keyof RedriveOptions)[] = ['from', 'to', 'ratePerSecond', 'burst', 'max', 'signal'];

/**
 * A start position (`resetGroup.to`, `resolvePosition`): 'earliest', 'latest', `{ timestamp }` (ms) or
 * `{ offset }` (a decimal string), so a wrong one is refused before anything is read or committed.
 */
function checkPosition(option: string, position: unknown): asserts position is StartPosition {
  const fix = "pass 'earliest', 'latest', { timestamp: Date.now() - 3_600_000 } or { offset: '42' }";
  if (position === 'earliest' || position === 'latest') return;
  if (!isOptionObject(position))
    throw new InvalidOptionError(
      option,
      `must be 'earliest', 'latest', { timestamp } or { offset }, got ${shownValue(position)}`,
      fix,
    );
  refuseUnknownOptions(position, ['timestamp', 'offset'], {
    option,
    prefix: option,
    owner: 'a position',
    example: fix,
  });
  const { timestamp, offset } = position;
  if ((timestamp === undefined) === (offset === undefined))
    throw new InvalidOptionError(
      option,
      timestamp === undefined ? 'gives neither a timestamp nor an offset' : 'gives both a timestamp and an offset',
      fix,
    );
  if (timestamp !== undefined && !(typeof timestamp === 'number' && Number.isFinite(timestamp)))
    throw new InvalidOptionError(
      `${option}.timestamp`,
      `must be a number of ms since the epoch, got ${shownValue(timestamp)}`,
      'pass e.g. { timestamp: Date.now() - 3_600_000 } (a Date: date.getTime())',
    );
  if (offset !== undefined && !(typeof offset === 'string' && offset.trim() !== '' && Number.isInteger(Number(offset))))
    throw new InvalidOptionError(
      `${option}.offset`,
      `must be an offset as a decimal string, got ${shownValue(offset)}`,
      "pass e.g. { offset: '42' }",
    );
}

/** `publish` and `writeDeadLetter` options: `autoCreate` is 'topic', 'queue' or absent. */
function checkPublishOptions(method: string, options: unknown): asserts options is PublishToBrokerOptions {
  refuseUnknownOptions(options, PUBLISH_KEYS, {
    option: method,
    prefix: method,
    owner: `a ${method}`,
    example: "{ autoCreate: 'queue' }",
  });
  const { autoCreate } = options as PublishToBrokerOptions;
  if (autoCreate !== undefined && autoCreate !== 'topic' && autoCreate !== 'queue')
    throw new InvalidOptionError(
      `${method}.autoCreate`,
      `must be 'topic' or 'queue', got ${shownValue(autoCreate)}`,
      "pass 'topic' or 'queue', or leave it out so an unknown destination fails",
    );
}

export class MemoryBroker {
  readonly clock: Clock;
  readonly maxMessageBytes: number;
  /** Wakes anyone watching for destinations being created (fetch loops on auto-created topics). */
  readonly created = new Wakeup();
  readonly #topics = new Map<string, TopicLog>();
  readonly #queues = new Map<string, MemoryQueue>();
  readonly #fanouts = new Map<string, Fanout>();
  readonly #groups = new Map<string, ConsumerGroup>();

  constructor(options: MemoryBrokerOptions = {}) {
    refuseUnknownOptions(options, BROKER_KEYS, {
      option: 'options',
      prefix: '',
      owner: 'a MemoryBroker',
      example: '{ clock: systemClock }',
    });
    assertClock('clock', options.clock);
    if (
      options.maxMessageBytes !== undefined &&
      !(Number.isInteger(options.maxMessageBytes) && options.maxMessageBytes > 0)
    )
      throw new InvalidOptionError(
        'maxMessageBytes',
        `must be a positive integer, got ${optionValueText(options.maxMessageBytes)}`,
        'pass e.g. 1_048_576',
      );
    this.clock = options.clock ?? systemClock;
    this.maxMessageBytes = options.maxMessageBytes ?? 1_048_576;
  }

  /** What a name refers to, if anything. */
  kindOf(name: string): DestinationKind | undefined {
    if (this.#topics.has(name)) return 'topic';
    if (this.#queues.has(name)) return 'queue';
    if (this.#fanouts.has(name)) return 'fanout';
    return undefined;
  }

  #claimName(name: string, kind: DestinationKind, option: string): boolean {
    if (typeof name !== 'string' || name.length === 0)
      throw new InvalidOptionError(option, 'must be a non-empty string', "pass a name such as 'orders'");
    const existing = this.kindOf(name);
    if (existing === undefined) return true;
    if (existing === kind) return false;
    throw new InvalidOptionError(
      option,
      `'${name}' is already a ${existing} in this broker`,
      'topics, queues and fan-outs share one namespace here: pick another name',
    );
  }

  // ---------------------------------------------------------------- log

  /** Creates a topic; false when it already exists (its options are then left as they are). */
  createTopic(name: string, options: TopicOptions = {}): boolean {
    refuseUnknownOptions(options, TOPIC_KEYS, {
      option: 'createTopic',
      prefix: 'createTopic',
      owner: 'a topic',
      example: '{ partitions: 3 }',
    });
    const partitions = options.partitions ?? 3;
    if (!(Number.isInteger(partitions) && partitions >= 1))
      throw new InvalidOptionError(
        'createTopic.partitions',
        `must be a positive integer, got ${optionValueText(partitions)}`,
        'pass e.g. 3',
      );
    if (options.retentionMs !== undefined && !(typeof options.retentionMs === 'number' && options.retentionMs > 0))
      throw new InvalidOptionError(
        'createTopic.retentionMs',
        `must be positive, got ${optionValueText(options.retentionMs)}`,
        'pass e.g. 604_800_000 (7 days) or leave it out',
      );
    if (
      options.retentionMessages !== undefined &&
      !(Number.isInteger(options.retentionMessages) && options.retentionMessages >= 1)
    )
      throw new InvalidOptionError(
        'createTopic.retentionMessages',
        `must be a positive integer, got ${optionValueText(options.retentionMessages)}`,
        'pass e.g. 10_000 or leave it out',
      );
    if (!this.#claimName(name, 'topic', 'createTopic.name')) return false;
    this.#topics.set(name, new TopicLog(name, options));
    this.created.notify();
    return true;
  }

  topics(): string[] {
    return [...this.#topics.keys()];
  }

  topic(name: string): TopicLog {
    const topic = this.#topics.get(name);
    if (!topic) throw unknown('topic', name);
    topic.enforceRetention(this.clock.now());
    return topic;
  }

  partitionCount(topic: string): number {
    return this.topic(topic).partitions.length;
  }

  append(topicName: string, records: readonly AppendRecord[]): LogRecord[] {
    const topic = this.topic(topicName);
    const now = this.clock.now();
    for (const r of records) this.#checkSize(topicName, r.body, r.headers);
    const appended = records.map((r) => {
      let partition: number;
      if (r.partition !== undefined) partition = r.partition;
      else if (r.key !== undefined && r.key !== null) partition = partitionForKey(r.key, topic.partitions.length);
      else partition = topic.roundRobin++ % topic.partitions.length;
      return topic.partition(partition).append({
        key: r.key ?? undefined,
        body: r.body === null ? null : copyBytes(r.body),
        headers: Object.freeze({ ...r.headers }),
        timestamp: r.timestamp ?? now,
        appendedAt: now,
      });
    });
    topic.enforceRetention(now);
    for (const p of new Set(appended.map((r) => r.partition))) topic.partition(p).appended.notify();
    return appended;
  }

  /** Stored records of a topic (one partition, or all in partition then offset order). */
  records(topicName: string, partition?: number): LogRecord[] {
    const topic = this.topic(topicName);
    const parts = partition === undefined ? topic.partitions : [topic.partition(partition)];
    return parts.flatMap((p) => [...p.all()]);
  }

  /** Up to `max` records of one partition from `offset` on. */
  fetch(topicName: string, partition: number, offset: string, max = 500): LogRecord[] {
    return this.topic(topicName).partition(partition).read(Number(offset), max);
  }

  /** Log start offset (first stored) and log end offset (next to be written). */
  offsets(topicName: string, partition: number): { readonly start: string; readonly end: string } {
    const p = this.topic(topicName).partition(partition);
    return { start: String(p.startOffset), end: String(p.endOffset) };
  }

  /** Where a reader without a usable committed offset starts, per `position`. */
  resolvePosition(topicName: string, partition: number, position: StartPosition): number {
    checkPosition('position', position);
    const p = this.topic(topicName).partition(partition);
    if (position === 'earliest') return p.startOffset;
    if (position === 'latest') return p.endOffset;
    if ('timestamp' in position && position.timestamp !== undefined) return p.offsetForTimestamp(position.timestamp);
    const offset = Number((position as { readonly offset: string }).offset);
    return Math.min(Math.max(offset, p.startOffset), p.endOffset);
  }

  #group(name: string): ConsumerGroup {
    let group = this.#groups.get(name);
    if (!group) {
      group = new ConsumerGroup(name);
      this.#groups.set(name, group);
    }
    return group;
  }

  /** Join `group` as a consumer of `topic`; every join and leave rebalances the topic's partitions. */
  joinGroup(group: string, topic: string, options: JoinGroupOptions): GroupMembership {
    refuseUnknownOptions(options, JOIN_GROUP_KEYS, {
      option: 'joinGroup',
      prefix: 'joinGroup',
      owner: 'a joinGroup',
      example: '{ listener: { onAssign, onRevoke } }',
      required: true,
    });
    if (options.assignor !== undefined && !ASSIGNORS.includes(options.assignor))
      throw new InvalidOptionError(
        'joinGroup.assignor',
        `must be 'range' or 'round-robin', got ${shownValue(options.assignor)}`,
        "pass 'range' (Kafka's default) or 'round-robin', or leave it out",
      );
    assertMethods(
      'joinGroup.listener',
      options.listener,
      'a group listener (onAssign and onRevoke functions)',
      ['onAssign', 'onRevoke'],
      'pass { onAssign(partitions) {…}, onRevoke(partitions) {…} }',
    );
    if (typeof group !== 'string' || group.length === 0)
      throw new InvalidOptionError('consumerGroup', 'must be a non-empty string', "name the group, e.g. 'billing'");
    const count = this.partitionCount(topic);
    return this.#group(group).join(topic, count, options.assignor ?? 'range', options.listener);
  }

  /** Members and their partitions, in join order. */
  groupMembers(group: string, topic: string) {
    return this.#groups.get(group)?.members(topic) ?? [];
  }

  /**
   * Commit `offset` (the next offset to read) for a partition. With `memberId` the commit is fenced
   * on ownership; without it the group must have no active member on the topic (an admin commit).
   */
  commitOffset(group: string, topic: string, partition: number, offset: string, memberId?: string): void {
    this.topic(topic).partition(partition);
    this.#group(group).commit(topic, partition, Number(offset), memberId);
  }

  /** Committed offsets of a group on a topic, by partition. */
  committed(group: string, topic: string): Record<number, string> {
    const out: Record<number, string> = {};
    for (const [p, offset] of this.#groups.get(group)?.committed(topic) ?? []) out[p] = String(offset);
    return out;
  }

  committedOffset(group: string, topic: string, partition: number): number | undefined {
    return this.#groups.get(group)?.committedOffset(topic, partition);
  }

  /** Move an inactive group's committed offsets (kafka-consumer-groups --reset-offsets). */
  resetGroup(group: string, topicName: string, options: ResetGroupOptions): Record<number, string> {
    refuseUnknownOptions(options, RESET_GROUP_KEYS, {
      option: 'resetGroup',
      prefix: 'resetGroup',
      owner: 'a resetGroup',
      example: "{ to: 'earliest' }",
      required: true,
    });
    checkPosition('resetGroup.to', options.to);
    const requested: unknown = options.partitions;
    if (
      requested !== undefined &&
      !(Array.isArray(requested) && requested.every((p) => typeof p === 'number' && Number.isInteger(p) && p >= 0))
    )
      throw new InvalidOptionError(
        'resetGroup.partitions',
        `must be an array of partition numbers, got ${Array.isArray(requested) ? 'an array holding something else' : optionKindText(requested)}`,
        'pass e.g. [0, 2], or leave it out for every partition',
      );
    const g = this.#group(group);
    if (g.hasMembers(topicName))
      throw new SwitchyardError(
        'SWITCHYARD_TRANSPORT',
        `group '${group}' has active members on '${topicName}': stop them before resetting offsets`,
        { retryable: false, details: { reason: 'group-active', group, topic: topicName } },
      );
    const topic = this.topic(topicName);
    const partitions = options.partitions ?? topic.partitions.map((p) => p.partition);
    // All checked before the first commit, so a wrong one moves nothing.
    const missing = partitions.find((p) => p >= topic.partitions.length);
    if (missing !== undefined)
      throw new InvalidOptionError(
        'resetGroup.partitions',
        `topic '${topicName}' has no partition ${missing} (it has ${topic.partitions.length})`,
        `pass partitions from 0 to ${topic.partitions.length - 1}, or leave it out for every partition`,
      );
    for (const p of partitions) g.commit(topicName, p, this.resolvePosition(topicName, p, options.to));
    return this.committed(group, topicName);
  }

  lag(group: string, topicName: string): PartitionLag[] {
    const topic = this.topic(topicName);
    const g = this.#groups.get(group);
    return topic.partitions.map((p) => {
      const committed = g?.committedOffset(topicName, p.partition);
      return {
        partition: p.partition,
        logStartOffset: String(p.startOffset),
        logEndOffset: String(p.endOffset),
        committedOffset: committed === undefined ? undefined : String(committed),
        lag: p.endOffset - (committed ?? p.startOffset),
      };
    });
  }

  // ---------------------------------------------------------------- queues

  /** Creates a queue; false when it already exists (its options are then left as they are). */
  createQueue(name: string, options: QueueOptions = {}): boolean {
    // Checked before the name, so a wrong option fails even when the queue exists (as createTopic's do).
    checkQueueOptions('createQueue', options);
    if (!this.#claimName(name, 'queue', 'createQueue.name')) return false;
    this.#queues.set(name, new MemoryQueue(name, options, this.clock, (n) => this.#queues.get(n)));
    this.created.notify();
    return true;
  }

  queues(): string[] {
    return [...this.#queues.keys()];
  }

  queue(name: string): MemoryQueue {
    const queue = this.#queues.get(name);
    if (!queue) throw unknown('queue', name);
    return queue;
  }

  send(queueName: string, messages: readonly SendMessageInput[]): SendResult[] {
    const queue = this.queue(queueName);
    for (const m of messages) this.#checkSize(queueName, m.body, m.headers);
    return messages.map((m) => queue.send(m));
  }

  receive(queueName: string, options?: ReceiveOptions): Promise<ReceivedMessage[]> {
    return this.queue(queueName).receive(options);
  }

  deleteMessage(queueName: string, receiptHandle: string): boolean {
    return this.queue(queueName).delete(receiptHandle);
  }

  changeVisibility(queueName: string, receiptHandle: string, timeoutMs: number): boolean {
    return this.queue(queueName).changeVisibility(receiptHandle, timeoutMs);
  }

  /** Every message of a queue with its state, without receiving anything. */
  messages(queueName: string): QueueMessageView[] {
    return this.queue(queueName).messages();
  }

  depth(queueName: string): QueueDepth {
    return this.queue(queueName).depth();
  }

  purgeQueue(queueName: string): number {
    return this.queue(queueName).purge();
  }

  // ---------------------------------------------------------------- fan-out

  /** Creates a fan-out (an SNS topic); false when it already exists. */
  createFanout(name: string): boolean {
    if (!this.#claimName(name, 'fanout', 'createFanout.name')) return false;
    this.#fanouts.set(name, new Fanout(name));
    this.created.notify();
    return true;
  }

  fanouts(): string[] {
    return [...this.#fanouts.keys()];
  }

  /** Subscribe an existing queue to a fan-out; returns the unsubscribe function. */
  subscribe(fanoutName: string, queueName: string, options: FanoutSubscriptionOptions = {}): () => void {
    refuseUnknownOptions(options, SUBSCRIPTION_KEYS, {
      option: 'subscribe',
      prefix: 'subscribe',
      owner: 'a fan-out subscription',
      example: '{ raw: false }',
    });
    if (options.filter !== undefined && typeof options.filter !== 'function')
      throw new InvalidOptionError(
        'subscribe.filter',
        `must be a function (headers, body) => boolean, got ${optionKindText(options.filter)}`,
        "pass e.g. (headers) => headers['sy-type'] === 'OrderPaid', or leave it out for every message",
      );
    checkFlag('subscribe.raw', options.raw);
    const fanout = this.#fanouts.get(fanoutName);
    if (!fanout) throw unknown('fanout', fanoutName);
    this.queue(queueName);
    const subscription = fanout.subscribe(queueName, options);
    return () => {
      fanout.unsubscribe(subscription.id);
    };
  }

  /** Subscriptions of a fan-out. */
  subscriptions(fanoutName: string) {
    const fanout = this.#fanouts.get(fanoutName);
    if (!fanout) throw unknown('fanout', fanoutName);
    return fanout.subscriptions();
  }

  /**
   * Copies each message to every subscribed queue whose filter accepts it. Returns, per message,
   * the queues it went to.
   */
  fanoutPublish(fanoutName: string, messages: readonly OutgoingMessage[]): string[][] {
    const fanout = this.#fanouts.get(fanoutName);
    if (!fanout) throw unknown('fanout', fanoutName);
    for (const m of messages) this.#checkSize(fanoutName, m.body, m.headers);
    const now = this.clock.now();
    // Decide every copy first, so a throwing filter or a bad subscription delivers nothing.
    const plan = messages.map((m) => {
      const copies = fanout.matching(m.headers, m.body).map((s) => {
        const queue = this.queue(s.queue);
        const body = s.raw
          ? m.body
          : writeFanoutEnvelope({
              fanout: fanoutName,
              messageId: m.id,
              body: m.body,
              headers: m.headers,
              timestamp: now,
            });
        const input: SendMessageInput = {
          body,
          headers: s.raw ? m.headers : {},
          groupId: m.key,
          deduplicationId: queue.fifo ? this.#deduplicationId(queue, m) : undefined,
        };
        return { queue, input, enveloped: !s.raw };
      });
      return copies;
    });
    return plan.map((copies) =>
      copies.map(({ queue, input, enveloped }) => {
        queue.send(input, { enveloped });
        return queue.name;
      }),
    );
  }

  // ---------------------------------------------------------------- any destination

  /**
   * Publish to whatever `destination` names: append to a topic, send to a queue, or fan out. An
   * unknown name fails unless `autoCreate` says what to create (a 3-partition topic or a standard
   * queue with default options).
   */
  publish(destination: string, messages: readonly OutgoingMessage[], options: PublishToBrokerOptions = {}): void {
    checkPublishOptions('publish', options);
    let kind = this.kindOf(destination);
    if (kind === undefined) {
      if (options.autoCreate === undefined)
        throw new SwitchyardError('SWITCHYARD_PUBLISH', `no topic, queue or fan-out named '${destination}'`, {
          retryable: false,
          details: { destination },
        });
      if (options.autoCreate === 'topic') this.createTopic(destination);
      else this.createQueue(destination);
      kind = options.autoCreate;
    }
    if (kind === 'topic') {
      this.append(
        destination,
        messages.map((m) => ({ key: m.key, body: m.body, headers: m.headers, timestamp: m.timestamp })),
      );
    } else if (kind === 'queue') {
      const queue = this.queue(destination);
      this.send(
        destination,
        messages.map((m) => ({
          body: m.body,
          headers: m.headers,
          groupId: m.key,
          delayMs: m.delayMs,
          deduplicationId: queue.fifo ? this.#deduplicationId(queue, m) : undefined,
        })),
      );
    } else {
      this.fanoutPublish(destination, messages);
    }
  }

  /**
   * Write a dead-letter record to `destination` (created as `autoCreate` when missing): the original
   * body, the original headers plus the `sy-dlq-*` record headers, the original key.
   */
  writeDeadLetter(destination: string, record: DeadLetterRecord, options: PublishToBrokerOptions = {}): void {
    checkPublishOptions('writeDeadLetter', options);
    const position =
      record.source.kind === 'log'
        ? `${record.source.topic}/${record.source.partition}/${record.source.offset}`
        : `${record.source.queue}/${record.source.messageId}/${record.source.receiveCount}`;
    const groupId =
      record.key ?? (record.source.kind === 'queue' ? record.source.groupId : undefined) ?? 'dead-letters';
    const message: OutgoingMessage = {
      id: record.messageId ?? position,
      key: groupId,
      // A queue cannot hold a null body: a tombstone becomes an empty body plus `sy-dlq-tombstone`.
      body: record.body ?? new Uint8Array(0),
      headers: deadLetterHeaders(record),
      timestamp: this.clock.now(),
      // One source position is one dead letter, even if the write is repeated.
      deduplicationId: position,
    };
    if (this.kindOf(destination) === undefined && options.autoCreate === 'topic') this.createTopic(destination);
    if (this.kindOf(destination) === 'topic') {
      this.append(destination, [
        { key: record.key, body: record.body, headers: message.headers, timestamp: message.timestamp },
      ]);
      return;
    }
    this.publish(destination, [message], options);
  }

  // ---------------------------------------------------------------- dead-letter queues

  /**
   * The dead letters in a queue, oldest first, without consuming them: each with the record read
   * back from its `sy-dlq-*` headers (or, for a message the redrive policy moved, its source queue).
   */
  inspectDeadLetters(queueName: string, options: { readonly limit?: number } = {}): DeadLetterEntry[] {
    refuseUnknownOptions(options, INSPECT_KEYS, {
      option: 'inspectDeadLetters',
      prefix: 'inspectDeadLetters',
      owner: 'an inspectDeadLetters',
      example: '{ limit: 20 }',
    });
    const limit = options.limit ?? 100;
    if (!(typeof limit === 'number' && limit >= 0 && (Number.isInteger(limit) || limit === Number.POSITIVE_INFINITY)))
      throw new InvalidOptionError(
        'inspectDeadLetters.limit',
        `must be a whole number, 0 or more, got ${shownValue(limit)}`,
        'pass e.g. 20, or leave it out for 100',
      );
    return this.queue(queueName)
      .messages()
      .slice(0, limit)
      .map((m) => deadLetterEntryOf(m));
  }

  /**
   * Moves dead letters from `from` back to `to` (default: each message's source queue or topic),
   * at most `ratePerSecond`, oldest first, each exactly once: it is copied to the destination, then
   * removed from the DLQ, in one step no consumer can interleave with. The copy has the original
   * body and headers (`sy-dlq-*` removed), a fresh message id and receive count, and skips
   * deduplication. Stops when no visible message is left, after `max`, or when `signal` aborts; a
   * message that cannot be moved stays in the DLQ and is reported in `failed`.
   */
  async redrive(options: RedriveOptions): Promise<RedriveResult> {
    refuseUnknownOptions(options, REDRIVE_KEYS, {
      option: 'redrive',
      prefix: 'redrive',
      owner: 'a redrive',
      example: "{ from: 'orders-dlq', ratePerSecond: 10 }",
      required: true,
    });
    const { from, to, ratePerSecond, max = Number.POSITIVE_INFINITY, signal } = options;
    const burst = options.burst ?? 1;
    if (typeof from !== 'string' || from === '')
      throw new InvalidOptionError(
        'redrive.from',
        `must be the name of the dead-letter queue, got ${shownValue(from)}`,
        "pass e.g. from: 'orders-dlq'",
      );
    if (to !== undefined && (typeof to !== 'string' || to === ''))
      throw new InvalidOptionError(
        'redrive.to',
        `must be the name of a queue, topic or fan-out, got ${shownValue(to)}`,
        "pass e.g. to: 'orders', or leave it out for each message's source",
      );
    if (to === from)
      throw new InvalidOptionError(
        'redrive.to',
        `is the dead-letter queue itself ('${from}'): every message would be sent back where it was read`,
        "name the destination, or leave it out for each message's source",
      );
    if (!(typeof ratePerSecond === 'number' && Number.isFinite(ratePerSecond) && ratePerSecond > 0))
      throw new InvalidOptionError(
        'redrive.ratePerSecond',
        `must be a positive finite number, got ${optionValueText(ratePerSecond)}`,
        'pass e.g. 10',
      );
    if (!(typeof burst === 'number' && Number.isFinite(burst) && burst >= 1))
      throw new InvalidOptionError(
        'redrive.burst',
        `must be a finite number of at least 1, got ${optionValueText(burst)}`,
        'pass e.g. 10, or leave it out for 1',
      );
    if (!(typeof max === 'number' && max >= 0))
      throw new InvalidOptionError(
        'redrive.max',
        `must be zero or more, got ${optionValueText(max)}`,
        'pass e.g. 100, or leave it out',
      );
    assertAbortSignal('redrive.signal', signal);
    const dlq = this.queue(from);
    if (to !== undefined && this.kindOf(to) === undefined) throw unknown('queue', to);
    const bucket = new TokenBucket({ ratePerSecond, burst, clock: this.clock });
    const skip = new Set<string>();
    const failed: { messageId: string; error: unknown }[] = [];
    let moved = 0;
    let stopped: RedriveResult['stopped'] = 'drained';
    while (true) {
      if (moved >= max) {
        stopped = 'max';
        break;
      }
      if (signal?.aborted || dlq.nextVisible(skip) === undefined) {
        stopped = signal?.aborted ? 'aborted' : 'drained';
        break;
      }
      try {
        await bucket.take(1, signal);
      } catch {
        stopped = 'aborted';
        break;
      }
      // Look again after the wait: a consumer or another redrive may have taken it meanwhile.
      const next = dlq.nextVisible(skip);
      if (!next) {
        stopped = 'drained';
        break;
      }
      try {
        this.#moveDeadLetter(next, to);
        dlq.remove(next.messageId);
        moved++;
      } catch (error) {
        skip.add(next.messageId);
        failed.push({ messageId: next.messageId, error });
      }
    }
    const depth = dlq.depth();
    return { moved, failed, remaining: depth.visible + depth.inFlight + depth.delayed, stopped };
  }

  #moveDeadLetter(m: MovedMessage, to: string | undefined): void {
    const record = readDeadLetterHeaders(m.headers);
    const destination =
      to ??
      (record.source?.kind === 'queue'
        ? record.source.queue
        : record.source?.kind === 'log'
          ? record.source.topic
          : m.deadLetterSourceQueue);
    if (destination === undefined)
      throw new SwitchyardError('SWITCHYARD_TRANSPORT', `dead letter ${m.messageId} names no source: pass 'to'`, {
        retryable: false,
        details: { messageId: m.messageId },
      });
    const headers = stripDeadLetterHeaders(m.headers);
    const key = m.groupId ?? record.key;
    const kind = this.kindOf(destination);
    if (kind === 'queue') {
      const queue = this.queue(destination);
      if (queue.fifo && key === undefined)
        throw new SwitchyardError(
          'SWITCHYARD_PUBLISH',
          `FIFO queue '${destination}' needs a group id for ${m.messageId}`,
          {
            retryable: false,
          },
        );
      queue.accept({
        messageId: randomUUID(),
        body: m.body,
        headers,
        groupId: key,
        deduplicationId: m.deduplicationId,
        sentAt: this.clock.now(),
        deadLetterSourceQueue: undefined,
        enveloped: m.enveloped,
      });
    } else if (kind === 'topic') {
      this.append(destination, [{ key, body: record.body === null ? null : m.body, headers }]);
    } else if (kind === 'fanout') {
      this.fanoutPublish(destination, [{ id: m.messageId, key, body: m.body, headers, timestamp: this.clock.now() }]);
    } else {
      throw unknown('queue', destination);
    }
  }

  #deduplicationId(queue: MemoryQueue, m: OutgoingMessage): string | undefined {
    // An explicit id wins; a content-deduplicating queue hashes the body; otherwise the message id.
    return m.deduplicationId ?? (queue.contentBasedDeduplication ? undefined : m.id);
  }

  #checkSize(destination: string, body: Uint8Array | null, headers?: Readonly<Record<string, string>>): void {
    const size = sizeOf(body, headers);
    if (size > this.maxMessageBytes)
      throw new SwitchyardError(
        'SWITCHYARD_MESSAGE_TOO_LARGE',
        `message of ${size} bytes exceeds the ${this.maxMessageBytes}-byte limit of '${destination}'`,
        { retryable: false, details: { destination, size, limit: this.maxMessageBytes } },
      );
  }
}

export interface RedriveOptions {
  /** The dead-letter queue to drain. */
  readonly from: string;
  /** Where to move them (queue, topic or fan-out); default: each message's source. */
  readonly to?: string;
  /** Messages per second. */
  readonly ratePerSecond: number;
  /** Messages that may go at once before the rate applies (default 1). */
  readonly burst?: number;
  /** Move at most this many. */
  readonly max?: number;
  readonly signal?: AbortSignal;
}

export interface RedriveResult {
  readonly moved: number;
  readonly failed: readonly { readonly messageId: string; readonly error: unknown }[];
  /** Messages left in the DLQ. */
  readonly remaining: number;
  readonly stopped: 'drained' | 'max' | 'aborted';
}

export interface DeadLetterEntry {
  readonly messageId: string;
  readonly sentAt: number;
  readonly receiveCount: number;
  readonly state: QueueMessageView['state'];
  readonly body: Uint8Array;
  /** Headers as stored, `sy-dlq-*` included. */
  readonly headers: Readonly<Record<string, string>>;
  /** Original headers, `sy-dlq-*` removed. */
  readonly originalHeaders: Readonly<Record<string, string>>;
  readonly groupId: string | undefined;
  /** The record read back from the headers. */
  readonly record: Partial<DeadLetterRecord>;
  /** Where it came from: the source queue or topic. */
  readonly source: { readonly kind: 'queue' | 'topic'; readonly name: string } | undefined;
  /** Moved by the queue's redrive policy (no `sy-dlq-*` record). */
  readonly nativeRedrive: boolean;
}

export function deadLetterEntryOf(m: QueueMessageView): DeadLetterEntry {
  const record = readDeadLetterHeaders(m.headers);
  let source: DeadLetterEntry['source'];
  if (record.source?.kind === 'queue') source = { kind: 'queue', name: record.source.queue };
  else if (record.source?.kind === 'log') source = { kind: 'topic', name: record.source.topic };
  else if (m.deadLetterSourceQueue !== undefined) source = { kind: 'queue', name: m.deadLetterSourceQueue };
  return {
    messageId: m.messageId,
    sentAt: m.sentAt,
    receiveCount: m.receiveCount,
    state: m.state,
    body: m.body,
    headers: m.headers,
    originalHeaders: stripDeadLetterHeaders(m.headers),
    groupId: m.groupId,
    record,
    source,
    nativeRedrive: m.deadLetterSourceQueue !== undefined && record.reason === undefined,
  };
}
