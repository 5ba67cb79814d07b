import { InvalidOptionError } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import {
  compositeKey,
  detectHotPartitions,
  KafkaAdmin,
  KafkaTransport,
  type KafkaTransportOptions,
  KeySequencer,
  kafkaConsumerDefaults,
  kafkaDeadLetterDefaults,
  kafkaProducerDefaults,
  kafkaRetryDefaults,
} from '../src/index.js';
import { resolveKafkaOptions } from '../src/options.js';
import { FakeDriver } from './support/fake-driver.js';

function optionError(options: KafkaTransportOptions): InvalidOptionError {
  try {
    new KafkaTransport(options);
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error('expected an InvalidOptionError');
}

const subscriptionSpec = {
  destination: 'orders',
  consumerGroup: 'g',
  semantics: 'at-least-once' as const,
  startFrom: 'earliest' as const,
  maxInFlight: 10,
  maxInFlightBytes: 1_000,
  observer: { lag() {}, depth() {} },
};

describe('KafkaTransport options', () => {
  it.each<[string, KafkaTransportOptions]>([
    ['brokers', {}],
    ['brokers', { brokers: [] }],
    ['brokers', { brokers: ['no-port'] }],
    ['brokers', { brokers: ['127.0.0.1:9092'], driver: new FakeDriver() }],
    [
      'consumer.heartbeatIntervalMs',
      { brokers: ['h:1'], consumer: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 3_000 } },
    ],
    ['consumer.maxWaitTimeMs', { brokers: ['h:1'], consumer: { sessionTimeoutMs: 10_000, maxWaitTimeMs: 10_000 } }],
    ['consumer.commitIntervalMs', { brokers: ['h:1'], consumer: { commitIntervalMs: 0 } }],
    ['consumer.ordering', { brokers: ['h:1'], consumer: { ordering: 'global' as never } }],
    ['producer.acks', { brokers: ['h:1'], producer: { acks: 1 } }],
    ['producer.batchBytes', { brokers: ['h:1'], producer: { batchBytes: 2_000, bufferBytes: 1_000 } }],
    ['producer.compression', { brokers: ['h:1'], producer: { compression: 'snappy' as never } }],
    ['producer.transactionalId', { brokers: ['h:1'], producer: { transactionalId: '' } }],
    ['retry.mode', { brokers: ['h:1'], retry: { mode: 'later' as never } }],
    ['retry.topics', { brokers: ['h:1'], retry: { mode: 'retry-topics', topics: 0 } }],
    ['retry.parkSameKey', { brokers: ['h:1'], retry: { mode: 'blocking', parkSameKey: true } }],
    ['deadLetter.suffix', { brokers: ['h:1'], deadLetter: { suffix: ' dlq' } }],
  ])('rejects a wrong %s at construction, naming the option and a fix', (option, options) => {
    const error = optionError(options);
    expect(error.option).toBe(option);
    expect(error.code).toBe('SWITCHYARD_INVALID_OPTION');
    expect(error.message).toMatch(/Fix: /);
  });

  it('declares what Kafka can do, by retry mode and transactions', () => {
    const blocking = new KafkaTransport({ brokers: ['h:1'] });
    expect(blocking.capabilities).toEqual({
      model: 'log',
      ordering: 'partition',
      consumerGroups: true,
      replay: true,
      delayedRetry: false,
      maxRetryDelayMs: 3_600_000,
      nativeRedrive: false,
      exactlyOnce: false,
      leaseMs: undefined,
    });
    const retrying = new KafkaTransport({
      brokers: ['h:1'],
      retry: { mode: 'retry-topics', maxDelayMs: 60_000 },
      producer: { transactionalId: 'svc-0' },
    });
    expect(retrying.capabilities).toMatchObject({ delayedRetry: true, maxRetryDelayMs: 60_000, exactlyOnce: true });
  });

  it('refuses an exactly-once subscription without a transactional producer', async () => {
    const transport = new KafkaTransport({ driver: new FakeDriver() });
    await expect(
      transport.subscribe(
        {
          destination: 'orders',
          consumerGroup: 'g',
          semantics: 'exactly-once',
          startFrom: 'earliest',
          maxInFlight: 10,
          maxInFlightBytes: 1_000,
          observer: { lag() {}, depth() {} },
        },
        async () => {},
      ),
    ).rejects.toMatchObject({ code: 'SWITCHYARD_CAPABILITY' });
  });

  it('rejects wrong subscription options', async () => {
    const transport = new KafkaTransport({ driver: new FakeDriver() });
    const spec = subscriptionSpec;
    await expect(
      transport.subscribe({ ...spec, options: { pattern: 'orders.*' } }, async () => {}),
    ).rejects.toMatchObject({ option: 'options.pattern' });
    await expect(transport.subscribe({ ...spec, options: { ratePerSecond: 0 } }, async () => {})).rejects.toMatchObject(
      { option: 'options.ratePerSecond' },
    );
    // A misspelt subscription option is refused, not ignored.
    await expect(
      transport.subscribe({ ...spec, options: { order: 'partition' } }, async () => {}),
    ).rejects.toMatchObject({ option: 'options.order' });
  });

  // A topic the broker refuses (or whose retry or dead-letter topic it refuses) failed only when the
  // topics were created or first written, with the broker's INVALID_TOPIC_EXCEPTION.
  it('refuses a subscription whose topic, or a topic derived from it, Kafka would refuse', async () => {
    const spec = subscriptionSpec;
    const blocking = new KafkaTransport({ driver: new FakeDriver() });
    const retrying = new KafkaTransport({ driver: new FakeDriver(), retry: { mode: 'retry-topics', topics: 12 } });
    const cases: Array<[KafkaTransport, Record<string, unknown>, string, RegExp]> = [
      [blocking, { destination: 'orders events' }, 'destination', /'orders events' may hold only/],
      [blocking, { destination: 'orders/eu' }, 'destination', /may hold only/],
      [blocking, { destination: 'ö' }, 'destination', /may hold only/],
      [blocking, { destination: '..' }, 'destination', /is not a topic name/],
      [blocking, { destination: 'x'.repeat(250) }, 'destination', /250 characters long; Kafka allows 249/],
      // 246 + '.dlq' = 250
      [blocking, { destination: 'x'.repeat(246) }, 'destination', /dead-letter topic .* 250 characters/],
      // 239 + '.retry.12' = 248 fits, its dead letters too; 241 + '.retry.12' = 250 does not
      [retrying, { destination: 'x'.repeat(241) }, 'destination', /retry topic .* 250 characters/],
      [blocking, { options: { topics: ['orders', 'bad topic'] } }, 'options.topics', /'bad topic'/],
      [blocking, { options: { deadLetterTopic: 'orders dlq' } }, 'destination', /dead-letter topic .*may hold only/],
    ];
    for (const [transport, change, option, message] of cases) {
      const subscribing = transport.subscribe({ ...spec, ...change } as never, async () => {});
      await expect(subscribing).rejects.toMatchObject({ name: 'InvalidOptionError', option });
      await expect(subscribing).rejects.toThrow(message);
    }
    // The longest legal names still subscribe as far as the name check goes.
    for (const [transport, destination] of [
      [blocking, 'x'.repeat(245)],
      [retrying, 'x'.repeat(239)],
      [blocking, 'Orders_v2.eu-west-1'],
    ] as const) {
      const outcome: unknown = await transport.subscribe({ ...spec, destination }, async () => {}).catch((e) => e);
      expect(outcome).not.toMatchObject({ name: 'InvalidOptionError' });
      if (outcome && typeof (outcome as { close?: unknown }).close === 'function')
        await (outcome as { close(): Promise<void> }).close();
    }
  });

  it('refuses a misspelt option at every level instead of falling back to its default', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ brokers: ['127.0.0.1:9092'], clientID: 'billing' }, 'clientID'],
      [{ brokers: ['127.0.0.1:9092'], consumer: { maxInflight: 5 } }, 'consumer.maxInflight'],
      [{ brokers: ['127.0.0.1:9092'], producer: { linger: 5 } }, 'producer.linger'],
      [{ brokers: ['127.0.0.1:9092'], retry: { mode: 'retry-topics', topic: 2 } }, 'retry.topic'],
      [
        { brokers: ['127.0.0.1:9092'], retry: { mode: 'retry-topics', parkSameKey: { ttl: 1 } } },
        'retry.parkSameKey.ttl',
      ],
      [{ brokers: ['127.0.0.1:9092'], deadLetter: { sufix: '.dead' } }, 'deadLetter.sufix'],
    ];
    for (const [options, option] of cases) {
      let error: unknown;
      try {
        resolveKafkaOptions(options as never);
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(option);
      expect((error as InvalidOptionError).message).toMatch(
        /is not a Kafka .*option\. Fix: remove it; known options: /,
      );
    }
    // The producer's transactionalId is known although it has no default.
    expect(() =>
      resolveKafkaOptions({ brokers: ['127.0.0.1:9092'], producer: { transactionalId: 't' } }),
    ).not.toThrow();
  });
});

