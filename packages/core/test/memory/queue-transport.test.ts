import { describe, expect, it } from 'vitest';
import type { DeadLetterRecord } from '../../src/dead-letter.js';
import { readDeadLetterHeaders } from '../../src/dead-letter-headers.js';
import { hasCode } from '../../src/errors.js';
import { MemoryBroker } from '../../src/memory/broker.js';
import { MemoryQueueTransport } from '../../src/memory/queue-transport.js';
import type { Delivery, DeliverySink } from '../../src/ports/transport.js';
import { FakeClock, settle } from '../support/fake-clock.js';
import { bytes, CollectingSink, outgoing, recordingObserver, spec, text } from './helpers.js';

async function setup(queueOptions: Parameters<MemoryBroker['createQueue']>[1] = {}, fifo = false) {
  const clock = new FakeClock();
  const broker = new MemoryBroker({ clock });
  broker.createQueue('jobs-dlq');
  broker.createQueue('jobs', queueOptions);
  const transport = new MemoryQueueTransport({ broker, visibilityTimeoutMs: 10_000, fifo });
  await transport.start();
  return { clock, broker, transport };
}

function record(d: Delivery): DeadLetterRecord {
  return {
    source: d.message.source,
    consumerGroup: undefined,
    messageId: 'msg-1',
    messageType: 'ChargeCard',
    attempts: d.attempt,
    firstFailureAt: 1,
    lastFailureAt: 2,
    reason: 'validation',
    error: {
      className: 'ZodError',
      code: 'SWITCHYARD_VALIDATION',
      message: 'amount: expected number',
      stack: undefined,
    },
    body: d.message.body,
    headers: d.message.headers,
    key: d.message.key,
  };
}

