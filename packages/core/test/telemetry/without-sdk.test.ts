// Tracing through the global API with no SDK registered: process spans are then made only when
// something reads them, and must come out as the API's no-op tracer would have made them. Also: an
// SDK registered after the app was created is used from then on.
import { context, type SpanContext, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { defineHandler } from '../../src/handlers.js';
import { ChargeCard, deliver, harness, OrderPlaced, orders, payments } from '../runtime/harness.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PRODUCER_SPAN_ID = '00f067aa0ba902b7';
const traceparent = `00-${TRACE_ID}-${PRODUCER_SPAN_ID}-01`;

afterEach(() => {
  context.disable();
  trace.disable();
});

describe('without an SDK', () => {
  it('passes the consumed trace on to what a handler publishes', async () => {
    const h = harness({}, { propagator: new W3CTraceContextPropagator() });
    h.app.consume(orders, {
      group: 'billing',
      handlers: [
        defineHandler(OrderPlaced, async (m) => {
          await h.app.send(payments, ChargeCard, { orderId: m.payload.orderId, cents: 1 });
        }),
      ],
    });
    await h.app.start();
    await (await deliver(h.transport, OrderPlaced, { orderId: 'o-1', total: 1 }, { headers: { traceparent } })).settled;
    await h.app.stop();
    // Non-recording spans carry their parent's context: the trace (and the producer's span) go on.
    expect(h.transport.published.at(-1)?.message.headers.traceparent).toBe(traceparent);
  });

  it('publishes without a traceparent when the consumed message had none', async () => {
    const h = harness({}, { propagator: new W3CTraceContextPropagator() });
    h.app.consume(orders, {
      group: 'billing',
      handlers: [
        defineHandler(OrderPlaced, async (m) => {
          await h.app.send(payments, ChargeCard, { orderId: m.payload.orderId, cents: 1 });
        }),
      ],
    });
    await h.app.start();
    await (await deliver(h.transport, OrderPlaced, { orderId: 'o-1', total: 1 })).settled;
    await h.app.stop();
    expect(h.transport.published.at(-1)?.message.headers.traceparent).toBeUndefined();
  });

  it('makes the consumed trace active in the handler when a context manager is registered', async () => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const h = harness({}, { propagator: new W3CTraceContextPropagator() });
    const seen: Array<{ context: SpanContext | undefined; recording: boolean | undefined }> = [];
    h.app.consume(orders, {
      group: 'billing',
      handlers: [
        defineHandler(OrderPlaced, async () => {
          await Promise.resolve();
          const span = trace.getActiveSpan();
          seen.push({ context: span?.spanContext(), recording: span?.isRecording() });
        }),
      ],
    });
    await h.app.start();
    await (await deliver(h.transport, OrderPlaced, { orderId: 'o-1', total: 1 }, { headers: { traceparent } })).settled;
    await (await deliver(h.transport, OrderPlaced, { orderId: 'o-2', total: 1 })).settled;
    await h.app.stop();
    expect(seen).toEqual([
      { context: expect.objectContaining({ traceId: TRACE_ID, spanId: PRODUCER_SPAN_ID }), recording: false },
      // No parent: the no-op tracer's span with the invalid context, as before.
      { context: expect.objectContaining({ traceId: '0'.repeat(32), spanId: '0'.repeat(16) }), recording: false },
    ]);
  });

  it('honours a context manager registered while the app runs', async () => {
    const h = harness({}, { propagator: new W3CTraceContextPropagator() });
    const seen: Array<string | undefined> = [];
    h.app.consume(orders, {
      group: 'billing',
      handlers: [
        defineHandler(OrderPlaced, () => {
          seen.push(trace.getActiveSpan()?.spanContext().traceId);
        }),
      ],
    });
    await h.app.start();
    await (await deliver(h.transport, OrderPlaced, { orderId: 'o-1', total: 1 }, { headers: { traceparent } })).settled;
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    await (await deliver(h.transport, OrderPlaced, { orderId: 'o-2', total: 1 }, { headers: { traceparent } })).settled;
    await h.app.stop();
    // No manager: nothing is active in the handler. Registered later: the consumed trace is.
    expect(seen).toEqual([undefined, TRACE_ID]);
  });

  it('records process spans once an SDK is registered after the app was created', async () => {
    const h = harness();
    h.app.consume(orders, { group: 'shipping', handlers: [defineHandler(OrderPlaced, () => {})] });
    await h.app.start();
    await (await deliver(h.transport, OrderPlaced, { orderId: 'before', total: 1 })).settled;

    const spans = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
    await (await deliver(h.transport, OrderPlaced, { orderId: 'after', total: 1 }, { id: 'm-after' })).settled;
    await h.app.stop();
    expect(spans.getFinishedSpans().map((s) => [s.name, s.attributes['messaging.message.id']])).toEqual([
      ['process orders', 'm-after'],
    ]);
  });
});
