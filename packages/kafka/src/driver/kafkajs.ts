// The kafkajs driver. kafkajs 2.2.4 is in maintenance mode; the gaps this file papers over:
//   - `consumer.commitOffsets()` retries inside the client, and a retry that outlives a rebalance
//     re-sends the old offsets under the NEW generation, so a member can move the offset of a
//     partition it no longer owns (kafkajs #1046). `commit()` here goes through the batch payload's
//     `commitOffsetsIfNecessary(offsets)`, which commits once, in the generation current at the
//     call, with no client retry; the subscription decides when to try again.
//   - With `eachBatchAutoResolve: false` the fetch position only moves when an offset is resolved,
//     so `advance()` resolves each record as it is handed over and commits are kept separate.
//   - Listeners of kafkajs instrumentation events are called synchronously from `emit`, which the
//     subscription relies on to act on a rebalance before the next fetch or commit.

import { type Logger, SwitchyardError } from '@switchyard/core';
import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  Kafka,
  type KafkaConfig,
  type LogEntry,
  logLevel,
  type Message,
  Partitioners,
  type Producer,
  type RecordMetadata,
  type Transaction,
} from 'kafkajs';
import type {
  BatchControls,
  BatchHandler,
  DriverAdmin,
  DriverBatch,
  DriverConsumer,
  DriverConsumerEvent,
  DriverConsumerOptions,
  DriverGroupDescription,
  DriverPartitionOffsets,
  DriverProducer,
  DriverProducerOptions,
  DriverRecord,
  DriverRecordMetadata,
  DriverSendOptions,
  DriverTopicMessages,
  DriverTopicSpec,
  DriverTransaction,
  KafkaDriver,
  TopicPartitionOffset,
  TopicPartitions,
} from './driver.js';

export interface KafkajsDriverOptions {
  /** An existing kafkajs client (its own logging and connection settings are kept). */
  readonly kafka?: Kafka;
  readonly brokers?: readonly string[];
  readonly clientId?: string;
  /** Extra kafkajs client settings (ssl, sasl, timeouts) when the driver builds the client. */
  readonly client?: Omit<KafkaConfig, 'brokers' | 'clientId' | 'logCreator'>;
  readonly logger: Logger;
}

const COMPRESSION = { none: 0, gzip: 1 } as const;
/** How long createTopics waits for leaders once the broker accepted the topics. */
const LEADER_WAIT_MS = 30_000;
/** Admin reads refused for a passing reason (see retryRead): attempts, and the delay step. */
const READ_ATTEMPTS = 5;
const READ_RETRY_DELAY_MS = 200;

export class KafkajsDriver implements KafkaDriver {
  readonly name = 'kafkajs';
  readonly kafka: Kafka;
  readonly #partitioner = Partitioners.DefaultPartitioner();

  constructor(options: KafkajsDriverOptions) {
    if (options.kafka) {
      this.kafka = options.kafka;
    } else {
      const logger = options.logger;
      this.kafka = new Kafka({
        logLevel: logLevel.WARN,
        ...options.client,
        brokers: [...(options.brokers ?? [])],
        clientId: options.clientId ?? 'switchyard',
        logCreator: () => (entry: LogEntry) => forwardLog(logger, entry),
      });
    }
  }

  consumer(options: DriverConsumerOptions): DriverConsumer {
    return new KafkajsConsumer(
      this.kafka.consumer({
        groupId: options.groupId,
        sessionTimeout: options.sessionTimeoutMs,
        rebalanceTimeout: options.rebalanceTimeoutMs,
        heartbeatInterval: options.heartbeatIntervalMs,
        maxBytesPerPartition: options.maxBytesPerPartition,
        maxBytes: options.maxBytes,
        maxWaitTimeInMs: options.maxWaitTimeMs,
        readUncommitted: options.readUncommitted,
        allowAutoTopicCreation: options.allowAutoTopicCreation,
      }),
    );
  }

