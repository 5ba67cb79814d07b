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

import type { Context } from '@opentelemetry/api';
import { context as otelContext } from '@opentelemetry/api';
import type { Clock, RandomSource } from '../clock.js';
import type { AnyContract } from '../contracts.js';
import type { DeadLetterReason } from '../dead-letter.js';
import type { Envelope } from '../envelope.js';
import { errorCodeOf, hasCode, isRetryable, RetryableError, SwitchyardError } from '../errors.js';
import type { MessageEventBase, SwitchyardEvents, TypedEvents } from '../events.js';
import type { HandlerContext } from '../handlers.js';
import { KeyedScheduler } from '../keyed-scheduler.js';
import { childLogger, type Logger } from '../logger.js';
import { isOutcome, type Outcome } from '../outcome.js';
import type { Delivery, Settlement, TransportHealth, TransportSubscription } from '../ports/transport.js';
import type { StandardSchemaV1 } from '../standard-schema.js';
import { Attr } from '../telemetry/attributes.js';
import type { ProcessSpan, Telemetry } from '../telemetry/telemetry.js';
import { decodeRawMessage, fallbackId, type TypeResolver, validationError, WireHeaders } from '../wire.js';
import { buildDeadLetterRecord } from './dead-letter-record.js';
import { messageScope } from './message-scope.js';
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
  readonly #observer: ReturnType<Telemetry['observer']>;
  readonly #logger: Logger;
  /** Aborted when stop begins: no new work starts, waits end, unstarted deliveries are released. */
  readonly #stopping = new AbortController();
  /** Aborted at the shutdown deadline: running handlers are aborted and their messages released. */
  readonly #abandon = new AbortController();
  /** Handed over and not started yet (waiting for room or behind their key). */
  readonly #pending = new Set<PendingDelivery>();
  #subscription: TransportSubscription | undefined;
  #state: ConsumerState = 'idle';
  #abandoned = 0;
  #interrupted = 0;

  constructor(config: ResolvedConsumer, deps: ConsumerDeps) {
    this.config = config;
    this.#deps = deps;
    this.#labels = {
      system: config.transport.system,
      destination: config.channel.name,
      consumerGroup: config.group,
    };
    this.#logger = childLogger(deps.logger, { destination: config.channel.name, consumerGroup: config.group });
    this.#observer = deps.telemetry.observer(this.#labels);
    this.#scheduler = new KeyedScheduler({
      maxInFlight: config.maxInFlight,
      maxInFlightBytes: config.maxInFlightBytes,
      onTaskError: (error) => this.#reportError(error, 'unexpected error in the message pipeline'),
      onHotKey: (report) => {
        deps.telemetry.hotKey(this.#labels);
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
    for (const pending of this.#pending) {
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
    this.#abandon.abort(
      new SwitchyardError('SWITCHYARD_SHUTDOWN', 'shutdown deadline passed; handler aborted', { retryable: false }),
    );
    return this.#scheduler.drain(grace);
  }

  async close(): Promise<void> {
    try {
      await this.#subscription?.close();
    } finally {
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

  async #sink(delivery: Delivery): Promise<void> {
    // The context active where the transport hands the message over: an instrumentation's span there
    // becomes the parent of ours (see telemetry.ts).
    const outer = this.#deps.telemetry.active();
    if (this.#stopping.signal.aborted) {
      await this.#release(delivery);
      return;
    }
    const pending: PendingDelivery = { delivery, started: false, released: false };
    this.#pending.add(pending);
    try {
      await this.#scheduler.schedule(
        delivery.orderingKey,
        delivery.sizeBytes,
        () => this.#start(pending, outer),
        this.#stopping.signal,
      );
    } catch {
      // Stopping while it waited for room: it never started, give it back.
      this.#pending.delete(pending);
      if (!pending.released) {
        pending.released = true;
        await this.#release(delivery);
      }
    }
  }

  async #start(pending: PendingDelivery, outer: Context): Promise<void> {
    this.#pending.delete(pending);
    if (pending.released) return;
    if (this.#stopping.signal.aborted) {
      pending.released = true;
      await this.#release(pending.delivery);
      return;
    }
    pending.started = true;
    await this.#process(pending.delivery, outer);
  }

  async #process(delivery: Delivery, outer: Context): Promise<void> {
    if (delivery.signal.aborted) return;
    const { telemetry } = this.#deps;
    telemetry.inFlight(this.#labels, 1);
    telemetry.consumed(this.#labels);
    const raw = delivery.message;
    const decoded = decodeRawMessage(raw, this.#resolver, delivery.attempt);
    const span = telemetry.startProcess({
      ...this.#labels,
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
    try {
      const processed = await this.#run(delivery, decoded, span);
      span.end(processed.outcome, processed.error);
    } catch (error) {
      span.end('error', error);
      throw error;
    } finally {
      telemetry.inFlight(this.#labels, -1);
    }
  }

  async #run(delivery: Delivery, decoded: ReturnType<typeof decodeRawMessage>, span: ProcessSpan): Promise<Processed> {
    const raw = delivery.message;
    const started = this.#deps.clock.now();
    if (!decoded.ok) {
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
        if (!(await this.#settle(delivery, { kind: 'ack' }, info.messageId))) return { outcome: 'unsettled' };
        this.#deps.events.emit('consumer:message:acked', { ...this.#base(delivery, info), durationMs: 0 });
        return { outcome: 'skipped' };
      }
      return this.#deadLetter(delivery, info, decoded.reason, decoded.error, started);
    }

    const { contract } = decoded;
    const handler = this.config.handlers.get(contract.name)!;
    let envelope = decoded.envelope;
    let validated: StandardSchemaV1.Result<unknown>;
    try {
      validated = await contract.schema['~standard'].validate(envelope.payload);
    } catch (cause) {
      // A schema that throws (a custom refinement with a bug) cannot vouch for the payload either.
      const error = new SwitchyardError('SWITCHYARD_VALIDATION', `validating '${contract.name}' threw`, {
        cause,
        retryable: false,
      });
      return this.#deadLetter(delivery, this.#info(envelope), 'validation', error, started);
    }
    if (validated.issues) {
      const error = validationError(contract.name, validated.issues);
      return this.#deadLetter(delivery, this.#info(envelope), 'validation', error, started);
    }
    envelope = { ...envelope, payload: validated.value, key: envelope.key || keyOf(contract, validated.value) };

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
    if (!(await this.#settle(delivery, { kind: 'ack' }, envelope.id))) return { outcome: 'unsettled' };
    const started = this.#deps.clock.now();
    for (;;) {
      const result = await this.#attempt(delivery, envelope, contract, handler, span);
      switch (result.kind) {
        case 'ack':
          this.#deps.events.emit('consumer:message:acked', {
            ...this.#base(delivery, this.#info(envelope)),
            durationMs: this.#deps.clock.now() - started,
          });
          return { outcome: 'ack' };
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
          this.#deps.telemetry.retried(this.#labels, 'deferred');
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

  async #runAtLeastOnce(
    delivery: Delivery,
    initial: Envelope<unknown>,
    contract: AnyContract,
    handler: ResolvedHandler,
    span: ProcessSpan,
    started: number,
  ): Promise<Processed> {
    const { clock, events, telemetry, random } = this.#deps;
    const caps = this.config.transport.capabilities;
    const carried = Number(delivery.message.headers[WireHeaders.firstFailureAt]);
    let firstFailureAt: number | undefined = Number.isFinite(carried) && carried > 0 ? carried : undefined;
    let attempt = delivery.attempt;
    // The budget's ratio is a share of first deliveries; redeliveries and in-place retries are retries.
    if (attempt === 1) this.config.retryBudget?.recordAttempt();
    for (;;) {
      const envelope: Envelope<unknown> = attempt === initial.attempt ? initial : { ...initial, attempt };
      span.span.setAttribute(Attr.attempt, attempt);
      const result = await this.#attempt(delivery, envelope, contract, handler, span);
      const info = this.#info(envelope);
      switch (result.kind) {
        case 'ack': {
          if (!(await this.#settle(delivery, { kind: 'ack' }, envelope.id))) return { outcome: 'unsettled' };
          events.emit('consumer:message:acked', { ...this.#base(delivery, info), durationMs: clock.now() - started });
          return { outcome: 'ack' };
        }
        case 'duplicate': {
          if (!(await this.#settle(delivery, { kind: 'ack' }, envelope.id))) return { outcome: 'unsettled' };
          this.#emitDuplicate(delivery, envelope);
          return { outcome: 'duplicate' };
        }
        case 'stale': {
          if (!(await this.#settle(delivery, { kind: 'ack' }, envelope.id))) return { outcome: 'unsettled' };
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
          telemetry.retried(this.#labels, 'deferred');
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
            telemetry.retried(this.#labels, 'delayed');
            return { outcome: 'retry', error: result.error };
          }
          events.emit('consumer:message:retried', { ...this.#base(delivery, info), delayMs, error: result.error });
          telemetry.retried(this.#labels, 'in-place');
          if (!(await this.#wait(delayMs, delivery))) return this.#interruptedWait(delivery, info);
          attempt += 1;
          continue;
        }
      }
    }
  }

  /** One run of the chain: stale guard -> idempotency -> circuit breaker -> timeout -> handler. */
  async #attempt(
    delivery: Delivery,
    envelope: Envelope<unknown>,
    contract: AnyContract,
    handler: ResolvedHandler,
    span: ProcessSpan,
  ): Promise<AttemptResult> {
    const { staleGuard, idempotency, breakers } = this.config;
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
      const call = async (): Promise<unknown> => {
        let permit: { success(): void; failure(): void } | undefined;
        if (breakers && handler.downstream !== undefined) {
          const gate = breakers.for(handler.downstream).tryAcquire();
          if (!gate.allowed) throw new CircuitOpenSignal(handler.downstream, gate.retryAfterMs);
          permit = gate.permit;
        }
        let result: unknown;
        try {
          result = await this.#invoke(delivery, envelope, handler, span.context);
        } catch (error) {
          // Only failures that say the downstream is unwell count against its breaker.
          if (isRetryable(error)) permit?.failure();
          else permit?.success();
          throw error;
        }
        if (isOutcome(result) && result.kind === 'retry') {
          permit?.failure();
          throw new OutcomeSignal(result);
        }
        permit?.success();
        if (isOutcome(result) && result.kind === 'dead-letter') throw new OutcomeSignal(result);
        return result;
      };
      if (idempotency) {
        const outcome = await idempotency.run(envelope, call, { signal: delivery.signal });
        if (outcome.status === 'duplicate') return { kind: 'duplicate' };
      } else {
        await call();
      }
      if (staleGuard && versionOf && version !== undefined) await staleGuard.record(entity, version);
      return { kind: 'ack' };
    } catch (error) {
      if (delivery.signal.aborted) return { kind: 'lost' };
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
  }

  /** Runs the handler with its abort signal and timeout, inside the message scope and the process span. */
  async #invoke(
    delivery: Delivery,
    envelope: Envelope<unknown>,
    handler: ResolvedHandler,
    traceContext: Context,
  ): Promise<unknown> {
    const controller = new AbortController();
    const abort = (signal: AbortSignal) => () => controller.abort(signal.reason);
    const onLost = abort(delivery.signal);
    const onAbandon = abort(this.#abandon.signal);
    if (delivery.signal.aborted) onLost();
    if (this.#abandon.signal.aborted) onAbandon();
    delivery.signal.addEventListener('abort', onLost, { once: true });
    this.#abandon.signal.addEventListener('abort', onAbandon, { once: true });
    const timer = new AbortController();
    if (handler.timeoutMs !== undefined) {
      const timeoutMs = handler.timeoutMs;
      this.#deps.clock.sleep(timeoutMs, timer.signal).then(
        () =>
          controller.abort(
            new SwitchyardError(
              'SWITCHYARD_HANDLER_TIMEOUT',
              `handler for ${envelope.type} ${envelope.id} did not finish within ${timeoutMs} ms`,
              { retryable: true, details: { timeoutMs } },
            ),
          ),
        () => {},
      );
    }
    const context: HandlerContext = {
      signal: controller.signal,
      attempt: envelope.attempt,
      logger: childLogger(this.#logger, { messageId: envelope.id, type: envelope.type, attempt: envelope.attempt }),
    };
    const aborted = rejectOnAbort(controller.signal);
    try {
      if (controller.signal.aborted) throw controller.signal.reason;
      const running = messageScope.run({ envelope, traceContext }, () =>
        otelContext.with(traceContext, () =>
          Promise.resolve().then(() => handler.definition.handle(envelope as never, context)),
        ),
      );
      // A handler that ignores its signal keeps running, but the pipeline moves on without it.
      running.catch(() => {});
      return await Promise.race([running, aborted.promise]);
    } finally {
      aborted.dispose();
      timer.abort();
      delivery.signal.removeEventListener('abort', onLost);
      this.#abandon.signal.removeEventListener('abort', onAbandon);
    }
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
    const destination = this.config.deadLetterDestination;
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
    this.#deps.telemetry.deadLettered(this.#labels, reason);
    return { outcome: 'dead-letter', error };
  }

  /**
   * Settles, retrying a failed settlement with backoff: never acks instead, never drops. Gives up
   * only when the transport lost the message, the error says retrying cannot help, or shutdown
   * passed its deadline; the message is then redelivered by the transport. Returns whether it settled.
   */
  async #settle(delivery: Delivery, settlement: Settlement, messageId: string): Promise<boolean> {
    let delay: number = SETTLE_BACKOFF.initialMs;
    for (let failures = 1; ; failures++) {
      try {
        await delivery.settle(settlement);
        return true;
      } catch (error) {
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

  #emitDuplicate(delivery: Delivery, envelope: Envelope<unknown>): void {
    this.#deps.events.emit('consumer:message:duplicate', this.#base(delivery, this.#info(envelope)));
    this.#deps.telemetry.duplicate(this.#labels);
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

interface PendingDelivery {
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

/** A promise that rejects with the signal's reason when it aborts; `dispose` drops the listener. */
function rejectOnAbort(signal: AbortSignal): { readonly promise: Promise<never>; dispose(): void } {
  let onAbort: () => void = () => {};
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}
