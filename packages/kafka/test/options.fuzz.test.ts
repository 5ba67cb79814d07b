// resolveKafkaOptions and resolveSubscriptionOptions under garbage: "wrong options fail at
// construction naming the option and the fix". Each property starts from a valid options object,
// applies 1–4 mutations (a known key, nested ones such as consumer.*, producer.*, retry.*,
// deadLetter.* included, set to garbage; a whole nested object replaced by garbage; an unknown key
// added) and checks that the resolver either returns or throws an InvalidOptionError naming what was
// mutated: never a TypeError, a RangeError or anything else.
//
// "Naming what was mutated" is relaxed in two documented ways (the same kit as core's
// test/options.fuzz.test.ts):
//  - the error's `option` names a mutated key, something inside it, or an object enclosing it
//    ('brokers' for a broken brokers[0]);
//  - or, for a rule between two fields, the message names a mutated key ('brokers': "give exactly
//    one of brokers, kafka and driver" when kafka was set; 'retry.parkSameKey' with "set retry.mode:
//    'retry-topics'" when mode was changed).
// Both resolvers refuse unknown keys, at every level but `client` (kafkajs' own settings).

import {
  assertOptionMutations,
  expectReturnsOrNamesAMutation,
  type OptionMutationSpace,
  optionError,
  optionGarbage,
} from '@switchyard/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveKafkaOptions, resolveSubscriptionOptions } from '../src/options.js';
import { KafkaTransport } from '../src/transport.js';
import { FakeDriver } from './support/fake-driver.js';

const RUNS = { numRuns: 300 };

// ---- resolveKafkaOptions -----------------------------------------------------------------------

/** Valid transports: brokers only; a driver with every other option given; brokers with client settings. */
const KAFKA_BASES: readonly (() => Record<string, unknown>)[] = [
  () => ({ brokers: ['127.0.0.1:9092'], clientId: 'billing' }),
  () => ({
    driver: new FakeDriver(),
    consumer: {
      sessionTimeoutMs: 30_000,
      heartbeatIntervalMs: 3_000,
      rebalanceTimeoutMs: 60_000,
      maxBytesPerPartition: 1_048_576,
      maxBytes: 10_485_760,
      maxWaitTimeMs: 500,
      commitIntervalMs: 1_000,
      commitEveryMessages: 100,
      stuckPartitionMs: 15_000,
      partitionMaxInFlight: 10,
      partitionsConsumedConcurrently: 2,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      ordering: 'partition',
      lagIntervalMs: 5_000,
    },
    producer: {
      idempotent: true,
      acks: -1,
      lingerMs: 0,
      batchBytes: 65_536,
      bufferBytes: 1_048_576,
      bufferTimeoutMs: 10_000,
      compression: 'gzip',
      requestTimeoutMs: 30_000,
      retries: 5,
      allowAutoTopicCreation: false,
      transactionalId: 'billing-0',
      transactionTimeoutMs: 60_000,
    },
    retry: {
      mode: 'retry-topics',
      topics: 3,
      maxDelayMs: 60_000,
      createTopics: true,
      parkSameKey: { maxKeys: 100, ttlMs: 60_000 },
    },
    deadLetter: { suffix: '.dlq', timeoutMs: 5_000, springHeaders: false, createTopics: false, depthIntervalMs: 0 },
  }),
  () => ({
    brokers: ['kafka-1:9092', 'kafka-2:9092'],
    client: { connectionTimeout: 1_000 },
    producer: { idempotent: false, acks: 1, retries: 0 },
    retry: { mode: 'blocking', parkSameKey: false },
  }),
  // collaborators as plain objects, so the fuzzing reaches their members
  () => ({
    driver: {
      name: 'plain',
      consumer: () => ({}),
      producer: () => ({}),
      admin: () => ({}),
      partitionForKey: () => 0,
    },
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    clock: { now: () => 0, sleep: async () => {} },
    retry: { mode: 'retry-topics', parkSameKey: true },
  }),
  () => ({ kafka: { consumer: () => ({}), producer: () => ({}), admin: () => ({}) } }),
];

