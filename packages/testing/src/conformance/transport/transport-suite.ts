// The transport conformance suite, after Watermill's universal Pub/Sub tests: every transport
// (in-memory, Kafka, SQS, SNS->SQS) runs the same scenarios through one factory, driving the
// Transport port directly, with the suite playing core (a sink that records and settles). The
// scenarios a transport cannot support by its declared capabilities are skipped, and the test
// name says which capability it needs.
//
// Every scenario counts: what was published is exactly what was processed plus what was
// dead-lettered, nothing lost and nothing unknown. Nothing waits on a fixed sleep: the suite
// waits for deliveries and settles, with a deadline that only matters when something is wrong.

import type { OutgoingMessage, TransportCapabilities } from '@switchyard/core';
import { readDeadLetterHeaders } from '@switchyard/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConformanceRun, resolveOptions } from './conformance-run.js';
import { ackAll, type DeliveryProbe, holdAll, type ReceivedDelivery } from './delivery-probe.js';
import type {
  TransportConformanceFactory,
  TransportConformanceFixture,
  TransportConformanceOptions,
} from './fixture.js';
import { bytesEqual } from './test-messages.js';

interface Requirement {
  /** Shown in the test name: `[requires capabilities.replay]`. */
  readonly label: string;
  readonly caps?: (caps: TransportCapabilities) => boolean;
  readonly fixture?: (fixture: TransportConformanceFixture) => boolean;
}

const requires = {
  delayedRetry: { label: 'capabilities.delayedRetry', caps: (c) => c.delayedRetry },
  ordered: { label: "capabilities.ordering ≠ 'none'", caps: (c) => c.ordering !== 'none' },
  groupOrdered: { label: "capabilities.ordering = 'group'", caps: (c) => c.ordering === 'group' },
  groupOrderedRetry: {
    label: "capabilities.ordering = 'group' and capabilities.delayedRetry",
    caps: (c) => c.ordering === 'group' && c.delayedRetry,
  },
  consumerGroups: { label: 'capabilities.consumerGroups', caps: (c) => c.consumerGroups },
  replay: { label: 'capabilities.replay', caps: (c) => c.replay },
  lease: {
    label: "capabilities.model = 'queue' with capabilities.leaseMs",
    caps: (c) => c.model === 'queue' && c.leaseMs !== undefined,
  },
  restart: { label: 'factory restartBroker()', fixture: (f) => typeof f.restartBroker === 'function' },
  secondClient: { label: 'factory createTransport()', fixture: (f) => typeof f.createTransport === 'function' },
} satisfies Record<string, Requirement>;

/** Extra vitest time where a scenario may have to wait out a queue's default lease (SQS: 30 s). */
const LEASE_ALLOWANCE_MS = 45_000;

function ids(messages: readonly OutgoingMessage[]): string[] {
  return messages.map((m) => m.id);
}

function sorted(values: Iterable<string>): string[] {
  return [...values].sort();
}

/** Published = processed (unique) + dead-lettered: nothing lost, nothing twice across the two, nothing unknown. */
function expectAccounted(
  published: readonly string[],
  processed: Iterable<string>,
  deadLettered: Iterable<string> = [],
): void {
  const p = new Set(processed);
  const d = new Set(deadLettered);
  expect(
    [...p].filter((id) => d.has(id)),
    'both processed and dead-lettered',
  ).toEqual([]);
  expect(sorted([...p, ...d]), 'published = processed + dead-lettered').toEqual(sorted(new Set(published)));
}

function ackedAcross(probes: readonly DeliveryProbe[]): Map<string, number> {
  const total = new Map<string, number>();
  for (const probe of probes) for (const [id, n] of probe.settledCounts('ack')) total.set(id, (total.get(id) ?? 0) + n);
  return total;
}

/**
 * `counts` without the ids whose two copies were one queue message served twice by the server (see
 * `serverDoubleReceives`, moto only): the same message id, and either the same receive count,
 * different first-receive times, or a copy handed out again a moment after the first while that
 * first copy was still with its subscriber (not settled yet) and far inside the queue's lease, so
 * no lapse or release can explain it. A redelivery after a lapse still fails the test, and the same
 * transport code runs strictly against ElasticMQ.
 */
