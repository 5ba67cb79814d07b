// Endpoints travel between processes as one JSON line (`env:up` prints it, the test orchestrator
// exports it as SWITCHYARD_ENDPOINTS) or as the variables each tool already knows.

import { connect } from 'node:net';
import { InvalidOptionError } from '@switchyard/core';
import { ServiceUnavailableError } from './errors.js';
import type { AwsEndpoint, EndpointOf, Endpoints, ServiceName } from './types.js';
import { ServiceNames } from './types.js';

type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_REGION = 'us-east-1';
/** ElasticMQ's and LocalStack's account id; the local provider configures ElasticMQ with it. */
export const ELASTICMQ_ACCOUNT_ID = '000000000000';
/** moto's fixed default account id. */
export const MOTO_ACCOUNT_ID = '123456789012';

/** The JSON line form of `endpoints`, with services in a stable order. */
export function formatEndpoints(endpoints: Endpoints): string {
  const ordered: Record<string, unknown> = {};
  for (const name of ServiceNames) if (endpoints[name] !== undefined) ordered[name] = endpoints[name];
  return JSON.stringify(ordered);
}

/** Parses and checks a SWITCHYARD_ENDPOINTS line. Unknown keys are rejected so typos surface. */
export function parseEndpoints(line: string, source = 'SWITCHYARD_ENDPOINTS'): Endpoints {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new InvalidOptionError(source, 'is not valid JSON', 'set it to the line `npm run env:up` prints', error);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidOptionError(source, 'is not a JSON object', 'set it to the line `npm run env:up` prints');
  }
  const out: Endpoints = {};
  for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
    if (!(ServiceNames as readonly string[]).includes(key)) {
      throw new InvalidOptionError(
        `${source}.${key}`,
        'is not a known service',
        `use one of ${ServiceNames.join(', ')}`,
      );
    }
    const name = key as ServiceName;
    const field = (f: string): unknown => (entry as Record<string, unknown> | null)?.[f];
    const str = (f: string, fallback?: string): string => {
      const v = field(f) ?? fallback;
      if (typeof v !== 'string' || v === '') {
        throw new InvalidOptionError(`${source}.${key}.${f}`, 'is missing or not a string', 'give a non-empty string');
      }
      return v;
    };
    switch (name) {
      case 'kafka': {
        const brokers = field('brokers');
        if (!Array.isArray(brokers) || brokers.length === 0 || !brokers.every((b) => typeof b === 'string')) {
          throw new InvalidOptionError(
            `${source}.kafka.brokers`,
            'is not a list of host:port strings',
            'give ["host:port"]',
          );
        }
        out.kafka = { brokers: brokers as string[] };
        break;
      }
      case 'sqs':
        out.sqs = aws(str('endpoint'), str('region', DEFAULT_REGION), str('accountId', ELASTICMQ_ACCOUNT_ID));
        break;
      case 'sns':
        out.sns = aws(str('endpoint'), str('region', DEFAULT_REGION), str('accountId', MOTO_ACCOUNT_ID));
        break;
      case 'sqsMoto':
        out.sqsMoto = aws(str('endpoint'), str('region', DEFAULT_REGION), str('accountId', MOTO_ACCOUNT_ID));
        break;
      case 'redis':
        out.redis = { url: str('url') };
        break;
      case 'postgres':
        out.postgres = { url: str('url') };
        break;
    }
  }
  return out;
}

function aws(endpoint: string, region: string, accountId: string): AwsEndpoint {
  return { endpoint: endpoint.replace(/\/+$/, ''), region, accountId };
}

/**
 * Endpoints of services someone else runs (the external provider). SWITCHYARD_ENDPOINTS, when
 * set, is the whole answer: an orchestrated run must not pick up a stray DATABASE_URL from the
 * developer's shell. Otherwise each service comes from the variable its own tools read:
 *
 * | service | variables |
 * |---|---|
 * | kafka | `KAFKA_BROKERS` (comma-separated host:port) |
 * | sqs | `AWS_ENDPOINT_URL_SQS`, `AWS_REGION` / `AWS_DEFAULT_REGION`, `SWITCHYARD_SQS_ACCOUNT_ID` |
 * | sns | `AWS_ENDPOINT_URL_SNS`, region as above, `SWITCHYARD_SNS_ACCOUNT_ID` |
 * | sqsMoto | `SWITCHYARD_SQS_MOTO_ENDPOINT`, else the SNS endpoint (SNS delivers only to its own server's queues) |
 * | redis | `REDIS_URL` |
 * | postgres | `DATABASE_URL` |
 */
