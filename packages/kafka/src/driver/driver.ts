// The Kafka client behind Switchyard's Kafka binding. Everything above this port (transport,
// subscription, admin, replay) speaks only these types, so a second client (for example
// @platformatic/kafka) can be added as another driver without touching the rest.
//
// The shapes follow the Kafka protocol rather than any one client: offsets are decimal strings
// (they can exceed 2^53), keys and values are bytes, and a consumer hands over one fetched batch
// per partition at a time together with the controls that are only valid while that batch runs.

/** A header value as clients return it: one value, or several when the name repeats. */
export type DriverHeaderValue = Buffer | string | ReadonlyArray<Buffer | string> | undefined;

export interface DriverRecord {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Absent when the record has none (kafkajs' own messages are passed through as they are). */
  readonly headers?: Readonly<Record<string, DriverHeaderValue>>;
  /** Broker or producer timestamp, ms since the epoch, as a decimal string. */
  readonly timestamp: string;
}

export interface DriverBatch {
  readonly topic: string;
  readonly partition: number;
  /** Log end offset as the broker reported it with this fetch. */
  readonly highWatermark: string;
  readonly records: readonly DriverRecord[];
}

/** Controls for the batch being handled; they lose meaning once the handler returns. */
export interface BatchControls {
  /**
   * Moves the fetch position past `offset` (the next fetch of this partition starts after it).
   * This is NOT a commit: commits go through `DriverConsumer.commit` with the offset watermark.
   */
  advance(offset: string): void;
  /** Sends a group heartbeat if one is due. Rejects when the group is rebalancing. */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping or a seek made this batch stale: stop handing records over. */
  isActive(): boolean;
}

export interface TopicPartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

export interface TopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

export type DriverConsumerEvent =
  /** This member joined (or re-joined) the group and owns `assignment` in the new generation. */
  | { readonly kind: 'group-join'; readonly memberId: string; readonly assignment: Readonly<Record<string, number[]>> }
  /** The group started rebalancing; the current assignment is about to be revoked. */
  | { readonly kind: 'rebalancing' }
  /** The consumer failed; it left the group. `restart` says whether the client rejoins by itself. */
  | { readonly kind: 'crash'; readonly error: Error; readonly restart: boolean }
  /** The consumer stopped (it left the group). */
  | { readonly kind: 'stop' }
  /** A fetch request completed (offsets of newly assigned partitions are resolved by then). */
  | { readonly kind: 'fetch' };

export interface DriverConsumerOptions {
  readonly groupId: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly maxBytesPerPartition: number;
  readonly maxBytes: number;
  readonly maxWaitTimeMs: number;
  /** false = read_committed (skip aborted transactional records). */
  readonly readUncommitted: boolean;
  readonly allowAutoTopicCreation: boolean;
}

export type BatchHandler = (batch: DriverBatch, controls: BatchControls) => Promise<void>;

export interface DriverConsumer {
  connect(): Promise<void>;
  /** Subscribe before `run`. RegExp patterns are matched against the topics that exist now. */
  subscribe(topics: ReadonlyArray<string | RegExp>, fromBeginning: boolean): Promise<void>;
  /** Starts the fetch loop: batches are handed over one partition at a time, offsets are never auto-committed. */
  run(handler: BatchHandler, options: { readonly partitionsConsumedConcurrently: number }): Promise<void>;
  /**
   * Commits offsets in the current group generation, once, with no retry that could cross a
   * rebalance. The offsets are bound to the generation synchronously, when this is called.
   */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /** The next fetch of this partition starts at `offset`. */
  seek(position: TopicPartitionOffset): void;
  pause(partitions: readonly TopicPartitions[]): void;
  resume(partitions: readonly TopicPartitions[]): void;
  on(listener: (event: DriverConsumerEvent) => void): () => void;
  /** Stops fetching, leaves the group and closes connections. */
  disconnect(): Promise<void>;
}

export interface DriverMessage {
  readonly key: Buffer | string | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string | Buffer>>;
  readonly partition?: number;
  /** ms since the epoch. */
  readonly timestamp?: number;
}

export interface DriverTopicMessages {
  readonly topic: string;
  readonly messages: readonly DriverMessage[];
}

export interface DriverRecordMetadata {
  readonly topic: string;
  readonly partition: number;
  /** Offset of the first record written to this partition by the request. */
  readonly baseOffset: string | undefined;
}

export type DriverCompression = 'none' | 'gzip';

export interface DriverProducerOptions {
  readonly idempotent: boolean;
  readonly transactionalId?: string;
  readonly transactionTimeoutMs?: number;
  readonly allowAutoTopicCreation: boolean;
  /** How many times a failed send is retried by the client before it rejects. */
  readonly retries: number;
}

export interface DriverSendOptions {
  readonly acks: -1 | 0 | 1;
  readonly timeoutMs: number;
  readonly compression: DriverCompression;
}

export interface DriverTransaction {
  send(batch: readonly DriverTopicMessages[], options: DriverSendOptions): Promise<DriverRecordMetadata[]>;
  /** Adds consumed offsets (next offset to read) to the transaction for `groupId`. */
  sendOffsets(groupId: string, offsets: readonly TopicPartitionOffset[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  isActive(): boolean;
}

export interface DriverProducer {
  connect(): Promise<void>;
  send(batch: readonly DriverTopicMessages[], options: DriverSendOptions): Promise<DriverRecordMetadata[]>;
  /** Begins a transaction (transactional producers only). */
  transaction(): Promise<DriverTransaction>;
  disconnect(): Promise<void>;
}

export interface DriverTopicSpec {
  readonly topic: string;
  readonly partitions: number;
  readonly replicationFactor?: number;
  readonly config?: Readonly<Record<string, string>>;
}

export interface DriverPartitionOffsets {
  readonly partition: number;
  /** Log end offset (next offset to be written). */
  readonly high: string;
  /** Log start offset. */
  readonly low: string;
}

export interface DriverGroupDescription {
  readonly groupId: string;
  /** `Stable`, `Empty`, `PreparingRebalance`, `CompletingRebalance`, `Dead`, `Unknown`. */
  readonly state: string;
  readonly members: number;
}

export interface DriverAdmin {
  connect(): Promise<void>;
  /** Creates the topics that do not exist yet; resolves when their leaders are elected. */
  createTopics(topics: readonly DriverTopicSpec[]): Promise<void>;
  deleteTopics(topics: readonly string[]): Promise<void>;
  listTopics(): Promise<string[]>;
  /** Partition count per topic (topics that do not exist are omitted). */
  partitionCounts(topics: readonly string[]): Promise<Map<string, number>>;
  topicOffsets(topic: string): Promise<DriverPartitionOffsets[]>;
  /** First offset whose timestamp is >= `timestamp`, per partition (the log end when none). */
  offsetsForTimestamp(topic: string, timestamp: number): Promise<Array<{ partition: number; offset: string }>>;
  /** Committed offsets of a group; partitions without a commit have offset `-1`. */
  groupOffsets(groupId: string, topic: string): Promise<Array<{ partition: number; offset: string }>>;
  /** Sets committed offsets of a group that has no active members. */
  setGroupOffsets(
    groupId: string,
    topic: string,
    offsets: ReadonlyArray<{ partition: number; offset: string }>,
  ): Promise<void>;
  describeGroup(groupId: string): Promise<DriverGroupDescription>;
  deleteGroups(groupIds: readonly string[]): Promise<void>;
  disconnect(): Promise<void>;
}

/** A Kafka client as Switchyard uses it. */
export interface KafkaDriver {
  /** `kafkajs`, … (for logs and health). */
  readonly name: string;
  consumer(options: DriverConsumerOptions): DriverConsumer;
  producer(options: DriverProducerOptions): DriverProducer;
  admin(): DriverAdmin;
  /** Which partition a keyed record lands on (the client's partitioner). */
  partitionForKey(key: Buffer | string, partitions: number): number;
}