  producer(options: DriverProducerOptions): DriverProducer {
    const transactional = options.transactionalId !== undefined;
    return new KafkajsProducer(
      this.kafka.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        idempotent: options.idempotent || transactional,
        // kafkajs keeps sequence numbers per partition but does not order concurrent requests, so
        // an idempotent producer must have one request in flight to avoid OUT_OF_ORDER_SEQUENCE.
        ...(options.idempotent || transactional ? { maxInFlightRequests: 1 } : {}),
        ...(options.transactionalId === undefined ? {} : { transactionalId: options.transactionalId }),
        ...(options.transactionTimeoutMs === undefined ? {} : { transactionTimeout: options.transactionTimeoutMs }),
        allowAutoTopicCreation: options.allowAutoTopicCreation,
        retry: { retries: options.retries },
      }),
    );
  }

  admin(): DriverAdmin {
    return new KafkajsAdmin(this.kafka.admin(), this.kafka);
  }

  partitionForKey(key: Buffer | string, partitions: number): number {
    const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    }));
    return this.#partitioner({ topic: '', partitionMetadata, message: { key, value: null } });
  }
}

function forwardLog(logger: Logger, entry: LogEntry): void {
  const { message, ...rest } = entry.log;
  const fields = { kafkajs: entry.namespace, ...rest };
  if (entry.level === logLevel.ERROR) logger.error(fields, message);
  else if (entry.level === logLevel.WARN) logger.warn(fields, message);
  else logger.debug(fields, message);
}

class KafkajsConsumer implements DriverConsumer {
  readonly #consumer: Consumer;
  readonly #listeners = new Set<(event: DriverConsumerEvent) => void>();
  /** The newest batch payload's commit function: bound to the runner that is running now. */
  #commit: EachBatchPayload['commitOffsetsIfNecessary'] | undefined;
  /** `topic:partition` of seeks asked and maybe not yet applied by a fetch (see isActive). */
  readonly #seeking = new Set<string>();

