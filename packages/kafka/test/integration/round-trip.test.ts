// Publish and consume through createApp on a real broker: keys land where Java puts them, headers
// and bodies arrive intact, per-key order holds, the group commits everything it processed, and the
// commit watermark never passes a message that is still running.

import { createApp, defineHandler, type Envelope, partitionForKey } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import type { KafkaTransportEvents } from '../../src/index.js';
import { orderViolations, Tick, tickPayloads, ticks } from './support/contracts.js';
import { until, useKafkaTestKit } from './support/kafka.js';

const kit = useKafkaTestKit();

describe('KafkaTransport through createApp', () => {
  it('round-trips keyed messages on the Java partition of their key, in key order, and commits them all', async () => {
    const topicName = await kit().topic('round-trip', 3);
    const topic = ticks(topicName);
    const group = kit().group();
    const transport = kit().transport();
    const seen: Array<Envelope<{ id: string; key: string; seq: number }>> = [];
    const app = createApp({ transport });
    app.consume(topic, {
      group,
      handlers: [
        defineHandler(Tick, async (message) => {
          seen.push(message);
        }),
      ],
    });
    await app.start();
    const payloads = tickPayloads(30, 5);
    for (const p of payloads) await app.publish(topic, Tick, p, { headers: { 'x-trace-me': 'yes' } });
    await until(() => new Set(seen.map((m) => m.payload.id)).size === payloads.length, 'all ticks consumed');

    expect(new Set(seen.map((m) => m.payload.id))).toEqual(new Set(payloads.map((p) => p.id)));
    expect(orderViolations(seen.map((m) => m.payload))).toEqual([]);
    for (const m of seen) {
      expect(m.source.kind === 'log' && m.source.partition).toBe(partitionForKey(m.key, 3));
      expect(m.headers['x-trace-me']).toBe('yes');
      expect(m.type).toBe('Tick');
      expect(m.attempt).toBe(1);
    }
    await app.stop();
    const lag = await kit().admin.lag(group, topicName);
    expect(lag.map((p) => p.lag)).toEqual([0, 0, 0]);
    expect(lag.reduce((n, p) => n + Number(p.committed), 0)).toBe(payloads.length);
  });

  it('publishes a batch with publishBatch: every message arrives once, under its receipt id, in key order', async () => {
    const topicName = await kit().topic('batch', 3);
    const topic = ticks(topicName);
    const group = kit().group();
    const seen: Array<Envelope<{ id: string; key: string; seq: number }>> = [];
    const app = createApp({ transport: kit().transport({ producer: { lingerMs: 0 } }) });
    app.consume(topic, { group, handlers: [defineHandler(Tick, (message) => void seen.push(message))] });
    await app.start();
    const payloads = tickPayloads(200, 7);
    const receipts = await app.publishBatch(topic, Tick, payloads, { headers: { 'x-batch': 'b-1' } });
    expect(receipts).toHaveLength(payloads.length);
    await until(() => seen.length >= payloads.length, 'the batch consumed');
    expect(seen.map((m) => m.id).sort()).toEqual(receipts.map((r) => r.id).sort());
    expect(orderViolations(seen.map((m) => m.payload))).toEqual([]);
    for (const m of seen) {
      expect(m.headers['x-batch']).toBe('b-1');
      expect(m.source.kind === 'log' && m.source.partition).toBe(partitionForKey(m.key, 3));
    }
    await app.stop();
  });

  it('never commits past a message that is still running, and commits past it once it finishes', async () => {
    const topicName = await kit().topic('watermark', 1);
    const topic = ticks(topicName);
    const group = kit().group();
    const transport = kit().transport({ consumer: { commitIntervalMs: 100 } });
    const commits: Array<KafkaTransportEvents['kafka:offsets:committed']> = [];
    transport.events.on('kafka:offsets:committed', (e) => commits.push(e));
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const done = new Set<string>();
    const app = createApp({ transport });
    app.consume(topic, {
      group,
      handlers: [
        defineHandler(Tick, async (message) => {
          if (message.payload.seq === 3) await held; // key k0, offset 3 stays unfinished
          done.add(message.payload.id);
        }),
      ],
    });
    await app.start();
    // Ten keys, one message each, so only the held message's key waits.
    for (const p of tickPayloads(10, 1).map((p, i) => ({ ...p, key: `k${i}` }))) await app.publish(topic, Tick, p);
    await until(() => done.size === 9, 'the nine other messages done');
    await until(() => commits.some((c) => c.offsets.some((o) => o.offset === '3')), 'a commit up to the held message');
    const committed = async () => (await kit().admin.groupOffsets(group, topicName))[0]?.committed;
    expect(await committed()).toBe('3');
    expect(commits.flatMap((c) => c.offsets).every((o) => BigInt(o.offset) <= 3n)).toBe(true);

    release();
    await until(async () => (await committed()) === '10', 'commit past the released message');
    await app.stop();
  });
});
