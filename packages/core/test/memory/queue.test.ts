import { describe, expect, it } from 'vitest';
import { hasCode, isSwitchyardError } from '../../src/errors.js';
import { MemoryBroker } from '../../src/memory/broker.js';
import { FakeClock } from '../support/fake-clock.js';
import { bytes, text } from './helpers.js';

function setup(options: Parameters<MemoryBroker['createQueue']>[1] = {}) {
  const clock = new FakeClock();
  const broker = new MemoryBroker({ clock });
  broker.createQueue('jobs', options);
  return { clock, broker };
}

describe('queue', () => {
  it('hides a received message for the visibility timeout, then redelivers it with receiveCount + 1', async () => {
    const { clock, broker } = setup({ visibilityTimeoutMs: 30_000 });
    broker.send('jobs', [{ body: bytes('job') }]);
    const [first] = await broker.receive('jobs');
    expect(first!.receiveCount).toBe(1);
    expect(await broker.receive('jobs')).toEqual([]);
    expect(broker.depth('jobs')).toMatchObject({ visible: 0, inFlight: 1 });
    await clock.advance(29_999);
    expect(await broker.receive('jobs')).toEqual([]);
    await clock.advance(1);
    const [second] = await broker.receive('jobs');
    expect(second!.messageId).toBe(first!.messageId);
    expect(second!.receiveCount).toBe(2);
    expect(second!.receiptHandle).not.toBe(first!.receiptHandle);
    expect(second!.firstReceivedAt).toBe(first!.firstReceivedAt);
  });

  it('keeps its own copy of a Buffer body: the sender reusing its buffer changes nothing stored', async () => {
    const { broker } = setup();
    const body = Buffer.from('job-1');
    broker.send('jobs', [{ body }]);
    body.write('XXX');
    const [received] = await broker.receive('jobs');
    expect(text(received!.body)).toBe('job-1');
  });

  it('deletes a message only with its current receipt handle', async () => {
    const { clock, broker } = setup({ visibilityTimeoutMs: 1_000 });
    broker.send('jobs', [{ body: bytes('job') }]);
    const [first] = await broker.receive('jobs');
    await clock.advance(1_000);
    const [second] = await broker.receive('jobs');
    expect(broker.deleteMessage('jobs', first!.receiptHandle)).toBe(false);
    expect(broker.messages('jobs')).toHaveLength(1);
    expect(broker.deleteMessage('jobs', second!.receiptHandle)).toBe(true);
    expect(broker.messages('jobs')).toHaveLength(0);
  });

  it('still deletes with a lapsed handle when no one has received the message since, as SQS does', async () => {
    const { clock, broker } = setup({ visibilityTimeoutMs: 1_000 });
    broker.send('jobs', [{ body: bytes('job') }]);
    const [m] = await broker.receive('jobs');
    await clock.advance(5_000);
    expect(broker.deleteMessage('jobs', m!.receiptHandle)).toBe(true);
  });

  it('changes visibility: longer keeps it hidden, 0 makes it visible at once', async () => {
    const { clock, broker } = setup({ visibilityTimeoutMs: 1_000 });
    broker.send('jobs', [{ body: bytes('job') }]);
    const [m] = await broker.receive('jobs');
    expect(broker.changeVisibility('jobs', m!.receiptHandle, 10_000)).toBe(true);
    await clock.advance(5_000);
    expect(await broker.receive('jobs')).toEqual([]);
    const still = broker.messages('jobs')[0]!;
    expect(still.state).toBe('in-flight');
    expect(broker.changeVisibility('jobs', m!.receiptHandle, 0)).toBe(true);
    const [again] = await broker.receive('jobs');
    expect(again!.receiveCount).toBe(2);
    // The first handle is stale now.
    expect(broker.changeVisibility('jobs', m!.receiptHandle, 5_000)).toBe(false);
  });

  it('refuses to change the visibility of a message that is no longer in flight', async () => {
    const { clock, broker } = setup({ visibilityTimeoutMs: 1_000 });
    broker.send('jobs', [{ body: bytes('job') }]);
    const [m] = await broker.receive('jobs');
    await clock.advance(1_000);
    expect(broker.changeVisibility('jobs', m!.receiptHandle, 5_000)).toBe(false);
  });

  it('holds a delayed message back until its delay passes (per message and per queue)', async () => {
    const { clock, broker } = setup({ delayMs: 10_000 });
    broker.send('jobs', [{ body: bytes('queue-delay') }, { body: bytes('own-delay'), delayMs: 2_000 }]);
    expect(broker.depth('jobs')).toMatchObject({ visible: 0, delayed: 2 });
    await clock.advance(2_000);
    expect((await broker.receive('jobs', { maxMessages: 10 })).map((m) => text(m.body))).toEqual(['own-delay']);
    await clock.advance(8_000);
    expect((await broker.receive('jobs', { maxMessages: 10 })).map((m) => text(m.body))).toEqual(['queue-delay']);
  });

  it('long-polls: a waiting receive returns as soon as a message is sent', async () => {
    const { broker } = setup();
    const waiting = broker.receive('jobs', { waitTimeMs: 20_000 });
    broker.send('jobs', [{ body: bytes('late') }]);
    expect((await waiting).map((m) => text(m.body))).toEqual(['late']);
  });

  it('long-polls: a waiting receive returns a delayed message when its delay passes', async () => {
    const { clock, broker } = setup();
    broker.send('jobs', [{ body: bytes('later'), delayMs: 5_000 }]);
    const waiting = broker.receive('jobs', { waitTimeMs: 20_000 });
    await clock.advance(5_000);
    expect((await waiting).map((m) => text(m.body))).toEqual(['later']);
  });

  it('long-polls: returns empty when the wait time passes, or at once when aborted', async () => {
    const { clock, broker } = setup();
    let result: unknown;
    const waiting = broker.receive('jobs', { waitTimeMs: 20_000 }).then((r) => {
      result = r;
    });
    await clock.advance(19_999);
    expect(result).toBeUndefined();
    await clock.advance(1);
    await waiting;
    expect(result).toEqual([]);
    const abort = new AbortController();
    const aborted = broker.receive('jobs', { waitTimeMs: 20_000, signal: abort.signal });
    abort.abort();
    expect(await aborted).toEqual([]);
  });

  it('moves a message to the dead-letter queue instead of a receive past maxReceiveCount', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock });
    broker.createQueue('jobs-dlq');
    broker.createQueue('jobs', { visibilityTimeoutMs: 1_000, maxReceiveCount: 2, deadLetterQueue: 'jobs-dlq' });
    const [sent] = broker.send('jobs', [{ body: bytes('poison'), headers: { a: '1' } }]);
    expect((await broker.receive('jobs'))[0]!.receiveCount).toBe(1);
    await clock.advance(1_000);
    expect((await broker.receive('jobs'))[0]!.receiveCount).toBe(2);
    await clock.advance(1_000);
    expect(await broker.receive('jobs')).toEqual([]);
    expect(broker.messages('jobs')).toEqual([]);
    const [moved] = broker.messages('jobs-dlq');
    expect(moved).toMatchObject({
      messageId: sent!.messageId,
      deadLetterSourceQueue: 'jobs',
      receiveCount: 0,
      state: 'visible',
      headers: { a: '1' },
    });
    expect(text(moved!.body)).toBe('poison');
  });

  it('reports visible, in-flight and delayed counts and the age of the oldest message', async () => {
    const { clock, broker } = setup();
    broker.send('jobs', [{ body: bytes('a') }, { body: bytes('b') }]);
    await clock.advance(4_000);
    broker.send('jobs', [{ body: bytes('c'), delayMs: 60_000 }]);
    await broker.receive('jobs');
    expect(broker.depth('jobs')).toEqual({ visible: 1, inFlight: 1, delayed: 1, oldestAgeMs: 4_000 });
  });

  it('drops messages older than the retention period', async () => {
    const { clock, broker } = setup({ retentionMs: 60_000 });
    broker.send('jobs', [{ body: bytes('old') }]);
    await clock.advance(30_000);
    broker.send('jobs', [{ body: bytes('young') }]);
    await clock.advance(30_000);
    expect(broker.messages('jobs').map((m) => text(m.body))).toEqual(['young']);
    expect((await broker.receive('jobs', { maxMessages: 10 })).map((m) => text(m.body))).toEqual(['young']);
  });

  it('enforces the SQS limits: 10 per receive, 15 minutes of delay, 12 hours of visibility', async () => {
    const { broker } = setup();
    await expect(broker.receive('jobs', { maxMessages: 11 })).rejects.toThrow(/receive.maxMessages/);
    let error: unknown;
    try {
      broker.send('jobs', [{ body: bytes('x'), delayMs: 900_001 }]);
    } catch (e) {
      error = e;
    }
    expect(hasCode(error, 'SWITCHYARD_PUBLISH')).toBe(true);
    broker.send('jobs', [{ body: bytes('x') }]);
    const [m] = await broker.receive('jobs');
    expect(() => broker.changeVisibility('jobs', m!.receiptHandle, 43_200_001)).toThrow(/12 hours/);
  });

  it('validates a redrive policy at creation', () => {
    const broker = new MemoryBroker();
    expect(() => broker.createQueue('a', { maxReceiveCount: 3 })).toThrow(/both maxReceiveCount and deadLetterQueue/);
    expect(() => broker.createQueue('a', { maxReceiveCount: 3, deadLetterQueue: 'missing' })).toThrow(
      /create the dead-letter queue first/,
    );
    broker.createQueue('dlq');
    expect(() => broker.createQueue('a.fifo', { fifo: true, maxReceiveCount: 3, deadLetterQueue: 'dlq' })).toThrow(
      /FIFO dead-letter queue/,
    );
    expect(() => broker.createQueue('b', { fifo: true })).toThrow(/'.fifo' suffix/);
    let error: unknown;
    try {
      broker.createQueue('c', { visibilityTimeoutMs: -1 });
    } catch (e) {
      error = e;
    }
    expect(isSwitchyardError(error) && error.code).toBe('SWITCHYARD_INVALID_OPTION');
  });
});
