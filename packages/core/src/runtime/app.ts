// The public face of the runtime: declare consumers, publish and send, start, stop.
//
//   const app = createApp({ transport });
//   app.consume(orders, { group: 'billing', handlers: [defineHandler(OrderPlaced, charge)] });
//   await app.start();
//   await app.publish(orders, OrderPlaced, { orderId: 'o-1', total: 42 });
//   await app.stop();

import type { MeterProvider, TextMapPropagator, TracerProvider } from '@opentelemetry/api';
import { assertClock, assertRandom, type Clock, type RandomSource, systemClock, systemRandom } from '../clock.js';
import {
  type AnyContract,
  assertChannelFits,
  type Channel,
  type CommandContract,
  type EventContract,
  type PayloadOf,
  type Queue,
  type Topic,
} from '../contracts.js';
import { consumerDefinitionsOf } from '../decorators.js';
import type { OutgoingMessage } from '../envelope.js';
import {
  assertAbortSignal,
  assertMethods,
  InvalidOptionError,
  isOptionObject,
  isSwitchyardError,
  optionKindText,
  optionValueText,
  refuseUnknownKeys,
  SwitchyardError,
} from '../errors.js';
import { type SwitchyardEvents, TypedEvents } from '../events.js';
import { assertLogger, childLogger, type Logger, silentLogger } from '../logger.js';
import type { Transport, TransportHealth } from '../ports/transport.js';
import { Telemetry } from '../telemetry/telemetry.js';
import { type EncodeOptions, encodeMessage, encodeMessageSync } from '../wire.js';
import { type ConsumerHealth, ConsumerRuntime } from './consumer.js';
import { messageScope } from './message-scope.js';
import { assertTransport, type ConsumeOptions, type ResolvedConsumer, resolveConsumeOptions } from './options.js';

export interface AppOptions {
  readonly transport: Transport;
  /** pino-compatible; silent by default. */
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly random?: RandomSource;
  /** Default: the global tracer provider. */
  readonly tracerProvider?: TracerProvider;
  /** Default: the global meter provider. */
  readonly meterProvider?: MeterProvider;
  /** Default: the global propagator (W3C trace context once an OpenTelemetry SDK registers it). */
  readonly propagator?: TextMapPropagator;
  readonly shutdown?: {
    /** How long `stop()` lets in-flight handlers finish before aborting them. Default 30 s. */
    readonly deadlineMs?: number;
  };
}

export const appDefaults = Object.freeze({ shutdownDeadlineMs: 30_000 });

export interface SendOptions {
  /** Extra headers (lower-cased on the wire). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Default: inside a handler, the consumed message's correlation id (or its id). */
  readonly correlationId?: string;
  /** Default: inside a handler, the consumed message's id. */
  readonly causationId?: string;
  /** Default: a random UUID. Reuse it when re-sending the same logical message. */
  readonly id?: string;
  /** Deliver later (queues that support it natively). */
  readonly delayMs?: number;
  /** FIFO deduplication id (defaults to the message id on transports that need one). */
  readonly deduplicationId?: string;
  readonly signal?: AbortSignal;
}

/** Options of `publishBatch` / `sendBatch`: applied to every message of the batch. */
export interface BatchSendOptions extends Omit<SendOptions, 'id' | 'deduplicationId'> {
  /**
   * Ids of the messages, in order (default: random UUIDs). Re-sending a failed batch with the ids
   * from its error's `details.messageIds` lets consumers that deduplicate by id drop the copies.
   */
  readonly ids?: readonly string[];
}

const SEND_KEYS: readonly string[] = [
  'headers',
  'correlationId',
  'causationId',
  'id',
  'delayMs',
  'deduplicationId',
  'signal',
] satisfies (keyof SendOptions)[];
const BATCH_SEND_KEYS: readonly string[] = [
  'headers',
  'correlationId',
  'causationId',
  'delayMs',
  'signal',
  'ids',
] satisfies (keyof BatchSendOptions)[];

/**
 * A publish's options, checked before anything is encoded: a typo (`correlationid`) or a header
 * value that is not a string fails naming it, instead of being ignored or failing later as a
 * SWITCHYARD_PUBLISH whose cause is a TypeError.
 */
