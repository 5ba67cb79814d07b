// Option resolvers under garbage: "wrong options fail at construction naming the option and the
// fix". Each property starts from a valid options object, applies 1–4 mutations (a known key, nested
// ones included, set to garbage; a whole nested object replaced by garbage; an unknown key added)
// and checks that the resolver either returns or throws an InvalidOptionError naming what was
// mutated: never a TypeError, a RangeError or anything else.
//
// "Naming what was mutated" is relaxed in two documented ways, because some rules involve two
// fields and some errors blame the object a broken value sits in:
//  - the error's `option` names a mutated key, something inside it, or an object enclosing it
//    ('handlers[0]' for a broken handlers[0].contract, 'retry.overrides[0].match' for a replaced
//    overrides[0]);
//  - or, for a rule between two fields, the message names a mutated key ('retry.maxDelayMs: 1000 ms
//    is below initialDelayMs …' when initialDelayMs was mutated).
// Resolvers that refuse unknown keys (resolveConsumeOptions at the top level) must refuse an added
// one; elsewhere an unknown key may be accepted silently.

import { W3CTraceContextPropagator } from '@opentelemetry/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Channel } from '../src/contracts.js';
import { InvalidOptionError, isSwitchyardError } from '../src/errors.js';
import { defineHandler } from '../src/handlers.js';
import { Idempotency } from '../src/idempotency/idempotency.js';
import { MemoryIdempotencyStore } from '../src/idempotency/memory-store.js';
import { compareVersions, MemoryVersionStore } from '../src/idempotency/stale-event-guard.js';
import { KeyedScheduler } from '../src/keyed-scheduler.js';
import { silentLogger } from '../src/logger.js';
import { MemoryBroker } from '../src/memory/broker.js';
import { MemoryLogTransport } from '../src/memory/log-transport.js';
import { MemoryQueueTransport } from '../src/memory/queue-transport.js';
import { CircuitBreaker, CircuitBreakers } from '../src/policies/circuit-breaker.js';
import { RetryBudget } from '../src/policies/retry-budget.js';
import { RetryPolicy } from '../src/policies/retry-policy.js';
import { TokenBucket } from '../src/policies/token-bucket.js';
import { createApp } from '../src/runtime/app.js';
import { type ResolveContext, resolveConsumeOptions } from '../src/runtime/options.js';
import { FakeTransport, queueCapabilities } from './runtime/fake-transport.js';
import { ChargeCard, OrderPlaced, OrderShipped, orders, payments } from './runtime/harness.js';
import { FakeClock } from './support/fake-clock.js';
import { optionError } from './support/option-error.js';

const RUNS = { numRuns: 300 };

// ---- the fuzzing kit: a copy of @switchyard/testing's option-fuzz (core cannot depend on it) ----

type Path = readonly (string | number)[];
interface Mutation {
  readonly path: Path;
  readonly value: unknown;
  readonly unknownKey?: true;
}

/** Values no option should be given; a factory each, so no run shares a mutable value with another. */
const GARBAGE: readonly (() => unknown)[] = [
  () => undefined,
  () => null,
  () => Number.NaN,
  () => Number.POSITIVE_INFINITY,
  () => Number.NEGATIVE_INFINITY,
  () => -1,
  () => 0,
  () => 0.5,
  () => 1e21,
  () => Number.MAX_SAFE_INTEGER,
  () => 2 ** 31,
  () => '',
  () => 'abc',
  () => '10',
  () => true,
  () => false,
  () => [],
  () => [1],
  () => ({}),
  () => ({ a: 1 }),
  () => () => {},
  () => Symbol('garbage'),
  () => Object.create(null),
  () => new Date(0),
  () => 10n,
];
const garbage: fc.Arbitrary<unknown> = fc.constantFrom(...GARBAGE).map((make) => make());
const unknownKeyName = fc.constantFrom('maxInflight', 'bogus', 'toString', 'valueOf', 'constructor', 'hasOwnProperty');

interface MutationSpace {
  /** Keys that hold a value (set to garbage). */
  readonly leaves: readonly Path[];
  /** Keys that hold an object (replaced whole by garbage). */
  readonly objects: readonly Path[];
  /** Objects an unknown key is added to. */
  readonly containers: readonly Path[];
}

function mutationsOf(space: MutationSpace): fc.Arbitrary<Mutation[]> {
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ path: fc.constantFrom(...space.leaves), value: garbage }) },
    ...(space.objects.length === 0
      ? []
      : [{ weight: 1, arbitrary: fc.record({ path: fc.constantFrom(...space.objects), value: garbage }) }]),
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...space.containers), unknownKeyName, garbage)
        .map(([at, key, value]): Mutation => ({ path: [...at, key], value, unknownKey: true })),
    },
  );
  return fc.array(mutation, { minLength: 1, maxLength: 4 });
}

