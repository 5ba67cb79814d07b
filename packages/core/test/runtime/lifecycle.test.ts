import { describe, expect, it } from 'vitest';
import { defineHandler } from '../../src/handlers.js';
import { deferred } from '../support/deferred.js';
import { deliver, harness, nextEvent, OrderPlaced, orders } from './harness.js';

/** A handler the test finishes by hand, one gate per order id. */
function gatedHandler() {
  const gates = new Map<string, { open: () => void; opened: Promise<void> }>();
  const started: string[] = [];
  const signals = new Map<string, AbortSignal>();
  const gate = (id: string) => {
    let g = gates.get(id);
    if (!g) {
      let open!: () => void;
      const opened = new Promise<void>((resolve) => {
        open = resolve;
      });
      g = { open, opened };
      gates.set(id, g);
    }
    return g;
  };
  const handler = defineHandler(OrderPlaced, async (m, ctx) => {
    started.push(m.payload.orderId);
    signals.set(m.payload.orderId, ctx.signal);
    await gate(m.payload.orderId).opened;
  });
  return { handler, open: (id: string) => gate(id).open(), started, signals };
}

describe('lifecycle', () => {
  it('reports health through starting, ready, draining and stopped', async () => {
    const h = harness();
    const g = gatedHandler();
    h.app.consume(orders, { group: 'g', handlers: [g.handler] });
    expect(h.app.health().status).toBe('starting');
    await h.app.start();
    expect(h.app.health()).toMatchObject({
      status: 'ready',
      transport: { ok: true },
      consumers: [
        { destination: 'orders', kind: 'topic', group: 'g', semantics: 'at-least-once', state: 'running', inFlight: 0 },
      ],
    });
    await deliver(h.transport, OrderPlaced, { orderId: 'a', total: 1 });
    expect(h.app.health().consumers[0]).toMatchObject({ inFlight: 1, queuedKeys: 1 });
    const stopped = h.app.stop({ deadlineMs: 10_000 });
    expect(h.app.health().status).toBe('draining');
    g.open('a');
    await stopped;
    expect(h.app.health().status).toBe('stopped');
    expect(h.transport.closed).toBe(1);
    expect(h.transport.subscription().closed).toBe(true);
  });

  it('stop() stops fetching, lets in-flight handlers finish, and releases deliveries that had not started', async () => {
    const h = harness();
    const g = gatedHandler();
    h.app.consume(orders, { group: 'g', handlers: [g.handler] });
    await h.app.start();
    const running = await deliver(h.transport, OrderPlaced, { orderId: 'a', total: 1 });
    const queued = await deliver(h.transport, OrderPlaced, { orderId: 'a', total: 2 });
    await nextTick();
    expect(g.started).toEqual(['a']);

    const stopped = h.app.stop({ deadlineMs: 10_000 });
    await nextTick();
    expect(h.transport.subscription().stoppedFetching).toBe(true);
    expect(await queued.settled).toEqual({ kind: 'release' });
    // Arriving while stopping: given straight back.
    const late = await deliver(h.transport, OrderPlaced, { orderId: 'b', total: 1 });
    expect(await late.settled).toEqual({ kind: 'release' });

    g.open('a');
    expect(await running.settled).toEqual({ kind: 'ack' });
    expect(await stopped).toEqual({ drained: true, abandoned: 2 });
    expect(g.started).toEqual(['a']);
    expect(h.seen.filter((e) => e.name === 'consumer:message:released')).toHaveLength(2);
  });

  it('aborts handlers still running at the deadline and releases their messages', async () => {
    const h = harness();
    const g = gatedHandler();
    h.app.consume(orders, { group: 'g', handlers: [g.handler] });
    await h.app.start();
    const stuck = await deliver(h.transport, OrderPlaced, { orderId: 'stuck', total: 1 });
    await nextTick();
    const stopped = h.app.stop({ deadlineMs: 5_000 });
    const done = nextEvent(h.app, 'app:stopped');
    await h.clock.whenSleeping((ms) => ms === 5_000);
    await h.clock.advance(5_000);
    expect(await stopped).toEqual({ drained: false, abandoned: 1 });
    expect(await done).toEqual({ drained: false, abandoned: 1 });
    expect(await stuck.settled).toEqual({ kind: 'release' });
    expect(g.signals.get('stuck')?.aborted).toBe(true);
  });

  it('is idempotent: start and stop twice give the same result', async () => {
    const h = harness();
    h.app.consume(orders, { group: 'g', handlers: [gatedHandler().handler] });
    await Promise.all([h.app.start(), h.app.start()]);
    expect(h.transport.subscriptions).toHaveLength(1);
    const [a, b] = await Promise.all([h.app.stop(), h.app.stop()]);
    expect(a).toBe(b);
    await expect(h.app.start()).rejects.toThrow(/cannot start: the app is stopped/);
  });

  it('refuses consume() after start()', async () => {
    const h = harness();
    h.app.consume(orders, { group: 'g', handlers: [gatedHandler().handler] });
    await h.app.start();
    expect(() => h.app.consume(orders, { group: 'g2', handlers: [gatedHandler().handler] })).toThrow(
      /Invalid option 'consume': was called after app.start\(\)/,
    );
    await h.app.stop();
  });

  it('stops gracefully on a process signal when asked to, and removes its listeners', async () => {
    const h = harness();
    h.app.consume(orders, { group: 'g', handlers: [gatedHandler().handler] });
    await h.app.start();
    const before = process.listenerCount('SIGTERM');
    const result = new Promise((resolve) => {
      h.app.handleSignals(['SIGTERM'], { onStopped: (r, signal) => resolve({ r, signal }) });
    });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    process.emit('SIGTERM', 'SIGTERM');
    expect(await result).toEqual({ r: { drained: true, abandoned: 0 }, signal: 'SIGTERM' });
    expect(process.listenerCount('SIGTERM')).toBe(before);
    expect(h.app.health().status).toBe('stopped');
  });
});

