// The subscription's offset, pause and settlement logic on a fake driver: deterministic, no broker.
// The same behaviours run against a real broker in test/integration/.

import type { DeadLetterRecord, Delivery, SwitchyardError } from '@switchyard/core';
import { hasCode, readDeadLetterHeaders } from '@switchyard/core';
import { ManualClock, recordLogs } from '@switchyard/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KafkaHeaders, KafkaTransport, SpringDeadLetterHeaders } from '../src/index.js';
import { FakeDriver, record, type SentRecord } from './support/fake-driver.js';
import { eventually, harness, subscriptionSpec } from './support/harness.js';

const open: KafkaTransport[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

async function setup(...args: Parameters<typeof harness>) {
  const h = await harness(...args);
  open.push(h.transport);
  return h;
}

function deadLetterRecord(delivery: Delivery, overrides: Partial<DeadLetterRecord> = {}): DeadLetterRecord {
  return {
    source: delivery.message.source,
    consumerGroup: 'group-a',
    messageId: 'm-1',
    messageType: 'OrderPlaced',
    attempts: 3,
    firstFailureAt: Date.UTC(2025, 0, 1),
    lastFailureAt: Date.UTC(2025, 0, 1, 0, 1),
    reason: 'retries-exhausted',
    error: { className: 'TypeError', code: undefined, message: 'boom', stack: 'TypeError: boom\n    at handler' },
    body: delivery.message.body,
    headers: delivery.message.headers,
    key: delivery.message.key,
    ...overrides,
  };
}

describe('offset watermark commits', () => {
  it('never commits past an unfinished message, and moves on once it finishes', async () => {
    const h = await setup({ consumer: { commitEveryMessages: 1 } });
    const result = await h.consumer.deliver(
      'orders',
      0,
      [0, 1, 2, 3, 4].map((o) => record(o)),
    );
    // The fetch position moves once per batch, past the last record handed over.
    expect(result.advanced).toEqual(['4']);
    expect(h.deliveries.map((d) => d.message.source.kind === 'log' && d.message.source.offset)).toEqual([
      '0',
      '1',
      '2',
      '3',
      '4',
    ]);

    for (const i of [0, 1, 3, 4]) await h.deliveries[i]!.settle({ kind: 'ack' });
    await eventually(() => h.consumer.lastCommitted('orders', 0) === '2');
    expect(h.consumer.commits.flat().map((c) => c.offset)).not.toContain('5');

    await h.deliveries[2]!.settle({ kind: 'ack' });
    await eventually(() => h.consumer.lastCommitted('orders', 0) === '5');
    for (const batch of h.consumer.commits) for (const c of batch) expect(BigInt(c.offset)).toBeLessThanOrEqual(5n);
  });

  it('holds the watermark at a message whose dead-letter write fails, and settles it once the write succeeds', async () => {
    const h = await setup({ consumer: { commitEveryMessages: 1 }, deadLetter: { timeoutMs: 1_000 } });
    await h.consumer.deliver(
      'orders',
      0,
      [0, 1, 2].map((o) => record(o)),
    );
    const producer = h.driver.producer0;
    let dlqDown = true;
    producer.failFor = (topic) =>
      topic === 'orders.dlq' && dlqDown
        ? Object.assign(new Error('broker unavailable'), { retriable: true })
        : undefined;

    await h.deliveries[0]!.settle({ kind: 'ack' });
    const failure = await Promise.resolve(
      h.deliveries[1]!.settle({
        kind: 'dead-letter',
        record: deadLetterRecord(h.deliveries[1]!),
        destination: 'orders.dlq',
      }),
    ).catch((e: unknown) => e);
    expect(hasCode(failure, 'SWITCHYARD_DEAD_LETTER_PUBLISH')).toBe(true);
    expect((failure as { retryable: boolean }).retryable).toBe(true);
    await h.deliveries[2]!.settle({ kind: 'ack' });
    await eventually(() => h.consumer.lastCommitted('orders', 0) === '1');

    dlqDown = false;
    await h.deliveries[1]!.settle({
      kind: 'dead-letter',
      record: deadLetterRecord(h.deliveries[1]!),
      destination: 'orders.dlq',
    });
    await eventually(() => h.consumer.lastCommitted('orders', 0) === '3');
    expect(producer.to('orders.dlq')).toHaveLength(1);
  });

  it('refuses a second settle of the same delivery', async () => {
    const h = await setup();
    await h.consumer.deliver('orders', 0, [record(0)]);
    await h.deliveries[0]!.settle({ kind: 'ack' });
    await expect(h.deliveries[0]!.settle({ kind: 'ack' })).rejects.toMatchObject({ code: 'SWITCHYARD_TRANSPORT' });
  });

  it('commits at most once before handing over a batch when at-most-once', async () => {
    const h = await setup({}, { semantics: 'at-most-once' });
    await h.consumer.deliver('orders', 0, [record(7), record(8)]);
    expect(h.consumer.commits).toEqual([[{ topic: 'orders', partition: 0, offset: '9' }]]);
    expect(h.deliveries).toHaveLength(2);
  });

  it('commits the watermark when closing, then leaves the group', async () => {
    const h = await setup();
    await h.consumer.deliver('orders', 0, [record(0), record(1)]);
    await h.deliveries[0]!.settle({ kind: 'ack' });
    expect(h.consumer.commits).toEqual([]);
    await h.subscription.stopFetching();
    await h.subscription.close();
    expect(h.consumer.lastCommitted('orders', 0)).toBe('1');
    expect(h.consumer.disconnected).toBe(true);
  });
});

describe('rebalances', () => {
  it('aborts deliveries of revoked partitions and never commits them', async () => {
    const h = await setup({ consumer: { commitEveryMessages: 1 } }, {}, { orders: [0, 1] });
    await h.consumer.deliver('orders', 0, [record(0), record(1)]);
    await h.consumer.deliver('orders', 1, [record(0)]);
    const [p0a, p0b, p1] = h.deliveries;

    h.consumer.join({ orders: [1] }, 'member-1');
    expect(p0a!.signal.aborted).toBe(true);
    expect(p0b!.signal.aborted).toBe(true);
    expect(p1!.signal.aborted).toBe(false);

    await p0a!.settle({ kind: 'ack' });
    await p0b!.settle({ kind: 'ack' });
    await p1!.settle({ kind: 'ack' });
    await eventually(() => h.consumer.lastCommitted('orders', 1) === '1');
    expect(h.consumer.commits.flat().filter((c) => c.partition === 0)).toEqual([]);
  });

  it('continues a retained partition where hand-over stopped instead of re-reading in-flight records', async () => {
    const h = await setup({}, {}, { orders: [0, 1] });
    await h.consumer.deliver('orders', 0, [record(10), record(11), record(12)]);
    h.consumer.join({ orders: [0] });
    expect(h.consumer.seeks).toEqual([{ topic: 'orders', partition: 0, offset: '13' }]);
  });

  it('drops every partition when the client crashes and rejoins', async () => {
    const h = await setup();
    await h.consumer.deliver('orders', 0, [record(0)]);
    h.consumer.emit({ kind: 'crash', error: new Error('connection lost'), restart: true });
    expect(h.deliveries[0]!.signal.aborted).toBe(true);
    expect(h.subscription.health().ok).toBe(false);
    h.consumer.join({ orders: [0] });
    expect(h.subscription.health().ok).toBe(true);
  });
});

describe('pausing', () => {
  it('waits inside the batch while the subscription is full, without pausing, and goes on as deliveries settle', async () => {
    // Pausing every partition would make kafkajs sleep maxWaitTimeInMs before its next fetch.
    const h = await setup({}, { maxInFlight: 2 });
    const paused: string[] = [];
    h.transport.events.on('kafka:partition:paused', (e) => paused.push(e.reason));
    const batch = h.consumer.deliver(
      'orders',
      0,
      [0, 1, 2, 3].map((o) => record(o)),
    );
    await vi.waitFor(() => expect(h.deliveries).toHaveLength(2));
    expect(paused).toEqual([]);
    expect(h.consumer.paused.has('orders/0')).toBe(false);
    await h.deliveries[0]!.settle({ kind: 'ack' });
    await vi.waitFor(() => expect(h.deliveries).toHaveLength(3));
    await h.deliveries[1]!.settle({ kind: 'ack' });
    const result = await batch;
    expect(result.advanced).toEqual(['3']);
    expect(h.deliveries.map((d) => d.message.source)).toMatchObject([0, 1, 2, 3].map((o) => ({ offset: String(o) })));
  });

  it('pauses a partition that reached its own in-flight bound and resumes it when it drains', async () => {
    const h = await setup({ consumer: { partitionMaxInFlight: 2 } }, { maxInFlight: 10 });
    const paused: string[] = [];
    h.transport.events.on('kafka:partition:paused', (e) => paused.push(e.reason));
    const result = await h.consumer.deliver(
      'orders',
      0,
      [0, 1, 2, 3].map((o) => record(o)),
    );
    expect(result.advanced).toEqual(['1']);
    expect(h.deliveries).toHaveLength(2);
    expect(paused).toEqual(['backpressure']);
    expect(h.consumer.paused.has('orders/0')).toBe(true);
    await h.deliveries[0]!.settle({ kind: 'ack' });
    expect(h.consumer.paused.has('orders/0')).toBe(false);
  });

  it('pauses a partition whose oldest message runs past the budget, and resumes it once it finishes', async () => {
    const clock = new ManualClock();
    const h = await setup({ clock, consumer: { stuckPartitionMs: 200 } }, {}, { orders: [0, 1] });
    await h.consumer.deliver('orders', 0, [record(0)]);
    await h.consumer.deliver('orders', 1, [record(0)]);
    await h.deliveries[1]!.settle({ kind: 'ack' });
    await clock.advance(1_000);
    await eventually(() => h.consumer.paused.has('orders/0'));
    expect(h.consumer.paused.has('orders/1')).toBe(false);
    await h.deliveries[0]!.settle({ kind: 'ack' });
    await eventually(() => !h.consumer.paused.has('orders/0'));
  });

  it('stops fetching on stopFetching and on pause(), and resume() undoes only the latter', async () => {
    const h = await setup();
    h.subscription.pause();
    expect(h.consumer.paused.has('orders/0')).toBe(true);
    h.subscription.resume();
    expect(h.consumer.paused.has('orders/0')).toBe(false);
    await h.subscription.stopFetching();
    expect(h.consumer.paused.has('orders/0')).toBe(true);
    const result = await h.consumer.deliver('orders', 0, [record(0)]);
    expect(result.advanced).toEqual([]);
    expect(h.deliveries).toHaveLength(0);
  });
});

describe('dead letters', () => {
  it('writes the original key, value and headers plus the diagnostic and Spring headers', async () => {
    const h = await setup();
    await h.consumer.deliver('orders', 0, [
      record(41, {
        key: 'order-41',
        value: 'not json',
        headers: { 'sy-type': 'OrderPlaced', 'x-binary': Buffer.from([0xff, 0x00]) },
      }),
    ]);
    const d = h.deliveries[0]!;
    await d.settle({ kind: 'dead-letter', record: deadLetterRecord(d), destination: 'orders.dlq' });
    const [written] = h.driver.producer0.to('orders.dlq');
    expect(written!.key).toEqual(Buffer.from('order-41'));
    expect(written!.value).toEqual(Buffer.from('not json'));
    expect(written!.headers['x-binary']).toEqual(Buffer.from([0xff, 0x00]));
    expect(written!.headers['sy-type']).toEqual('OrderPlaced');
    const strings = Object.fromEntries(Object.entries(written!.headers).map(([k, v]) => [k, v.toString()]));
    const read = readDeadLetterHeaders(strings);
    expect(read.reason).toBe('retries-exhausted');
    expect(read.source).toEqual({ kind: 'log', topic: 'orders', partition: 0, offset: '41', consumerGroup: 'group-a' });
    expect(read.attempts).toBe(3);
    expect(read.error?.className).toBe('TypeError');
    const s = SpringDeadLetterHeaders;
    expect(written!.headers[s.originalTopic]).toBe('orders');
    expect((written!.headers[s.originalPartition] as Buffer).readInt32BE()).toBe(0);
    expect((written!.headers[s.originalOffset] as Buffer).readBigInt64BE()).toBe(41n);
    expect(written!.headers[s.originalConsumerGroup]).toBe('group-a');
    expect(written!.headers[s.exceptionFqcn]).toBe('TypeError');
    expect(written!.headers[s.exceptionMessage]).toBe('boom');
  });

  it('replaces the headers of an earlier dead-lettering instead of appending', async () => {
    const h = await setup();
    await h.consumer.deliver('orders', 0, [
      record(5, {
        headers: {
          'sy-dlq-reason': 'validation',
          'sy-dlq-error-stack': 'old stack',
          'kafka_dlt-exception-message': 'old',
        },
      }),
    ]);
    const d = h.deliveries[0]!;
    await d.settle({
      kind: 'dead-letter',
      record: deadLetterRecord(d, { error: { className: 'Error', code: undefined, message: 'new', stack: undefined } }),
      destination: 'orders.dlq',
    });
    const [written] = h.driver.producer0.to('orders.dlq');
    expect(written!.headers['sy-dlq-reason']).toBe('retries-exhausted');
    expect(written!.headers['sy-dlq-error-stack']).toBeUndefined();
    expect(written!.headers[SpringDeadLetterHeaders.exceptionMessage]).toBe('new');
  });

  it('writes the diagnostics without the body when the record is too large for the dead-letter topic', async () => {
    const h = await setup({ consumer: { commitEveryMessages: 1 } });
    const omitted: number[] = [];
    h.transport.events.on('kafka:dead-letter:body-omitted', (e) => omitted.push(e.bytes));
    h.driver.producer0.failFor = (topic, m) =>
      topic === 'orders.dlq' && (m.value?.length ?? 0) > 1000
        ? Object.assign(new Error('too large'), { type: 'MESSAGE_TOO_LARGE', retriable: false })
        : undefined;
    await h.consumer.deliver('orders', 0, [record(0, { value: Buffer.alloc(5_000, 1) })]);
    const d = h.deliveries[0]!;
    await d.settle({ kind: 'dead-letter', record: deadLetterRecord(d), destination: 'orders.dlq' });
    const [written] = h.driver.producer0.to('orders.dlq');
    expect(written!.value).toEqual(Buffer.alloc(0));
    expect(written!.headers[KafkaHeaders.bodyOmitted]).toBe('5000');
    expect(omitted).toEqual([5_000]);
    await eventually(() => h.consumer.lastCommitted('orders', 0) === '1');
  });
});

describe('dead-letter topic names', () => {
  const created = (h: Awaited<ReturnType<typeof setup>>) =>
    eventually(() => h.driver.adminClient.created.length > 0 && h.driver.adminClient.created.map((t) => t.topic));

  it('gives each topic of a multi-topic subscription its own dead-letter topic, and creates each', async () => {
    const h = await setup(
      { retry: { mode: 'retry-topics', topics: 1 } },
      { options: { topics: ['orders', 'payments'] }, deadLetter: { destination: 'orders.dlq', named: false } },
      { orders: [0], payments: [0], 'payments.retry.1': [0] },
    );
    await h.consumer.deliver('orders', 0, [record(0)]);
    await h.consumer.deliver('payments', 0, [record(0)]);
    await h.consumer.deliver('payments.retry.1', 0, [record(0, { headers: { [KafkaHeaders.retryDueAt]: '0' } })]);
    expect(h.deliveries.map((d) => d.deadLetterDestination)).toEqual(['orders.dlq', 'payments.dlq', 'payments.dlq']);
    expect(await created(h)).toEqual(expect.arrayContaining(['orders.dlq', 'payments.dlq']));
    const d = h.deliveries[2]!;
    await d.settle({ kind: 'dead-letter', record: deadLetterRecord(d), destination: d.deadLetterDestination! });
    expect(h.driver.producer0.to('payments.dlq')).toHaveLength(1);
  });

  it('names the default dead-letter topic with deadLetter.suffix, for core and for the topic it creates', async () => {
    const h = await setup({ deadLetter: { suffix: '-dlt' } });
    expect(h.transport.deadLetterDestinationFor('orders')).toBe('orders-dlt');
    await h.consumer.deliver('orders', 0, [record(0)]);
    expect(h.deliveries[0]!.deadLetterDestination).toBe('orders-dlt');
    expect(await created(h)).toEqual(['orders-dlt']);
  });

  it("sends every source's dead letters to options.deadLetterTopic, created once", async () => {
    const h = await setup(
      {},
      { options: { topics: ['orders', 'payments'], deadLetterTopic: 'all.dead' } },
      { orders: [0], payments: [0] },
    );
    await h.consumer.deliver('payments', 0, [record(0)]);
    expect(h.deliveries[0]!.deadLetterDestination).toBe('all.dead');
    expect(await created(h)).toEqual(['all.dead']);
  });

  it("creates the consumer's own deadLetterDestination, and writes there", async () => {
    const h = await setup(
      {},
      { options: { topics: ['orders', 'payments'] }, deadLetter: { destination: 'billing.dead', named: true } },
      { orders: [0], payments: [0] },
    );
    await h.consumer.deliver('orders', 0, [record(0)]);
    expect(h.deliveries[0]!.deadLetterDestination).toBe('billing.dead');
    expect(await created(h)).toEqual(['billing.dead']);
  });

  it("never lets a pattern match the consumer's own dead-letter topic", async () => {
    const h = await setup(
      {},
      { options: { pattern: /^orders/ }, deadLetter: { destination: 'orders-poison', named: true } },
      { orders: [0], 'orders-poison': [0], 'orders-eu': [0] },
    );
    expect(h.consumer.subscribed[0]?.topics).toEqual(['orders', 'orders-eu']);
  });

  it('refuses a missing dead-letter topic nothing would create, and warns when only the broker might', async () => {
    const driver = new FakeDriver();
    driver.adminClient.topics.set('orders', 1);
    const strict = new KafkaTransport({
      driver,
      deadLetter: { createTopics: false },
      producer: { allowAutoTopicCreation: false },
    });
    open.push(strict);
    await expect(strict.subscribe(subscriptionSpec(), async () => {})).rejects.toMatchObject({
      code: 'SWITCHYARD_TRANSPORT',
      retryable: false,
      message: expect.stringContaining("dead-letter topic 'orders.dlq' does not exist, and nothing would create it"),
    });
    expect(driver.consumers.flatMap((c) => c.subscribed)).toEqual([]);

    const logger = recordLogs({ levels: ['warn'] });
    await setup({ deadLetter: { createTopics: false }, logger });
    expect(logger.messages()).toEqual([
      "dead-letter topic 'orders.dlq' does not exist and deadLetter.createTopics is off: the first dead letter relies on the broker's auto.create.topics.enable, and without it its partition holds at that record",
    ]);
    logger.clear();
    await setup({ deadLetter: { createTopics: false }, logger }, {}, { orders: [0], 'orders.dlq': [0] });
    expect(logger.messages()).toEqual([]);
  });

  it('refuses missing retry topics nothing would create, naming them', async () => {
    const driver = new FakeDriver();
    driver.adminClient.topics.set('orders', 1);
    driver.adminClient.topics.set('orders.retry.1', 1);
    const transport = new KafkaTransport({ driver, retry: { mode: 'retry-topics', topics: 3, createTopics: false } });
    open.push(transport);
    await expect(transport.subscribe(subscriptionSpec(), async () => {})).rejects.toMatchObject({
      code: 'SWITCHYARD_TRANSPORT',
      retryable: false,
      message: expect.stringContaining(
        "retry topics 'orders.retry.2', 'orders.retry.3' do not exist, and retry.createTopics is off",
      ),
    });
  });

  it('refuses two different names for the dead-letter topic, and one the subscription reads', async () => {
    const transport = new KafkaTransport({ driver: new FakeDriver() });
    open.push(transport);
    const sink = async () => {};
    await expect(
      transport.subscribe(
        subscriptionSpec({
          options: { deadLetterTopic: 'a.dead' },
          deadLetter: { destination: 'b.dead', named: true },
        }),
        sink,
      ),
    ).rejects.toMatchObject({ code: 'SWITCHYARD_INVALID_OPTION', option: 'options.deadLetterTopic' });
    await expect(
      transport.subscribe(
        subscriptionSpec({
          options: { topics: ['orders', 'payments'] },
          deadLetter: { destination: 'payments', named: true },
        }),
        sink,
      ),
    ).rejects.toMatchObject({ code: 'SWITCHYARD_INVALID_OPTION', option: 'deadLetterDestination' });
    const retrying = new KafkaTransport({ driver: new FakeDriver(), retry: { mode: 'retry-topics', topics: 2 } });
    open.push(retrying);
    await expect(
      retrying.subscribe(subscriptionSpec({ deadLetter: { destination: 'orders.retry.2', named: true } }), sink),
    ).rejects.toMatchObject({
      code: 'SWITCHYARD_INVALID_OPTION',
      option: 'deadLetterDestination',
      message: expect.stringContaining("'orders.retry.2', which this subscription consumes"),
    });
  });
});

describe('retry topics', () => {
  it('writes a retried message to its tier with due time and attempt, then completes the original offset', async () => {
    const clock = new ManualClock();
    const h = await setup({ clock, retry: { mode: 'retry-topics', topics: 2 }, consumer: { commitEveryMessages: 1 } });
    expect(h.transport.capabilities.delayedRetry).toBe(true);
    expect(h.consumer.subscribed).toEqual([
      { topics: ['orders'], fromBeginning: true },
      { topics: ['orders.retry.1', 'orders.retry.2'], fromBeginning: true },
    ]);
    await h.consumer.deliver('orders', 0, [record(3, { key: 'k', headers: { 'sy-id': 'm-3' } })]);
    await h.deliveries[0]!.settle({ kind: 'retry', delayMs: 5_000, attempt: 1 });
    const [written] = h.driver.producer0.to('orders.retry.1');
    expect(written!.headers).toMatchObject({
      'sy-id': 'm-3',
      [KafkaHeaders.retryDueAt]: String(clock.now() + 5_000),
      [KafkaHeaders.retryAttempt]: '2',
      [KafkaHeaders.retryOriginalTopic]: 'orders',
      [KafkaHeaders.retryOriginalPartition]: '0',
      [KafkaHeaders.retryOriginalOffset]: '3',
      [KafkaHeaders.firstFailureAt]: String(clock.now()),
    });
    await eventually(() => h.consumer.lastCommitted('orders', 0) === '4');
  });

  // The due time is the writer's wall clock. A writer whose clock ran three hours ahead held the
  // retry partition for three hours; a wait is now capped at retry.maxDelayMs from when it began.
  it('holds a retry record due far in the future no longer than retry.maxDelayMs', async () => {
    const clock = new ManualClock();
    const h = await setup(
      { clock, retry: { mode: 'retry-topics', topics: 1, maxDelayMs: 60_000 } },
      {},
      { orders: [0], 'orders.retry.1': [0] },
    );
    const retried = record(0, {
      headers: {
        [KafkaHeaders.retryDueAt]: String(clock.now() + 3 * 3_600_000),
        [KafkaHeaders.retryAttempt]: '2',
        [KafkaHeaders.retryOriginalTopic]: 'orders',
      },
    });
    expect((await h.consumer.deliver('orders.retry.1', 0, [retried])).advanced).toEqual([]);
    await clock.advance(30_000);
    // Fetched again half-way (a rejoin, say): still waiting, and the cap still counts from the start.
    expect((await h.consumer.deliver('orders.retry.1', 0, [retried])).advanced).toEqual([]);
    expect(h.consumer.paused.has('orders.retry.1/0')).toBe(true);
    await clock.advance(30_000);
    expect(h.consumer.paused.has('orders.retry.1/0')).toBe(false);
    expect((await h.consumer.deliver('orders.retry.1', 0, [retried])).advanced).toEqual(['0']);
    expect(h.deliveries.map((d) => d.attempt)).toEqual([2]);
  });

  it('pauses a retry partition until its head is due, then redelivers it with the attempt from the header', async () => {
    const clock = new ManualClock();
    const h = await setup(
      { clock, retry: { mode: 'retry-topics', topics: 2 } },
      {},
      { orders: [0], 'orders.retry.1': [0] },
    );
    const due = clock.now() + 60_000;
    const retried = record(0, {
      headers: {
        [KafkaHeaders.retryDueAt]: String(due),
        [KafkaHeaders.retryAttempt]: '2',
        [KafkaHeaders.retryOriginalTopic]: 'orders',
      },
    });
    const first = await h.consumer.deliver('orders.retry.1', 0, [retried]);
    expect(first.advanced).toEqual([]);
    expect(h.consumer.paused.has('orders.retry.1/0')).toBe(true);
    expect(h.deliveries).toHaveLength(0);

    await clock.advance(60_000);
    expect(h.consumer.paused.has('orders.retry.1/0')).toBe(false);
    const second = await h.consumer.deliver('orders.retry.1', 0, [retried]);
    expect(second.advanced).toEqual(['0']);
    expect(h.deliveries[0]!.attempt).toBe(2);
    // A record failing again on tier 1 goes on to tier 2 and keeps its original position.
    await h.deliveries[0]!.settle({ kind: 'retry', delayMs: 1_000, attempt: 2 });
    const [onward] = h.driver.producer0.to('orders.retry.2');
    expect(onward!.headers[KafkaHeaders.retryOriginalTopic]).toBe('orders');
    expect(onward!.headers[KafkaHeaders.retryAttempt]).toBe('3');
  });

  it('dead-letters a retry-topic record to the source topic dead-letter topic with its original position', async () => {
    const h = await setup({ retry: { mode: 'retry-topics', topics: 1 } }, {}, { orders: [0], 'orders.retry.1': [0] });
    await h.consumer.deliver('orders.retry.1', 0, [
      record(9, {
        headers: {
          [KafkaHeaders.retryDueAt]: '0',
          [KafkaHeaders.retryAttempt]: '3',
          [KafkaHeaders.retryOriginalTopic]: 'orders',
          [KafkaHeaders.retryOriginalPartition]: '0',
          [KafkaHeaders.retryOriginalOffset]: '77',
        },
      }),
    ]);
    const d = h.deliveries[0]!;
    expect(d.deadLetterDestination).toBe('orders.dlq');
    await d.settle({ kind: 'dead-letter', record: deadLetterRecord(d), destination: d.deadLetterDestination! });
    const [written] = h.driver.producer0.to('orders.dlq');
    expect((written!.headers[SpringDeadLetterHeaders.originalOffset] as Buffer).readBigInt64BE()).toBe(77n);
    expect(written!.headers[KafkaHeaders.retryDueAt]).toBeUndefined();
  });

  it('parks later messages of a key behind its retried message when parkSameKey is on', async () => {
    const h = await setup({ retry: { mode: 'retry-topics', topics: 2, parkSameKey: true } });
    await h.consumer.deliver('orders', 0, [record(0, { key: 'a' })]);
    await h.deliveries[0]!.settle({ kind: 'retry', delayMs: 1_000, attempt: 1 });
    await h.consumer.deliver('orders', 0, [record(1, { key: 'a' }), record(2, { key: 'b' })]);
    expect(h.deliveries.map((d) => d.message.key)).toEqual(['a', 'b']);
    const tier1 = h.driver.producer0.to('orders.retry.1');
    expect(tier1.map((r) => [r.key, r.headers[KafkaHeaders.parked]])).toEqual([
      [Buffer.from('a'), undefined],
      [Buffer.from('a'), 'true'],
    ]);
  });

  it('releases a parked key once every record its parking sent to the retry path is resolved', async () => {
    const h = await setup(
      { retry: { mode: 'retry-topics', topics: 2, parkSameKey: true } },
      {},
      { orders: [0], 'orders.retry.1': [0] },
    );
    const onSource = (offset: number) => record(offset, { key: 'a' });
    const asFetched = (sent: SentRecord, offset: number) =>
      record(offset, { key: 'a', value: sent.value, headers: sent.headers as Record<string, string | Buffer> });
    await h.consumer.deliver('orders', 0, [onSource(0)]);
    await h.deliveries[0]!.settle({ kind: 'retry', delayMs: 0, attempt: 1 });
    await h.consumer.deliver('orders', 0, [onSource(1)]);
    const tier1 = h.driver.producer0.to('orders.retry.1');
    expect(tier1.map((r) => r.headers[KafkaHeaders.parked])).toEqual([undefined, 'true']);
    expect(tier1[0]!.headers[KafkaHeaders.parkedBy]).toBeDefined();
    expect(tier1[1]!.headers[KafkaHeaders.parkedBy]).toBe(tier1[0]!.headers[KafkaHeaders.parkedBy]);

    await h.consumer.deliver('orders.retry.1', 0, [asFetched(tier1[0]!, 0), asFetched(tier1[1]!, 1)]);
    const [head, follower] = h.deliveries.slice(1);
    await head!.settle({ kind: 'ack' });
    // The follower is still on the retry path: the key stays parked.
    await h.consumer.deliver('orders', 0, [onSource(2)]);
    expect(h.driver.producer0.to('orders.retry.1')).toHaveLength(3);
    const third = h.driver.producer0.to('orders.retry.1')[2]!;
    await h.consumer.deliver('orders.retry.1', 0, [asFetched(third, 2)]);
    await follower!.settle({ kind: 'ack' });
    await h.deliveries[3]!.settle({ kind: 'dead-letter', record: deadLetterRecord(h.deliveries[3]!), destination: '' });
    // Everything it sent is resolved: the key's next record runs on the source topic.
    await h.consumer.deliver('orders', 0, [onSource(3)]);
    expect(h.driver.producer0.to('orders.retry.1')).toHaveLength(3);
    expect(h.deliveries.at(-1)!.message.source).toMatchObject({ topic: 'orders', offset: '3' });
  });

  it('keeps a key parked when a resolved record belongs to another member s parking', async () => {
    const h = await setup(
      { retry: { mode: 'retry-topics', topics: 2, parkSameKey: true } },
      {},
      { orders: [0], 'orders.retry.1': [0] },
    );
    await h.consumer.deliver('orders', 0, [record(0, { key: 'a' })]);
    await h.deliveries[0]!.settle({ kind: 'retry', delayMs: 0, attempt: 1 });
    const [head] = h.driver.producer0.to('orders.retry.1');
    const stranger = record(7, {
      key: 'a',
      headers: { ...(head!.headers as Record<string, string>), [KafkaHeaders.parkedBy]: 'someone-else-1' },
    });
    await h.consumer.deliver('orders.retry.1', 0, [stranger]);
    await h.deliveries[1]!.settle({ kind: 'ack' });
    await h.consumer.deliver('orders', 0, [record(1, { key: 'a' })]);
    expect(h.driver.producer0.to('orders.retry.1')).toHaveLength(2);
  });

  it('does not park a key behind a retry on the last tier, whose later records would be diverted into the same topic for ever', async () => {
    const h = await setup(
      { retry: { mode: 'retry-topics', topics: 2, parkSameKey: true } },
      {},
      { orders: [0], 'orders.retry.2': [0] },
    );
    const onLastTier = (offset: number) =>
      record(offset, {
        key: 'a',
        headers: {
          [KafkaHeaders.retryDueAt]: '0',
          [KafkaHeaders.retryAttempt]: '3',
          [KafkaHeaders.retryOriginalTopic]: 'orders',
        },
      });
    await h.consumer.deliver('orders.retry.2', 0, [onLastTier(0)]);
    await h.deliveries[0]!.settle({ kind: 'retry', delayMs: 1_000, attempt: 3 });
    expect(h.driver.producer0.to('orders.retry.2')).toHaveLength(1);
    // The key's next record on the last tier runs instead of going round again.
    await h.consumer.deliver('orders.retry.2', 0, [onLastTier(1)]);
    expect(h.deliveries.map((d) => d.message.source)).toMatchObject([{ offset: '0' }, { offset: '1' }]);
    expect(h.driver.producer0.to('orders.retry.2')).toHaveLength(1);
  });

  it('refuses retry settlements in blocking mode', async () => {
    const h = await setup();
    expect(h.transport.capabilities.delayedRetry).toBe(false);
    await h.consumer.deliver('orders', 0, [record(0)]);
    await expect(h.deliveries[0]!.settle({ kind: 'retry', delayMs: 10, attempt: 1 })).rejects.toMatchObject({
      code: 'SWITCHYARD_CAPABILITY',
    });
  });
});

describe('lag', () => {
  it('reports lag per partition as log end minus committed, and flags a partition far above the median', async () => {
    const clock = new ManualClock();
    const lags: Array<[number, number | undefined]> = [];
    const hot: number[] = [];
    const h = await setup(
      { clock, consumer: { commitEveryMessages: 1, lagIntervalMs: 5_000 } },
      { observer: { lag: (value, at) => lags.push([value, at.partition]), depth() {} } },
      { orders: [0, 1, 2] },
    );
    h.transport.events.on('kafka:partition:hot', (e) => hot.push(e.partition));
    await h.consumer.deliver('orders', 0, [record(0), record(1)], '12');
    await h.consumer.deliver('orders', 1, [record(0)], '10');
    await h.consumer.deliver('orders', 2, [record(0)], '5000');
    for (const d of h.deliveries) await d.settle({ kind: 'ack' });
    await eventually(
      () => h.consumer.lastCommitted('orders', 0) === '2' && h.consumer.lastCommitted('orders', 2) === '1',
    );
    await clock.advance(5_000);
    await eventually(() => lags.length >= 3);
    expect(lags.slice(0, 3).sort((a, b) => a[1]! - b[1]!)).toEqual([
      [10, 0],
      [9, 1],
      [4999, 2],
    ]);
    expect(hot).toEqual([2]);
  });
});

describe('start positions', () => {
  it('seeks partitions of a new group to the offset at the requested timestamp before handing anything over', async () => {
    const h = await setup({}, { startFrom: { timestamp: 1_700_000_000_123 } });
    await h.consumer.deliver('orders', 0, [record(0)]);
    expect(h.consumer.seeks).toEqual([{ topic: 'orders', partition: 0, offset: '123' }]);
  });

  it('keeps the committed position of an existing group', async () => {
    const h = await setup({}, { startFrom: { timestamp: 1_700_000_000_123 } }, { orders: [0] }, undefined, (driver) =>
      driver.adminClient.groupCommits.set('group-a/orders', new Map([[0, '42']])),
    );
    await h.consumer.deliver('orders', 0, [record(42)]);
    expect(h.consumer.seeks).toEqual([]);
    expect(h.deliveries).toHaveLength(1);
  });
});

describe('missing topics', () => {
  it('refuses to subscribe to a topic that does not exist, saying how to create it, before creating anything for it', async () => {
    const driver = new FakeDriver();
    const transport = new KafkaTransport({ driver, retry: { mode: 'retry-topics' } });
    open.push(transport);
    const failure = await transport.subscribe(subscriptionSpec(), async () => {}).catch((e: unknown) => e);
    expect(hasCode(failure, 'SWITCHYARD_TRANSPORT')).toBe(true);
    expect((failure as SwitchyardError).retryable).toBe(false);
    expect((failure as Error).message).toMatch(/'orders' does not exist: create it first .*allowAutoTopicCreation/);
    expect(driver.adminClient.created).toEqual([]);
    expect(driver.consumers.every((c) => c.subscribed.length === 0)).toBe(true);
  });

  it('leaves a missing topic to the broker when auto-creation is allowed', async () => {
    const h = await setup({ consumer: { allowAutoTopicCreation: true } }, {}, { orders: [0] }, undefined, (driver) =>
      driver.adminClient.topics.delete('orders'),
    );
    expect(h.consumer.subscribed[0]?.topics).toEqual(['orders']);
  });
});

describe('dead-letter depth', () => {
  it('reports the records of its dead-letter topic after the redrive group as queue depth, every depthIntervalMs', async () => {
    const clock = new ManualClock(Date.now());
    const depths: Array<{ value: number; destination: string; state: string }> = [];
    let lagSamples = 0;
    const h = await setup(
      { clock, deadLetter: { depthIntervalMs: 30_000 } },
      { observer: { lag: () => lagSamples++, depth: (value, a) => depths.push({ value, ...a }) } },
    );
    // The fake log of every topic runs from offset 0 to 100.
    await eventually(() => depths.length === 1);
    expect(depths).toEqual([{ value: 100, destination: 'orders.dlq', state: 'visible' }]);
    h.driver.adminClient.groupCommits.set('orders.dlq.redrive/orders.dlq', new Map([[0, '40']]));
    // A lag sample (every 5 s of the clock, once the partition has a fetch) shows a tick ran.
    await h.consumer.deliver('orders', 0, [record(0)]);
    await clock.advance(29_000);
    const before = lagSamples;
    await eventually(() => lagSamples > before);
    expect(depths).toHaveLength(1);
    await clock.advance(1_000);
    await eventually(() => depths.length === 2);
    expect(depths[1]).toEqual({ value: 60, destination: 'orders.dlq', state: 'visible' });
  });

  it('refuses a negative depthIntervalMs, naming the option', () => {
    expect(() => new KafkaTransport({ driver: new FakeDriver(), deadLetter: { depthIntervalMs: -1 } })).toThrow(
      /deadLetter\.depthIntervalMs/,
    );
  });
});
