// Pair 4: batched publishing, one request in flight, idempotent producer, acks all, on both sides.
//   - headline: Switchyard's `app.publishBatch` of `window` payloads at a time against kafkajs
//     `producer.send` of `window` messages at a time: the same batching. Switchyard runs with
//     lingerMs 0 here because the raw loop does not linger either (a linger only gathers
//     publishes that arrive apart, and a batch arrives whole).
//   - second figure: `app.publish` from `window` concurrent callers with the default linger (5 ms),
//     batched by the transport, against the same raw loop.
// Both sides validate nothing (the bench contract accepts anything) and build the same headers and
// JSON body per message. Time from the first publish to the last acknowledgement; producers are
// connected before the clock starts.

import { randomUUID } from 'node:crypto';
import { createApp, defineTopic, JSON_CONTENT_TYPE, WireHeaders } from '@switchyard/core';
import { KafkaTransport } from '@switchyard/kafka';
import { type Kafka, type Message, Partitioners } from 'kafkajs';
import { type OrderPayload, OrderPlaced, orderPayload } from '../contracts.js';
import { closeQuietly, within } from '../deadline.js';
import { runPair } from '../pair.js';
import type { KafkaContext } from './consume.js';
import { deadlineFor } from './support.js';

type PublishMode = 'batch' | 'concurrent';

async function switchyardPublish(
  brokers: readonly string[],
  topicName: string,
  count: number,
  window: number,
  mode: PublishMode,
) {
  const transport = new KafkaTransport({
    brokers,
    clientId: 'bench-publish',
    ...(mode === 'batch' ? { producer: { lingerMs: 0 } } : {}),
  });
  const app = createApp({ transport });
  const topic = defineTopic({ name: topicName, events: [OrderPlaced] });
  try {
    await within(transport.start(), 30_000, 'Kafka transport start');
    const started = performance.now();
    if (mode === 'batch') {
      const work = async () => {
        for (let start = 0; start < count; start += window) {
          const payloads: OrderPayload[] = [];
          for (let i = start; i < Math.min(count, start + window); i++) payloads.push(orderPayload(i));
          await app.publishBatch(topic, OrderPlaced, payloads);
        }
      };
      await within(work(), deadlineFor(count, 500), 'Switchyard publishing');
    } else {
      let next = 0;
      const caller = async () => {
        while (next < count) await app.publish(topic, OrderPlaced, orderPayload(next++));
      };
      await within(
        Promise.all(Array.from({ length: window }, caller)),
        deadlineFor(count, 500),
        'Switchyard publishing',
      );
    }
    return (count / (performance.now() - started)) * 1000;
  } finally {
    await closeQuietly('Switchyard app', () => app.stop({ deadlineMs: 10_000 }));
  }
}

async function rawPublish(kafka: Kafka, topic: string, count: number, window: number) {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  try {
    await within(producer.connect(), 30_000, 'kafkajs producer connect');
    const started = performance.now();
    const work = async () => {
      for (let start = 0; start < count; start += window) {
        const messages: Message[] = [];
        for (let i = start; i < Math.min(count, start + window); i++) {
          const payload = orderPayload(i);
          messages.push({
            key: payload.orderId,
            value: JSON.stringify(payload),
            headers: {
              [WireHeaders.id]: randomUUID(),
              [WireHeaders.type]: 'OrderPlaced',
              [WireHeaders.key]: payload.orderId,
              [WireHeaders.timestamp]: String(Date.now()),
              [WireHeaders.schemaVersion]: '1',
              [WireHeaders.contentType]: JSON_CONTENT_TYPE,
            },
          });
        }
        await producer.send({ topic, acks: -1, messages });
      }
    };
    await within(work(), deadlineFor(count, 500), 'kafkajs publishing');
    return (count / (performance.now() - started)) * 1000;
  } finally {
    await closeQuietly('kafkajs producer', () => producer.disconnect());
  }
}

export async function kafkaProduce(ctx: KafkaContext): Promise<void> {
  const { settings, kafka, brokers, topics, report } = ctx;
  const { produceMessages: count, produceWindow: window } = settings;
  const verify = async (topic: string, side: string) => {
    const n = await topics.count(topic);
    if (n !== count) throw new Error(`${side} wrote ${n} records to ${topic}, expected ${count}`);
  };
  const pair = (mode: PublishMode) =>
    runPair({
      name: mode === 'batch' ? 'kafka publish' : 'kafka publish (concurrent callers)',
      rounds: settings.rounds,
      maxSpread: settings.maxSpread,
      // The first produce pair warms the producers' paths (and the broker's log appends) up.
      warmup: mode === 'batch',
      prepare: async () => ({
        sy: await topics.create('pub-sy', settings.kafkaPartitions),
        raw: await topics.create('pub-raw', settings.kafkaPartitions),
      }),
      candidate: async (t) => {
        const rate = await switchyardPublish(brokers, t.sy, count, window, mode);
        await verify(t.sy, 'Switchyard');
        return { rate };
      },
      reference: async (t) => {
        const rate = await rawPublish(kafka, t.raw, count, window);
        await verify(t.raw, 'kafkajs');
        return { rate };
      },
      cleanup: (t) => topics.remove(t.sy, t.raw),
    });
  const batch = await pair('batch');
  report.comparison(
    'kafka.produce.batch',
    'kafka batched publish',
    { candidate: 'switchyard', reference: 'kafkajs' },
    batch.comparison,
    0.9,
  );
  const concurrent = await pair('concurrent');
  report.comparison(
    'kafka.produce.concurrent',
    `kafka publish, ${window} callers`,
    { candidate: 'switchyard', reference: 'kafkajs' },
    concurrent.comparison,
  );
}