// Gaps the option fuzzing could not catch: these passed resolveKafkaOptions and then failed with a
// TypeError in the constructor (`this.driver.producer is not a function`) or later (the first log
// line, a publish's clock), or were silently merged or read as truthy ('false' turned
// readUncommitted on). Each is now an InvalidOptionError naming the option, thrown by the constructor.
describe('KafkaTransport options: validation gaps closed at construction', () => {
  const plainDriver = () => ({
    name: 'plain',
    consumer: () => ({}),
    producer: () => ({}),
    admin: () => ({}),
  });
  it.each<[string, string, KafkaTransportOptions]>([
    ['a driver that is a string', 'driver', { driver: 'abc' as never }],
    ['a driver that is null', 'driver', { driver: null as never }],
    ['a driver without partitionForKey', 'driver', { driver: plainDriver() as never }],
    ['a kafka client that is not one', 'kafka', { kafka: { producer() {} } as never }],
    ['an empty clientId', 'clientId', { brokers: ['h:1'], clientId: '' }],
    ['a clientId that is a number', 'clientId', { brokers: ['h:1'], clientId: 42 as never }],
    [
      'a clientId with a kafkajs client, which names itself',
      'clientId',
      { kafka: { consumer() {}, producer() {}, admin() {} } as never, clientId: 'billing' },
    ],
    ['a logger without its methods', 'logger', { brokers: ['h:1'], logger: {} as never }],
    ['a clock without sleep', 'clock', { brokers: ['h:1'], clock: { now: Date.now } as never }],
    ['client settings as a string', 'client', { brokers: ['h:1'], client: 'ssl' as never }],
    ['consumer as a string', 'consumer', { brokers: ['h:1'], consumer: 'fast' as never }],
    ['producer as an array', 'producer', { brokers: ['h:1'], producer: [{ lingerMs: 0 }] as never }],
    ['retry as a string', 'retry', { brokers: ['h:1'], retry: 'retry-topics' as never }],
    ['deadLetter as null', 'deadLetter', { brokers: ['h:1'], deadLetter: null as never }],
    [
      'retry.parkSameKey as a string',
      'retry.parkSameKey',
      { brokers: ['h:1'], retry: { mode: 'retry-topics', parkSameKey: 'yes' as never } },
    ],
    [
      "consumer.readUncommitted 'false'",
      'consumer.readUncommitted',
      { brokers: ['h:1'], consumer: { readUncommitted: 'false' as never } },
    ],
    [
      'consumer.allowAutoTopicCreation 1',
      'consumer.allowAutoTopicCreation',
      { brokers: ['h:1'], consumer: { allowAutoTopicCreation: 1 as never } },
    ],
    [
      "producer.idempotent 'true'",
      'producer.idempotent',
      { brokers: ['h:1'], producer: { idempotent: 'true' as never } },
    ],
    [
      'producer.allowAutoTopicCreation 0',
      'producer.allowAutoTopicCreation',
      { brokers: ['h:1'], producer: { allowAutoTopicCreation: 0 as never } },
    ],
    ["retry.createTopics 'no'", 'retry.createTopics', { brokers: ['h:1'], retry: { createTopics: 'no' as never } }],
    [
      'deadLetter.springHeaders 1',
      'deadLetter.springHeaders',
      { brokers: ['h:1'], deadLetter: { springHeaders: 1 as never } },
    ],
    [
      'deadLetter.createTopics null',
      'deadLetter.createTopics',
      { brokers: ['h:1'], deadLetter: { createTopics: null as never } },
    ],
    // found by the constructor fuzzing: kafkajs threw building the transactional producer
    [
      'a transactional producer without retries',
      'producer.retries',
      { driver: new FakeDriver(), producer: { idempotent: false, retries: 0, transactionalId: 'svc-0' } },
    ],
    // kafkajs refuses each transactional send without acks -1
    [
      'a transactional producer with acks 1',
      'producer.acks',
      { driver: new FakeDriver(), producer: { idempotent: false, acks: 1, transactionalId: 'svc-0' } },
    ],
  ])('rejects %s at construction, naming %s', (_name, option, options) => {
    const error = optionError(options);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/\. Fix: \S/);
  });

  it('KafkaAdmin: a driver that is not one is an InvalidOptionError, not a TypeError', () => {
    let error: unknown;
    try {
      new KafkaAdmin({ driver: 'abc' as never });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe('driver');
  });

  it('an explicit undefined in consumer, producer, retry or deadLetter means the default, as in the SQS options', () => {
    // consumer: { maxBytes: undefined } was refused ('consumer.maxBytes: expected an integer >= 1, got undefined')
    // what TypeScript without exactOptionalPropertyTypes (or JavaScript) lets a caller write
    const resolved = resolveKafkaOptions({
      brokers: ['h:1'],
      consumer: { maxBytes: undefined, readUncommitted: undefined },
      producer: { lingerMs: undefined, idempotent: undefined, transactionalId: undefined },
      retry: { mode: 'retry-topics', topics: undefined, parkSameKey: { maxKeys: undefined, ttlMs: 1_000 } },
      deadLetter: { suffix: undefined, springHeaders: undefined },
      clientId: undefined,
      logger: undefined,
      clock: undefined,
    } as never);
    expect(resolved.consumer.maxBytes).toBe(kafkaConsumerDefaults.maxBytes);
    expect(resolved.consumer.readUncommitted).toBe(false);
    expect(resolved.producer.lingerMs).toBe(kafkaProducerDefaults.lingerMs);
    expect(resolved.producer.idempotent).toBe(true);
    expect(resolved.producer.transactionalId).toBeUndefined();
    expect(resolved.retry.topics).toBe(kafkaRetryDefaults.topics);
    expect(resolved.retry.parkSameKey).toEqual({ maxKeys: kafkaRetryDefaults.parkSameKey.maxKeys, ttlMs: 1_000 });
    expect(resolved.deadLetter.suffix).toBe(kafkaDeadLetterDefaults.suffix);
    expect(resolved.deadLetter.springHeaders).toBe(true);
    expect(resolved.clientId).toBe('switchyard');
  });

  it('still accepts what the types allow: a plain-object driver, a kafkajs-shaped client, a pino-shaped logger', () => {
    expect(
      () => new KafkaTransport({ driver: new FakeDriver(), logger: { debug() {}, info() {}, warn() {}, error() {} } }),
    ).not.toThrow();
    expect(() =>
      resolveKafkaOptions({ driver: { ...plainDriver(), partitionForKey: () => 0 } as never }),
    ).not.toThrow();
    expect(() => resolveKafkaOptions({ kafka: { consumer() {}, producer() {}, admin() {} } as never })).not.toThrow();
    expect(() =>
      resolveKafkaOptions({ brokers: ['h:1'], retry: { mode: 'retry-topics', parkSameKey: true } }),
    ).not.toThrow();
  });
});