function nextTick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('hot keys', () => {
  it('warns when one ordering key’s backlog is far above the others', async () => {
    const warnings: Array<{ obj: object; msg?: string | undefined }> = [];
    const noop = () => {};
    const logger = {
      debug: noop,
      info: noop,
      error: noop,
      warn: (obj: object, msg?: string) => warnings.push({ obj, msg }),
    };
    const h = harness({}, { logger });
    const g = gatedHandler();
    h.app.consume(orders, { group: 'g', handlers: [g.handler] });
    await h.app.start();
    for (const id of ['b', 'c', 'd']) await deliver(h.transport, OrderPlaced, { orderId: id, total: 1 });
    for (let i = 0; i < 8; i++) await deliver(h.transport, OrderPlaced, { orderId: 'hot', total: i });
    expect(warnings).toEqual([
      {
        obj: { orderingKey: 'hot', backlog: 8, medianBacklog: 1 },
        msg: 'hot ordering key: its backlog is far above the median, other keys may wait behind it',
      },
    ]);
    for (const id of ['b', 'c', 'd', 'hot']) g.open(id);
    await h.app.stop();
  });
});

describe('a start that fails', () => {
  it('rejects with the cause and closes what it had opened', async () => {
    const h = harness();
    h.app.consume(orders, { group: 'g', handlers: [defineHandler(OrderPlaced, () => {})] });
    const cause = new Error('group coordinator not available');
    h.transport.subscribe = async () => {
      throw cause;
    };
    await expect(h.app.start()).rejects.toBe(cause);
    expect(h.app.health().status).toBe('stopped');
    expect(h.transport.closed).toBe(1);
    expect(h.seen.map((e) => e.name)).toEqual(['app:stopped']);
  });
});

describe('a stop during start', () => {
  it('makes start() reject with SWITCHYARD_SHUTDOWN and still settles what arrived meanwhile', async () => {
    const h = harness();
    const handled: string[] = [];
    h.app.consume(orders, {
      group: 'g',
      handlers: [defineHandler(OrderPlaced, (m) => void handled.push(m.payload.orderId))],
    });
    // Kafka hands records over before subscribe() resolves (the join finishes first); hold it there.
    const called = deferred();
    const held = deferred();
    const subscribe = h.transport.subscribe.bind(h.transport);
    h.transport.subscribe = async (spec, sink) => {
      const sub = await subscribe(spec, sink);
      called.resolve();
      await held.promise;
      return sub;
    };
    const starting = h.app.start();
    await called.promise;
    await deliver(h.transport, OrderPlaced, { orderId: 'early', total: 1 });
    const stopping = h.app.stop();
    held.resolve();
    await expect(starting).rejects.toMatchObject({ code: 'SWITCHYARD_SHUTDOWN', retryable: false });
    expect(await stopping).toEqual({ drained: true, abandoned: 0 });
    expect(handled).toEqual(['early']);
    expect(h.transport.settleLog.map((s) => s.settlement.kind)).toEqual(['ack']);
    expect(h.transport.subscription().closed).toBe(true);
    expect(h.app.health().status).toBe('stopped');
  });
});
