// One `app.consume(...)`: a transport subscription, a keyed scheduler, and the pipeline every
// delivery runs through:
//
//   decode -> schedule by ordering key -> [at-most-once: ack first] -> process span -> validate ->
//   stale-event guard -> idempotency -> circuit breaker -> timeout -> handler -> outcome -> settle
//
// Outcomes map onto settlements: done -> ack; retryable failure -> retry policy + budget, then a
// delayed retry settlement (transports that redeliver later) or a retry in place (holding the key,
// so order is kept); exhausted, non-retryable, invalid, undecodable -> dead-letter record. A
// settlement that fails is retried with backoff until it succeeds or shutdown passes its deadline:
// the message is never acked instead and never dropped.

import { setMaxListeners } from 'node:events';
import type { Context } from '@opentelemetry/api';
import type { Clock, RandomSource } from '../clock.js';
import type { AnyContract } from '../contracts.js';
import type { DeadLetterReason } from '../dead-letter.js';
import type { Envelope } from '../envelope.js';
import { errorCodeOf, hasCode, isRetryable, RetryableError, readableThrown, SwitchyardError } from '../errors.js';
import type { MessageEventBase, SwitchyardEvents, TypedEvents } from '../events.js';
import type { HandlerContext, HandlerDefinition } from '../handlers.js';
import { InFlightList, type Linked } from '../in-flight-list.js';
import { KeyedScheduler } from '../keyed-scheduler.js';
import { childLogger, type Logger } from '../logger.js';
import { isOutcome, type Outcome } from '../outcome.js';
import type { Delivery, Settlement, TransportHealth, TransportSubscription } from '../ports/transport.js';
import type { StandardSchemaV1 } from '../standard-schema.js';
import { Attr } from '../telemetry/attributes.js';
import type { ConsumerTelemetry, ProcessSpan, Telemetry } from '../telemetry/telemetry.js';
import {
  type DecodeResult,
  decodeRawMessage,
  fallbackId,
  type TypeResolver,
  validationError,
  WireHeaders,
} from '../wire.js';
import { buildDeadLetterRecord } from './dead-letter-record.js';
import { type DeadlineTicket, HandlerDeadlines, type TimedRun } from './handler-deadlines.js';
import { type MessageScope, messageScope } from './message-scope.js';
import type { ResolvedConsumer, ResolvedHandler } from './options.js';

export interface ConsumerDeps {
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly logger: Logger;
  readonly events: TypedEvents<SwitchyardEvents>;
  readonly telemetry: Telemetry;
}

export type ConsumerState = 'idle' | 'starting' | 'running' | 'draining' | 'stopped';

export interface ConsumerHealth {
  readonly destination: string;
  readonly kind: 'topic' | 'queue';
  readonly group: string;
  readonly semantics: string;
  readonly state: ConsumerState;
  readonly inFlight: number;
  readonly inFlightBytes: number;
  readonly queuedKeys: number;
  /** Deliveries waiting for room in flight (backpressure holding the fetch loop). */
  readonly waiting: number;
  readonly subscription: TransportHealth | undefined;
}

/** First and longest pause between attempts to record a settlement that failed. */
const SETTLE_BACKOFF = { initialMs: 100, maxMs: 30_000 } as const;

/** What one run of the handler chain came to. */
type AttemptResult =
  | { readonly kind: 'ack' }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'stale'; readonly version: string }
  | { readonly kind: 'deferred'; readonly retryAfterMs: number; readonly error: SwitchyardError }
  | { readonly kind: 'failed'; readonly error: unknown }
  | { readonly kind: 'dead-letter'; readonly error: SwitchyardError }
  | { readonly kind: 'lost' }
  | { readonly kind: 'shutdown' };

/** What the runtime did with a message, for the span and the duration metric. */
interface Processed {
  readonly outcome: string;
  readonly error?: unknown;
}

/**
 * A pipeline step's result: the value itself when every step before it finished synchronously (a
 * synchronous schema, handler and settlement: the usual no-I/O case), a promise otherwise.
 */
type Maybe<T> = T | Promise<T>;

/** Carries a handler's retry/dead-letter outcome through idempotency (which must release, not complete). */
class OutcomeSignal extends Error {
  readonly outcome: Exclude<Outcome, { kind: 'ack' }>;
  constructor(outcome: Exclude<Outcome, { kind: 'ack' }>) {
    super(`handler returned ${outcome.kind}`);
    this.outcome = outcome;
  }
}

/** The breaker refused the call: defer the message, do not count it as a failure. */
class CircuitOpenSignal extends SwitchyardError {
  readonly retryAfterMs: number;
  constructor(downstream: string, retryAfterMs: number) {
    super('SWITCHYARD_CIRCUIT_OPEN', `circuit for downstream '${downstream}' is open; retry in ${retryAfterMs} ms`, {
      details: { downstream, retryAfterMs },
    });
    this.name = 'CircuitOpenError';
    this.retryAfterMs = retryAfterMs;
  }
}

export class ConsumerRuntime {
  readonly config: ResolvedConsumer;
  readonly #deps: ConsumerDeps;
  readonly #scheduler: KeyedScheduler;
  readonly #resolver: TypeResolver;
  readonly #labels: { readonly system: string; readonly destination: string; readonly consumerGroup: string };
  readonly #telemetry: ConsumerTelemetry;
  readonly #observer: ReturnType<ConsumerTelemetry['observer']>;
  readonly #logger: Logger;
  /** Aborted when stop begins: no new work starts, waits end, unstarted deliveries are released. */
  readonly #stopping = new AbortController();
  /** Aborted at the shutdown deadline: running handlers are aborted and their messages released. */
  readonly #abandon = new AbortController();
  /** Handed over and not started yet (waiting for room or behind their key). */
  readonly #pending = new InFlightList<PendingDelivery>();
  /** Handlers running now, and what aborts them. */
  readonly #runs: HandlerRuns;
  #subscription: TransportSubscription | undefined;
  #state: ConsumerState = 'idle';
  #abandoned = 0;
  #interrupted = 0;

