// Kafka plumbing shared by the Kafka pairs: clients, fresh topics, seeding in Switchyard's wire format.

import type { OutgoingMessage } from '@switchyard/core';
import type { Admin, Kafka, Message } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import { randomTraceparent, wireMessage } from '../contracts.js';
import { within } from '../deadline.js';

export { deadlineFor, kafkaClient, uniqueName } from './client.js';

import { uniqueName } from './client.js';

export class Topics {
  readonly #admin: Admin;
  readonly #created = new Set<string>();

  private constructor(admin: Admin) {
    this.#admin = admin;
  }

  static async connect(kafka: Kafka): Promise<Topics> {
    const admin = kafka.admin();
    await within(admin.connect(), 30_000, 'Kafka admin connect');
    return new Topics(admin);
  }

  get admin(): Admin {
    return this.#admin;
  }

  async create(prefix: string, partitions: number): Promise<string> {
    const topic = uniqueName(prefix);
    await within(
      this.#admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true }),
      30_000,
      `create topic ${topic}`,
    );
    this.#created.add(topic);
    return topic;
  }

  /** Sum over partitions of the high watermark: how many records the topic holds (fresh topics). */
  async count(topic: string): Promise<number> {
    const offsets = await within(this.#admin.fetchTopicOffsets(topic), 30_000, `offsets of ${topic}`);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  }

  async remove(...topics: string[]): Promise<void> {
    const existing = topics.filter((t) => this.#created.delete(t));
    if (existing.length > 0) await within(this.#admin.deleteTopics({ topics: existing }), 30_000, 'delete topics');
  }

  async close(): Promise<void> {
    await this.remove(...this.#created).catch(() => {});
    await this.#admin.disconnect();
  }
}

export function toKafkaMessage(m: OutgoingMessage): Message {
  return {
    key: m.key ?? null,
    value: Buffer.from(m.body),
    headers: { ...m.headers },
    timestamp: String(m.timestamp),
  };
}

export interface SeedOptions {
  /** Distinct keys (message i has key `o-(i % keys)` and its seq within that key). */
  readonly keys?: number;
  /** Add a W3C traceparent header, as an instrumented producer would. */
  readonly traceparent?: boolean;
  /** Sends in flight at once; 1 keeps per-key order across batches. */
  readonly concurrency?: number;
  readonly batch?: number;
}

/** Writes `count` Switchyard-format messages to `topic` with a plain kafkajs producer. */
export async function seed(kafka: Kafka, topic: string, count: number, options: SeedOptions = {}): Promise<void> {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await within(producer.connect(), 30_000, 'seed producer connect');
  try {
    const batch = options.batch ?? 1_000;
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const start = next;
        const end = Math.min(count, start + batch);
        next = end;
        const messages: Message[] = [];
        for (let i = start; i < end; i++) {
          const m = toKafkaMessage(await wireMessage(i, options.keys));
          if (options.traceparent) (m.headers as Record<string, string>).traceparent = randomTraceparent();
          messages.push(m);
        }
        await within(producer.send({ topic, acks: -1, messages }), 60_000, `seed ${topic}`);
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  } finally {
    await producer.disconnect().catch(() => {});
  }
}
