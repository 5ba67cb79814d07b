import { describe, expect, it } from 'vitest';
import type { DeadLetterRecord } from '../../src/dead-letter.js';
import { readDeadLetterHeaders } from '../../src/dead-letter-headers.js';
import { hasCode } from '../../src/errors.js';
import { MemoryBroker } from '../../src/memory/broker.js';
import { MemoryLogTransport } from '../../src/memory/log-transport.js';
import type { Delivery, DeliverySink } from '../../src/ports/transport.js';
import { FakeClock, settle } from '../support/fake-clock.js';
import { bytes, CollectingSink, outgoing, recordingObserver, spec, text } from './helpers.js';

async function setup(partitions = 1) {
  const clock = new FakeClock();
  const broker = new MemoryBroker({ clock });
  broker.createTopic('t', { partitions });
  const transport = new MemoryLogTransport({ broker });
  await transport.start();
  return { clock, broker, transport };
}

function record(d: Delivery, fields: Partial<DeadLetterRecord> = {}): DeadLetterRecord {
  return {
    source: d.message.source,
    consumerGroup: 'g',
    messageId: 'msg-1',
    messageType: 'OrderPlaced',
    attempts: 3,
    firstFailureAt: Date.UTC(2025, 0, 1),
    lastFailureAt: Date.UTC(2025, 0, 1, 0, 1),
    reason: 'retries-exhausted',
    error: { className: 'TypeError', code: undefined, message: 'boom', stack: 'TypeError: boom\n    at x' },
    body: d.message.body,
    headers: d.message.headers,
    key: d.message.key,
    ...fields,
  };
}

