import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NonRetryableError } from '../../src/errors.js';
import { defineHandler } from '../../src/handlers.js';
import { ChargeCard, harness, OrderPlaced, orders, payments } from '../runtime/harness.js';
import { FakeClock } from '../support/fake-clock.js';

const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
const meterProvider = new MeterProvider({ readers: [reader] });
const propagator = new W3CTraceContextPropagator();
// Only the context manager is global (context.with needs one); providers are injected into the app.
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(async () => {
  context.disable();
  await meterProvider.shutdown();
  await tracerProvider.shutdown();
});
beforeEach(() => {
  spans.reset();
  metricExporter.reset();
});

function telemetryHarness() {
  return harness({}, { tracerProvider, meterProvider, propagator, clock: new FakeClock() });
}

/** Publishes through the app and hands the exact message it sent to the consumer. */
async function publishAndConsume(h: ReturnType<typeof telemetryHarness>, payload: { orderId: string; total: number }) {
  await h.app.publish(orders, OrderPlaced, payload);
  const sent = h.transport.published.at(-1)!.message;
  return h.transport
    .subscription()
    .deliver({ body: sent.body, headers: sent.headers, key: sent.key }, { orderingKey: sent.key ?? 'k' });
}

function byName(name: string): ReadableSpan[] {
  return spans.getFinishedSpans().filter((s) => s.name === name);
}

async function metric(name: string) {
  await reader.forceFlush();
  const all = metricExporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
  return all.filter((m) => m.descriptor.name === name).at(-1);
}

/** The data points of `name` for one consumer group (the provider is shared by every test here). */
async function groupPoints(name: string, group: string) {
  return ((await metric(name))?.dataPoints ?? []).filter(
    (p) =>
      p.attributes['messaging.consumer.group.name'] === group ||
      p.attributes['messaging.consumer.group.name'] === undefined,
  );
}