  constructor(consumer: Consumer) {
    this.#consumer = consumer;
    const { GROUP_JOIN, REBALANCING, CRASH, STOP, FETCH } = consumer.events;
    consumer.on(FETCH, () => this.#emit({ kind: 'fetch' }));
    consumer.on(GROUP_JOIN, (event) => {
      const assignment: Record<string, number[]> = {};
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
        assignment[topic] = [...partitions];
      }
      this.#emit({ kind: 'group-join', memberId: event.payload.memberId, assignment });
    });
    consumer.on(REBALANCING, () => this.#emit({ kind: 'rebalancing' }));
    consumer.on(CRASH, (event) => {
      // The crashed runner left the group: its commit function must not be used again.
      this.#commit = undefined;
      this.#emit({ kind: 'crash', error: event.payload.error, restart: event.payload.restart });
    });
    consumer.on(STOP, () => {
      this.#commit = undefined;
      this.#emit({ kind: 'stop' });
    });
  }

  #emit(event: DriverConsumerEvent): void {
    for (const listener of [...this.#listeners]) listener(event);
  }

  on(listener: (event: DriverConsumerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  connect(): Promise<void> {
    return this.#consumer.connect();
  }

  subscribe(topics: ReadonlyArray<string | RegExp>, fromBeginning: boolean): Promise<void> {
    return this.#consumer.subscribe({ topics: [...topics], fromBeginning });
  }

  run(handler: BatchHandler, options: { readonly partitionsConsumedConcurrently: number }): Promise<void> {
    return this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
      eachBatch: async (payload) => {
        this.#commit = payload.commitOffsetsIfNecessary;
        const { batch } = payload;
        const driverBatch: DriverBatch = {
          topic: batch.topic,
          partition: batch.partition,
          highWatermark: batch.highWatermark,
          // kafkajs' messages already have the record's shape: a copy of every record of the batch
          // lived as long as the batch and doubled what each fetch kept on the heap.
          records: batch.messages as readonly DriverRecord[],
        };
        const seekKey = `${batch.topic}:${batch.partition}`;
        const controls: BatchControls = {
          advance: (offset) => payload.resolveOffset(offset),
          heartbeat: () => payload.heartbeat(),
          // isStale() builds a JSON key per call (a string per record): asked only while a seek of
          // ours on this partition may still be pending. A seek applied by a fetch is forgotten.
          isActive: () => {
            if (!payload.isRunning()) return false;
            if (!this.#seeking.has(seekKey)) return true;
            if (payload.isStale()) return false;
            this.#seeking.delete(seekKey);
            return true;
          },
        };
        await handler(driverBatch, controls);
      },
    });
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    const commit = this.#commit;
    // No batch has run in the current runner (or it crashed): there is no generation to commit in.
    if (!commit) throw new SwitchyardError('SWITCHYARD_TRANSPORT', 'kafka consumer is not in a group generation');
    const byTopic = groupByTopic(offsets);
    await commit({ topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) });
  }

  seek(position: TopicPartitionOffset): void {
    this.#consumer.seek({ topic: position.topic, partition: position.partition, offset: position.offset });
    this.#seeking.add(`${position.topic}:${position.partition}`);
  }

  pause(partitions: readonly TopicPartitions[]): void {
    if (partitions.length === 0) return;
    try {
      this.#consumer.pause(partitions.map((p) => ({ topic: p.topic, partitions: [...p.partitions] })));
    } catch {
      // Not running (between a crash and its restart): the subscription re-applies pauses on join.
    }
  }

  resume(partitions: readonly TopicPartitions[]): void {
    if (partitions.length === 0) return;
    try {
      this.#consumer.resume(partitions.map((p) => ({ topic: p.topic, partitions: [...p.partitions] })));
    } catch {
      // Not running: nothing is paused on a consumer that has not joined.
    }
  }

  disconnect(): Promise<void> {
    return this.#consumer.disconnect();
  }
}

function toKafkajsMessages(batch: readonly DriverTopicMessages[]) {
  return batch.map((t) => ({
    topic: t.topic,
    messages: t.messages.map(
      (m): Message => ({
        key: m.key,
        value: m.value,
        // kafkajs reads the headers and never changes them: no copy per record.
        headers: m.headers as NonNullable<Message['headers']>,
        ...(m.partition === undefined ? {} : { partition: m.partition }),
        ...(m.timestamp === undefined ? {} : { timestamp: String(m.timestamp) }),
      }),
    ),
  }));
}

function toMetadata(result: RecordMetadata[]): DriverRecordMetadata[] {
  return result.map((r) => ({ topic: r.topicName, partition: r.partition, baseOffset: r.baseOffset ?? r.offset }));
}

class KafkajsProducer implements DriverProducer {
  readonly #producer: Producer;
  constructor(producer: Producer) {
    this.#producer = producer;
  }

  connect(): Promise<void> {
    return this.#producer.connect();
  }

  async send(batch: readonly DriverTopicMessages[], options: DriverSendOptions): Promise<DriverRecordMetadata[]> {
    const result = await this.#producer.sendBatch({
      topicMessages: toKafkajsMessages(batch),
      acks: options.acks,
      timeout: options.timeoutMs,
      compression: COMPRESSION[options.compression],
    });
    return toMetadata(result);
  }

  async transaction(): Promise<DriverTransaction> {
    return new KafkajsTransaction(await this.#producer.transaction());
  }

  disconnect(): Promise<void> {
    return this.#producer.disconnect();
  }
}

class KafkajsTransaction implements DriverTransaction {
  readonly #tx: Transaction;
  constructor(tx: Transaction) {
    this.#tx = tx;
  }

