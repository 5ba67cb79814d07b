// The broker restarts while a consumer works through a topic and a producer keeps publishing: the
// client reconnects (kafkajs restarts the consumer after its retries), nothing is lost, and the
// group ends fully committed. This file runs its own broker, because restarting the shared one
// would pull it from under the other suites.

import { createApp, defineHandler } from '@switchyard/core';
import { type RunningServices, startServices } from '@switchyard/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaAdmin, KafkaTransport } from '../../src/index.js';
import { Tick, tickPayloads, ticks } from './support/contracts.js';
import { until } from './support/kafka.js';

let services: RunningServices | undefined;
let startError: unknown;

beforeAll(async () => {
  try {
    services = await startServices({ services: ['kafka'], provider: 'local', log: () => {} });
  } catch (error) {
    startError = error;
  }
}, 180_000);

afterAll(async () => {
  await services?.stop();
});

describe('broker restart', () => {
  it('reconnects and processes every message once the broker is back', async (ctx) => {
    if (!services?.kafka || !services.endpoints.kafka) {
      ctx.skip(
        `a dedicated local broker could not be started: ${startError instanceof Error ? startError.message : String(startError)}`,
      );
      return;
    }
    const brokers = services.endpoints.kafka.brokers;
    const admin = new KafkaAdmin({ brokers });
    const topicName = 'restart-test';
    await admin.createTopics([{ topic: topicName, partitions: 2 }]);
    const topic = ticks(topicName);
    const transport = new KafkaTransport({
      brokers,
      consumer: { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, maxWaitTimeMs: 200, commitIntervalMs: 200 },
      producer: { lingerMs: 0 },
      client: { retry: { initialRetryTime: 200, retries: 30, maxRetryTime: 2_000 } },
    });
    const processed = new Set<string>();
    const app = createApp({ transport });
    app.consume(topic, {
      group: 'restart-group',
      handlers: [
        defineHandler(Tick, async (m) => {
          processed.add(m.payload.id);
        }),
      ],
    });
    await app.start();
    const payloads = tickPayloads(60, 6);
    for (const p of payloads.slice(0, 30)) await app.publish(topic, Tick, p);
    await until(() => processed.size >= 10, 'consumption under way');

    await services.kafka.restart();
    // Publishing right after the restart: the idempotent producer retries until the broker answers.
    for (const p of payloads.slice(30)) await app.publish(topic, Tick, p);
    await until(
      () => processed.size === payloads.length,
      `all ${payloads.length} processed (have ${processed.size})`,
      90_000,
    );
    await until(
      async () => (await admin.lag('restart-group', topicName)).every((p) => p.lag === 0),
      'group committed to the end',
      60_000,
    );
    expect([...processed].sort()).toEqual(payloads.map((p) => p.id).sort());
    expect(transport.health().ok).toBe(true);
    await app.stop();
    await admin.close();
  }, 180_000);
});
