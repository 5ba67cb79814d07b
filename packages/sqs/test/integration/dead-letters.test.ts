import { DeleteQueueCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type Clock, type DeadLetterRecord, hasCode } from '@switchyard/core';
import { TestResources, waitUntil } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  buildDeadLetterMessage,
  createQueueWithDeadLetter,
  inspectDeadLetters,
  redrive,
  SqsTransport,
} from '../../src/index.js';
import { callsOf, endpointOf, queueCounts, recordingClient, SQS_SERVERS } from '../support/sqs-servers.js';
import { ackAll, outgoing, type Received, TestConsumer } from '../support/test-consumer.js';

const decoder = new TextDecoder();

function recordFor(r: Received, reason: DeadLetterRecord['reason'] = 'non-retryable'): DeadLetterRecord {
  const now = Date.now();
  return {
    source: r.delivery.message.source,
    consumerGroup: 'billing',
    messageId: r.id,
    messageType: 'test.Message',
    attempts: r.delivery.attempt,
    firstFailureAt: now - 1000,
    lastFailureAt: now,
    reason,
    error: {
      className: 'TypeError',
      code: undefined,
      message: 'amount must be positive',
      stack: 'TypeError: amount\n    at handler',
    },
    body: r.delivery.message.body,
    headers: r.delivery.message.headers,
    key: r.delivery.message.key,
  };
}

// Visibility is 5 s unless a lapse is the point of the test: with 1 s and maxReceiveCount 2, a
// loaded machine that takes a second to delete an acked message sees it redriven to the DLQ.
async function provision(
  client: SQSClient,
  resources: TestResources,
  prefix: string,
  maxReceiveCount = 2,
  visibilityTimeoutS = 5,
) {
  const queues = await createQueueWithDeadLetter(client, {
    name: resources.name(prefix),
    visibilityTimeoutS,
    maxReceiveCount,
  });
  resources.track(async () => {
    await client.send(new DeleteQueueCommand({ QueueUrl: queues.queueUrl })).catch(() => {});
    await client.send(new DeleteQueueCommand({ QueueUrl: queues.dlqUrl })).catch(() => {});
  });
  return queues;
}