const CONSUMER_KEYS = [
  'sessionTimeoutMs',
  'heartbeatIntervalMs',
  'rebalanceTimeoutMs',
  'maxBytesPerPartition',
  'maxBytes',
  'maxWaitTimeMs',
  'commitIntervalMs',
  'commitEveryMessages',
  'stuckPartitionMs',
  'partitionMaxInFlight',
  'partitionsConsumedConcurrently',
  'readUncommitted',
  'allowAutoTopicCreation',
  'ordering',
  'lagIntervalMs',
];
const PRODUCER_KEYS = [
  'idempotent',
  'acks',
  'lingerMs',
  'batchBytes',
  'bufferBytes',
  'bufferTimeoutMs',
  'compression',
  'requestTimeoutMs',
  'retries',
  'allowAutoTopicCreation',
  'transactionalId',
  'transactionTimeoutMs',
];
const RETRY_KEYS = ['mode', 'topics', 'maxDelayMs', 'createTopics', 'parkSameKey'];
const DEAD_LETTER_KEYS = ['suffix', 'timeoutMs', 'springHeaders', 'createTopics', 'depthIntervalMs'];

const KAFKA_SPACE: OptionMutationSpace = {
  leaves: [
    ['brokers'],
    ['brokers', 0],
    ['brokers', 1],
    ['kafka'],
    ['kafka', 'consumer'],
    ['kafka', 'producer'],
    ['kafka', 'admin'],
    ['driver'],
    ['driver', 'consumer'],
    ['driver', 'producer'],
    ['driver', 'admin'],
    ['driver', 'partitionForKey'],
    ['clientId'],
    ['client'],
    ['logger'],
    ['logger', 'warn'],
    ['clock'],
    ['clock', 'now'],
    ['clock', 'sleep'],
    ...CONSUMER_KEYS.map((k) => ['consumer', k]),
    ...PRODUCER_KEYS.map((k) => ['producer', k]),
    ...RETRY_KEYS.map((k) => ['retry', k]),
    ['retry', 'parkSameKey', 'maxKeys'],
    ['retry', 'parkSameKey', 'ttlMs'],
    ...DEAD_LETTER_KEYS.map((k) => ['deadLetter', k]),
  ],
  objects: [
    ['consumer'],
    ['producer'],
    ['retry'],
    ['retry', 'parkSameKey'],
    ['deadLetter'],
    ['client'],
    ['driver'],
    ['kafka'],
    ['logger'],
    ['clock'],
  ],
  containers: [[], ['consumer'], ['producer'], ['retry'], ['deadLetter']],
};

// ---- resolveSubscriptionOptions ----------------------------------------------------------------

const SUBSCRIPTION_BASES: readonly (() => Record<string, unknown>)[] = [
  () => ({}),
  () => ({
    topics: ['orders', 'payments'],
    ordering: 'partition',
    partitionMaxInFlight: 0,
    stuckPartitionMs: 10_000,
    deadLetterTopic: 'orders.dead',
    ratePerSecond: 50,
  }),
  () => ({ pattern: /^orders\..+$/, ordering: 'key', ratePerSecond: 0.5 }),
];

const SUBSCRIPTION_SPACE: OptionMutationSpace = {
  leaves: [
    ['pattern'],
    ['topics'],
    ['topics', 0],
    ['topics', 1],
    ['ordering'],
    ['partitionMaxInFlight'],
    ['stuckPartitionMs'],
    ['deadLetterTopic'],
    ['ratePerSecond'],
  ],
  objects: [['topics'], ['pattern']],
  containers: [[]],
};

// ---- the properties ----------------------------------------------------------------------------

describe('Kafka option resolvers under garbage (fuzz)', () => {
  it('resolveKafkaOptions: the valid options resolve (so the fuzzing below is not vacuous)', () => {
    for (const make of KAFKA_BASES) expect(() => resolveKafkaOptions(make() as never)).not.toThrow();
  });

  it('resolveKafkaOptions: garbage options resolve or fail with an InvalidOptionError naming a mutated key', () => {
    assertOptionMutations(KAFKA_BASES, KAFKA_SPACE, (options) => resolveKafkaOptions(options as never), RUNS.numRuns);
  });

  it('new KafkaTransport: garbage options construct or fail with an InvalidOptionError naming a mutated key', () => {
    // the constructor calls the driver (producer(), admin()) after resolving: a driver or kafkajs
    // client the resolver let through must not fail there with a TypeError
    assertOptionMutations(KAFKA_BASES, KAFKA_SPACE, (options) => new KafkaTransport(options as never), 150);
  });

  it('resolveKafkaOptions: garbage for the whole options fails with an InvalidOptionError', () => {
    fc.assert(
      fc.property(optionGarbage, (value) => {
        // `{ a: 1 }` names its unknown key
        expect(optionError(() => resolveKafkaOptions(value as never)).option).toMatch(/^(options|brokers|a)$/);
      }),
      { numRuns: 100 },
    );
  });

  it('resolveSubscriptionOptions: the valid options resolve', () => {
    expect(resolveSubscriptionOptions(undefined)).toEqual({});
    for (const make of SUBSCRIPTION_BASES) expect(() => resolveSubscriptionOptions(make())).not.toThrow();
  });

  it('resolveSubscriptionOptions: garbage options resolve or fail with an InvalidOptionError naming a mutated key', () => {
    assertOptionMutations(
      SUBSCRIPTION_BASES,
      SUBSCRIPTION_SPACE,
      (options) => resolveSubscriptionOptions(options),
      RUNS.numRuns,
    );
  });

  it('resolveSubscriptionOptions: garbage for the whole options returns or fails with an InvalidOptionError', () => {
    fc.assert(
      fc.property(optionGarbage, (value) => {
        expectReturnsOrNamesAMutation(() => resolveSubscriptionOptions(value as never), undefined);
      }),
      { numRuns: 100 },
    );
  });
});

