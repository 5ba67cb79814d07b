import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { detectContainerRuntime, type RunningServices, startServices } from '../../src/services/index.js';
import { sqsAnswers } from '../../src/services/local/elasticmq.js';
import { redisPing } from '../../src/services/local/redis.js';

// The containers provider needs a Docker-compatible engine; without one these tests skip and say why.
const engine = await detectContainerRuntime();
if (!engine.available) console.info(`skipping containers provider tests: ${engine.reason}`);

describe.skipIf(!engine.available)('containers provider', () => {
  let services: RunningServices | undefined;
  afterAll(async () => {
    await services?.stop();
  });

  it('starts every service from pinned images and each answers a real request', async () => {
    services = await startServices({ provider: 'containers' });
    const { kafka, sqs, sns, redis, postgres } = services.endpoints;

    const admin = new Kafka({ brokers: [...(kafka?.brokers ?? [])], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await expect(admin.listTopics()).resolves.toBeInstanceOf(Array);
    await admin.disconnect();
    expect(await sqsAnswers(sqs?.endpoint ?? '')).toBe(true);
    expect(await sqsAnswers(sns?.endpoint ?? '')).toBe(true);
    const redisUrl = new URL(redis?.url ?? '');
    expect(await redisPing(redisUrl.hostname, Number(redisUrl.port))).toBe(true);
    const client = new pg.Client({ connectionString: postgres?.url });
    await client.connect();
    expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    await client.end();
  });

  it('restarts a container on the same address', async () => {
    const handle = services?.redis;
    if (!services || !handle) throw new Error('the first test did not start the services');
    const url = new URL(services.endpoints.redis?.url ?? '');
    await handle.restart();
    expect(await redisPing(url.hostname, Number(url.port))).toBe(true);
  });
});