  constructor(config: ResolvedConsumer, deps: ConsumerDeps) {
    // Every delivery waiting for room listens on these (one listener each, removed when it starts):
    // as many as the transport hands over, so Node's default of 10 would warn of a leak that is not.
    setMaxListeners(0, this.#stopping.signal, this.#abandon.signal);
    this.config = config;
    this.#deps = deps;
    this.#runs = new HandlerRuns(deps.clock);
    this.#labels = {
      system: config.transport.system,
      destination: config.channel.name,
      consumerGroup: config.group,
    };
    this.#logger = childLogger(deps.logger, { destination: config.channel.name, consumerGroup: config.group });
    this.#telemetry = deps.telemetry.consumer(this.#labels);
    this.#observer = this.#telemetry.observer();
    this.#scheduler = new KeyedScheduler({
      maxInFlight: config.maxInFlight,
      maxInFlightBytes: config.maxInFlightBytes,
      onTaskError: (error) => this.#reportError(error, 'unexpected error in the message pipeline'),
      onHotKey: (report) => {
        this.#telemetry.hotKey();
        this.#logger.warn(
          { orderingKey: report.key, backlog: report.depth, medianBacklog: report.median },
          'hot ordering key: its backlog is far above the median, other keys may wait behind it',
        );
      },
    });
    const handled = config.handlers;
    const only = handled.size === 1 ? [...handled.values()][0]!.definition.contract : undefined;
    this.#resolver = {
      contract: (type) => handled.get(type)?.definition.contract,
      resolveType: config.resolveType,
      fallback: only,
    };
  }

  get state(): ConsumerState {
    return this.#state;
  }

  /** Deliveries given back unprocessed because of shutdown. */
  get abandoned(): number {
    return this.#abandoned;
  }

  /** Handlers aborted at the shutdown deadline. */
  get interrupted(): number {
    return this.#interrupted;
  }

  async start(): Promise<void> {
    this.#state = 'starting';
    const { config } = this;
    this.#subscription = await config.transport.subscribe(
      {
        destination: config.channel.name,
        consumerGroup: config.group,
        semantics: config.semantics,
        startFrom: config.startFrom,
        maxInFlight: config.maxInFlight,
        maxInFlightBytes: config.maxInFlightBytes,
        observer: this.#observer,
        deadLetter: { destination: config.deadLetterDestination, named: config.deadLetterNamed },
        maxAttempts: config.retryPolicy.mostAttempts,
        ...(config.transportOptions === undefined ? {} : { options: config.transportOptions }),
      },
      (delivery) => this.#sink(delivery),
    );
    this.#state = 'running';
  }

  /**
   * Stop taking new work: stop fetching, end retry waits, and give back at once what was admitted
   * but has not started (it would only be released when its key's turn came).
   */
  async beginStop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'draining';
    this.#stopping.abort(new SwitchyardError('SWITCHYARD_SHUTDOWN', 'consumer is stopping', { retryable: false }));
    const releases: Promise<void>[] = [];
    for (const pending of this.#pending.snapshot()) {
      if (pending.started || pending.released) continue;
      pending.released = true;
      releases.push(this.#release(pending.delivery));
    }
    await Promise.all([this.#subscription?.stopFetching(), ...releases]);
  }

  /** Waits for in-flight work; false when `deadline` fired first. */
  drain(deadline: AbortSignal): Promise<boolean> {
    return this.#scheduler.drain(deadline);
  }

  /** Past the deadline: abort running handlers and release their messages; resolves when they are settled or `grace` fires. */
  async abandonRest(grace: AbortSignal): Promise<boolean> {
    const reason = new SwitchyardError('SWITCHYARD_SHUTDOWN', 'shutdown deadline passed; handler aborted', {
      retryable: false,
    });
    this.#abandon.abort(reason);
    this.#runs.abortAll(reason);
    return this.#scheduler.drain(grace);
  }

  async close(): Promise<void> {
    try {
      await this.#subscription?.close();
    } finally {
      this.#runs.close();
      this.#observer.dispose();
      this.#state = 'stopped';
    }
  }

  health(): ConsumerHealth {
    return {
      destination: this.config.channel.name,
      kind: this.config.channel.kind,
      group: this.config.group,
      semantics: this.config.semantics,
      state: this.#state,
      inFlight: this.#scheduler.inFlight,
      inFlightBytes: this.#scheduler.inFlightBytes,
      queuedKeys: this.#scheduler.queuedKeys,
      waiting: this.#scheduler.waiting,
      subscription: this.#subscription?.health(),
    };
  }

  // ---------------------------------------------------------------------------------------------

  // Not `async`, like #start: when there is room (the usual case) the delivery is admitted without
  // a promise of its own, and the transport gets `undefined` (nothing to wait for).
  #sink(delivery: Delivery): Promise<void> | undefined {
    try {
      // The context active where the transport hands the message over: an instrumentation's span
      // there becomes the parent of ours (see telemetry.ts).
      const outer = this.#deps.telemetry.active();
      if (this.#stopping.signal.aborted) return this.#release(delivery);
      const pending: PendingDelivery = {
        delivery,
        started: false,
        released: false,
        prev: undefined,
        next: undefined,
        listed: false,
      };
      this.#pending.add(pending);
      const task = () => this.#start(pending, outer);
      if (this.#scheduler.tryAdmit(delivery.orderingKey, delivery.sizeBytes, task)) return undefined;
      return this.#scheduler
        .schedule(delivery.orderingKey, delivery.sizeBytes, task, this.#stopping.signal)
        .catch(() => {
          // Stopping while it waited for room: it never started, give it back.
          this.#pending.delete(pending);
          if (pending.released) return;
          pending.released = true;
          return this.#release(delivery);
        });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // `undefined` when the message was processed synchronously: the scheduler then runs the key's next
  // task at once, without a promise.
  #start(pending: PendingDelivery, outer: Context): Promise<void> | undefined {
    this.#pending.delete(pending);
    if (pending.released) return undefined;
    if (this.#stopping.signal.aborted) {
      pending.released = true;
      return this.#release(pending.delivery);
    }
    pending.started = true;
    return this.#process(pending.delivery, outer);
  }

  // Not `async`, like the steps after it: a suspended async function keeps a frame with all its
  // locals, and the pipeline's frames came to kilobytes of garbage per message.
  #process(delivery: Delivery, outer: Context): Promise<void> | undefined {
    if (delivery.signal.aborted) return undefined;
    const telemetry = this.#telemetry;
    telemetry.inFlight(1);
    telemetry.consumed();
    const raw = delivery.message;
    const decoded = decodeRawMessage(raw, this.#resolver, delivery.attempt);
    const span = telemetry.startProcess({
      destination: this.#labels.destination,
      messageId: decoded.ok ? decoded.envelope.id : (raw.headers[WireHeaders.id] ?? fallbackId(raw.source)),
      messageType: decoded.ok ? decoded.contract.name : decoded.type,
      source: raw.source,
      transportKey: raw.key,
      headers: raw.headers,
      attempt: delivery.attempt,
      bodySize: delivery.sizeBytes,
      correlationId: decoded.ok ? decoded.envelope.correlationId : raw.headers[WireHeaders.correlationId],
      outer,
    });
    let processing: Maybe<Processed>;
    try {
      processing = this.#run(delivery, decoded, span);
    } catch (error) {
      return this.#processed(span, Promise.reject(error));
    }
    return this.#processed(span, processing);
  }

  /** Ends the span with what processing came to, and the message's time in flight. */
  #processed(span: ProcessSpan, processing: Maybe<Processed>): Promise<void> | undefined {
    if (!(processing instanceof Promise)) return this.#ended(span, processing);
    return processing.then(
      (processed) => this.#ended(span, processed),
      (error: unknown) => {
        try {
          span.end('error', error);
        } finally {
          this.#telemetry.inFlight(-1);
        }
        throw error;
      },
    );
  }

  #ended(span: ProcessSpan, processed: Processed): undefined {
    try {
      span.end(processed.outcome, processed.error);
    } finally {
      this.#telemetry.inFlight(-1);
    }
    return undefined;
  }

  // Not `async`, nor are the steps it hands on to: with a synchronous schema (the usual case) the
  // message reaches its semantics' loop without a promise of its own.
  #run(delivery: Delivery, decoded: DecodeResult, span: ProcessSpan): Maybe<Processed> {
    const started = this.#deps.clock.now();
    if (!decoded.ok) return this.#undecoded(delivery, decoded, started);
    const { contract, envelope } = decoded;
    let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>;
    try {
      result = contract.schema['~standard'].validate(envelope.payload);
    } catch (cause) {
      return this.#validationThrew(delivery, envelope, contract, cause, started);
    }
    // Most schemas (zod without async refinements) answer synchronously: no await then.
    if (isPromiseLike(result))
      return Promise.resolve(result).then(
        (validated) => this.#validated(delivery, envelope, contract, validated, span, started),
        (cause: unknown) => this.#validationThrew(delivery, envelope, contract, cause, started),
      );
    return this.#validated(delivery, envelope, contract, result, span, started);
  }

  async #undecoded(
    delivery: Delivery,
    decoded: Extract<DecodeResult, { ok: false }>,
    started: number,
  ): Promise<Processed> {
    const raw = delivery.message;
    const info = {
      messageId: raw.headers[WireHeaders.id] ?? fallbackId(raw.source),
      type: decoded.type,
      key: raw.headers[WireHeaders.key] ?? raw.key,
      attempt: delivery.attempt,
    };
    // A topic carries types other consumer groups care about: not ours, not an error.
    if (
      decoded.reason === 'unknown-type' &&
      decoded.type !== undefined &&
      this.config.channel.kind === 'topic' &&
      this.config.channel.contracts.some((c) => c.name === decoded.type)
    ) {
      if (!(await this.#settle(delivery, ACK, info.messageId))) return UNSETTLED;
      this.#deps.events.emit('consumer:message:acked', { ...this.#base(delivery, info), durationMs: 0 });
      return { outcome: 'skipped' };
    }
    return this.#deadLetter(delivery, info, decoded.reason, decoded.error, started);
  }

  /** A schema that throws (a custom refinement with a bug) cannot vouch for the payload either. */
  #validationThrew(
    delivery: Delivery,
    envelope: Envelope<unknown>,
    contract: AnyContract,
    cause: unknown,
    started: number,
  ): Promise<Processed> {
    const error = new SwitchyardError('SWITCHYARD_VALIDATION', `validating '${contract.name}' threw`, {
      cause,
      retryable: false,
    });
    return this.#deadLetter(delivery, this.#info(envelope), 'validation', error, started);
  }

  #validated(
    delivery: Delivery,
    decoded: Envelope<unknown>,
    contract: AnyContract,
    validated: StandardSchemaV1.Result<unknown>,
    span: ProcessSpan,
    started: number,
  ): Maybe<Processed> {
    if (validated.issues) {
      const error = validationError(contract.name, validated.issues);
      return this.#deadLetter(delivery, this.#info(decoded), 'validation', error, started);
    }
    // The decoded envelope is this message's own: reused when validation kept the payload as it was
    // and the key is known (the usual case), instead of a copy of every field per message.
    const envelope =
      validated.value === decoded.payload && decoded.key !== ''
        ? decoded
        : { ...decoded, payload: validated.value, key: decoded.key || keyOf(contract, validated.value) };
    const handler = this.config.handlers.get(contract.name)!;
    if (this.config.semantics === 'at-most-once')
      return this.#runAtMostOnce(delivery, envelope, contract, handler, span);
    return this.#runAtLeastOnce(delivery, envelope, contract, handler, span, started);
  }

  async #runAtMostOnce(
    delivery: Delivery,
    envelope: Envelope<unknown>,
    contract: AnyContract,
    handler: ResolvedHandler,
    span: ProcessSpan,
  ): Promise<Processed> {
    // Settled before the handler runs: a crash or failure from here on loses the message, by choice.
    if (!(await this.#settle(delivery, ACK, envelope.id))) return UNSETTLED;
    const started = this.#deps.clock.now();
    for (;;) {
      const attempted = this.#attempt(delivery, envelope, contract, handler, span);
      const result = attempted instanceof Promise ? await attempted : attempted;
      switch (result.kind) {
        case 'ack':
          this.#emitAcked(delivery, envelope, envelope.attempt, started);
          return ACKED;
        case 'duplicate':
          this.#emitDuplicate(delivery, envelope);
          return { outcome: 'duplicate' };
        case 'stale':
          this.#emitStale(delivery, envelope, result.version);
          return { outcome: 'stale' };
        case 'deferred':
          // Not run yet, so waiting keeps the at-most-once promise.
          this.#deps.events.emit('consumer:message:retried', {
            ...this.#base(delivery, this.#info(envelope)),
            delayMs: result.retryAfterMs,
            error: result.error,
          });
          this.#telemetry.retried('deferred');
          if (!(await this.#wait(result.retryAfterMs, delivery))) return { outcome: 'dropped' };
          continue;
        case 'lost':
        case 'shutdown':
          return { outcome: 'dropped' };
        case 'failed':
        case 'dead-letter': {
          this.#reportError(
            result.error,
            `at-most-once: handler failed for ${contract.name} ${envelope.id} after it was acked; the message is dropped`,
          );
          return { outcome: 'dropped', error: result.error };
        }
      }
    }
  }

  /**
   * At-least-once. The first attempt and, when it acks (nearly always), the ack run without an async
   * frame: a suspended async function keeps all its locals, and the retry loop's frame alone was
   * about a kilobyte per message. Anything else goes on in #retryLoop.
   */
  #runAtLeastOnce(
    delivery: Delivery,
    envelope: Envelope<unknown>,
    contract: AnyContract,
    handler: ResolvedHandler,
    span: ProcessSpan,
    started: number,
  ): Maybe<Processed> {
    // The budget's ratio is a share of first deliveries; redeliveries and in-place retries are retries.
    if (delivery.attempt === 1) this.config.retryBudget?.recordAttempt();
    const attempted = this.#attempt(delivery, envelope, contract, handler, span);
    // A synchronous handler's attempt is decided without a promise: nothing to wait for then.
    if (attempted instanceof Promise)
      return attempted.then((result) =>
        this.#afterFirstAttempt(delivery, envelope, contract, handler, span, started, result),
      );
    return this.#afterFirstAttempt(delivery, envelope, contract, handler, span, started, attempted);
  }

  #afterFirstAttempt(
    delivery: Delivery,
    envelope: Envelope<unknown>,
    contract: AnyContract,
    handler: ResolvedHandler,
    span: ProcessSpan,
    started: number,
    result: AttemptResult,
  ): Maybe<Processed> {
    if (result.kind !== 'ack') return this.#retryLoop(delivery, envelope, contract, handler, span, started, result);
    // #settle's first try inlined, so that settling and the acked event take one `then`, or none
    // when the transport recorded the ack before returning.
    let settling: Promise<void> | undefined;
    try {
      settling = delivery.settle(ACK);
    } catch (error) {
      settling = Promise.reject(error);
    }
    if (settling === undefined) return this.#acked(delivery, envelope, started);
    return settling.then(
      () => this.#acked(delivery, envelope, started),
      (error: unknown) =>
        this.#settleAgain(delivery, ACK, envelope.id, error).then((ok) =>
          ok ? this.#acked(delivery, envelope, started) : UNSETTLED,
        ),
    );
  }

  #acked(delivery: Delivery, envelope: Envelope<unknown>, started: number): Processed {
    this.#emitAcked(delivery, envelope, envelope.attempt, started);
    return ACKED;
  }

  /** At-least-once after a first attempt that did not ack: retries, deferrals, dead letters. */
  async #retryLoop(
    delivery: Delivery,
    initial: Envelope<unknown>,
    contract: AnyContract,
    handler: ResolvedHandler,
    span: ProcessSpan,
    started: number,
    first: AttemptResult,
  ): Promise<Processed> {
    const { clock, events, random } = this.#deps;
    const telemetry = this.#telemetry;
    const caps = this.config.transport.capabilities;
    const carried = Number(delivery.message.headers[WireHeaders.firstFailureAt]);
    const source = delivery.message.source;
    // A queue retry is a visibility change: the message comes back as it was, so its first receive
    // time stands in for the first failure (it cannot be later than it).
    const firstReceived = source.kind === 'queue' && delivery.attempt > 1 ? source.firstReceivedAt : undefined;
    let firstFailureAt: number | undefined =
      Number.isFinite(carried) && carried > 0
        ? carried
        : firstReceived !== undefined && firstReceived > 0
          ? firstReceived
          : undefined;
    let attempt = delivery.attempt;
    let next: AttemptResult | undefined = first;
    for (;;) {
      const envelope: Envelope<unknown> = attempt === initial.attempt ? initial : { ...initial, attempt };
      let result = next;
      next = undefined;
      if (result === undefined) {
        // The span starts with the delivery's attempt; only in-place retries change it.
        if (attempt !== delivery.attempt) span.span.setAttribute(Attr.attempt, attempt);
        const attempted = this.#attempt(delivery, envelope, contract, handler, span);
        result = attempted instanceof Promise ? await attempted : attempted;
      }
      if (result.kind === 'ack') {
        if (!(await this.#settle(delivery, ACK, envelope.id))) return UNSETTLED;
        this.#emitAcked(delivery, envelope, attempt, started);
        return ACKED;
      }
      const info = this.#info(envelope);
      switch (result.kind) {
        case 'duplicate': {
          if (!(await this.#settle(delivery, ACK, envelope.id))) return UNSETTLED;
          this.#emitDuplicate(delivery, envelope);
          return { outcome: 'duplicate' };
        }
        case 'stale': {
          if (!(await this.#settle(delivery, ACK, envelope.id))) return UNSETTLED;
          this.#emitStale(delivery, envelope, result.version);
          return { outcome: 'stale' };
        }
        case 'lost':
          // The transport no longer owns the message (lease lapsed, partition revoked): whoever
          // receives it next settles it. Settling here would be rejected or wrong.
          return { outcome: 'lost' };
        case 'shutdown': {
          await this.#release(delivery, info, true);
          return { outcome: 'released' };
        }
        case 'dead-letter':
          return this.#deadLetter(delivery, { ...info, attempt }, 'handler-requested', result.error, firstFailureAt);
        case 'deferred': {
          // An open circuit is the downstream's state, not this message's fault: no attempt, no budget.
          events.emit('consumer:message:retried', {
            ...this.#base(delivery, info),
            delayMs: result.retryAfterMs,
            error: result.error,
          });
          telemetry.retried('deferred');
          if (caps.leaseMs !== undefined && caps.delayedRetry) {
            // Holding a leased message for the breaker's open time would outlive the lease.
            const delayMs = Math.min(result.retryAfterMs, caps.maxRetryDelayMs);
            if (!(await this.#settle(delivery, { kind: 'retry', delayMs, attempt }, envelope.id)))
              return { outcome: 'unsettled' };
            return { outcome: 'deferred', error: result.error };
          }
          // Waiting in place keeps the key's order and holds the slot: while the downstream is
          // down, in-flight fills up and the fetch loop stops, which is the backpressure we want.
          if (!(await this.#wait(result.retryAfterMs, delivery))) return this.#interruptedWait(delivery, info);
          continue;
        }
        case 'failed': {
          const now = clock.now();
          firstFailureAt ??= now;
          const decision = this.config.retryPolicy.decide(
            { attempt, firstFailureAt, now, error: result.error },
            random,
          );
          if (!decision.retry) {
            const reason: DeadLetterReason =
              decision.reason === 'non-retryable'
                ? 'non-retryable'
                : hasCode(result.error, 'SWITCHYARD_HANDLER_TIMEOUT')
                  ? 'timeout'
                  : 'retries-exhausted';
            return this.#deadLetter(delivery, { ...info, attempt }, reason, result.error, firstFailureAt);
          }
          if (this.config.retryBudget && !this.config.retryBudget.tryAcquireRetry())
            return this.#deadLetter(delivery, { ...info, attempt }, 'budget-exhausted', result.error, firstFailureAt);
          const delayMs = Math.max(0, decision.delayMs);
          if (caps.delayedRetry) {
            const capped = Math.min(delayMs, caps.maxRetryDelayMs);
            if (!(await this.#settle(delivery, { kind: 'retry', delayMs: capped, attempt }, envelope.id)))
              return { outcome: 'unsettled' };
            events.emit('consumer:message:retried', {
              ...this.#base(delivery, info),
              delayMs: capped,
              error: result.error,
            });
            telemetry.retried('delayed');
            return { outcome: 'retry', error: result.error };
          }
          events.emit('consumer:message:retried', { ...this.#base(delivery, info), delayMs, error: result.error });
          telemetry.retried('in-place');
          if (!(await this.#wait(delayMs, delivery))) return this.#interruptedWait(delivery, info);
          attempt += 1;
          continue;
        }
      }
    }
  }

  /**
   * One run of the chain: stale guard -> idempotency -> circuit breaker -> timeout -> handler.
   * Without a stale guard, idempotency or a breaker, the handler is called directly: a synchronous
   * handler's attempt is then decided without a promise (the caller awaits only when it gets one),
   * an async one's with a single `then`.
   */
  #attempt(
    delivery: Delivery,
    envelope: Envelope<unknown>,
    contract: AnyContract,
    handler: ResolvedHandler,
    span: ProcessSpan,
  ): AttemptResult | Promise<AttemptResult> {
    const { staleGuard, idempotency, breakers } = this.config;
    if (idempotency || (staleGuard && contract.version) || (breakers && handler.downstream !== undefined))
      return this.#guardedAttempt(delivery, envelope, contract, handler, span);
    let result: unknown;
    try {
      result = this.#invoke(delivery, envelope, handler, span);
      if (!isPromiseLike(result)) return this.#attemptOf(delivery, result);
    } catch (error) {
      return this.#failedAttempt(delivery, error);
    }
    return (result as Promise<unknown>).then(
      (value) => this.#attemptOf(delivery, value),
      (error: unknown) => this.#failedAttempt(delivery, error),
    );
  }

  /** A handler's return value as the attempt's result: retry and dead-letter outcomes fail it. */
  #attemptOf(delivery: Delivery, value: unknown): AttemptResult {
    if (isOutcome(value) && (value.kind === 'retry' || value.kind === 'dead-letter'))
      return this.#failedAttempt(delivery, new OutcomeSignal(value));
    return ATTEMPT_ACK;
  }

  async #guardedAttempt(
    delivery: Delivery,
    envelope: Envelope<unknown>,
    contract: AnyContract,
    handler: ResolvedHandler,
    span: ProcessSpan,
  ): Promise<AttemptResult> {
    const { staleGuard, idempotency } = this.config;
    const versionOf = contract.version;
    let version: number | bigint | undefined;
    // Versions are tracked per consumer group, so groups sharing a store do not shadow each other.
    const entity = `${this.config.group}/${envelope.key}`;
    try {
      if (staleGuard && versionOf) {
        version = versionOf(envelope.payload);
        const check = await staleGuard.check(entity, version);
        if (check.stale) return { kind: 'stale', version: String(version) };
      }
      if (idempotency) {
        const outcome = await idempotency.run(envelope, async () => this.#call(delivery, envelope, handler, span), {
          signal: delivery.signal,
        });
        if (outcome.status === 'duplicate') return DUPLICATE;
      } else {
        await this.#call(delivery, envelope, handler, span);
      }
      if (staleGuard && versionOf && version !== undefined) await staleGuard.record(entity, version);
      return ATTEMPT_ACK;
    } catch (error) {
      return this.#failedAttempt(delivery, error);
    }
  }

  /** What an error out of the chain means for the attempt. */
  #failedAttempt(delivery: Delivery, thrown: unknown): AttemptResult {
    if (delivery.signal.aborted) return { kind: 'lost' };
    const error = readableThrown(thrown);
    if (this.#abandon.signal.aborted) {
      this.#interrupted += 1;
      return { kind: 'shutdown' };
    }
    if (error instanceof CircuitOpenSignal) return { kind: 'deferred', retryAfterMs: error.retryAfterMs, error };
    if (error instanceof OutcomeSignal) {
      if (error.outcome.kind === 'retry')
        return {
          kind: 'failed',
          // RetryableError carries the requested delay to the policy, which caps it at maxDelayMs.
          error: new RetryableError(
            `handler asked for a retry${error.outcome.reason ? `: ${error.outcome.reason}` : ''}`,
            error.outcome.delayMs === undefined ? {} : { delayMs: error.outcome.delayMs },
          ),
        };
      return {
        kind: 'dead-letter',
        error: new SwitchyardError(
          'SWITCHYARD_NON_RETRYABLE',
          `handler asked for dead-lettering: ${error.outcome.reason}`,
          {
            retryable: false,
          },
        ),
      };
    }
    return { kind: 'failed', error };
  }

  /**
   * Circuit breaker -> handler -> the outcome it returned (retry and dead-letter outcomes throw an
   * OutcomeSignal). Returns the handler's value itself when it gave one synchronously, a promise
   * otherwise.
   */
  #call(delivery: Delivery, envelope: Envelope<unknown>, handler: ResolvedHandler, span: ProcessSpan): unknown {
    const { breakers } = this.config;
    if (breakers && handler.downstream !== undefined)
      return this.#callThroughBreaker(breakers, handler.downstream, delivery, envelope, handler, span);
    const result = this.#invoke(delivery, envelope, handler, span);
    return isPromiseLike(result) ? (result as Promise<unknown>).then(checkOutcome) : checkOutcome(result);
  }

  async #callThroughBreaker(
    breakers: NonNullable<ResolvedConsumer['breakers']>,
    downstream: string,
    delivery: Delivery,
    envelope: Envelope<unknown>,
    handler: ResolvedHandler,
    span: ProcessSpan,
  ): Promise<unknown> {
    const gate = breakers.for(downstream).tryAcquire();
    if (!gate.allowed) throw new CircuitOpenSignal(downstream, gate.retryAfterMs);
    const permit = gate.permit;
    let result: unknown;
    try {
      result = await this.#invoke(delivery, envelope, handler, span);
    } catch (error) {
      // Only failures that say the downstream is unwell count against its breaker.
      if (isRetryable(error)) permit.failure();
      else permit.success();
      throw error;
    }
    if (isOutcome(result) && result.kind === 'retry') {
      permit.failure();
      throw new OutcomeSignal(result);
    }
    permit.success();
    return checkOutcome(result);
  }

  /**
   * Runs the handler with its abort signal and timeout, inside the message scope and the process
   * span. Returns what the handler returned when it returned synchronously (a no-op or CPU-only
   * handler); otherwise a promise that settles with the handler or rejects when it is aborted (the
   * delivery was lost, shutdown passed its deadline, or it timed out).
   */
  #invoke(delivery: Delivery, envelope: Envelope<unknown>, handler: ResolvedHandler, span: ProcessSpan): unknown {
    if (delivery.signal.aborted) throw delivery.signal.reason;
    if (this.#abandon.signal.aborted) throw this.#abandon.signal.reason;
    const call = new HandlerCall(this.#runs, delivery, envelope, span, this.#logger);
    this.#runs.begin(call, handler.timeoutMs);
    let result: unknown;
    try {
      // The call is the message scope (envelope + trace context) `app.publish` reads in the handler.
      result = messageScope.run(call, runHandler, span, handler.definition, envelope, call.context);
    } catch (error) {
      call.finish();
      throw error;
    }
    if (!isPromiseLike(result)) {
      call.finish();
      return result;
    }
    // A handler that ignores its signal keeps running, but the pipeline moves on without it.
    return call.race(result);
  }

  // ---------------------------------------------------------------------------------------------

  async #deadLetter(
    delivery: Delivery,
    info: MessageInfo,
    reason: DeadLetterReason,
    error: unknown,
    firstFailureAt: number | undefined,
  ): Promise<Processed> {
    const now = this.#deps.clock.now();
    const record = buildDeadLetterRecord({
      raw: delivery.message,
      consumerGroup: this.config.group,
      messageId: info.messageId,
      messageType: info.type,
      key: info.key,
      attempts: info.attempt,
      firstFailureAt: firstFailureAt ?? now,
      lastFailureAt: now,
      reason,
      error,
    });
    const destination = this.#deadLetterDestinationOf(delivery);
    this.#logger.warn(
      { messageId: info.messageId, type: info.type, reason, errorCode: errorCodeOf(error), attempts: info.attempt },
      `dead-lettering to '${destination}'`,
    );
    if (!(await this.#settle(delivery, { kind: 'dead-letter', record, destination }, info.messageId)))
      return { outcome: 'unsettled', error };
    this.#deps.events.emit('consumer:message:dead-lettered', {
      ...this.#base(delivery, info),
      record,
      deadLetterDestination: destination,
    });
    this.#telemetry.deadLettered(reason);
    return { outcome: 'dead-letter', error };
  }

  /** The consumer's own destination when it named one, else the delivery's (transport default). */
  #deadLetterDestinationOf(delivery: Delivery): string {
    if (this.config.deadLetterNamed) return this.config.deadLetterDestination;
    const own = delivery.deadLetterDestination;
    return typeof own === 'string' && own !== '' ? own : this.config.deadLetterDestination;
  }

  /**
   * Settles, retrying a failed settlement with backoff: never acks instead, never drops. Gives up
   * only when the transport lost the message, the error says retrying cannot help, or shutdown
   * passed its deadline; the message is then redelivered by the transport. Returns whether it settled.
   */
  #settle(delivery: Delivery, settlement: Settlement, messageId: string): Promise<boolean> {
    // The first try without an async frame of its own: it nearly always succeeds.
    let settling: Promise<void> | undefined;
    try {
      settling = delivery.settle(settlement);
    } catch (error) {
      return this.#settleAgain(delivery, settlement, messageId, error);
    }
    if (settling === undefined) return SETTLED;
    return settling.then(settled, (error: unknown) => this.#settleAgain(delivery, settlement, messageId, error));
  }

  /** `#settle` after a try failed with `error`: reports it, then retries with backoff unless hopeless. */
  async #settleAgain(delivery: Delivery, settlement: Settlement, messageId: string, error: unknown): Promise<boolean> {
    let delay: number = SETTLE_BACKOFF.initialMs;
    for (let failures = 1; ; failures++) {
      const hopeless = !isRetryable(error) || delivery.signal.aborted || this.#abandon.signal.aborted;
      this.#reportError(
        error,
        `settling ${settlement.kind} of ${messageId} on '${this.config.channel.name}' failed (${failures}×)` +
          (hopeless ? '; left unsettled for the transport to redeliver' : `; retrying in ${delay} ms`),
      );
      if (hopeless) return this.#unsettled();
      const wait = delay / 2 + this.#deps.random() * (delay / 2);
      try {
        await this.#deps.clock.sleep(wait, AbortSignal.any([delivery.signal, this.#abandon.signal]));
      } catch {
        return this.#unsettled();
      }
      delay = Math.min(delay * 2, SETTLE_BACKOFF.maxMs);
      try {
        await delivery.settle(settlement);
        return true;
      } catch (next) {
        error = next;
      }
    }
  }

  /** A settlement abandoned: at shutdown it counts as handed back (the transport redelivers it). */
  #unsettled(): false {
    if (this.#abandon.signal.aborted) this.#abandoned += 1;
    return false;
  }

  /** Gives a delivery back unprocessed (shutdown). One try: if it fails, the transport redelivers anyway. */
  async #release(delivery: Delivery, info?: MessageInfo, started = false): Promise<void> {
    this.#abandoned += 1;
    const raw = delivery.message;
    const base = info ?? {
      messageId: raw.headers[WireHeaders.id] ?? fallbackId(raw.source),
      type: raw.headers[WireHeaders.type],
      key: raw.headers[WireHeaders.key] ?? raw.key,
      attempt: delivery.attempt,
    };
    try {
      await delivery.settle({ kind: 'release' });
    } catch (error) {
      this.#reportError(
        error,
        `releasing ${base.messageId} on '${this.config.channel.name}' failed; it will be redelivered`,
      );
      return;
    }
    this.#deps.events.emit('consumer:message:released', this.#base(delivery, base));
    if (started) this.#logger.info({ messageId: base.messageId }, 'released at shutdown');
  }

  /** A retry/deferral wait ended early: shutdown releases the message, a lost lease just lets go. */
  async #interruptedWait(delivery: Delivery, info: MessageInfo): Promise<Processed> {
    if (delivery.signal.aborted) return { outcome: 'lost' };
    await this.#release(delivery, info, true);
    return { outcome: 'released' };
  }

  /** Sleeps between in-place attempts; false when stopping or the transport lost the message. */
  async #wait(ms: number, delivery: Delivery): Promise<boolean> {
    try {
      await this.#deps.clock.sleep(ms, AbortSignal.any([delivery.signal, this.#stopping.signal]));
      return true;
    } catch {
      return false;
    }
  }

  /** Built as one object: it is emitted for nearly every message. */
  #emitAcked(delivery: Delivery, envelope: Envelope<unknown>, attempt: number, started: number): void {
    if (!this.#deps.events.has('consumer:message:acked')) return;
    this.#deps.events.emit('consumer:message:acked', {
      consumerGroup: this.config.group,
      destination: this.config.channel.name,
      messageId: envelope.id,
      type: envelope.type,
      key: envelope.key,
      attempt,
      source: delivery.message.source,
      durationMs: this.#deps.clock.now() - started,
    });
  }

  #emitDuplicate(delivery: Delivery, envelope: Envelope<unknown>): void {
    this.#deps.events.emit('consumer:message:duplicate', this.#base(delivery, this.#info(envelope)));
    this.#telemetry.duplicate();
  }

  #emitStale(delivery: Delivery, envelope: Envelope<unknown>, version: string): void {
    this.#deps.events.emit('consumer:message:stale', { ...this.#base(delivery, this.#info(envelope)), version });
  }

  #info(envelope: Envelope<unknown>): MessageInfo {
    return { messageId: envelope.id, type: envelope.type, key: envelope.key, attempt: envelope.attempt };
  }

  #base(delivery: Delivery, info: MessageInfo): MessageEventBase {
    return {
      consumerGroup: this.config.group,
      destination: this.config.channel.name,
      messageId: info.messageId,
      type: info.type,
      key: info.key,
      attempt: info.attempt,
      source: delivery.message.source,
    };
  }

  #reportError(error: unknown, context: string): void {
    this.#logger.error({ err: error }, context);
    this.#deps.events.emit('app:error', { error, context });
  }
}

