// Non-blocking retries through retry topics: a poison message is tried exactly N times (once on
// the source topic, then from `<topic>.retry.<n>` when due) and dead-lettered with its diagnostic
// headers, while the rest of its partition keeps flowing and committing. Blocking mode keeps the
// partition's watermark at the failing message instead.

import { createApp, defineHandler, readDeadLetterHeaders } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { KafkaHeaders, SpringDeadLetterHeaders } from '../../src/index.js';
import { Tick, tickPayloads, ticks } from './support/contracts.js';
import { header, until, useKafkaTestKit } from './support/kafka.js';

const kit = useKafkaTestKit();

const ATTEMPTS = 3;

describe('retry topics', () => {
  it('parks a key behind its retried record, then releases it once they are all resolved', async () => {
    const topicName = await kit().topic('park', 1);
    const topic = ticks(topicName);
    const transport = kit().transport({ retry: { mode: 'retry-topics', topics: 2, parkSameKey: true } });
    const handled: Array<{ seq: number; from: string; attempt: number }> = [];
    const app = createApp({ transport });
    app.consume(topic, {
      group: kit().group(),
      retry: { maxAttempts: 3, initialDelayMs: 300, maxDelayMs: 300, jitter: 'none' },
      retryBudget: false,
      handlers: [
        defineHandler(Tick, (m, context) => {
          if (m.payload.seq === 0 && context.attempt === 1) throw new Error('first try fails');
          handled.push({
            seq: m.payload.seq,
            from: m.source.kind === 'log' ? m.source.topic : '',
            attempt: context.attempt,
          });
        }),
      ],
    });
    await app.start();
    const tick = (seq: number) => ({ id: `a-${seq}`, key: 'a', seq });
    await app.publish(topic, Tick, tick(0));
    await until(async () => (await kit().admin.topicOffsets(`${topicName}.retry.1`))[0]?.high === '1', 'a-0 retried');
    // Published after the retry: diverted behind a-0 instead of overtaking it.
    for (const seq of [1, 2, 3]) await app.publish(topic, Tick, tick(seq));
    await until(() => handled.length === 4, 'a-0 and the three parked behind it handled');
    expect(handled.map((h) => [h.seq, h.from])).toEqual([
      [0, `${topicName}.retry.1`],
      [1, `${topicName}.retry.1`],
      [2, `${topicName}.retry.1`],
      [3, `${topicName}.retry.1`],
    ]);
    // Everything parked is resolved: the key's next record runs straight from the source topic.
    await app.publish(topic, Tick, tick(4));
    await until(() => handled.length === 5, 'a-4 handled');
    expect(handled[4]).toEqual({ seq: 4, from: topicName, attempt: 1 });
    expect((await kit().admin.topicOffsets(`${topicName}.retry.1`))[0]?.high).toBe('4');
    await app.stop();
  });

  it('dead-letters a poison message after exactly N attempts while the rest of its partition flows', async () => {
    const topicName = await kit().topic('retry', 1);
    const topic = ticks(topicName);
    const group = kit().group();
    const transport = kit().transport({ retry: { mode: 'retry-topics', topics: 2 } });
    const committedOnSource = async () => (await kit().admin.groupOffsets(group, topicName))[0]?.committed;
    const attempts: number[] = [];
    const processed = new Set<string>();
    const payloads = tickPayloads(20, 20);
    const poison = payloads[5]!;
    const app = createApp({ transport });
    app.consume(topic, {
      group,
      retry: { maxAttempts: ATTEMPTS, initialDelayMs: 300, maxDelayMs: 300, jitter: 'none' },
      retryBudget: false,
      // Strict partition order: in blocking mode everything behind the poison would wait.
      transportOptions: { ordering: 'partition' },
      handlers: [
        defineHandler(Tick, async (m, context) => {
          if (m.payload.id !== poison.id) {
            processed.add(m.payload.id);
            return;
          }
          attempts.push(context.attempt);
          if (context.attempt === 2) {
            // Non-blocking: by the time the first retry runs, the source partition has committed
            // past the poison message (the rest of the partition did not wait for it).
            await until(
              async () => BigInt((await committedOnSource()) ?? '0') > 5n,
              'source partition committed past the poison message',
              20_000,
            );
          }
          throw new Error(`poison ${m.payload.id}`);
        }),
      ],
    });
    await app.start();
    for (const p of payloads) await app.publish(topic, Tick, p);

    const dlq = await kit().readTopic(`${topicName}.dlq`, (records) => records.length >= 1, { timeoutMs: 30_000 });
    await until(() => processed.size === payloads.length - 1, 'all other messages processed');
    expect(attempts).toEqual([1, 2, 3]);
    expect(await committedOnSource()).toBe(String(payloads.length));

    const [record] = dlq;
    expect(dlq).toHaveLength(1);
    expect(record!.key).toBe(poison.key);
    expect(JSON.parse(record!.value!.toString())).toEqual(poison);
    const headers = Object.fromEntries(Object.entries(record!.headers).map(([k, v]) => [k, String(v)]));
    const diagnostics = readDeadLetterHeaders(headers);
    expect(diagnostics.attempts).toBe(ATTEMPTS);
    expect(diagnostics.reason).toBe('retries-exhausted');
    expect(diagnostics.consumerGroup).toBe(group);
    expect(diagnostics.error?.message).toContain(`poison ${poison.id}`);
    expect(header(record!, SpringDeadLetterHeaders.originalTopic)).toBe(topicName);
    expect((record!.headers[SpringDeadLetterHeaders.originalOffset] as Buffer).readBigInt64BE()).toBe(5n);
    expect(header(record!, KafkaHeaders.retryOriginalOffset)).toBe('5');
    expect(header(record!, 'sy-type')).toBe('Tick');
    await app.stop();
  });

  it('in blocking mode retries in place and holds the watermark at the failing message', async () => {
    const topicName = await kit().topic('blocking', 1);
    const topic = ticks(topicName);
    const group = kit().group();
    const transport = kit().transport({ consumer: { commitIntervalMs: 100 } });
    let failures = 0;
    let releaseRetry!: () => void;
    const retrying = new Promise<void>((resolve) => {
      releaseRetry = resolve;
    });
    const processed = new Set<string>();
    const app = createApp({ transport });
    app.consume(topic, {
      group,
      retry: { maxAttempts: 5, initialDelayMs: 50, maxDelayMs: 50, jitter: 'none' },
      retryBudget: false,
      handlers: [
        defineHandler(Tick, async (m) => {
          if (m.payload.seq === 2 && failures < 2) {
            failures++;
            if (failures === 2) await retrying;
            throw new Error('transient');
          }
          processed.add(m.payload.id);
        }),
      ],
    });
    await app.start();
    const payloads = tickPayloads(6, 1).map((p, i) => ({ ...p, key: `k${i}` }));
    for (const p of payloads) await app.publish(topic, Tick, p);
    await until(() => processed.size === 5 && failures === 2, 'the other keys processed while seq 2 retries in place');
    await until(
      async () => (await kit().admin.groupOffsets(group, topicName))[0]?.committed === '2',
      'watermark held at the failing message',
    );
    releaseRetry();
    await until(() => processed.size === 6, 'the failing message succeeded on its third attempt');
    await until(
      async () => (await kit().admin.groupOffsets(group, topicName))[0]?.committed === '6',
      'watermark moved past it',
    );
    expect(transport.capabilities.delayedRetry).toBe(false);
    await app.stop();
  });
});
