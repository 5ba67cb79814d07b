// The containers provider: the same services as the local one, from images, through testcontainers
// (an optional dependency, loaded only when this provider is chosen). Every container publishes
// its port on a fixed host port chosen up front, so a restarted container keeps its address and
// Kafka and ElasticMQ can advertise it before they start.

import { canConnect, DEFAULT_REGION, ELASTICMQ_ACCOUNT_ID, MOTO_ACCOUNT_ID } from '../endpoints.js';
import { ServiceUnavailableError } from '../errors.js';
import { elasticMqConfig, sqsAnswers } from '../local/elasticmq.js';
import { KAFKA_VERSION, kafkaAnswersMetadata } from '../local/kafka.js';
import { MOTO_VERSION } from '../local/moto.js';
import { redisPing } from '../local/redis.js';
import { freePort, seconds, waitUntil } from '../local/support.js';
import type { Endpoints, RunningServices, ServiceHandle, ServiceName, ServicesRecord } from '../types.js';

/** Pinned images; the versions match what the local provider runs where an image exists. */
export const CONTAINER_IMAGES = {
  kafka: `apache/kafka:${KAFKA_VERSION}`,
  sqs: 'softwaremill/elasticmq-native:1.6.14',
  moto: `motoserver/moto:${MOTO_VERSION}`,
  redis: 'redis:7.4-alpine',
  postgres: 'postgres:16-alpine',
} as const;

type Testcontainers = typeof import('testcontainers');

async function loadTestcontainers(detached: boolean): Promise<Testcontainers> {
  // Ryuk removes a session's containers when this process exits: right for tests, wrong for
  // `env:up`, whose containers must outlive it (and are removed by `env:down`).
  if (detached) process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
  try {
    return await import('testcontainers');
  } catch (error) {
    throw new ServiceUnavailableError(
      'containers',
      'the optional dependency `testcontainers` is not installed; run `node scripts/pnpm.mjs install`',
      error,
    );
  }
}

interface StartedService {
  readonly services: readonly ServiceName[];
  readonly endpoints: Endpoints;
  readonly id: string;
}

