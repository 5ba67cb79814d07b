// Spans and metrics for consuming and publishing, through `@opentelemetry/api` only: with no SDK
// registered every call is a no-op, so the cost of having telemetry wired in is close to zero.
//
// Trace shape:
//   send {destination}     PRODUCER, injects W3C context into the message headers
//   process {destination}  CONSUMER, parent = the producer context extracted from the headers
// When a span is already active where the transport handed the message over (for example
// @opentelemetry/instrumentation-kafkajs wraps `eachMessage` in its own process span), Switchyard
// does not re-parent: its span nests under the active one and LINKS to the producer context, so the
// trace is not split and nothing is double-counted as a root.

import {
  type Attributes,
  type Context,
  type Counter,
  context as contextApi,
  defaultTextMapGetter,
  defaultTextMapSetter,
  type Histogram,
  isSpanContextValid,
  type Link,
  type Meter,
  type MeterProvider,
  metrics,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type Tracer,
  type TracerProvider,
  trace,
  type UpDownCounter,
} from '@opentelemetry/api';
import type { SourcePosition } from '../envelope.js';
import { causeChain, errorCodeOf } from '../errors.js';
import type { TransportObserver } from '../ports/transport.js';
import { Attr, Metric } from './attributes.js';

export const INSTRUMENTATION_NAME = '@switchyard/core';
export const INSTRUMENTATION_VERSION = '0.1.0';

export interface TelemetryOptions {
  /** Default: the global tracer provider (`trace.getTracerProvider()`). */
  readonly tracerProvider?: TracerProvider | undefined;
  /** Default: the global meter provider (`metrics.getMeterProvider()`). */
  readonly meterProvider?: MeterProvider | undefined;
  /** Default: the global propagator (`propagation`), W3C trace context once an SDK registers it. */
  readonly propagator?: TextMapPropagator | undefined;
}

export interface ProcessSpanInfo {
  readonly system: string;
  readonly destination: string;
  readonly consumerGroup: string;
  readonly messageId: string;
  readonly messageType: string | undefined;
  readonly source: SourcePosition;
  readonly transportKey: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly attempt: number;
  readonly bodySize: number;
  readonly correlationId: string | undefined;
  /** The context active where the transport handed the delivery over. */
  readonly outer: Context;
}

export interface ProcessSpan {
  readonly span: Span;
  /** Context with the process span active: the parent of anything the handler publishes. */
  readonly context: Context;
  /** Ends the span and records `messaging.process.duration`. `error` marks it failed. */
  end(outcome: string, error?: unknown): void;
}

export interface SendSpanInfo {
  readonly system: string;
  readonly destination: string;
  readonly messageId: string;
  readonly messageType: string;
  readonly key: string | undefined;
  readonly bodySize: number;
  readonly correlationId: string | undefined;
  /** Parent: the handler's process span when publishing from inside a handler, else the active context. */
  readonly parent: Context;
}

export interface SendSpan {
  readonly span: Span;
  /** Injects the send span's context into `headers` (W3C traceparent/tracestate). */
  inject(headers: Record<string, string>): void;
  end(error?: unknown): void;
}

interface ConsumerLabels {
  readonly system: string;
  readonly destination: string;
  readonly consumerGroup: string;
}

/** `error.type` for an error: its Switchyard code, else its class name. */
export function errorTypeOf(error: unknown): string {
  const code = errorCodeOf(error);
  if (code) return code;
  const first = causeChain(error)[0];
  if (first instanceof Error) return first.name || first.constructor.name || 'Error';
  return '_OTHER';
}

export class Telemetry {
  readonly #tracer: Tracer;
  readonly #meter: Meter;
  readonly #propagator: TextMapPropagator | undefined;
  readonly #processDuration: Histogram;
  readonly #sendDuration: Histogram;
  readonly #consumed: Counter;
  readonly #sent: Counter;
  readonly #retries: Counter;
  readonly #deadLetters: Counter;
  readonly #duplicates: Counter;
  readonly #hotKeys: Counter;
  readonly #inFlight: UpDownCounter;
  /** Latest gauge values reported by transports, keyed by their attribute set. */
  readonly #lag = new Map<string, { value: number; attributes: Attributes }>();
  readonly #depth = new Map<string, { value: number; attributes: Attributes }>();

