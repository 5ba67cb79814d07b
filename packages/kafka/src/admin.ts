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
  shownValue,
  silentLogger,
  systemClock,
} from '@switchyard/core';
import type { Kafka } from 'kafkajs';
import {
  checkInspect,
  checkName,
  checkOptionsObject,
  checkRate,
  checkRedrive,
  checkTimestamp,
  type DeadLetterDepth,
  deadLetterDepth,
  type InspectDeadLettersOptions,
  inspectDeadLetters,
  type KafkaDeadLetter,
  type RedriveDeadLettersOptions,
  type RedriveResult,
  redriveDeadLetters,
} from './dead-letter-tools.js';
import type { DriverAdmin, DriverTopicSpec, KafkaDriver } from './driver/driver.js';
import { KafkajsDriver } from './driver/kafkajs.js';
import {
  checkHotPartitionOptions,
  detectHotPartitions,
  type HotPartition,
  type HotPartitionOptions,
} from './hot-partitions.js';
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

// Call-time checks: each public method checks its arguments before it connects or calls the driver,
// so a wrong one rejects with an InvalidOptionError naming `<method>.<argument>` and nothing was sent.

const topicName = (option: string, value: unknown): string => checkName(option, value, 'topic', 'orders');
const groupName = (option: string, value: unknown): string => checkName(option, value, 'group', 'billing');

/** A list of names (`deleteTopics`, `deleteGroups`): an array of non-empty strings, possibly empty. */
function nameList(option: string, value: unknown, what: 'topic' | 'group', example: string): string[] {
  if (!Array.isArray(value))
    throw new InvalidOptionError(
      option,
      `expected an array of ${what} names, got ${optionKindText(value)}`,
      `pass e.g. ['${example}']`,
    );
  return value.map((name, i) => checkName(`${option}[${i}]`, name, what, example));
}

/**
 * A replay position: 'earliest', 'latest', `{ offset }` (a string of decimal digits) or `{ timestamp }`
 * (ms since the epoch), and nothing else; a key holding `undefined` counts as absent.
 */
function checkPosition(option: string, value: unknown): ReplayPosition {
  const fix = "pass 'earliest', 'latest', { offset: '42' } or { timestamp: Date.now() - 3_600_000 }";
  if (value === 'earliest' || value === 'latest') return value;
  if (!isOptionObject(value))
    throw new InvalidOptionError(
      option,
      `must be 'earliest', 'latest', { offset } or { timestamp }, got ${shownValue(value)}`,
      fix,
    );
  refuseUnknown(option, value, ['offset', 'timestamp']);
  const { offset, timestamp } = value;
  if ((offset === undefined) === (timestamp === undefined))
    throw new InvalidOptionError(
      option,
      offset === undefined ? 'gives neither an offset nor a timestamp' : 'gives both an offset and a timestamp',
      fix,
    );
  if (timestamp !== undefined) return { timestamp: checkTimestamp(`${option}.timestamp`, timestamp) };
  if (typeof offset !== 'string' || !/^\d+$/.test(offset))
    throw new InvalidOptionError(
      `${option}.offset`,
      `must be an offset as a string of decimal digits, got ${shownValue(offset)}`,
      "pass e.g. { offset: '42' } (for a number or bigint n: String(n))",
    );
  return { offset: BigInt(offset).toString() };
}

/** -1 (the broker's default) or a whole number from 1 to `max`. */
function countOrDefault(option: string, value: unknown, max: number): void {
  if (value === -1) return;
  if (!(Number.isInteger(value) && (value as number) >= 1 && (value as number) <= max))
    throw new InvalidOptionError(
      option,
      `must be a whole number from 1 to ${max}, or -1 for the broker's default, got ${shownValue(value)}`,
      `set ${option} to e.g. 3, or leave it out`,
    );
}

const TOPIC_KEYS = ['topic', 'partitions', 'replicationFactor', 'retentionMs', 'config'] as const;

