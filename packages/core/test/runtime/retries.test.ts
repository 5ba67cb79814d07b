import { describe, expect, it } from 'vitest';
import type { DeadLetterRecord } from '../../src/dead-letter.js';
import { defineHandler } from '../../src/handlers.js';
import { queueCapabilities } from './fake-transport.js';
import { ChargeCard, deliver, harness, nextEvent, OrderPlaced, orders, payments } from './harness.js';

const policy = { maxAttempts: 3, initialDelayMs: 100, multiplier: 2, maxDelayMs: 10_000, jitter: 'none' } as const;

describe('retry in place (transport without delayed retry)', () => {
  it('sleeps the policy’s delays and runs again, keeping the key blocked until it succeeds', async () => {
    const h = harness();
    const log: string[] = [];
    let failuresLeft = 2;
    h.app.consume(orders, {
      group: 'g',
      retry: policy,
      retryBudget: false,
      handlers: [
        defineHandler(OrderPlaced, (m, ctx) => {
          log.push(`${m.payload.total}@${ctx.attempt}`);
          if (m.payload.total === 1 && failuresLeft-- > 0) throw new Error('flaky');
        }),
      ],
    });
    await h.app.start();
    const first = await deliver(h.transport, OrderPlaced, { orderId: 'o-1', total: 1 });
    const second = await deliver(h.transport, OrderPlaced, { orderId: 'o-1', total: 2 });

    expect(await h.clock.whenSleeping((ms) => ms === 100)).toBe(100);
    expect(log).toEqual(['1@1']);
    await h.clock.advance(100);
    expect(await h.clock.whenSleeping((ms) => ms === 200)).toBe(200);
    expect(log).toEqual(['1@1', '1@2']);
    await h.clock.advance(200);

    expect(await first.settled).toEqual({ kind: 'ack' });
    expect(await second.settled).toEqual({ kind: 'ack' });
    // The second message of the key waited for the first one's retries: order kept.
    expect(log).toEqual(['1@1', '1@2', '1@3', '2@1']);
    expect(first.settlements).toHaveLength(1);
    expect(
      h.seen
        .filter((e) => e.name === 'consumer:message:retried')
        .map((e) => (e.payload as { delayMs: number }).delayMs),
    ).toEqual([100, 200]);
  });

  it('dead-letters after maxAttempts with first and last failure times', async () => {
    const h = harness();
    h.app.consume(orders, {
      group: 'g',
      retry: policy,
      retryBudget: false,
      handlers: [
        defineHandler(OrderPlaced, () => {
          throw new TypeError('cannot read properties of undefined');
        }),
      ],
    });
    await h.app.start();
    const t0 = h.clock.now();
    const d = await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1 });
    await h.clock.whenSleeping((ms) => ms === 100);
    await h.clock.advance(100);
    await h.clock.whenSleeping((ms) => ms === 200);
    await h.clock.advance(200);
    const settlement = await d.settled;
    expect(settlement.kind).toBe('dead-letter');
    const record = (settlement as { record: DeadLetterRecord }).record;
    expect(record).toMatchObject({
      reason: 'retries-exhausted',
      attempts: 3,
      firstFailureAt: t0,
      lastFailureAt: t0 + 300,
      error: { className: 'TypeError', message: 'cannot read properties of undefined' },
    });
    const frames = record.error.stack?.split('\n').filter((l) => /^\s+at /.test(l)) ?? [];
    expect(frames.length).toBeLessThanOrEqual(10);
  });

  it('keeps the elapsed-time clock of earlier deliveries from the sy-first-failure-at header', async () => {
    const h = harness();
    h.app.consume(orders, {
      group: 'g',
      retry: { ...policy, maxAttempts: 100, maxElapsedMs: 60_000 },
      retryBudget: false,
      handlers: [
        defineHandler(OrderPlaced, () => {
          throw new Error('down');
        }),
      ],
    });
    await h.app.start();
    const longAgo = h.clock.now() - 120_000;
    const d = await deliver(
      h.transport,
      OrderPlaced,
      { orderId: 'o', total: 1 },
      { headers: { 'sy-first-failure-at': String(longAgo) } },
    );
    expect(await d.settled).toMatchObject({
      kind: 'dead-letter',
      record: { reason: 'retries-exhausted', firstFailureAt: longAgo },
    });
  });
});

