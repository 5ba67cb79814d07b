// An in-memory KafkaDriver for unit tests of the subscription logic: the test plays the broker and
// the group coordinator (joins, batches, rebalances) and reads back what the subscription did
// (commits, seeks, pauses, records written). Integration tests use the real broker instead.

import type {
  BatchControls,
  BatchHandler,
  DriverAdmin,
  DriverConsumer,
  DriverConsumerEvent,
  DriverConsumerOptions,
  DriverGroupDescription,
  DriverMessage,
  DriverPartitionOffsets,
  DriverProducer,
  DriverProducerOptions,
  DriverRecord,
  DriverRecordMetadata,
  DriverTopicMessages,
  DriverTopicSpec,
  DriverTransaction,
  KafkaDriver,
  TopicPartitionOffset,
  TopicPartitions,
} from '../../src/index.js';

export interface FakeBatchResult {
  /** Offsets advanced past (fetch position moved), in order. */
  readonly advanced: string[];
  readonly heartbeats: number;
}

export class FakeConsumer implements DriverConsumer {
  readonly options: DriverConsumerOptions;
  readonly commits: TopicPartitionOffset[][] = [];
  readonly seeks: TopicPartitionOffset[] = [];
  readonly paused = new Set<string>();
  readonly pauseLog: Array<{ op: 'pause' | 'resume'; id: string }> = [];
  subscribed: Array<{ topics: Array<string | RegExp>; fromBeginning: boolean }> = [];
  handler: BatchHandler | undefined;
  connected = false;
  disconnected = false;
  /** Make the next commits fail with this error. */
  failCommits: Error | undefined;
  stale = false;
  readonly #listeners = new Set<(event: DriverConsumerEvent) => void>();

  constructor(options: DriverConsumerOptions) {
    this.options = options;
  }

  async connect(): Promise<void> {
    this.connected = true;
  }

  async subscribe(topics: ReadonlyArray<string | RegExp>, fromBeginning: boolean): Promise<void> {
    this.subscribed.push({ topics: [...topics], fromBeginning });
  }

  async run(handler: BatchHandler): Promise<void> {
    this.handler = handler;
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (this.failCommits) throw this.failCommits;
    this.commits.push(offsets.map((o) => ({ ...o })));
  }

  seek(position: TopicPartitionOffset): void {
    this.seeks.push({ ...position });
  }

  pause(partitions: readonly TopicPartitions[]): void {
    for (const p of partitions)
      for (const n of p.partitions) {
        this.paused.add(`${p.topic}/${n}`);
        this.pauseLog.push({ op: 'pause', id: `${p.topic}/${n}` });
      }
  }

  resume(partitions: readonly TopicPartitions[]): void {
    for (const p of partitions)
      for (const n of p.partitions) {
        this.paused.delete(`${p.topic}/${n}`);
        this.pauseLog.push({ op: 'resume', id: `${p.topic}/${n}` });
      }
  }

