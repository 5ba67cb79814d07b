// Three members in one group while members join and leave under load: nothing is lost, per-key
// order holds (first processing of each key's messages is in sequence), and a revoked partition's
// remaining messages are processed by its new owner. Also: per-key order with 16 in flight on one
// partition.

import { type App, createApp, defineHandler } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { orderViolations, Tick, tickPayloads, ticks } from './support/contracts.js';
import { until, useKafkaTestKit } from './support/kafka.js';

const kit = useKafkaTestKit();

interface Started {
  readonly member: string;
  readonly id: string;
  readonly key: string;
  readonly seq: number;
}

describe('consumer group', () => {
  it('loses nothing and keeps per-key order while three members join and leave', async () => {
    const topicName = await kit().topic('group', 6);
    const topic = ticks(topicName);
    const group = kit().group();
    const started: Started[] = [];
    const finished = new Set<string>();
    const member = async (name: string): Promise<App> => {
      const app = createApp({ transport: kit().transport({ clientId: name }) });
      app.consume(topic, {
        group,
        maxInFlight: 8,
        handlers: [
          defineHandler(Tick, async (m) => {
            started.push({ member: name, id: m.payload.id, key: m.payload.key, seq: m.payload.seq });
            await new Promise((r) => setTimeout(r, 2));
            finished.add(m.payload.id);
          }),
        ],
      });
      await app.start();
      return app;
    };
    const publisher = createApp({ transport: kit().transport({ clientId: 'publisher' }) });
    await publisher.start();
    const payloads = tickPayloads(240, 24);
    const publish = async (from: number, to: number) => {
      for (const p of payloads.slice(from, to)) await publisher.publish(topic, Tick, p);
    };

    const a = await member('a');
    await publish(0, 60);
    const b = await member('b');
    await publish(60, 120);
    await until(() => started.some((s) => s.member === 'b'), 'b took over partitions');
    const c = await member('c');
    await publish(120, 180);
    await a.stop(); // a leaves mid-stream: its partitions move to b and c
    await publish(180, 240);
    await until(
      () => finished.size === payloads.length,
      `all ${payloads.length} processed (have ${finished.size})`,
      60_000,
    );

    expect(new Set(started.map((s) => s.id))).toEqual(new Set(payloads.map((p) => p.id)));
    expect(orderViolations(started)).toEqual([]);
    expect(new Set(started.map((s) => s.member))).toEqual(new Set(['a', 'b', 'c']));
    await Promise.all([b.stop(), c.stop(), publisher.stop()]);
    expect((await kit().admin.lag(group, topicName)).every((p) => p.lag === 0)).toBe(true);
  });

  it('runs keys in parallel and each key strictly in order with 16 in flight on one partition', async () => {
    const topicName = await kit().topic('keyed', 1);
    const topic = ticks(topicName);
    const group = kit().group();
    const running = new Map<string, number>();
    let concurrent = 0;
    let maxConcurrent = 0;
    const overlaps: string[] = [];
    const order: Array<{ key: string; seq: number }> = [];
    const app = createApp({ transport: kit().transport() });
    app.consume(topic, {
      group,
      maxInFlight: 16,
      handlers: [
        defineHandler(Tick, async (m) => {
          const { key, seq } = m.payload;
          if (running.has(key)) overlaps.push(`${key}#${seq} overlapped ${key}#${running.get(key)}`);
          running.set(key, seq);
          order.push({ key, seq });
          concurrent++;
          maxConcurrent = Math.max(maxConcurrent, concurrent);
          await new Promise((r) => setTimeout(r, 1 + (seq % 4)));
          concurrent--;
          running.delete(key);
        }),
      ],
    });
    const payloads = tickPayloads(200, 40);
    const publisher = createApp({ transport: kit().transport({ clientId: 'publisher' }) });
    await publisher.start();
    for (const p of payloads) await publisher.publish(topic, Tick, p);
    await app.start();
    await until(() => order.length >= payloads.length, 'all processed');

    expect(overlaps).toEqual([]);
    expect(orderViolations(order)).toEqual([]);
    // Every key is processed in exactly its published order (no duplicates without a rebalance).
    const byKey = new Map<string, number[]>();
    for (const o of order) byKey.set(o.key, [...(byKey.get(o.key) ?? []), o.seq]);
    for (const seqs of byKey.values()) expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(maxConcurrent).toBeGreaterThan(1);
    expect(maxConcurrent).toBeLessThanOrEqual(16);
    await Promise.all([app.stop(), publisher.stop()]);
  });
});
