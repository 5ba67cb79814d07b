// Whatever a handler throws, its message is retried and dead-lettered with a readable record. The
// pipeline reads the thrown value's members (retry classification, telemetry, logs, the record);
// a value whose reads threw (a Proxy, a throwing getter) or whose stack was not a string made the
// pipeline itself throw, and the message was left unsettled: neither retried nor dead-lettered.

import { describe, expect, it } from 'vitest';
import type { DeadLetterRecord } from '../../src/dead-letter.js';
import { causeChain, readableThrown } from '../../src/errors.js';
import { defineHandler } from '../../src/handlers.js';
import { deliver, harness, OrderPlaced, orders } from './harness.js';

const trap = () => {
  throw new Error('trap');
};

const hostile: Array<[string, () => unknown, Partial<DeadLetterRecord['error']>]> = [
  [
    'a Proxy whose get trap throws',
    () => new Proxy({}, { get: trap }),
    { code: 'SWITCHYARD_HANDLER', message: expect.stringContaining('reading them threw: trap') },
  ],
  [
    'a Proxy of an Error whose getPrototypeOf trap throws',
    () => new Proxy(new Error('x'), { getPrototypeOf: trap }),
    { code: 'SWITCHYARD_HANDLER', message: expect.stringContaining('cannot be read') },
  ],
  [
    'an Error whose message getter throws',
    () => Object.defineProperty(new Error('x'), 'message', { get: trap }),
    { code: 'SWITCHYARD_HANDLER' },
  ],
  [
    'an Error whose cause is a Proxy that throws',
    () => new Error('outer', { cause: new Proxy({}, { get: trap }) }),
    { code: 'SWITCHYARD_HANDLER' },
  ],
  [
    'an Error with a number for a stack, an object for a message and a number for a name',
    () => Object.assign(new Error('x'), { stack: 5, message: { detail: 'an object' }, name: 7 }),
    { className: 'Error', message: '{"detail":"an object"}', stack: undefined },
  ],
  ['an object whose toString throws', () => ({ toString: trap }), { className: 'object', message: '{}' }],
];

describe('a handler that throws a value the pipeline cannot read', () => {
  it.each(hostile)('dead-letters the message after its retries: %s', async (_name, make, error) => {
    const h = harness();
    h.app.consume(orders, {
      group: 'g',
      retry: { maxAttempts: 2, initialDelayMs: 100, jitter: 'none' },
      retryBudget: false,
      handlers: [
        defineHandler(OrderPlaced, () => {
          throw make();
        }),
      ],
    });
    await h.app.start();
    const d = await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1 });
    await h.clock.whenSleeping((ms) => ms === 100);
    await h.clock.advance(100);
    const settlement = await d.settled;
    expect(settlement.kind).toBe('dead-letter');
    const record = (settlement as { record: DeadLetterRecord }).record;
    expect(record).toMatchObject({ reason: 'retries-exhausted', attempts: 2, error });
    expect(h.seen.filter((e) => e.name === 'app:error')).toEqual([]);
  });
});

describe('readableThrown', () => {
  it('returns readable values themselves', () => {
    const error = new Error('plain', { cause: new TypeError('inner') });
    const values: unknown[] = [error, 'text', 42, null, undefined, Symbol('s'), { code: 'E' }, Object.create(null)];
    for (const value of values) expect(readableThrown(value)).toBe(value);
  });

  it('ends a cause chain at a cause getter that throws', () => {
    const error = Object.defineProperty(new Error('outer'), 'cause', { get: trap });
    expect(causeChain(error)).toEqual([error]);
  });
});
