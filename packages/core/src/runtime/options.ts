// Consumer options: one object, merged over exported defaults and validated once, including the
// rules between fields and against what the transport can do. A wrong option fails at `consume()`
// with a message that names it and says how to fix it.

import type { Clock, RandomSource } from '../clock.js';
import type { AnyContract, Channel } from '../contracts.js';
import type { RawMessage } from '../envelope.js';
import {
  assertMethods,
  InvalidOptionError,
  isOptionObject,
  optionKindText,
  optionValueText,
  refuseUnknownKeys,
  SwitchyardError,
} from '../errors.js';
import { downstreamText, type HandlerDefinition, isDownstreamName } from '../handlers.js';
import { Idempotency, type IdempotencyOptions } from '../idempotency/idempotency.js';
import { StaleEventGuard, type VersionStore } from '../idempotency/stale-event-guard.js';
import { CircuitBreakers, type CircuitBreakersOptions } from '../policies/circuit-breaker.js';
import { RetryBudget, type RetryBudgetOptions } from '../policies/retry-budget.js';
import { RetryPolicy, type RetryPolicyOptions } from '../policies/retry-policy.js';
import type { DeliverySemantics, StartPosition, Transport } from '../ports/transport.js';

/** The contracts a channel carries. */
export type ContractsOf<C> = C extends Channel<any, infer T> ? T : never;

/** A handler for one of the channel's contracts (distributes over the union, so each keeps its payload type). */
export type HandlerFor<C> = C extends AnyContract ? HandlerDefinition<C> : never;

export interface ConsumeOptions<C extends Channel = Channel> {
  /** Consumer group (Kafka group id; for queues, a name for the consumer in telemetry and DLQ records). */
  readonly group: string;
  /** One handler per message type; every contract must be listed on the channel. */
  readonly handlers: readonly HandlerFor<ContractsOf<C>>[];
  readonly semantics?: DeliverySemantics;
  readonly retry?: RetryPolicy | RetryPolicyOptions;
  /** Caps retries to a fraction of attempts so a failing dependency is not hammered; `false` turns it off. */
  readonly retryBudget?: RetryBudget | RetryBudgetOptions | false;
  /** Per-downstream breakers for handlers that name a `downstream`; pass one instance to share them. */
  readonly circuitBreaker?: CircuitBreakers | CircuitBreakersOptions;
  readonly idempotency?: Idempotency | IdempotencyOptions;
  /** Enables the stale-event guard for contracts with a `version` function. */
  readonly versionStore?: VersionStore;
  readonly maxInFlight?: number;
  readonly maxInFlightBytes?: number;
  /** Default handler timeout (a handler's own `timeoutMs` wins). */
  readonly timeoutMs?: number;
  readonly deadLetterDestination?: string;
  readonly startFrom?: StartPosition;
  /** For messages without `sy-type`: read the type from the raw message. */
  readonly resolveType?: (raw: RawMessage) => string | undefined;
  /** Consume through another transport than the app's. */
  readonly transport?: Transport;
  /** Passed to the transport's `subscribe` as `spec.options`. */
  readonly transportOptions?: Readonly<Record<string, unknown>>;
}

export const consumerDefaults = Object.freeze({
  semantics: 'at-least-once' as DeliverySemantics,
  maxInFlight: 64,
  maxInFlightBytes: 64 * 1024 * 1024,
  startFrom: 'earliest' as StartPosition,
  dlqSuffix: '.dlq',
});

const KNOWN_OPTIONS: readonly string[] = [
  'group',
  'handlers',
  'semantics',
  'retry',
  'retryBudget',
  'circuitBreaker',
  'idempotency',
  'versionStore',
  'maxInFlight',
  'maxInFlightBytes',
  'timeoutMs',
  'deadLetterDestination',
  'startFrom',
  'resolveType',
  'transport',
  'transportOptions',
];

export interface ResolvedHandler {
  readonly definition: HandlerDefinition;
  readonly timeoutMs: number | undefined;
  readonly downstream: string | undefined;
}