function checkTopicDefinitions(value: unknown): DriverTopicSpec[] {
  const option = 'createTopics.topics';
  if (!Array.isArray(value))
    throw new InvalidOptionError(
      option,
      `expected an array of topic definitions, got ${optionKindText(value)}`,
      "pass e.g. [{ topic: 'orders', partitions: 3 }]",
    );
  return value.map((entry: unknown, i) => {
    const at = `${option}[${i}]`;
    const t = checkOptionsObject(at, entry, TOPIC_KEYS, "{ topic: 'orders', partitions: 3 }");
    const topic = topicName(`${at}.topic`, t.topic);
    if (t.partitions !== undefined) countOrDefault(`${at}.partitions`, t.partitions, 2_147_483_647);
    if (t.replicationFactor !== undefined) countOrDefault(`${at}.replicationFactor`, t.replicationFactor, 32_767);
    if (t.retentionMs !== undefined && !(Number.isSafeInteger(t.retentionMs) && (t.retentionMs as number) >= -1))
      throw new InvalidOptionError(
        `${at}.retentionMs`,
        `must be a whole number of ms, or -1 to keep records forever, got ${shownValue(t.retentionMs)}`,
        'set retentionMs to e.g. 604_800_000 (7 days), or leave it out for the broker default',
      );
    const config: Record<string, string> = {};
    if (t.config !== undefined) {
      if (!isOptionObject(t.config))
        throw new InvalidOptionError(
          `${at}.config`,
          `expected an object of topic settings, got ${optionKindText(t.config)}`,
          "pass e.g. config: { 'cleanup.policy': 'compact' }",
        );
      for (const [name, setting] of Object.entries(t.config))
        if (setting !== undefined) {
          if (typeof setting !== 'string')
            throw new InvalidOptionError(
              `${at}.config.${name}`,
              `must be a string (Kafka topic settings are strings), got ${shownValue(setting)}`,
              `write it as a string, e.g. '${name}': '1'`,
            );
          config[name] = setting;
        }
    }
    return {
      topic,
      partitions: (t.partitions as number | undefined) ?? 1,
      ...(t.replicationFactor === undefined ? {} : { replicationFactor: t.replicationFactor as number }),
      config: { ...(t.retentionMs === undefined ? {} : { 'retention.ms': String(t.retentionMs) }), ...config },
    };
  });
}