// Durations and fetch sizes past 2^31 - 1 were accepted: Kafka carries them as 32-bit integers, and a
// Node timer that long fires after 1 ms, so a commit interval of 30 days committed every millisecond.
describe('Kafka durations and fetch sizes stay within 2^31 - 1', () => {
  const over = 2 ** 31;
  const session = { sessionTimeoutMs: over, rebalanceTimeoutMs: 60_000 };
  it.each<[string, KafkaTransportOptions]>([
    ['consumer.sessionTimeoutMs', { brokers: ['h:1'], consumer: session }],
    ['consumer.rebalanceTimeoutMs', { brokers: ['h:1'], consumer: { rebalanceTimeoutMs: over } }],
    ['consumer.commitIntervalMs', { brokers: ['h:1'], consumer: { commitIntervalMs: over } }],
    ['consumer.stuckPartitionMs', { brokers: ['h:1'], consumer: { stuckPartitionMs: over } }],
    ['consumer.lagIntervalMs', { brokers: ['h:1'], consumer: { lagIntervalMs: over } }],
    ['consumer.maxBytes', { brokers: ['h:1'], consumer: { maxBytes: over } }],
    ['consumer.maxBytesPerPartition', { brokers: ['h:1'], consumer: { maxBytesPerPartition: over } }],
    ['producer.lingerMs', { brokers: ['h:1'], producer: { lingerMs: over } }],
    ['producer.bufferTimeoutMs', { brokers: ['h:1'], producer: { bufferTimeoutMs: over } }],
    ['producer.requestTimeoutMs', { brokers: ['h:1'], producer: { requestTimeoutMs: over } }],
    ['producer.transactionTimeoutMs', { brokers: ['h:1'], producer: { transactionTimeoutMs: over } }],
    ['retry.maxDelayMs', { brokers: ['h:1'], retry: { maxDelayMs: over } }],
    ['retry.parkSameKey.ttlMs', { brokers: ['h:1'], retry: { mode: 'retry-topics', parkSameKey: { ttlMs: over } } }],
    ['deadLetter.timeoutMs', { brokers: ['h:1'], deadLetter: { timeoutMs: over } }],
    ['deadLetter.depthIntervalMs', { brokers: ['h:1'], deadLetter: { depthIntervalMs: over } }],
  ])('refuses %s of 2^31', (option, options) => {
    const error = optionError(options);
    expect(error.option).toBe(option);
    expect(error.message).toContain('at most 2147483647');
  });

  it('accepts 2^31 - 1, and counts that are not sent to Kafka or a timer stay unbounded', () => {
    const max = 2 ** 31 - 1;
    expect(() =>
      resolveKafkaOptions({
        brokers: ['h:1'],
        consumer: { commitIntervalMs: max, lagIntervalMs: max, stuckPartitionMs: max, commitEveryMessages: 2 ** 40 },
        producer: { bufferTimeoutMs: max, bufferBytes: 2 ** 33, retries: Number.MAX_SAFE_INTEGER },
        deadLetter: { depthIntervalMs: max },
      }),
    ).not.toThrow();
  });
});

