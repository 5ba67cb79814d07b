// Topic administration, group offsets and lag, and replay. Replay never rewinds a running group
// under its members: it resets a group that has no active members (or prepares a fresh replay
// group) and hands back the subscription settings, including a rate limit, so a replay cannot
// flatten the systems downstream.

import {
  assertClock,
  assertLogger,
  type Clock,
  InvalidOptionError,
  isOptionObject,
  type Logger,
  optionKindText,
  type StartPosition,
  SwitchyardError,
  silentLogger,
  systemClock,
} from '@switchyard/core';
import type { Kafka } from 'kafkajs';
import {
  type DeadLetterDepth,
  deadLetterDepth,
  type InspectDeadLettersOptions,
  inspectDeadLetters,
  type KafkaDeadLetter,
  type RedriveDeadLettersOptions,
  type RedriveResult,
  redriveDeadLetters,
} from './dead-letter-tools.js';
import type { DriverAdmin, KafkaDriver } from './driver/driver.js';
import { KafkajsDriver } from './driver/kafkajs.js';
import { detectHotPartitions, type HotPartition, type HotPartitionOptions } from './hot-partitions.js';
import { checkCluster, refuseUnknown } from './options.js';

export interface KafkaAdminOptions {
  readonly brokers?: readonly string[];
  readonly kafka?: Kafka;
  readonly driver?: KafkaDriver;
  readonly clientId?: string;
  readonly logger?: Logger;
  readonly clock?: Clock;
}

export interface TopicDefinition {
  readonly topic: string;
  readonly partitions?: number;
  readonly replicationFactor?: number;
  /** `retention.ms`; -1 keeps records forever. */
  readonly retentionMs?: number;
  /** Any other topic configuration (`cleanup.policy`, `max.message.bytes`, …). */
  readonly config?: Readonly<Record<string, string>>;
}

export interface PartitionLag {
  readonly partition: number;
  /** Next offset the group will read; undefined when the group never committed on it. */
  readonly committed: string | undefined;
  readonly logStart: string;
  readonly logEnd: string;
  /** logEnd minus committed (minus logStart when nothing is committed). */
  readonly lag: number;
}

export type ReplayPosition = 'earliest' | 'latest' | { readonly offset: string } | { readonly timestamp: number };

export interface ReplayRequest {
  readonly topic: string;
  /** Group to rewind; it must have no active members. Omit for a fresh replay group. */
  readonly group?: string;
  /** Name prefix of a fresh replay group (default `<topic>.replay`). */
  readonly freshGroupPrefix?: string;
  readonly to: ReplayPosition;
  /** Messages per second the replaying subscription may take. */
  readonly ratePerSecond: number;
}

export interface ReplayPlan {
  readonly consumerGroup: string;
  readonly topic: string;
  /** Offsets the group starts from, per partition. */
  readonly offsets: ReadonlyArray<{ partition: number; offset: string }>;
  /** For a SubscriptionSpec: the group already sits at the replay position. */
  readonly startFrom: StartPosition;
  /** Put into SubscriptionSpec.options: the subscription takes at most this rate. */
  readonly options: { readonly ratePerSecond: number };
}

const ADMIN_KEYS = ['brokers', 'kafka', 'driver', 'clientId', 'logger', 'clock'] as const;

export class KafkaAdmin {
  readonly #driver: KafkaDriver;
  readonly #admin: DriverAdmin;
  readonly #clock: Clock;
  readonly #logger: Logger;
  #connecting: Promise<void> | undefined;

  constructor(options: KafkaAdminOptions) {
    if (!isOptionObject(options))
      throw new InvalidOptionError(
        'options',
        `expected an options object, got ${optionKindText(options)}`,
        'pass { brokers: ["host:9092"] }, { kafka } or { driver }',
      );
    refuseUnknown('', options, ADMIN_KEYS, 'admin');
    checkCluster(options);
    assertLogger('logger', options.logger);
    assertClock('clock', options.clock);
    const driver =
      options.driver ??
      new KafkajsDriver({
        ...(options.kafka ? { kafka: options.kafka } : {}),
        ...(options.brokers ? { brokers: options.brokers } : {}),
        clientId: options.clientId ?? 'switchyard-admin',
        logger: options.logger ?? silentLogger,
      });
    this.#driver = driver;
    this.#admin = driver.admin();
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
  }