  on(listener: (event: DriverConsumerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: DriverConsumerEvent): void {
    for (const l of [...this.#listeners]) l(event);
  }

  /** The coordinator assigns partitions; a fetch follows, as with the real client. */
  join(assignment: Record<string, number[]>, memberId = 'member-1'): void {
    this.emit({ kind: 'group-join', memberId, assignment });
    this.emit({ kind: 'fetch' });
  }

  /** Hands a fetched batch to the subscription, as the client's fetch loop does. */
  async deliver(
    topic: string,
    partition: number,
    records: DriverRecord[],
    highWatermark?: string,
  ): Promise<FakeBatchResult> {
    if (!this.handler) throw new Error('run() was not called');
    const advanced: string[] = [];
    let heartbeats = 0;
    const controls: BatchControls = {
      advance: (offset) => advanced.push(offset),
      heartbeat: async () => {
        heartbeats++;
      },
      isActive: () => !this.stale && !this.disconnected,
    };
    const last = records[records.length - 1];
    await this.handler(
      { topic, partition, highWatermark: highWatermark ?? (last ? String(BigInt(last.offset) + 1n) : '0'), records },
      controls,
    );
    return { advanced, heartbeats };
  }

  lastCommitted(topic: string, partition: number): string | undefined {
    for (let i = this.commits.length - 1; i >= 0; i--) {
      const hit = this.commits[i]!.find((o) => o.topic === topic && o.partition === partition);
      if (hit) return hit.offset;
    }
    return undefined;
  }

  async disconnect(): Promise<void> {
    this.disconnected = true;
    this.emit({ kind: 'stop' });
  }
}

export interface SentRecord extends DriverMessage {
  readonly topic: string;
}

export class FakeProducer implements DriverProducer {
  readonly options: DriverProducerOptions;
  readonly sent: SentRecord[] = [];
  readonly sends: number[] = [];
  /** Return an error to fail a send for that topic. */
  failFor: (topic: string, message: DriverMessage) => Error | undefined = () => undefined;

  constructor(options: DriverProducerOptions) {
    this.options = options;
  }

  async connect(): Promise<void> {}

  async send(batch: readonly DriverTopicMessages[]): Promise<DriverRecordMetadata[]> {
    for (const t of batch)
      for (const m of t.messages) {
        const error = this.failFor(t.topic, m);
        if (error) throw error;
      }
    this.sends.push(batch.reduce((n, t) => n + t.messages.length, 0));
    for (const t of batch) for (const m of t.messages) this.sent.push({ ...m, topic: t.topic });
    return batch.map((t) => ({ topic: t.topic, partition: 0, baseOffset: '0' }));
  }

  async transaction(): Promise<DriverTransaction> {
    throw new Error('the fake producer has no transactions');
  }

  async disconnect(): Promise<void> {}

  to(topic: string): SentRecord[] {
    return this.sent.filter((r) => r.topic === topic);
  }
}

export class FakeAdmin implements DriverAdmin {
  readonly topics = new Map<string, number>();
  readonly created: DriverTopicSpec[] = [];
  readonly groupCommits = new Map<string, Map<number, string>>();
  async connect(): Promise<void> {}
  async createTopics(topics: readonly DriverTopicSpec[]): Promise<void> {
    for (const t of topics)
      if (!this.topics.has(t.topic)) {
        this.topics.set(t.topic, t.partitions);
        this.created.push(t);
      }
  }
  async deleteTopics(topics: readonly string[]): Promise<void> {
    for (const t of topics) this.topics.delete(t);
  }
  async listTopics(): Promise<string[]> {
    return [...this.topics.keys()];
  }
  async partitionCounts(topics: readonly string[]): Promise<Map<string, number>> {
    return new Map(topics.filter((t) => this.topics.has(t)).map((t) => [t, this.topics.get(t)!]));
  }
  async topicOffsets(topic: string): Promise<DriverPartitionOffsets[]> {
    return Array.from({ length: this.topics.get(topic) ?? 0 }, (_, partition) => ({
      partition,
      high: '100',
      low: '0',
    }));
  }
  async offsetsForTimestamp(topic: string, timestamp: number): Promise<Array<{ partition: number; offset: string }>> {
    return Array.from({ length: this.topics.get(topic) ?? 0 }, (_, partition) => ({
      partition,
      offset: String(timestamp % 1000),
    }));
  }
  async groupOffsets(groupId: string, topic: string): Promise<Array<{ partition: number; offset: string }>> {
    const commits = this.groupCommits.get(`${groupId}/${topic}`);
    return Array.from({ length: this.topics.get(topic) ?? 0 }, (_, partition) => ({
      partition,
      offset: commits?.get(partition) ?? '-1',
    }));
  }
  async setGroupOffsets(
    groupId: string,
    topic: string,
    offsets: ReadonlyArray<{ partition: number; offset: string }>,
  ): Promise<void> {
    this.groupCommits.set(`${groupId}/${topic}`, new Map(offsets.map((o) => [o.partition, o.offset])));
  }
  async describeGroup(groupId: string): Promise<DriverGroupDescription> {
    return { groupId, state: 'Empty', members: 0 };
  }
  async deleteGroups(): Promise<void> {}
  async disconnect(): Promise<void> {}
}

export class FakeDriver implements KafkaDriver {
  readonly name = 'fake';
  readonly consumers: FakeConsumer[] = [];
  readonly producers: FakeProducer[] = [];
  readonly adminClient = new FakeAdmin();

  consumer(options: DriverConsumerOptions): FakeConsumer {
    const c = new FakeConsumer(options);
    this.consumers.push(c);
    return c;
  }

  producer(options: DriverProducerOptions): FakeProducer {
    const p = new FakeProducer(options);
    this.producers.push(p);
    return p;
  }

  admin(): FakeAdmin {
    return this.adminClient;
  }

  partitionForKey(): number {
    return 0;
  }

  get producer0(): FakeProducer {
    return this.producers[0]!;
  }
}

let offsetSeed = 0;
export function record(
  offset: number | string,
  init: { key?: string | null; value?: string | Buffer | null; headers?: Record<string, string | Buffer> } = {},
): DriverRecord {
  offsetSeed++;
  return {
    offset: String(offset),
    key: init.key === null ? null : Buffer.from(init.key ?? `k${offset}`),
    value:
      init.value === null
        ? null
        : Buffer.isBuffer(init.value)
          ? init.value
          : Buffer.from(init.value ?? JSON.stringify({ n: Number(offset) })),
    headers: init.headers ?? {},
    timestamp: String(1_700_000_000_000 + offsetSeed),
  };
}