describe('Kafka option errors name the option (examples)', () => {
  it.each<[string, () => unknown]>([
    ['brokers', () => resolveKafkaOptions({ brokers: ['127.0.0.1'] })],
    ['consumer.maxBytes', () => resolveKafkaOptions({ brokers: ['h:1'], consumer: { maxBytes: 0.5 } })],
    ['producer.lingerMs', () => resolveKafkaOptions({ brokers: ['h:1'], producer: { lingerMs: -1 } })],
    [
      'retry.parkSameKey.ttlMs',
      () => resolveKafkaOptions({ brokers: ['h:1'], retry: { mode: 'retry-topics', parkSameKey: { ttlMs: 0 } } }),
    ],
    [
      'deadLetter.depthIntervalMs',
      () => resolveKafkaOptions({ brokers: ['h:1'], deadLetter: { depthIntervalMs: Number.NaN } }),
    ],
    ['options.topics', () => resolveSubscriptionOptions({ topics: [''] })],
    ['options.stuckPartitionMs', () => resolveSubscriptionOptions({ stuckPartitionMs: 0 })],
  ])('%s', (option, run) => {
    const error = optionError(run);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(new RegExp(`^Invalid option '${option.replace(/[[\].]/g, '\\$&')}': .+\\. Fix: .+`));
  });
});

// What the properties above found (shrunk: Object.create(null) for consumer.ordering, ordering and
// ratePerSecond; a Symbol for ratePerSecond), and the same input at each other place the fix covers.
// Each threw a TypeError before the fix: String() of an object without a prototype in the message,
// or `ratePerSecond > 0` on a Symbol or such an object.
describe('regressions found by the option fuzzing', () => {
  const bare = () => Object.create(null) as never;

  it.each<[string, () => unknown]>([
    ['options.ordering', () => resolveSubscriptionOptions({ ordering: bare() })],
    ['options.ratePerSecond', () => resolveSubscriptionOptions({ ratePerSecond: bare() })],
    ['options.ratePerSecond', () => resolveSubscriptionOptions({ ratePerSecond: Symbol('garbage') })],
    ['options.partitionMaxInFlight', () => resolveSubscriptionOptions({ partitionMaxInFlight: bare() })],
    ['brokers', () => resolveKafkaOptions({ brokers: [bare()] })],
    ['consumer.ordering', () => resolveKafkaOptions({ brokers: ['h:1'], consumer: { ordering: bare() } })],
    ['consumer.maxBytes', () => resolveKafkaOptions({ brokers: ['h:1'], consumer: { maxBytes: bare() } })],
    ['producer.acks', () => resolveKafkaOptions({ brokers: ['h:1'], producer: { acks: bare() } })],
    ['producer.compression', () => resolveKafkaOptions({ brokers: ['h:1'], producer: { compression: bare() } })],
    ['retry.mode', () => resolveKafkaOptions({ brokers: ['h:1'], retry: { mode: bare() } })],
    ['deadLetter.suffix', () => resolveKafkaOptions({ brokers: ['h:1'], deadLetter: { suffix: bare() } })],
  ])('%s: a value String() cannot show, or a Symbol, is an InvalidOptionError, not a TypeError', (option, run) => {
    const error = optionError(run);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/\. Fix: \S/);
  });

  it('options.ratePerSecond: a BigInt or a numeric string is refused at resolve, not left to fail at subscribe', () => {
    // accepted before (10n > 0 is true), then `Math.ceil(10n / 10)` threw a TypeError in subscribe()
    expect(optionError(() => resolveSubscriptionOptions({ ratePerSecond: 10n })).option).toBe('options.ratePerSecond');
    expect(optionError(() => resolveSubscriptionOptions({ ratePerSecond: '10' })).option).toBe('options.ratePerSecond');
    expect(resolveSubscriptionOptions({ ratePerSecond: 10 }).ratePerSecond).toBe(10);
  });
});
