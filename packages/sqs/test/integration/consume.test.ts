import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { TestResources, waitUntil } from '@switchyard/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { SqsTransport } from '../../src/index.js';
import { callsOf, createQueue, endpointOf, queueCounts, recordingClient, SQS_SERVERS } from '../support/sqs-servers.js';
import { ackAll, holdAll, outgoing, TestConsumer } from '../support/test-consumer.js';

describe.each(SQS_SERVERS)('SqsTransport consuming on $name', ({ service }) => {
  const resources = new TestResources();
  afterEach(() => resources.cleanup());

  function setup(options: Partial<ConstructorParameters<typeof SqsTransport>[0]> = {}) {
    const { client, calls } = recordingClient(endpointOf(service));
    // 5 s: an acked message's batched delete must land before the message could come back.
    const transport = new SqsTransport({ client, visibilityTimeoutS: 5, depthIntervalMs: 0, ...options });
    resources.track(() => transport.close(), 'close transport');
    return { client, calls, transport };
  }

  it('delivers published messages with their headers, more than ten of them, and deletes them in batches', async () => {
    const { client, calls, transport } = setup();
    const queue = await createQueue(client, resources, 'consume');
    const headers = Object.fromEntries(Array.from({ length: 14 }, (_, i) => [`x-h${i}`, `v${i}`]));
    const published = outgoing(12, () => ({
      headers: { ...headers, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    }));
    await transport.publish(queue.name, published);
    const consumer = await TestConsumer.open(transport, queue.name, ackAll, { maxInFlight: 20 });
    resources.track(() => consumer.close(), 'close consumer');
    await waitUntil(
      'all acked',
      () => consumer.settledIds('ack').size === published.length,
      20_000,
      () => consumer.summary(),
    );
    for (const m of published) {
      const [r] = consumer.deliveriesOf(m.id);
      expect(r?.delivery.message.headers).toMatchObject(m.headers);
      expect(r?.delivery.attempt).toBe(1);
      expect(r?.delivery.orderingKey).toBe(
        r?.delivery.message.source.kind === 'queue' ? r.delivery.message.source.messageId : '',
      );
    }
    for (const send of callsOf(calls, 'SendMessageBatch'))
      for (const entry of send.input.Entries)
        expect(Object.keys(entry.MessageAttributes).length).toBeLessThanOrEqual(10);
    const deletes = callsOf(calls, 'DeleteMessageBatch');
    expect(deletes.flatMap((c) => c.input.Entries).length).toBe(published.length);
    expect(deletes.length).toBeLessThanOrEqual(4);
    await waitUntil('queue empty', async () => {
      const counts = await queueCounts(client, queue.url);
      return counts.visible + counts.inFlight === 0;
    });
  });

  it('redelivers a message whose visibility timeout lapsed, with the next attempt number', async () => {
    const { client, transport } = setup({ visibilityTimeoutS: 1, heartbeatIntervalMs: false });
    const queue = await createQueue(client, resources, 'lapse');
    const consumer = await TestConsumer.open(transport, queue.name, (r, c) =>
      c.deliveriesOf(r.id).length === 1 ? 'hold' : { kind: 'ack' },
    );
    resources.track(() => consumer.close(), 'close consumer');
    const [message] = outgoing(1);
    await transport.publish(queue.name, [message!]);
    await waitUntil(
      'redelivery and ack',
      () => consumer.settledIds('ack').has(message!.id),
      20_000,
      () => consumer.summary(),
    );
    const [first, second] = consumer.deliveriesOf(message!.id);
    expect(first?.delivery.signal.aborted).toBe(true);
    expect(second?.delivery.attempt).toBe(2);
  });
});

describe.each(SQS_SERVERS)('SqsTransport leases on $name', ({ service }) => {
  const resources = new TestResources();
  afterEach(() => resources.cleanup());

  it('keeps a message invisible with the heartbeat while its handler runs three visibility timeouts', async () => {
    const { client, calls } = recordingClient(endpointOf(service));
    // 3 s: the heartbeat (every third of it) has two seconds of slack on a loaded machine.
    const transport = new SqsTransport({ client, visibilityTimeoutS: 3, depthIntervalMs: 0 });
    resources.track(() => transport.close());
    const queue = await createQueue(client, resources, 'heartbeat');
    const consumer = await TestConsumer.open(transport, queue.name, holdAll);
    resources.track(() => consumer.close());
    const [message] = outgoing(1);
    await transport.publish(queue.name, [message!]);
    const held = await waitUntil('the delivery', () => consumer.deliveriesOf(message!.id)[0]);

    // A competing worker polls the same queue all along: it must never see the held message.
    const { client: rival } = recordingClient(endpointOf(service));
    const stolen: string[] = [];
    let polling = true;
    const rivalLoop = (async () => {
      while (polling) {
        const out = await rival.send(
          new ReceiveMessageCommand({ QueueUrl: queue.url, WaitTimeSeconds: 1, VisibilityTimeout: 1 }),
        );
        for (const m of out.Messages ?? []) stolen.push(m.MessageId ?? '');
      }
    })();
    const handle = (held.delivery.message.source as { messageId: string }).messageId;
    const extensions = () =>
      callsOf(calls, 'ChangeMessageVisibilityBatch').filter((c) =>
        c.input.Entries.some((e: any) => e.VisibilityTimeout > 0),
      );
    await waitUntil(
      'three visibility timeouts of extensions',
      () => Date.now() - held.receivedAt > 9_000 && extensions().length >= 4,
    );
    await consumer.settle(held, { kind: 'ack' });
    polling = false;
    await rivalLoop;
    expect(stolen, `rival received ${handle}`).toEqual([]);
    expect(consumer.deliveriesOf(message!.id)).toHaveLength(1);
    expect(held.delivery.signal.aborted).toBe(false);
    expect(await queueCounts(client, queue.url)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('sets a retry delay as the message visibility (whole seconds, capped at 12 hours from its receive)', async () => {
    const { client, calls } = recordingClient(endpointOf(service));
    const transport = new SqsTransport({ client, visibilityTimeoutS: 5, depthIntervalMs: 0 });
    resources.track(() => transport.close());
    const queue = await createQueue(client, resources, 'retry');
    const [soon, now, far] = outgoing(3);
    const delays = new Map([
      [soon!.id, 1_500],
      [now!.id, 0],
      [far!.id, 20 * 3_600_000],
    ]);
    const consumer = await TestConsumer.open(transport, queue.name, (r) =>
      r.delivery.attempt === 1 ? { kind: 'retry', delayMs: delays.get(r.id) ?? 0, attempt: 1 } : { kind: 'ack' },
    );
    resources.track(() => consumer.close());
    await transport.publish(queue.name, [soon!, now!, far!]);
    await waitUntil(
      'the retried messages acked',
      () => consumer.settledIds('ack').size === 2,
      20_000,
      () => consumer.summary(),
    );
    const visibilityOf = (id: string) => {
      const receipt = consumer.deliveriesOf(id)[0]!.delivery;
      const handle = callsOf(calls, 'ReceiveMessage')
        .flatMap((c) => c.output?.Messages ?? [])
        .find((m: any) => m.MessageId === (receipt.message.source as { messageId: string }).messageId)?.ReceiptHandle;
      return callsOf(calls, 'ChangeMessageVisibilityBatch')
        .flatMap((c) => c.input.Entries)
        .filter((e: any) => e.ReceiptHandle === handle)
        .map((e: any) => e.VisibilityTimeout);
    };
    expect(visibilityOf(soon!.id)).toEqual([2]);
    expect(visibilityOf(now!.id)).toEqual([0]);
    const [capped] = visibilityOf(far!.id);
    expect(capped).toBeLessThanOrEqual(43_199);
    expect(capped).toBeGreaterThan(43_100);
    expect(consumer.deliveriesOf(soon!.id).map((r) => r.delivery.attempt)).toEqual([1, 2]);
    expect(consumer.deliveriesOf(now!.id).map((r) => r.delivery.attempt)).toEqual([1, 2]);
    expect(consumer.deliveriesOf(far!.id)).toHaveLength(1);
  });

  it('never holds more than maxInFlight messages, across pollers', async () => {
    const { client, calls } = recordingClient(endpointOf(service));
    const transport = new SqsTransport({ client, visibilityTimeoutS: 10, depthIntervalMs: 0 });
    resources.track(() => transport.close());
    const queue = await createQueue(client, resources, 'bound');
    const published = outgoing(20);
    await transport.publish(queue.name, published);
    let holding = 0;
    let most = 0;
    const consumer = await TestConsumer.open(
      transport,
      queue.name,
      async (_r, c) => {
        holding += 1;
        most = Math.max(most, holding);
        // Let the others pile up before settling, so the bound is what limits them.
        await waitUntil(
          'the bound to fill',
          () => c.held().length >= 3 || c.received.length === published.length,
          5_000,
        ).catch(() => {});
        holding -= 1;
        return { kind: 'ack' };
      },
      { maxInFlight: 3, options: { waitTimeSeconds: 1, pollers: 2 } },
    );
    resources.track(() => consumer.close());
    await waitUntil(
      'all acked',
      () => consumer.settledIds('ack').size === published.length,
      30_000,
      () => consumer.summary(),
    );
    expect(most).toBeLessThanOrEqual(3);
    for (const receive of callsOf(calls, 'ReceiveMessage'))
      expect(receive.input.MaxNumberOfMessages).toBeLessThanOrEqual(3);
    expect(new Set(consumer.received.map((r) => r.id)).size).toBe(published.length);
  });

  it('on shutdown gives received but unstarted messages back at once (visibility 0)', async () => {
    const { client, calls } = recordingClient(endpointOf(service));
    const transport = new SqsTransport({ client, visibilityTimeoutS: 120, depthIntervalMs: 0 });
    resources.track(() => transport.close());
    const queue = await createQueue(client, resources, 'shutdown');
    const published = outgoing(6);
    await transport.publish(queue.name, published);
    const first = await TestConsumer.open(transport, queue.name, holdAll);
    await waitUntil('all six held', () => first.held().length === 6);
    await first.close();
    const released = callsOf(calls, 'ChangeMessageVisibilityBatch')
      .flatMap((c) => c.input.Entries)
      .filter((e: any) => e.VisibilityTimeout === 0);
    expect(released).toHaveLength(6);

    // Well inside the 120 s lease: only the release can bring them back this soon.
    const second = await TestConsumer.open(transport, queue.name, ackAll);
    resources.track(() => second.close());
    await waitUntil('all acked by the next worker', () => second.settledIds('ack').size === 6, 15_000);
    expect([...second.settledIds('ack')].sort()).toEqual(published.map((m) => m.id).sort());
  });
});
