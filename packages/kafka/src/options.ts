// Options of the Kafka transport: one object, merged over exported defaults and validated once at
// construction (including the rules between fields), so a wrong setting fails before any
// connection is made, naming the option and the fix.

import {
  assertClock,
  assertLogger,
  assertMethods,
  type Clock,
  InvalidOptionError,
  isOptionObject,
  type Logger,
  MAX_TIMER_MS,
  optionKindText,
  optionValueText,
  refuseUnknownKeys,
  silentLogger,
  systemClock,
} from '@switchyard/core';
import type { Kafka, KafkaConfig } from 'kafkajs';
import type { DriverCompression, KafkaDriver } from './driver/driver.js';

export type RetryMode = 'blocking' | 'retry-topics';

export interface ParkSameKeyOptions {
  /** Keys remembered per partition while parked; the oldest is forgotten beyond this. */
  readonly maxKeys?: number;
  /** How long a key stays parked after its last diversion. */
  readonly ttlMs?: number;
}

export interface KafkaRetryOptions {
  /**
   * `blocking` (default): core retries in place; order is kept, the key (and the partition's
   * commit watermark) waits. `retry-topics`: a failed message is written to `<topic>.retry.<n>`
   * and redelivered when due, without blocking the partition; order is given up for that key.
   */
  readonly mode?: RetryMode;
  /** Retry tiers (`<topic>.retry.1` … `.retry.<topics>`); attempt n goes to tier min(n - 1, topics). */
  readonly topics?: number;
  /** Longest delay a retry may ask for. */
  readonly maxDelayMs?: number;
  /** Create missing retry topics with the source topic's partition count on subscribe. */
  readonly createTopics?: boolean;
  /**
   * retry-topics only: later messages of a key whose message went to a retry topic follow it
   * through the retry topics instead of overtaking it (bounded memory; see the README).
   */
  readonly parkSameKey?: boolean | ParkSameKeyOptions;
}

export interface KafkaDeadLetterOptions {
  /** Default dead-letter topic is `<source topic><suffix>`. */
  readonly suffix?: string;
  /** Longest wait for the broker to acknowledge a dead-letter write before settle rejects. */
  readonly timeoutMs?: number;
  /** Also write Spring Kafka's `kafka_dlt-*` headers, for tools that read them. */
  readonly springHeaders?: boolean;
  /** Create missing `<topic><suffix>` topics (source topic's partition count) on subscribe. */
  readonly createTopics?: boolean;
  /**
   * How often a subscription reports its dead-letter topics' depth (records after the redrive
   * group's commits) as the `switchyard.queue.depth` gauge, state `visible`. 0 turns it off.
   */
  readonly depthIntervalMs?: number;
}

export interface KafkaConsumerOptions {
  readonly sessionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  readonly rebalanceTimeoutMs?: number;
  readonly maxBytesPerPartition?: number;
  readonly maxBytes?: number;
  readonly maxWaitTimeMs?: number;
  /** Commit the watermark at least this often while it moves. */
  readonly commitIntervalMs?: number;
  /** …and as soon as this many messages completed since the last commit. */
  readonly commitEveryMessages?: number;
  /** A partition whose oldest unfinished message is older than this is paused until it finishes. */
  readonly stuckPartitionMs?: number;
  /** Per-partition bound on handed-over, unsettled messages (0 = only the subscription's maxInFlight). */
  readonly partitionMaxInFlight?: number;
  readonly partitionsConsumedConcurrently?: number;
  /** true = read_uncommitted (see aborted transactional records). Default read_committed. */
  readonly readUncommitted?: boolean;
  readonly allowAutoTopicCreation?: boolean;
  /** `key` (default): parallel across keys inside a partition; `partition`: one at a time per partition. */
  readonly ordering?: 'key' | 'partition';
  /** Lag gauges and the hot-partition check run this often. */
  readonly lagIntervalMs?: number;
}

