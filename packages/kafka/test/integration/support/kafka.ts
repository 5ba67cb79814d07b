// Integration helpers: the broker under test (from @switchyard/testing, never hard-coded), unique
// topics and groups registered for cleanup, a raw reader for checking what landed on a topic, and
// waits on conditions with a deadline (never fixed sleeps).

import { type KafkaEndpoint, requireService, TestResources, waitUntil } from '@switchyard/testing';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { KafkaAdmin, KafkaTransport, type KafkaTransportOptions } from '../../../src/index.js';

export async function kafkaEndpoint(): Promise<KafkaEndpoint> {
  return requireService('kafka');
}

/**
 * The file's kit: made before its tests, its topics, groups and clients cleaned up after each test,
 * its admin closed after the last. Call at the top level of a test file.
 */
export function useKafkaTestKit(): () => KafkaTestKit {
  let kit: KafkaTestKit | undefined;
  beforeAll(async () => {
    kit = await KafkaTestKit.create();
  });
  afterEach(async () => {
    await kit?.cleanup();
  });
  afterAll(async () => {
    await kit?.close();
  });
  return () => {
    if (!kit) throw new Error('the Kafka test kit is made in beforeAll: use it inside a test or hook');
    return kit;
  };
}

export class KafkaTestKit {
  readonly resources = new TestResources();
  readonly brokers: readonly string[];
  readonly admin: KafkaAdmin;
  readonly kafka: Kafka;

  constructor(endpoint: KafkaEndpoint) {
    this.brokers = endpoint.brokers;
    this.admin = new KafkaAdmin({ brokers: endpoint.brokers, clientId: 'switchyard-tests' });
    this.kafka = new Kafka({
      brokers: [...endpoint.brokers],
      clientId: 'switchyard-tests-raw',
      logLevel: logLevel.NOTHING,
    });
  }

  static async create(): Promise<KafkaTestKit> {
    return new KafkaTestKit(await kafkaEndpoint());
  }

  /** A new topic with `partitions` partitions; deleted (with its retry and DLQ topics, `<name>.…` and `<name>-…`) after the test. */
  async topic(prefix: string, partitions = 1, config?: Record<string, string>): Promise<string> {
    const name = this.resources.name(prefix);
    await this.admin.createTopics([{ topic: name, partitions, ...(config ? { config } : {}) }]);
    this.resources.track(async () => {
      const related = (await this.admin.listTopics().catch(() => [] as string[])).filter(
        (t) => t === name || t.startsWith(`${name}.`) || t.startsWith(`${name}-`),
      );
      if (related.length > 0) await this.admin.deleteTopics(related).catch(() => {});
    }, `delete ${name}`);
    return name;
  }

  group(prefix = 'group'): string {
    const name = this.resources.name(prefix);
    this.resources.track(() => this.admin.deleteGroups([name]).catch(() => {}), `delete group ${name}`);
    return name;
  }

  transport(options: Partial<KafkaTransportOptions> = {}): KafkaTransport {
    const transport = new KafkaTransport({
      brokers: this.brokers,
      clientId: 'switchyard-tests',
      ...options,
      producer: { lingerMs: 0, ...options.producer },
      consumer: {
        sessionTimeoutMs: 10_000,
        heartbeatIntervalMs: 1_000,
        maxWaitTimeMs: 200,
        commitIntervalMs: 200,
        ...options.consumer,
      },
    });
    return this.resources.add(transport, (t) => t.close(), 'close transport');
  }

  /**
   * Reads `topic` from the beginning into `records` until stopped. `caughtUp()` is true once the
   * reader's group has committed the end of every partition (it commits after every record, and
   * also past transaction markers and aborted records, which it never sees).
   */
  async reader(topic: string, options: { readUncommitted?: boolean } = {}): Promise<TopicReader> {
    const group = this.group('reader');
    const consumer = this.kafka.consumer({
      groupId: group,
      readUncommitted: options.readUncommitted ?? false,
      maxWaitTimeInMs: 100,
    });
    const records: RawRecord[] = [];
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommitThreshold: 1,
      eachMessage: async ({ partition, message }) => {
        records.push({
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? null,
          value: message.value,
          headers: message.headers ?? {},
        });
      },
    });
    const stop = this.resources.track(() => consumer.disconnect(), `stop reader of ${topic}`);
    return {
      records,
      caughtUp: async () => {
        const lag = await this.admin.lag(group, topic);
        return lag.every((p) => p.committed !== undefined && p.lag === 0);
      },
      stop,
    };
  }

  /** Reads `topic` until `done(records)` (or the deadline). */
  async readTopic(
    topic: string,
    done: (records: RawRecord[]) => boolean,
    options: { readUncommitted?: boolean; timeoutMs?: number } = {},
  ): Promise<RawRecord[]> {
    const reader = await this.reader(topic, options);
    try {
      await until(
        () => done(reader.records),
        `reading ${topic} (have ${reader.records.length} records)`,
        options.timeoutMs ?? 20_000,
      );
      return [...reader.records];
    } finally {
      await reader.stop();
    }
  }

  async cleanup(): Promise<void> {
    await this.resources.cleanup();
  }

  async close(): Promise<void> {
    await this.admin.close();
  }
}

export interface TopicReader {
  readonly records: RawRecord[];
  caughtUp(): Promise<boolean>;
  stop(): Promise<void>;
}

export interface RawRecord {
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

export function header(record: RawRecord, name: string): string | undefined {
  const value = record.headers[name];
  if (value === undefined) return undefined;
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  return last?.toString();
}

export async function withDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `waitUntil` from @switchyard/testing with a boolean probe, as these tests write their waits. */
export async function until(probe: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  await waitUntil(what, probe, timeoutMs);
}