function withoutDoubleReceives(counts: Map<string, number>, probes: readonly DeliveryProbe[]): Map<string, number> {
  const out = new Map(counts);
  for (const [id, n] of counts) {
    if (n !== 2) continue;
    const [first, second] = probes.flatMap((p) => p.deliveriesOf(id)).sort((x, y) => x.arrivedAt - y.arrivedAt);
    if (first === undefined || second === undefined) continue;
    const a = first.delivery.message.source;
    const b = second.delivery.message.source;
    if (a.kind !== 'queue' || b.kind !== 'queue' || a.messageId !== b.messageId) continue;
    const whileHeld =
      first.settledAt !== undefined &&
      second.arrivedAt <= first.settledAt &&
      second.arrivedAt - first.arrivedAt < DOUBLE_RECEIVE_WINDOW_MS;
    if (a.receiveCount === b.receiveCount || a.firstReceivedAt !== b.firstReceivedAt || whileHeld) out.set(id, 1);
  }
  return out;
}

/** Far below the 5 s lease of the test that tolerates double receives: no lapse fits inside it. */
const DOUBLE_RECEIVE_WINDOW_MS = 1_000;

function expectEachOnce(counts: Map<string, number>, probes: readonly DeliveryProbe[] = []): void {
  const twice = [...counts].filter(([, n]) => n > 1).map(([id, n]) => `${id} x${n}`);
  const details = [...counts]
    .filter(([, n]) => n > 1)
    .flatMap(([id]) => probes.flatMap((p) => p.deliveriesOf(id).map((r) => `${p.label} ${describeDelivery(r)}`)));
  expect(twice, `messages processed more than once${details.length > 0 ? `: ${details.join('; ')}` : ''}`).toEqual([]);
}

function describeDelivery(r: ReceivedDelivery): string {
  const source = r.delivery.message.source;
  const facts =
    source.kind === 'queue'
      ? `message ${source.messageId}, receive count ${source.receiveCount}, first received ${source.firstReceivedAt}`
      : `${source.topic}/${source.partition}@${source.offset}`;
  return `#${r.index} ${r.id}: arrived ${r.arrivedAt}, settled ${r.settledAt ?? '-'} (${r.state}), ${facts}`;
}

function expectNoSettleFailures(probes: readonly DeliveryProbe[]): void {
  const failed = probes.flatMap((p) =>
    p.failures().map((r) => `${p.label} #${r.index} ${r.id}: ${r.error instanceof Error ? r.error.message : r.error}`),
  );
  expect(failed, 'settles that rejected').toEqual([]);
}

/** The first delivery of each id, in arrival order. */
function firstDeliveries(probe: DeliveryProbe): ReceivedDelivery[] {
  const seen = new Set<string>();
  return probe.received.filter((r) => {
    if (r.id === undefined || seen.has(r.id)) return false;
    seen.add(r.id);
    return true;
  });
}

/**
 * Define the transport conformance suite for one implementation. `factory` runs before each test
 * and gives a fresh fixture (transport not yet started; the suite starts it and closes it).
 */
