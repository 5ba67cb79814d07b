import type { Envelope, HandlerContext } from '@switchyard/core';
import {
  defineEvent,
  defineHandler,
  isRetryable,
  isSwitchyardError,
  NonRetryableError,
  silentLogger,
} from '@switchyard/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { faults, flushPromises, injectFaults, ManualClock, withFaults } from '../../src/index.js';

interface Charge {
  readonly amount: number;
}

function envelope(amount: number, id = `m-${amount}`): Envelope<Charge> {
  return {
    id,
    type: 'ChargeCard',
    key: 'card-1',
    payload: { amount },
    headers: {},
    timestamp: 0,
    attempt: 1,
    correlationId: undefined,
    causationId: undefined,
    traceContext: {},
    source: { kind: 'queue', queue: 'payments', messageId: id, receiveCount: 1 },
    schemaVersion: 1,
  };
}

function context(attempt = 1, signal = new AbortController().signal): HandlerContext {
  return { signal, attempt, logger: silentLogger };
}

const charged: number[] = [];
async function chargeCard(message: Envelope<Charge>, _context: HandlerContext): Promise<void> {
  charged.push(message.payload.amount);
}

describe('faults.failTimes', () => {
  it('fails the first n calls with a retryable error, then runs the handler', async () => {
    charged.length = 0;
    const handle = injectFaults(chargeCard, faults.failTimes(2));
    const first = await handle(envelope(1), context(1)).catch((e: unknown) => e);
    const second = await handle(envelope(1), context(2)).catch((e: unknown) => e);
    await handle(envelope(1), context(3));
    expect(isSwitchyardError(first) && isRetryable(first)).toBe(true);
    expect((first as Error).message).toContain('failTimes(2), call 1');
    expect((second as Error).message).toContain('call 2');
    expect(charged).toEqual([1]);
    expect(handle.calls.map((c) => [c.attempt, c.status, c.injected])).toEqual([
      [1, 'threw', 'failTimes(2)'],
      [2, 'threw', 'failTimes(2)'],
      [3, 'returned', undefined],
    ]);
  });

  it('throws the error given, fresh per call when given a function', async () => {
    const handle = injectFaults(
      chargeCard,
      faults.failTimes(2, (info) => new Error(`nope ${info.call}`)),
    );
    await expect(handle(envelope(1), context())).rejects.toThrow('nope 1');
    await expect(handle(envelope(1), context())).rejects.toThrow('nope 2');
  });

  it('starts counting again after reset', async () => {
    const handle = injectFaults(chargeCard, faults.failTimes(1));
    await expect(handle(envelope(1), context())).rejects.toThrow();
    await handle(envelope(1), context());
    handle.reset();
    expect(handle.callCount).toBe(0);
    await expect(handle(envelope(1), context())).rejects.toThrow();
  });
});

describe('faults.failWith and failWhen', () => {
  it('fails every call with the given error', async () => {
    const bad = new NonRetryableError('card declined');
    const handle = faults.failWith(bad)(chargeCard);
    await expect(handle(envelope(1), context())).rejects.toBe(bad);
    await expect(handle(envelope(2), context())).rejects.toBe(bad);
    expect(handle.callCount).toBe(2);
  });

  it('fails only the calls the predicate picks', async () => {
    charged.length = 0;
    const handle = injectFaults(
      chargeCard,
      faults.failWhen<Envelope<Charge>>((m) => m.payload.amount > 100, new NonRetryableError('too much')),
    );
    await handle(envelope(50), context());
    await expect(handle(envelope(500), context())).rejects.toThrow('too much');
    await handle(envelope(70), context());
    expect(charged).toEqual([50, 70]);
    expect(handle.calls.map((c) => c.injected)).toEqual([undefined, 'failWhen(predicate)', undefined]);
  });
});

describe('faults.hangFor', () => {
  it('delays the handler by the given time on the given clock', async () => {
    charged.length = 0;
    const clock = new ManualClock();
    const handle = injectFaults(chargeCard, faults.hangFor(500, { clock }));
    const running = handle(envelope(9), context());
    await flushPromises();
    expect(handle.calls[0]?.status).toBe('running');
    await clock.advance(499);
    expect(charged).toEqual([]);
    await clock.advance(1);
    await running;
    expect(charged).toEqual([9]);
    expect(handle.calls[0]?.injected).toBe('hangFor(500ms)');
  });

  it('ends the hang with the abort reason when the signal aborts', async () => {
    const controller = new AbortController();
    const handle = injectFaults(chargeCard, faults.hangFor('forever'));
    const running = handle(envelope(1), context(1, controller.signal));
    controller.abort(new Error('handler timeout'));
    await expect(running).rejects.toThrow('handler timeout');
    expect(handle.calls[0]?.status).toBe('threw');
  });

  it('ignores the abort when told to, like a handler that does not listen', async () => {
    charged.length = 0;
    const clock = new ManualClock();
    const controller = new AbortController();
    const handle = injectFaults(chargeCard, faults.hangFor(100, { clock, signalAware: false }));
    const running = handle(envelope(3), context(1, controller.signal));
    controller.abort(new Error('handler timeout'));
    await clock.advance(100);
    await running;
    expect(charged).toEqual([3]);
    expect(handle.description).toBe('hangFor(100ms, ignoring abort) -> chargeCard');
  });

  it('hangs only the first calls when given times', async () => {
    const clock = new ManualClock();
    const handle = injectFaults(chargeCard, faults.hangFor('forever', { times: 1, clock }));
    void handle(envelope(1), context());
    await handle(envelope(2), context());
    expect(handle.calls.map((c) => c.status)).toEqual(['running', 'returned']);
  });
});

