// A member in another process dies: SIGKILL mid-batch (the next owner redelivers from the last
// committed watermark, nothing is lost, nothing below the watermark is processed again), or SIGTERM
// under load (graceful stop: in-flight work finishes, the watermark is committed, the group is left;
// duplicates stay within the in-flight window).

import { createApp, defineHandler } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { ConsumerChild } from './support/child.js';
import { Tick, tickPayloads, ticks } from './support/contracts.js';
import { until, useKafkaTestKit } from './support/kafka.js';

const kit = useKafkaTestKit();

const MAX_IN_FLIGHT = 8;

async function scenario(kill: 'SIGKILL' | 'SIGTERM') {
  const topicName = await kit().topic(`death-${kill.toLowerCase()}`, 2);
  const topic = ticks(topicName);
  const group = kit().group();
  const publisher = createApp({ transport: kit().transport({ clientId: 'publisher' }) });
  await publisher.start();
  const payloads = tickPayloads(120, 12);
  for (const p of payloads) await publisher.publish(topic, Tick, p);

  const child = new ConsumerChild({
    SY_BROKERS: kit().brokers.join(','),
    SY_TOPIC: topicName,
    SY_GROUP: group,
    SY_HANDLER_MS: '15',
    SY_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
  });
  kit().resources.track(() => child.stop(), 'stop child');
  await child.waitFor('handled', 40);
  child.kill(kill);
  const exit = await child.exited;
  // After death nothing of the child's can commit any more: this is the watermark it left.
  const committedAtDeath = new Map(
    (await kit().admin.groupOffsets(group, topicName)).map((p) => [p.partition, BigInt(p.committed ?? '0')]),
  );

  const next: Array<{ id: string; partition: number; offset: bigint }> = [];
  const app = createApp({ transport: kit().transport({ clientId: 'successor' }) });
  app.consume(topic, {
    group,
    handlers: [
      defineHandler(Tick, (m) => {
        if (m.source.kind === 'log')
          next.push({ id: m.payload.id, partition: m.source.partition, offset: BigInt(m.source.offset) });
      }),
    ],
  });
  await app.start();
  const byChild = new Set(child.events.filter((e) => e.event === 'handled').map((e) => e.id!));
  const all = new Set(payloads.map((p) => p.id));
  await until(
    () => [...all].every((id) => byChild.has(id) || next.some((n) => n.id === id)),
    'every message processed by someone',
    60_000,
  );
  await Promise.all([app.stop(), publisher.stop()]);

  // Nothing lost; the successor started each partition exactly at the dead member's watermark.
  for (const n of next) expect(n.offset).toBeGreaterThanOrEqual(committedAtDeath.get(n.partition)!);
  for (const [partition, committed] of committedAtDeath) {
    const offsets = next.filter((n) => n.partition === partition).map((n) => n.offset);
    if (offsets.length > 0) expect(offsets.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0]).toBe(committed);
  }
  const duplicates = next.filter((n) => byChild.has(n.id));
  return { exit, duplicates, byChild, next, committedAtDeath, child };
}

describe('a member process dies', () => {
  it('SIGKILL mid-batch: the new owner redelivers from the last committed watermark and nothing is lost', async () => {
    const { exit, byChild, next } = await scenario('SIGKILL');
    expect(exit.signal).toBe('SIGKILL');
    expect(byChild.size).toBeGreaterThanOrEqual(40);
    expect(byChild.size + new Set(next.map((n) => n.id)).size).toBeGreaterThanOrEqual(120);
  });

  it('SIGTERM under load: in-flight work finishes, the watermark is committed, duplicates stay within the in-flight window', async () => {
    const { exit, duplicates, child } = await scenario('SIGTERM');
    // On failure, say why the child exited as it did (one line, so the test summary carries it).
    const why = JSON.stringify({ stderr: child.stderr.join('').slice(-1_500), events: child.events.slice(-3) });
    expect(exit.code, `child exited ${JSON.stringify(exit)}: ${why}`).toBe(0);
    expect(duplicates.length).toBeLessThanOrEqual(MAX_IN_FLIGHT * 2);
  });
});
