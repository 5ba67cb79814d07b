import { TestResources, waitUntil } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { SqsTransport } from '../../src/index.js';
import { createQueue, endpointOf, recordingClient, SQS_SERVERS } from '../support/sqs-servers.js';
import { outgoing, type Received, TestConsumer } from '../support/test-consumer.js';

describe.each(SQS_SERVERS)('SqsTransport on a FIFO queue on $name', ({ service }) => {
  const resources = new TestResources();
  afterEach(() => resources.cleanup());

  function setup() {
    const { client, calls } = recordingClient(endpointOf(service));
    const transport = new SqsTransport({ client, fifo: true, visibilityTimeoutS: 5, depthIntervalMs: 0 });
    resources.track(() => transport.close());
    return { client, calls, transport };
  }

  it('processes groups in parallel and each group strictly in order, a retry holding its group back', async () => {
    const { client, transport } = setup();
    const queue = await createQueue(client, resources, 'fifo-order', { FifoQueue: 'true' });
    const groups = ['g0', 'g1', 'g2'];
    const published = outgoing(15, (i) => ({ key: groups[i % 3] as string }));
    const retried = published[3]!; // the second message of g0
    const active = new Set<string>();
    let mostGroupsAtOnce = 0;
    let allMet = false;
    const consumer = await TestConsumer.open(
      transport,
      queue.name,
      async (r, c) => {
        const group = r.delivery.message.key as string;
        expect(active.has(group), `two messages of ${group} at once`).toBe(false);
        active.add(group);
        mostGroupsAtOnce = Math.max(mostGroupsAtOnce, active.size);
        if (active.size === 3) allMet = true;
        // The first of each group waits for the other groups to start: they must run side by side.
        if (c.deliveriesOf(r.id).length === 1 && r.index < 3)
          await waitUntil('all three groups in flight', () => allMet, 10_000).catch(() => {});
        active.delete(group);
        if (r.id === retried.id && r.delivery.attempt === 1) return { kind: 'retry', delayMs: 1_000, attempt: 1 };
        return { kind: 'ack' };
      },
      { maxInFlight: 10 },
    );
    resources.track(() => consumer.close());
    await transport.publish(queue.name, published);
    await waitUntil(
      'all acked',
      () => consumer.settledIds('ack').size === published.length,
      30_000,
      () => consumer.summary(),
    );

    expect(mostGroupsAtOnce).toBe(3);
    const order = (group: string) =>
      consumer.received
        .filter((r: Received) => r.delivery.message.key === group)
        .map((r) => published.findIndex((m) => m.id === r.id));
    expect(order('g0')).toEqual([0, 3, 3, 6, 9, 12]);
    expect(order('g1')).toEqual([1, 4, 7, 10, 13]);
    expect(order('g2')).toEqual([2, 5, 8, 11, 14]);
    expect(consumer.deliveriesOf(retried.id).map((r) => r.delivery.attempt)).toEqual([1, 2]);
    for (const r of consumer.received) {
      expect(r.delivery.orderingKey).toBe(r.delivery.message.key);
      expect(r.delivery.message.source).toMatchObject({ kind: 'queue', groupId: r.delivery.message.key });
    }
  });

  it('deduplicates a re-sent message by its id', async () => {
    const { client, calls, transport } = setup();
    const queue = await createQueue(client, resources, 'fifo-dedup', { FifoQueue: 'true' });
    const [message] = outgoing(1, () => ({ key: 'k' }));
    const [sentinel] = outgoing(1, () => ({ key: 'k' }));
    await transport.publish(queue.name, [message!]);
    await transport.publish(queue.name, [message!]);
    await transport.publish(queue.name, [sentinel!]);
    const sends = calls.filter((c) => c.command === 'SendMessage');
    expect(sends.map((c) => [c.input.MessageGroupId, c.input.MessageDeduplicationId])).toEqual([
      ['k', message!.id],
      ['k', message!.id],
      ['k', sentinel!.id],
    ]);
    const consumer = await TestConsumer.open(transport, queue.name, () => ({ kind: 'ack' }));
    resources.track(() => consumer.close());
    await waitUntil('the sentinel', () => consumer.settledIds('ack').has(sentinel!.id));
    expect(consumer.received.map((r) => r.id)).toEqual([message!.id, sentinel!.id]);
  });

  it('refuses to consume a standard queue when declared FIFO', async () => {
    const { client, transport } = setup();
    const queue = await createQueue(client, resources, 'not-fifo');
    await expect(TestConsumer.open(transport, queue.name, () => ({ kind: 'ack' }))).rejects.toMatchObject({
      code: 'SWITCHYARD_CAPABILITY',
    });
  });
});
