// Exactly-once Kafka -> Kafka: a consumer process copies every input to an output topic inside the
// transaction that also commits its input offsets. It is SIGKILLed mid-transaction and restarted
// with the same transactional id; a read_committed reader downstream sees every output exactly
// once, while a read_uncommitted reader shows the aborted writes were really there.

import { createApp } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { ConsumerChild } from './support/child.js';
import { Tick, tickPayloads, ticks } from './support/contracts.js';
import { until, useKafkaTestKit } from './support/kafka.js';

const kit = useKafkaTestKit();

describe('exactly-once subscriptions', () => {
  it('writes no duplicate outputs downstream when the process is killed mid-transaction', async () => {
    const inName = await kit().topic('eos-in', 2);
    const outName = await kit().topic('eos-out', 2);
    const group = kit().group();
    const txid = kit().resources.name('tx');
    const publisher = createApp({ transport: kit().transport({ clientId: 'publisher' }) });
    await publisher.start();
    const payloads = tickPayloads(60, 6);
    for (const p of payloads) await publisher.publish(ticks(inName), Tick, p);
    await publisher.stop();

    const env = {
      SY_BROKERS: kit().brokers.join(','),
      SY_TOPIC: inName,
      SY_GROUP: group,
      SY_MODE: 'exactly-once',
      SY_OUT_TOPIC: outName,
      SY_TXID: txid,
      SY_HANDLER_MS: '20',
      SY_MAX_IN_FLIGHT: '10',
    };
    // The first process hangs right after writing the output of t-31, inside its transaction.
    const first = new ConsumerChild({ ...env, SY_HANG_AFTER_PUBLISH_ID: 't-31' });
    kit().resources.track(() => first.stop(), 'stop first child');
    await until(
      () => first.events.some((e) => e.event === 'published' && e.id === 't-31'),
      'the output of t-31 written',
      60_000,
    );
    first.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const publishedByFirst = first.count('published');

    // Same transactional id: initialising it fences the dead producer and aborts its open transaction.
    const second = new ConsumerChild(env);
    kit().resources.track(() => second.stop(), 'stop second child');
    await until(
      async () => (await kit().admin.lag(group, inName)).every((p) => p.lag === 0),
      'input fully consumed and committed',
      60_000,
    );

    const committed = await kit().reader(outName);
    await until(() => committed.caughtUp(), 'read_committed reader caught up', 30_000);
    const ids = committed.records.map((r) => JSON.parse(r.value!.toString()).id as string);
    expect(ids.length).toBe(payloads.length);
    expect(new Set(ids)).toEqual(new Set(payloads.map((p) => p.id)));

    // The kill really interrupted a transaction: its writes are in the log, aborted.
    const uncommitted = await kit().reader(outName, { readUncommitted: true });
    await until(() => uncommitted.caughtUp(), 'read_uncommitted reader caught up', 30_000);
    expect(publishedByFirst).toBeGreaterThanOrEqual(1);
    expect(uncommitted.records.length).toBeGreaterThan(ids.length);
    await second.stop();
  });
});
