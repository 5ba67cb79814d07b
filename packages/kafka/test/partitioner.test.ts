// Keyed records must land on the partition a Java client picks for the same key, or consumers
// that rely on co-partitioning (and Kafka Streams joins) break when services mix languages.
// The vectors below were printed by Kafka's own client (kafka-clients 4.1.1):
//   Utils.murmur2(key.getBytes(UTF_8)) and Utils.toPositive(hash) % n.

import { partitionForKey } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { compositeKey, KafkaHeaders, KafkajsDriver, KeySequencer } from '../src/index.js';

const JAVA_VECTORS: ReadonlyArray<{ key: string; murmur2: number; mod3: number; mod12: number; mod100: number }> = [
  { key: '21', murmur2: -973932308, mod3: 0, mod12: 0, mod100: 40 },
  { key: 'foobar', murmur2: -790332482, mod3: 0, mod12: 6, mod100: 66 },
  { key: 'a-little-bit-long-string', murmur2: -985981536, mod3: 2, mod12: 8, mod100: 12 },
  { key: 'a-little-bit-longer-string', murmur2: -1486304829, mod3: 2, mod12: 11, mod100: 19 },
  { key: 'lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', murmur2: -58897971, mod3: 2, mod12: 5, mod100: 77 },
  { key: 'abc', murmur2: 479470107, mod3: 0, mod12: 3, mod100: 7 },
  { key: 'key', murmur2: -1079937367, mod3: 1, mod12: 1, mod100: 81 },
  { key: 'order-42', murmur2: 501153024, mod3: 0, mod12: 0, mod100: 24 },
  { key: 'tenant-7:3', murmur2: 1885327143, mod3: 0, mod12: 3, mod100: 43 },
  { key: '', murmur2: 275646681, mod3: 0, mod12: 9, mod100: 81 },
  { key: 'é漢字🙂', murmur2: -1409108281, mod3: 1, mod12: 7, mod100: 67 },
];

describe('Java-compatible partitioning', () => {
  const driver = new KafkajsDriver({
    brokers: ['127.0.0.1:1'],
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });

  it.each(JAVA_VECTORS)('kafkajs puts $key where the Java client does', ({ key, mod3, mod12, mod100 }) => {
    expect([driver.partitionForKey(key, 3), driver.partitionForKey(key, 12), driver.partitionForKey(key, 100)]).toEqual(
      [mod3, mod12, mod100],
    );
    expect(driver.partitionForKey(Buffer.from(key), 12)).toBe(mod12);
  });

  it.each(JAVA_VECTORS)('the murmur2 behind compositeKey agrees with Java for $key', ({ key, murmur2, mod12 }) => {
    expect(partitionForKey(key, 12)).toBe(mod12);
    expect((murmur2 & 0x7fffffff) % 12).toBe(mod12);
  });
});

describe('compositeKey', () => {
  it('spreads a tenant over buckets by its sub-key, stable per sub-key', () => {
    expect(compositeKey('tenant-7', 'order-42', 12)).toBe('tenant-7:0');
    expect(compositeKey('tenant-7', 'foobar', 12)).toBe('tenant-7:6');
    expect(compositeKey('tenant-7', 'foobar', 12)).toBe(compositeKey('tenant-7', 'foobar', 12));
    const buckets = new Set(Array.from({ length: 200 }, (_, i) => compositeKey('hot', `sub-${i}`, 8)));
    expect(buckets.size).toBe(8);
  });

  it('rejects a bucket count that is not a positive integer', () => {
    expect(() => compositeKey('t', 's', 0)).toThrow(/buckets/);
    expect(() => compositeKey('t', 's', 1.5)).toThrow(/buckets/);
  });
});

describe('KeySequencer', () => {
  const message = (key: string) => ({ id: key, key, body: new Uint8Array(), headers: {}, timestamp: 0 });

  it('numbers messages per key in publish order', () => {
    const seq = new KeySequencer({ source: 'p1' });
    const stamped = ['a', 'b', 'a', 'a', 'b'].map((k) => seq.stamp(message(`t:${k}`), k));
    expect(stamped.map((m) => m.headers[KafkaHeaders.sequence])).toEqual(['1', '1', '2', '3', '2']);
    expect(stamped.every((m) => m.headers[KafkaHeaders.sequenceSource] === 'p1')).toBe(true);
  });

  it('keeps a forgotten key increasing after it is evicted (bounded memory)', () => {
    const seq = new KeySequencer({ maxKeys: 2 });
    const a1 = seq.next('a');
    seq.next('b');
    seq.next('c'); // evicts a
    const a2 = seq.next('a');
    expect(a2).toBeGreaterThan(a1);
  });
});
