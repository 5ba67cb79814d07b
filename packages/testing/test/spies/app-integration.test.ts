// The spies and the fault injector on a running app (in-memory queue transport): what a test of a
// Switchyard service looks like, and proof that the spies read the events the runtime emits.

import type { Envelope, HandlerFn, StandardSchemaV1 } from '@switchyard/core';
import {
  createApp,
  defineCommand,
  defineHandler,
  defineQueue,
  errorCodeOf,
  MemoryQueueTransport,
  NonRetryableError,
} from '@switchyard/core';
import { afterEach, describe, expect, it } from 'vitest';
import { faults, injectFaults, spyOn, spyOnPublishes, TestResources, uniqueName } from '../../src/index.js';

interface Charge {
  readonly cardId: string;
  readonly amount: number;
}

const chargeSchema: StandardSchemaV1<unknown, Charge> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: (value) => {
      const v = value as Partial<Charge> | null;
      return typeof v?.cardId === 'string' && typeof v.amount === 'number'
        ? { value: { cardId: v.cardId, amount: v.amount } }
        : { issues: [{ message: 'expected { cardId, amount }' }] };
    },
  },
};

const ChargeCard = defineCommand({ name: 'ChargeCard', schema: chargeSchema, key: (p) => p.cardId });

const resources = new TestResources();
afterEach(() => resources.cleanup());

async function startApp(handle: HandlerFn<typeof ChargeCard>, timeoutMs?: number) {
  const payments = defineQueue({ name: uniqueName('payments'), commands: [ChargeCard] });
  const app = createApp({ transport: new MemoryQueueTransport() });
  app.consume(payments, {
    group: 'billing',
    handlers: [defineHandler(ChargeCard, handle, timeoutMs === undefined ? {} : { timeoutMs })],
    retry: { maxAttempts: 4, initialDelayMs: 1, jitter: 'none' },
    retryBudget: false,
  });
  const spy = spyOn(app.events);
  const sent = spyOnPublishes(app.events);
  await app.start();
  resources.track(() => app.stop(), 'stop the app');
  return { app, payments, spy, sent };
}

describe('spies and faults on a running app', () => {
  it('sees a handler that fails twice retried twice, then acknowledged', async () => {
    const charged: number[] = [];
    const handle = injectFaults(async (m: Envelope<Charge>) => {
      charged.push(m.payload.amount);
    }, faults.failTimes(2));
    const { app, payments, spy, sent } = await startApp(handle);

    const { id } = await app.send(payments, ChargeCard, { cardId: 'card-1', amount: 42 });
    expect((await sent.waitFor(id)).destination).toBe(payments.name);
    const acked = await spy.waitFor(id, 'acked');

    expect(acked.attempt).toBe(3);
    expect(spy.events('retried').map((e) => e.attempt)).toEqual([1, 2]);
    expect(spy.historyOf(id).map((r) => r.outcome)).toEqual(['retried', 'retried', 'acked']);
    expect(handle.calls.map((c) => [c.attempt, c.status, c.injected])).toEqual([
      [1, 'threw', 'failTimes(2)'],
      [2, 'threw', 'failTimes(2)'],
      [3, 'returned', undefined],
    ]);
    expect(charged).toEqual([42]);
  });

  it('sees a non-retryable failure dead-lettered with its record', async () => {
    const handle = injectFaults(
      async (_m: Envelope<Charge>) => {},
      faults.failWith(new NonRetryableError('card declined')),
    );
    const { app, payments, spy } = await startApp(handle);

    const { id } = await app.send(payments, ChargeCard, { cardId: 'card-2', amount: 7 });
    const dead = await spy.waitFor(id, 'dead-lettered');

    expect(dead.deadLetterDestination).toBe(`${payments.name}.dlq`);
    expect(dead.record.reason).toBe('non-retryable');
    expect(dead.record.error.message).toBe('card declined');
    expect(handle.callCount).toBe(1);
    expect(spy.counts()).toMatchObject({ acked: 0, retried: 0, 'dead-lettered': 1 });
  });

  it('sees a hang past the handler timeout aborted and retried', async () => {
    const handle = injectFaults(async (_m: Envelope<Charge>) => {}, faults.hangFor('forever', { times: 1 }));
    const { app, payments, spy } = await startApp(handle, 50);

    const { id } = await app.send(payments, ChargeCard, { cardId: 'card-3', amount: 1 });
    const retried = await spy.waitFor(id, 'retried');
    await spy.waitFor(id, 'acked', { attempt: 2 });

    expect(errorCodeOf(retried.error)).toBe('SWITCHYARD_HANDLER_TIMEOUT');
    expect(handle.calls.map((c) => c.status)).toEqual(['threw', 'returned']);
  });
});