describe('MemoryQueueTransport', () => {
  it('declares queue capabilities: competing consumers, delayed retry, native redrive, a lease', async () => {
    const { transport } = await setup();
    expect(transport.capabilities).toEqual({
      model: 'queue',
      ordering: 'none',
      consumerGroups: false,
      replay: false,
      delayedRetry: true,
      maxRetryDelayMs: 43_200_000,
      nativeRedrive: true,
      exactlyOnce: false,
      leaseMs: 10_000,
    });
    expect(new MemoryQueueTransport({ fifo: true }).capabilities.ordering).toBe('group');
  });

  it('hands over messages with the receive count as attempt and the message id as ordering key', async () => {
    const { transport } = await setup();
    const sink = new CollectingSink();
    await transport.subscribe(spec('jobs'), sink.sink);
    await transport.publish('jobs', [outgoing('job', { headers: { 'X-Id': '7' } })]);
    const d = await sink.next();
    expect(d.attempt).toBe(1);
    expect(d.message.source).toMatchObject({ kind: 'queue', queue: 'jobs', receiveCount: 1 });
    const messageId = d.message.source.kind === 'queue' ? d.message.source.messageId : '';
    expect(d.orderingKey).toBe(`jobs/${messageId}`);
    expect(d.message.headers).toEqual({ 'x-id': '7' });
    await transport.close();
  });

  it('ack deletes the message', async () => {
    const { transport, broker } = await setup();
    const sink = new CollectingSink();
    await transport.subscribe(spec('jobs'), sink.sink);
    await transport.publish('jobs', [outgoing('job')]);
    const d = await sink.next();
    expect(broker.depth('jobs').inFlight).toBe(1);
    await d.settle({ kind: 'ack' });
    expect(broker.messages('jobs')).toEqual([]);
    await transport.close();
  });

  it('retry hides the message for the delay, then redelivers it with attempt + 1', async () => {
    const { transport, broker, clock } = await setup();
    const sink = new CollectingSink();
    await transport.subscribe(spec('jobs'), sink.sink);
    await transport.publish('jobs', [outgoing('flaky')]);
    const first = await sink.next();
    await first.settle({ kind: 'retry', delayMs: 3_000, attempt: 2 });
    expect(broker.messages('jobs')[0]).toMatchObject({ state: 'in-flight', visibleAt: clock.now() + 3_000 });
    await clock.advance(2_999);
    expect(sink.received).toHaveLength(1);
    await clock.advance(1);
    const second = await sink.next();
    expect(second.attempt).toBe(2);
    expect(text(second.message.body)).toBe('flaky');
    await expect(first.settle({ kind: 'ack' })).rejects.toThrow(/already settled/);
    await second.settle({ kind: 'ack' });
    await transport.close();
  });

  it('release makes the message visible again at once', async () => {
    const { transport, broker } = await setup();
    const sink = new CollectingSink();
    const sub = await transport.subscribe(spec('jobs'), sink.sink);
    await transport.publish('jobs', [outgoing('job')]);
    const d = await sink.next();
    await sub.stopFetching();
    await d.settle({ kind: 'release' });
    expect(broker.depth('jobs')).toMatchObject({ visible: 1, inFlight: 0 });
    await transport.close();
  });

  it('dead-letter writes the record to the DLQ first, then deletes the original', async () => {
    const { transport, broker } = await setup();
    const sink = new CollectingSink();
    await transport.subscribe(spec('jobs'), sink.sink);
    await transport.publish('jobs', [outgoing('{"amount":"x"}', { headers: { 'sy-type': 'ChargeCard' } })]);
    const d = await sink.next();
    await d.settle({ kind: 'dead-letter', record: record(d), destination: 'jobs-dlq' });
    expect(broker.messages('jobs')).toEqual([]);
    const [dead] = broker.messages('jobs-dlq');
    expect(text(dead!.body)).toBe('{"amount":"x"}');
    expect(dead!.headers['sy-type']).toBe('ChargeCard');
    expect(readDeadLetterHeaders(dead!.headers)).toMatchObject({
      reason: 'validation',
      source: { kind: 'queue', queue: 'jobs', receiveCount: 1 },
      error: { className: 'ZodError', code: 'SWITCHYARD_VALIDATION' },
    });
    await transport.close();
  });

  it('keeps the original when the dead-letter write fails', async () => {
    const { transport, broker } = await setup();
    broker.createTopic('not-a-queue-but-fine', { partitions: 1 });
    broker.createFanout('broken');
    broker.subscribe('broken', 'jobs-dlq', {
      filter: () => {
        throw new Error('bug');
      },
    });
    const sink = new CollectingSink();
    await transport.subscribe(spec('jobs'), sink.sink);
    await transport.publish('jobs', [outgoing('job')]);
    const d = await sink.next();
    await expect(d.settle({ kind: 'dead-letter', record: record(d), destination: 'broken' })).rejects.toSatisfy(
      (e: unknown) => hasCode(e, 'SWITCHYARD_DEAD_LETTER_PUBLISH'),
    );
    expect(broker.depth('jobs').inFlight).toBe(1);
    // A topic works as a dead-letter destination too.
    await d.settle({ kind: 'dead-letter', record: record(d), destination: 'not-a-queue-but-fine' });
    expect(broker.records('not-a-queue-but-fine')).toHaveLength(1);
    expect(broker.messages('jobs')).toEqual([]);
    await transport.close();
  });

  it('aborts the delivery signal when the lease lapses, and refuses an ack after someone else received it', async () => {
    const { transport, clock } = await setup();
    const sink = new CollectingSink();
    await transport.subscribe(spec('jobs'), sink.sink);
    await transport.publish('jobs', [outgoing('slow')]);
    const first = await sink.next();
    expect(first.signal.aborted).toBe(false);
    await clock.advance(10_000);
    expect(first.signal.aborted).toBe(true);
    const second = await sink.next();
    expect(second.attempt).toBe(2);
    await expect(first.settle({ kind: 'ack' })).rejects.toThrow(/visibility timeout lapsed/);
    await second.settle({ kind: 'ack' });
    await transport.close();
  });

  it('aborts exactly the deliveries whose lease lapsed unsettled, when it lapsed', async () => {
    const { transport, clock } = await setup();
    const sink = new CollectingSink();
    await transport.subscribe(spec('jobs'), sink.sink);
    await transport.publish('jobs', [outgoing('acked'), outgoing('retried'), outgoing('held-1')]);
    const [acked, retried, held1] = await sink.waitFor(3);
    await acked!.settle({ kind: 'ack' });
    await clock.advance(4_000);
    await transport.publish('jobs', [outgoing('held-2')]);
    const [, , , held2] = await sink.waitFor(4);
    await retried!.settle({ kind: 'retry', delayMs: 60_000, attempt: 2 });
    await clock.advance(5_999);
    expect([acked, retried, held1, held2].map((d) => d!.signal.aborted)).toEqual([false, false, false, false]);
    await clock.advance(1);
    expect([acked, retried, held1, held2].map((d) => d!.signal.aborted)).toEqual([false, false, true, false]);
    await clock.advance(4_000);
    expect(held2!.signal.aborted).toBe(true);
    expect(held1!.signal.reason).toMatchObject({ code: 'SWITCHYARD_TRANSPORT', details: { reason: 'lease-lapsed' } });
    await transport.close();
  });

  it('moves a message that keeps failing to the DLQ through the redrive policy', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock });
    broker.createQueue('dlq');
    broker.createQueue('q', { maxReceiveCount: 3, deadLetterQueue: 'dlq' });
    const transport = new MemoryQueueTransport({ broker });
    await transport.start();
    const sink = new CollectingSink();
    await transport.subscribe(spec('q'), async (d) => {
      await d.settle({ kind: 'retry', delayMs: 1_000, attempt: d.attempt + 1 });
      await sink.sink(d);
    });
    await transport.publish('q', [outgoing('poison')]);
    for (let n = 1; n <= 3; n++) {
      await sink.waitFor(n);
      await clock.advance(1_000);
    }
    expect(sink.received.map((d) => d.attempt)).toEqual([1, 2, 3]);
    expect(broker.messages('q')).toEqual([]);
    expect(broker.messages('dlq').map((m) => [text(m.body), m.deadLetterSourceQueue])).toEqual([['poison', 'q']]);
    await transport.close();
  });

  it('receives no more than maxInFlight unsettled messages and stops receiving while the sink holds on', async () => {
    const { transport, broker } = await setup();
    const sink = new CollectingSink();
    await transport.subscribe(spec('jobs', { maxInFlight: 2 }), sink.sink);
    await transport.publish(
      'jobs',
      ['a', 'b', 'c'].map((b) => outgoing(b)),
    );
    const [a] = await sink.waitFor(2);
    await settle();
    expect(broker.depth('jobs')).toMatchObject({ visible: 1, inFlight: 2 });
    await a!.settle({ kind: 'ack' });
    await sink.waitFor(3);
    expect(sink.bodies).toEqual(['a', 'b', 'c']);
    await transport.close();
  });

  it('gives back received messages it never handed over when fetching stops', async () => {
    const { transport, broker } = await setup();
    const accepts: (() => void)[] = [];
    const sink: DeliverySink = () => new Promise<void>((resolve) => accepts.push(resolve));
    const sub = await transport.subscribe(spec('jobs'), sink);
    await transport.publish(
      'jobs',
      ['a', 'b', 'c'].map((b) => outgoing(b)),
    );
    while (accepts.length === 0) await settle(1);
    // One batch of three was received; only the first was handed over.
    expect(broker.depth('jobs').inFlight).toBe(3);
    await sub.stopFetching();
    expect(broker.depth('jobs')).toMatchObject({ visible: 2, inFlight: 1 });
    await sub.close();
  });

  it('keeps FIFO order: the ordering key is the group, one message of a group at a time', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock });
    broker.createQueue('pay.fifo');
    const transport = new MemoryQueueTransport({ broker, fifo: true });
    await transport.start();
    const sink = new CollectingSink();
    await transport.subscribe(spec('pay.fifo'), sink.sink);
    await transport.publish('pay.fifo', [
      outgoing('a1', { key: 'A' }),
      outgoing('a2', { key: 'A' }),
      outgoing('b1', { key: 'B' }),
    ]);
    const [a1, b1] = await sink.waitFor(2);
    expect([a1!.orderingKey, b1!.orderingKey]).toEqual(['pay.fifo/A', 'pay.fifo/B']);
    expect(a1!.message.source).toMatchObject({ groupId: 'A' });
    await settle();
    // a2 waits for a1.
    expect(sink.bodies).toEqual(['a1', 'b1']);
    await a1!.settle({ kind: 'ack' });
    const [, , a2] = await sink.waitFor(3);
    expect(text(a2!.message.body)).toBe('a2');
    expect(a2!.orderingKey).toBe('pay.fifo/A');
    await transport.close();
  });

  it('refuses per-group ordering on a standard queue, topics, fan-outs and replay positions', async () => {
    const broker = new MemoryBroker();
    broker.createQueue('std');
    broker.createTopic('t');
    broker.createFanout('f');
    const fifo = new MemoryQueueTransport({ broker, fifo: true });
    await fifo.start();
    const code = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: { code?: string }) => e.code,
      );
    expect(await code(fifo.subscribe(spec('std'), async () => {}))).toBe('SWITCHYARD_CAPABILITY');
    expect(await code(fifo.subscribe(spec('t'), async () => {}))).toBe('SWITCHYARD_CAPABILITY');
    expect(await code(fifo.subscribe(spec('f'), async () => {}))).toBe('SWITCHYARD_CAPABILITY');
    expect(await code(fifo.subscribe(spec('x.fifo', { startFrom: { offset: '1' } }), async () => {}))).toBe(
      'SWITCHYARD_CAPABILITY',
    );
    await fifo.close();
  });

  it('unwraps fan-out notification envelopes by default, or keeps them', async () => {
    const broker = new MemoryBroker();
    broker.createFanout('events');
    broker.createQueue('wrapped');
    broker.subscribe('events', 'wrapped', { raw: false });
    const transport = new MemoryQueueTransport({ broker });
    await transport.start();
    await transport.publish('events', [outgoing('{"a":1}', { headers: { 'sy-type': 'A' } })]);
    await transport.publish('events', [outgoing('{"a":2}', { headers: { 'sy-type': 'A' } })]);
    const unwrap = new CollectingSink();
    const sub = await transport.subscribe(spec('wrapped', { maxInFlight: 1 }), unwrap.sink);
    const d = await unwrap.next();
    expect(text(d.message.body)).toBe('{"a":1}');
    expect(d.message.headers).toEqual({ 'sy-type': 'A' });
    await sub.stopFetching();
    await d.settle({ kind: 'ack' });
    await sub.close();
    const keep = new CollectingSink();
    await transport.subscribe(spec('wrapped', { options: { fanoutEnvelope: 'keep' } }), keep.sink);
    const raw = await keep.next();
    expect(JSON.parse(text(raw.message.body))).toMatchObject({ Type: 'Notification', Message: '{"a":2}' });
    await transport.close();
  });

  it('reports depth figures to the observer at start and on every gauge interval', async () => {
    const { transport, broker, clock } = await setup();
    broker.send('jobs', [{ body: bytes('a') }, { body: bytes('b'), delayMs: 60_000 }]);
    await clock.advance(3_000);
    const observer = recordingObserver();
    const sub = await transport.subscribe(spec('jobs', { observer }), async () => {});
    expect(observer.depths).toEqual([
      { value: 1, destination: 'jobs', state: 'visible' },
      { value: 0, destination: 'jobs', state: 'in-flight' },
      { value: 1, destination: 'jobs', state: 'delayed' },
      { value: 3, destination: 'jobs', state: 'oldest-age-s' },
    ]);
    await settle();
    await clock.advance(5_000);
    expect(observer.depths.slice(4)).toEqual([
      { value: 0, destination: 'jobs', state: 'visible' },
      { value: 1, destination: 'jobs', state: 'in-flight' },
      { value: 1, destination: 'jobs', state: 'delayed' },
      { value: 8, destination: 'jobs', state: 'oldest-age-s' },
    ]);
    await sub.close();
    await transport.close();
  });

  it('pause stops receiving, resume carries on, close stops the loop', async () => {
    const { transport } = await setup();
    const sink = new CollectingSink({ autoAck: true });
    const sub = await transport.subscribe(spec('jobs'), sink.sink);
    sub.pause();
    await transport.publish('jobs', [outgoing('a')]);
    await settle();
    expect(sink.received).toHaveLength(0);
    sub.resume();
    await sink.waitFor(1);
    await sub.close();
    expect(sub.health()).toEqual({ ok: false, detail: 'closed' });
    await transport.publish('jobs', [outgoing('b')]);
    await settle();
    expect(sink.bodies).toEqual(['a']);
    await transport.close();
  });
});