interface PendingDelivery extends Linked<PendingDelivery> {
  readonly delivery: Delivery;
  started: boolean;
  released: boolean;
}

interface MessageInfo {
  readonly messageId: string;
  readonly type: string | undefined;
  readonly key: string | undefined;
  readonly attempt: number;
}

function keyOf(contract: AnyContract, payload: unknown): string {
  try {
    return String(contract.key(payload));
  } catch {
    return '';
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/** The handler's result, or an OutcomeSignal when it asked for a retry or a dead letter. */
function checkOutcome(result: unknown): unknown {
  if (isOutcome(result) && (result.kind === 'retry' || result.kind === 'dead-letter')) throw new OutcomeSignal(result);
  return result;
}

/** Calls the handler with the process span's context active (a module function: no closure per message). */
function runHandler(
  span: ProcessSpan,
  definition: HandlerDefinition,
  envelope: Envelope<unknown>,
  context: HandlerContext,
): unknown {
  return span.with(definition.handle, definition, envelope as never, context);
}

const settled = (): true => true;
const SETTLED: Promise<boolean> = Promise.resolve(true);
const ACK: Settlement = Object.freeze({ kind: 'ack' });
const ATTEMPT_ACK: AttemptResult = Object.freeze({ kind: 'ack' });
const DUPLICATE: AttemptResult = Object.freeze({ kind: 'duplicate' });
const ACKED: Processed = Object.freeze({ outcome: 'ack' });
const UNSETTLED: Processed = Object.freeze({ outcome: 'unsettled' });

/**
 * One run of a handler: the context it gets, the message scope it runs in, and the ways it is
 * aborted.
 *
 * Not an AbortController per run listening on the delivery's and the shutdown signal: creating a
 * controller costs microseconds (more than the rest of a no-op message), aborting one without a
 * reason builds a DOMException, and most handlers never read `context.signal`. Aborts arrive through
 * `abort()` (from HandlerRuns: the delivery lost, the shutdown deadline, the timeout), and the
 * controller behind `context.signal` is made on first read, already aborted if the run was.
 */
class HandlerCall implements MessageScope, TimedRun, Linked<HandlerCall> {
  readonly envelope: Envelope<unknown>;
  readonly context: HandlerRunContext;
  prev: HandlerCall | undefined;
  next: HandlerCall | undefined;
  listed = false;
  /** The delivery's signal: HandlerRuns aborts the run when it fires. */
  readonly lost: AbortSignal;
  /** Set by HandlerRuns when a timeout applies. */
  deadline = Number.POSITIVE_INFINITY;
  timeoutMs = 0;
  ticket: DeadlineTicket | undefined;
  readonly #runs: HandlerRuns;
  readonly #span: ProcessSpan;
  #controller: AbortController | undefined;
  #aborted = false;
  #finished = false;
  #reason: unknown;
  #resolve: ((value: unknown) => void) | undefined;
  #reject: ((reason: unknown) => void) | undefined;

  constructor(runs: HandlerRuns, delivery: Delivery, envelope: Envelope<unknown>, span: ProcessSpan, logger: Logger) {
    this.#runs = runs;
    this.lost = delivery.signal;
    this.envelope = envelope;
    this.#span = span;
    this.context = new HandlerRunContext(this, logger);
  }

  /** The process span's context, read by `app.publish` from inside the handler (made then, when deferred). */
  get traceContext(): Context {
    return this.#span.context;
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** Aborts the run (first reason wins); nothing once the handler has finished. */
  abort(reason: unknown): void {
    if (this.#aborted || this.#finished) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    if (this.#reject !== undefined) this.#end(false, reason);
  }

  /** The deadline passed: aborts the run with a retryable SWITCHYARD_HANDLER_TIMEOUT. */
  timeOut(): void {
    const { timeoutMs } = this;
    const { type, id } = this.envelope;
    this.abort(
      new SwitchyardError(
        'SWITCHYARD_HANDLER_TIMEOUT',
        `handler for ${type} ${id} did not finish within ${timeoutMs} ms`,
        {
          retryable: true,
          details: { timeoutMs },
        },
      ),
    );
  }

  /**
   * Settles with the handler's promise, or rejects with the abort reason when the run is aborted
   * first; the run has ended (`finish`) by the time it settles.
   */
  race(running: PromiseLike<unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      // Aborted while the handler's synchronous part ran: the abort wins, as it settled first.
      if (this.#aborted) this.#end(false, this.#reason);
      running.then(
        (value) => this.#end(true, value),
        (error: unknown) => this.#end(false, error),
      );
    });
  }

  /** The run ended: nothing aborts it any more. */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#runs.end(this);
  }

  /** The handler's signal, made on first read. */
  signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  #end(ok: boolean, value: unknown): void {
    if (this.#finished) return;
    this.finish();
    if (ok) this.#resolve!(value);
    else this.#reject!(value);
  }
}

/**
 * A consumer's handler runs in progress and what can abort them: the delivery lost, the shutdown
 * deadline (`abortAll`), a timeout (one timer per timeout length, see HandlerDeadlines).
 *
 * A delivery's signal gets one listener, added when a run first uses it and kept until it fires:
 * transports hand every delivery of a partition the same signal, and adding and removing a listener
 * per message was a measurable part of the per-message cost. When it fires, the runs using it
 * (found in the list of running ones) are aborted.
 */
class HandlerRuns {
  readonly #running = new InFlightList<HandlerCall>();
  /** Delivery signals with our listener on them. */
  readonly #watched = new WeakSet<AbortSignal>();
  /** The signal last watched: deliveries come in runs sharing one, which skips the WeakSet lookup. */
  #lastWatched: AbortSignal | undefined;
  readonly #deadlines: HandlerDeadlines;
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
    this.#deadlines = new HandlerDeadlines(clock);
  }

  begin(call: HandlerCall, timeoutMs: number | undefined): void {
    this.#watch(call.lost);
    this.#running.add(call);
    if (timeoutMs !== undefined) {
      call.timeoutMs = timeoutMs;
      call.deadline = this.#clock.now() + timeoutMs;
      call.ticket = this.#deadlines.add(timeoutMs, call);
    }
  }

  end(call: HandlerCall): void {
    this.#running.delete(call);
    if (call.ticket !== undefined) this.#deadlines.finished(call.ticket);
  }

  abortAll(reason: unknown): void {
    for (const call of this.#running.snapshot()) call.abort(reason);
  }

  close(): void {
    this.#deadlines.close();
  }

  #watch(signal: AbortSignal): void {
    if (signal === this.#lastWatched) return;
    this.#lastWatched = signal;
    if (this.#watched.has(signal)) return;
    this.#watched.add(signal);
    signal.addEventListener('abort', () => this.#lost(signal), { once: true });
  }

  #lost(signal: AbortSignal): void {
    for (const call of this.#running.snapshot()) if (call.lost === signal) call.abort(signal.reason);
  }
}

/**
 * The HandlerContext of one run. `signal` and `logger` are getters (on the prototype: an object
 * literal with accessors is ~50 times slower to create), so neither is built unless the handler
 * reads it.
 */
class HandlerRunContext implements HandlerContext {
  readonly attempt: number;
  readonly #call: HandlerCall;
  readonly #parentLogger: Logger;
  #logger: Logger | undefined;

  constructor(call: HandlerCall, logger: Logger) {
    this.attempt = call.envelope.attempt;
    this.#call = call;
    this.#parentLogger = logger;
  }

  get signal(): AbortSignal {
    return this.#call.signal();
  }

  get logger(): Logger {
    if (this.#logger === undefined) {
      const { id, type, attempt } = this.#call.envelope;
      this.#logger = childLogger(this.#parentLogger, { messageId: id, type, attempt });
    }
    return this.#logger;
  }
}