export interface ResolvedConsumer {
  readonly channel: Channel;
  readonly group: string;
  readonly handlers: ReadonlyMap<string, ResolvedHandler>;
  readonly semantics: DeliverySemantics;
  readonly retryPolicy: RetryPolicy;
  readonly retryBudget: RetryBudget | undefined;
  readonly breakers: CircuitBreakers | undefined;
  readonly idempotency: Idempotency | undefined;
  readonly staleGuard: StaleEventGuard | undefined;
  readonly maxInFlight: number;
  readonly maxInFlightBytes: number;
  readonly deadLetterDestination: string;
  /** The consumer named `deadLetterDestination` (else it is the transport's default, per delivery). */
  readonly deadLetterNamed: boolean;
  readonly startFrom: StartPosition;
  readonly resolveType: ((raw: RawMessage) => string | undefined) | undefined;
  readonly transport: Transport;
  readonly transportOptions: Readonly<Record<string, unknown>> | undefined;
}

export interface ResolveContext {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly random: RandomSource;
  /** Called when a breaker this consumer created changes state. */
  readonly onBreakerStateChange: (downstream: string, from: string, to: string) => void;
  /** Errors outside a handler that processing survives (an idempotency store that failed to complete). */
  readonly reportError: (error: unknown, context: string) => void;
}

const DELIVERY_SEMANTICS: readonly DeliverySemantics[] = ['at-most-once', 'at-least-once', 'exactly-once'];