export interface KafkaProducerOptions {
  /** Idempotent producer (no duplicates from producer retries). Default true. */
  readonly idempotent?: boolean;
  /** -1 (all in-sync replicas, required when idempotent), 1, or 0. */
  readonly acks?: -1 | 0 | 1;
  /** Collect publishes this long before sending one batch. */
  readonly lingerMs?: number;
  /** …or until this many bytes are collected. */
  readonly batchBytes?: number;
  /** Bytes buffered (waiting or in flight) before `publish` waits for room. */
  readonly bufferBytes?: number;
  /** How long `publish` waits for room before failing with SWITCHYARD_BACKPRESSURE. */
  readonly bufferTimeoutMs?: number;
  readonly compression?: DriverCompression;
  /** Broker-side produce timeout. */
  readonly requestTimeoutMs?: number;
  /** Client retries per send (kafkajs default for idempotent producers is unbounded). */
  readonly retries?: number;
  readonly allowAutoTopicCreation?: boolean;
  /**
   * Enables `exactly-once` subscriptions: consumed offsets and everything published while a
   * batch is handled commit in one Kafka transaction. Must be stable per instance and unique
   * across instances (it is what fences a zombie after a crash).
   */
  readonly transactionalId?: string;
  readonly transactionTimeoutMs?: number;
}

export interface KafkaTransportOptions {
  readonly brokers?: readonly string[];
  /** An existing kafkajs client; its settings are kept. */
  readonly kafka?: Kafka;
  /** Another Kafka client behind the driver port. */
  readonly driver?: KafkaDriver;
  readonly clientId?: string;
  /** kafkajs client settings (ssl, sasl, connectionTimeout, …) when `brokers` is used. */
  readonly client?: Omit<KafkaConfig, 'brokers' | 'clientId' | 'logCreator'>;
  readonly consumer?: KafkaConsumerOptions;
  readonly producer?: KafkaProducerOptions;
  readonly retry?: KafkaRetryOptions;
  readonly deadLetter?: KafkaDeadLetterOptions;
  readonly logger?: Logger;
  readonly clock?: Clock;
}

export const kafkaConsumerDefaults = {
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  rebalanceTimeoutMs: 60_000,
  maxBytesPerPartition: 1_048_576,
  maxBytes: 10_485_760,
  maxWaitTimeMs: 1_000,
  commitIntervalMs: 1_000,
  commitEveryMessages: 1_000,
  stuckPartitionMs: 15_000,
  partitionMaxInFlight: 0,
  partitionsConsumedConcurrently: 1,
  readUncommitted: false,
  allowAutoTopicCreation: false,
  ordering: 'key' as 'key' | 'partition',
  lagIntervalMs: 5_000,
} as const;

export const kafkaProducerDefaults = {
  idempotent: true,
  acks: -1 as -1 | 0 | 1,
  lingerMs: 5,
  batchBytes: 1_048_576,
  bufferBytes: 33_554_432,
  bufferTimeoutMs: 30_000,
  compression: 'none' as DriverCompression,
  requestTimeoutMs: 30_000,
  retries: Number.MAX_SAFE_INTEGER,
  allowAutoTopicCreation: true,
  transactionTimeoutMs: 60_000,
} as const;

export const kafkaRetryDefaults = {
  mode: 'blocking' as RetryMode,
  topics: 3,
  maxDelayMs: 3_600_000,
  createTopics: true,
  parkSameKey: { maxKeys: 10_000, ttlMs: 600_000 },
} as const;

export const kafkaDeadLetterDefaults = {
  suffix: '.dlq',
  timeoutMs: 30_000,
  springHeaders: true,
  createTopics: true,
  depthIntervalMs: 30_000,
} as const;

export type ResolvedConsumerOptions = {
  -readonly [K in keyof typeof kafkaConsumerDefaults]: (typeof kafkaConsumerDefaults)[K] extends number
    ? number
    : (typeof kafkaConsumerDefaults)[K];
};

