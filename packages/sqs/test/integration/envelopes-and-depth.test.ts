import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { TransportObserver } from '@switchyard/core';
import { TestResources, waitUntil } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createQueueWithDeadLetter, DECODE_ERROR_HEADER, SqsTransport } from '../../src/index.js';
import { createQueue, endpointOf, recordingClient, SQS_SERVERS } from '../support/sqs-servers.js';
import { ackAll, holdAll, outgoing, TestConsumer } from '../support/test-consumer.js';

const topicArn = 'arn:aws:sns:us-east-1:123456789012:orders';

describe.each(SQS_SERVERS)('SqsTransport reading SNS envelopes and reporting depth on $name', ({ service }) => {
  const resources = new TestResources();
  afterEach(() => resources.cleanup());

  function setup(options: Partial<ConstructorParameters<typeof SqsTransport>[0]> = {}) {
    const { client, calls } = recordingClient(endpointOf(service));
    const transport = new SqsTransport({ client, visibilityTimeoutS: 5, depthIntervalMs: 0, ...options });
    resources.track(() => transport.close());
    return { client, calls, transport };
  }

  it('hands over the original message of an SNS notification, and flags a malformed one with its reason', async () => {
    const { client, transport } = setup();
    const queue = await createQueue(client, resources, 'envelopes');
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const wrapped = JSON.stringify({
      Type: 'Notification',
      MessageId: 'sns-message-1',
      TopicArn: topicArn,
      Message: JSON.stringify({ id: 'wrapped-1', orderId: 'o-1' }),
      Timestamp: '2026-01-02T03:04:05.000Z',
      MessageAttributes: {
        'sy-id': { Type: 'String', Value: 'wrapped-1' },
        'sy-type': { Type: 'String', Value: 'OrderPlaced' },
        traceparent: { Type: 'String', Value: traceparent },
      },
    });
    const malformed = JSON.stringify({ Type: 'Notification', MessageId: 'sns-2', TopicArn: topicArn, Message: 42 });
    for (const body of [wrapped, malformed])
      await client.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body }));
    const consumer = await TestConsumer.open(transport, queue.name, ackAll);
    resources.track(() => consumer.close());
    await waitUntil('both delivered', () => consumer.received.length === 2);

    const unwrapped = consumer.received.find((r) => r.id === 'wrapped-1')!.delivery.message;
    expect(new TextDecoder().decode(unwrapped.body!)).toBe('{"id":"wrapped-1","orderId":"o-1"}');
    expect(unwrapped.headers).toMatchObject({
      'sy-type': 'OrderPlaced',
      traceparent,
      'sns-topic-arn': topicArn,
      'sns-message-id': 'sns-message-1',
    });
    expect(unwrapped.timestamp).toBe(Date.parse('2026-01-02T03:04:05.000Z'));
    expect(unwrapped.headers[DECODE_ERROR_HEADER]).toBeUndefined();

    const flagged = consumer.received.find((r) => r.id !== 'wrapped-1')!.delivery.message;
    expect(new TextDecoder().decode(flagged.body!)).toBe(malformed);
    expect(flagged.headers[DECODE_ERROR_HEADER]).toMatch(/without a string Message/);
  });

  it('reports visible, in-flight and delayed depth of the queue and of its dead-letter queue', async () => {
    const { client, transport } = setup({ depthIntervalMs: 200 });
    const queues = await createQueueWithDeadLetter(client, { name: resources.name('depth'), visibilityTimeoutS: 5 });
    resources.track(async () => {
      const { DeleteQueueCommand } = await import('@aws-sdk/client-sqs');
      await client.send(new DeleteQueueCommand({ QueueUrl: queues.queueUrl }));
      await client.send(new DeleteQueueCommand({ QueueUrl: queues.dlqUrl }));
    });
    await transport.publish(queues.queueUrl, outgoing(5));
    await transport.publish(
      queues.queueUrl,
      outgoing(1, () => ({ delayMs: 60_000 })),
    );
    const seen: { value: number; destination: string; state: string }[] = [];
    const observer: TransportObserver = { lag: () => {}, depth: (value, a) => seen.push({ value, ...a }) };
    const consumer = await TestConsumer.open(transport, queues.queueUrl, holdAll, { maxInFlight: 2, observer });
    resources.track(() => consumer.close());
    const main = queues.queueUrl.slice(queues.queueUrl.lastIndexOf('/') + 1);
    const dlq = queues.dlqUrl.slice(queues.dlqUrl.lastIndexOf('/') + 1);
    const last = (destination: string, state: string) =>
      seen.filter((s) => s.destination === destination && s.state === state).at(-1)?.value;
    await waitUntil(
      'depth of 3 visible, 2 in flight, 1 delayed, an empty DLQ',
      () =>
        last(main, 'visible') === 3 &&
        last(main, 'in-flight') === 2 &&
        last(main, 'delayed') === 1 &&
        last(dlq, 'visible') === 0 &&
        (last(main, 'oldest-age-s') ?? -1) >= 0,
      15_000,
      () => JSON.stringify(seen.slice(-8)),
    );
  });
});