  constructor(options: TelemetryOptions = {}) {
    const tracerProvider = options.tracerProvider ?? trace.getTracerProvider();
    const meterProvider = options.meterProvider ?? metrics.getMeterProvider();
    this.#tracer = tracerProvider.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
    this.#meter = meterProvider.getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
    this.#propagator = options.propagator;

    const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
    this.#processDuration = this.#meter.createHistogram(Metric.processDuration, {
      unit: 's',
      description: 'Duration of processing operation (handler and settlement).',
      advice: { explicitBucketBoundaries: durationBuckets },
    });
    this.#sendDuration = this.#meter.createHistogram(Metric.operationDuration, {
      unit: 's',
      description: 'Duration of messaging operation initiated by a producer or consumer client.',
      advice: { explicitBucketBoundaries: durationBuckets },
    });
    this.#consumed = this.#meter.createCounter(Metric.consumed, {
      unit: '{message}',
      description: 'Number of messages that were delivered to the application.',
    });
    this.#sent = this.#meter.createCounter(Metric.sent, {
      unit: '{message}',
      description: 'Number of messages producer attempted to send to the broker.',
    });
    this.#retries = this.#meter.createCounter(Metric.retries, {
      unit: '{retry}',
      description: 'Retries scheduled (in place, delayed through the transport, or deferred by an open circuit).',
    });
    this.#deadLetters = this.#meter.createCounter(Metric.deadLetters, {
      unit: '{message}',
      description: 'Messages written to a dead-letter destination, by reason.',
    });
    this.#duplicates = this.#meter.createCounter(Metric.duplicates, {
      unit: '{message}',
      description: 'Redeliveries absorbed by idempotency.',
    });
    this.#hotKeys = this.#meter.createCounter(Metric.hotKeys, {
      unit: '{detection}',
      description: 'Times an ordering key was found with a backlog far above the median.',
    });
    this.#inFlight = this.#meter.createUpDownCounter(Metric.inFlight, {
      unit: '{message}',
      description: 'Messages admitted by the keyed scheduler and not yet settled.',
    });
    this.#meter
      .createObservableGauge(Metric.kafkaLag, {
        unit: '{message}',
        description: 'Log end offset minus committed offset, per partition.',
      })
      .addCallback((result) => {
        for (const { value, attributes } of this.#lag.values()) result.observe(value, attributes);
      });
    this.#meter
      .createObservableGauge(Metric.queueDepth, {
        unit: '{message}',
        description: 'Queue depth by state (visible, in-flight, delayed) and age of the oldest message in seconds.',
      })
      .addCallback((result) => {
        for (const { value, attributes } of this.#depth.values()) result.observe(value, attributes);
      });
  }

  /** The producer context carried in message headers (W3C traceparent/tracestate), if any. */
  extract(headers: Readonly<Record<string, string>>, base: Context = ROOT_CONTEXT): Context {
    return this.#propagator
      ? this.#propagator.extract(base, headers, defaultTextMapGetter)
      : propagation.extract(base, headers, defaultTextMapGetter);
  }

  inject(ctx: Context, headers: Record<string, string>): void {
    if (this.#propagator) this.#propagator.inject(ctx, headers, defaultTextMapSetter);
    else propagation.inject(ctx, headers, defaultTextMapSetter);
  }

  startProcess(info: ProcessSpanInfo): ProcessSpan {
    const started = performance.now();
    const producer = trace.getSpanContext(this.extract(info.headers));
    const producerValid = producer !== undefined && isSpanContextValid(producer);
    const outerSpan = trace.getSpanContext(info.outer);
    const nested = outerSpan !== undefined && isSpanContextValid(outerSpan);

    const parent = nested
      ? info.outer
      : producerValid
        ? trace.setSpanContext(info.outer, producer)
        : trace.deleteSpan(info.outer);
    const links: Link[] = nested && producerValid ? [{ context: producer }] : [];

    const labels: ConsumerLabels = info;
    const attributes: Attributes = {
      ...this.#consumerAttributes(labels),
      [Attr.operationType]: 'process',
      [Attr.operationName]: 'process',
      [Attr.messageId]: info.messageId,
      [Attr.attempt]: info.attempt,
      [Attr.bodySize]: info.bodySize,
    };
    if (info.messageType !== undefined) attributes[Attr.messageType] = info.messageType;
    if (info.correlationId !== undefined) attributes[Attr.conversationId] = info.correlationId;
    if (info.source.kind === 'log') {
      attributes[Attr.partitionId] = String(info.source.partition);
      const offset = Number(info.source.offset);
      if (Number.isSafeInteger(offset)) attributes[Attr.kafkaOffset] = offset;
      if (info.transportKey !== undefined) attributes[Attr.kafkaKey] = info.transportKey;
    }

    const span = this.#tracer.startSpan(
      `process ${info.destination}`,
      { kind: SpanKind.CONSUMER, attributes, links },
      parent,
    );
    const spanContext = trace.setSpan(parent, span);
    let ended = false;
    return {
      span,
      context: spanContext,
      end: (outcome, error) => {
        if (ended) return;
        ended = true;
        span.setAttribute(Attr.outcome, outcome);
        const metricAttributes: Attributes = {
          ...this.#consumerAttributes(labels),
          [Attr.operationName]: 'process',
          [Attr.outcome]: outcome,
        };
        if (error !== undefined) {
          const type = errorTypeOf(error);
          span.setAttribute(Attr.errorType, type);
          metricAttributes[Attr.errorType] = type;
          if (error instanceof Error) span.recordException(error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: describe(error) });
        }
        span.end();
        this.#processDuration.record((performance.now() - started) / 1000, metricAttributes);
      },
    };
  }

  startSend(info: SendSpanInfo): SendSpan {
    const started = performance.now();
    const attributes: Attributes = {
      [Attr.system]: info.system,
      [Attr.destinationName]: info.destination,
      [Attr.operationType]: 'send',
      [Attr.operationName]: 'send',
      [Attr.messageId]: info.messageId,
      [Attr.messageType]: info.messageType,
      [Attr.bodySize]: info.bodySize,
    };
    if (info.correlationId !== undefined) attributes[Attr.conversationId] = info.correlationId;
    if (info.system === 'kafka' && info.key !== undefined) attributes[Attr.kafkaKey] = info.key;
    const span = this.#tracer.startSpan(
      `send ${info.destination}`,
      { kind: SpanKind.PRODUCER, attributes },
      info.parent,
    );
    const spanContext = trace.setSpan(info.parent, span);
    let ended = false;
    return {
      span,
      inject: (headers) => this.inject(spanContext, headers),
      end: (error) => {
        if (ended) return;
        ended = true;
        const metricAttributes: Attributes = {
          [Attr.system]: info.system,
          [Attr.destinationName]: info.destination,
          [Attr.operationName]: 'send',
        };
        if (error !== undefined) {
          const type = errorTypeOf(error);
          span.setAttribute(Attr.errorType, type);
          metricAttributes[Attr.errorType] = type;
          if (error instanceof Error) span.recordException(error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: describe(error) });
        }
        span.end();
        this.#sent.add(1, metricAttributes);
        this.#sendDuration.record((performance.now() - started) / 1000, metricAttributes);
      },
    };
  }

  consumed(labels: ConsumerLabels): void {
    this.#consumed.add(1, { ...this.#consumerAttributes(labels), [Attr.operationName]: 'process' });
  }

  retried(labels: ConsumerLabels, kind: 'in-place' | 'delayed' | 'deferred'): void {
    this.#retries.add(1, { ...this.#consumerAttributes(labels), [Attr.retryKind]: kind });
  }

  deadLettered(labels: ConsumerLabels, reason: string): void {
    this.#deadLetters.add(1, { ...this.#consumerAttributes(labels), [Attr.deadLetterReason]: reason });
  }

  duplicate(labels: ConsumerLabels): void {
    this.#duplicates.add(1, this.#consumerAttributes(labels));
  }

  hotKey(labels: ConsumerLabels): void {
    this.#hotKeys.add(1, this.#consumerAttributes(labels));
  }

  inFlight(labels: ConsumerLabels, delta: number): void {
    this.#inFlight.add(delta, this.#consumerAttributes(labels));
  }

  /** The observer handed to a transport in its SubscriptionSpec; `dispose` forgets its gauges. */
  observer(labels: ConsumerLabels): TransportObserver & { dispose(): void } {
    const mine = new Set<string>();
    const base = this.#consumerAttributes(labels);
    return {
      lag: (value, attrs) => {
        const attributes: Attributes = { ...base, [Attr.destinationName]: attrs.destination };
        if (attrs.partition !== undefined) attributes[Attr.partitionId] = String(attrs.partition);
        const id = `lag|${labels.consumerGroup}|${attrs.destination}|${attrs.partition ?? ''}`;
        mine.add(id);
        this.#lag.set(id, { value, attributes });
      },
      depth: (value, attrs) => {
        const attributes: Attributes = {
          ...base,
          [Attr.destinationName]: attrs.destination,
          [Attr.queueState]: attrs.state,
        };
        const id = `depth|${labels.consumerGroup}|${attrs.destination}|${attrs.state}`;
        mine.add(id);
        this.#depth.set(id, { value, attributes });
      },
      dispose: () => {
        for (const id of mine) {
          this.#lag.delete(id);
          this.#depth.delete(id);
        }
      },
    };
  }

  /** The active OpenTelemetry context (exposed so the runtime does not import the API itself). */
  active(): Context {
    return contextApi.active();
  }

  #consumerAttributes(labels: ConsumerLabels): Attributes {
    return {
      [Attr.system]: labels.system,
      [Attr.destinationName]: labels.destination,
      [Attr.consumerGroup]: labels.consumerGroup,
    };
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
