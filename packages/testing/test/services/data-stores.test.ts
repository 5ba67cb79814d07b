import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireServices, type RunningServices } from '../../src/services/index.js';

let services: RunningServices;

beforeAll(async () => {
  services = await acquireServices(['redis', 'postgres']);
});

afterAll(async () => {
  await services?.stop();
});

function redisClient(): Redis {
  const url = services.endpoints.redis?.url;
  if (!url) throw new Error('no redis endpoint');
  return new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
}

async function query(sql: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: services.endpoints.postgres?.url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('Redis', () => {
  it('answers PING and keeps a value', async () => {
    const redis = redisClient();
    await redis.connect();
    expect(await redis.ping()).toBe('PONG');
    await redis.set('services:key', 'value');
    expect(await redis.get('services:key')).toBe('value');
    redis.disconnect();
  });
});

describe('PostgreSQL', () => {
  it('answers SELECT 1', async () => {
    expect(await query('select 1 as one')).toEqual([{ one: 1 }]);
  });
});