  connect(): Promise<void> {
    this.#connecting ??= this.#admin.connect().catch((error: unknown) => {
      this.#connecting = undefined;
      throw error;
    });
    return this.#connecting;
  }

  async close(): Promise<void> {
    if (this.#connecting) {
      await this.#connecting.catch(() => {});
      await this.#admin.disconnect();
      this.#connecting = undefined;
    }
  }

  /** Creates the topics that do not exist yet (existing ones are left as they are). */
  async createTopics(topics: readonly TopicDefinition[]): Promise<void> {
    await this.connect();
    await this.#admin.createTopics(
      topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions ?? 1,
        ...(t.replicationFactor === undefined ? {} : { replicationFactor: t.replicationFactor }),
        config: { ...(t.retentionMs === undefined ? {} : { 'retention.ms': String(t.retentionMs) }), ...t.config },
      })),
    );
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    await this.connect();
    await this.#admin.deleteTopics(topics);
  }

  async listTopics(): Promise<string[]> {
    await this.connect();
    return this.#admin.listTopics();
  }

  async topicOffsets(topic: string): Promise<Array<{ partition: number; low: string; high: string }>> {
    await this.connect();
    return this.#admin.topicOffsets(topic);
  }

  /** Committed offsets of `group` on `topic` (undefined where it never committed). */
  async groupOffsets(
    group: string,
    topic: string,
  ): Promise<Array<{ partition: number; committed: string | undefined }>> {
    await this.connect();
    const offsets = await this.#admin.groupOffsets(group, topic);
    return offsets.map((o) => ({ partition: o.partition, committed: BigInt(o.offset) < 0n ? undefined : o.offset }));
  }

  /** Lag per partition: log end minus the group's committed offset. */
  async lag(group: string, topic: string): Promise<PartitionLag[]> {
    await this.connect();
    const [ends, committed] = await Promise.all([this.#admin.topicOffsets(topic), this.groupOffsets(group, topic)]);
    return ends.map((end) => {
      const c = committed.find((p) => p.partition === end.partition)?.committed;
      const base = c ?? end.low;
      return {
        partition: end.partition,
        committed: c,
        logStart: end.low,
        logEnd: end.high,
        lag: Math.max(0, Number(BigInt(end.high) - BigInt(base))),
      };
    });
  }

  /** Partitions whose lag is far above the group's median lag on `topic`. */
  async hotPartitions(group: string, topic: string, options?: HotPartitionOptions): Promise<HotPartition[]> {
    const lag = await this.lag(group, topic);
    return detectHotPartitions(
      lag.map((p) => ({ topic, partition: p.partition, lag: p.lag })),
      options,
    );
  }

  async describeGroup(group: string): Promise<{ state: string; members: number }> {
    await this.connect();
    const { state, members } = await this.#admin.describeGroup(group);
    return { state, members };
  }

  async deleteGroups(groups: readonly string[]): Promise<void> {
    await this.connect();
    await this.#admin.deleteGroups(groups);
  }

  /** The offset of each partition at `position`. */
  async offsetsAt(topic: string, position: ReplayPosition): Promise<Array<{ partition: number; offset: string }>> {
    await this.connect();
    const ends = await this.#admin.topicOffsets(topic);
    if (position === 'earliest') return ends.map((e) => ({ partition: e.partition, offset: e.low }));
    if (position === 'latest') return ends.map((e) => ({ partition: e.partition, offset: e.high }));
    if ('timestamp' in position) return this.#admin.offsetsForTimestamp(topic, position.timestamp);
    if (!/^\d+$/.test(position.offset))
      throw new InvalidOptionError(
        'to.offset',
        `'${position.offset}' is not an offset`,
        'pass a non-negative decimal string',
      );
    // Clamp into the log so a reset never points outside it.
    return ends.map((e) => {
      const wanted = BigInt(position.offset);
      const clamped = wanted < BigInt(e.low) ? e.low : wanted > BigInt(e.high) ? e.high : position.offset;
      return { partition: e.partition, offset: clamped };
    });
  }

  /**
   * Moves a group with no active members to `to` (refuses a group that is running: its members
   * would overwrite the reset with their next commit).
   */
  async resetGroup(
    group: string,
    topic: string,
    to: ReplayPosition,
  ): Promise<Array<{ partition: number; offset: string }>> {
    await this.connect();
    const description = await this.#admin.describeGroup(group);
    if (description.members > 0)
      throw new SwitchyardError(
        'SWITCHYARD_CAPABILITY',
        `group '${group}' has ${description.members} active members: stop it before resetting its offsets`,
        {
          retryable: true,
          details: { group, state: description.state },
        },
      );
    const offsets = await this.offsetsAt(topic, to);
    await this.#admin.setGroupOffsets(group, topic, offsets);
    return offsets;
  }

  /**
   * Dead letters in `topic` that wait for redrive: records after `group`'s commits (default
   * `<topic>.redrive`, the group `redriveDeadLetters` uses), per partition and in total.
   */
  async deadLetterDepth(topic: string, group?: string): Promise<DeadLetterDepth> {
    await this.connect();
    return deadLetterDepth(this.#admin, topic, group);
  }

  /**
   * Reads dead letters with their records, committing nothing (a throwaway group, deleted after).
   * By default from where redrive stopped; `from: 'earliest'` or `{ timestamp }` look further back.
   */
  async inspectDeadLetters(topic: string, options?: InspectDeadLettersOptions): Promise<KafkaDeadLetter[]> {
    await this.connect();
    return inspectDeadLetters(this.#tools(), topic, options);
  }

  /**
   * Sends dead letters back to their original topics (or `to`) at `ratePerSecond`, up to the log
   * end found at the start, committing in the redrive group only what the destination acknowledged.
   */
  async redriveDeadLetters(options: RedriveDeadLettersOptions): Promise<RedriveResult> {
    await this.connect();
    return redriveDeadLetters(this.#tools(), options);
  }

  #tools() {
    return { driver: this.#driver, admin: this.#admin, clock: this.#clock, logger: this.#logger };
  }

  /**
   * Prepares a replay: rewinds `group` (stopped) or a fresh replay group to `to`, and returns the
   * subscription settings that consume it at `ratePerSecond`.
   */
  async replay(request: ReplayRequest): Promise<ReplayPlan> {
    if (!(request.ratePerSecond > 0))
      throw new InvalidOptionError('ratePerSecond', 'a replay needs a positive rate limit', 'pass ratePerSecond: 500');
    const group = request.group ?? `${request.freshGroupPrefix ?? `${request.topic}.replay`}.${this.#clock.now()}`;
    const offsets = await this.resetGroup(group, request.topic, request.to);
    return {
      consumerGroup: group,
      topic: request.topic,
      offsets,
      startFrom: 'earliest',
      options: { ratePerSecond: request.ratePerSecond },
    };
  }
}