  async send(batch: readonly DriverTopicMessages[], options: DriverSendOptions): Promise<DriverRecordMetadata[]> {
    const result = await this.#tx.sendBatch({
      topicMessages: toKafkajsMessages(batch),
      acks: -1,
      timeout: options.timeoutMs,
      compression: COMPRESSION[options.compression],
    });
    return toMetadata(result);
  }

  sendOffsets(groupId: string, offsets: readonly TopicPartitionOffset[]): Promise<void> {
    const byTopic = groupByTopic(offsets);
    return this.#tx.sendOffsets({
      consumerGroupId: groupId,
      topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
    });
  }

  commit(): Promise<void> {
    return this.#tx.commit();
  }

  abort(): Promise<void> {
    return this.#tx.abort();
  }

  isActive(): boolean {
    return this.#tx.isActive();
  }
}

class KafkajsAdmin implements DriverAdmin {
  readonly #admin: Admin;
  readonly #kafka: Kafka | undefined;
  constructor(admin: Admin, kafka?: Kafka) {
    this.#admin = admin;
    this.#kafka = kafka;
  }

  connect(): Promise<void> {
    return this.#admin.connect();
  }

  async createTopics(topics: readonly DriverTopicSpec[]): Promise<void> {
    if (topics.length === 0) return;
    // Every requested topic is waited for, not only those created here: a topic another member
    // created a moment ago is listed before the broker can serve it, and a reader that subscribes
    // then fails with UNKNOWN_TOPIC_OR_PARTITION.
    const names = topics.map((t) => t.topic);
    const existing = new Set(await this.#admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return this.#waitForLeaders(names);
    try {
      await this.#admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.topic,
          numPartitions: t.partitions,
          replicationFactor: t.replicationFactor ?? -1,
          configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
    } catch (error) {
      const type = (error as { type?: string }).type;
      // Another member created them between our list and create: that is what we wanted.
      // Created, but kafkajs' wait for leaders gave up on the first metadata answer that does not
      // know the topic yet (KRaft brokers answer so for a moment after a create): wait on.
      const alreadyThere = type === 'TOPIC_ALREADY_EXISTS' || isAlreadyExists(error);
      if (!alreadyThere && type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw error;
    }
    await this.#waitForLeaders(names);
  }

  async #waitForLeaders(topics: readonly string[]): Promise<void> {
    const deadline = Date.now() + LEADER_WAIT_MS;
    for (;;) {
      try {
        const { topics: found } = await this.#admin.fetchTopicMetadata({ topics: [...topics] });
        const ready = found.every((t) => t.partitions.every((p) => p.partitionErrorCode === 0 && p.leader >= 0));
        if (ready && found.length === topics.length) return;
      } catch (error) {
        const type = (error as { type?: string }).type;
        if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') throw error;
      }
      if (Date.now() >= deadline)
        throw new SwitchyardError(
          'SWITCHYARD_TRANSPORT',
          `topics ${topics.join(', ')} were created but have no partition leaders after ${LEADER_WAIT_MS} ms`,
          { retryable: true },
        );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  deleteTopics(topics: readonly string[]): Promise<void> {
    return this.#admin.deleteTopics({ topics: [...topics] });
  }

  listTopics(): Promise<string[]> {
    return this.#admin.listTopics();
  }

  async partitionCounts(topics: readonly string[]): Promise<Map<string, number>> {
    const existing = new Set(await this.#admin.listTopics());
    const wanted = topics.filter((t) => existing.has(t));
    const result = new Map<string, number>();
    if (wanted.length === 0) return result;
    const { topics: metadata } = await this.#admin.fetchTopicMetadata({ topics: wanted });
    for (const t of metadata) result.set(t.name, t.partitions.length);
    return result;
  }

  async topicOffsets(topic: string): Promise<DriverPartitionOffsets[]> {
    const offsets = await retryRead(() => this.#admin.fetchTopicOffsets(topic));
    return offsets.map((o) => ({ partition: o.partition, high: o.high, low: o.low })).sort(byPartition);
  }

  async offsetsForTimestamp(topic: string, timestamp: number): Promise<Array<{ partition: number; offset: string }>> {
    const offsets = await this.#admin.fetchTopicOffsetsByTimestamp(topic, timestamp);
    return offsets.map((o) => ({ partition: o.partition, offset: o.offset })).sort(byPartition);
  }

  async groupOffsets(groupId: string, topic: string): Promise<Array<{ partition: number; offset: string }>> {
    const result = await retryRead(() => this.#admin.fetchOffsets({ groupId, topics: [topic] }));
    const partitions = result.find((t) => t.topic === topic)?.partitions ?? [];
    return partitions.map((p) => ({ partition: p.partition, offset: p.offset })).sort(byPartition);
  }

  /**
   * Commits offsets for a group with no members the way kafkajs' `admin.setOffsets` does (join with
   * a consumer, pause, seek, leave on the first fetch), but with a 100 ms fetch wait: kafkajs' own
   * consumer there waits out its 5 s default on the paused fetch, so every reset took over 5 s.
   */
  async setGroupOffsets(
    groupId: string,
    topic: string,
    offsets: ReadonlyArray<{ partition: number; offset: string }>,
  ): Promise<void> {
    if (!this.#kafka) return this.#admin.setOffsets({ groupId, topic, partitions: offsets.map((o) => ({ ...o })) });
    if (offsets.length === 0) return;
    const consumer = this.#kafka.consumer({ groupId, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const { state } = await consumer.describeGroup();
      if (state !== 'Empty' && state !== 'Dead')
        throw new SwitchyardError('SWITCHYARD_CAPABILITY', `group '${groupId}' is running (${state}): stop it first`, {
          retryable: true,
          details: { groupId, state },
        });
      await new Promise<void>((resolve, reject) => {
        let stopping = false;
        consumer.on(consumer.events.FETCH, () => {
          if (stopping) return;
          stopping = true;
          consumer.stop().then(resolve, reject);
        });
        consumer.run({ eachBatchAutoResolve: false, eachBatch: async () => {} }).catch(reject);
        consumer.pause([{ topic }]);
        for (const o of offsets) consumer.seek({ topic, partition: o.partition, offset: o.offset });
      });
    } finally {
      await consumer.disconnect();
    }
  }

  async describeGroup(groupId: string): Promise<DriverGroupDescription> {
    const { groups } = await this.#admin.describeGroups([groupId]);
    const group = groups.find((g) => g.groupId === groupId);
    return { groupId, state: group?.state ?? 'Unknown', members: group?.members.length ?? 0 };
  }

  async deleteGroups(groupIds: readonly string[]): Promise<void> {
    if (groupIds.length > 0) await this.#admin.deleteGroups([...groupIds]);
  }

  disconnect(): Promise<void> {
    return this.#admin.disconnect();
  }
}

/**
 * Retries a read the broker refused for a passing reason. kafkajs' admin does not retry these
 * itself: an offset fetch answered NOT_COORDINATOR while the group's coordinator moves, or a list
 * offsets answered NOT_LEADER, rejects at once (seen under load). Reads only: they are safe to repeat.
 */
async function retryRead<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (attempt >= READ_ATTEMPTS || (error as { retriable?: unknown }).retriable !== true) throw error;
      await new Promise((resolve) => setTimeout(resolve, READ_RETRY_DELAY_MS * attempt));
    }
  }
}

function isAlreadyExists(error: unknown): boolean {
  const errors = (error as { errors?: unknown[] }).errors;
  return (
    Array.isArray(errors) &&
    errors.length > 0 &&
    errors.every((e) => (e as { type?: string }).type === 'TOPIC_ALREADY_EXISTS')
  );
}

function groupByTopic(
  offsets: readonly TopicPartitionOffset[],
): Map<string, Array<{ partition: number; offset: string }>> {
  const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
  for (const { topic, partition, offset } of offsets) {
    const list = byTopic.get(topic) ?? [];
    list.push({ partition, offset });
    byTopic.set(topic, list);
  }
  return byTopic;
}

const byPartition = (a: { partition: number }, b: { partition: number }) => a.partition - b.partition;