describe('injectFaults', () => {
  it('applies faults outermost first and records the whole chain', async () => {
    charged.length = 0;
    const clock = new ManualClock();
    const handle = injectFaults(chargeCard, faults.failTimes(1), faults.hangFor(10, { clock }));
    await expect(handle(envelope(1), context())).rejects.toThrow('failTimes(1)');
    const second = handle(envelope(1), context(2));
    await clock.advance(10);
    await second;
    expect(charged).toEqual([1]);
    expect(handle.description).toBe('failTimes(1) -> hangFor(10ms) -> chargeCard');
    expect(handle.calls.map((c) => c.injected)).toEqual(['failTimes(1)', 'hangFor(10ms)']);
  });

  it('composes by nesting as well, each layer keeping its own record', async () => {
    const inner = faults.failTimes(1)(chargeCard);
    const outer = faults.failWhen<Envelope<Charge>>((m) => m.payload.amount === 0)(inner);
    await expect(outer(envelope(0), context())).rejects.toThrow('failWhen');
    await expect(outer(envelope(1), context())).rejects.toThrow('failTimes(1)');
    await outer(envelope(2), context());
    expect(outer.callCount).toBe(3);
    expect(inner.callCount).toBe(2);
    expect(outer.description).toBe('failWhen(predicate) -> failTimes(1) -> chargeCard');
  });

  it('passes results through and keeps the handler parameter types', async () => {
    const handle = injectFaults(async (m: Envelope<Charge>) => ({ kind: 'ack' as const, amount: m.payload.amount }));
    expectTypeOf(handle).parameters.toEqualTypeOf<[message: Envelope<Charge>, context: HandlerContext]>();
    expectTypeOf(handle).returns.resolves.toEqualTypeOf<{ kind: 'ack'; amount: number }>();
    expect(await handle(envelope(4), context())).toEqual({ kind: 'ack', amount: 4 });
    expect(handle.calls[0]?.result).toEqual({ kind: 'ack', amount: 4 });
  });

  it('records errors the handler throws itself as not injected', async () => {
    const handle = injectFaults(async () => {
      throw new TypeError('bug');
    });
    await expect(handle(envelope(1), context())).rejects.toThrow('bug');
    expect(handle.calls[0]).toMatchObject({ status: 'threw', injected: undefined });
  });

  it('waits for a number of calls', async () => {
    const handle = injectFaults(chargeCard);
    const three = handle.waitForCalls(3);
    for (const n of [1, 2, 3, 4]) void handle(envelope(n), context());
    expect((await three).map((c) => c.call)).toEqual([1, 2, 3]);
  });

  it('refuses what is not a handler or not a fault', () => {
    expect(() => injectFaults('nope' as never)).toThrow(/must be a function/);
    expect(() => injectFaults(chargeCard, {} as never)).toThrow(/not a fault/);
    expect(() => faults.failTimes(-1)).toThrow(/non-negative integer/);
    expect(() => faults.hangFor(-5)).toThrow(/hangFor/);
  });
});

describe('withFaults', () => {
  it('wraps a handler definition, keeping its contract and options', async () => {
    const ChargeCard = defineEvent({
      name: 'ChargeCard',
      schema: {
        '~standard': {
          version: 1,
          vendor: 'test',
          validate: (value: unknown) => ({ value: value as Charge }),
        },
      },
      key: () => 'card',
    });
    const definition = defineHandler(ChargeCard, async () => {}, { timeoutMs: 1_000 });
    const faulty = withFaults(definition, faults.failTimes(1));
    expect(faulty.contract).toBe(ChargeCard);
    expect(faulty.options).toEqual({ timeoutMs: 1_000 });
    await expect(faulty.handle(envelope(1) as never, context())).rejects.toThrow('failTimes(1)');
    await faulty.handle(envelope(1) as never, context());
    expect(faulty.handle.callCount).toBe(2);
  });
});
