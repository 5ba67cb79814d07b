import { describe, expect, it } from 'vitest';
import { hasCode } from '../../src/errors.js';
import { MemoryBroker } from '../../src/memory/broker.js';
import { murmur2, partitionForKey } from '../../src/memory/partitioner.js';
import { FakeClock } from '../support/fake-clock.js';
import { bytes, text } from './helpers.js';

describe('topic log', () => {
  it("hashes keys with Kafka's murmur2, so a key lands on the partition a Kafka client would pick", () => {
    // Vectors from Kafka's own UtilsTest.
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) expect(murmur2(bytes(key))).toBe(hash);
    expect(partitionForKey('abc', 3)).toBe(479470107 % 3);
  });

  it('puts every record with the same key on the same partition, in append order', () => {
    const broker = new MemoryBroker();
    broker.createTopic('orders', { partitions: 6 });
    for (let i = 0; i < 5; i++)
      broker.append('orders', [
        { key: 'order-1', body: bytes(`a${i}`) },
        { key: 'order-2', body: bytes(`b${i}`) },
      ]);
    const byKey = (key: string) => broker.records('orders').filter((r) => r.key === key);
    expect(new Set(byKey('order-1').map((r) => r.partition)).size).toBe(1);
    expect(byKey('order-1')[0]!.partition).toBe(partitionForKey('order-1', 6));
    expect(byKey('order-1').map((r) => text(r.body))).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    expect(byKey('order-2').map((r) => text(r.body))).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
  });

  it('keeps its own copy of a Buffer body: the producer reusing its buffer changes nothing stored', () => {
    const broker = new MemoryBroker();
    broker.createTopic('orders', { partitions: 1 });
    const body = Buffer.from('order-1');
    broker.append('orders', [{ key: 'k', body }]);
    body.write('XXXXX');
    const [record] = broker.records('orders', 0);
    expect(text(record!.body!)).toBe('order-1');
  });

  it('spreads records without a key round-robin over the partitions', () => {
    const broker = new MemoryBroker();
    broker.createTopic('metrics', { partitions: 3 });
    const appended = broker.append(
      'metrics',
      Array.from({ length: 6 }, (_, i) => ({ body: bytes(String(i)) })),
    );
    expect(appended.map((r) => r.partition)).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('gives each partition its own offsets, increasing from 0, as decimal strings', () => {
    const broker = new MemoryBroker();
    broker.createTopic('t', { partitions: 2 });
    const appended = broker.append('t', [
      { body: bytes('x'), partition: 0 },
      { body: bytes('y'), partition: 0 },
      { body: bytes('z'), partition: 1 },
      { body: null, partition: 0 },
    ]);
    expect(appended.map((r) => [r.partition, r.offset])).toEqual([
      [0, '0'],
      [0, '1'],
      [1, '0'],
      [0, '2'],
    ]);
    expect(broker.offsets('t', 0)).toEqual({ start: '0', end: '3' });
    expect(broker.records('t', 0)[2]!.body).toBeNull();
  });

  it('stamps records with the producer timestamp when given, else the broker clock', () => {
    const clock = new FakeClock(1_000);
    const broker = new MemoryBroker({ clock });
    broker.createTopic('t', { partitions: 1 });
    const [a, b] = broker.append('t', [{ body: bytes('a') }, { body: bytes('b'), timestamp: 500 }]);
    expect(a!.timestamp).toBe(1_000);
    expect(b!.timestamp).toBe(500);
  });

  it('drops records older than retentionMs and advances the log start offset, never reusing offsets', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock });
    broker.createTopic('t', { partitions: 1, retentionMs: 60_000 });
    broker.append('t', [{ body: bytes('old-1') }, { body: bytes('old-2') }]);
    await clock.advance(30_000);
    broker.append('t', [{ body: bytes('new') }]);
    await clock.advance(30_000);
    expect(broker.records('t', 0).map((r) => text(r.body))).toEqual(['new']);
    expect(broker.offsets('t', 0)).toEqual({ start: '2', end: '3' });
    expect(broker.fetch('t', 0, '0')).toEqual([]);
    const [next] = broker.append('t', [{ body: bytes('newer') }]);
    expect(next!.offset).toBe('3');
  });

  it('keeps at most retentionMessages records per partition', () => {
    const broker = new MemoryBroker();
    broker.createTopic('t', { partitions: 1, retentionMessages: 2 });
    broker.append(
      't',
      ['a', 'b', 'c', 'd'].map((b) => ({ body: bytes(b) })),
    );
    expect(broker.records('t').map((r) => `${r.offset}:${text(r.body)}`)).toEqual(['2:c', '3:d']);
  });

  it('stays exact while a full log drops one record per append', () => {
    const broker = new MemoryBroker();
    broker.createTopic('t', { partitions: 1, retentionMessages: 3 });
    for (let i = 0; i < 40; i++) {
      broker.append('t', [{ body: bytes(String(i)), timestamp: 1_000 + i }]);
      const start = Math.max(0, i - 2);
      const kept = Array.from({ length: i - start + 1 }, (_, k) => String(start + k));
      expect(broker.offsets('t', 0)).toEqual({ start: String(start), end: String(i + 1) });
      expect(broker.fetch('t', 0, String(start)).map((r) => text(r.body))).toEqual(kept);
      expect(broker.fetch('t', 0, String(i)).map((r) => r.offset)).toEqual([String(i)]);
      if (start > 0) expect(broker.fetch('t', 0, String(start - 1))).toEqual([]);
      expect(broker.resolvePosition('t', 0, { timestamp: 1_000 + i })).toBe(i);
      expect(broker.resolvePosition('t', 0, { timestamp: 0 })).toBe(start);
      expect(broker.records('t', 0).map((r) => text(r.body))).toEqual(kept);
    }
  });

  it('finds the first offset at or after a timestamp, and the end when there is none', () => {
    const broker = new MemoryBroker();
    broker.createTopic('t', { partitions: 1 });
    broker.append(
      't',
      [100, 200, 300].map((timestamp) => ({ body: bytes(String(timestamp)), timestamp })),
    );
    expect(broker.resolvePosition('t', 0, { timestamp: 150 })).toBe(1);
    expect(broker.resolvePosition('t', 0, { timestamp: 200 })).toBe(1);
    expect(broker.resolvePosition('t', 0, { timestamp: 999 })).toBe(3);
    expect(broker.resolvePosition('t', 0, 'earliest')).toBe(0);
    expect(broker.resolvePosition('t', 0, 'latest')).toBe(3);
    expect(broker.resolvePosition('t', 0, { offset: '2' })).toBe(2);
  });

  it('refuses a record larger than maxMessageBytes, appending nothing of the batch', () => {
    const broker = new MemoryBroker({ maxMessageBytes: 10 });
    broker.createTopic('t', { partitions: 1 });
    let error: unknown;
    try {
      broker.append('t', [{ body: bytes('small') }, { body: bytes('much too large') }]);
    } catch (e) {
      error = e;
    }
    expect(hasCode(error, 'SWITCHYARD_MESSAGE_TOO_LARGE')).toBe(true);
    expect(broker.records('t')).toEqual([]);
  });

  it('keeps topic, queue and fan-out names in one namespace', () => {
    const broker = new MemoryBroker();
    expect(broker.createTopic('orders')).toBe(true);
    expect(broker.createTopic('orders')).toBe(false);
    expect(() => broker.createQueue('orders')).toThrow(/already a topic/);
    expect(() => broker.createTopic('x', { partitions: 0 })).toThrow(/createTopic.partitions/);
    expect(broker.kindOf('orders')).toBe('topic');
  });
});
