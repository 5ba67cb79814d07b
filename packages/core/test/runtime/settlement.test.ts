import { describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../src/errors.js';
import { defineHandler } from '../../src/handlers.js';
import type { Settlement } from '../../src/ports/transport.js';
import { deliver, harness, nextEvent, OrderPlaced, orders } from './harness.js';

describe('settlement failures', () => {
  it('retries a failed dead-letter write with backoff until it succeeds: never acks instead, never drops', async () => {
    const h = harness();
    h.app.consume(orders, {
      group: 'g',
      handlers: [
        defineHandler(OrderPlaced, () => {
          throw new SwitchyardError('SWITCHYARD_NON_RETRYABLE', 'poison');
        }),
      ],
    });
    let failures = 2;
    h.transport.onSettle = async (s) => {
      if (s.kind === 'dead-letter' && failures-- > 0)
        throw new SwitchyardError('SWITCHYARD_DEAD_LETTER_PUBLISH', 'dlq topic unavailable');
    };
    const errors: string[] = [];
    h.app.events.on('app:error', (e) => errors.push(e.context));
    await h.app.start();
    const dead = nextEvent(h.app, 'consumer:message:dead-lettered');
    const d = await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1 });

    // Backoff with jitter (random 0.5): 75 ms, then 150 ms.
    await h.clock.whenSleeping((ms) => ms === 75);
    await h.clock.advance(75);
    await h.clock.whenSleeping((ms) => ms === 150);
    await h.clock.advance(150);
    await dead;
    expect(d.settlements.map((s: Settlement) => s.kind)).toEqual(['dead-letter', 'dead-letter', 'dead-letter']);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/settling dead-letter of .* failed \(1×\); retrying in 100 ms/);
  });

  it('gives up, leaving the message unsettled, when the transport says retrying cannot help', async () => {
    const h = harness();
    h.app.consume(orders, { group: 'g', handlers: [defineHandler(OrderPlaced, () => {})] });
    h.transport.onSettle = async () => {
      throw new SwitchyardError('SWITCHYARD_TRANSPORT', 'partition revoked', { retryable: false });
    };
    await h.app.start();
    const error = nextEvent(h.app, 'app:error');
    const d = await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1 });
    expect((await error).context).toMatch(/left unsettled for the transport to redeliver/);
    expect(d.settlements).toEqual([{ kind: 'ack' }]);
    expect(h.seen.some((e) => e.name === 'consumer:message:acked')).toBe(false);
  });

  it('stops retrying a settlement at the shutdown deadline without acking', async () => {
    const h = harness();
    h.app.consume(orders, {
      group: 'g',
      handlers: [
        defineHandler(OrderPlaced, () => {
          throw new SwitchyardError('SWITCHYARD_NON_RETRYABLE', 'poison');
        }),
      ],
    });
    h.transport.onSettle = async (s) => {
      if (s.kind === 'dead-letter') throw new SwitchyardError('SWITCHYARD_DEAD_LETTER_PUBLISH', 'dlq down');
    };
    await h.app.start();
    const d = await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1 });
    await h.clock.whenSleeping((ms) => ms === 75);
    const stopped = h.app.stop({ deadlineMs: 1_000 });
    await h.clock.whenSleeping((ms) => ms === 1_000);
    await h.clock.advance(1_000);
    expect(await stopped).toEqual({ drained: false, abandoned: 1 });
    expect(new Set(d.settlements.map((s) => s.kind))).toEqual(new Set(['dead-letter']));
  });
});

describe('a delivery the transport lost', () => {
  it('aborts the running handler and does not settle', async () => {
    const h = harness();
    let aborted: unknown;
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    h.app.consume(orders, {
      group: 'g',
      handlers: [
        defineHandler(OrderPlaced, (_m, ctx) => {
          started();
          return new Promise<void>((_, reject) => {
            ctx.signal.addEventListener('abort', () => {
              aborted = ctx.signal.reason;
              reject(ctx.signal.reason);
            });
          });
        }),
      ],
    });
    await h.app.start();
    const d = await deliver(h.transport, OrderPlaced, { orderId: 'o', total: 1 });
    await running;
    const reason = new Error('lease lapsed');
    d.lose(reason);
    expect(await h.app.stop({ deadlineMs: 1_000 })).toEqual({ drained: true, abandoned: 0 });
    expect(aborted).toBe(reason);
    expect(d.settlements).toEqual([]);
  });
});