export function resolveConsumeOptions(
  channel: Channel,
  options: ConsumeOptions<Channel>,
  ctx: ResolveContext,
): ResolvedConsumer {
  if (
    typeof channel !== 'object' ||
    channel === null ||
    (channel.kind !== 'topic' && channel.kind !== 'queue') ||
    typeof channel.name !== 'string' ||
    !Array.isArray(channel.contracts)
  )
    throw new InvalidOptionError(
      'channel',
      'is not a topic or a queue',
      'pass the result of defineTopic() or defineQueue()',
    );
  if (typeof options !== 'object' || options === null)
    throw new InvalidOptionError('options', 'must be an object', "pass { group: 'my-service', handlers: [...] }");
  refuseUnknownKeys(options, KNOWN_OPTIONS, 'a consumer');

  if (typeof options.group !== 'string' || options.group.trim() === '')
    throw new InvalidOptionError(
      'group',
      'must be a non-empty string',
      "name the consumer group, e.g. group: 'billing'",
    );

  // The app's own transport was checked by createApp; only another one given here is new.
  if (options.transport !== undefined)
    assertTransport(options.transport, 'pass a transport from @switchyard/kafka, /sqs or the memory transport');
  const transport = options.transport ?? ctx.transport;
  const caps = transport.capabilities;

  const semantics = options.semantics ?? consumerDefaults.semantics;
  if (!DELIVERY_SEMANTICS.includes(semantics))
    throw new InvalidOptionError(
      'semantics',
      `must be one of ${DELIVERY_SEMANTICS.join(', ')}, got '${optionValueText(semantics)}'`,
      "use 'at-least-once' unless you know why not",
    );
  if (semantics === 'exactly-once' && !caps.exactlyOnce)
    throw new SwitchyardError(
      'SWITCHYARD_CAPABILITY',
      `Invalid option 'semantics': 'exactly-once' is not supported by the ${transport.system} transport (no transactions). ` +
        "Fix: use 'at-least-once' with the idempotency option, or a transport with exactly-once support (Kafka to Kafka)",
      { retryable: false, details: { option: 'semantics', system: transport.system } },
    );

  const maxInFlight = options.maxInFlight ?? consumerDefaults.maxInFlight;
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1)
    throw new InvalidOptionError(
      'maxInFlight',
      `must be an integer >= 1, got ${optionValueText(maxInFlight)}`,
      'pass e.g. maxInFlight: 64',
    );
  const maxInFlightBytes = options.maxInFlightBytes ?? consumerDefaults.maxInFlightBytes;
  if (!(Number.isFinite(maxInFlightBytes) && maxInFlightBytes >= 1))
    throw new InvalidOptionError(
      'maxInFlightBytes',
      `must be a positive number of bytes, got ${optionValueText(maxInFlightBytes)}`,
      'pass e.g. maxInFlightBytes: 64 * 1024 * 1024',
    );

  if (options.timeoutMs !== undefined) checkTimeout('timeoutMs', options.timeoutMs, caps.leaseMs);

  if (!Array.isArray(options.handlers) || options.handlers.length === 0)
    throw new InvalidOptionError(
      'handlers',
      'must be a non-empty array',
      'pass handlers: [defineHandler(Contract, async (m) => { ... })]',
    );
  const handlers = new Map<string, ResolvedHandler>();
  for (const [i, handler] of (options.handlers as readonly HandlerDefinition[]).entries()) {
    const where = `handlers[${i}]`;
    if (
      !handler ||
      typeof handler.handle !== 'function' ||
      !handler.contract ||
      typeof handler.contract.name !== 'string'
    )
      throw new InvalidOptionError(
        where,
        'is not a handler definition',
        'create handlers with defineHandler(contract, fn)',
      );
    const name = handler.contract.name;
    const listed = channel.contracts.find((c) => c.name === name);
    if (!listed)
      throw new InvalidOptionError(
        where,
        `handles '${name}', which ${channel.kind} '${channel.name}' does not carry (it carries ${channel.contracts.map((c) => `'${c.name}'`).join(', ') || 'nothing'})`,
        `add ${name} to the channel's contracts, or consume the channel that carries it`,
      );
    if (handlers.has(name))
      throw new InvalidOptionError(
        where,
        `is a second handler for '${name}'`,
        'handle each message type once per consumer',
      );
    if (handler.options !== undefined && !isOptionObject(handler.options))
      throw new InvalidOptionError(
        `${where}.options (${name})`,
        `must be the handler's options object, got ${optionKindText(handler.options)}`,
        'create handlers with defineHandler(contract, fn, { timeoutMs, downstream })',
      );
    const timeoutMs = handler.options?.timeoutMs ?? options.timeoutMs;
    if (handler.options?.timeoutMs !== undefined)
      checkTimeout(`${where}.options.timeoutMs (${name})`, handler.options.timeoutMs, caps.leaseMs);
    const downstream = handler.options?.downstream;
    if (downstream !== undefined && !isDownstreamName(downstream))
      throw new InvalidOptionError(
        `${where}.options.downstream (${name})`,
        `must be a non-empty string (its circuit breaker's name), got ${downstreamText(downstream)}`,
        "pass e.g. downstream: 'payments-api'",
      );
    handlers.set(name, { definition: handler, timeoutMs, downstream });
  }

  if (options.resolveType !== undefined && typeof options.resolveType !== 'function')
    throw new InvalidOptionError(
      'resolveType',
      'must be a function of the raw message',
      'pass resolveType: (raw) => raw.headers.type',
    );

  // The transport may name its own default (SQS names cannot hold `.dlq`).
  const defaultDeadLetter =
    (typeof transport.deadLetterDestinationFor === 'function'
      ? transport.deadLetterDestinationFor(channel.name)
      : undefined) ?? `${channel.name}${consumerDefaults.dlqSuffix}`;
  const deadLetterDestination = options.deadLetterDestination ?? defaultDeadLetter;
  if (typeof deadLetterDestination !== 'string' || deadLetterDestination === '')
    throw new InvalidOptionError(
      'deadLetterDestination',
      'must be a non-empty destination name',
      `omit it for '${defaultDeadLetter}'`,
    );
  if (deadLetterDestination === channel.name)
    throw new InvalidOptionError(
      'deadLetterDestination',
      `is the consumed ${channel.kind} itself`,
      `use a separate destination such as '${channel.name}.dlq'`,
    );

  const startFrom = resolveStartFrom(options.startFrom);
  const retryPolicy = resolveRetry(options.retry);
  const retryBudget = resolveBudget(options.retryBudget, ctx.clock);
  const needsBreakers = [...handlers.values()].some((h) => h.downstream !== undefined);
  let breakers: CircuitBreakers | undefined;
  if (isCircuitBreakers(options.circuitBreaker)) breakers = options.circuitBreaker;
  else if (options.circuitBreaker !== undefined || needsBreakers) {
    const own = options.circuitBreaker;
    if (own !== undefined && !isOptionObject(own))
      throw new InvalidOptionError(
        'circuitBreaker',
        `must be CircuitBreakers or its options object, got ${optionKindText(own)}`,
        'pass { failureRateThreshold: 0.5, openMs: 30_000 }',
      );
    // Checked here: the breakers get the wrapper below, so their own check only sees a function.
    if (own?.onStateChange !== undefined && typeof own.onStateChange !== 'function')
      throw new InvalidOptionError(
        'circuitBreaker.onStateChange',
        `must be a function, got ${optionKindText(own.onStateChange)}`,
        'pass ({ name, from, to }) => log(name, from, to)',
      );
    breakers = new CircuitBreakers({
      ...own,
      clock: own?.clock ?? ctx.clock,
      onStateChange: (change) => {
        ctx.onBreakerStateChange(change.name, change.from, change.to);
        own?.onStateChange?.(change);
      },
    });
  }

  let idempotency: Idempotency | undefined;
  if (isIdempotency(options.idempotency)) idempotency = options.idempotency;
  else if (options.idempotency !== undefined) {
    if (!isOptionObject(options.idempotency))
      throw new InvalidOptionError(
        'idempotency',
        `must be an Idempotency or its options object, got ${optionKindText(options.idempotency)}`,
        'pass { store, ttlMs }',
      );
    const reportError: NonNullable<IdempotencyOptions['onError']> = (error, { operation, key }) =>
      ctx.reportError(error, `idempotency store failed to ${operation} key '${key}' (consumer '${options.group}')`);
    idempotency = new Idempotency({
      ...options.idempotency,
      onError: options.idempotency.onError === undefined ? reportError : options.idempotency.onError,
    });
  }

  let staleGuard: StaleEventGuard | undefined;
  if (options.versionStore !== undefined) {
    const versioned = [...handlers.values()].filter((h) => h.definition.contract.version !== undefined);
    if (versioned.length === 0)
      throw new InvalidOptionError(
        'versionStore',
        `is set but none of the handled contracts (${[...handlers.keys()].join(', ')}) has a version function`,
        'add version: (payload) => payload.version to the contract, or drop versionStore',
      );
    staleGuard = new StaleEventGuard(options.versionStore);
  }

  if (options.transportOptions !== undefined && !isOptionObject(options.transportOptions))
    throw new InvalidOptionError(
      'transportOptions',
      `must be an options object, got ${optionKindText(options.transportOptions)}`,
      'pass the transport-specific options as an object',
    );

  return {
    channel,
    group: options.group,
    handlers,
    semantics,
    retryPolicy,
    retryBudget,
    breakers,
    idempotency,
    staleGuard,
    maxInFlight,
    maxInFlightBytes,
    deadLetterDestination,
    deadLetterNamed: options.deadLetterDestination !== undefined,
    startFrom,
    resolveType: options.resolveType,
    transport,
    transportOptions: options.transportOptions,
  };
}

