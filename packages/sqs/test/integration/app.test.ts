// The SQS transport under core's runtime: retries as visibility changes following the retry
// policy, and bad input dead-lettered with a reason, none of it lost or crashing a poller.

import { DeleteQueueCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  createApp,
  defineCommand,
  defineHandler,
  defineQueue,
  errorCodeOf,
  RetryableError,
  type SwitchyardEvents,
} from '@switchyard/core';
import { recordLogs, TestResources, waitUntil } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createQueueWithDeadLetter, DECODE_ERROR_HEADER, inspectDeadLetters, SqsTransport } from '../../src/index.js';
import { callsOf, createQueue, endpointOf, recordingClient, SQS_SERVERS } from '../support/sqs-servers.js';

const ChargeCard = defineCommand({
  name: 'ChargeCard',
  schema: z.object({ orderId: z.string(), amount: z.number().positive() }),
  key: (p) => p.orderId,
});

describe.each(SQS_SERVERS)('createApp on SqsTransport on $name', ({ service }) => {
  const resources = new TestResources();
  afterEach(() => resources.cleanup());

  /** A queue with its DLQ (5 s visibility), both deleted after the test. */
  async function provision(client: SQSClient, name: string, maxReceiveCount?: number) {
    const queues = await createQueueWithDeadLetter(client, {
      name,
      visibilityTimeoutS: 5,
      ...(maxReceiveCount === undefined ? {} : { maxReceiveCount }),
    });
    resources.track(async () => {
      await client.send(new DeleteQueueCommand({ QueueUrl: queues.queueUrl })).catch(() => {});
      await client.send(new DeleteQueueCommand({ QueueUrl: queues.dlqUrl })).catch(() => {});
    });
    return queues;
  }

  it('sends a batch of commands with sendBatch in SendMessageBatch calls of ten, each consumed once', async () => {
    const { client, calls } = recordingClient(endpointOf(service));
    const name = resources.name('batch');
    await provision(client, name);
    const transport = new SqsTransport({ client, visibilityTimeoutS: 5, depthIntervalMs: 0 });
    const queue = defineQueue({ name, commands: [ChargeCard] });
    const app = createApp({ transport });
    resources.track(() => app.stop({ deadlineMs: 5_000 }));
    const processed: string[] = [];
    app.consume(queue, {
      group: 'billing',
      transportOptions: { waitTimeSeconds: 1 },
      handlers: [defineHandler(ChargeCard, (message) => void processed.push(message.id))],
    });
    await app.start();
    const payloads = Array.from({ length: 23 }, (_, i) => ({ orderId: `o-${i}`, amount: i + 1 }));
    const receipts = await app.sendBatch(queue, ChargeCard, payloads);
    expect(callsOf(calls, 'SendMessageBatch').map((c) => c.input.Entries.length)).toEqual([10, 10, 3]);
    await waitUntil('the batch consumed', () => processed.length >= payloads.length, 20_000);
    expect([...processed].sort()).toEqual(receipts.map((r) => r.id).sort());
  });

  it('retries by the policy through visibility changes and dead-letters bad input with a reason', async () => {
    const { client, calls } = recordingClient(endpointOf(service));
    const name = resources.name('charges');
    const { queueUrl, dlqUrl } = await provision(client, name, 10);
    const transport = new SqsTransport({ client, visibilityTimeoutS: 5, depthIntervalMs: 0 });
    const queue = defineQueue({ name, commands: [ChargeCard] });
    const app = createApp({ transport });
    resources.track(() => app.stop({ deadlineMs: 5_000 }));
    const processed = new Set<string>();
    const failuresOf = new Map<string, number>();
    app.consume(queue, {
      group: 'billing',
      deadLetterDestination: `${name}-dlq`,
      retry: { maxAttempts: 3, initialDelayMs: 1_000, multiplier: 2, jitter: 'none' },
      retryBudget: false,
      transportOptions: { waitTimeSeconds: 1 },
      handlers: [
        defineHandler(ChargeCard, async (message) => {
          if (message.payload.orderId.startsWith('flaky')) {
            const failures = failuresOf.get(message.id) ?? 0;
            if (failures < 2) {
              failuresOf.set(message.id, failures + 1);
              throw new RetryableError('card network busy');
            }
          }
          if (message.payload.orderId.startsWith('doomed')) throw new RetryableError('card network down');
          processed.add(message.id);
        }),
      ],
    });
    const deadLettered: SwitchyardEvents['consumer:message:dead-lettered'][] = [];
    app.events.on('consumer:message:dead-lettered', (e) => deadLettered.push(e));
    await app.start();

    const sent: string[] = [];
    for (const orderId of ['o-1', 'o-2', 'flaky-1', 'doomed-1'])
      sent.push((await app.send(queue, ChargeCard, { orderId, amount: 10 })).id);
    const raw = async (body: string, attributes: Record<string, string> = {}) => {
      const out = await client.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: body,
          MessageAttributes: Object.fromEntries(
            Object.entries(attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }]),
          ),
        }),
      );
      sent.push(out.MessageId as string);
      return out.MessageId as string;
    };
    const notJson = await raw('this is not json', { 'sy-type': 'ChargeCard' });
    const invalid = await raw(JSON.stringify({ orderId: 'o-3', amount: -5 }), { 'sy-type': 'ChargeCard' });
    const unknown = await raw(JSON.stringify({ orderId: 'o-4' }), { 'sy-type': 'RefundCard' });
    const malformedEnvelope = await raw(
      JSON.stringify({
        Type: 'Notification',
        MessageId: 'x',
        TopicArn: 'arn:aws:sns:us-east-1:123456789012:t',
        Message: 7,
      }),
    );
    // No attributes at all: the consumer's only contract takes it, and it is processed.
    const bare = await raw(JSON.stringify({ orderId: 'o-5', amount: 1 }));

    const expectedDead = 5;
    await waitUntil(
      'every message processed or dead-lettered',
      () => processed.size + deadLettered.length === sent.length,
      40_000,
      () => `processed ${processed.size}, dead-lettered ${deadLettered.map((d) => d.record.reason).join(',')}`,
    );
    expect(deadLettered).toHaveLength(expectedDead);
    const reasonOf = (sqsId: string) =>
      deadLettered.find((d) => d.source.kind === 'queue' && d.source.messageId === sqsId)?.record.reason;
    expect(reasonOf(notJson)).toBe('decode');
    expect(reasonOf(invalid)).toBe('validation');
    expect(reasonOf(unknown)).toBe('unknown-type');
    expect(reasonOf(malformedEnvelope)).toBeDefined();
    expect(deadLettered.find((d) => d.messageId === sent[3])?.record).toMatchObject({
      reason: 'retries-exhausted',
      attempts: 3,
    });
    expect(processed.has(sent[2]!)).toBe(true);
    expect([...processed].some((id) => id === bare)).toBe(true);

    // The policy's delays (1 s, then 2 s) became the visibility of the retried message.
    const retries = callsOf(calls, 'ChangeMessageVisibilityBatch')
      .flatMap((c) => c.input.Entries)
      .map((e: any) => e.VisibilityTimeout)
      .filter((v: number) => v !== 5);
    expect(retries.sort()).toEqual([1, 1, 2, 2]);

    const letters = await inspectDeadLetters(client, dlqUrl, { limit: 10 });
    expect(letters).toHaveLength(expectedDead);
    const envelopeLetter = letters.find(
      (l) => l.record?.source?.kind === 'queue' && l.record.source.messageId === malformedEnvelope,
    );
    expect(envelopeLetter?.headers[DECODE_ERROR_HEADER]).toMatch(/without a string Message/);
    const tooLarge = await app
      .send(queue, ChargeCard, { orderId: 'x'.repeat(300_000), amount: 1 })
      .catch((e: unknown) => e);
    expect(errorCodeOf(tooLarge)).toBe('SWITCHYARD_MESSAGE_TOO_LARGE');
  });

  it('refuses to start a consumer whose dead-letter queue does not exist, naming it, and receives nothing', async () => {
    const { client, calls } = recordingClient(endpointOf(service));
    const { name } = await createQueue(client, resources, 'no-dlq');
    const transport = new SqsTransport({ client, visibilityTimeoutS: 5, depthIntervalMs: 0 });
    const queue = defineQueue({ name, commands: [ChargeCard] });
    const app = createApp({ transport });
    resources.track(() => app.stop({ deadlineMs: 5_000 }));
    app.consume(queue, { group: 'billing', handlers: [defineHandler(ChargeCard, () => {})] });
    const failure = await app.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toMatchObject({ code: 'SWITCHYARD_TRANSPORT', retryable: false });
    expect(String((failure as Error).message)).toContain(`dead-letter queue '${name}-dlq' of '${name}' does not exist`);
    expect(callsOf(calls, 'ReceiveMessage')).toEqual([]);
  });

  it('refuses to start on a consumed queue given by the URL of a queue that does not exist, naming it', async () => {
    const { client } = recordingClient(endpointOf(service));
    const { url } = await createQueue(client, resources, 'gone-queue');
    await client.send(new DeleteQueueCommand({ QueueUrl: url }));
    const app = createApp({ transport: new SqsTransport({ client, visibilityTimeoutS: 5, depthIntervalMs: 0 }) });
    resources.track(() => app.stop({ deadlineMs: 5_000 }));
    app.consume(defineQueue({ name: url, commands: [ChargeCard] }), {
      group: 'billing',
      deadLetterDestination: 'unused-dlq',
      handlers: [defineHandler(ChargeCard, () => {})],
    });
    await expect(app.start()).rejects.toMatchObject({
      code: 'SWITCHYARD_TRANSPORT',
      retryable: false,
      message: expect.stringContaining(`SQS queue '${url}' does not exist`),
    });
  });

  it('refuses a dead-letter destination that is the consumed queue by its URL', async () => {
    const { client, calls } = recordingClient(endpointOf(service));
    const name = resources.name('self-dlq');
    const { queueUrl } = await provision(client, name);
    const app = createApp({ transport: new SqsTransport({ client, visibilityTimeoutS: 5, depthIntervalMs: 0 }) });
    resources.track(() => app.stop({ deadlineMs: 5_000 }));
    app.consume(defineQueue({ name, commands: [ChargeCard] }), {
      group: 'billing',
      deadLetterDestination: queueUrl,
      handlers: [defineHandler(ChargeCard, () => {})],
    });
    await expect(app.start()).rejects.toMatchObject({
      code: 'SWITCHYARD_INVALID_OPTION',
      option: 'deadLetterDestination',
      message: expect.stringContaining(`is the consumed queue '${name}' itself`),
    });
    expect(callsOf(calls, 'ReceiveMessage')).toEqual([]);
  });

  it('refuses a dead-letter queue named by the URL of a queue that does not exist', async () => {
    const { client } = recordingClient(endpointOf(service));
    const name = resources.name('gone-dlq');
    const { queueUrl, dlqUrl } = await provision(client, name);
    await client.send(new DeleteQueueCommand({ QueueUrl: dlqUrl }));
    const transport = new SqsTransport({ client, visibilityTimeoutS: 5, depthIntervalMs: 0 });
    const app = createApp({ transport });
    resources.track(() => app.stop({ deadlineMs: 5_000 }));
    app.consume(defineQueue({ name: queueUrl, commands: [ChargeCard] }), {
      group: 'billing',
      deadLetterDestination: dlqUrl,
      handlers: [defineHandler(ChargeCard, () => {})],
    });
    await expect(app.start()).rejects.toMatchObject({
      code: 'SWITCHYARD_TRANSPORT',
      retryable: false,
      message: expect.stringContaining(`dead-letter queue '${dlqUrl}' of '${name}' does not exist`),
    });
  });

  it('watches the depth of the dead-letter queue it writes to, and warns when the redrive policy names another', async () => {
    const { client } = recordingClient(endpointOf(service));
    const name = resources.name('split');
    await provision(client, name, 5);
    const other = await createQueue(client, resources, 'other-dlq');
    const logger = recordLogs({ levels: ['warn'] });
    const transport = new SqsTransport({ client, visibilityTimeoutS: 5, depthIntervalMs: 100, logger });
    const depths = new Set<string>();
    const subscription = await transport.subscribe(
      {
        destination: name,
        consumerGroup: 'billing',
        semantics: 'at-least-once',
        startFrom: 'latest',
        maxInFlight: 1,
        maxInFlightBytes: 1_000_000,
        observer: { lag() {}, depth: (_value, attributes) => void depths.add(attributes.destination) },
        options: { waitTimeSeconds: 1 },
        deadLetter: { destination: other.name, named: true },
      },
      async () => {},
    );
    resources.track(async () => {
      await subscription.stopFetching();
      await subscription.close();
      await transport.close();
    });
    // Each queue's figures arrive on their own: wait for all three, the one dead-lettered to included.
    await waitUntil(
      'depth of the queue and of both dead-letter queues reported',
      () => [name, `${name}-dlq`, other.name].every((q) => depths.has(q)),
      10_000,
    );
    expect(logger.messages()).toEqual([
      `the redrive policy of '${name}' moves messages to '${name}-dlq' after 5 receives, but Switchyard dead-letters to '${other.name}': dead letters will be split over two queues`,
    ]);
  });

  it("warns at start when the queue's redrive policy would move messages before the retry policy gives up", async () => {
    const { client } = recordingClient(endpointOf(service));
    const logger = recordLogs({ levels: ['warn'] });
    for (const [receives, expected] of [
      [2, 1],
      [4, 0],
    ] as const) {
      const name = resources.name(`receives-${receives}`);
      await provision(client, name, receives);
      const app = createApp({
        transport: new SqsTransport({ client, visibilityTimeoutS: 5, depthIntervalMs: 0, logger }),
      });
      resources.track(() => app.stop({ deadlineMs: 5_000 }));
      app.consume(defineQueue({ name, commands: [ChargeCard] }), {
        group: 'billing',
        retry: { maxAttempts: 3, overrides: [{ match: TypeError, policy: { maxAttempts: 4 } }] },
        transportOptions: { waitTimeSeconds: 1 },
        handlers: [defineHandler(ChargeCard, () => {})],
      });
      await app.start();
      const mine = logger.messages().filter((w) => w.includes(`'${name}'`));
      expect(mine).toHaveLength(expected);
      if (expected)
        expect(mine[0]).toBe(
          `the redrive policy of '${name}' moves a message after 2 receives, but the retry policy makes up to 4 attempts: a message failing them all reaches the dead-letter queue as it came, without its dead-letter record; set maxReceiveCount above retry.maxAttempts`,
        );
    }
  });
});
