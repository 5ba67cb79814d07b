import { createServer, type Server } from 'node:net';
import { hasCode } from '@switchyard/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Endpoints,
  endpointsToEnv,
  externalServices,
  formatEndpoints,
  parseEndpoints,
  requireService,
  servicesFromEnv,
  testEndpoints,
} from '../../src/services/index.js';

const redis = { url: 'redis://127.0.0.1:6379' };
const full: Endpoints = {
  kafka: { brokers: ['127.0.0.1:9092'] },
  sqs: { endpoint: 'http://127.0.0.1:9324', region: 'us-east-1', accountId: '000000000000' },
  sns: { endpoint: 'http://127.0.0.1:5000', region: 'us-east-1', accountId: '123456789012' },
  sqsMoto: { endpoint: 'http://127.0.0.1:5000', region: 'us-east-1', accountId: '123456789012' },
  redis,
  postgres: { url: 'postgres://postgres@127.0.0.1:5432/postgres' },
};

describe('servicesFromEnv (the external provider)', () => {
  it('reads each service from the variable its tools know', () => {
    expect(
      servicesFromEnv({
        KAFKA_BROKERS: ' a:1, b:2 ,',
        AWS_ENDPOINT_URL_SQS: 'http://sqs:9324/',
        AWS_ENDPOINT_URL_SNS: 'http://moto:5000',
        AWS_REGION: 'eu-west-1',
        REDIS_URL: 'redis://r:6379',
        DATABASE_URL: 'postgres://u@db/app',
      }),
    ).toEqual({
      kafka: { brokers: ['a:1', 'b:2'] },
      sqs: { endpoint: 'http://sqs:9324', region: 'eu-west-1', accountId: '000000000000' },
      sns: { endpoint: 'http://moto:5000', region: 'eu-west-1', accountId: '123456789012' },
      // SNS only delivers to queues on its own server, so the second SQS defaults to it.
      sqsMoto: { endpoint: 'http://moto:5000', region: 'eu-west-1', accountId: '123456789012' },
      redis: { url: 'redis://r:6379' },
      postgres: { url: 'postgres://u@db/app' },
    });
  });

  it('lets SWITCHYARD_ENDPOINTS override every per-service variable', () => {
    const env = { SWITCHYARD_ENDPOINTS: formatEndpoints({ redis }), DATABASE_URL: 'postgres://stray/db' };
    expect(servicesFromEnv(env)).toEqual({ redis });
  });

  it('round-trips through the JSON line and the variables', () => {
    expect(parseEndpoints(formatEndpoints(full))).toEqual(full);
    const { SWITCHYARD_ENDPOINTS: _line, ...perService } = endpointsToEnv(full);
    expect(servicesFromEnv(perService)).toEqual(full);
  });

  it('rejects a malformed or unknown SWITCHYARD_ENDPOINTS with the field named', () => {
    const attempt = (line: string) => {
      try {
        parseEndpoints(line);
      } catch (error) {
        return error as Error;
      }
      throw new Error('accepted');
    };
    expect(hasCode(attempt('{not json'), 'SWITCHYARD_INVALID_OPTION')).toBe(true);
    expect(attempt('{"kafak":{}}').message).toContain("'SWITCHYARD_ENDPOINTS.kafak'");
    expect(attempt('{"kafka":{"brokers":[]}}').message).toContain('SWITCHYARD_ENDPOINTS.kafka.brokers');
    expect(attempt('{"redis":{}}').message).toContain('SWITCHYARD_ENDPOINTS.redis.url');
  });
});

describe('testEndpoints and requireService', () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.close();
    server = undefined;
  });

  it('tells how to start an environment when none is configured', () => {
    expect(() => testEndpoints({})).toThrow(/npm run env:up/);
  });

  it('returns an endpoint that accepts connections', async () => {
    const listening = createServer((s) => s.end());
    server = listening;
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    const port = (listening.address() as { port: number }).port;
    const env = { REDIS_URL: `redis://127.0.0.1:${port}` };
    expect(await requireService('redis', env)).toEqual({ url: `redis://127.0.0.1:${port}` });
  });

  it('fails with a service-unavailable error when the endpoint refuses connections', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const error = await requireService('kafka', { KAFKA_BROKERS: `127.0.0.1:${port}` }).catch((e) => e);
    expect(hasCode(error, 'SWITCHYARD_SERVICE_UNAVAILABLE')).toBe(true);
    expect(error.message).toContain(`127.0.0.1:${port} does not accept connections`);
    await expect(requireService('postgres', {})).rejects.toThrow(/postgres: no endpoint is configured/);
  });

  it('gives the external provider only the services asked for, and names missing variables', () => {
    const running = externalServices(['redis'], { SWITCHYARD_ENDPOINTS: formatEndpoints(full) });
    expect(running.endpoints).toEqual({ redis });
    expect(running.provider).toBe('external');
    expect(() => externalServices(['kafka', 'postgres'], { REDIS_URL: 'redis://x' })).toThrow(
      /KAFKA_BROKERS, DATABASE_URL/,
    );
  });
});