function checkTimeout(option: string, timeoutMs: number, leaseMs: number | undefined): void {
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0))
    throw new InvalidOptionError(
      option,
      `must be a positive number of milliseconds, got ${optionValueText(timeoutMs)}`,
      'pass e.g. timeoutMs: 10_000',
    );
  if (leaseMs !== undefined && timeoutMs >= leaseMs)
    throw new InvalidOptionError(
      option,
      `handler timeout ${timeoutMs} ms is not below the visibility timeout ${leaseMs} ms`,
      "lower timeoutMs or raise the queue's visibility timeout",
    );
}

/**
 * Refuses a transport without the Transport port's required members (start, subscribe, publish,
 * close and health functions, a capabilities object), which would otherwise fail with a TypeError
 * when the app first starts, publishes, reports health or stops.
 */
export function assertTransport(transport: unknown, fix: string): asserts transport is Transport {
  assertMethods(
    'transport',
    transport,
    'a Transport (start, subscribe, publish, close and health functions)',
    ['start', 'subscribe', 'publish', 'close', 'health'],
    fix,
  );
  const { capabilities } = transport as { capabilities?: unknown };
  if (typeof capabilities !== 'object' || capabilities === null)
    throw new InvalidOptionError('transport', 'is not a Transport: it declares no capabilities', fix);
}

