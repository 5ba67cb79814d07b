import { describe, expect, it } from 'vitest';
import { hasCode } from '../../src/errors.js';
import { MemoryBroker } from '../../src/memory/broker.js';
import { assignPartitions } from '../../src/memory/consumer-group.js';
import { MemoryLogTransport } from '../../src/memory/log-transport.js';
import type { StartPosition } from '../../src/ports/transport.js';
import { bytes, CollectingSink, outgoing, spec, text } from './helpers.js';

async function started(broker: MemoryBroker) {
  const transport = new MemoryLogTransport({ broker });
  await transport.start();
  return transport;
}

function appendKeyed(broker: MemoryBroker, topic: string, count: number, partitions: number) {
  // One record per partition per round, so every partition has work.
  for (let i = 0; i < count; i++) broker.append(topic, [{ body: bytes(`r${i}`), partition: i % partitions }]);
}

describe('consumer groups', () => {
  it('assigns partitions by range (contiguous, first members take the extra) or round-robin', () => {
    expect([...assignPartitions('range', ['a', 'b'], 5)]).toEqual([
      ['a', [0, 1, 2]],
      ['b', [3, 4]],
    ]);
    expect([...assignPartitions('round-robin', ['a', 'b'], 5)]).toEqual([
      ['a', [0, 2, 4]],
      ['b', [1, 3]],
    ]);
    expect([...assignPartitions('range', ['a', 'b', 'c'], 2)]).toEqual([
      ['a', [0]],
      ['b', [1]],
      ['c', []],
    ]);
  });

  it('gives every record to each of two groups (fan-out), and to one member within a group', async () => {
    const broker = new MemoryBroker();
    broker.createTopic('orders', { partitions: 2 });
    const transport = await started(broker);
    const billing = new CollectingSink({ autoAck: true });
    const shipping = new CollectingSink({ autoAck: true });
    await transport.subscribe(spec('orders', { consumerGroup: 'billing' }), billing.sink);
    await transport.subscribe(spec('orders', { consumerGroup: 'shipping' }), shipping.sink);
    await transport.publish(
      'orders',
      ['a', 'b', 'c', 'd'].map((b) => outgoing(b, { key: b })),
    );
    await billing.waitFor(4);
    await shipping.waitFor(4);
    expect(billing.bodies.sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(shipping.bodies.sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(broker.lag('billing', 'orders').map((p) => p.lag)).toEqual([0, 0]);
    await transport.close();
  });

  it('rebalances when a member joins: revoked in-flight work is aborted, not committed, and redelivered', async () => {
    const broker = new MemoryBroker();
    broker.createTopic('t', { partitions: 2 });
    appendKeyed(broker, 't', 4, 2); // p0: r0 r2, p1: r1 r3
    const transport = await started(broker);
    const first = new CollectingSink();
    const a = await transport.subscribe(spec('t', { consumerGroup: 'g' }), first.sink);
    // Member A owns both partitions and takes the head of each.
    const heads = await first.waitFor(4);
    const p1Deliveries = heads.filter((d) => d.message.source.kind === 'log' && d.message.source.partition === 1);
    expect(p1Deliveries).toHaveLength(2);
    // A finishes r1 on partition 1 but not r3.
    const [r1, r3] = p1Deliveries;
    await r1!.settle({ kind: 'ack' });
    expect(broker.committed('g', 't')).toEqual({ 1: '1' });

    const second = new CollectingSink();
    await transport.subscribe(spec('t', { consumerGroup: 'g' }), second.sink);
    // Range: A keeps 0, B gets 1. A's unfinished r3 is aborted and B redelivers it.
    expect((a as unknown as { assignment(): number[] }).assignment()).toEqual([0]);
    expect(r3!.signal.aborted).toBe(true);
    const redelivered = await second.next();
    expect(text(redelivered.message.body)).toBe('r3');
    await expect(r3!.settle({ kind: 'ack' })).rejects.toThrow(/revoked/);
    expect(broker.committed('g', 't')[1]).toBe('1');
    await redelivered.settle({ kind: 'ack' });
    expect(broker.committed('g', 't')[1]).toBe('2');
    await transport.close();
  });

  it('rebalances when a member leaves: its partitions go to the rest and nothing is lost', async () => {
    const broker = new MemoryBroker();
    broker.createTopic('t', { partitions: 4 });
    const transport = await started(broker);
    const sinkA = new CollectingSink({ autoAck: true });
    const sinkB = new CollectingSink({ autoAck: true });
    const a = await transport.subscribe(spec('t', { consumerGroup: 'g' }), sinkA.sink);
    const b = await transport.subscribe(spec('t', { consumerGroup: 'g' }), sinkB.sink);
    appendKeyed(broker, 't', 8, 4);
    // Range over 4 partitions: a has 0-1, b has 2-3, two records each.
    await sinkA.waitFor(4);
    await sinkB.waitFor(4);
    await b.close();
    expect(broker.groupMembers('g', 't')).toEqual([{ memberId: expect.any(String), partitions: [0, 1, 2, 3] }]);
    for (let i = 8; i < 16; i++) broker.append('t', [{ body: bytes(`r${i}`), partition: i % 4 }]);
    await sinkA.waitFor(12);
    expect([...sinkA.bodies, ...sinkB.bodies].sort()).toEqual(Array.from({ length: 16 }, (_, i) => `r${i}`).sort());
    expect(sinkA.bodies.slice(4).sort()).toEqual(['r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'r8', 'r9']);
    expect(broker.lag('g', 't').every((p) => p.lag === 0)).toBe(true);
    await a.close();
  });

  it('resumes from the committed watermark after a restart, never past an unfinished record', async () => {
    const broker = new MemoryBroker();
    broker.createTopic('t', { partitions: 1 });
    appendKeyed(broker, 't', 4, 1);
    const transport = await started(broker);
    const sink = new CollectingSink();
    const sub = await transport.subscribe(spec('t', { consumerGroup: 'g' }), sink.sink);
    const [r0, , r2] = await sink.waitFor(3);
    // Finished out of order: r0 and r2 done, r1 still running.
    await r0!.settle({ kind: 'ack' });
    await r2!.settle({ kind: 'ack' });
    expect(broker.committed('g', 't')).toEqual({ 0: '1' });
    await sub.stopFetching();
    await sub.close();
    // A new member of the same group starts at the watermark: r1 again, then r2 (a duplicate), r3.
    const again = new CollectingSink();
    const restarted = await transport.subscribe(spec('t', { consumerGroup: 'g' }), again.sink);
    const redelivered = await again.waitFor(3);
    expect(redelivered.map((d) => text(d.message.body))).toEqual(['r1', 'r2', 'r3']);
    await restarted.close();
  });

  it('starts a new group from latest, earliest, an offset or a timestamp', async () => {
    const broker = new MemoryBroker();
    broker.createTopic('t', { partitions: 1 });
    broker.append(
      't',
      [100, 200, 300].map((timestamp) => ({ body: bytes(`at${timestamp}`), timestamp })),
    );
    const transport = await started(broker);
    const firstOf = async (group: string, startFrom: StartPosition) => {
      const sink = new CollectingSink();
      const sub = await transport.subscribe(spec('t', { consumerGroup: group, startFrom }), sink.sink);
      const d = await sink.next();
      await sub.close();
      return text(d.message.body);
    };
    expect(await firstOf('g1', 'earliest')).toBe('at100');
    expect(await firstOf('g2', { offset: '1' })).toBe('at200');
    expect(await firstOf('g3', { timestamp: 250 })).toBe('at300');
    const latest = new CollectingSink();
    const sub = await transport.subscribe(spec('t', { consumerGroup: 'g4', startFrom: 'latest' }), latest.sink);
    broker.append('t', [{ body: bytes('new') }]);
    expect(text((await latest.next()).message.body)).toBe('new');
    await sub.close();
  });

  it('replays an inactive group from an offset or a timestamp, and refuses while it has members', async () => {
    const broker = new MemoryBroker();
    broker.createTopic('t', { partitions: 1 });
    broker.append(
      't',
      [100, 200, 300].map((timestamp) => ({ body: bytes(`at${timestamp}`), timestamp })),
    );
    const transport = await started(broker);
    const done = new CollectingSink({ autoAck: true });
    const sub = await transport.subscribe(spec('t', { consumerGroup: 'g' }), done.sink);
    await done.waitFor(3);
    let refused: unknown;
    try {
      broker.resetGroup('g', 't', { to: 'earliest' });
    } catch (error) {
      refused = error;
    }
    expect(hasCode(refused, 'SWITCHYARD_TRANSPORT')).toBe(true);
    await sub.close();

    expect(broker.resetGroup('g', 't', { to: { offset: '1' } })).toEqual({ 0: '1' });
    const replay = await transport.subscribe(spec('t', { consumerGroup: 'g' }), done.sink);
    await done.waitFor(5);
    expect(done.bodies.slice(3)).toEqual(['at200', 'at300']);
    await replay.close();

    expect(broker.resetGroup('g', 't', { to: { timestamp: 300 } })).toEqual({ 0: '2' });
    expect(broker.resetGroup('g', 't', { to: 'latest' })).toEqual({ 0: '3' });
  });

  it('reports lag per partition: log end offset minus committed offset', () => {
    const broker = new MemoryBroker();
    broker.createTopic('t', { partitions: 2 });
    broker.append('t', [
      { body: bytes('a'), partition: 0 },
      { body: bytes('b'), partition: 0 },
      { body: bytes('c'), partition: 0 },
      { body: bytes('d'), partition: 1 },
    ]);
    broker.commitOffset('g', 't', 0, '1');
    expect(broker.lag('g', 't')).toEqual([
      { partition: 0, logStartOffset: '0', logEndOffset: '3', committedOffset: '1', lag: 2 },
      { partition: 1, logStartOffset: '0', logEndOffset: '1', committedOffset: undefined, lag: 1 },
    ]);
  });

  it('fences commits: only the member owning a partition may commit it', () => {
    const broker = new MemoryBroker();
    broker.createTopic('t', { partitions: 2 });
    const noop = { onAssign: () => {}, onRevoke: () => {} };
    const a = broker.joinGroup('g', 't', { listener: noop });
    const b = broker.joinGroup('g', 't', { listener: noop });
    expect([a.assignment(), b.assignment()]).toEqual([[0], [1]]);
    expect(() => broker.commitOffset('g', 't', 1, '5', a.memberId)).toThrow(/does not own/);
    expect(() => broker.commitOffset('g', 't', 1, '5')).toThrow(/active members/);
    broker.commitOffset('g', 't', 1, '5', b.memberId);
    expect(broker.committed('g', 't')).toEqual({ 1: '5' });
    expect(() => broker.joinGroup('g', 't', { assignor: 'round-robin', listener: noop })).toThrow(/same assignor/);
  });
});