function checkSendOptions(verb: string, options: unknown, batch: boolean): void {
  if (!isOptionObject(options))
    throw new InvalidOptionError(
      `${verb}.options`,
      `must be an options object, got ${optionKindText(options)}`,
      "pass e.g. { correlationId: 'c-1' }, or leave it out",
    );
  refuseUnknownKeys(options, batch ? BATCH_SEND_KEYS : SEND_KEYS, `a ${verb}`, (key) => `${verb}.${key}`);
  for (const key in options) {
    const value = options[key];
    if (value === undefined) continue;
    switch (key) {
      case 'headers':
        if (!isOptionObject(value))
          throw new InvalidOptionError(
            `${verb}.headers`,
            `must be an object of string values, got ${optionKindText(value)}`,
            "pass e.g. headers: { 'x-tenant': 'acme' }",
          );
        for (const name in value)
          if (typeof value[name] !== 'string')
            throw new InvalidOptionError(
              `${verb}.headers.${name}`,
              `must be a string, got ${optionKindText(value[name])}`,
              'convert it with String(value), or leave the header out',
            );
        break;
      case 'delayMs':
        if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0))
          throw new InvalidOptionError(
            `${verb}.delayMs`,
            `must be a number of milliseconds, 0 or more, got ${optionValueText(value)}`,
            'pass e.g. delayMs: 5_000',
          );
        break;
      case 'signal':
        assertAbortSignal(`${verb}.signal`, value);
        break;
      case 'ids':
        break; // checked against the payloads by the batch
      default:
        if (typeof value !== 'string' || value === '')
          throw new InvalidOptionError(
            `${verb}.${key}`,
            `must be a non-empty string, got ${typeof value === 'string' ? "''" : optionKindText(value)}`,
            `pass a string ${key}, or leave it out`,
          );
    }
  }
}

export interface PublishReceipt {
  readonly id: string;
  readonly destination: string;
}

export type AppStatus = 'starting' | 'ready' | 'draining' | 'stopped';

export interface AppHealth {
  readonly status: AppStatus;
  readonly consumers: readonly ConsumerHealth[];
  readonly transport: TransportHealth;
}

export interface StopResult {
  /** Every handler that had started finished (none was aborted at the deadline). */
  readonly drained: boolean;
  /** Deliveries given back unprocessed (released) or left unsettled for redelivery. */
  readonly abandoned: number;
}

export type ShutdownSignal = 'SIGTERM' | 'SIGINT' | 'SIGHUP' | 'SIGQUIT';

export interface HandleSignalsOptions {
  /**
   * Called after a graceful stop. Default: remove these listeners and re-raise the signal, so the
   * process ends the way it would have without Switchyard (and other listeners still run).
   */
  readonly onStopped?: (result: StopResult, signal: ShutdownSignal) => void;
}

export interface App {
  readonly events: TypedEvents<SwitchyardEvents>;
  /** Consume a topic or queue. Call before `start()`. */
  consume<C extends Channel>(channel: C, options: ConsumeOptions<C>): App;
  /** Consume through classes decorated with `@Consumer` / `@Handle`. Call before `start()`. */
  register(...instances: object[]): App;
  /** Publish an event to a topic that lists its contract. */
  publish<TEvents extends EventContract<string, any>, C extends TEvents>(
    topic: Topic<TEvents>,
    contract: C,
    payload: PayloadOf<C>,
    options?: SendOptions,
  ): Promise<PublishReceipt>;
  /** Send a command to a queue that lists its contract. */
  send<TCommands extends CommandContract<string, any>, C extends TCommands>(
    queue: Queue<TCommands>,
    contract: C,
    payload: PayloadOf<C>,
    options?: SendOptions,
  ): Promise<PublishReceipt>;
  /**
   * Publish several events in one transport call (one Kafka request, SQS/SNS batches of 10):
   * every payload is validated before any is sent. Resolves when all were accepted; on failure
   * some may have been written, and the error's `details.messageIds` names the batch.
   */
  publishBatch<TEvents extends EventContract<string, any>, C extends TEvents>(
    topic: Topic<TEvents>,
    contract: C,
    payloads: readonly PayloadOf<C>[],
    options?: BatchSendOptions,
  ): Promise<PublishReceipt[]>;
  /** Send several commands in one transport call; as `publishBatch`. */
  sendBatch<TCommands extends CommandContract<string, any>, C extends TCommands>(
    queue: Queue<TCommands>,
    contract: C,
    payloads: readonly PayloadOf<C>[],
    options?: BatchSendOptions,
  ): Promise<PublishReceipt[]>;
  start(): Promise<void>;
  /** Stop fetching, let in-flight work finish until the deadline, abort and release the rest, close. */
  stop(options?: { readonly deadlineMs?: number }): Promise<StopResult>;
  health(): AppHealth;
  /** Opt-in: stop gracefully on these process signals. Returns a function that removes the listeners. */
  handleSignals(signals?: readonly ShutdownSignal[], options?: HandleSignalsOptions): () => void;
}