const START_POSITIONS = ['earliest', 'latest'];

/** `'earliest'`, `'latest'`, `{ timestamp }` (ms since the epoch) or `{ offset }` (a decimal string). */
function resolveStartFrom(startFrom: unknown): StartPosition {
  if (startFrom === undefined) return consumerDefaults.startFrom;
  const fix = "pass 'earliest', 'latest', { timestamp: Date.parse('2024-05-01T00:00:00Z') } or { offset: '42' }";
  if (typeof startFrom === 'string') {
    if (START_POSITIONS.includes(startFrom)) return startFrom as StartPosition;
    throw new InvalidOptionError(
      'startFrom',
      `must be 'earliest', 'latest', { timestamp } or { offset }, got '${startFrom}'`,
      fix,
    );
  }
  if (!isOptionObject(startFrom))
    throw new InvalidOptionError(
      'startFrom',
      `must be 'earliest', 'latest', { timestamp } or { offset }, got ${optionKindText(startFrom)}`,
      fix,
    );
  const hasTimestamp = startFrom.timestamp !== undefined;
  const hasOffset = startFrom.offset !== undefined;
  if (hasTimestamp === hasOffset)
    throw new InvalidOptionError(
      'startFrom',
      hasTimestamp ? 'gives both a timestamp and an offset' : 'is an object with neither timestamp nor offset',
      fix,
    );
  if (hasTimestamp) {
    const { timestamp } = startFrom;
    if (!(typeof timestamp === 'number' && Number.isSafeInteger(timestamp) && timestamp >= 0))
      throw new InvalidOptionError(
        'startFrom.timestamp',
        `must be a whole number of ms since the epoch, got ${optionValueText(timestamp)}`,
        'pass e.g. { timestamp: Date.now() - 3_600_000 } (a Date: date.getTime())',
      );
    return { timestamp };
  }
  const { offset } = startFrom;
  if (!(typeof offset === 'string' && /^\d+$/.test(offset)))
    throw new InvalidOptionError(
      'startFrom.offset',
      `must be an offset as a decimal string, got ${typeof offset === 'string' ? `'${offset}'` : optionKindText(offset)}`,
      "pass e.g. { offset: '42' }",
    );
  return { offset };
}

function resolveRetry(retry: RetryPolicy | RetryPolicyOptions | undefined): RetryPolicy {
  if (isRetryPolicy(retry)) return retry;
  if (retry !== undefined && !isOptionObject(retry))
    throw new InvalidOptionError(
      'retry',
      `must be a RetryPolicy or its options object, got ${optionKindText(retry)}`,
      'pass RetryPolicy.exponential({ maxAttempts: 5 }) or { maxAttempts: 5 }',
    );
  return RetryPolicy.exponential(retry);
}

function resolveBudget(
  budget: RetryBudget | RetryBudgetOptions | false | undefined,
  clock: Clock,
): RetryBudget | undefined {
  if (budget === false) return undefined;
  if (isRetryBudget(budget)) return budget;
  if (budget === undefined) return new RetryBudget({ clock });
  if (!isOptionObject(budget))
    throw new InvalidOptionError(
      'retryBudget',
      `must be a RetryBudget, its options object or false, got ${optionKindText(budget)}`,
      'pass { ratio: 0.1 } or false',
    );
  return new RetryBudget({ ...budget, clock: budget.clock ?? clock });
}

// Instances are recognised by shape, not `instanceof`, so a policy built by another copy of the
// package (ESM next to CJS) is accepted.
function isRetryPolicy(value: unknown): value is RetryPolicy {
  return typeof (value as RetryPolicy | undefined)?.decide === 'function';
}

function isRetryBudget(value: unknown): value is RetryBudget {
  return typeof (value as RetryBudget | undefined)?.tryAcquireRetry === 'function';
}

function isCircuitBreakers(value: unknown): value is CircuitBreakers {
  return typeof (value as CircuitBreakers | undefined)?.for === 'function';
}

function isIdempotency(value: unknown): value is Idempotency {
  return typeof (value as Idempotency | undefined)?.run === 'function';
}
