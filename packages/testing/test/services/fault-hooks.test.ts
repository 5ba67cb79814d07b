import { randomUUID } from 'node:crypto';
import { CreateQueueCommand, GetQueueAttributesCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsClientConfig, providerFromEnv, type RunningServices, startServices } from '../../src/services/index.js';

// Fault hooks act on servers a provider started, so this file always starts its own (never the
// shared environment from SWITCHYARD_ENDPOINTS, which other test files use at the same time).
const external = providerFromEnv() === 'external';
if (external) console.info('skipping fault hook tests: SWITCHYARD_TEST_SERVICES=external starts no servers');

describe.skipIf(external)('fault hooks', () => {
  let services: RunningServices;

  beforeAll(async () => {
    services = await startServices({ services: ['kafka', 'sqs', 'sqsMoto', 'redis', 'postgres'] });
  });

  afterAll(async () => {
    await services?.stop();
  });

  const kafkaClient = (options: Partial<ConstructorParameters<typeof Kafka>[0]> = {}) =>
    new Kafka({ brokers: [...(services.endpoints.kafka?.brokers ?? [])], logLevel: logLevel.NOTHING, ...options });

  async function query(sql: string): Promise<unknown[]> {
    const client = new pg.Client({ connectionString: services.endpoints.postgres?.url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  }

  it('Kafka keeps its log across restart on the same address, under a new pid', async () => {
    const handle = services.kafka;
    if (!handle) throw new Error('no Kafka handle');
    const kafka = kafkaClient();
    const topic = `faults-${randomUUID()}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'before-restart' }], acks: -1 });
    await producer.disconnect();
    const pidBefore = handle.pid;

    await handle.restart();

    expect(handle.pid).toBeTypeOf('number');
    expect(handle.pid).not.toBe(pidBefore);
    const consumer = kafka.consumer({ groupId: `g-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const value = await new Promise<string>((resolve, reject) => {
      consumer.run({ eachMessage: async ({ message }) => resolve(message.value?.toString() ?? '') }).catch(reject);
    });
    await consumer.disconnect();
    expect(value).toBe('before-restart');
  });

  it('Kafka stops answering while paused and answers again after resume', async () => {
    const handle = services.kafka;
    if (!handle) throw new Error('no Kafka handle');
    const probe = kafkaClient({ requestTimeout: 1_000, connectionTimeout: 1_000, retry: { retries: 0 } }).admin();
    await handle.pause();
    try {
      await expect(probe.connect().then(() => probe.listTopics())).rejects.toThrow();
    } finally {
      await handle.resume();
      await probe.disconnect().catch(() => undefined);
    }
    const admin = kafkaClient().admin();
    await admin.connect();
    await expect(admin.listTopics()).resolves.toBeInstanceOf(Array);
    await admin.disconnect();
  });

  it('Kafka refuses connections while stopped', async () => {
    const handle = services.kafka;
    if (!handle) throw new Error('no Kafka handle');
    await handle.stop();
    expect(handle.pid).toBeUndefined();
    const admin = kafkaClient({ connectionTimeout: 1_000, retry: { retries: 0 } }).admin();
    await expect(admin.connect()).rejects.toThrow();
    await handle.restart();
    await admin.connect();
    await expect(admin.listTopics()).resolves.toBeInstanceOf(Array);
    await admin.disconnect();
  });

  it.each(['sqs', 'sqsMoto'] as const)('%s restarts on the same endpoint with no queues', async (name) => {
    const handle = services[name];
    const endpoint = services.endpoints[name];
    if (!handle || !endpoint) throw new Error(`no ${name}`);
    const sqs = new SQSClient(awsClientConfig(endpoint));
    const queueName = `faults-${randomUUID()}`;
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: queueName }));
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));

    await handle.restart();

    const { QueueUrls } = await sqs.send(new ListQueuesCommand({}));
    expect(QueueUrls ?? []).not.toContain(QueueUrl);
    sqs.destroy();
  });

  it('Redis does not answer while paused and answers after resume', async () => {
    const handle = services.redis;
    if (!handle) throw new Error('no Redis handle');
    const redis = new Redis(services.endpoints.redis?.url ?? '', { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    await handle.pause();
    // A stopped process cannot reply; the timer only bounds how long we look for a reply.
    const seen = await Promise.race([
      redis.ping().then(() => 'answered'),
      new Promise((resolve) => setTimeout(resolve, 300, 'no answer')),
    ]);
    await handle.resume();
    expect(seen).toBe('no answer');
    expect(await redis.ping()).toBe('PONG');
    redis.disconnect();
  });

  it('Postgres keeps its data across restart on the same address', async () => {
    const handle = services.postgres;
    if (!handle) throw new Error('no Postgres handle');
    await query('create table restart_probe (id int primary key)');
    await query('insert into restart_probe values (1)');

    await handle.restart();

    expect(await query('select id from restart_probe')).toEqual([{ id: 1 }]);
  });
});