export interface ResolvedKafkaOptions {
  readonly brokers: readonly string[] | undefined;
  readonly kafka: Kafka | undefined;
  readonly driver: KafkaDriver | undefined;
  readonly clientId: string;
  readonly client: KafkaTransportOptions['client'];
  readonly consumer: ResolvedConsumerOptions;
  readonly producer: {
    idempotent: boolean;
    acks: -1 | 0 | 1;
    lingerMs: number;
    batchBytes: number;
    bufferBytes: number;
    bufferTimeoutMs: number;
    compression: DriverCompression;
    requestTimeoutMs: number;
    retries: number;
    allowAutoTopicCreation: boolean;
    transactionalId: string | undefined;
    transactionTimeoutMs: number;
  };
  readonly retry: {
    mode: RetryMode;
    topics: number;
    maxDelayMs: number;
    createTopics: boolean;
    parkSameKey: { maxKeys: number; ttlMs: number } | undefined;
  };
  readonly deadLetter: {
    suffix: string;
    timeoutMs: number;
    springHeaders: boolean;
    createTopics: boolean;
    depthIntervalMs: number;
  };
  readonly logger: Logger;
  readonly clock: Clock;
}

export function positiveInt(option: string, value: number, min = 1): void {
  if (!Number.isInteger(value) || value < min)
    throw new InvalidOptionError(
      option,
      `expected an integer >= ${min}, got ${optionValueText(value)}`,
      `set ${option} to a whole number of at least ${min}`,
    );
}

/**
 * A duration or a fetch size: a whole number from `min` to 2^31 - 1. Kafka's protocol carries these
 * as 32-bit integers, and a Node timer longer than that fires after 1 ms (a commit or gauge interval
 * would turn into a hot loop).
 */
export function int32(option: string, value: number, min = 1): void {
  positiveInt(option, value, min);
  if (value > MAX_TIMER_MS)
    throw new InvalidOptionError(
      option,
      `must be at most ${MAX_TIMER_MS} (2^31 - 1; for a duration, 24.8 days), got ${value}`,
      `set ${option} to at most ${MAX_TIMER_MS}`,
    );
}

/** A switch (`readUncommitted`, `createTopics`, …): a string 'false' would read as true. */
function flag(option: string, value: unknown): void {
  if (typeof value !== 'boolean')
    throw new InvalidOptionError(
      option,
      `expected true or false, got ${typeof value === 'string' ? `'${value}'` : optionValueText(value)}`,
      `set ${option} to a boolean, or leave it out for the default`,
    );
}

/**
 * A nested options object (`consumer`, `producer`, …) without its `undefined` entries, so an explicit
 * `undefined` means "the default", as leaving the key out does. Anything but a plain object (a
 * string, an array, a Date, null) is refused instead of merged.
 */