describe.each(SQS_SERVERS)('dead letters on $name', ({ service, name: server }) => {
  const resources = new TestResources();
  afterEach(() => resources.cleanup());

  function setup(visibilityTimeoutS = 5) {
    const { client, calls } = recordingClient(endpointOf(service));
    const transport = new SqsTransport({ client, visibilityTimeoutS, depthIntervalMs: 0 });
    resources.track(() => transport.close());
    return { client, calls, transport };
  }

  it('writes the dead-letter record to the DLQ first and deletes the original after', async () => {
    const { client, calls, transport } = setup();
    const { queueUrl, dlqUrl } = await provision(client, resources, 'app-dl');
    const published = outgoing(4, () => ({
      headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    }));
    const poison = published[1]!;
    const consumer = await TestConsumer.open(transport, queueUrl, (r) =>
      r.id === poison.id ? { kind: 'dead-letter', record: recordFor(r), destination: dlqUrl } : { kind: 'ack' },
    );
    resources.track(() => consumer.close());
    await transport.publish(queueUrl, published);
    await waitUntil(
      'all settled',
      () => consumer.settledIds('ack').size === 3 && consumer.settledIds('dead-letter').size === 1,
    );

    const original = consumer.deliveriesOf(poison.id)[0]!;
    const receipt = callsOf(calls, 'ReceiveMessage')
      .flatMap((c) => c.output?.Messages ?? [])
      .find(
        (m: any) => m.MessageId === (original.delivery.message.source as { messageId: string }).messageId,
      ).ReceiptHandle;
    const dlqSend = calls.findIndex((c) => c.command === 'SendMessage' && c.input.QueueUrl === dlqUrl);
    const deleteOf = calls.findIndex(
      (c) => c.command === 'DeleteMessageBatch' && c.input.Entries.some((e: any) => e.ReceiptHandle === receipt),
    );
    expect(dlqSend).toBeGreaterThan(-1);
    expect(deleteOf).toBeGreaterThan(dlqSend);
    expect(Object.keys(calls[dlqSend]!.input.MessageAttributes).length).toBeLessThanOrEqual(10);

    const [entry, ...more] = await inspectDeadLetters(client, dlqUrl, { limit: 5 });
    expect(more).toEqual([]);
    expect(decoder.decode(entry!.body)).toBe(decoder.decode(poison.body));
    expect(entry!.movedByRedrivePolicy).toBe(false);
    expect(entry!.headers).toMatchObject(poison.headers);
    expect(entry!.record).toMatchObject({
      reason: 'non-retryable',
      messageId: poison.id,
      consumerGroup: 'billing',
      attempts: 1,
      error: { className: 'TypeError', message: 'amount must be positive' },
      source: { kind: 'queue', messageId: (original.delivery.message.source as { messageId: string }).messageId },
    });
    // Inspecting consumed nothing: the dead letter is still there, and the source queue is empty.
    await waitUntil('the dead letter visible again', async () => (await queueCounts(client, dlqUrl)).visible === 1);
    expect(await queueCounts(client, queueUrl)).toMatchObject({ visible: 0, inFlight: 0 });
    const processed = consumer.settledIds('ack');
    const deadLettered = consumer.settledIds('dead-letter');
    expect([...processed, ...deadLettered].sort()).toEqual(published.map((m) => m.id).sort());
  });

  it('keeps the original when the dead-letter send fails, and it comes back', async () => {
    // The failed dead-letter leaves the message to come back when its visibility lapses.
    const { client, calls, transport } = setup(1);
    const { queueUrl } = await provision(client, resources, 'dl-missing', 5, 1);
    const [message] = outgoing(1);
    const consumer = await TestConsumer.open(transport, queueUrl, (r) =>
      r.delivery.attempt === 1
        ? { kind: 'dead-letter', record: recordFor(r), destination: resources.name('no-such-dlq') }
        : { kind: 'ack' },
    );
    resources.track(() => consumer.close());
    await transport.publish(queueUrl, [message!]);
    await waitUntil(
      'the second delivery acked',
      () => consumer.settledIds('ack').has(message!.id),
      20_000,
      () => consumer.summary(),
    );
    const [first] = consumer.deliveriesOf(message!.id);
    expect(first!.state).toBe('failed');
    expect(hasCode(first!.error, 'SWITCHYARD_DEAD_LETTER_PUBLISH')).toBe(true);
    // One delete only: the second delivery's ack.
    expect(callsOf(calls, 'DeleteMessageBatch').flatMap((c) => c.input.Entries)).toHaveLength(1);
  });

  it('moves a message to the DLQ by the redrive policy after maxReceiveCount receives', async () => {
    const { client, transport } = setup();
    const { queueUrl, dlqUrl, queueArn } = await provision(client, resources, 'native', 2);
    const [message] = outgoing(1);
    const consumer = await TestConsumer.open(transport, queueUrl, (r) => ({
      kind: 'retry',
      delayMs: 0,
      attempt: r.delivery.attempt,
    }));
    resources.track(() => consumer.close());
    await transport.publish(queueUrl, [message!]);
    await waitUntil(
      'the DLQ to hold it',
      async () => (await queueCounts(client, dlqUrl)).visible === 1,
      20_000,
      () => consumer.summary(),
    );
    expect(consumer.deliveriesOf(message!.id).map((r) => r.delivery.attempt)).toEqual([1, 2]);
    const [entry] = await inspectDeadLetters(client, dlqUrl);
    expect(entry!.movedByRedrivePolicy).toBe(true);
    expect(entry!.record).toBeUndefined();
    expect(entry!.headers['sy-id']).toBe(message!.id);
    // AWS and ElasticMQ name the source queue; moto does not.
    if (server === 'elasticmq') expect(entry!.sourceQueueArn).toBe(queueArn);
  });

  it('redrives dead letters back to their queue: a move task where the server has one, else receive-send-delete', async () => {
    const { client, transport } = setup();
    const { queueUrl, dlqUrl } = await provision(client, resources, 'redrive');
    const published = outgoing(4);
    await seedDeadLetters(client, transport, queueUrl, dlqUrl, published);
    const result = await redrive({ client, from: dlqUrl, to: queueUrl, ratePerSecond: 50 });
    expect(result.mode).toBe(server === 'elasticmq' ? 'move-task' : 'receive-send-delete');
    if (server === 'moto') expect(result.fallbackReason).toMatch(/StartMessageMoveTask failed/);
    expect(result.moved).toBe(4);
    const consumer = await TestConsumer.open(transport, queueUrl, ackAll);
    resources.track(() => consumer.close());
    await waitUntil('all redriven messages consumed', () => consumer.settledIds('ack').size === 4, 20_000);
    expect([...consumer.settledIds('ack')].sort()).toEqual(published.map((m) => m.id).sort());
    if (result.mode === 'receive-send-delete')
      for (const r of consumer.received)
        expect(Object.keys(r.delivery.message.headers).filter((h) => h.startsWith('sy-dlq-'))).toEqual([]);
    expect(await queueCounts(client, dlqUrl)).toMatchObject({ visible: 0, inFlight: 0 });
  });

  it('says why each message a redrive could not move stayed, and leaves it in the dead-letter queue', async () => {
    const { client } = setup();
    const { dlqUrl } = await provision(client, resources, 'redrive-why');
    // A message with no dead-letter record, not moved by a redrive policy: nowhere to go back to.
    const sent = await client.send(new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: '{"orphan":true}' }));
    const orphan = await redrive({ client, from: dlqUrl, ratePerSecond: 100, mode: 'receive-send-delete' });
    expect(orphan).toMatchObject({ moved: 0, failed: 1 });
    expect(orphan.failures).toEqual([
      {
        messageId: sent.MessageId,
        reason: 'it names no source queue (no dead-letter record, not moved by a redrive policy): pass `to`',
      },
    ]);
    // Sent to a queue that is gone: the send's error is the reason.
    const gone = await provision(client, resources, 'redrive-gone');
    await client.send(new DeleteQueueCommand({ QueueUrl: gone.queueUrl }));
    await waitUntil('the orphan visible again', async () => (await queueCounts(client, dlqUrl)).visible === 1, 10_000);
    const failed = await redrive({
      client,
      from: dlqUrl,
      to: gone.queueUrl,
      ratePerSecond: 100,
      mode: 'receive-send-delete',
    });
    expect(failed).toMatchObject({ moved: 0, failed: 1 });
    expect(failed.failures[0]?.reason).toMatch(/^SendMessageBatch to 'redrive-gone-[^']+' failed: \S+/);
    await waitUntil('the orphan still there', async () => (await queueCounts(client, dlqUrl)).visible === 1, 10_000);
  });

  it('rate-limits receive-send-delete redrive and stops at max, losing nothing', async () => {
    const { client, transport } = setup();
    const { queueUrl, dlqUrl } = await provision(client, resources, 'redrive-rate');
    const published = outgoing(7);
    await seedDeadLetters(client, transport, queueUrl, dlqUrl, published);
    // A clock whose sleeps pass at once and are summed: the pacing is checked without waiting for it.
    let now = Date.now();
    const slept: number[] = [];
    const clock: Clock = {
      now: () => now,
      sleep: async (ms) => {
        slept.push(ms);
        now += ms;
      },
    };
    const first = await redrive({ client, from: dlqUrl, ratePerSecond: 2, max: 6, clock, mode: 'receive-send-delete' });
    expect(first).toMatchObject({ mode: 'receive-send-delete', moved: 6, failed: 0 });
    // Two tokens at the start, then two a second: six messages need at least two seconds of waiting.
    expect(slept.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2_000);
    const rest = await redrive({ client, from: dlqUrl, ratePerSecond: 100, mode: 'receive-send-delete' });
    expect(rest.moved).toBe(1);
    const consumer = await TestConsumer.open(transport, queueUrl, ackAll);
    resources.track(() => consumer.close());
    await waitUntil('all seven back and consumed', () => consumer.settledIds('ack').size === 7, 20_000);
    expect([...consumer.settledIds('ack')].sort()).toEqual(published.map((m) => m.id).sort());
  });
});

/** Dead-letters `messages` the way the transport does (record attributes included), straight into the DLQ. */
async function seedDeadLetters(
  client: SQSClient,
  transport: SqsTransport,
  queueUrl: string,
  dlqUrl: string,
  messages: ReturnType<typeof outgoing>,
): Promise<void> {
  void transport;
  const now = Date.now();
  for (const m of messages) {
    const record: DeadLetterRecord = {
      source: { kind: 'queue', queue: queueUrl.slice(queueUrl.lastIndexOf('/') + 1), messageId: m.id, receiveCount: 1 },
      consumerGroup: undefined,
      messageId: m.id,
      messageType: 'test.Message',
      attempts: 1,
      firstFailureAt: now,
      lastFailureAt: now,
      reason: 'retries-exhausted',
      error: { className: 'Error', code: undefined, message: 'boom', stack: undefined },
      body: m.body,
      headers: m.headers,
      key: undefined,
    };
    await client.send(
      new SendMessageCommand({
        QueueUrl: dlqUrl,
        ...buildDeadLetterMessage(record, { fifo: false, maxMessageBytes: 262_144 }),
      }),
    );
  }
}
