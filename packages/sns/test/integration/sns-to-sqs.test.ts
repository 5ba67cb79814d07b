import { DeleteQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { createApp, defineEvent, defineHandler, defineTopic, NonRetryableError } from '@switchyard/core';
import { createQueueWithDeadLetter, inspectDeadLetters, SqsTransport } from '@switchyard/sqs';
import { TestResources, waitUntil } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SnsTransport, subscribeQueue } from '../../src/index.js';
import { collect } from '../support/collector.js';
import { motoClients, queue, topic } from '../support/moto.js';

const encoder = new TextEncoder();
const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

function event(id: string, type: string, payload: unknown, extra: Record<string, string> = {}, key?: string) {
  return {
    id,
    key,
    body: encoder.encode(JSON.stringify(payload)),
    headers: { 'sy-id': id, 'sy-type': type, traceparent, ...extra },
    timestamp: Date.now(),
  };
}

describe('SNS to SQS on moto', () => {
  const resources = new TestResources();
  afterEach(() => resources.cleanup());

  function transports() {
    const { sns, sqs, calls } = motoClients();
    const consumer = new SqsTransport({ client: sqs, visibilityTimeoutS: 5, depthIntervalMs: 0 });
    const publisher = new SnsTransport({ client: sns });
    resources.track(() => consumer.close());
    resources.track(() => publisher.close());
    return { sns, sqs, calls, consumer, publisher };
  }

  it('gets the original message to a subscribed queue with raw delivery on and off', async () => {
    const { sns, sqs, consumer, publisher } = transports();
    const topicArn = await topic(sns, resources, 'delivery');
    const raw = await queue(sqs, resources, 'raw');
    const wrapped = await queue(sqs, resources, 'wrapped');
    await subscribeQueue(sns, sqs, { topicArn, queueUrl: raw.url, raw: true });
    await subscribeQueue(sns, sqs, { topicArn, queueUrl: wrapped.url, raw: false });
    const many = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`x-h${i}`, `v${i}`]));
    const published = [
      event('e-1', 'OrderPlaced', { orderId: 'o-1' }, many),
      { ...event('e-2', 'Blob', null), body: Uint8Array.of(0, 1, 2, 255) },
      event('e-3', 'OrderPlaced', { orderId: 'o-3' }),
    ];
    await publisher.publish(topicArn, published);
    const a = await collect(consumer, raw.name);
    const b = await collect(consumer, wrapped.name);
    resources.track(() => a.close());
    resources.track(() => b.close());
    await waitUntil('three on each queue', () => a.deliveries.length === 3 && b.deliveries.length === 3);
    for (const collected of [a, b]) {
      for (const original of published) {
        const delivery = collected.deliveries.find((d) => d.message.headers['sy-id'] === original.id);
        expect(delivery?.message.body).toEqual(original.body);
        expect(delivery?.message.headers).toMatchObject(original.headers);
        expect(delivery?.message.headers['sy-decode-error']).toBeUndefined();
      }
    }
    expect(b.deliveries[0]?.message.headers['sns-topic-arn']).toBe(topicArn);
    expect(a.deliveries[0]?.message.headers['sns-topic-arn']).toBeUndefined();
  });

  it('fans out to queues by their filter policies, on attributes and on the body', async () => {
    const { sns, sqs, consumer, publisher } = transports();
    const topicArn = await topic(sns, resources, 'fanout');
    const all = await queue(sqs, resources, 'audit');
    const placed = await queue(sqs, resources, 'billing');
    const big = await queue(sqs, resources, 'fraud');
    await subscribeQueue(sns, sqs, { topicArn, queueUrl: all.url, raw: true });
    await subscribeQueue(sns, sqs, {
      topicArn,
      queueUrl: placed.url,
      raw: true,
      filterPolicy: { 'sy-type': ['OrderPlaced'] },
    });
    await subscribeQueue(sns, sqs, {
      topicArn,
      queueUrl: big.url,
      filterPolicy: { amount: [{ numeric: ['>=', 100] }] },
      filterPolicyScope: 'MessageBody',
    });
    await publisher.publish(topicArn, [
      event('small-order', 'OrderPlaced', { orderId: 'o-1', amount: 50 }),
      event('big-order', 'OrderPlaced', { orderId: 'o-2', amount: 500 }),
      event('big-shipment', 'OrderShipped', { orderId: 'o-3', amount: 500 }),
    ]);
    const consumers = await Promise.all([all, placed, big].map((q) => collect(consumer, q.name)));
    for (const c of consumers) resources.track(() => c.close());
    const ids = (i: number) => (consumers[i]?.deliveries.map((d) => d.message.headers['sy-id']) ?? []).sort();
    await waitUntil(
      'the fan-out',
      () => ids(0).length === 3 && ids(1).length === 2 && ids(2).length === 2,
      20_000,
      () => JSON.stringify([ids(0), ids(1), ids(2)]),
    );
    expect(ids(0)).toEqual(['big-order', 'big-shipment', 'small-order']);
    expect(ids(1)).toEqual(['big-order', 'small-order']);
    expect(ids(2)).toEqual(['big-order', 'big-shipment']);
  });

  it('subscribes idempotently: a second run changes nothing, a changed filter changes only the filter', async () => {
    const { sns, sqs, calls } = transports();
    const topicArn = await topic(sns, resources, 'idempotent');
    const q = await queue(sqs, resources, 'subscriber');
    const options = { topicArn, queueUrl: q.url, raw: true, filterPolicy: { 'sy-type': ['A', 'B'] } };
    const first = await subscribeQueue(sns, sqs, options);
    expect(first.changed).toBe(true);
    const policy = JSON.parse(
      (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: q.url, AttributeNames: ['Policy'] }))).Attributes
        ?.Policy ?? '{}',
    );
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
      }),
    ]);
    const before = calls.length;
    const second = await subscribeQueue(sns, sqs, { ...options, filterPolicy: { 'sy-type': ['A', 'B'] } });
    expect(second).toEqual({ ...first, changed: false });
    const changing = ['Subscribe', 'SetSubscriptionAttributes', 'SetQueueAttributes'];
    expect(calls.slice(before).filter((c) => changing.includes(c.command))).toEqual([]);
    const third = await subscribeQueue(sns, sqs, { ...options, filterPolicy: { 'sy-type': ['C'] } });
    expect(third.subscriptionArn).toBe(first.subscriptionArn);
    expect(
      calls
        .slice(before)
        .filter((c) => changing.includes(c.command))
        .map((c) => c.input.AttributeName),
    ).toEqual(['FilterPolicy']);
  });

  it('dead-letters through SnsTransport (consumeWith) into the queue createQueueWithDeadLetter made', async () => {
    const { sns, sqs } = transports();
    const topicArn = await topic(sns, resources, 'dead');
    const name = resources.name('dead-sub');
    const { queueUrl, dlqUrl } = await createQueueWithDeadLetter(sqs, { name });
    resources.track(() => sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl })).catch(() => {}));
    resources.track(() => sqs.send(new DeleteQueueCommand({ QueueUrl: dlqUrl })).catch(() => {}));
    await subscribeQueue(sns, sqs, { topicArn, queueUrl, raw: true });
    const Refused = defineEvent({ name: 'Refused', schema: z.object({ id: z.string() }), key: (p) => p.id });
    const transport = new SnsTransport({
      client: sns,
      consumeWith: new SqsTransport({ client: sqs, visibilityTimeoutS: 5, depthIntervalMs: 0 }),
    });
    const app = createApp({ transport });
    app.consume(defineTopic({ name, events: [Refused] }), {
      group: 'refusing',
      // moto answers a long poll only when it ends, not when a message arrives.
      transportOptions: { waitTimeSeconds: 1 },
      handlers: [
        defineHandler(Refused, (m) => {
          throw new NonRetryableError(`refused ${m.payload.id}`);
        }),
      ],
    });
    await app.start();
    resources.track(() => app.stop());
    await app.publish(defineTopic({ name: topicArn, events: [Refused] }), Refused, { id: 'r-1' });
    const dead = await waitUntil('the dead letter', async () => (await inspectDeadLetters(sqs, dlqUrl))[0]);
    expect(dead.record).toMatchObject({ reason: 'non-retryable', error: { message: 'refused r-1' } });
    expect(JSON.parse(Buffer.from(dead.body).toString())).toEqual({ id: 'r-1' });
  });

  it('keeps per-group order from a FIFO topic to a FIFO queue', async () => {
    const { sns, sqs } = transports();
    const fifoConsumer = new SqsTransport({ client: sqs, fifo: true, visibilityTimeoutS: 5, depthIntervalMs: 0 });
    resources.track(() => fifoConsumer.close());
    const publisher = new SnsTransport({ client: sns });
    const topicArn = await topic(sns, resources, 'fifo-topic', true);
    const q = await queue(sqs, resources, 'fifo-subscriber', true);
    await subscribeQueue(sns, sqs, { topicArn, queueUrl: q.url, raw: true });
    const published = Array.from({ length: 8 }, (_, i) =>
      event(`f-${i}`, 'OrderPlaced', { seq: i }, {}, `group-${i % 2}`),
    );
    await publisher.publish(topicArn, published);
    const c = await collect(fifoConsumer, q.name);
    resources.track(() => c.close());
    await waitUntil('all eight', () => c.deliveries.length === 8);
    for (const group of ['group-0', 'group-1']) {
      const order = c.deliveries.filter((d) => d.message.key === group).map((d) => d.message.headers['sy-id']);
      expect(order).toEqual(published.filter((m) => m.key === group).map((m) => m.id));
    }
  });
});
