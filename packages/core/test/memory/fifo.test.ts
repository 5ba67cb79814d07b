import { describe, expect, it } from 'vitest';
import { hasCode } from '../../src/errors.js';
import { MemoryBroker } from '../../src/memory/broker.js';
import { FakeClock } from '../support/fake-clock.js';
import { bytes, text } from './helpers.js';

function setup() {
  const clock = new FakeClock();
  const broker = new MemoryBroker({ clock });
  broker.createQueue('orders.fifo', { visibilityTimeoutMs: 1_000 });
  const send = (groupId: string, body: string, deduplicationId = body) =>
    broker.send('orders.fifo', [{ body: bytes(body), groupId, deduplicationId }])[0]!;
  return { clock, broker, send };
}

describe('FIFO queue', () => {
  it('keeps one message in flight per group and delivers a group strictly in order', async () => {
    const { broker, send } = setup();
    send('A', 'a1');
    send('A', 'a2');
    send('A', 'a3');
    const [first] = await broker.receive('orders.fifo', { maxMessages: 10 });
    expect(text(first!.body)).toBe('a1');
    // a2 waits while a1 is in flight.
    expect(await broker.receive('orders.fifo', { maxMessages: 10 })).toEqual([]);
    broker.deleteMessage('orders.fifo', first!.receiptHandle);
    const [second] = await broker.receive('orders.fifo', { maxMessages: 10 });
    expect(text(second!.body)).toBe('a2');
    expect(second!.sequenceNumber! > first!.sequenceNumber!).toBe(true);
  });

  it('delivers different groups in parallel', async () => {
    const { broker, send } = setup();
    send('A', 'a1');
    send('A', 'a2');
    send('B', 'b1');
    send('C', 'c1');
    const batch = await broker.receive('orders.fifo', { maxMessages: 10 });
    expect(batch.map((m) => text(m.body))).toEqual(['a1', 'b1', 'c1']);
  });

  it('holds a group back until a retried head becomes visible again, so order survives a retry', async () => {
    const { clock, broker, send } = setup();
    send('A', 'a1');
    send('A', 'a2');
    const [head] = await broker.receive('orders.fifo');
    broker.changeVisibility('orders.fifo', head!.receiptHandle, 5_000);
    await clock.advance(4_999);
    expect(await broker.receive('orders.fifo')).toEqual([]);
    await clock.advance(1);
    const [again] = await broker.receive('orders.fifo');
    expect(text(again!.body)).toBe('a1');
    expect(again!.receiveCount).toBe(2);
  });

  it('drops a send whose deduplication id was seen within the window, and accepts it after', async () => {
    const { clock, broker, send } = setup();
    const first = send('A', 'pay', 'dedup-1');
    const duplicate = send('A', 'pay again', 'dedup-1');
    expect(duplicate).toEqual({ messageId: first.messageId, sequenceNumber: undefined, duplicate: true });
    expect(broker.messages('orders.fifo').map((m) => text(m.body))).toEqual(['pay']);
    // Deleting the original does not reopen the window.
    const [m] = await broker.receive('orders.fifo');
    broker.deleteMessage('orders.fifo', m!.receiptHandle);
    expect(send('A', 'still a duplicate', 'dedup-1').duplicate).toBe(true);
    await clock.advance(300_000);
    expect(send('A', 'new', 'dedup-1').duplicate).toBe(false);
  });

  it('deduplicates on the body hash with contentBasedDeduplication', () => {
    const broker = new MemoryBroker();
    broker.createQueue('c.fifo', { contentBasedDeduplication: true });
    const a = broker.send('c.fifo', [{ body: bytes('same'), groupId: 'g' }])[0]!;
    const b = broker.send('c.fifo', [{ body: bytes('same'), groupId: 'g' }])[0]!;
    const c = broker.send('c.fifo', [{ body: bytes('other'), groupId: 'g' }])[0]!;
    expect([a.duplicate, b.duplicate, c.duplicate]).toEqual([false, true, false]);
  });

  it('refuses a send without a group id or with a per-message delay', () => {
    const { broker } = setup();
    const attempt = (input: Parameters<MemoryBroker['send']>[1][number]) => {
      try {
        broker.send('orders.fifo', [input]);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(hasCode(attempt({ body: bytes('x'), deduplicationId: 'x' }), 'SWITCHYARD_PUBLISH')).toBe(true);
    expect(
      hasCode(attempt({ body: bytes('x'), groupId: 'g', deduplicationId: 'y', delayMs: 5 }), 'SWITCHYARD_PUBLISH'),
    ).toBe(true);
  });

  it('moves a group head past maxReceiveCount to the FIFO dead-letter queue and unblocks the group', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock });
    broker.createQueue('dlq.fifo');
    broker.createQueue('q.fifo', { visibilityTimeoutMs: 1_000, maxReceiveCount: 1, deadLetterQueue: 'dlq.fifo' });
    broker.send('q.fifo', [
      { body: bytes('poison'), groupId: 'A', deduplicationId: '1' },
      { body: bytes('next'), groupId: 'A', deduplicationId: '2' },
    ]);
    await broker.receive('q.fifo');
    await clock.advance(1_000);
    const [next] = await broker.receive('q.fifo');
    expect(text(next!.body)).toBe('next');
    expect(broker.messages('dlq.fifo').map((m) => [text(m.body), m.groupId])).toEqual([['poison', 'A']]);
  });
});
