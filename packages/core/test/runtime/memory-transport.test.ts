// End to end on the in-memory transports: publish through the app, consume through the app, and
// look inside the broker for commits and dead letters.
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { defineHandler } from '../../src/handlers.js';
import { MemoryBroker } from '../../src/memory/broker.js';
import { MemoryLogTransport } from '../../src/memory/log-transport.js';
import { MemoryQueueTransport } from '../../src/memory/queue-transport.js';
import { type App, createApp } from '../../src/runtime/app.js';
import { ChargeCard, nextEvent, OrderPlaced, orders, payments, text } from './harness.js';

const apps: App[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.stop({ deadlineMs: 1_000 })));
});

function logApp() {
  const broker = new MemoryBroker({ clock: systemClock });
  broker.createTopic('orders', { partitions: 2 });
  const app = createApp({ transport: new MemoryLogTransport({ broker }) });
  apps.push(app);
  return { app, broker };
}

function queueApp() {
  const broker = new MemoryBroker({ clock: systemClock });
  broker.createQueue('payments', { visibilityTimeoutMs: 30_000 });
  const app = createApp({ transport: new MemoryQueueTransport({ broker }) });
  apps.push(app);
  return { app, broker };
}

/** Resolves after `count` events named `name`. */
function count(app: App, name: 'consumer:message:acked' | 'consumer:message:dead-lettered', n: number): Promise<void> {
  let seen = 0;
  return new Promise((resolve) => {
    const off = app.events.on(name, () => {
      if (++seen === n) {
        off();
        resolve();
      }
    });
  });
}

describe('on the in-memory log transport', () => {
  it('consumes in key order, retries in place and commits every offset', async () => {
    const { app, broker } = logApp();
    const seen: string[] = [];
    let flaky = 1;
    app.consume(orders, {
      group: 'shipping',
      retry: { maxAttempts: 3, initialDelayMs: 1, jitter: 'none' },
      retryBudget: false,
      handlers: [
        defineHandler(OrderPlaced, (m, ctx) => {
          if (m.payload.total === 1 && flaky-- > 0) throw new Error('flaky');
          seen.push(`${m.payload.orderId}:${m.payload.total}@${ctx.attempt}`);
        }),
      ],
    });
    const done = count(app, 'consumer:message:acked', 4);
    await app.start();
    for (const [orderId, total] of [
      ['a', 1],
      ['b', 1],
      ['a', 2],
      ['b', 2],
    ] as const)
      await app.publish(orders, OrderPlaced, { orderId, total });
    await done;
    expect(seen.filter((s) => s.startsWith('a:'))).toEqual(['a:1@2', 'a:2@1']);
    expect(seen.filter((s) => s.startsWith('b:'))).toEqual(['b:1@1', 'b:2@1']);
    const lag = broker.lag('shipping', 'orders');
    expect(lag.reduce((n, p) => n + p.lag, 0)).toBe(0);
  });

  it('writes a poison message to orders.dlq with its record and original body', async () => {
    const { app, broker } = logApp();
    app.consume(orders, {
      group: 'shipping',
      handlers: [
        defineHandler(OrderPlaced, () => {
          throw Object.assign(new Error('address missing'), { retryable: false });
        }),
      ],
    });
    const dead = nextEvent(app, 'consumer:message:dead-lettered');
    await app.start();
    const { id } = await app.publish(orders, OrderPlaced, { orderId: 'x', total: 9 });
    await dead;
    const [record] = broker.records('orders.dlq');
    expect(text(record?.body ?? null)).toBe('{"orderId":"x","total":9}');
    expect(record?.headers).toMatchObject({
      'sy-id': id,
      'sy-dlq-reason': 'non-retryable',
      'sy-dlq-consumer-group': 'shipping',
      'sy-dlq-error-message': 'address missing',
      'sy-dlq-source-topic': 'orders',
    });
  });
});

describe('on the in-memory queue transport', () => {
  it('retries through the queue (visibility) with the receive count as the attempt', async () => {
    const { app } = queueApp();
    const attempts: number[] = [];
    app.consume(payments, {
      group: 'billing',
      retry: { maxAttempts: 5, initialDelayMs: 1, jitter: 'none' },
      retryBudget: false,
      handlers: [
        defineHandler(ChargeCard, (_m, ctx) => {
          attempts.push(ctx.attempt);
          if (ctx.attempt < 3) throw new Error('gateway 503');
        }),
      ],
    });
    const acked = nextEvent(app, 'consumer:message:acked');
    await app.start();
    await app.send(payments, ChargeCard, { orderId: 'o', cents: 100 });
    expect(await acked).toMatchObject({ attempt: 3 });
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('dead-letters to payments.dlq once attempts run out, then deletes the original', async () => {
    const { app, broker } = queueApp();
    app.consume(payments, {
      group: 'billing',
      retry: { maxAttempts: 2, initialDelayMs: 1, jitter: 'none' },
      retryBudget: false,
      handlers: [
        defineHandler(ChargeCard, () => {
          throw new Error('card service down');
        }),
      ],
    });
    const dead = nextEvent(app, 'consumer:message:dead-lettered');
    await app.start();
    await app.send(payments, ChargeCard, { orderId: 'o', cents: 100 }, { id: 'charge-1' });
    await dead;
    const [entry] = broker.inspectDeadLetters('payments.dlq');
    expect(entry?.record).toMatchObject({ reason: 'retries-exhausted', attempts: 2, messageId: 'charge-1' });
    expect(text(entry?.body ?? null)).toBe('{"orderId":"o","cents":100}');
    expect(broker.messages('payments')).toEqual([]);
  });
});