// String(value) threw a TypeError for a value without a prototype; these show it with optionValueText.
describe('Kafka option errors show any value', () => {
  const bare = () => Object.create(null) as never;

  it.each<[string, () => unknown]>([
    ['buckets', () => compositeKey('tenant', 'order-1', bare())],
    ['maxKeys', () => new KeySequencer({ maxKeys: bare() })],
  ])('%s: Object.create(null) is an InvalidOptionError, not a TypeError', (option, run) => {
    let error: unknown;
    try {
      run();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe(option);
  });

  it('transport.subscribe maxInFlight: Object.create(null) rejects with an InvalidOptionError', async () => {
    const transport = new KafkaTransport({ driver: new FakeDriver() });
    await expect(
      transport.subscribe(
        {
          destination: 'orders',
          consumerGroup: 'g',
          semantics: 'at-least-once',
          startFrom: 'earliest',
          maxInFlight: bare(),
          maxInFlightBytes: 1_000,
          observer: { lag() {}, depth() {} },
        },
        async () => {},
      ),
    ).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'maxInFlight' });
  });

  it('admin.redriveDeadLetters ratePerSecond: Object.create(null) rejects with an InvalidOptionError', async () => {
    const admin = new KafkaAdmin({ driver: new FakeDriver() });
    await expect(admin.redriveDeadLetters({ from: 'orders.dlq', ratePerSecond: bare() })).rejects.toMatchObject({
      name: 'InvalidOptionError',
      option: 'redriveDeadLetters.ratePerSecond',
    });
  });
});