export async function startContainerServices(options: {
  readonly services: readonly ServiceName[];
  readonly log: (line: string) => void;
  readonly detached: boolean;
}): Promise<RunningServices> {
  const tc = await loadTestcontainers(options.detached);
  const { GenericContainer, Wait } = tc;
  const client = await tc.getContainerRuntimeClient();
  const host = client.info.containerRuntime.host;
  const wanted = new Set(options.services);
  const started = Date.now();
  const running: StartedService[] = [];

  const start = async (
    label: string,
    services: readonly ServiceName[],
    build: (hostPort: number) => Promise<{ container: InstanceType<typeof GenericContainer>; endpoints: Endpoints }>,
    ready: (endpoints: Endpoints) => Promise<boolean>,
  ) => {
    const t0 = Date.now();
    const hostPort = await freePort();
    const { container, endpoints } = await build(hostPort);
    const startedContainer = await container.withStartupTimeout(180_000).start();
    running.push({ services, endpoints, id: startedContainer.getId() });
    await waitUntil(`${label} container`, () => ready(endpoints), { timeoutMs: 180_000 });
    options.log(`${label}: container ready at ${host}:${hostPort} in ${seconds(Date.now() - t0)}`);
  };

  const jobs: Promise<void>[] = [];
  if (wanted.has('kafka')) {
    jobs.push(
      start(
        'kafka',
        ['kafka'],
        async (port) => ({
          container: new GenericContainer(CONTAINER_IMAGES.kafka)
            .withExposedPorts({ container: port, host: port })
            .withEnvironment({
              KAFKA_NODE_ID: '1',
              KAFKA_PROCESS_ROLES: 'broker,controller',
              KAFKA_LISTENERS: `PLAINTEXT://0.0.0.0:${port},CONTROLLER://0.0.0.0:9093`,
              KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${host}:${port}`,
              KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
              KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
              KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
              KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
              KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '1',
              KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
              KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
              KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS: '1',
              KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
              KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
              KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
              KAFKA_HEAP_OPTS: '-Xms256m -Xmx512m',
            })
            .withWaitStrategy(Wait.forListeningPorts()),
          endpoints: { kafka: { brokers: [`${host}:${port}`] } },
        }),
        async (e) => kafkaAnswersMetadata(e.kafka?.brokers[0] ?? ''),
      ),
    );
  }
  if (wanted.has('sqs')) {
    jobs.push(
      start(
        'sqs',
        ['sqs'],
        async (port) => ({
          container: new GenericContainer(CONTAINER_IMAGES.sqs)
            .withExposedPorts({ container: port, host: port })
            .withCopyContentToContainer([
              {
                content: elasticMqConfig(port)
                  .replace('bind-hostname = "127.0.0.1"', 'bind-hostname = "0.0.0.0"')
                  .replace('host = "127.0.0.1"', `host = "${host}"`),
                target: '/opt/elasticmq.conf',
              },
            ]),
          endpoints: {
            sqs: { endpoint: `http://${host}:${port}`, region: DEFAULT_REGION, accountId: ELASTICMQ_ACCOUNT_ID },
          },
        }),
        async (e) => sqsAnswers(e.sqs?.endpoint ?? ''),
      ),
    );
  }
  const moto = (['sns', 'sqsMoto'] as const).filter((s) => wanted.has(s));
  if (moto.length > 0) {
    jobs.push(
      start(
        'moto',
        moto,
        async (port) => {
          const aws = { endpoint: `http://${host}:${port}`, region: DEFAULT_REGION, accountId: MOTO_ACCOUNT_ID };
          return {
            container: new GenericContainer(CONTAINER_IMAGES.moto).withExposedPorts({ container: 5000, host: port }),
            endpoints: Object.fromEntries(moto.map((s) => [s, aws])),
          };
        },
        async (e) => sqsAnswers((e.sns ?? e.sqsMoto)?.endpoint ?? ''),
      ),
    );
  }
  if (wanted.has('redis')) {
    jobs.push(
      start(
        'redis',
        ['redis'],
        async (port) => ({
          container: new GenericContainer(CONTAINER_IMAGES.redis).withExposedPorts({ container: 6379, host: port }),
          endpoints: { redis: { url: `redis://${host}:${port}` } },
        }),
        async (e) => {
          const url = new URL(e.redis?.url ?? '');
          return redisPing(url.hostname, Number(url.port));
        },
      ),
    );
  }
  if (wanted.has('postgres')) {
    jobs.push(
      start(
        'postgres',
        ['postgres'],
        async (port) => ({
          container: new GenericContainer(CONTAINER_IMAGES.postgres)
            .withExposedPorts({ container: 5432, host: port })
            .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
            .withCommand(['postgres', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'])
            // The entrypoint starts a temporary server for initialisation first; `select 1`
            // through the published port only succeeds on the real one.
            .withWaitStrategy(Wait.forSuccessfulCommand('psql -h 127.0.0.1 -U postgres -tAc "select 1"')),
          endpoints: { postgres: { url: `postgres://postgres@${host}:${port}/postgres` } },
        }),
        async () => true,
      ),
    );
  }

  const results = await Promise.allSettled(jobs);
  const remove = async (ids: readonly string[]) => {
    await Promise.allSettled(ids.map((id) => client.container.getById(id).remove({ force: true, v: true })));
  };
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length > 0) {
    await remove(running.map((r) => r.id));
    throw new ServiceUnavailableError(
      'containers',
      failures.map((f) => (f as Error).message).join('; '),
      failures.length === 1 ? failures[0] : new AggregateError(failures),
    );
  }
  options.log(`containers ready in ${seconds(Date.now() - started)}`);

  const endpoints: Endpoints = Object.assign({}, ...running.map((r) => r.endpoints));
  const handles: Partial<Record<ServiceName, ServiceHandle>> = {};
  for (const r of running) {
    const c = client.container.getById(r.id);
    for (const service of r.services) {
      handles[service] = {
        service,
        pid: undefined,
        stop: async () => {
          await c.stop({ t: 10 }).catch((error: { statusCode?: number }) => {
            if (error.statusCode !== 304) throw error; // already stopped
          });
        },
        restart: async () => {
          await c.restart({ t: 10 });
          await waitUntil(`${service} container after restart`, () => readyAgain(service, r.endpoints), {
            timeoutMs: 180_000,
          });
        },
        pause: async () => {
          await c.pause();
        },
        resume: async () => {
          await c.unpause();
        },
      };
    }
  }
  let stopped: Promise<void> | undefined;
  const startedAt = new Date(started).toISOString();
  return {
    provider: 'containers',
    endpoints,
    ...handles,
    record: (): ServicesRecord => ({
      version: 1,
      provider: 'containers',
      endpoints,
      startedAt,
      processes: [],
      runDir: undefined,
      containers: running.map((r) => r.id),
    }),
    stop: () => {
      stopped ??= remove(running.map((r) => r.id));
      return stopped;
    },
  };
}

async function readyAgain(service: ServiceName, endpoints: Endpoints): Promise<boolean> {
  switch (service) {
    case 'kafka':
      return kafkaAnswersMetadata(endpoints.kafka?.brokers[0] ?? '');
    case 'sqs':
      return sqsAnswers(endpoints.sqs?.endpoint ?? '');
    case 'sns':
    case 'sqsMoto':
      return sqsAnswers((endpoints.sns ?? endpoints.sqsMoto)?.endpoint ?? '');
    case 'redis': {
      const url = new URL(endpoints.redis?.url ?? '');
      return redisPing(url.hostname, Number(url.port));
    }
    case 'postgres': {
      const url = new URL(endpoints.postgres?.url ?? '');
      await canConnect(url.hostname, Number(url.port), 2_000);
      return true;
    }
  }
}

/** Removes containers recorded by `env:up` in another process. */
export async function removeRecordedContainers(record: ServicesRecord): Promise<void> {
  if (record.containers.length === 0) return;
  const tc = await loadTestcontainers(true);
  const client = await tc.getContainerRuntimeClient();
  await Promise.allSettled(
    record.containers.map((id) => client.container.getById(id).remove({ force: true, v: true })),
  );
}
