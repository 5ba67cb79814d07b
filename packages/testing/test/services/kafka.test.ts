import { randomUUID } from 'node:crypto';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireServices, type RunningServices } from '../../src/services/index.js';

// One Kafka for the file: the orchestrator's (SWITCHYARD_ENDPOINTS) or one started here.
let services: RunningServices;
let kafka: Kafka;
let admin: Admin;

beforeAll(async () => {
  services = await acquireServices(['kafka']);
  kafka = new Kafka({
    clientId: 'services-test',
    brokers: [...(services.endpoints.kafka?.brokers ?? [])],
    logLevel: logLevel.NOTHING,
  });
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.disconnect();
  await services?.stop();
});

async function consumeOne(topic: string, groupId: string): Promise<{ key: string; value: string; headers: string }> {
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  try {
    return await new Promise((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message }) =>
            resolve({
              key: message.key?.toString() ?? '',
              value: message.value?.toString() ?? '',
              headers: message.headers?.trace?.toString() ?? '',
            }),
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}

describe('Kafka', () => {
  it('delivers a message produced with kafkajs to a consumer group', async () => {
    const topic = `services-${randomUUID()}`;
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'order-1', value: 'placed', headers: { trace: 'abc' } }] });
    await producer.disconnect();

    expect(await consumeOne(topic, `g-${randomUUID()}`)).toEqual({ key: 'order-1', value: 'placed', headers: 'abc' });
  });

  it('commits a transaction so a read_committed consumer sees its message', async () => {
    const topic = `services-tx-${randomUUID()}`;
    await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
    const producer = kafka.producer({
      transactionalId: `tx-${randomUUID()}`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const tx = await producer.transaction();
    await tx.send({ topic, messages: [{ key: 'k', value: 'in-a-transaction' }] });
    await tx.commit();
    await producer.disconnect();

    expect((await consumeOne(topic, `g-${randomUUID()}`)).value).toBe('in-a-transaction');
  });
});
