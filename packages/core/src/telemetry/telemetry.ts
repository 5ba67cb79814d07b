// Spans and metrics for consuming and publishing, through `@opentelemetry/api` only: with no SDK
// registered every call is a no-op, so the cost of having telemetry wired in is close to zero.
// The consumer side runs for every message, so it goes further: attribute sets are built once per
// consumer, a process span is not even made until something reads it while no SDK is registered
// (DeferredProcessSpan), and no clock is read for a duration the no-op meter would drop.
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
  createContextKey,
  createNoopMeter,
  defaultTextMapGetter,
  defaultTextMapSetter,
  type Histogram,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  type Link,
  type Meter,
  type MeterProvider,
  metrics,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
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
  readonly destination: string;
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
  /** Calls `fn` with `context` active (the handler: spans it starts nest under the process span). */
  with<T, A, B, R>(fn: (this: T, a: A, b: B) => R, thisArg: T, a: A, b: B): R;
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

export interface ConsumerLabels {
  readonly system: string;
  readonly destination: string;
  readonly consumerGroup: string;
}

/** `error.type` for an error: its Switchyard code, else its class name. */
export function errorTypeOf(error: unknown): string {
  const code = errorCodeOf(error);
  if (code) return code;
  const first = causeChain(error)[0];
  if (first instanceof Error) {
    const { name } = first as { name: unknown };
    const ctorName: unknown = first.constructor?.name;
    return typeof name === 'string' && name !== ''
      ? name
      : typeof ctorName === 'string' && ctorName
        ? ctorName
        : 'Error';
  }
  return '_OTHER';
}

/** The metric instruments, shared by the app and every consumer in it. */
interface Instruments {
  readonly processDuration: Histogram;
  readonly sendDuration: Histogram;
  readonly consumed: Counter;
  readonly sent: Counter;
  readonly retries: Counter;
  readonly deadLetters: Counter;
  readonly duplicates: Counter;
  readonly hotKeys: Counter;
  readonly inFlight: UpDownCounter;
  /**
   * Whether process durations are recorded: not when the meter is the API's no-op one (no meter
   * provider was registered when the app was made; instruments made then stay no-ops). Reading the
   * clock twice per message for a no-op record is then skipped.
   */
  readonly processTimed: boolean;
}

/** The latest value of a gauge and its attributes. */
interface Gauge {
  value: number;
  readonly attributes: Attributes;
}

/** `ProxyTracerProvider` (the global provider) by shape, so another copy of the API is recognised too. */
interface TracerDelegator {
  getDelegateTracer(name: string, version?: string): Tracer | undefined;
}

function isTracerDelegator(provider: TracerProvider): provider is TracerProvider & TracerDelegator {
  return typeof (provider as Partial<TracerDelegator>).getDelegateTracer === 'function';
}

export class Telemetry {
  readonly #tracer: Tracer;
  readonly #meter: Meter;
  readonly #propagator: TextMapPropagator | undefined;
  readonly #instruments: Instruments;
  /**
   * The global tracer provider while no SDK stands behind it, so that its tracer hands out
   * non-recording spans; undefined once it has one, or when the app was given a provider. See
   * `#tracingOff`.
   */
  #unboundProxy: (TracerProvider & TracerDelegator) | undefined;
  /** Latest gauge values reported by transports, keyed by their attribute set. */
  readonly #lag = new Map<string, Gauge>();
  readonly #depth = new Map<string, Gauge>();