const REPLAY_KEYS = ['topic', 'group', 'freshGroupPrefix', 'to', 'ratePerSecond'] as const;

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
    const specs = checkTopicDefinitions(topics);
    await this.connect();
    await this.#admin.createTopics(specs);
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    const names = nameList('deleteTopics.topics', topics, 'topic', 'orders');
    await this.connect();
    await this.#admin.deleteTopics(names);
  }

  async listTopics(): Promise<string[]> {
    await this.connect();
    return this.#admin.listTopics();
  }

  async topicOffsets(topic: string): Promise<Array<{ partition: number; low: string; high: string }>> {
    topicName('topicOffsets.topic', topic);
    await this.connect();
    return this.#admin.topicOffsets(topic);
  }

  /** Committed offsets of `group` on `topic` (undefined where it never committed). */
  async groupOffsets(
    group: string,
    topic: string,
  ): Promise<Array<{ partition: number; committed: string | undefined }>> {
    groupName('groupOffsets.group', group);
    topicName('groupOffsets.topic', topic);
    return this.#groupOffsets(group, topic);
  }

  async #groupOffsets(
    group: string,
    topic: string,
  ): Promise<Array<{ partition: number; committed: string | undefined }>> {
    await this.connect();
    const offsets = await this.#admin.groupOffsets(group, topic);
    return offsets.map((o) => ({ partition: o.partition, committed: BigInt(o.offset) < 0n ? undefined : o.offset }));
  }

  /** Lag per partition: log end minus the group's committed offset. */
  async lag(group: string, topic: string): Promise<PartitionLag[]> {
    groupName('lag.group', group);
    topicName('lag.topic', topic);
    return this.#lag(group, topic);
  }

  async #lag(group: string, topic: string): Promise<PartitionLag[]> {
    await this.connect();
    const [ends, committed] = await Promise.all([this.#admin.topicOffsets(topic), this.#groupOffsets(group, topic)]);
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
    groupName('hotPartitions.group', group);
    topicName('hotPartitions.topic', topic);
    const checked = checkHotPartitionOptions('hotPartitions', options);
    const lag = await this.#lag(group, topic);
    return detectHotPartitions(
      lag.map((p) => ({ topic, partition: p.partition, lag: p.lag })),
      checked,
    );
  }

  async describeGroup(group: string): Promise<{ state: string; members: number }> {
    groupName('describeGroup.group', group);
    await this.connect();
    const { state, members } = await this.#admin.describeGroup(group);
    return { state, members };
  }

  async deleteGroups(groups: readonly string[]): Promise<void> {
    const names = nameList('deleteGroups.groups', groups, 'group', 'billing');
    await this.connect();
    await this.#admin.deleteGroups(names);
  }

  /** The offset of each partition at `position`. */
  async offsetsAt(topic: string, position: ReplayPosition): Promise<Array<{ partition: number; offset: string }>> {
    topicName('offsetsAt.topic', topic);
    return this.#offsetsAt(topic, checkPosition('offsetsAt.position', position));
  }

  /** `offsetsAt` for a checked position. */
  async #offsetsAt(topic: string, position: ReplayPosition): Promise<Array<{ partition: number; offset: string }>> {
    await this.connect();
    const ends = await this.#admin.topicOffsets(topic);
    if (position === 'earliest') return ends.map((e) => ({ partition: e.partition, offset: e.low }));
    if (position === 'latest') return ends.map((e) => ({ partition: e.partition, offset: e.high }));
    if ('timestamp' in position) return this.#admin.offsetsForTimestamp(topic, position.timestamp);
    // Clamp into the log so a reset never points outside it.
    const wanted = BigInt(position.offset);
    return ends.map((e) => {
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
    groupName('resetGroup.group', group);
    topicName('resetGroup.topic', topic);
    return this.#resetGroup(group, topic, checkPosition('resetGroup.to', to));
  }

  /** `resetGroup` for checked arguments. */
  async #resetGroup(
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
    const offsets = await this.#offsetsAt(topic, to);
    await this.#admin.setGroupOffsets(group, topic, offsets);
    return offsets;
  }

  /**
   * Dead letters in `topic` that wait for redrive: records after `group`'s commits (default
   * `<topic>.redrive`, the group `redriveDeadLetters` uses), per partition and in total.
   */
  async deadLetterDepth(topic: string, group?: string): Promise<DeadLetterDepth> {
    topicName('deadLetterDepth.topic', topic);
    if (group !== undefined) groupName('deadLetterDepth.group', group);
    await this.connect();
    return deadLetterDepth(this.#admin, topic, group);
  }

  /**
   * Reads dead letters with their records, committing nothing (a throwaway group, deleted after).
   * By default from where redrive stopped; `from: 'earliest'` or `{ timestamp }` look further back.
   */
  async inspectDeadLetters(topic: string, options?: InspectDeadLettersOptions): Promise<KafkaDeadLetter[]> {
    const plan = checkInspect(topic, options);
    await this.connect();
    return inspectDeadLetters(this.#tools(), plan);
  }

  /**
   * Sends dead letters back to their original topics (or `to`) at `ratePerSecond`, up to the log
   * end found at the start, committing in the redrive group only what the destination acknowledged.
   */
  async redriveDeadLetters(options: RedriveDeadLettersOptions): Promise<RedriveResult> {
    const plan = checkRedrive(options);
    // Already aborted: nothing to do, so nothing is connected or read (as a run aborted at once ends).
    if (plan.signal?.aborted) return { group: plan.group, moved: 0, movedTo: {}, skipped: [], complete: false };
    await this.connect();
    return redriveDeadLetters(this.#tools(), plan);
  }

  #tools() {
    return { driver: this.#driver, admin: this.#admin, clock: this.#clock, logger: this.#logger };
  }

  /**
   * Prepares a replay: rewinds `group` (stopped) or a fresh replay group to `to`, and returns the
   * subscription settings that consume it at `ratePerSecond`.
   */
  async replay(request: ReplayRequest): Promise<ReplayPlan> {
    const r = checkOptionsObject(
      'replay',
      request,
      REPLAY_KEYS,
      "{ topic: 'orders', to: 'earliest', ratePerSecond: 500 }",
    );
    const topic = topicName('replay.topic', r.topic);
    const given = r.group === undefined ? undefined : groupName('replay.group', r.group);
    if (given !== undefined && r.freshGroupPrefix !== undefined)
      throw new InvalidOptionError(
        'replay.freshGroupPrefix',
        'names a fresh replay group, but group rewinds an existing one',
        'pass group to rewind it, or freshGroupPrefix for a new group, not both',
      );
    const prefix =
      r.freshGroupPrefix === undefined
        ? `${topic}.replay`
        : checkName('replay.freshGroupPrefix', r.freshGroupPrefix, 'group', `${topic}.replay`);
    const to = checkPosition('replay.to', r.to);
    const ratePerSecond = checkRate('replay.ratePerSecond', r.ratePerSecond);
    const group = given ?? `${prefix}.${this.#clock.now()}`;
    const offsets = await this.#resetGroup(group, topic, to);
    return {
      consumerGroup: group,
      topic,
      offsets,
      startFrom: 'earliest',
      options: { ratePerSecond },
    };
  }
}