describe('first failure time on queues', () => {
  it("takes a redelivered queue message's first receive time, so max-elapsed holds across receives", async () => {
    const h = harness(queueCapabilities);
    h.app.consume(payments, {
      group: 'billing',
      retry: { ...policy, maxAttempts: 100, maxElapsedMs: 60_000 },
      retryBudget: false,
      handlers: [
        defineHandler(ChargeCard, () => {
          throw new Error('gateway down');
        }),
      ],
    });
    await h.app.start();
    const firstReceivedAt = h.clock.now() - 120_000;
    const d = await deliver(h.transport, ChargeCard, { orderId: 'o', cents: 1 }, { attempt: 7, firstReceivedAt });
    expect(await d.settled).toMatchObject({
      kind: 'dead-letter',
      record: { reason: 'retries-exhausted', firstFailureAt: firstReceivedAt, attempts: 7 },
    });
  });
});

describe('delayed retry (transport redelivers later)', () => {
  it('hands the retry to the transport with the delay and attempt, and counts attempts from the receive count', async () => {
    const h = harness(queueCapabilities);
    h.app.consume(payments, {
      group: 'billing',
      retry: policy,
      retryBudget: false,
      handlers: [
        defineHandler(ChargeCard, () => {
          throw new Error('gateway 503');
        }),
      ],
    });
    await h.app.start();
    const first = await deliver(h.transport, ChargeCard, { orderId: 'o', cents: 1 }, { attempt: 1 });
    expect(await first.settled).toEqual({ kind: 'retry', delayMs: 100, attempt: 1 });
    const second = await deliver(h.transport, ChargeCard, { orderId: 'o', cents: 1 }, { attempt: 2 });
    expect(await second.settled).toEqual({ kind: 'retry', delayMs: 200, attempt: 2 });
    const third = await deliver(h.transport, ChargeCard, { orderId: 'o', cents: 1 }, { attempt: 3 });
    expect(await third.settled).toMatchObject({
      kind: 'dead-letter',
      record: { reason: 'retries-exhausted', attempts: 3 },
    });
    expect(h.clock.sleeps).toEqual([]);
  });
});

describe('retry budget', () => {
  it('dead-letters with budget-exhausted once retries outrun the budget', async () => {
    const h = harness(queueCapabilities);
    h.app.consume(payments, {
      group: 'billing',
      retry: { ...policy, maxAttempts: 10 },
      // No share of traffic, a floor of 5 retries per window: the sixth retry is refused.
      retryBudget: { ratio: 0, minRetriesPerSecond: 0.5, windowMs: 10_000 },
      handlers: [
        defineHandler(ChargeCard, () => {
          throw new Error('dependency down');
        }),
      ],
    });
    await h.app.start();
    const kinds: string[] = [];
    const reasons: string[] = [];
    for (let i = 0; i < 30; i++) {
      const s = await (await deliver(h.transport, ChargeCard, { orderId: `o-${i}`, cents: 1 })).settled;
      kinds.push(s.kind);
      if (s.kind === 'dead-letter') reasons.push(s.record.reason);
    }
    expect(kinds).toEqual([...Array(5).fill('retry'), ...Array(25).fill('dead-letter')]);
    expect(new Set(reasons)).toEqual(new Set(['budget-exhausted']));
  });
});

describe('abandoning a retry wait', () => {
  it('stops waiting and does not settle when the transport loses the message', async () => {
    const h = harness();
    let calls = 0;
    h.app.consume(orders, {
      group: 'g',
      retry: policy,
      retryBudget: false,
      handlers: [
        defineHandler(OrderPlaced, () => {
          calls++;
          throw new Error('down');
        }),
      ],
    });
    await h.app.start();
    const d = await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1 });
    await h.clock.whenSleeping((ms) => ms === 100);
    const idle = nextEvent(h.app, 'app:stopped');
    d.lose(new Error('partition revoked'));
    await h.app.stop({ deadlineMs: 1_000 });
    await idle;
    expect(d.settlements).toEqual([]);
    expect(calls).toBe(1);
  });
});