function isContainer(value: unknown): value is Record<string | number, unknown> {
  if (Array.isArray(value)) return true;
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const SKIP = Symbol('skip');

/**
 * A copy of `target` with `path` set to `value` (copies along the path only); SKIP when a step is
 * missing or not an object (the base does not use that part, or an earlier mutation replaced it).
 */
function setIn(target: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  if (!isContainer(target)) return SKIP;
  const from = target;
  if (rest.length > 0 && !Object.hasOwn(from, head)) return SKIP;
  const child = setIn(from[head], rest, value);
  if (child === SKIP) return SKIP;
  const copy: Record<string | number, unknown> = Array.isArray(from)
    ? [...from]
    : Object.assign(Object.getPrototypeOf(from) === null ? Object.create(null) : {}, from);
  Object.defineProperty(copy, head, { value: child, enumerable: true, writable: true, configurable: true });
  return copy;
}

/** Applies the mutations that fit (a later one may need an object an earlier one replaced). */
function mutate<T>(base: T, mutations: readonly Mutation[]): { options: T; applied: Mutation[] } {
  let options: unknown = base;
  const applied: Mutation[] = [];
  for (const m of mutations) {
    const next = setIn(options, m.path, m.value);
    if (next === SKIP) continue;
    options = next;
    applied.push(m);
  }
  return { options: options as T, applied };
}

function segments(path: Path): string[] {
  return path.map(String);
}

function containsRun(haystack: readonly string[], needle: readonly string[]): boolean {
  for (let i = 0; i + needle.length <= haystack.length; i++)
    if (needle.every((s, j) => haystack[i + j] === s)) return true;
  return false;
}

function endsWith(haystack: readonly string[], needle: readonly string[]): boolean {
  return needle.length > 0 && containsRun(haystack.slice(haystack.length - needle.length), needle);
}

/** Whether an error's option (or, for a rule between fields, its message) names one of the mutated keys. */
function namesAMutation(error: InvalidOptionError, applied: readonly Mutation[]): boolean {
  const option = error.option.split(/[.[\]\s]+/).filter(Boolean);
  return applied.some((m) => {
    const path = segments(m.path);
    // the key itself or something inside it
    if (containsRun(option, path)) return true;
    // an object that encloses it
    for (let k = 1; k < path.length; k++) if (endsWith(option, path.slice(0, k))) return true;
    // a rule between two fields, blaming the other one
    const leaf = [...path].reverse().find((s) => !/^\d+$/.test(s));
    return leaf !== undefined && new RegExp(`\\b${leaf.replace(/[^\w]/g, '\\$&')}\\b`).test(error.message);
  });
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.constructor.name}: ${error.message}`;
  try {
    return `a thrown ${typeof error}: ${String(error)}`;
  } catch {
    return `a thrown ${typeof error}`;
  }
}

/**
 * The resolver returned, or threw an InvalidOptionError naming a mutated key (any key when `applied`
 * is undefined) and a fix.
 */
function expectReturnsOrNamesAMutation(
  run: () => unknown,
  applied: readonly Mutation[] | undefined,
  mustRefuse = false,
): InvalidOptionError | undefined {
  let error: unknown;
  try {
    run();
    if (mustRefuse) throw new Error(`accepted ${JSON.stringify(applied?.map((m) => m.path))}`);
    return undefined;
  } catch (thrown) {
    error = thrown;
  }
  if (!(error instanceof InvalidOptionError))
    throw new Error(`threw ${describeError(error)} instead of an InvalidOptionError`, { cause: error });
  expect(error.code).toBe('SWITCHYARD_INVALID_OPTION');
  expect(typeof error.option).toBe('string');
  expect(error.option).not.toBe('');
  expect(error.message.startsWith(`Invalid option '${error.option}': `)).toBe(true);
  expect(error.message).toMatch(/\. Fix: \S/);
  if (applied !== undefined && !namesAMutation(error, applied))
    throw new Error(
      `'${error.option}' names none of the mutated keys ${JSON.stringify(applied.map((m) => m.path.join('.')))}: ${error.message}`,
    );
  return error;
}

/** The shared property: options from one of `bases` with drawn mutations make `build` return or name a mutated key. */
function assertOptionMutations<T>(
  bases: readonly (() => T)[],
  space: MutationSpace,
  build: (options: T) => unknown,
  numRuns = 300,
): void {
  fc.assert(
    fc.property(fc.nat({ max: bases.length - 1 }), mutationsOf(space), (i, mutations) => {
      const { options, applied } = mutate(bases[i]!(), mutations);
      expectReturnsOrNamesAMutation(() => build(options), applied);
    }),
    { numRuns },
  );
}

// ---- resolveConsumeOptions ---------------------------------------------------------------------

const placed = defineHandler(OrderPlaced, () => {});
const shipped = defineHandler(OrderShipped, () => {}, { timeoutMs: 2_000, downstream: 'payments-api' });
const charge = defineHandler(ChargeCard, () => {}, { timeoutMs: 5_000 });

interface ConsumeCase {
  readonly channel: Channel;
  readonly ctx: ResolveContext;
  readonly options: Record<string, unknown>;
}

function ctxFor(transport: FakeTransport): ResolveContext {
  return {
    transport,
    clock: new FakeClock(),
    random: () => 0.5,
    onBreakerStateChange: () => {},
    reportError: () => {},
  };
}

/** Valid consumers: the least a consumer needs, every option given, and a queue with a lease. */
const CONSUME_BASES: readonly (() => ConsumeCase)[] = [
  () => ({ channel: orders, ctx: ctxFor(new FakeTransport()), options: { group: 'billing', handlers: [placed] } }),
  () => ({
    channel: orders,
    ctx: ctxFor(new FakeTransport()),
    options: {
      group: 'billing',
      handlers: [placed, shipped],
      semantics: 'at-least-once',
      retry: {
        maxAttempts: 4,
        initialDelayMs: 50,
        maxDelayMs: 5_000,
        multiplier: 3,
        jitter: 'none',
        maxElapsedMs: 60_000,
        overrides: [
          { match: 'SWITCHYARD_VALIDATION', policy: 'no-retry' },
          { match: TypeError, policy: { maxAttempts: 2, initialDelayMs: 10 } },
        ],
      },
      retryBudget: { ratio: 0.2, minRetriesPerSecond: 5, windowMs: 10_000, buckets: 20 },
      circuitBreaker: {
        failureRateThreshold: 0.5,
        minimumCalls: 5,
        windowMs: 10_000,
        openMs: 5_000,
        halfOpenMaxCalls: 2,
        halfOpenWaitMs: 500,
        onStateChange: () => {},
        downstreams: { 'payments-api': { openMs: 60_000 } },
      },
      idempotency: {
        store: new MemoryIdempotencyStore(),
        ttlMs: 86_400_000,
        leaseMs: 30_000,
        onPayloadMismatch: 'reject',
        key: (e: { id: string }) => e.id,
      },
      versionStore: new MemoryVersionStore(),
      maxInFlight: 16,
      maxInFlightBytes: 1_048_576,
      timeoutMs: 10_000,
      deadLetterDestination: 'orders.dead',
      startFrom: 'latest',
      resolveType: () => undefined,
      transport: new FakeTransport(),
      transportOptions: { pollers: 2 },
    },
  }),
  () => ({
    channel: payments,
    ctx: ctxFor(new FakeTransport(queueCapabilities, 'aws_sqs')),
    options: {
      group: 'payments',
      handlers: [charge],
      timeoutMs: 10_000,
      retry: RetryPolicy.exponential({ maxAttempts: 3 }),
      retryBudget: false,
      idempotency: { store: new MemoryIdempotencyStore(), ttlMs: 60_000, clock: new FakeClock() },
    },
  }),
  // the instances the types allow in place of options, and a start timestamp
  () => ({
    channel: orders,
    ctx: ctxFor(new FakeTransport()),
    options: {
      group: 'audit',
      handlers: [placed, { contract: OrderShipped, handle: () => {}, options: { downstream: 'db' } }],
      retry: RetryPolicy.none(),
      retryBudget: new RetryBudget({ clock: new FakeClock() }),
      circuitBreaker: new CircuitBreakers({ clock: new FakeClock() }),
      idempotency: new Idempotency({ store: new MemoryIdempotencyStore(), ttlMs: 60_000 }),
      startFrom: { timestamp: 1_700_000_000_000 },
    },
  }),
  () => ({
    channel: orders,
    ctx: ctxFor(new FakeTransport()),
    options: { group: 'replay', handlers: [placed], startFrom: { offset: '42' } },
  }),
];

const CONSUME_SPACE: MutationSpace = {
  leaves: [
    ['group'],
    ['handlers'],
    ['handlers', 0],
    ['handlers', 1],
    ['handlers', 0, 'contract'],
    ['handlers', 0, 'handle'],
    ['handlers', 0, 'options'],
    ['handlers', 0, 'options', 'timeoutMs'],
    ['handlers', 1, 'options', 'timeoutMs'],
    ['handlers', 1, 'options'],
    ['handlers', 1, 'options', 'downstream'],
    ['semantics'],
    ['versionStore'],
    ['maxInFlight'],
    ['maxInFlightBytes'],
    ['timeoutMs'],
    ['deadLetterDestination'],
    ['startFrom'],
    ['startFrom', 'timestamp'],
    ['startFrom', 'offset'],
    ['resolveType'],
    ['transport'],
    ['transportOptions'],
    ['retry', 'maxAttempts'],
    ['retry', 'initialDelayMs'],
    ['retry', 'maxDelayMs'],
    ['retry', 'multiplier'],
    ['retry', 'jitter'],
    ['retry', 'maxElapsedMs'],
    ['retry', 'overrides', 0],
    ['retry', 'overrides', 0, 'match'],
    ['retry', 'overrides', 0, 'policy'],
    ['retry', 'overrides', 1, 'policy', 'maxAttempts'],
    ['retry', 'overrides', 1, 'policy', 'initialDelayMs'],
    ['retry', 'overrides', 1, 'policy', 'maxElapsedMs'],
    ['retryBudget', 'ratio'],
    ['retryBudget', 'minRetriesPerSecond'],
    ['retryBudget', 'windowMs'],
    ['retryBudget', 'buckets'],
    ['retryBudget', 'clock'],
    ['circuitBreaker', 'failureRateThreshold'],
    ['circuitBreaker', 'minimumCalls'],
    ['circuitBreaker', 'windowMs'],
    ['circuitBreaker', 'openMs'],
    ['circuitBreaker', 'halfOpenMaxCalls'],
    ['circuitBreaker', 'halfOpenWaitMs'],
    ['circuitBreaker', 'clock'],
    ['circuitBreaker', 'onStateChange'],
    ['circuitBreaker', 'downstreams', 'payments-api', 'openMs'],
    ['circuitBreaker', 'downstreams', 'payments-api', 'minimumCalls'],
    ['idempotency', 'store'],
    ['idempotency', 'ttlMs'],
    ['idempotency', 'leaseMs'],
    ['idempotency', 'onPayloadMismatch'],
    ['idempotency', 'key'],
    ['idempotency', 'hashOf'],
    ['idempotency', 'onError'],
    ['idempotency', 'clock'],
  ],
  objects: [
    ['startFrom'],
    ['handlers', 1, 'options'],
    ['retry'],
    ['retry', 'overrides'],
    ['retry', 'overrides', 1, 'policy'],
    ['retryBudget'],
    ['circuitBreaker'],
    ['circuitBreaker', 'downstreams'],
    ['circuitBreaker', 'downstreams', 'payments-api'],
    ['idempotency'],
    ['idempotency', 'clock'],
    ['transportOptions'],
  ],
  containers: [[], ['retry'], ['retryBudget'], ['circuitBreaker'], ['idempotency'], ['startFrom']],
};

function consume(c: ConsumeCase): unknown {
  return resolveConsumeOptions(c.channel, c.options as never, c.ctx);
}

// ---- createApp ---------------------------------------------------------------------------------

const APP_BASES: readonly (() => Record<string, unknown>)[] = [
  () => ({ transport: new FakeTransport() }),
  () => ({
    transport: new FakeTransport(),
    logger: silentLogger,
    clock: new FakeClock(),
    random: () => 0.5,
    shutdown: { deadlineMs: 1_000 },
  }),
  // collaborators as plain objects, so the fuzzing reaches their members
  () => ({
    transport: new FakeTransport(),
    logger: { debug() {}, info() {}, warn() {}, error() {}, child: () => silentLogger },
    clock: { now: () => 0, sleep: async () => {} },
    random: Math.random,
    propagator: { inject() {}, extract: (ctx: unknown) => ctx, fields: () => [] },
    shutdown: { deadlineMs: 0 },
  }),
  () => ({ transport: new FakeTransport(), propagator: new W3CTraceContextPropagator() }),
];

const APP_SPACE: MutationSpace = {
  leaves: [
    ['transport'],
    ['logger'],
    ['logger', 'debug'],
    ['logger', 'error'],
    ['logger', 'child'],
    ['clock'],
    ['clock', 'now'],
    ['clock', 'sleep'],
    ['random'],
    ['tracerProvider'],
    ['meterProvider'],
    ['propagator'],
    ['propagator', 'inject'],
    ['propagator', 'extract'],
    ['shutdown', 'deadlineMs'],
  ],
  objects: [['shutdown'], ['logger'], ['clock'], ['propagator']],
  containers: [[], ['shutdown'], ['logger']],
};

// ---- policies ----------------------------------------------------------------------------------

const RETRY_BASES: readonly (() => Record<string, unknown>)[] = [
  () => ({}),
  () => ({
    maxAttempts: 4,
    initialDelayMs: 50,
    maxDelayMs: 5_000,
    multiplier: 3,
    jitter: 'none',
    maxElapsedMs: 60_000,
    overrides: [
      { match: 'SWITCHYARD_VALIDATION', policy: 'no-retry' },
      { match: TypeError, policy: { maxAttempts: 2, initialDelayMs: 10, jitter: 'full' } },
      { match: (e: unknown) => e === null, policy: { maxAttempts: 3 } },
    ],
  }),
  () => ({ maxAttempts: Number.POSITIVE_INFINITY, maxElapsedMs: 120_000 }),
];

const RETRY_SPACE: MutationSpace = {
  leaves: [
    ['maxAttempts'],
    ['initialDelayMs'],
    ['maxDelayMs'],
    ['multiplier'],
    ['jitter'],
    ['maxElapsedMs'],
    ['overrides', 0],
    ['overrides', 0, 'match'],
    ['overrides', 0, 'policy'],
    ['overrides', 1, 'match'],
    ['overrides', 1, 'policy', 'maxAttempts'],
    ['overrides', 1, 'policy', 'initialDelayMs'],
    ['overrides', 1, 'policy', 'maxDelayMs'],
    ['overrides', 1, 'policy', 'multiplier'],
    ['overrides', 1, 'policy', 'jitter'],
    ['overrides', 1, 'policy', 'maxElapsedMs'],
  ],
  objects: [['overrides'], ['overrides', 1], ['overrides', 1, 'policy']],
  containers: [[], ['overrides', 1, 'policy']],
};

const BUDGET_BASES: readonly (() => Record<string, unknown>)[] = [
  () => ({}),
  () => ({ ratio: 0.2, minRetriesPerSecond: 5, windowMs: 10_000, buckets: 20, clock: new FakeClock() }),
];

const BUDGET_SPACE: MutationSpace = {
  leaves: [['ratio'], ['minRetriesPerSecond'], ['windowMs'], ['buckets'], ['clock']],
  objects: [['clock']],
  containers: [[]],
};

const BREAKER_SETTINGS: readonly Path[] = [
  ['failureRateThreshold'],
  ['minimumCalls'],
  ['windowMs'],
  ['openMs'],
  ['halfOpenMaxCalls'],
  ['halfOpenWaitMs'],
  ['clock'],
  ['onStateChange'],
];

const BREAKER_BASES: readonly (() => Record<string, unknown>)[] = [
  () => ({ name: 'db' }),
  () => ({
    name: 'payments-api',
    failureRateThreshold: 0.5,
    minimumCalls: 5,
    windowMs: 10_000,
    openMs: 5_000,
    halfOpenMaxCalls: 2,
    halfOpenWaitMs: 500,
    clock: new FakeClock(),
    onStateChange: () => {},
  }),
];

const BREAKER_SPACE: MutationSpace = {
  leaves: [['name'], ...BREAKER_SETTINGS],
  objects: [['clock']],
  containers: [[]],
};

const BREAKERS_BASES: readonly (() => Record<string, unknown>)[] = [
  () => ({}),
  () => ({
    failureRateThreshold: 0.25,
    minimumCalls: 20,
    windowMs: 60_000,
    openMs: 10_000,
    clock: new FakeClock(),
    onStateChange: () => {},
    downstreams: { 'payments-api': { openMs: 60_000 }, db: { minimumCalls: 5, halfOpenWaitMs: 100 } },
  }),
];

const BREAKERS_SPACE: MutationSpace = {
  leaves: [
    ...BREAKER_SETTINGS,
    ['downstreams', 'payments-api', 'openMs'],
    ['downstreams', 'payments-api', 'failureRateThreshold'],
    ['downstreams', 'db', 'minimumCalls'],
    ['downstreams', 'db', 'halfOpenWaitMs'],
    ['downstreams', 'db', 'clock'],
  ],
  objects: [['downstreams'], ['downstreams', 'payments-api'], ['downstreams', 'db']],
  containers: [[], ['downstreams'], ['downstreams', 'db']],
};

// ---- the properties ----------------------------------------------------------------------------

const baseIndex = (bases: readonly unknown[]) => fc.nat({ max: bases.length - 1 });

describe('option resolvers under garbage (fuzz)', () => {
  it('resolveConsumeOptions: the valid consumers resolve (so the fuzzing below is not vacuous)', () => {
    for (const make of CONSUME_BASES) expect(() => consume(make())).not.toThrow();
    fc.assert(
      fc.property(baseIndex(CONSUME_BASES), (i) => {
        consume(CONSUME_BASES[i]!());
      }),
      { numRuns: 20 },
    );
  });

  it('resolveConsumeOptions: garbage options resolve or fail with an InvalidOptionError naming a mutated key', () => {
    fc.assert(
      fc.property(baseIndex(CONSUME_BASES), mutationsOf(CONSUME_SPACE), (i, mutations) => {
        const c = CONSUME_BASES[i]!();
        const { options, applied } = mutate(c.options, mutations);
        // unknown top-level keys are refused
        const refuses = applied.some((m) => m.unknownKey && m.path.length === 1);
        expectReturnsOrNamesAMutation(() => consume({ ...c, options }), applied, refuses);
      }),
      RUNS,
    );
  });

  it('resolveConsumeOptions: garbage for the whole options or channel fails with an InvalidOptionError', () => {
    fc.assert(
      fc.property(garbage, fc.boolean(), (value, asChannel) => {
        const c = CONSUME_BASES[0]!();
        if (asChannel) expect(optionError(() => consume({ ...c, channel: value as never })).option).toBe('channel');
        // an array, a Date or { a: 1 } is an object: its missing group or its unknown key is named instead
        else expect(optionError(() => consume({ ...c, options: value as never })).option).not.toBe('');
      }),
      { numRuns: 100 },
    );
  });

  it('createApp: the valid options construct an app', () => {
    for (const make of APP_BASES) expect(() => createApp(make() as never)).not.toThrow();
  });

  it('createApp: garbage options construct or fail with an InvalidOptionError naming a mutated key', () => {
    assertOptionMutations(APP_BASES, APP_SPACE, (options) => createApp(options as never), RUNS.numRuns);
  });

  it('RetryPolicy.exponential: the valid options build a policy', () => {
    for (const make of RETRY_BASES) expect(() => RetryPolicy.exponential(make() as never)).not.toThrow();
  });

  it('RetryPolicy.exponential: garbage options build or fail with an InvalidOptionError naming a mutated key', () => {
    assertOptionMutations(
      RETRY_BASES,
      RETRY_SPACE,
      (options) => RetryPolicy.exponential(options as never),
      RUNS.numRuns,
    );
  });

  it('new RetryBudget: the valid options build a budget', () => {
    for (const make of BUDGET_BASES) expect(() => new RetryBudget(make() as never)).not.toThrow();
  });

  it('new RetryBudget: garbage options build or fail with an InvalidOptionError naming a mutated key', () => {
    assertOptionMutations(BUDGET_BASES, BUDGET_SPACE, (options) => new RetryBudget(options as never), RUNS.numRuns);
  });

  it('new CircuitBreaker / new CircuitBreakers: the valid options build breakers', () => {
    for (const make of BREAKER_BASES) expect(() => new CircuitBreaker(make() as never)).not.toThrow();
    for (const make of BREAKERS_BASES) expect(() => new CircuitBreakers(make() as never)).not.toThrow();
  });

  it('new CircuitBreaker: garbage options build or fail with an InvalidOptionError naming a mutated key', () => {
    assertOptionMutations(
      BREAKER_BASES,
      BREAKER_SPACE,
      (options) => new CircuitBreaker(options as never),
      RUNS.numRuns,
    );
  });

  it('new CircuitBreakers: garbage options build or fail with an InvalidOptionError naming a mutated key', () => {
    assertOptionMutations(
      BREAKERS_BASES,
      BREAKERS_SPACE,
      (options) => new CircuitBreakers(options as never),
      RUNS.numRuns,
    );
  });

  it('the policies: garbage for the whole options fails with an InvalidOptionError or uses the defaults', () => {
    fc.assert(
      fc.property(garbage, (value) => {
        for (const build of [
          () => RetryPolicy.exponential(value as never),
          () => new RetryBudget(value as never),
          () => new CircuitBreaker(value as never),
          () => new CircuitBreakers(value as never),
          () => createApp(value as never),
        ])
          expectReturnsOrNamesAMutation(build, undefined);
      }),
      { numRuns: 100 },
    );
  });
});

// ---- the in-memory broker and transports ----------------------------------------------------

const QUEUE_SETTINGS: readonly Path[] = [
  ['autoCreateQueue', 'visibilityTimeoutMs'],
  ['autoCreateQueue', 'delayMs'],
  ['autoCreateQueue', 'retentionMs'],
  ['autoCreateQueue', 'maxReceiveCount'],
  ['autoCreateQueue', 'deadLetterQueue'],
  ['autoCreateQueue', 'contentBasedDeduplication'],
  ['autoCreateQueue', 'deduplicationWindowMs'],
];

const MEMORY_BASES: readonly (() => Record<string, unknown>)[] = [
  () => ({}),
  () => ({ broker: new MemoryBroker({ clock: new FakeClock(), maxMessageBytes: 1_024 }), gaugeIntervalMs: 1_000 }),
  () => ({
    clock: new FakeClock(),
    autoCreate: true,
    gaugeIntervalMs: 250,
    fifo: false,
    visibilityTimeoutMs: 10_000,
    assignor: 'round-robin',
    autoCreatePartitions: 2,
    autoCreateQueue: { visibilityTimeoutMs: 5_000, delayMs: 0, retentionMs: 60_000, deduplicationWindowMs: 1_000 },
  }),
];

const MEMORY_SPACE: MutationSpace = {
  leaves: [
    ['broker'],
    ['clock'],
    ['autoCreate'],
    ['gaugeIntervalMs'],
    ['fifo'],
    ['visibilityTimeoutMs'],
    ['assignor'],
    ['autoCreatePartitions'],
    ['autoCreateQueue'],
    ...QUEUE_SETTINGS,
  ],
  objects: [['broker'], ['clock'], ['autoCreateQueue']],
  containers: [[], ['autoCreateQueue']],
};

/** Each transport takes the shared keys and its own; a base's keys for the other one are dropped. */
const LOG_ONLY = ['assignor', 'autoCreatePartitions'];
const QUEUE_ONLY = ['fifo', 'visibilityTimeoutMs', 'autoCreateQueue'];
const without = (keys: readonly string[]) => (make: () => Record<string, unknown>) => () =>
  Object.fromEntries(Object.entries(make()).filter(([k]) => !keys.includes(k)));

describe('the in-memory broker and transports under garbage options (fuzz)', () => {
  it('the valid options construct', () => {
    for (const make of MEMORY_BASES.map(without(QUEUE_ONLY)))
      expect(() => new MemoryLogTransport(make() as never)).not.toThrow();
    for (const make of MEMORY_BASES.map(without(LOG_ONLY)))
      expect(() => new MemoryQueueTransport(make() as never)).not.toThrow();
  });

  it('new MemoryLogTransport: garbage options construct or fail with an InvalidOptionError naming a mutated key', () => {
    assertOptionMutations(
      MEMORY_BASES.map(without(QUEUE_ONLY)),
      MEMORY_SPACE,
      (options) => new MemoryLogTransport(options as never),
      RUNS.numRuns,
    );
  });

  it('new MemoryQueueTransport: garbage options construct or fail with an InvalidOptionError naming a mutated key', () => {
    assertOptionMutations(
      MEMORY_BASES.map(without(LOG_ONLY)),
      MEMORY_SPACE,
      (options) => new MemoryQueueTransport(options as never),
      RUNS.numRuns,
    );
  });

  it('new MemoryBroker and createQueue: garbage options construct or fail naming a mutated key', () => {
    assertOptionMutations(
      [() => ({}), () => ({ clock: new FakeClock(), maxMessageBytes: 2_048 })],
      { leaves: [['clock'], ['maxMessageBytes']], objects: [['clock']], containers: [[]] },
      (options) => new MemoryBroker(options as never),
      RUNS.numRuns,
    );
    let n = 0;
    assertOptionMutations(
      [() => ({}), () => ({ visibilityTimeoutMs: 1_000, maxReceiveCount: 3, deadLetterQueue: 'dlq', delayMs: 10 })],
      {
        leaves: QUEUE_SETTINGS.map((p) => p.slice(1)),
        objects: [],
        containers: [[]],
      },
      (options) => {
        const broker = new MemoryBroker();
        broker.createQueue('dlq');
        return broker.createQueue(`q-${n++}`, options as never);
      },
      RUNS.numRuns,
    );
  });
});

describe('option errors name the option (examples)', () => {
  it.each<[string, () => unknown, string]>([
    ['maxInFlight', () => consume({ ...CONSUME_BASES[0]!(), options: { ...base0(), maxInFlight: -1 } }), 'maxInFlight'],
    [
      'retry.jitter',
      () => consume({ ...CONSUME_BASES[0]!(), options: { ...base0(), retry: { jitter: 'some' } } }),
      'retry.jitter',
    ],
    [
      'circuitBreaker.downstreams',
      () => consume({ ...CONSUME_BASES[0]!(), options: { ...base0(), circuitBreaker: { downstreams: 'db' } } }),
      'circuitBreaker.downstreams',
    ],
    [
      'idempotency.ttlMs',
      () =>
        consume({
          ...CONSUME_BASES[0]!(),
          options: { ...base0(), idempotency: { store: new MemoryIdempotencyStore(), ttlMs: 0 } },
        }),
      'idempotency.ttlMs',
    ],
    [
      'an unknown consumer option',
      () => consume({ ...CONSUME_BASES[0]!(), options: { ...base0(), bogus: 1 } }),
      'bogus',
    ],
    [
      'shutdown.deadlineMs',
      () => createApp({ transport: new FakeTransport(), shutdown: { deadlineMs: -1 } }),
      'shutdown.deadlineMs',
    ],
    [
      'retry.overrides[0].match',
      () => RetryPolicy.exponential({ overrides: [{ match: 1 as never, policy: 'no-retry' }] }),
      'retry.overrides[0].match',
    ],
    ['retryBudget.buckets', () => new RetryBudget({ buckets: 0 }), 'retryBudget.buckets'],
    ['circuitBreaker.name', () => new CircuitBreaker({ name: '' }), 'circuitBreaker.name'],
  ])('%s', (_name, run, option) => {
    const error = optionError(run);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(new RegExp(`^Invalid option '${option.replace(/[[\].]/g, '\\$&')}': .+\\. Fix: .+`));
  });
});

function base0(): Record<string, unknown> {
  return CONSUME_BASES[0]!().options;
}

// What the properties above found (shrunk: Object.create(null) for retry.maxAttempts, ratio, windowMs,
// failureRateThreshold; 10n for meterProvider), and the same input at each other place the fix
// covers. Each threw a TypeError before the fix: String() of an object without a prototype in the
// message, or a method called on a provider that is not one.
describe('regressions found by the option fuzzing', () => {
  const bare = () => Object.create(null) as never;

  it.each<[string, () => unknown, string]>([
    [
      'maxInFlight',
      () => consume({ ...CONSUME_BASES[0]!(), options: { ...base0(), maxInFlight: bare() } }),
      'maxInFlight',
    ],
    ['semantics', () => consume({ ...CONSUME_BASES[0]!(), options: { ...base0(), semantics: bare() } }), 'semantics'],
    ['timeoutMs', () => consume({ ...CONSUME_BASES[0]!(), options: { ...base0(), timeoutMs: bare() } }), 'timeoutMs'],
    [
      'retry.maxAttempts (through resolveConsumeOptions)',
      () => consume({ ...CONSUME_BASES[0]!(), options: { ...base0(), retry: { maxAttempts: bare() } } }),
      'retry.maxAttempts',
    ],
    [
      'idempotency.ttlMs (through resolveConsumeOptions)',
      () =>
        consume({
          ...CONSUME_BASES[0]!(),
          options: { ...base0(), idempotency: { store: new MemoryIdempotencyStore(), ttlMs: bare() } },
        }),
      'idempotency.ttlMs',
    ],
    ['RetryPolicy maxAttempts', () => RetryPolicy.exponential({ maxAttempts: bare() }), 'retry.maxAttempts'],
    ['RetryBudget ratio', () => new RetryBudget({ ratio: bare() }), 'retryBudget.ratio'],
    ['CircuitBreaker windowMs', () => new CircuitBreaker({ name: 'db', windowMs: bare() }), 'circuitBreaker.windowMs'],
    [
      'CircuitBreakers failureRateThreshold',
      () => new CircuitBreakers({ failureRateThreshold: bare() }),
      'circuitBreaker.failureRateThreshold',
    ],
    [
      'createApp shutdown.deadlineMs',
      () => createApp({ transport: new FakeTransport(), shutdown: { deadlineMs: bare() } }),
      'shutdown.deadlineMs',
    ],
    [
      'createApp meterProvider 10n',
      () => createApp({ transport: new FakeTransport(), meterProvider: 10n as never }),
      'meterProvider',
    ],
    [
      'createApp tracerProvider true',
      () => createApp({ transport: new FakeTransport(), tracerProvider: true as never }),
      'tracerProvider',
    ],
  ])('%s: Object.create(null) or a non-provider is an InvalidOptionError, not a TypeError', (_name, run, option) => {
    const error = optionError(run);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/\. Fix: \S/);
  });
});

// Gaps the fuzzing could not catch: these inputs did not throw at construction. They were accepted
// and failed later with a TypeError (a breaker changing state, the first log line, retry, span, start
// or stop, the first message for a downstream) or silently misbehaved (an array or a Date read as
// default options, a misspelled start position handed to the transport). Each is now an
// InvalidOptionError naming the option, thrown by consume() / createApp() / the constructor.
describe('validation gaps closed at construction', () => {
  const consumeWith = (options: Record<string, unknown>) => () =>
    consume({ ...CONSUME_BASES[0]!(), options: { ...base0(), ...options } });
  const app = (options: Record<string, unknown>) => () =>
    createApp({ transport: new FakeTransport(), ...options } as never);
  const store = () => new MemoryIdempotencyStore();

  it.each<[string, () => unknown, string]>([
    // circuitBreaker.onStateChange was wrapped, so the breakers never saw the non-function
    [
      'circuitBreaker.onStateChange',
      consumeWith({ circuitBreaker: { onStateChange: 'log' } }),
      'circuitBreaker.onStateChange',
    ],
    // startFrom was passed to the transport as given
    ['startFrom: a misspelled position', consumeWith({ startFrom: 'beginning' }), 'startFrom'],
    ['startFrom: a Date', consumeWith({ startFrom: new Date(0) }), 'startFrom'],
    ['startFrom: an empty object', consumeWith({ startFrom: {} }), 'startFrom'],
    ['startFrom: timestamp and offset', consumeWith({ startFrom: { timestamp: 1, offset: '1' } }), 'startFrom'],
    ['startFrom.timestamp: a string', consumeWith({ startFrom: { timestamp: '2024-05-01' } }), 'startFrom.timestamp'],
    ['startFrom.offset: a number', consumeWith({ startFrom: { offset: 42 } }), 'startFrom.offset'],
    ['startFrom.offset: not decimal', consumeWith({ startFrom: { offset: 'abc' } }), 'startFrom.offset'],
    // a handler's downstream named a breaker only when the first message reached it
    [
      'handlers[0].options.downstream: a number',
      consumeWith({ handlers: [{ contract: OrderPlaced, handle: () => {}, options: { downstream: 5 } }] }),
      'handlers[0].options.downstream (OrderPlaced)',
    ],
    [
      'handlers[0].options: a string',
      consumeWith({ handlers: [{ contract: OrderPlaced, handle: () => {}, options: 'fast' }] }),
      'handlers[0].options (OrderPlaced)',
    ],
    ['defineHandler downstream: empty', () => defineHandler(OrderPlaced, () => {}, { downstream: '' }), 'downstream'],
    ['defineHandler options: null', () => defineHandler(OrderPlaced, () => {}, null as never), 'defineHandler.options'],
    // collaborators: each was first called long after construction
    ['createApp logger: {}', app({ logger: {} }), 'logger'],
    ['createApp logger: without warn', app({ logger: { debug() {}, info() {}, error() {} } }), 'logger'],
    ['createApp clock: without sleep', app({ clock: { now: () => 0 } }), 'clock'],
    ['createApp random: a number', app({ random: 0.5 }), 'random'],
    ['createApp propagator: {}', app({ propagator: {} }), 'propagator'],
    [
      'createApp transport: without start, close and health',
      () => createApp({ transport: { subscribe() {}, publish() {} } as never }),
      'transport',
    ],
    [
      'consume transport: without publish',
      consumeWith({ transport: { subscribe() {}, start() {}, close() {}, health() {}, capabilities: {} } }),
      'transport',
    ],
    ['retryBudget.clock (through consume)', consumeWith({ retryBudget: { clock: {} } }), 'retryBudget.clock'],
    ['new RetryBudget clock', () => new RetryBudget({ clock: Date as never }), 'retryBudget.clock'],
    [
      'idempotency.clock (through consume)',
      consumeWith({ idempotency: { store: store(), ttlMs: 1_000, clock: { now: Date.now } } }),
      'idempotency.clock',
    ],
    [
      'idempotency.store without release (refused before these fixes too)',
      consumeWith({ idempotency: { store: { claim() {}, renew() {}, complete() {} }, ttlMs: 1 } }),
      'idempotency.store',
    ],
    ['TokenBucket clock', () => new TokenBucket({ ratePerSecond: 1, clock: 'now' as never }), 'clock'],
    // nested option objects that are not plain objects were merged (as defaults) or half-read
    ['retry: an array', consumeWith({ retry: [{ maxAttempts: 1 }] }), 'retry'],
    ['retry: a Date', consumeWith({ retry: new Date(0) }), 'retry'],
    [
      'retry.overrides[0].policy: an array',
      consumeWith({ retry: { overrides: [{ match: TypeError, policy: [] }] } }),
      'retry.overrides[0].policy',
    ],
    ['retryBudget: an array', consumeWith({ retryBudget: [] }), 'retryBudget'],
    ['circuitBreaker: an array', consumeWith({ circuitBreaker: [] }), 'circuitBreaker'],
    [
      'circuitBreaker.downstreams: an array',
      consumeWith({ circuitBreaker: { downstreams: [{ openMs: 1 }] } }),
      'circuitBreaker.downstreams',
    ],
    [
      'circuitBreaker.downstreams.db: a string',
      consumeWith({ circuitBreaker: { downstreams: { db: 'slow' } } }),
      'circuitBreaker.downstreams.db',
    ],
    ['idempotency: a Date', consumeWith({ idempotency: new Date(0) }), 'idempotency'],
    ['transportOptions: an array', consumeWith({ transportOptions: ['pollers', 2] }), 'transportOptions'],
    ['createApp shutdown: a string', app({ shutdown: '10s' }), 'shutdown'],
    ['RetryPolicy.exponential: an array', () => RetryPolicy.exponential([] as never), 'retry'],
    ['new CircuitBreakers: a Date', () => new CircuitBreakers(new Date(0) as never), 'circuitBreaker'],
  ])('%s: an InvalidOptionError at construction', (_name, run, option) => {
    const error = optionError(run);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/\. Fix: \S/);
  });

  it('the instances the types allow in place of options, and valid start positions, are accepted', () => {
    const c = CONSUME_BASES[3]!();
    const resolved = resolveConsumeOptions(c.channel, c.options as never, c.ctx);
    expect(resolved.retryPolicy).toBe(c.options.retry);
    expect(resolved.retryBudget).toBe(c.options.retryBudget);
    expect(resolved.breakers).toBe(c.options.circuitBreaker);
    expect(resolved.idempotency).toBe(c.options.idempotency);
    expect(resolved.startFrom).toEqual({ timestamp: 1_700_000_000_000 });
    for (const startFrom of ['earliest', 'latest', { timestamp: 0 }, { offset: '0' }])
      expect(() => consumeWith({ startFrom })()).not.toThrow();
    // absent collaborators (undefined or null) take the defaults, as before
    expect(() => createApp({ transport: new FakeTransport(), logger: null, clock: null } as never)).not.toThrow();
  });

  it('an explicit undefined circuitBreaker.clock means the app clock, as leaving it out does (it meant the system clock)', () => {
    const c = CONSUME_BASES[0]!();
    const resolved = consume({
      ...c,
      options: { ...c.options, circuitBreaker: { clock: undefined, minimumCalls: 1, openMs: 1_000 } },
    }) as { breakers: CircuitBreakers };
    const acquired = resolved.breakers.for('db').tryAcquire();
    if (!acquired.allowed) throw new Error('a new breaker admits a call');
    acquired.permit.failure();
    expect(resolved.breakers.for('db').snapshot().openUntil).toBe(c.ctx.clock.now() + 1_000);
  });

  // String(value) threw a TypeError for a value without a prototype; these show it with optionValueText
  it.each<[string, () => unknown, string]>([
    ['TokenBucket ratePerSecond', () => new TokenBucket({ ratePerSecond: Object.create(null) }), 'ratePerSecond'],
    ['TokenBucket burst', () => new TokenBucket({ ratePerSecond: 1, burst: Object.create(null) }), 'burst'],
    ['TokenBucket tryTake', () => new TokenBucket({ ratePerSecond: 1 }).tryTake(Object.create(null)), 'n'],
    [
      'RetryPolicy.decide attempt',
      () =>
        RetryPolicy.exponential().decide(
          { attempt: Object.create(null), firstFailureAt: 0, now: 0, error: 1 },
          Math.random,
        ),
      'attempt',
    ],
    [
      'defineHandler timeoutMs',
      () => defineHandler(OrderPlaced, () => {}, { timeoutMs: Object.create(null) }),
      'timeoutMs',
    ],
    [
      'MemoryVersionStore maxEntries',
      () => new MemoryVersionStore({ maxEntries: Object.create(null) }),
      'versionStore.maxEntries',
    ],
    [
      'KeyedScheduler maxInFlight',
      () => new KeyedScheduler({ maxInFlight: Object.create(null), maxInFlightBytes: 1 }),
      'maxInFlight',
    ],
    [
      'MemoryIdempotencyStore maxEntries',
      () => new MemoryIdempotencyStore({ maxEntries: Object.create(null) }),
      'idempotencyStore.maxEntries',
    ],
    ['MemoryLogTransport assignor', () => new MemoryLogTransport({ assignor: Object.create(null) }), 'assignor'],
  ])('%s: Object.create(null) is an InvalidOptionError, not a TypeError', (_name, run, option) => {
    expect(optionError(run).option).toBe(option);
  });

  it.each<[string, () => Promise<unknown>, string]>([
    [
      'MemoryIdempotencyStore claim leaseMs',
      () => new MemoryIdempotencyStore().claim({ key: 'k', payloadHash: 'h', leaseMs: Object.create(null) }),
      'leaseMs',
    ],
    [
      'MemoryQueueTransport subscribe options.fanoutEnvelope',
      async () => {
        const transport = new MemoryQueueTransport();
        await transport.start();
        return transport.subscribe(
          {
            destination: 'payments',
            consumerGroup: 'g',
            semantics: 'at-least-once',
            startFrom: 'earliest',
            maxInFlight: 1,
            maxInFlightBytes: 1_000,
            observer: { lag() {}, depth() {} },
            options: { fanoutEnvelope: Object.create(null) },
          },
          () => undefined,
        );
      },
      'options.fanoutEnvelope',
    ],
  ])('%s: Object.create(null) rejects with an InvalidOptionError, not a TypeError', async (_name, run, option) => {
    const error = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe(option);
  });

  it('app.stop: a deadlineMs without a prototype rejects with an InvalidOptionError, not a TypeError', async () => {
    const error = await createApp({ transport: new FakeTransport() })
      .stop({ deadlineMs: Object.create(null) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe('stop.deadlineMs');
  });

  it('a message version without a prototype is a SWITCHYARD_VALIDATION error, not a TypeError', () => {
    let error: unknown;
    try {
      compareVersions(undefined, Object.create(null));
    } catch (e) {
      error = e;
    }
    expect(isSwitchyardError(error) && error.code).toBe('SWITCHYARD_VALIDATION');
  });
});
