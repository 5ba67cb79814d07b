import { errorCodeOf } from '@switchyard/core';
import { TestResources, waitUntil } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createQueueWithDeadLetter, SqsTransport } from '../../src/index.js';
import { callsOf, createQueue, endpointOf, recordingClient, SQS_SERVERS } from '../support/sqs-servers.js';
import { ackAll, outgoing, TestConsumer } from '../support/test-consumer.js';

const encoder = new TextEncoder();

describe.each(SQS_SERVERS)('SqsTransport publishing on $name', ({ service }) => {
  const resources = new TestResources();
  afterEach(() => resources.cleanup());

  function setup() {
    const { client, calls } = recordingClient(endpointOf(service));
    const transport = new SqsTransport({ client, visibilityTimeoutS: 5, depthIntervalMs: 0 });
    resources.track(() => transport.close());
    return { client, calls, transport };
  }

  it('sends batches of at most ten entries and 256 KiB, and every message arrives once', async () => {
    const { client, calls, transport } = setup();
    const queue = await createQueue(client, resources, 'batches');
    const small = outgoing(23);
    const large = outgoing(4, () => ({ body: encoder.encode(JSON.stringify({ pad: 'x'.repeat(100_000) })) }));
    await transport.publish(queue.name, [...small, ...large]);
    const batches = callsOf(calls, 'SendMessageBatch').map((c) => c.input.Entries);
    expect(batches.map((b) => b.length)).toEqual([10, 10, 5, 2]);
    for (const batch of batches)
      expect(batch.reduce((n: number, e: any) => n + e.MessageBody.length, 0)).toBeLessThanOrEqual(262_144);
    const consumer = await TestConsumer.open(transport, queue.name, ackAll, { maxInFlight: 30 });
    resources.track(() => consumer.close());
    await waitUntil('all consumed', () => consumer.settledIds('ack').size === 27, 20_000);
    expect(consumer.received).toHaveLength(27);
  });

  it('re-sends entries that failed on the server side, and only those', async () => {
    const { client, calls, transport } = setup();
    const queue = await createQueue(client, resources, 'partial');
    // The first batch call "fails" its second entry the way SQS reports a server-side failure: the
    // entry is taken out of the request and reported in Failed.
    let injected = false;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (injected || context.commandName !== 'SendMessageBatchCommand') return next(args);
        injected = true;
        const input = args.input as { Entries: { Id: string }[] };
        const dropped = input.Entries[1]!;
        input.Entries = input.Entries.filter((e) => e !== dropped);
        const result = await next(args);
        const output = result.output as { Failed?: unknown[] };
        output.Failed = [
          ...(output.Failed ?? []),
          { Id: dropped.Id, SenderFault: false, Code: 'InternalError', Message: 'injected' },
        ];
        return result;
      },
      { step: 'initialize', name: 'failOneEntry', priority: 'low' },
    );
    const published = outgoing(3);
    await transport.publish(queue.name, published);
    const sends = calls.filter((c) => c.command === 'SendMessageBatch' || c.command === 'SendMessage');
    expect(sends.map((c) => c.command)).toEqual(['SendMessageBatch', 'SendMessage']);
    expect(sends[1]!.input.MessageBody).toBe(new TextDecoder().decode(published[1]!.body));
    const consumer = await TestConsumer.open(transport, queue.name, ackAll);
    resources.track(() => consumer.close());
    await waitUntil('all consumed', () => consumer.settledIds('ack').size === 3);
    expect(consumer.received.map((r) => r.id).sort()).toEqual(published.map((m) => m.id).sort());
  });

  it('refuses a message over the size limit before sending anything', async () => {
    const { client, calls, transport } = setup();
    const queue = await createQueue(client, resources, 'too-large');
    const messages = [...outgoing(2), ...outgoing(1, () => ({ body: encoder.encode('x'.repeat(262_144)) }))];
    const error = await transport.publish(queue.name, messages).catch((e: unknown) => e);
    expect(errorCodeOf(error)).toBe('SWITCHYARD_MESSAGE_TOO_LARGE');
    expect(calls.filter((c) => c.command.startsWith('SendMessage'))).toEqual([]);
  });

  it('carries binary bodies and delays', async () => {
    const { client, calls, transport } = setup();
    const queue = await createQueue(client, resources, 'binary');
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const [binary] = outgoing(1, () => ({ body: bytes }));
    const [delayed] = outgoing(1, () => ({ delayMs: 1_000 }));
    await transport.publish(queue.name, [binary!, delayed!]);
    expect(callsOf(calls, 'SendMessageBatch')[0]!.input.Entries[1].DelaySeconds).toBe(1);
    const consumer = await TestConsumer.open(transport, queue.name, ackAll);
    resources.track(() => consumer.close());
    await waitUntil('both consumed', () => consumer.settledIds('ack').size === 2);
    const received = consumer.deliveriesOf(binary!.id)[0]!.delivery.message;
    expect(received.body).toEqual(bytes);
    expect(received.headers['sy-body-encoding']).toBeUndefined();
  });

  it('creates a queue with its DLQ idempotently: a second run changes nothing', async () => {
    const { client, calls } = setup();
    const name = resources.name('provision');
    const first = await createQueueWithDeadLetter(client, { name, visibilityTimeoutS: 7, maxReceiveCount: 3 });
    resources.track(async () => {
      const { DeleteQueueCommand } = await import('@aws-sdk/client-sqs');
      await client.send(new DeleteQueueCommand({ QueueUrl: first.queueUrl }));
      await client.send(new DeleteQueueCommand({ QueueUrl: first.dlqUrl }));
    });
    const before = calls.length;
    const second = await createQueueWithDeadLetter(client, { name, visibilityTimeoutS: 7, maxReceiveCount: 3 });
    expect(second).toEqual(first);
    const changing = calls
      .slice(before)
      .filter((c) => c.command === 'CreateQueue' || c.command === 'SetQueueAttributes');
    expect(changing).toEqual([]);
    const third = await createQueueWithDeadLetter(client, { name, visibilityTimeoutS: 7, maxReceiveCount: 4 });
    expect(third).toEqual(first);
    const sets = callsOf(calls.slice(before), 'SetQueueAttributes');
    expect(sets.map((c) => Object.keys(c.input.Attributes))).toEqual([['RedrivePolicy']]);
    expect(JSON.parse(sets[0]!.input.Attributes.RedrivePolicy)).toEqual({
      deadLetterTargetArn: first.dlqArn,
      maxReceiveCount: 4,
    });
  });
});
