// Operating a dead-letter topic on a real broker: depth, inspection that consumes nothing, and
// redrive back to the original topic (through retry tiers too), in parts, under a rate limit,
// committing only what the destination acknowledged, so a fixed handler finally gets every record.

import { createApp, defineHandler, NonRetryableError } from '@switchyard/core';
import { ManualClock } from '@switchyard/testing';
import { describe, expect, it } from 'vitest';
import { KafkaAdmin, KafkaHeaders } from '../../src/index.js';
import { Tick, tickPayloads, ticks } from './support/contracts.js';
import { header, until, useKafkaTestKit } from './support/kafka.js';

const kit = useKafkaTestKit();

const total = async (topic: string) =>
  (await kit().admin.topicOffsets(topic)).reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);

describe('dead-letter tools', () => {
  it('measures, inspects and redrives dead letters to their original topic, in parts, until a fixed handler has them all', async () => {
    const topicName = await kit().topic('dlq-tools', 2);
    const dlq = `${topicName}.dlq`;
    const group = kit().group();
    const payloads = tickPayloads(30, 6, 'd');
    // Poison goes straight to the DLQ from the source topic; flaky exhausts its retry tier first,
    // so its dead letter comes from `<topic>.retry.1` and must still go back to the source.
    const poison = new Set(payloads.filter((_, i) => i % 5 === 0).map((p) => p.id));
    const flaky = new Set(payloads.filter((_, i) => i % 7 === 3 && i % 5 !== 0).map((p) => p.id));
    let broken = true;
    const handled = new Map<string, number>();
    const app = createApp({ transport: kit().transport({ retry: { mode: 'retry-topics', topics: 1 } }) });
    app.consume(ticks(topicName), {
      group,
      retry: { maxAttempts: 2, initialDelayMs: 50, maxDelayMs: 50, jitter: 'none' },
      retryBudget: false,
      handlers: [
        defineHandler(Tick, (m) => {
          if (broken && poison.has(m.payload.id)) throw new NonRetryableError(`poison ${m.payload.id}`);
          if (broken && flaky.has(m.payload.id)) throw new Error(`flaky ${m.payload.id}`);
          handled.set(m.payload.id, (handled.get(m.payload.id) ?? 0) + 1);
        }),
      ],
    });
    await app.start();
    for (const p of payloads) await app.publish(ticks(topicName), Tick, p);
    const dead = poison.size + flaky.size;
    await until(async () => (await kit().admin.deadLetterDepth(dlq)).total === dead, `${dead} dead letters`);
    await until(() => handled.size === payloads.length - dead, 'the healthy ticks handled');

    const depth = await kit().admin.deadLetterDepth(dlq);
    expect(depth.group).toBe(`${dlq}.redrive`);
    expect(depth.partitions.map((p) => p.partition)).toEqual([0, 1]);

    // Inspection: every dead letter with its record, in partition/offset order, nothing committed.
    const letters = await kit().admin.inspectDeadLetters(dlq, { limit: 100 });
    expect(letters).toHaveLength(dead);
    const byId = new Map(letters.map((l) => [JSON.parse(l.body!.toString()).id as string, l]));
    expect([...byId.keys()].sort()).toEqual([...poison, ...flaky].sort());
    for (const id of poison) {
      expect(byId.get(id)!.record).toMatchObject({ reason: 'non-retryable', attempts: 1, consumerGroup: group });
      expect(byId.get(id)!.originalTopic).toBe(topicName);
    }
    for (const id of flaky) {
      expect(byId.get(id)!.record).toMatchObject({ reason: 'retries-exhausted', attempts: 2 });
      expect(byId.get(id)!.originalTopic).toBe(topicName);
    }
    const order = letters.map((l) => [l.partition, Number(l.offset)] as const);
    expect(order).toEqual([...order].sort((a, b) => a[0] - b[0] || a[1] - b[1]));
    expect(await kit().admin.inspectDeadLetters(dlq, { limit: 3 })).toHaveLength(3);
    expect((await kit().admin.deadLetterDepth(dlq)).total).toBe(dead);
    const groups = (await kit().kafka.admin().listGroups()).groups.map((g) => g.groupId);
    expect(groups.filter((g) => g.startsWith(`${dlq}.inspect.`))).toEqual([]);

    // Redrive in two parts: a bounded first run, then the rest; the handler is fixed meanwhile.
    broken = false;
    const ends = await kit().admin.topicOffsets(topicName);
    const sourceBefore = await total(topicName);
    const first = await kit().admin.redriveDeadLetters({ from: dlq, ratePerSecond: 1_000, max: 4 });
    expect(first).toMatchObject({ moved: 4, movedTo: { [topicName]: 4 }, skipped: [], complete: false });
    expect((await kit().admin.deadLetterDepth(dlq)).total).toBe(dead - 4);
    const rest = await kit().admin.redriveDeadLetters({ from: dlq, ratePerSecond: 1_000 });
    expect(rest).toMatchObject({ moved: dead - 4, skipped: [], complete: true });
    expect((await kit().admin.deadLetterDepth(dlq)).total).toBe(0);
    expect(await total(topicName)).toBe(sourceBefore + dead);
    // Nothing is left to inspect from where redrive stopped; the whole history still is.
    expect(await kit().admin.inspectDeadLetters(dlq)).toEqual([]);
    expect(await kit().admin.inspectDeadLetters(dlq, { from: 'earliest', limit: 100 })).toHaveLength(dead);

    await until(() => handled.size === payloads.length, 'every tick handled once redriven');
    expect([...handled.values()].every((n) => n === 1)).toBe(true);
    await app.stop();

    // The redriven records start over: original key, value and type, no dead-letter or retry headers.
    const highs = new Map(ends.map((e) => [e.partition, BigInt(e.high)]));
    const all = await kit().readTopic(topicName, (rs) => rs.length === sourceBefore + dead);
    const redriven = all.filter((r) => BigInt(r.offset) >= highs.get(r.partition)!);
    expect(redriven.map((r) => JSON.parse(r.value!.toString()).id).sort()).toEqual([...poison, ...flaky].sort());
    for (const r of redriven) {
      const names = Object.keys(r.headers);
      expect(names.filter((h) => /^(sy-dlq-|kafka_dlt-|sy-retry-)/.test(h))).toEqual([]);
      expect(header(r, 'sy-type')).toBe('Tick');
      expect(r.key).toBe(JSON.parse(r.value!.toString()).key);
    }
  });

  it('sends no more than the rate allows: each wait for a token comes after exactly the records allowed so far', async () => {
    const topicName = await kit().topic('dlq-rate', 1);
    const dlq = await kit().topic('dlq-rate-dead', 1);
    const producer = kit().kafka.producer();
    await producer.connect();
    await producer.send({
      topic: dlq,
      messages: Array.from({ length: 5 }, (_, i) => ({
        key: `k${i}`,
        value: `{"n":${i}}`,
        headers: { 'sy-dlq-reason': 'non-retryable', 'sy-dlq-source-topic': topicName },
      })),
    });
    await producer.disconnect();

    const clock = new ManualClock(Date.now());
    const admin = new KafkaAdmin({ kafka: kit().kafka, clock });
    kit().resources.track(() => admin.close());
    // 2 per second: a burst of 1, then one token per 500 ms of the manual clock.
    const running = admin.redriveDeadLetters({ from: dlq, ratePerSecond: 2 });
    await until(async () => clock.pending > 0 && (await total(topicName)) === 1, 'the burst sent, then a wait');
    for (let sent = 2; sent <= 5; sent++) {
      await clock.advance(500);
      await until(async () => (await total(topicName)) === sent && (clock.pending > 0 || sent === 5), `${sent} sent`);
      expect(await total(topicName)).toBe(sent);
    }
    expect(await running).toMatchObject({ moved: 5, complete: true });
  });

  it('reads a dead-letter topic written in transactions to its end, past the commit markers', async () => {
    const topicName = await kit().topic('dlq-tx', 1);
    const dlq = await kit().topic('dlq-tx-dead', 2);
    const producer = kit().kafka.producer({ transactionalId: `${dlq}-tx`, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (const batch of [0, 1]) {
      const tx = await producer.transaction();
      await tx.send({
        topic: dlq,
        messages: [0, 1, 2].map((i) => ({
          key: `k${i}`,
          value: `{"n":${batch * 3 + i}}`,
          headers: { 'sy-dlq-reason': 'non-retryable', 'sy-dlq-source-topic': topicName },
        })),
      });
      await tx.commit();
    }
    // An aborted write is never a dead letter.
    const aborted = await producer.transaction();
    await aborted.send({ topic: dlq, messages: [{ key: 'k0', value: '{"n":-1}', headers: {} }] });
    await aborted.abort();
    await producer.disconnect();

    const letters = await kit().admin.inspectDeadLetters(dlq, { from: 'earliest', limit: 100 });
    expect(letters.map((l) => JSON.parse(l.body!.toString()).n).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    const result = await kit().admin.redriveDeadLetters({ from: dlq, ratePerSecond: 1_000 });
    expect(result).toMatchObject({ moved: 6, complete: true, skipped: [] });
    expect(await total(topicName)).toBe(6);
    // Committed past the trailing markers, so nothing counts as waiting.
    expect((await kit().admin.deadLetterDepth(dlq)).total).toBe(0);
  });

  it('skips what it cannot send, saying why, and refuses bad options', async () => {
    const dlq = await kit().topic('dlq-skip', 1);
    const producer = kit().kafka.producer();
    await producer.connect();
    await producer.send({
      topic: dlq,
      messages: [
        { key: 'a', value: 'no source header', headers: { 'sy-dlq-reason': 'decode' } },
        { key: 'b', value: '', headers: { 'sy-dlq-source-topic': dlq, [KafkaHeaders.bodyOmitted]: '2000000' } },
      ],
    });
    await producer.disconnect();
    const result = await kit().admin.redriveDeadLetters({ from: dlq, ratePerSecond: 100 });
    expect(result).toMatchObject({
      moved: 0,
      complete: true,
      skipped: [
        { partition: 0, offset: '0', reason: 'no-destination' },
        { partition: 0, offset: '1', reason: 'body-omitted' },
      ],
    });
    const [letter] = await kit()
      .admin.inspectDeadLetters(dlq, { from: 'earliest', limit: 2 })
      .then((ls) => ls.slice(1));
    expect(letter).toMatchObject({ body: null, bodyOmittedBytes: 2_000_000 });

    await expect(kit().admin.redriveDeadLetters({ from: dlq, ratePerSecond: 0 })).rejects.toMatchObject({
      code: 'SWITCHYARD_INVALID_OPTION',
      message: expect.stringMatching(/ratePerSecond/),
    });
    await expect(kit().admin.inspectDeadLetters(dlq, { limit: 0 })).rejects.toMatchObject({
      code: 'SWITCHYARD_INVALID_OPTION',
    });
    await expect(kit().admin.deadLetterDepth('no-such-topic-here')).rejects.toMatchObject({
      code: 'SWITCHYARD_TRANSPORT',
      message: expect.stringMatching(/does not exist/),
    });
  });
});