export function servicesFromEnv(env: Env = process.env): Endpoints {
  const line = env.SWITCHYARD_ENDPOINTS?.trim();
  if (line) return parseEndpoints(line);
  const out: Endpoints = {};
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || DEFAULT_REGION;
  const brokers = (env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  if (brokers.length > 0) out.kafka = { brokers };
  if (env.AWS_ENDPOINT_URL_SQS) {
    out.sqs = aws(env.AWS_ENDPOINT_URL_SQS, region, env.SWITCHYARD_SQS_ACCOUNT_ID || ELASTICMQ_ACCOUNT_ID);
  }
  if (env.AWS_ENDPOINT_URL_SNS) {
    out.sns = aws(env.AWS_ENDPOINT_URL_SNS, region, env.SWITCHYARD_SNS_ACCOUNT_ID || MOTO_ACCOUNT_ID);
  }
  const moto = env.SWITCHYARD_SQS_MOTO_ENDPOINT || env.AWS_ENDPOINT_URL_SNS;
  if (moto) out.sqsMoto = aws(moto, region, env.SWITCHYARD_SNS_ACCOUNT_ID || MOTO_ACCOUNT_ID);
  if (env.REDIS_URL) out.redis = { url: env.REDIS_URL };
  if (env.DATABASE_URL) out.postgres = { url: env.DATABASE_URL };
  return out;
}

/** The variables a child process needs to see `endpoints` through `servicesFromEnv()`. */
export function endpointsToEnv(endpoints: Endpoints): Record<string, string> {
  const env: Record<string, string> = { SWITCHYARD_ENDPOINTS: formatEndpoints(endpoints) };
  if (endpoints.kafka) env.KAFKA_BROKERS = endpoints.kafka.brokers.join(',');
  if (endpoints.sqs) env.AWS_ENDPOINT_URL_SQS = endpoints.sqs.endpoint;
  if (endpoints.sns) env.AWS_ENDPOINT_URL_SNS = endpoints.sns.endpoint;
  if (endpoints.sqsMoto) env.SWITCHYARD_SQS_MOTO_ENDPOINT = endpoints.sqsMoto.endpoint;
  if (endpoints.redis) env.REDIS_URL = endpoints.redis.url;
  if (endpoints.postgres) env.DATABASE_URL = endpoints.postgres.url;
  return env;
}

const HOW_TO_START =
  'start them with `npm run env:up` and export its line as SWITCHYARD_ENDPOINTS, run the suite through `npm test`, ' +
  'or set KAFKA_BROKERS / AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL_SNS / REDIS_URL / DATABASE_URL';

/** Endpoints of the environment this test process was given; throws when it was given none. */
export function testEndpoints(env: Env = process.env): Endpoints {
  const endpoints = servicesFromEnv(env);
  if (Object.keys(endpoints).length === 0) {
    throw new ServiceUnavailableError('environment', `no test services are configured: ${HOW_TO_START}`);
  }
  return endpoints;
}

/**
 * The endpoint of one service from the given environment, after checking that it accepts TCP
 * connections, so a stopped environment fails with a message instead of a client timeout.
 */
export async function requireService<N extends ServiceName>(name: N, env: Env = process.env): Promise<EndpointOf<N>> {
  const endpoint = servicesFromEnv(env)[name] as EndpointOf<N> | undefined;
  if (endpoint === undefined) {
    throw new ServiceUnavailableError(name, `no endpoint is configured: ${HOW_TO_START}`);
  }
  const address = addressOf(name, endpoint);
  try {
    await canConnect(address.host, address.port, 3_000);
  } catch (error) {
    throw new ServiceUnavailableError(
      name,
      `${address.host}:${address.port} does not accept connections (was the environment stopped? run \`npm run env:up\`)`,
      error,
    );
  }
  return endpoint;
}

/** The first TCP address a service's endpoint points at. */
export function addressOf(name: ServiceName, endpoint: Endpoints[ServiceName]): { host: string; port: number } {
  if (name === 'kafka') {
    const broker = (endpoint as EndpointOf<'kafka'>).brokers[0] ?? '';
    const at = broker.lastIndexOf(':');
    return { host: broker.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(broker.slice(at + 1)) };
  }
  const raw =
    name === 'redis' || name === 'postgres'
      ? (endpoint as EndpointOf<'redis'>).url
      : (endpoint as EndpointOf<'sqs'>).endpoint;
  const url = new URL(raw);
  const defaults: Record<string, number> = {
    'http:': 80,
    'https:': 443,
    'redis:': 6379,
    'rediss:': 6379,
    'postgres:': 5432,
    'postgresql:': 5432,
  };
  const port = url.port ? Number(url.port) : (defaults[url.protocol] ?? 0);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port };
}

export function canConnect(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connection to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** AWS SDK v3 client options for an emulator endpoint (emulators accept any credentials). */
export function awsClientConfig(endpoint: AwsEndpoint): {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
} {
  return {
    endpoint: endpoint.endpoint,
    region: endpoint.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
}