export function createApp(options: AppOptions): App {
  return new SwitchyardApp(options);
}

class SwitchyardApp implements App {
  readonly events = new TypedEvents<SwitchyardEvents>();
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #logger: Logger;
  readonly #telemetry: Telemetry;
  readonly #deadlineMs: number;
  readonly #consumers: ConsumerRuntime[] = [];
  #status: AppStatus = 'starting';
  #started: Promise<void> | undefined;
  #subscribing: Promise<void> | undefined;
  #transportStarted: Promise<void> | undefined;
  #stopping: Promise<StopResult> | undefined;

  constructor(options: AppOptions) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidOptionError('createApp.options', 'must be an object', 'pass createApp({ transport })');
    const { transport } = options;
    assertTransport(transport, 'pass a transport, e.g. createApp({ transport: new MemoryLogTransport() })');
    if (options.shutdown !== undefined && !isOptionObject(options.shutdown))
      throw new InvalidOptionError(
        'shutdown',
        `must be an options object, got ${optionKindText(options.shutdown)}`,
        'pass e.g. shutdown: { deadlineMs: 30_000 }',
      );
    const deadlineMs = options.shutdown?.deadlineMs ?? appDefaults.shutdownDeadlineMs;
    if (!(Number.isFinite(deadlineMs) && deadlineMs >= 0))
      throw new InvalidOptionError(
        'shutdown.deadlineMs',
        `must be a non-negative number of milliseconds, got ${optionValueText(deadlineMs)}`,
        'pass e.g. shutdown: { deadlineMs: 30_000 }',
      );
    for (const [name, method, example] of [
      ['tracerProvider', 'getTracer', 'a NodeTracerProvider from @opentelemetry/sdk-trace-node'],
      ['meterProvider', 'getMeter', 'a MeterProvider from @opentelemetry/sdk-metrics'],
    ] as const) {
      const provider: unknown = options[name];
      if (
        provider !== undefined &&
        provider !== null &&
        typeof (provider as Record<string, unknown>)[method] !== 'function'
      )
        throw new InvalidOptionError(
          name,
          `must be an OpenTelemetry ${name === 'tracerProvider' ? 'TracerProvider' : 'MeterProvider'} (with ${method}())`,
          `pass ${example}, or leave it out for the global one`,
        );
    }
    // Checked now: each is first called long after construction (a log line, a retry, a span).
    assertLogger('logger', options.logger);
    assertClock('clock', options.clock);
    assertRandom('random', options.random);
    if (options.propagator !== undefined && options.propagator !== null)
      assertMethods(
        'propagator',
        options.propagator,
        'an OpenTelemetry TextMapPropagator (inject and extract functions)',
        ['inject', 'extract'],
        'pass new W3CTraceContextPropagator() from @opentelemetry/core, or leave it out for the global one',
      );
    this.#transport = transport;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? systemRandom;
    this.#logger = childLogger(options.logger ?? silentLogger, { component: 'switchyard' });
    this.#deadlineMs = deadlineMs;
    this.#telemetry = new Telemetry({
      tracerProvider: options.tracerProvider,
      meterProvider: options.meterProvider,
      propagator: options.propagator,
    });
  }

  consume<C extends Channel>(channel: C, options: ConsumeOptions<C>): App {
    this.#consume(channel, options as unknown as ConsumeOptions<Channel>);
    return this;
  }

  register(...instances: object[]): App {
    // Resolve every definition before adding any, so one bad class adds nothing.
    const resolved = instances.flatMap((instance) =>
      consumerDefinitionsOf(instance).map((def) =>
        this.#resolve(def.channel, { ...def.options, handlers: def.handlers } as ConsumeOptions<Channel>),
      ),
    );
    for (const config of resolved) this.#add(config);
    return this;
  }

  publish<TEvents extends EventContract<string, any>, C extends TEvents>(
    topic: Topic<TEvents>,
    contract: C,
    payload: PayloadOf<C>,
    options: SendOptions = {},
  ): Promise<PublishReceipt> {
    return this.#publish('topic', topic, contract, payload, options);
  }

  send<TCommands extends CommandContract<string, any>, C extends TCommands>(
    queue: Queue<TCommands>,
    contract: C,
    payload: PayloadOf<C>,
    options: SendOptions = {},
  ): Promise<PublishReceipt> {
    return this.#publish('queue', queue, contract, payload, options);
  }

  publishBatch<TEvents extends EventContract<string, any>, C extends TEvents>(
    topic: Topic<TEvents>,
    contract: C,
    payloads: readonly PayloadOf<C>[],
    options: BatchSendOptions = {},
  ): Promise<PublishReceipt[]> {
    return this.#publishBatch('topic', topic, contract, payloads, options);
  }

  sendBatch<TCommands extends CommandContract<string, any>, C extends TCommands>(
    queue: Queue<TCommands>,
    contract: C,
    payloads: readonly PayloadOf<C>[],
    options: BatchSendOptions = {},
  ): Promise<PublishReceipt[]> {
    return this.#publishBatch('queue', queue, contract, payloads, options);
  }

  start(): Promise<void> {
    if (this.#stopping) return Promise.reject(this.#shutdownError('start'));
    this.#started ??= this.#start();
    return this.#started;
  }

  stop(options: { readonly deadlineMs?: number } = {}): Promise<StopResult> {
    const deadlineMs = options.deadlineMs ?? this.#deadlineMs;
    if (!(Number.isFinite(deadlineMs) && deadlineMs >= 0))
      return Promise.reject(
        new InvalidOptionError(
          'stop.deadlineMs',
          `must be a non-negative number, got ${optionValueText(deadlineMs)}`,
          'pass e.g. { deadlineMs: 10_000 }',
        ),
      );
    this.#stopping ??= this.#stop(deadlineMs);
    return this.#stopping;
  }

  health(): AppHealth {
    return {
      status: this.#status,
      consumers: this.#consumers.map((c) => c.health()),
      transport: this.#transport.health(),
    };
  }

  handleSignals(
    signals: readonly ShutdownSignal[] = ['SIGTERM', 'SIGINT'],
    options: HandleSignalsOptions = {},
  ): () => void {
    const listeners = new Map<ShutdownSignal, () => void>();
    const remove = () => {
      for (const [signal, listener] of listeners) process.off(signal, listener);
      listeners.clear();
    };
    for (const signal of signals) {
      const listener = () => {
        if (this.#stopping) {
          // A second signal while draining: stop waiting and let the default action happen.
          remove();
          process.kill(process.pid, signal);
          return;
        }
        this.#logger.info({ signal }, 'signal received, stopping');
        void this.stop().then(
          (result) => {
            if (options.onStopped) {
              remove();
              options.onStopped(result, signal);
            } else {
              remove();
              process.kill(process.pid, signal);
            }
          },
          (error: unknown) => {
            this.events.emit('app:error', { error, context: `stopping on ${signal} failed` });
            remove();
            process.exitCode = 1;
          },
        );
      };
      listeners.set(signal, listener);
      process.on(signal, listener);
    }
    return remove;
  }

  // ---------------------------------------------------------------------------------------------

  #consume(channel: Channel, options: ConsumeOptions<Channel>): void {
    this.#add(this.#resolve(channel, options));
  }

  #resolve(channel: Channel, options: ConsumeOptions<Channel>): ResolvedConsumer {
    if (this.#started || this.#stopping)
      throw new InvalidOptionError(
        'consume',
        `was called after app.${this.#stopping ? 'stop' : 'start'}()`,
        'declare every consumer (consume/register) before app.start()',
      );
    const config = resolveConsumeOptions(channel, options, {
      transport: this.#transport,
      clock: this.#clock,
      random: this.#random,
      onBreakerStateChange: (downstream, from, to) =>
        this.events.emit('circuit:state-changed', { downstream, from, to }),
      reportError: (error, context) => {
        this.#logger.error({ err: error }, context);
        this.events.emit('app:error', { error, context });
      },
    });
    const clash = this.#consumers.find(
      (c) =>
        c.config.channel.name === config.channel.name &&
        c.config.group === config.group &&
        c.config.transport === config.transport,
    );
    if (clash)
      throw new InvalidOptionError(
        'group',
        `'${config.group}' already consumes ${config.channel.kind} '${config.channel.name}' in this app`,
        'put all handlers of a channel in one consume() call, or use another group',
      );
    return config;
  }

  #add(config: ResolvedConsumer): void {
    this.#consumers.push(
      new ConsumerRuntime(config, {
        clock: this.#clock,
        random: this.#random,
        logger: this.#logger,
        events: this.events,
        telemetry: this.#telemetry,
      }),
    );
  }

  #transports(): Transport[] {
    return [...new Set([this.#transport, ...this.#consumers.map((c) => c.config.transport)])];
  }

  async #start(): Promise<void> {
    this.#status = 'starting';
    const subscribing = this.#subscribeAll();
    // What stop() waits for: the subscribe phase, not start() as a whole (which itself stops on failure).
    this.#subscribing = subscribing.catch(() => {});
    try {
      await subscribing;
    } catch (error) {
      this.#logger.error({ err: error }, 'start failed; stopping what started');
      await this.stop({ deadlineMs: 0 }).catch(() => {});
      throw error;
    }
    if (this.#stopping) throw this.#shutdownError('start');
    this.#status = 'ready';
    this.events.emit('app:started', {});
    this.#logger.info({ consumers: this.#consumers.length }, 'started');
  }

  async #subscribeAll(): Promise<void> {
    this.#transportStarted ??= this.#transport.start();
    await this.#transportStarted;
    await Promise.all(
      this.#transports()
        .filter((t) => t !== this.#transport)
        .map((t) => t.start()),
    );
    for (const consumer of this.#consumers) await consumer.start();
  }

  async #stop(deadlineMs: number): Promise<StopResult> {
    this.#status = 'draining';
    // Let a start in progress finish subscribing first, so every subscription it makes is closed below.
    await this.#subscribing;
    const deadline = this.#timer(deadlineMs);
    try {
      const consumers = this.#consumers;
      await Promise.all(
        consumers.map((c) =>
          c
            .beginStop()
            .catch((error: unknown) =>
              this.events.emit('app:error', { error, context: `stopFetching of '${c.config.channel.name}' failed` }),
            ),
        ),
      );
      const drainedAll = (await Promise.all(consumers.map((c) => c.drain(deadline.signal)))).every(Boolean);
      if (!drainedAll) {
        this.#logger.warn({ deadlineMs }, 'shutdown deadline passed; aborting handlers still running');
        // Aborted handlers unwind at once (the pipeline stops awaiting them), so the grace only
        // covers their release settlements.
        const grace = this.#timer(Math.min(5_000, Math.max(deadlineMs, 1_000)));
        try {
          await Promise.all(consumers.map((c) => c.abandonRest(grace.signal)));
        } finally {
          grace.cancel();
        }
      }
      for (const consumer of consumers)
        await consumer.close().catch((error: unknown) =>
          this.events.emit('app:error', {
            error,
            context: `closing the subscription to '${consumer.config.channel.name}' failed`,
          }),
        );
      for (const transport of this.#transports())
        await transport
          .close()
          .catch((error: unknown) =>
            this.events.emit('app:error', { error, context: `closing the ${transport.system} transport failed` }),
          );
      const abandoned = consumers.reduce((n, c) => n + c.abandoned, 0);
      const drained = drainedAll && consumers.every((c) => c.interrupted === 0);
      this.#status = 'stopped';
      this.events.emit('app:stopped', { drained, abandoned });
      this.#logger.info({ drained, abandoned }, 'stopped');
      return { drained, abandoned };
    } finally {
      deadline.cancel();
    }
  }

  async #publish(
    kind: 'topic' | 'queue',
    channel: Channel,
    contract: AnyContract,
    payload: unknown,
    options: SendOptions,
  ): Promise<PublishReceipt> {
    const verb = kind === 'topic' ? 'publish' : 'send';
    checkSendOptions(verb, options, false);
    this.#checkDestination(kind, verb, channel, contract);
    const scope = messageScope.getStore();
    const correlationId = options.correlationId ?? scope?.envelope.correlationId ?? scope?.envelope.id;
    const causationId = options.causationId ?? scope?.envelope.id;
    const message = await encodeMessage(contract, payload as never, {
      clock: this.#clock,
      correlationId,
      causationId,
      ...(options.id === undefined ? {} : { id: options.id }),
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      ...(options.delayMs === undefined ? {} : { delayMs: options.delayMs }),
      ...(options.deduplicationId === undefined ? {} : { deduplicationId: options.deduplicationId }),
    });
    await this.#sendEncoded(verb, channel, contract, [message], correlationId, scope, options.signal);
    return { id: message.id, destination: channel.name };
  }

  async #publishBatch(
    kind: 'topic' | 'queue',
    channel: Channel,
    contract: AnyContract,
    payloads: readonly unknown[],
    options: BatchSendOptions,
  ): Promise<PublishReceipt[]> {
    const verb = kind === 'topic' ? 'publishBatch' : 'sendBatch';
    checkSendOptions(verb, options, true);
    if (!Array.isArray(payloads))
      throw new InvalidOptionError(`${verb}.payloads`, 'is not an array', 'pass an array of payloads');
    if (options.ids !== undefined && (!Array.isArray(options.ids) || options.ids.length !== payloads.length))
      throw new InvalidOptionError(
        `${verb}.ids`,
        `has ${Array.isArray(options.ids) ? options.ids.length : 'no'} entries for ${payloads.length} payloads`,
        'pass one id per payload, in order, or leave ids out',
      );
    this.#checkDestination(kind, verb, channel, contract);
    if (payloads.length === 0) return [];
    const scope = messageScope.getStore();
    const correlationId = options.correlationId ?? scope?.envelope.correlationId ?? scope?.envelope.id;
    const causationId = options.causationId ?? scope?.envelope.id;
    // Every payload is validated before anything is sent: a bad one fails the batch, naming it.
    const messages: OutgoingMessage[] = [];
    // One set of encode options for the batch (a copy per payload only when it names its id).
    const shared: EncodeOptions = {
      clock: this.#clock,
      correlationId,
      causationId,
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      ...(options.delayMs === undefined ? {} : { delayMs: options.delayMs }),
    };
    for (let i = 0; i < payloads.length; i++) {
      const id = options.ids?.[i];
      try {
        const encoded = encodeMessageSync(
          contract,
          payloads[i] as never,
          id === undefined ? shared : { ...shared, id },
        );
        messages.push(encoded instanceof Promise ? await encoded : encoded);
      } catch (error) {
        if (isSwitchyardError(error))
          throw new SwitchyardError(error.code, `${verb}: payload ${i} of ${payloads.length}: ${error.message}`, {
            cause: error,
            retryable: error.retryable,
            details: { index: i },
          });
        throw error;
      }
    }
    await this.#sendEncoded(verb, channel, contract, messages, correlationId, scope, options.signal);
    return messages.map((m) => ({ id: m.id, destination: channel.name }));
  }

  #checkDestination(kind: 'topic' | 'queue', verb: string, channel: Channel, contract: AnyContract): void {
    if (typeof channel !== 'object' || channel === null || typeof channel.name !== 'string')
      throw new InvalidOptionError(
        `${verb}.channel`,
        'is not a channel',
        `pass the result of define${kind === 'topic' ? 'Topic' : 'Queue'}()`,
      );
    if (channel.kind !== kind)
      throw new SwitchyardError(
        'SWITCHYARD_CHANNEL_MISMATCH',
        `app.${verb}() goes to a ${kind}, but '${channel.name}' is a ${channel.kind}: ` +
          `use app.${kind === 'topic' ? verb.replace('publish', 'send') : verb.replace('send', 'publish')}() for it`,
        { retryable: false },
      );
    assertChannelFits(channel.kind, channel.name, contract);
    if (!channel.contracts.some((c) => c.name === contract.name))
      throw new SwitchyardError(
        'SWITCHYARD_CHANNEL_MISMATCH',
        `${contract.kind} '${contract.name}' is not listed on ${channel.kind} '${channel.name}' ` +
          `(it carries ${channel.contracts.map((c) => `'${c.name}'`).join(', ') || 'nothing'})`,
        { retryable: false },
      );
    // Handlers still draining may publish; only a closed transport refuses.
    if (this.#status === 'stopped') throw this.#shutdownError(verb);
  }

  /** One send span per message (each carries its own trace context), one transport call for all. */
  async #sendEncoded(
    verb: string,
    channel: Channel,
    contract: AnyContract,
    messages: readonly OutgoingMessage[],
    correlationId: string | undefined,
    scope: ReturnType<typeof messageScope.getStore>,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    this.#transportStarted ??= this.#transport.start();
    await this.#transportStarted;
    const parent = scope?.traceContext ?? this.#telemetry.active();
    const spans = [];
    for (const message of messages) {
      const span = this.#telemetry.startSend({
        system: this.#transport.system,
        destination: channel.name,
        messageId: message.id,
        messageType: contract.name,
        key: message.key,
        bodySize: message.body.byteLength,
        correlationId,
        parent,
      });
      // The message was encoded for this call alone: its headers take the trace context in place.
      span.inject(message.headers as Record<string, string>);
      spans.push(span);
    }
    try {
      await this.#transport.publish(channel.name, messages, signal === undefined ? undefined : { signal });
    } catch (cause) {
      for (const span of spans) span.end(cause);
      const messageIds = messages.map((m) => m.id);
      if (isSwitchyardError(cause)) {
        if (messages.length === 1) throw cause;
        throw new SwitchyardError(
          cause.code,
          `${verb} of ${messages.length} ${contract.name} to '${channel.name}' failed: ${cause.message}`,
          {
            cause,
            retryable: cause.retryable,
            details: { destination: channel.name, messageIds },
          },
        );
      }
      throw new SwitchyardError(
        'SWITCHYARD_PUBLISH',
        messages.length === 1
          ? `${verb} of ${contract.name} ${messages[0]!.id} to '${channel.name}' failed`
          : `${verb} of ${messages.length} ${contract.name} to '${channel.name}' failed`,
        { cause, details: { destination: channel.name, messageIds } },
      );
    }
    for (const span of spans) span.end();
    if (this.events.has('publisher:message:sent'))
      for (const message of messages)
        this.events.emit('publisher:message:sent', {
          destination: channel.name,
          messageId: message.id,
          type: contract.name,
        });
  }

  /** An AbortSignal that fires after `ms` on the app's clock. */
  #timer(ms: number): { readonly signal: AbortSignal; cancel(): void } {
    const fire = new AbortController();
    const cancel = new AbortController();
    this.#clock.sleep(ms, cancel.signal).then(
      () => fire.abort(),
      () => {},
    );
    return { signal: fire.signal, cancel: () => cancel.abort() };
  }

  #shutdownError(what: string): SwitchyardError {
    return new SwitchyardError(
      'SWITCHYARD_SHUTDOWN',
      `cannot ${what}: the app is ${this.#status === 'stopped' ? 'stopped' : 'stopping'}`,
      {
        retryable: false,
      },
    );
  }
}