describe('tracing', () => {
  it('carries the trace from the send span to the process span through W3C headers', async () => {
    const h = telemetryHarness();
    h.app.consume(orders, { group: 'shipping', handlers: [defineHandler(OrderPlaced, () => {})] });
    await h.app.start();
    const d = await publishAndConsume(h, { orderId: 'o-1', total: 5 });
    await d.settled;
    await h.app.stop();

    const [send] = byName('send orders');
    const [process] = byName('process orders');
    expect(send?.kind).toBe(SpanKind.PRODUCER);
    expect(send?.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.destination.name': 'orders',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.kafka.message.key': 'o-1',
    });
    expect(h.transport.published[0]?.message.headers.traceparent).toMatch(
      new RegExp(`^00-${send?.spanContext().traceId}-${send?.spanContext().spanId}-01$`),
    );
    expect(process?.kind).toBe(SpanKind.CONSUMER);
    expect(process?.spanContext().traceId).toBe(send?.spanContext().traceId);
    expect(process?.parentSpanContext?.spanId).toBe(send?.spanContext().spanId);
    expect(process?.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.destination.name': 'orders',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.consumer.group.name': 'shipping',
      'messaging.message.id': h.transport.published[0]?.message.id,
      'messaging.destination.partition.id': '0',
      'messaging.kafka.offset': 0,
      'messaging.kafka.message.key': 'o-1',
      'switchyard.outcome': 'ack',
    });
    expect(process?.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it('marks a failed message’s span as an error with error.type', async () => {
    const h = telemetryHarness();
    h.app.consume(orders, {
      group: 'shipping',
      handlers: [
        defineHandler(OrderPlaced, () => {
          throw new NonRetryableError('address missing');
        }),
      ],
    });
    await h.app.start();
    await (await publishAndConsume(h, { orderId: 'o-2', total: 1 })).settled;
    await h.app.stop();
    const [process] = byName('process orders');
    expect(process?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'address missing' });
    expect(process?.attributes).toMatchObject({
      'error.type': 'SWITCHYARD_NON_RETRYABLE',
      'switchyard.outcome': 'dead-letter',
    });
    expect(process?.events.map((e) => e.name)).toContain('exception');
  });

  it('nests under a span already active where the transport delivers, and links the producer', async () => {
    const h = telemetryHarness();
    h.app.consume(orders, { group: 'shipping', handlers: [defineHandler(OrderPlaced, () => {})] });
    await h.app.start();
    await h.app.publish(orders, OrderPlaced, { orderId: 'o-3', total: 1 });
    const sent = h.transport.published[0]!.message;
    const outer = tracerProvider
      .getTracer('instrumentation-kafkajs')
      .startSpan('orders process', { kind: SpanKind.CONSUMER });
    const d = context.with(trace.setSpan(context.active(), outer), () =>
      h.transport
        .subscription()
        .deliver({ body: sent.body, headers: sent.headers, key: sent.key }, { orderingKey: 'o-3' }),
    );
    await d.settled;
    outer.end();
    await h.app.stop();
    const [send] = byName('send orders');
    const [process] = byName('process orders');
    expect(process?.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    expect(process?.links.map((l) => l.context.spanId)).toEqual([send?.spanContext().spanId]);
  });

  it('parents what a handler publishes, and spans it starts, on the process span', async () => {
    const h = telemetryHarness();
    const handlerTracer = tracerProvider.getTracer('handler');
    h.app.consume(orders, {
      group: 'billing',
      handlers: [
        defineHandler(OrderPlaced, async (m) => {
          handlerTracer.startSpan('charge').end();
          await h.app.send(payments, ChargeCard, { orderId: m.payload.orderId, cents: 1 });
        }),
      ],
    });
    await h.app.start();
    await (await publishAndConsume(h, { orderId: 'o-4', total: 1 })).settled;
    await h.app.stop();
    const [process] = byName('process orders');
    const [sendPayments] = byName('send payments');
    const [charge] = byName('charge');
    expect(sendPayments?.parentSpanContext?.spanId).toBe(process?.spanContext().spanId);
    expect(charge?.parentSpanContext?.spanId).toBe(process?.spanContext().spanId);
    expect(h.transport.published[1]?.message.headers.traceparent).toContain(sendPayments?.spanContext().spanId);
  });
});

describe('metrics', () => {
  it('records process duration, consumed, sent, retries and dead letters', async () => {
    const h = telemetryHarness();
    let fail = 1;
    h.app.consume(orders, {
      group: 'metrics',
      retry: { maxAttempts: 2, initialDelayMs: 10, jitter: 'none' },
      retryBudget: false,
      handlers: [
        defineHandler(OrderPlaced, (m) => {
          if (m.payload.orderId === 'poison') throw new NonRetryableError('no');
          if (fail-- > 0) throw new Error('flaky');
        }),
      ],
    });
    await h.app.start();
    const first = await publishAndConsume(h, { orderId: 'ok', total: 1 });
    await h.clock.whenSleeping((ms) => ms === 10);
    await h.clock.advance(10);
    await first.settled;
    await (await publishAndConsume(h, { orderId: 'poison', total: 1 })).settled;

    const labels = {
      'messaging.system': 'kafka',
      'messaging.destination.name': 'orders',
      'messaging.consumer.group.name': 'metrics',
    };
    const duration = await metric('messaging.process.duration');
    expect(duration?.descriptor.unit).toBe('s');
    const points = duration?.dataPoints ?? [];
    expect(points.map((p) => p.attributes)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ...labels, 'switchyard.outcome': 'ack' }),
        expect.objectContaining({
          ...labels,
          'switchyard.outcome': 'dead-letter',
          'error.type': 'SWITCHYARD_NON_RETRYABLE',
        }),
      ]),
    );
    expect((await groupPoints('messaging.client.consumed.messages', 'metrics')).map((p) => p.value)).toEqual([2]);
    expect(
      (await groupPoints('switchyard.retries', 'metrics')).map((p) => [p.value, p.attributes['switchyard.retry.kind']]),
    ).toEqual([[1, 'in-place']]);
    expect(
      (await groupPoints('switchyard.dead_letters', 'metrics')).map((p) => [
        p.value,
        p.attributes['switchyard.dead_letter.reason'],
      ]),
    ).toEqual([[1, 'non-retryable']]);
    expect((await groupPoints('switchyard.in_flight', 'metrics')).map((p) => p.value)).toEqual([0]);
    const sentBefore = (await metric('messaging.client.sent.messages'))?.dataPoints.find(
      (p) => p.attributes['messaging.destination.name'] === 'orders' && p.attributes['error.type'] === undefined,
    )?.value as number;
    await h.app.publish(orders, OrderPlaced, { orderId: 'more', total: 1 });
    const sentAfter = (await metric('messaging.client.sent.messages'))?.dataPoints.find(
      (p) => p.attributes['messaging.destination.name'] === 'orders' && p.attributes['error.type'] === undefined,
    )?.value;
    expect(sentAfter).toBe(sentBefore + 1);
    await h.app.stop();
  });

  it('turns what the transport observes into lag and depth gauges', async () => {
    const h = telemetryHarness();
    h.app.consume(orders, { group: 'lagging', handlers: [defineHandler(OrderPlaced, () => {})] });
    await h.app.start();
    const observer = h.transport.subscription().spec.observer;
    observer.lag(42, { destination: 'orders', partition: 1 });
    observer.depth(7, { destination: 'orders', state: 'visible' });
    expect((await metric('messaging.kafka.consumer.lag'))?.dataPoints).toEqual([
      expect.objectContaining({
        value: 42,
        attributes: expect.objectContaining({
          'messaging.destination.partition.id': '1',
          'messaging.consumer.group.name': 'lagging',
        }),
      }),
    ]);
    expect((await metric('switchyard.queue.depth'))?.dataPoints).toEqual([
      expect.objectContaining({
        value: 7,
        attributes: expect.objectContaining({ 'switchyard.queue.state': 'visible' }),
      }),
    ]);
    await h.app.stop();
  });
});