export function describeTransportConformance(
  name: string,
  factory: TransportConformanceFactory,
  options: TransportConformanceOptions = {},
): void {
  const opts = resolveOptions(options);
  const declared = opts.capabilities;

  describe(`transport conformance: ${name}`, () => {
    let current: ConformanceRun | undefined;

    beforeEach(async () => {
      current = await ConformanceRun.open(factory, opts);
    });

    afterEach(async () => {
      const run = current;
      current = undefined;
      await run?.close();
    });

    function scenario(
      title: string,
      requirement: Requirement | undefined,
      body: (run: ConformanceRun) => Promise<void>,
      extraTimeoutMs = 0,
    ): void {
      const fullTitle = requirement ? `${title} [requires ${requirement.label}]` : title;
      const unmetStatically = requirement?.caps !== undefined && declared !== undefined && !requirement.caps(declared);
      it.skipIf(unmetStatically)(
        fullTitle,
        async (ctx) => {
          const run = current;
          if (!run) throw new Error('transport conformance: the fixture was not created');
          if (requirement) {
            const met = (requirement.caps?.(run.caps) ?? true) && (requirement.fixture?.(run.fixture) ?? true);
            if (!met) ctx.skip(`needs ${requirement.label}`);
          }
          await body(run);
        },
        opts.testTimeoutMs + extraTimeoutMs,
      );
    }

    scenario('declares coherent capabilities and reports healthy once started', undefined, async (run) => {
      const c = run.caps;
      if (declared) expect(c, 'capabilities differ from those the suite was told').toEqual(declared);
      expect(typeof run.transport.system === 'string' && run.transport.system.length > 0).toBe(true);
      expect(['log', 'queue']).toContain(c.model);
      expect(['partition', 'group', 'none']).toContain(c.ordering);
      expect(Number.isFinite(c.maxRetryDelayMs) && c.maxRetryDelayMs >= 0).toBe(true);
      if (c.delayedRetry) expect(c.maxRetryDelayMs).toBeGreaterThan(0);
      if (c.leaseMs !== undefined) expect(c.leaseMs).toBeGreaterThan(0);
      if (c.ordering === 'partition') expect(c.model).toBe('log');
      expect(run.transport.health().ok).toBe(true);
      // start() is idempotent.
      await run.transport.start();
      expect(run.transport.health().ok).toBe(true);
    });

    scenario('round-trips body bytes, key and headers', undefined, async (run) => {
      const dest = await run.destination();
      const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);
      const bodies = [everyByte, new TextEncoder().encode('héllo ✓ — ünïcode'), Uint8Array.of(0xff, 0x00, 0xfe)];
      const published = bodies.map((body, i) =>
        run.message({ body, key: `round-trip-${i}`, headers: { 'x-custom': `value ${i} ✓ with spaces` } }),
      );
      const consumer = await run.subscribe(dest, ackAll);
      await run.publish(dest.publish, published);
      await run.untilSettled([consumer.probe], ids(published));

      for (const original of published) {
        const [first] = consumer.probe.deliveriesOf(original.id);
        if (!first) throw new Error(`no delivery of ${original.id}`);
        const { message, attempt, sizeBytes, orderingKey } = first.delivery;
        expect(bytesEqual(message.body, original.body), `body of ${original.id} byte for byte`).toBe(true);
        for (const [header, value] of Object.entries(original.headers))
          expect(message.headers[header], `header ${header}`).toBe(value);
        if (run.caps.model === 'log' || run.caps.ordering === 'group') expect(message.key).toBe(original.key);
        else if (message.key !== undefined) expect(message.key).toBe(original.key);
        expect(attempt).toBe(1);
        expect(sizeBytes).toBeGreaterThanOrEqual(original.body.byteLength);
        expect(typeof orderingKey === 'string' && orderingKey.length > 0).toBe(true);
        expect(first.abortedOnArrival).toBe(false);
        expect(Number.isFinite(message.timestamp) && message.timestamp > 0).toBe(true);
        if (run.caps.model === 'log') {
          expect(message.source.kind).toBe('log');
          if (message.source.kind === 'log') {
            expect(message.source.topic).toBe(dest.subscribe);
            expect(message.source.offset).toMatch(/^\d+$/);
            expect(Number.isInteger(message.source.partition) && message.source.partition >= 0).toBe(true);
          }
        } else {
          expect(message.source.kind).toBe('queue');
          if (message.source.kind === 'queue') {
            expect(message.source.queue.endsWith(dest.subscribe)).toBe(true);
            expect(message.source.messageId.length).toBeGreaterThan(0);
            expect(message.source.receiveCount).toBe(attempt);
          }
        }
      }
      expect(consumer.subscription.health().ok).toBe(true);
      expectEachOnce(consumer.probe.settledCounts('ack'));
      expectNoSettleFailures([consumer.probe]);
      expectAccounted(ids(published), consumer.probe.settledCounts('ack').keys());
    });

    scenario('two subscribers in one group together process every message exactly once', undefined, async (run) => {
      const dest = await run.destination({ partitions: 4 });
      const group = run.group('shared');
      const a = await run.subscribe(dest, ackAll, { group, label: 'subscriber A' });
      const b = await run.subscribe(dest, ackAll, { group, label: 'subscriber B' });
      const published = run.messages(40, (i) => ({ key: `key-${i % 8}` }));
      await run.publish(dest.publish, published.slice(0, 20));
      await run.publish(dest.publish, published.slice(20));
      await run.untilSettled([a.probe, b.probe], ids(published));

      const acked = ackedAcross([a.probe, b.probe]);
      expectEachOnce(options.serverDoubleReceives ? withoutDoubleReceives(acked, [a.probe, b.probe]) : acked, [
        a.probe,
        b.probe,
      ]);
      expectNoSettleFailures([a.probe, b.probe]);
      expectAccounted(ids(published), acked.keys());
    });

    scenario('redelivers a message settled for retry', requires.delayedRetry, async (run) => {
      const dest = await run.destination();
      const delayMs = Math.min(50, run.caps.maxRetryDelayMs);
      const consumer = await run.subscribe(dest, (r, probe) =>
        r.id !== undefined && probe.deliveriesOf(r.id).length === 1
          ? { kind: 'retry', delayMs, attempt: r.delivery.attempt }
          : { kind: 'ack' },
      );
      const published = run.messages(5);
      await run.publish(dest.publish, published);
      await run.untilSettled([consumer.probe], ids(published));

      for (const original of published) {
        const deliveries = consumer.probe.deliveriesOf(original.id);
        expect(deliveries.length, `deliveries of ${original.id}`).toBe(2);
        const [first, second] = deliveries as [ReceivedDelivery, ReceivedDelivery];
        expect(first.state).toBe('settled');
        expect(bytesEqual(second.delivery.message.body, original.body)).toBe(true);
        for (const [header, value] of Object.entries(original.headers))
          expect(second.delivery.message.headers[header]).toBe(value);
        if (run.caps.model === 'queue') expect(second.delivery.attempt).toBe(first.delivery.attempt + 1);
      }
      expectEachOnce(consumer.probe.settledCounts('ack'));
      expectNoSettleFailures([consumer.probe]);
      expectAccounted(ids(published), consumer.probe.settledCounts('ack').keys());
    });

    scenario(
      'makes a released message available again at once (queue: to the same subscriber; log: to the next subscriber of the group)',
      undefined,
      async (run) => {
        if (run.caps.model === 'queue') {
          // A lease far longer than the wait: only a real release can bring the message back in time.
          const dest = await run.destination({ leaseMs: 600_000 });
          const consumer = await run.subscribe(dest, (r, probe) =>
            r.id !== undefined && probe.deliveriesOf(r.id).length === 1 ? { kind: 'release' } : { kind: 'ack' },
          );
          const published = run.messages(3);
          await run.publish(dest.publish, published);
          await run.untilSettled([consumer.probe], ids(published));
          for (const m of published) expect(consumer.probe.deliveriesOf(m.id).length).toBe(2);
          expectEachOnce(consumer.probe.settledCounts('ack'));
          expectNoSettleFailures([consumer.probe]);
          expectAccounted(ids(published), consumer.probe.settledCounts('ack').keys());
          return;
        }
        const dest = await run.destination({ partitions: 1 });
        const group = run.group('release');
        const a = await run.subscribe(dest, holdAll, { group, label: 'subscriber A' });
        const published = run.messages(3, () => ({ key: 'one-key' }));
        await run.publish(dest.publish, published);
        await run.until('subscriber A to receive all three', () => ids(published).every((id) => a.probe.ids().has(id)));
        await a.subscription.stopFetching();
        const [first, ...rest] = a.probe.held();
        if (!first) throw new Error('nothing held');
        await a.probe.settle(first, { kind: 'ack' });
        for (const r of rest) await a.probe.settle(r, { kind: 'release' });
        await a.close();

        const b = await run.subscribe(dest, ackAll, { group, label: 'subscriber B' });
        const released = rest.flatMap((r) => (r.id === undefined ? [] : [r.id]));
        await run.untilSettled([b.probe], released);
        expect(b.probe.ids().has(first.id ?? ''), 'an acked message came back').toBe(false);
        const acked = ackedAcross([a.probe, b.probe]);
        expectEachOnce(acked);
        expectNoSettleFailures([a.probe, b.probe]);
        expectAccounted(ids(published), acked.keys());
      },
    );

    scenario(
      'a new subscriber of the group gets the rest after the first one closes',
      undefined,
      async (run) => {
        const dest = await run.destination({ partitions: 3 });
        const group = run.group('continue');
        const firstShare = 8;
        // A acks the first `firstShare` arrivals and holds the rest: per partition (or per queue) an
        // acknowledged prefix, which B must not see again.
        const a = await run.subscribe(dest, (r) => (r.index < firstShare ? { kind: 'ack' } : 'hold'), {
          group,
          label: 'subscriber A',
        });
        const published = run.messages(20, (i) => ({ key: `key-${i % 6}` }));
        await run.publish(dest.publish, published);
        await run.until(`subscriber A to ack ${firstShare}`, () => a.probe.settledCounts('ack').size >= firstShare);
        await a.subscription.stopFetching();
        for (const r of a.probe.held()) await a.probe.settle(r, { kind: 'release' });
        await a.close();

        const b = await run.subscribe(dest, ackAll, { group, label: 'subscriber B' });
        const rest = ids(published).filter((id) => !a.probe.settledCounts('ack').has(id));
        // A queue may still hold messages A fetched and never handed over until their lease lapses:
        // late is allowed, lost is not.
        await run.untilSettled([b.probe], rest, 'ack', opts.waitTimeoutMs + (run.caps.leaseMs ?? 0));
        const acked = ackedAcross([a.probe, b.probe]);
        expectEachOnce(acked);
        expectNoSettleFailures([a.probe, b.probe]);
        expectAccounted(ids(published), acked.keys());
      },
      LEASE_ALLOWANCE_MS,
    );

    scenario('a reopened subscriber does not get messages its group already acknowledged', undefined, async (run) => {
      const dest = await run.destination({ partitions: 1 });
      const group = run.group('resume');
      const a = await run.subscribe(dest, ackAll, { group, label: 'subscriber A' });
      const before = run.messages(5, () => ({ key: 'one-key' }));
      await run.publish(dest.publish, before);
      await run.untilSettled([a.probe], ids(before));
      await a.close();

      const after = run.messages(3, () => ({ key: 'one-key' }));
      await run.publish(dest.publish, after);
      const b = await run.subscribe(dest, ackAll, { group, label: 'subscriber A, reopened' });
      await run.untilSettled([b.probe], ids(after));
      // One partition / acked = deleted: had the old ones come back they would have come first.
      expect(
        ids(before).filter((id) => b.probe.ids().has(id)),
        'acknowledged messages redelivered',
      ).toEqual([]);
      const acked = ackedAcross([a.probe, b.probe]);
      expectEachOnce(acked);
      expectNoSettleFailures([a.probe, b.probe]);
      expectAccounted([...ids(before), ...ids(after)], acked.keys());
    });

    scenario('hands over the messages of one key in publish order', requires.ordered, async (run) => {
      const dest = await run.destination({ partitions: 3 });
      const consumer = await run.subscribe(dest, ackAll);
      const published = run.messages(24, (i) => ({ key: `ordered-${i % 4}` }));
      await run.publish(dest.publish, published.slice(0, 12));
      await run.publish(dest.publish, published.slice(12));
      await run.untilSettled([consumer.probe], ids(published));

      const position = new Map(published.map((m, i) => [m.id, i]));
      for (let k = 0; k < 4; k++) {
        const key = `ordered-${k}`;
        const arrivals = firstDeliveries(consumer.probe).filter((r) => r.delivery.message.key === key);
        const order = arrivals.map((r) => position.get(r.id ?? '') ?? -1);
        expect(order, `hand-over order of key ${key}`).toEqual([...order].sort((x, y) => x - y));
        expect(order.length).toBe(6);
        expect(new Set(arrivals.map((r) => r.delivery.orderingKey)).size, `ordering keys of ${key}`).toBe(1);
      }
      expectNoSettleFailures([consumer.probe]);
      expectAccounted(ids(published), consumer.probe.settledCounts('ack').keys());
    });

    scenario(
      "never hands a group's message to a second subscriber while an earlier one is unsettled",
      requires.groupOrdered,
      async (run) => {
        const dest = await run.destination();
        const group = run.group('fifo');
        const a = await run.subscribe(dest, holdAll, { group, label: 'subscriber A' });
        const [a1, a2] = run.messages(2, () => ({ key: 'group-a' })) as [OutgoingMessage, OutgoingMessage];
        await run.publish(dest.publish, [a1, a2]);
        await run.next(a.probe, `subscriber A to receive ${a1.id}`, (r) => r.id === a1.id);
        await a.subscription.stopFetching();

        const b = await run.subscribe(dest, ackAll, { group, label: 'subscriber B' });
        const [b1] = run.messages(1, () => ({ key: 'group-b' })) as [OutgoingMessage];
        await run.publish(dest.publish, [b1]);
        await run.untilSettled([b.probe], [b1.id]);
        // B was fetching after b1 arrived, behind a2 in the queue: only the group lock kept a2 from it.
        expect(b.probe.deliveriesOf(a2.id).length, `${a2.id} went to B while ${a1.id} was held`).toBe(0);

        for (const r of a.probe.held()) await a.probe.settle(r, { kind: 'ack' });
        await a.close();
        await run.untilSettled([a.probe, b.probe], [a1.id, a2.id]);
        const ackOrder = [...a.probe.received, ...b.probe.received]
          .filter((r) => r.delivery.message.key === 'group-a' && r.settlement?.kind === 'ack')
          .map((r) => r.id);
        expect(ackOrder).toEqual([a1.id, a2.id]);
        const acked = ackedAcross([a.probe, b.probe]);
        expectEachOnce(acked);
        expectNoSettleFailures([a.probe, b.probe]);
        expectAccounted([a1.id, a2.id, b1.id], acked.keys());
      },
    );

    scenario(
      'redelivers a retried message before the later messages of its group',
      requires.groupOrderedRetry,
      async (run) => {
        const dest = await run.destination();
        const consumer = await run.subscribe(dest, holdAll);
        const probe = consumer.probe;
        const [a1, a2] = run.messages(2, () => ({ key: 'group-a' })) as [OutgoingMessage, OutgoingMessage];
        const [b1] = run.messages(1, () => ({ key: 'group-b' })) as [OutgoingMessage];
        await run.publish(dest.publish, [a1, a2, b1]);
        const firstA1 = await run.next(probe, `first delivery of ${a1.id}`, (r) => r.id === a1.id);
        await probe.settle(firstA1, { kind: 'retry', delayMs: Math.min(50, run.caps.maxRetryDelayMs), attempt: 1 });

        // Play core's keyed scheduler: the oldest live, unsettled delivery of the group runs next.
        const nextOfGroup = (what: string) =>
          run.waitFor(what, () =>
            probe.received.find(
              (r) => r.delivery.message.key === 'group-a' && r.state === 'held' && !r.delivery.signal.aborted,
            ),
          );
        const second = await nextOfGroup(`the next delivery of group-a after retrying ${a1.id}`);
        expect(second.id, 'the retried message must come before the rest of its group').toBe(a1.id);
        await probe.settle(second, { kind: 'ack' });
        const third = await nextOfGroup(`${a2.id} after ${a1.id} was acknowledged`);
        expect(third.id).toBe(a2.id);
        await probe.settle(third, { kind: 'ack' });
        const other = await run.next(probe, `${b1.id}`, (r) => r.id === b1.id);
        await probe.settle(other, { kind: 'ack' });

        expectEachOnce(probe.settledCounts('ack'));
        expectNoSettleFailures([probe]);
        expectAccounted([a1.id, a2.id, b1.id], probe.settledCounts('ack').keys());
      },
    );

    scenario('keeps destinations apart', undefined, async (run) => {
      const first = await run.destination();
      const second = await run.destination();
      const toSecond = run.messages(4);
      const toFirst = run.messages(4);
      await run.publish(second.publish, toSecond);
      await run.publish(first.publish, toFirst);
      const a = await run.subscribe(first, ackAll, { label: 'subscriber of the first' });
      await run.untilSettled([a.probe], ids(toFirst));
      const b = await run.subscribe(second, ackAll, { label: 'subscriber of the second' });
      await run.untilSettled([b.probe], ids(toSecond));
      expect(sorted(a.probe.ids())).toEqual(sorted(ids(toFirst)));
      expect(sorted(b.probe.ids())).toEqual(sorted(ids(toSecond)));
      expectNoSettleFailures([a.probe, b.probe]);
      expectAccounted([...ids(toFirst), ...ids(toSecond)], ackedAcross([a.probe, b.probe]).keys());
    });

    scenario('gives every consumer group every message', requires.consumerGroups, async (run) => {
      const dest = await run.destination({ partitions: 3 });
      const one = await run.subscribe(dest, ackAll, { group: run.group('one'), label: 'group one' });
      const two = await run.subscribe(dest, ackAll, { group: run.group('two'), label: 'group two' });
      const published = run.messages(12);
      await run.publish(dest.publish, published);
      await run.untilSettled([one.probe], ids(published));
      await run.untilSettled([two.probe], ids(published));
      for (const consumer of [one, two]) {
        expectEachOnce(consumer.probe.settledCounts('ack'));
        expectAccounted(ids(published), consumer.probe.settledCounts('ack').keys());
      }
      expectNoSettleFailures([one.probe, two.probe]);
    });

    scenario('publishing and then closing the transport loses nothing', requires.secondClient, async (run) => {
      const dest = await run.destination({ partitions: 3 });
      const published = run.messages(30);
      // Three publishes in flight when close() is called: each must still be acknowledged.
      const sends = [0, 10, 20].map((from) => run.publish(dest.publish, published.slice(from, from + 10)));
      await run.transport.close();
      await Promise.all(sends);

      const other = await run.fixture.createTransport!();
      run.resources.track(() => other.close(), 'close the second client');
      await other.start();
      const consumer = await run.subscribe(dest, ackAll, { transport: other });
      await run.untilSettled([consumer.probe], ids(published));
      expectEachOnce(consumer.probe.settledCounts('ack'));
      expectNoSettleFailures([consumer.probe]);
      expectAccounted(ids(published), consumer.probe.settledCounts('ack').keys());
    });

    scenario(
      'keeps consuming and publishing across a broker restart',
      requires.restart,
      async (run) => {
        const dest = await run.destination();
        const consumer = await run.subscribe(dest, ackAll);
        const before = run.messages(5);
        await run.publish(dest.publish, before);
        await run.untilSettled([consumer.probe], ids(before));
        await run.fixture.restartBroker!();
        const after = run.messages(5);
        await run.publish(dest.publish, after);
        await run.untilSettled([consumer.probe], ids(after), 'ack', opts.waitTimeoutMs * 3);
        // Across a restart redelivery is allowed (at-least-once); loss is not.
        expectNoSettleFailures([consumer.probe]);
        expectAccounted([...ids(before), ...ids(after)], consumer.probe.settledCounts('ack').keys());
        expect(consumer.subscription.health().ok).toBe(true);
      },
      opts.waitTimeoutMs * 3,
    );

    scenario(
      'redelivers a message whose lease lapsed and aborts the lapsed delivery',
      requires.lease,
      async (run) => {
        const dest = await run.destination({ leaseMs: opts.shortLeaseMs });
        const consumer = await run.subscribe(dest, (r, probe) =>
          r.id !== undefined && probe.deliveriesOf(r.id).length === 1 ? 'hold' : { kind: 'ack' },
        );
        const [message] = run.messages(1) as [OutgoingMessage];
        await run.publish(dest.publish, [message]);
        const first = await run.next(consumer.probe, 'the first delivery', (r) => r.id === message.id);
        const second = await run.next(
          consumer.probe,
          `redelivery after the ${opts.shortLeaseMs} ms lease lapsed`,
          (r) => r.id === message.id && r.index !== first.index,
          opts.waitTimeoutMs + opts.shortLeaseMs,
        );
        await run.until("the lapsed delivery's signal to abort", () => first.delivery.signal.aborted);
        expect(second.delivery.attempt).toBe(first.delivery.attempt + 1);
        await run.untilSettled([consumer.probe], [message.id]);
        expectNoSettleFailures([consumer.probe]);
        expectAccounted([message.id], consumer.probe.settledCounts('ack').keys());
      },
      opts.shortLeaseMs,
    );

    scenario('replays from an offset', requires.replay, async (run) => {
      const dest = await run.destination({ partitions: 1 });
      const published = run.messages(10, () => ({ key: 'one-key' }));
      await run.publish(dest.publish, published);
      const first = await run.subscribe(dest, ackAll, { label: 'first reader' });
      await run.untilSettled([first.probe], ids(published));
      const offsetOf = (id: string) => {
        const source = first.probe.deliveriesOf(id)[0]?.delivery.message.source;
        if (source?.kind !== 'log') throw new Error(`no log position for ${id}`);
        return source.offset;
      };
      const from = 4;
      const replay = await run.subscribe(dest, ackAll, {
        label: 'replaying reader',
        startFrom: { offset: offsetOf(published[from]!.id) },
      });
      const expected = ids(published).slice(from);
      await run.untilSettled([replay.probe], expected);
      expect(firstDeliveries(replay.probe).map((r) => r.id)).toEqual(expected);
      expectNoSettleFailures([first.probe, replay.probe]);
      expectAccounted(expected, replay.probe.settledCounts('ack').keys());
    });

    scenario('replays from a timestamp', requires.replay, async (run) => {
      const dest = await run.destination({ partitions: 1 });
      const base = Date.now() - 60_000;
      const published = run.messages(10, (i) => ({ key: 'one-key', timestamp: base + i * 1_000 }));
      await run.publish(dest.publish, published);
      const first = await run.subscribe(dest, ackAll, { label: 'first reader' });
      await run.untilSettled([first.probe], ids(published));
      // Work from the timestamps the broker reports, so a broker that stamps append time still passes.
      const stamps = published.map((m) => first.probe.deliveriesOf(m.id)[0]!.delivery.message.timestamp);
      const at = stamps[6]!;
      const from = stamps.findIndex((t) => t >= at);
      const replay = await run.subscribe(dest, ackAll, {
        label: 'replaying reader',
        startFrom: { timestamp: at },
      });
      const expected = ids(published).slice(from);
      await run.untilSettled([replay.probe], expected);
      expect(firstDeliveries(replay.probe).map((r) => r.id)).toEqual(expected);
      expectNoSettleFailures([first.probe, replay.probe]);
    });

    scenario(
      'writes a dead-letter settlement to the dead-letter destination, readable there',
      undefined,
      async (run) => {
        const dest = await run.destination({ partitions: 1 });
        const dlq = await run.destination({ partitions: 1, purpose: 'dead-letter' });
        const group = run.group('dead-letter');
        const [good, poison, alsoGood] = run.messages(3, (i) => ({
          key: `dl-key-${i}`,
          headers: { 'x-custom': `original ${i}` },
        })) as [OutgoingMessage, OutgoingMessage, OutgoingMessage];
        const consumer = await run.subscribe(
          dest,
          (r) =>
            r.id === poison.id
              ? { kind: 'dead-letter', record: run.deadLetterRecord(r, group), destination: dlq.publish }
              : { kind: 'ack' },
          { group },
        );
        await run.publish(dest.publish, [good, poison, alsoGood]);
        await run.untilSettled([consumer.probe], [poison.id], 'dead-letter');
        await run.untilSettled([consumer.probe], [good.id, alsoGood.id]);

        const reader = await run.subscribe(dlq, ackAll, { label: 'dead-letter reader' });
        await run.untilSettled([reader.probe], [poison.id]);
        const original = consumer.probe.deliveriesOf(poison.id)[0]!.delivery.message;
        const dead = reader.probe.deliveriesOf(poison.id)[0]!.delivery.message;
        expect(bytesEqual(dead.body, poison.body), 'dead-lettered body byte for byte').toBe(true);
        for (const [header, value] of Object.entries(poison.headers))
          expect(dead.headers[header], `original header ${header}`).toBe(value);
        if (run.caps.model === 'log') expect(dead.key).toBe(poison.key);
        const record = readDeadLetterHeaders(dead.headers);
        expect(record.reason).toBe('handler-requested');
        expect(record.messageId).toBe(poison.id);
        expect(record.consumerGroup).toBe(group);
        expect(record.attempts).toBe(1);
        expect(record.source?.kind).toBe(original.source.kind);
        if (record.source?.kind === 'log' && original.source.kind === 'log') {
          expect(record.source.topic).toBe(original.source.topic);
          expect(record.source.partition).toBe(original.source.partition);
          expect(record.source.offset).toBe(original.source.offset);
        }
        if (record.source?.kind === 'queue' && original.source.kind === 'queue')
          expect(record.source.messageId).toBe(original.source.messageId);

        // Settled past: a message published after it arrives, and the poison one does not come back.
        const [sentinel] = run.messages(1, () => ({ key: 'dl-key-1' })) as [OutgoingMessage];
        await run.publish(dest.publish, [sentinel]);
        await run.untilSettled([consumer.probe], [sentinel.id]);
        expect(consumer.probe.deliveriesOf(poison.id).length, 'the dead-lettered message came back').toBe(1);

        expectEachOnce(consumer.probe.settledCounts('ack'));
        expectNoSettleFailures([consumer.probe, reader.probe]);
        expectAccounted(
          [good.id, poison.id, alsoGood.id, sentinel.id],
          consumer.probe.settledCounts('ack').keys(),
          consumer.probe.settledCounts('dead-letter').keys(),
        );
      },
    );
  });
}