describe('MemoryLogTransport', () => {
  it('declares log capabilities: partition order, groups, replay, retries in place', async () => {
    const { transport } = await setup();
    expect(transport.system).toBe('switchyard.memory');
    expect(transport.capabilities).toEqual({
      model: 'log',
      ordering: 'partition',
      consumerGroups: true,
      replay: true,
      delayedRetry: false,
      maxRetryDelayMs: 0,
      nativeRedrive: false,
      exactlyOnce: false,
      leaseMs: undefined,
    });
  });

  it('hands over records with their position, lower-cased headers, attempt 1 and a key-scoped ordering key', async () => {
    const { transport, broker } = await setup();
    const sink = new CollectingSink();
    await transport.subscribe(spec('t', { consumerGroup: 'g' }), sink.sink);
    await transport.publish('t', [outgoing('hello', { key: 'k1', headers: { 'Sy-Type': 'Greeting' }, timestamp: 42 })]);
    const d = await sink.next();
    expect(d.message).toEqual({
      body: bytes('hello'),
      key: 'k1',
      headers: { 'sy-type': 'Greeting' },
      timestamp: 42,
      source: { kind: 'log', topic: 't', partition: 0, offset: '0', consumerGroup: 'g' },
    });
    expect(d.attempt).toBe(1);
    expect(d.orderingKey).toBe('t/0/k1');
    expect(d.sizeBytes).toBe(5);
    await d.settle({ kind: 'ack' });
    expect(broker.committed('g', 't')).toEqual({ 0: '1' });
    await transport.close();
  });

  it('at-least-once: commits only after settlement', async () => {
    const { transport, broker } = await setup();
    const sink = new CollectingSink();
    await transport.subscribe(spec('t', { consumerGroup: 'g' }), sink.sink);
    await transport.publish('t', [outgoing('a')]);
    const d = await sink.next();
    expect(broker.committed('g', 't')).toEqual({});
    await d.settle({ kind: 'ack' });
    expect(broker.committed('g', 't')).toEqual({ 0: '1' });
    await transport.close();
  });

  it('at-most-once: commits before the record is handed over', async () => {
    const { transport, broker } = await setup();
    const committedAtHandover = new Promise<Record<number, string>>((resolve) => {
      void transport.subscribe(spec('t', { consumerGroup: 'g', semantics: 'at-most-once' }), async () => {
        resolve(broker.committed('g', 't'));
      });
    });
    await transport.publish('t', [outgoing('a')]);
    expect(await committedAtHandover).toEqual({ 0: '1' });
    await transport.close();
  });

  it('at-most-once: commits records already in the log before handing them over, from the first fetch', async () => {
    const { transport, broker } = await setup();
    await transport.publish('t', [outgoing('a'), outgoing('b')]);
    const seen: Record<number, string>[] = [];
    const sink = new CollectingSink();
    await transport.subscribe(spec('t', { consumerGroup: 'g', semantics: 'at-most-once' }), async (d) => {
      seen.push(broker.committed('g', 't'));
      await sink.sink(d);
    });
    await sink.waitFor(2);
    expect(seen).toEqual([{ 0: '1' }, { 0: '2' }]);
    await transport.close();
  });

  it('leaves a released record uncommitted, so the next owner gets it again', async () => {
    const { transport, broker } = await setup();
    const sink = new CollectingSink();
    const sub = await transport.subscribe(spec('t', { consumerGroup: 'g' }), sink.sink);
    await transport.publish('t', [outgoing('a'), outgoing('b')]);
    const [a, b] = await sink.waitFor(2);
    await a!.settle({ kind: 'release' });
    await b!.settle({ kind: 'ack' });
    // The watermark holds at the released record: nothing past offset 0 is committed.
    expect(Number(broker.committed('g', 't')[0] ?? '0')).toBe(0);
    await sub.close();
    const again = new CollectingSink();
    await transport.subscribe(spec('t', { consumerGroup: 'g' }), again.sink);
    expect(text((await again.next()).message.body)).toBe('a');
    await transport.close();
  });

  it('writes a dead letter (original body and headers, record in sy-dlq-* headers), then commits past it', async () => {
    const { transport, broker } = await setup();
    const sink = new CollectingSink();
    await transport.subscribe(spec('t', { consumerGroup: 'g' }), sink.sink);
    await transport.publish('t', [outgoing('poison', { key: 'k', headers: { 'x-trace': 'abc' } })]);
    const d = await sink.next();
    await d.settle({ kind: 'dead-letter', record: record(d), destination: 't.DLT' });
    expect(broker.kindOf('t.DLT')).toBe('topic');
    const [dead] = broker.records('t.DLT');
    expect(text(dead!.body)).toBe('poison');
    expect(dead!.key).toBe('k');
    expect(dead!.headers['x-trace']).toBe('abc');
    expect(readDeadLetterHeaders(dead!.headers)).toMatchObject({
      reason: 'retries-exhausted',
      source: { kind: 'log', topic: 't', partition: 0, offset: '0', consumerGroup: 'g' },
      attempts: 3,
      error: { className: 'TypeError', message: 'boom' },
    });
    expect(broker.committed('g', 't')).toEqual({ 0: '1' });
    await transport.close();
  });

  it('keeps the offset uncommitted and the delivery open when the dead-letter write fails', async () => {
    const { transport, broker } = await setup();
    broker.createQueue('dead-letters');
    broker.createFanout('broken-dlq');
    broker.subscribe('broken-dlq', 'dead-letters', {
      filter: () => {
        throw new Error('filter bug');
      },
    });
    broker.createQueue('dlq.fifo');
    const sink = new CollectingSink();
    await transport.subscribe(spec('t', { consumerGroup: 'g' }), sink.sink);
    await transport.publish('t', [outgoing('poison')]);
    const d = await sink.next();
    await expect(d.settle({ kind: 'dead-letter', record: record(d), destination: 'broken-dlq' })).rejects.toSatisfy(
      (e: unknown) => hasCode(e, 'SWITCHYARD_DEAD_LETTER_PUBLISH'),
    );
    expect(broker.committed('g', 't')).toEqual({});
    // Still open: core can settle it again, here to a working FIFO DLQ (no key: the group is a default).
    await d.settle({ kind: 'dead-letter', record: record(d), destination: 'dlq.fifo' });
    expect(broker.messages('dlq.fifo').map((m) => [text(m.body), m.groupId])).toEqual([['poison', 'dead-letters']]);
    expect(broker.committed('g', 't')).toEqual({ 0: '1' });
    await transport.close();
  });

  it('refuses a retry settlement (no delayed retry) and a second settlement', async () => {
    const { transport } = await setup();
    const sink = new CollectingSink();
    await transport.subscribe(spec('t', { consumerGroup: 'g' }), sink.sink);
    await transport.publish('t', [outgoing('a')]);
    const d = await sink.next();
    await expect(d.settle({ kind: 'retry', delayMs: 10, attempt: 2 })).rejects.toSatisfy((e: unknown) =>
      hasCode(e, 'SWITCHYARD_CAPABILITY'),
    );
    await d.settle({ kind: 'ack' });
    await expect(d.settle({ kind: 'ack' })).rejects.toThrow(/already settled/);
    await transport.close();
  });

  it('stops fetching while the sink has not accepted a delivery (backpressure)', async () => {
    const { transport } = await setup();
    const accepts: (() => void)[] = [];
    const collected = new CollectingSink();
    // Records each delivery, then holds on to it until the test accepts it.
    const sink: DeliverySink = async (d) => {
      await collected.sink(d);
      await new Promise<void>((resolve) => accepts.push(resolve));
    };
    const sub = await transport.subscribe(spec('t', { consumerGroup: 'g' }), sink);
    await transport.publish(
      't',
      ['a', 'b', 'c'].map((b) => outgoing(b)),
    );
    await collected.waitFor(1);
    await settle();
    // Nothing more while the sink holds on: the partition's loop is parked on it.
    expect(collected.bodies).toEqual(['a']);
    accepts[0]!();
    await collected.waitFor(2);
    // stopFetching resolves even though the sink still holds 'b'.
    await sub.stopFetching();
    accepts[1]!();
    await settle();
    expect(collected.bodies).toEqual(['a', 'b']);
    await sub.close();
  });

  it('hands over no more than maxInFlight unsettled records', async () => {
    const { transport } = await setup();
    const sink = new CollectingSink();
    await transport.subscribe(spec('t', { consumerGroup: 'g', maxInFlight: 2 }), sink.sink);
    await transport.publish(
      't',
      ['a', 'b', 'c'].map((b) => outgoing(b)),
    );
    const [a] = await sink.waitFor(2);
    await settle();
    expect(sink.received).toHaveLength(2);
    await a!.settle({ kind: 'ack' });
    await sink.waitFor(3);
    expect(sink.bodies).toEqual(['a', 'b', 'c']);
    await transport.close();
  });

  it('hands nothing over while paused, and carries on after resume', async () => {
    const { transport } = await setup();
    const sink = new CollectingSink({ autoAck: true });
    const sub = await transport.subscribe(spec('t', { consumerGroup: 'g' }), sink.sink);
    await transport.publish('t', [outgoing('a')]);
    await sink.waitFor(1);
    sub.pause();
    expect(sub.health().detail).toMatch(/^paused/);
    await transport.publish('t', [outgoing('b')]);
    await settle();
    expect(sink.bodies).toEqual(['a']);
    sub.resume();
    await sink.waitFor(2);
    expect(sink.bodies).toEqual(['a', 'b']);
    await transport.close();
  });

  it('close commits what is finished, aborts what is not, and hands the partitions to the rest of the group', async () => {
    const { transport, broker } = await setup(2);
    const first = new CollectingSink();
    const a = await transport.subscribe(spec('t', { consumerGroup: 'g' }), first.sink);
    const second = new CollectingSink();
    broker.append('t', [
      { body: bytes('p0'), partition: 0 },
      { body: bytes('p1'), partition: 1 },
    ]);
    const [x, y] = await first.waitFor(2);
    await x!.settle({ kind: 'ack' });
    await a.close();
    expect(y!.signal.aborted).toBe(true);
    expect(a.health()).toEqual({ ok: false, detail: 'closed' });
    const b = await transport.subscribe(spec('t', { consumerGroup: 'g' }), second.sink);
    expect(text((await second.next()).message.body)).toBe(text(y!.message.body));
    await b.close();
  });

  it('reports lag to the observer on commit and on every gauge interval', async () => {
    const { transport, clock } = await setup();
    const observer = recordingObserver();
    const sink = new CollectingSink();
    await transport.subscribe(spec('t', { consumerGroup: 'g', observer }), sink.sink);
    expect(observer.lags).toEqual([{ value: 0, destination: 't', partition: 0 }]);
    await transport.publish('t', [outgoing('a'), outgoing('b')]);
    const d = await sink.next();
    await d.settle({ kind: 'ack' });
    expect(observer.lags.at(-1)).toEqual({ value: 1, destination: 't', partition: 0 });
    await clock.advance(5_000);
    expect(observer.lags).toHaveLength(3);
    await transport.close();
  });

  it('refuses to work before start and after close, exactly-once, and queues', async () => {
    const broker = new MemoryBroker();
    broker.createQueue('q');
    const transport = new MemoryLogTransport({ broker });
    const code = async (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: { code?: string }) => e.code,
      );
    expect(await code(transport.publish('t', [outgoing('a')]))).toBe('SWITCHYARD_NOT_STARTED');
    await transport.start();
    expect(await code(transport.subscribe(spec('t', { semantics: 'exactly-once' }), async () => {}))).toBe(
      'SWITCHYARD_CAPABILITY',
    );
    expect(await code(transport.subscribe(spec('q'), async () => {}))).toBe('SWITCHYARD_CAPABILITY');
    expect(await code(transport.subscribe(spec('t', { options: { nope: 1 } }), async () => {}))).toBe(
      'SWITCHYARD_INVALID_OPTION',
    );
    await transport.close();
    await transport.close();
    expect(await code(transport.publish('t', [outgoing('a')]))).toBe('SWITCHYARD_SHUTDOWN');
    expect(transport.health()).toEqual({ ok: false, detail: 'closed' });
  });

  it('creates a topic on first publish or subscribe, with the configured partition count', async () => {
    const broker = new MemoryBroker();
    const transport = new MemoryLogTransport({ broker, autoCreatePartitions: 4 });
    await transport.start();
    await transport.publish('fresh', [outgoing('a')]);
    expect(broker.partitionCount('fresh')).toBe(4);
    const strict = new MemoryLogTransport({ broker, autoCreate: false });
    await strict.start();
    await expect(strict.publish('missing', [outgoing('a')])).rejects.toThrow(/no topic, queue or fan-out/);
    await transport.close();
    await strict.close();
  });
});