describe('detectHotPartitions', () => {
  const sample = (partition: number, lag: number, ratePerSecond?: number) => ({
    topic: 't',
    partition,
    lag,
    ...(ratePerSecond === undefined ? {} : { ratePerSecond }),
  });

  it('flags a partition whose lag is far above the median', () => {
    expect(detectHotPartitions([sample(0, 100), sample(1, 120), sample(2, 9_000), sample(3, 90)])).toEqual([
      { topic: 't', partition: 2, reason: 'lag', value: 9_000, median: 110 },
    ]);
  });

  it('flags a partition whose rate is far above the median', () => {
    expect(detectHotPartitions([sample(0, 0, 50), sample(1, 0, 60), sample(2, 0, 1_000)])).toEqual([
      { topic: 't', partition: 2, reason: 'rate', value: 1_000, median: 60 },
    ]);
  });

  it('stays quiet for small lags, for even load, and for fewer than three partitions', () => {
    expect(detectHotPartitions([sample(0, 1), sample(1, 2), sample(2, 50)])).toEqual([]);
    expect(detectHotPartitions([sample(0, 5_000), sample(1, 6_000), sample(2, 5_500)])).toEqual([]);
    expect(detectHotPartitions([sample(0, 0), sample(1, 100_000)])).toEqual([]);
  });

  // Unchecked, a factor given as a string compared as NaN and flagged nothing, silently.
  it('refuses wrong options, naming them', () => {
    const samples = [sample(0, 100), sample(1, 120), sample(2, 9_000)];
    for (const [options, option] of [
      [{ factor: '4' }, 'options.factor'],
      [{ factor: 0.5 }, 'options.factor'],
      [{ minLag: -1 }, 'options.minLag'],
      [{ minRatePerSecond: Number.NaN }, 'options.minRatePerSecond'],
      [{ factr: 4 }, 'options.factr'],
      [null, 'options'],
    ] as const)
      expect(() => detectHotPartitions(samples, options as never)).toThrow(
        expect.objectContaining({ name: 'InvalidOptionError', option }),
      );
    expect(detectHotPartitions(samples, { factor: 2, minLag: 0, minRatePerSecond: undefined } as never)).toHaveLength(
      1,
    );
  });
});