  constructor(options: TelemetryOptions = {}) {
    const tracerProvider = options.tracerProvider ?? trace.getTracerProvider();
    const meterProvider = options.meterProvider ?? metrics.getMeterProvider();
    this.#tracer = tracerProvider.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
    this.#meter = meterProvider.getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
    this.#propagator = options.propagator;
    this.#unboundProxy =
      options.tracerProvider === undefined && isTracerDelegator(tracerProvider) ? tracerProvider : undefined;

    const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
    const processDuration = this.#meter.createHistogram(Metric.processDuration, {
      unit: 's',
      description: 'Duration of processing operation (handler and settlement).',
      advice: { explicitBucketBoundaries: durationBuckets },
    });
    this.#instruments = {
      processDuration,
      sendDuration: this.#meter.createHistogram(Metric.operationDuration, {
        unit: 's',
        description: 'Duration of messaging operation initiated by a producer or consumer client.',
        advice: { explicitBucketBoundaries: durationBuckets },
      }),
      consumed: this.#meter.createCounter(Metric.consumed, {
        unit: '{message}',
        description: 'Number of messages that were delivered to the application.',
      }),
      sent: this.#meter.createCounter(Metric.sent, {
        unit: '{message}',
        description: 'Number of messages producer attempted to send to the broker.',
      }),
      retries: this.#meter.createCounter(Metric.retries, {
        unit: '{retry}',
        description: 'Retries scheduled (in place, delayed through the transport, or deferred by an open circuit).',
      }),
      deadLetters: this.#meter.createCounter(Metric.deadLetters, {
        unit: '{message}',
        description: 'Messages written to a dead-letter destination, by reason.',
      }),
      duplicates: this.#meter.createCounter(Metric.duplicates, {
        unit: '{message}',
        description: 'Redeliveries absorbed by idempotency.',
      }),
      hotKeys: this.#meter.createCounter(Metric.hotKeys, {
        unit: '{detection}',
        description: 'Times an ordering key was found with a backlog far above the median.',
      }),
      inFlight: this.#meter.createUpDownCounter(Metric.inFlight, {
        unit: '{message}',
        description: 'Messages admitted by the keyed scheduler and not yet settled.',
      }),
      // The no-op meter hands out one shared histogram: ours is that one when nothing records.
      processTimed: processDuration !== createNoopMeter().createHistogram(Metric.processDuration),
    };
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

  /** One consumer's telemetry: the same instruments, with its attribute sets built once. */
  consumer(labels: ConsumerLabels): ConsumerTelemetry {
    return new ConsumerTelemetry(this, this.#instruments, labels);
  }

  /** Called by ConsumerTelemetry.startProcess, which adds the consumer's cached attribute sets. */
  startProcess(info: ProcessSpanInfo, consumer: ConsumerAttributeSets): ProcessSpan {
    const started = this.#instruments.processTimed ? performance.now() : 0;
    // No SDK: the span would be a non-recording one carrying its parent's span context, and its
    // context is only read when a handler publishes or a context manager is registered. Both are
    // made when first needed (see DeferredProcessSpan), so most messages need neither.
    if (this.#tracingOff()) return new DeferredProcessSpan(this, info, started, consumer, this.#instruments);

    const { parent, producer, nested } = this.processParent(info.headers, info.outer);
    const attributes: Attributes = {
      ...consumer.base,
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
    const links: Link[] = nested && producer !== undefined ? [{ context: producer }] : [];
    const span = this.#tracer.startSpan(
      `process ${info.destination}`,
      { kind: SpanKind.CONSUMER, attributes, links },
      parent,
    );
    return new StartedProcessSpan(span, trace.setSpan(parent, span), started, consumer, this.#instruments);
  }

  /**
   * The parent of a process span: the span active where the transport handed the message over when
   * there is one (`nested`; the producer is then linked), else the producer context carried in the
   * headers, else none. `producer` is set only when valid.
   */
  processParent(
    headers: Readonly<Record<string, string>>,
    outer: Context,
  ): { readonly parent: Context; readonly producer: SpanContext | undefined; readonly nested: boolean } {
    const extracted = trace.getSpanContext(this.extract(headers));
    const producer = extracted !== undefined && isSpanContextValid(extracted) ? extracted : undefined;
    const outerSpan = trace.getSpanContext(outer);
    const nested = outerSpan !== undefined && isSpanContextValid(outerSpan);
    const parent = nested
      ? outer
      : producer !== undefined
        ? trace.setSpanContext(outer, producer)
        : // Deleting a span the context does not hold would only copy the context.
          trace.getSpan(outer) === undefined
          ? outer
          : trace.deleteSpan(outer);
    return { parent, producer, nested };
  }

  startSend(info: SendSpanInfo): SendSpan {
    // No SDK: the tracer's span would be a non-recording one carrying the parent's span context,
    // so injecting the parent is the same, and with a no-op meter there is nothing to count. A
    // batch of thousands of publishes then builds no attribute sets, spans or contexts.
    if (this.#tracingOff() && !this.#instruments.processTimed) return new ParentSendSpan(this, info.parent);
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
    const instruments = this.#instruments;
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
        instruments.sent.add(1, metricAttributes);
        instruments.sendDuration.record((performance.now() - started) / 1000, metricAttributes);
      },
    };
  }

  /** The observer handed to a transport in its SubscriptionSpec; `dispose` forgets its gauges. */
  observer(labels: ConsumerLabels, base: Attributes): TransportObserver & { dispose(): void } {
    const mine = new Set<string>();
    // A transport may report lag on every commit (the memory transport does): the gauge of a
    // partition is found again and updated in place, not rebuilt per message.
    const lagGauges = new Map<string, Map<number | undefined, { readonly id: string; readonly entry: Gauge }>>();
    return {
      lag: (value, attrs) => {
        let byPartition = lagGauges.get(attrs.destination);
        if (byPartition === undefined) {
          byPartition = new Map();
          lagGauges.set(attrs.destination, byPartition);
        }
        const gauge = byPartition.get(attrs.partition);
        if (gauge !== undefined && this.#lag.get(gauge.id) === gauge.entry) {
          gauge.entry.value = value;
          return;
        }
        const attributes: Attributes = { ...base, [Attr.destinationName]: attrs.destination };
        if (attrs.partition !== undefined) attributes[Attr.partitionId] = String(attrs.partition);
        const id = `lag|${labels.consumerGroup}|${attrs.destination}|${attrs.partition ?? ''}`;
        const entry = { value, attributes };
        mine.add(id);
        this.#lag.set(id, entry);
        byPartition.set(attrs.partition, { id, entry });
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

  /**
   * Whether the tracer is the global one with no SDK registered yet (its spans are non-recording).
   * Asked per message, as the proxy tracer itself does, so an SDK registered after the app was
   * created is picked up; once one is there the proxy stays bound to it, so the answer is kept.
   */
  #tracingOff(): boolean {
    const proxy = this.#unboundProxy;
    if (proxy === undefined) return false;
    if (proxy.getDelegateTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION) === undefined) return true;
    this.#unboundProxy = undefined;
    return false;
  }
}

/** A consumer's attribute sets, built once: metric attributes were rebuilt for every message before. */
interface ConsumerAttributeSets {
  /** system, destination, consumer group. */
  readonly base: Attributes;
  /** base + operation name `process`. */
  readonly process: Attributes;
  /** process duration attributes of an outcome without an error, by outcome. */
  readonly outcomes: Map<string, Attributes>;
}

/** Telemetry of one consumer (one `app.consume`): its attributes are built once, not per message. */
export class ConsumerTelemetry {
  readonly #telemetry: Telemetry;
  readonly #instruments: Instruments;
  readonly #labels: ConsumerLabels;
  readonly #sets: ConsumerAttributeSets;
  readonly #retryKinds = new Map<string, Attributes>();
  readonly #deadLetterReasons = new Map<string, Attributes>();

  constructor(telemetry: Telemetry, instruments: Instruments, labels: ConsumerLabels) {
    this.#telemetry = telemetry;
    this.#instruments = instruments;
    this.#labels = labels;
    const base: Attributes = Object.freeze({
      [Attr.system]: labels.system,
      [Attr.destinationName]: labels.destination,
      [Attr.consumerGroup]: labels.consumerGroup,
    });
    this.#sets = {
      base,
      process: Object.freeze({ ...base, [Attr.operationName]: 'process' }),
      outcomes: new Map(),
    };
  }

  startProcess(info: ProcessSpanInfo): ProcessSpan {
    return this.#telemetry.startProcess(info, this.#sets);
  }

  consumed(): void {
    this.#instruments.consumed.add(1, this.#sets.process);
  }

  inFlight(delta: number): void {
    this.#instruments.inFlight.add(delta, this.#sets.base);
  }

  retried(kind: 'in-place' | 'delayed' | 'deferred'): void {
    this.#instruments.retries.add(1, cached(this.#retryKinds, kind, this.#sets.base, Attr.retryKind));
  }

  deadLettered(reason: string): void {
    this.#instruments.deadLetters.add(
      1,
      cached(this.#deadLetterReasons, reason, this.#sets.base, Attr.deadLetterReason),
    );
  }

  duplicate(): void {
    this.#instruments.duplicates.add(1, this.#sets.base);
  }

  hotKey(): void {
    this.#instruments.hotKeys.add(1, this.#sets.base);
  }

  /** The observer handed to the transport in its SubscriptionSpec; `dispose` forgets its gauges. */
  observer(): TransportObserver & { dispose(): void } {
    return this.#telemetry.observer(this.#labels, this.#sets.base);
  }
}

/** `base` plus one attribute, built on first use of `value` (a handful of values per consumer). */
function cached(cache: Map<string, Attributes>, value: string, base: Attributes, name: string): Attributes {
  let attributes = cache.get(value);
  if (attributes === undefined) {
    attributes = Object.freeze({ ...base, [name]: value });
    cache.set(value, attributes);
  }
  return attributes;
}

/** What every process span does when it ends: the span's outcome and the duration metric. */
abstract class ProcessSpanBase {
  readonly #started: number;
  readonly #sets: ConsumerAttributeSets;
  readonly #instruments: Instruments;
  #ended = false;

  constructor(started: number, sets: ConsumerAttributeSets, instruments: Instruments) {
    this.#started = started;
    this.#sets = sets;
    this.#instruments = instruments;
  }

  /** The span to end, or undefined when none was made (a deferred span nobody read). */
  protected abstract spanToEnd(): Span | undefined;

  end(outcome: string, error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    const span = this.spanToEnd();
    // Non-recording spans (no SDK, or sampled out) drop whatever is set on them: skip building it.
    const recording = span?.isRecording() ?? false;
    if (recording) span!.setAttribute(Attr.outcome, outcome);
    let metricAttributes: Attributes;
    if (error === undefined) {
      metricAttributes = cached(this.#sets.outcomes, outcome, this.#sets.process, Attr.outcome);
    } else {
      const type = errorTypeOf(error);
      metricAttributes = {
        ...this.#sets.process,
        [Attr.outcome]: outcome,
        [Attr.errorType]: type,
      };
      if (recording) {
        span!.setAttribute(Attr.errorType, type);
        if (error instanceof Error) span!.recordException(error);
        span!.setStatus({ code: SpanStatusCode.ERROR, message: describe(error) });
      }
    }
    span?.end();
    if (this.#instruments.processTimed)
      this.#instruments.processDuration.record((performance.now() - this.#started) / 1000, metricAttributes);
  }
}

/** A process span started on a tracer with an SDK behind it. */
class StartedProcessSpan extends ProcessSpanBase implements ProcessSpan {
  readonly span: Span;
  readonly context: Context;

  constructor(span: Span, context: Context, started: number, sets: ConsumerAttributeSets, instruments: Instruments) {
    super(started, sets, instruments);
    this.span = span;
    this.context = context;
  }

  with<T, A, B, R>(fn: (this: T, a: A, b: B) => R, thisArg: T, a: A, b: B): R {
    return contextApi.with(this.context, fn, thisArg, a, b);
  }

  protected spanToEnd(): Span {
    return this.span;
  }
}

/**
 * The process span while no SDK is registered. The tracer would return a non-recording span with
 * its parent's span context and ignore everything else, so the span and its context are made only
 * when read: when the handler publishes (the send span's parent), when a context manager is
 * registered (`with` then makes the context active), or by an in-place retry (`span`). They are
 * exactly what the tracer would have made: `trace.wrapSpanContext` is its non-recording span.
 */
class DeferredProcessSpan extends ProcessSpanBase implements ProcessSpan {
  readonly #telemetry: Telemetry;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #outer: Context;
  #span: Span | undefined;
  #context: Context | undefined;

  constructor(
    telemetry: Telemetry,
    info: ProcessSpanInfo,
    started: number,
    sets: ConsumerAttributeSets,
    instruments: Instruments,
  ) {
    super(started, sets, instruments);
    this.#telemetry = telemetry;
    this.#headers = info.headers;
    this.#outer = info.outer;
  }

  get span(): Span {
    if (this.#span === undefined) this.#make();
    return this.#span!;
  }

  get context(): Context {
    if (this.#context === undefined) this.#make();
    return this.#context!;
  }

  with<T, A, B, R>(fn: (this: T, a: A, b: B) => R, thisArg: T, a: A, b: B): R {
    // The no-op context manager ignores the context `with` is given: nothing to make then.
    if (!contextManagerRegistered()) return fn.call(thisArg, a, b);
    return contextApi.with(this.context, fn, thisArg, a, b);
  }

  protected spanToEnd(): Span | undefined {
    return this.#span;
  }

  #make(): void {
    const { parent, nested } = this.#telemetry.processParent(this.#headers, this.#outer);
    // Parented on the producer: `parent` already holds a fresh non-recording span of the producer's
    // span context, which is exactly this span (no second wrap and context copy per message).
    const own = nested ? undefined : trace.getSpan(parent);
    if (own !== undefined) {
      this.#span = own;
      this.#context = parent;
      return;
    }
    const parentSpan = trace.getSpanContext(parent);
    const span = trace.wrapSpanContext(
      parentSpan !== undefined && isSpanContextValid(parentSpan) ? parentSpan : INVALID_SPAN_CONTEXT,
    );
    this.#span = span;
    this.#context = trace.setSpan(parent, span);
  }
}

const PROBE_KEY = createContextKey('switchyard context-manager probe');
const PROBE = ROOT_CONTEXT.setValue(PROBE_KEY, true);
const probeActive = (): boolean => contextApi.active() === PROBE;

let managerSeen = false;

/**
 * Whether a context manager is registered: the no-op one `with` falls back to neither activates
 * the context it is given nor returns anything but the root context from `active()`. A yes is
 * remembered (the probe is a context switch per message): should the manager be disabled later,
 * `with` then only makes a context the no-op manager ignores. A no is asked again every time, so a
 * manager registered later is honoured at once.
 */
function contextManagerRegistered(): boolean {
  if (managerSeen) return true;
  managerSeen = contextApi.with(PROBE, probeActive);
  return managerSeen;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The send span when nothing records (see `startSend`): the parent's context, made a span if asked. */
class ParentSendSpan implements SendSpan {
  readonly #telemetry: Telemetry;
  readonly #parent: Context;
  #span: Span | undefined;

  constructor(telemetry: Telemetry, parent: Context) {
    this.#telemetry = telemetry;
    this.#parent = parent;
  }

  get span(): Span {
    if (this.#span === undefined) {
      const parentSpan = trace.getSpanContext(this.#parent);
      this.#span = trace.wrapSpanContext(
        parentSpan !== undefined && isSpanContextValid(parentSpan) ? parentSpan : INVALID_SPAN_CONTEXT,
      );
    }
    return this.#span;
  }

  inject(headers: Record<string, string>): void {
    this.#telemetry.inject(this.#parent, headers);
  }

  end(): void {}
}