function section<T extends object>(
  option: string,
  value: T | undefined,
  example: string,
  known: readonly string[],
): Partial<T> {
  if (value === undefined) return {};
  if (!isOptionObject(value))
    throw new InvalidOptionError(
      option,
      `expected an options object, got ${optionKindText(value)}`,
      `pass e.g. ${option}: ${example}`,
    );
  refuseUnknown(option, value, known);
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * A misspelt key must not fall back to the default silently (core's consume options refuse them
 * too). `owner` names the top level (`transport`, `admin`).
 */
export function refuseUnknown(prefix: string, value: object, known: readonly string[], owner = 'transport'): void {
  refuseUnknownKeys(value, known, `a Kafka ${prefix === '' ? owner : prefix}`, (key) =>
    prefix === '' ? key : `${prefix}.${key}`,
  );
}

const TRANSPORT_KEYS = [
  'brokers',
  'kafka',
  'driver',
  'clientId',
  'client',
  'consumer',
  'producer',
  'retry',
  'deadLetter',
  'logger',
  'clock',
] as const;
const PRODUCER_KEYS = [...Object.keys(kafkaProducerDefaults), 'transactionalId'];
const RETRY_KEYS = Object.keys(kafkaRetryDefaults);
const SUBSCRIPTION_KEYS = [
  'pattern',
  'topics',
  'ordering',
  'partitionMaxInFlight',
  'stuckPartitionMs',
  'deadLetterTopic',
  'ratePerSecond',
] as const;

/** A driver, and a kafkajs client, must have the methods the transport calls at construction and subscribe. */
export function checkClientSource(options: { readonly kafka?: unknown; readonly driver?: unknown }): void {
  if (options.driver !== undefined)
    assertMethods(
      'driver',
      options.driver,
      'a KafkaDriver (consumer, producer, admin and partitionForKey functions)',
      ['consumer', 'producer', 'admin', 'partitionForKey'],
      'pass an object implementing KafkaDriver, e.g. new KafkajsDriver({ kafka, logger }), or brokers instead',
    );
  if (options.kafka !== undefined)
    assertMethods(
      'kafka',
      options.kafka,
      'a kafkajs Kafka client (consumer, producer and admin functions)',
      ['consumer', 'producer', 'admin'],
      "pass new Kafka({ clientId, brokers }) from kafkajs, or brokers: ['host:9092'] instead",
    );
}

/**
 * Exactly one cluster source (brokers, a kafkajs client or a driver), each well formed; `clientId`
 * and `client` configure the kafkajs client built from `brokers`, so they are refused with the others
 * (a client or driver names and configures itself).
 */
export function checkCluster(options: {
  readonly brokers?: unknown;
  readonly kafka?: unknown;
  readonly driver?: unknown;
  readonly clientId?: unknown;
  readonly client?: unknown;
}): void {
  const sources = [options.brokers, options.kafka, options.driver].filter((s) => s !== undefined).length;
  if (sources === 0)
    throw new InvalidOptionError(
      'brokers',
      'no Kafka cluster given',
      'pass brokers: ["127.0.0.1:9092"], a kafkajs client as kafka, or a driver',
    );
  if (sources > 1)
    throw new InvalidOptionError('brokers', 'give exactly one of brokers, kafka and driver', 'keep only one of them');
  if (options.brokers !== undefined) {
    if (!Array.isArray(options.brokers) || options.brokers.length === 0)
      throw new InvalidOptionError(
        'brokers',
        'expected a non-empty array of host:port strings',
        'pass brokers: ["127.0.0.1:9092"]',
      );
    for (const broker of options.brokers)
      if (typeof broker !== 'string' || !/^[^\s:]+:\d+$/.test(broker))
        throw new InvalidOptionError(
          'brokers',
          `'${optionValueText(broker)}' is not host:port`,
          'write each broker as "host:port"',
        );
  }
  checkClientSource(options);
  if (options.client !== undefined && (options.kafka !== undefined || options.driver !== undefined))
    throw new InvalidOptionError(
      'client',
      'client settings only apply when brokers is used',
      'configure the kafkajs client you pass as kafka instead',
    );
  if (options.client !== undefined && !isOptionObject(options.client))
    throw new InvalidOptionError(
      'client',
      `expected kafkajs client settings as an object, got ${optionKindText(options.client)}`,
      'pass e.g. client: { ssl: true, connectionTimeout: 3_000 }',
    );
  if (options.clientId !== undefined && (typeof options.clientId !== 'string' || options.clientId === ''))
    throw new InvalidOptionError(
      'clientId',
      `expected a non-empty string, got ${typeof options.clientId === 'string' ? "''" : optionKindText(options.clientId)}`,
      "name the client, e.g. clientId: 'billing'",
    );
  if (options.clientId !== undefined && options.brokers === undefined)
    throw new InvalidOptionError(
      'clientId',
      'clientId only applies when brokers is used (a kafkajs client or a driver names itself)',
      'set clientId on the kafkajs client you pass as kafka, or leave it out',
    );
}

export function resolveKafkaOptions(options: KafkaTransportOptions): ResolvedKafkaOptions {
  if (!isOptionObject(options))
    throw new InvalidOptionError(
      'options',
      `expected an options object, got ${optionKindText(options)}`,
      'pass { brokers: ["host:9092"] } or { kafka }',
    );
  refuseUnknown('', options, TRANSPORT_KEYS);
  checkCluster(options);
  assertLogger('logger', options.logger);
  assertClock('clock', options.clock);

  const consumer = {
    ...kafkaConsumerDefaults,
    ...section('consumer', options.consumer, '{ maxBytes: 10_485_760 }', Object.keys(kafkaConsumerDefaults)),
  } as ResolvedConsumerOptions;
  for (const name of [
    'sessionTimeoutMs',
    'heartbeatIntervalMs',
    'rebalanceTimeoutMs',
    'maxBytesPerPartition',
    'maxBytes',
    'maxWaitTimeMs',
    'commitIntervalMs',
    'commitEveryMessages',
    'stuckPartitionMs',
    'partitionsConsumedConcurrently',
    'lagIntervalMs',
  ] as const)
    (name === 'commitEveryMessages' || name === 'partitionsConsumedConcurrently' ? positiveInt : int32)(
      `consumer.${name}`,
      consumer[name],
    );
  positiveInt('consumer.partitionMaxInFlight', consumer.partitionMaxInFlight, 0);
  flag('consumer.readUncommitted', consumer.readUncommitted);
  flag('consumer.allowAutoTopicCreation', consumer.allowAutoTopicCreation);
  if (consumer.heartbeatIntervalMs * 3 > consumer.sessionTimeoutMs)
    throw new InvalidOptionError(
      'consumer.heartbeatIntervalMs',
      `${consumer.heartbeatIntervalMs} ms leaves fewer than 3 heartbeats per session timeout (${consumer.sessionTimeoutMs} ms)`,
      'keep heartbeatIntervalMs at most a third of sessionTimeoutMs',
    );
  if (consumer.maxWaitTimeMs >= consumer.sessionTimeoutMs)
    throw new InvalidOptionError(
      'consumer.maxWaitTimeMs',
      'a fetch may wait longer than the session timeout',
      'keep maxWaitTimeMs well below sessionTimeoutMs',
    );
  if (consumer.ordering !== 'key' && consumer.ordering !== 'partition')
    throw new InvalidOptionError(
      'consumer.ordering',
      `unknown ordering '${optionValueText(consumer.ordering)}'`,
      "use 'key' or 'partition'",
    );

  const producer = {
    ...kafkaProducerDefaults,
    transactionalId: undefined,
    ...section('producer', options.producer, '{ lingerMs: 5 }', PRODUCER_KEYS),
  } as ResolvedKafkaOptions['producer'];
  flag('producer.idempotent', producer.idempotent);
  flag('producer.allowAutoTopicCreation', producer.allowAutoTopicCreation);
  for (const name of [
    'batchBytes',
    'bufferBytes',
    'bufferTimeoutMs',
    'requestTimeoutMs',
    'transactionTimeoutMs',
    'retries',
  ] as const)
    (name === 'retries' || name === 'bufferBytes' ? positiveInt : int32)(
      `producer.${name}`,
      producer[name],
      name === 'retries' ? 0 : 1,
    );
  int32('producer.lingerMs', producer.lingerMs, 0);
  if (producer.batchBytes > producer.bufferBytes)
    throw new InvalidOptionError(
      'producer.batchBytes',
      'a batch cannot be larger than the whole buffer',
      'set batchBytes <= bufferBytes',
    );
  if (![-1, 0, 1].includes(producer.acks))
    throw new InvalidOptionError(
      'producer.acks',
      `unknown acks ${optionValueText(producer.acks)}`,
      'use -1 (all), 1 or 0',
    );
  if (producer.idempotent && producer.acks !== -1)
    throw new InvalidOptionError(
      'producer.acks',
      'an idempotent producer needs acks from all in-sync replicas',
      'set acks: -1 or idempotent: false',
    );
  if (producer.idempotent && producer.retries < 1)
    throw new InvalidOptionError(
      'producer.retries',
      'an idempotent producer must be allowed to retry',
      'set retries >= 1 or idempotent: false',
    );
  if (producer.compression !== 'none' && producer.compression !== 'gzip')
    throw new InvalidOptionError(
      'producer.compression',
      `unsupported '${optionValueText(producer.compression)}'`,
      "use 'none' or 'gzip' (kafkajs ships no other codec)",
    );
  if (
    producer.transactionalId !== undefined &&
    (typeof producer.transactionalId !== 'string' || producer.transactionalId === '')
  )
    throw new InvalidOptionError(
      'producer.transactionalId',
      'expected a non-empty string',
      'use a stable id per instance, such as the service name plus the pod ordinal',
    );
  // The transactional producer is idempotent whatever `idempotent` says: kafkajs refuses it without
  // retries when the transport is built, and refuses each transactional send without acks -1.
  if (producer.transactionalId !== undefined && producer.acks !== -1)
    throw new InvalidOptionError(
      'producer.acks',
      'a transactional producer (transactionalId) is idempotent and needs acks from all in-sync replicas',
      'set acks: -1, or drop transactionalId',
    );
  if (producer.transactionalId !== undefined && producer.retries < 1)
    throw new InvalidOptionError(
      'producer.retries',
      'a transactional producer (transactionalId) is idempotent and must be allowed to retry',
      'set retries >= 1, or drop transactionalId',
    );

  const retryIn = section('retry', options.retry, "{ mode: 'retry-topics' }", RETRY_KEYS);
  const park = retryIn.parkSameKey;
  const retry: ResolvedKafkaOptions['retry'] = {
    mode: retryIn.mode ?? kafkaRetryDefaults.mode,
    topics: retryIn.topics ?? kafkaRetryDefaults.topics,
    maxDelayMs: retryIn.maxDelayMs ?? kafkaRetryDefaults.maxDelayMs,
    createTopics: retryIn.createTopics ?? kafkaRetryDefaults.createTopics,
    parkSameKey:
      park === undefined || park === false
        ? undefined
        : {
            ...kafkaRetryDefaults.parkSameKey,
            ...(park === true
              ? {}
              : section('retry.parkSameKey', park, '{ maxKeys: 10_000 } or true', ['maxKeys', 'ttlMs'])),
          },
  };
  if (retry.mode !== 'blocking' && retry.mode !== 'retry-topics')
    throw new InvalidOptionError(
      'retry.mode',
      `unknown mode '${optionValueText(retry.mode)}'`,
      "use 'blocking' or 'retry-topics'",
    );
  positiveInt('retry.topics', retry.topics);
  if (retry.topics > 20)
    throw new InvalidOptionError('retry.topics', `${retry.topics} retry tiers`, 'use at most 20 tiers');
  int32('retry.maxDelayMs', retry.maxDelayMs);
  flag('retry.createTopics', retry.createTopics);
  if (retry.parkSameKey) {
    if (retry.mode !== 'retry-topics')
      throw new InvalidOptionError(
        'retry.parkSameKey',
        'parking only applies to retry topics',
        "set retry.mode: 'retry-topics' or drop parkSameKey",
      );
    positiveInt('retry.parkSameKey.maxKeys', retry.parkSameKey.maxKeys);
    int32('retry.parkSameKey.ttlMs', retry.parkSameKey.ttlMs);
  }

  const deadLetter = {
    ...kafkaDeadLetterDefaults,
    ...section('deadLetter', options.deadLetter, "{ suffix: '.dlq' }", Object.keys(kafkaDeadLetterDefaults)),
  };
  if (typeof deadLetter.suffix !== 'string' || !/^[a-zA-Z0-9._-]+$/.test(deadLetter.suffix))
    throw new InvalidOptionError(
      'deadLetter.suffix',
      `'${optionValueText(deadLetter.suffix)}' is not a valid topic suffix`,
      "use letters, digits, '.', '_' or '-', e.g. '.dlq'",
    );
  int32('deadLetter.timeoutMs', deadLetter.timeoutMs);
  int32('deadLetter.depthIntervalMs', deadLetter.depthIntervalMs, 0);
  flag('deadLetter.springHeaders', deadLetter.springHeaders);
  flag('deadLetter.createTopics', deadLetter.createTopics);

  return {
    brokers: options.brokers,
    kafka: options.kafka,
    driver: options.driver,
    clientId: options.clientId ?? 'switchyard',
    client: options.client,
    consumer,
    producer,
    retry,
    deadLetter,
    logger: options.logger ?? silentLogger,
    clock: options.clock ?? systemClock,
  };
}

/** Options a subscription may carry in `SubscriptionSpec.options`. */
export interface KafkaSubscriptionOptions {
  /** Subscribe by pattern instead of `destination` (matched against topics existing at subscribe time). */
  readonly pattern?: RegExp;
  /** Several topics instead of `destination`. */
  readonly topics?: readonly string[];
  readonly ordering?: 'key' | 'partition';
  readonly partitionMaxInFlight?: number;
  readonly stuckPartitionMs?: number;
  /** Dead-letter topic for this subscription (default `<topic><suffix>`). */
  readonly deadLetterTopic?: string;
  /** Rate limit for this subscription, messages per second (replays use it). */
  readonly ratePerSecond?: number;
}

export function resolveSubscriptionOptions(
  raw: Readonly<Record<string, unknown>> | undefined,
): KafkaSubscriptionOptions {
  const options = (raw ?? {}) as KafkaSubscriptionOptions;
  refuseUnknown('options', options, SUBSCRIPTION_KEYS);
  if (options.pattern !== undefined && !(options.pattern instanceof RegExp))
    throw new InvalidOptionError('options.pattern', 'expected a RegExp', 'pass pattern: /^orders\\..+$/');
  if (
    options.topics !== undefined &&
    (!Array.isArray(options.topics) ||
      options.topics.length === 0 ||
      options.topics.some((t) => typeof t !== 'string' || t === ''))
  )
    throw new InvalidOptionError(
      'options.topics',
      'expected a non-empty array of topic names',
      "pass topics: ['orders', 'payments']",
    );
  if (options.pattern !== undefined && options.topics !== undefined)
    throw new InvalidOptionError('options.pattern', 'pattern and topics both given', 'use one of them');
  if (options.ordering !== undefined && options.ordering !== 'key' && options.ordering !== 'partition')
    throw new InvalidOptionError(
      'options.ordering',
      `unknown ordering '${optionValueText(options.ordering)}'`,
      "use 'key' or 'partition'",
    );
  if (options.partitionMaxInFlight !== undefined)
    positiveInt('options.partitionMaxInFlight', options.partitionMaxInFlight, 0);
  if (options.stuckPartitionMs !== undefined) int32('options.stuckPartitionMs', options.stuckPartitionMs);
  if (
    options.ratePerSecond !== undefined &&
    !(typeof options.ratePerSecond === 'number' && Number.isFinite(options.ratePerSecond) && options.ratePerSecond > 0)
  )
    throw new InvalidOptionError(
      'options.ratePerSecond',
      `expected a positive finite number, got ${optionValueText(options.ratePerSecond)}`,
      'pass ratePerSecond: 100',
    );
  if (
    options.deadLetterTopic !== undefined &&
    (typeof options.deadLetterTopic !== 'string' || options.deadLetterTopic === '')
  )
    throw new InvalidOptionError(
      'options.deadLetterTopic',
      'expected a topic name',
      "pass deadLetterTopic: 'orders.dlq'",
    );
  return options;
}
