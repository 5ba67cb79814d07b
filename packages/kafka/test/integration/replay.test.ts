// Replay: rewind a stopped group (or a fresh one) to the earliest offset or a timestamp and consume
// again under a rate limit. The limit is checked as decisions on a manual clock, not as timings:
// nothing beyond the allowance is handed over until the clock moves.

import type { Delivery, SubscriptionSpec } from '@switchyard/core';
import { createApp } from '@switchyard/core';
import { ManualClock } from '@switchyard/testing';
import { describe, expect, it } from 'vitest';
import { Tick, tickPayloads, ticks } from './support/contracts.js';
import { until, useKafkaTestKit } from './support/kafka.js';

const kit = useKafkaTestKit();

function spec(destination: string, group: string, options: Record<string, unknown> = {}): SubscriptionSpec {
  return {
    destination,
    consumerGroup: group,
    semantics: 'at-least-once',
    startFrom: 'earliest',
    maxInFlight: 100,
    maxInFlightBytes: 10_000_000,
    observer: { lag() {}, depth() {} },
    options,
  };
}

async function produce(topicName: string, count: number, prefix: string): Promise<void> {
  const app = createApp({ transport: kit().transport({ clientId: 'publisher' }) });
  await app.start();
  for (const p of tickPayloads(count, 4, prefix)) await app.publish(ticks(topicName), Tick, p);
  await app.stop();
}

describe('replay', () => {
  it('rewinds a stopped group to the earliest offset and replays under the rate limit', async () => {
    const topicName = await kit().topic('replay', 1);
    const group = kit().group();
    await produce(topicName, 20, 'r');

    // First pass: the group consumes and commits everything.
    const first = kit().transport();
    const firstPass: Delivery[] = [];
    const sub = await first.subscribe(spec(topicName, group), async (d) => {
      firstPass.push(d);
      await d.settle({ kind: 'ack' });
    });
    await until(() => firstPass.length === 20, 'first pass consumed');
    await until(async () => (await kit().admin.lag(group, topicName))[0]?.lag === 0, 'first pass committed');

    // A running group is not rewound under its members.
    await expect(
      kit().admin.replay({ topic: topicName, group, to: 'earliest', ratePerSecond: 5 }),
    ).rejects.toMatchObject({ code: 'SWITCHYARD_CAPABILITY' });
    await sub.stopFetching();
    await sub.close();

    const plan = await kit().admin.replay({ topic: topicName, group, to: 'earliest', ratePerSecond: 5 });
    expect(plan.consumerGroup).toBe(group);
    expect(plan.offsets).toEqual([{ partition: 0, offset: '0' }]);

    const clock = new ManualClock(Date.now());
    const replaying = kit().transport({ clock });
    const replayed: Delivery[] = [];
    await replaying.subscribe(spec(topicName, plan.consumerGroup, plan.options), async (d) => {
      replayed.push(d);
      await d.settle({ kind: 'ack' });
    });
    // The bucket holds one token (a burst of rate / 10, at least 1) and earns one per 200 ms at
    // 5 per second. Each time the fetch loop waits on the clock, exactly what was allowed so far
    // has been handed over.
    await until(
      () => replayed.length === 1 && clock.pending > 0,
      'the initial burst replayed, the next one waiting on the clock',
    );
    for (let step = 1; replayed.length < 20; step++) {
      expect(step).toBeLessThanOrEqual(19);
      await clock.advance(200);
      await until(
        () => replayed.length === Math.min(20, 1 + step) && (clock.pending > 0 || replayed.length === 20),
        `step ${step}: ${1 + step} replayed`,
      );
      expect(replayed.length).toBe(Math.min(20, 1 + step));
    }
    expect(replayed.map((d) => d.message.source.kind === 'log' && d.message.source.offset)).toEqual(
      Array.from({ length: 20 }, (_, i) => String(i)),
    );
  });

  it('replays from a timestamp into a fresh replay group', async () => {
    const topicName = await kit().topic('replay-ts', 2);
    await produce(topicName, 10, 'before');
    const boundary = Date.now() + 1;
    await until(() => Date.now() > boundary, 'the clock passed the boundary', 1_000);
    await produce(topicName, 10, 'after');

    const plan = await kit().admin.replay({ topic: topicName, to: { timestamp: boundary }, ratePerSecond: 1_000 });
    kit().resources.track(() =>
      kit()
        .admin.deleteGroups([plan.consumerGroup])
        .catch(() => {}),
    );
    const transport = kit().transport();
    const ids: string[] = [];
    await transport.subscribe(spec(topicName, plan.consumerGroup, plan.options), async (d) => {
      ids.push(JSON.parse(Buffer.from(d.message.body!).toString()).id);
      await d.settle({ kind: 'ack' });
    });
    await until(() => ids.length === 10, 'ten messages after the boundary replayed');
    expect(ids.every((id) => id.startsWith('after-'))).toBe(true);
    const lag = await kit().admin.lag(plan.consumerGroup, topicName);
    await until(
      async () => (await kit().admin.lag(plan.consumerGroup, topicName)).every((p) => p.lag === 0),
      'replay group committed',
    );
    expect(lag).toHaveLength(2);
  });
});
