// KafkaAdmin's call arguments (names, positions, options objects) are checked at the start of each
// call, before it connects or calls the driver: a wrong one rejects with an InvalidOptionError naming
// `<method>.<argument>`, and the driver saw nothing. No broker: a recording fake stands in for it.

import { InvalidOptionError } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { type DriverAdmin, KafkaAdmin, type KafkaDriver } from '../src/index.js';
import { FakeDriver } from './support/fake-driver.js';

/** What the admin's first driver call rejects with in `trip` mode: validation passed and the driver was reached. */
class ReachedDriver extends Error {
  constructor(call: string) {
    super(`reached the driver: ${call}`);
    this.name = 'ReachedDriver';
  }
}

/**
 * A KafkaAdmin over a driver that logs every admin, consumer and producer call made after
 * construction. `trip`: every admin call rejects with ReachedDriver (and consumer/producer throw);
 * `work`: calls go through to the in-memory FakeDriver.
 */
function recording(mode: 'trip' | 'work') {
  const fake = new FakeDriver();
  const calls: string[] = [];
  const admin = new Proxy(fake.adminClient, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        if (mode === 'trip') return Promise.reject(new ReachedDriver(String(prop)));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as DriverAdmin;
  const driver: KafkaDriver = {
    name: 'recording',
    admin: () => admin,
    consumer: (options) => {
      calls.push('consumer');
      if (mode === 'trip') throw new ReachedDriver('consumer');
      return fake.consumer(options);
    },
    producer: (options) => {
      calls.push('producer');
      if (mode === 'trip') throw new ReachedDriver('producer');
      return fake.producer(options);
    },
    partitionForKey: () => 0,
  };
  return { admin: new KafkaAdmin({ driver }), calls, fake };
}

/** A value the types would refuse, passed anyway (as JavaScript callers and `as any` do). */
const any = (value: unknown): never => value as never;
const bare = () => Object.create(null) as Record<string, unknown>;

type Call = (admin: KafkaAdmin) => Promise<unknown>;

async function refusal(call: Call): Promise<{ error: InvalidOptionError; calls: string[] }> {
  const { admin, calls } = recording('trip');
  const pending = call(admin);
  // A rejection, not a synchronous throw (the methods are async).
  expect(pending).toBeInstanceOf(Promise);
  const error = await pending.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof InvalidOptionError))
    throw new Error(`expected an InvalidOptionError, got ${error instanceof Error ? error.stack : String(error)}`);
  return { error, calls };
}

const dlq = 'orders.dlq';
const okRedrive = { from: dlq, ratePerSecond: 50 };

// [what, the option the error names, the call]
const refused: Array<[string, string, Call]> = [
  // createTopics
  ['createTopics: one definition, not an array', 'createTopics.topics', (a) => a.createTopics(any({ topic: 'o' }))],
  ['createTopics: a string', 'createTopics.topics', (a) => a.createTopics(any('orders'))],
  ['createTopics: undefined', 'createTopics.topics', (a) => a.createTopics(any(undefined))],
  ['createTopics: an entry that is a string', 'createTopics.topics[0]', (a) => a.createTopics(any(['orders']))],
  ['createTopics: a null entry', 'createTopics.topics[0]', (a) => a.createTopics(any([null]))],
  ['createTopics: no topic', 'createTopics.topics[0].topic', (a) => a.createTopics(any([{ partitions: 3 }]))],
  ['createTopics: an empty topic', 'createTopics.topics[0].topic', (a) => a.createTopics([{ topic: '' }])],
  [
    'createTopics: a Symbol topic',
    'createTopics.topics[1].topic',
    (a) => a.createTopics(any([{ topic: 'a' }, { topic: Symbol('b') }])),
  ],
  [
    'createTopics: a misspelt key',
    'createTopics.topics[0].partition',
    (a) => a.createTopics(any([{ topic: 'o', partition: 3 }])),
  ],
  [
    'createTopics: 0 partitions',
    'createTopics.topics[0].partitions',
    (a) => a.createTopics([{ topic: 'o', partitions: 0 }]),
  ],
  [
    "createTopics: partitions '3'",
    'createTopics.topics[0].partitions',
    (a) => a.createTopics(any([{ topic: 'o', partitions: '3' }])),
  ],
  [
    'createTopics: 2^31 partitions',
    'createTopics.topics[0].partitions',
    (a) => a.createTopics([{ topic: 'o', partitions: 2 ** 31 }]),
  ],
  [
    'createTopics: replicationFactor 1.5',
    'createTopics.topics[0].replicationFactor',
    (a) => a.createTopics([{ topic: 'o', replicationFactor: 1.5 }]),
  ],
  [
    'createTopics: replicationFactor 0',
    'createTopics.topics[0].replicationFactor',
    (a) => a.createTopics([{ topic: 'o', replicationFactor: 0 }]),
  ],
  [
    'createTopics: retentionMs -2',
    'createTopics.topics[0].retentionMs',
    (a) => a.createTopics([{ topic: 'o', retentionMs: -2 }]),
  ],
  [
    'createTopics: retentionMs a Symbol',
    'createTopics.topics[0].retentionMs',
    (a) => a.createTopics(any([{ topic: 'o', retentionMs: Symbol('forever') }])),
  ],
  [
    'createTopics: retentionMs Infinity',
    'createTopics.topics[0].retentionMs',
    (a) => a.createTopics([{ topic: 'o', retentionMs: Number.POSITIVE_INFINITY }]),
  ],
  [
    'createTopics: config an array',
    'createTopics.topics[0].config',
    (a) => a.createTopics(any([{ topic: 'o', config: [['cleanup.policy', 'compact']] }])),
  ],
  [
    'createTopics: a config value that is a number',
    'createTopics.topics[0].config.retention.bytes',
    (a) => a.createTopics(any([{ topic: 'o', config: { 'retention.bytes': 1_000 } }])),
  ],
  // deleteTopics, deleteGroups
  ['deleteTopics: a string', 'deleteTopics.topics', (a) => a.deleteTopics(any('orders'))],
  ['deleteTopics: an empty name', 'deleteTopics.topics[0]', (a) => a.deleteTopics([''])],
  ['deleteTopics: a Symbol name', 'deleteTopics.topics[1]', (a) => a.deleteTopics(any(['a', Symbol('b')]))],
  ['deleteGroups: a string', 'deleteGroups.groups', (a) => a.deleteGroups(any('g'))],
  ['deleteGroups: a null name', 'deleteGroups.groups[0]', (a) => a.deleteGroups(any([null]))],
  // single names
  ['topicOffsets: no topic', 'topicOffsets.topic', (a) => a.topicOffsets(any(undefined))],
  ['topicOffsets: an empty topic', 'topicOffsets.topic', (a) => a.topicOffsets('')],
  ['topicOffsets: a Symbol topic', 'topicOffsets.topic', (a) => a.topicOffsets(any(Symbol('t')))],
  ['topicOffsets: a null-prototype topic', 'topicOffsets.topic', (a) => a.topicOffsets(any(bare()))],
  ['groupOffsets: a numeric group', 'groupOffsets.group', (a) => a.groupOffsets(any(42), 'orders')],
  ['groupOffsets: an empty topic', 'groupOffsets.topic', (a) => a.groupOffsets('g', '')],
  ['lag: a null group', 'lag.group', (a) => a.lag(any(null), 'orders')],
  ['lag: no topic', 'lag.topic', (a) => a.lag('g', any(undefined))],
  ['describeGroup: an empty group', 'describeGroup.group', (a) => a.describeGroup('')],
  ['describeGroup: a Symbol group', 'describeGroup.group', (a) => a.describeGroup(any(Symbol('g')))],
  // hotPartitions
  ['hotPartitions: an empty group', 'hotPartitions.group', (a) => a.hotPartitions('', 'orders')],
  ['hotPartitions: a numeric topic', 'hotPartitions.topic', (a) => a.hotPartitions('g', any(1))],
  ['hotPartitions: options a string', 'hotPartitions', (a) => a.hotPartitions('g', 'orders', any('fast'))],
  ['hotPartitions: options null', 'hotPartitions', (a) => a.hotPartitions('g', 'orders', any(null))],
  ['hotPartitions: a misspelt key', 'hotPartitions.factr', (a) => a.hotPartitions('g', 'orders', any({ factr: 4 }))],
  ['hotPartitions: factor 0.5', 'hotPartitions.factor', (a) => a.hotPartitions('g', 'orders', { factor: 0.5 })],
  ['hotPartitions: minLag NaN', 'hotPartitions.minLag', (a) => a.hotPartitions('g', 'orders', { minLag: Number.NaN })],
  [
    'hotPartitions: minRatePerSecond a Symbol',
    'hotPartitions.minRatePerSecond',
    (a) => a.hotPartitions('g', 'orders', any({ minRatePerSecond: Symbol('x') })),
  ],
  // offsetsAt
  ['offsetsAt: an empty topic', 'offsetsAt.topic', (a) => a.offsetsAt('', 'earliest')],
  ["offsetsAt: 'beginning'", 'offsetsAt.position', (a) => a.offsetsAt('orders', any('beginning'))],
  ['offsetsAt: no position', 'offsetsAt.position', (a) => a.offsetsAt('orders', any(undefined))],
  ['offsetsAt: a null position', 'offsetsAt.position', (a) => a.offsetsAt('orders', any(null))],
  ['offsetsAt: a Symbol position', 'offsetsAt.position', (a) => a.offsetsAt('orders', any(Symbol('earliest')))],
  ['offsetsAt: a numeric position', 'offsetsAt.position', (a) => a.offsetsAt('orders', any(0))],
  ['offsetsAt: a Date', 'offsetsAt.position', (a) => a.offsetsAt('orders', any(new Date()))],
  ['offsetsAt: {}', 'offsetsAt.position', (a) => a.offsetsAt('orders', any({}))],
  [
    'offsetsAt: { offset: undefined, timestamp: undefined }',
    'offsetsAt.position',
    (a) => a.offsetsAt('orders', any({ offset: undefined, timestamp: undefined })),
  ],
  [
    'offsetsAt: both an offset and a timestamp',
    'offsetsAt.position',
    (a) => a.offsetsAt('orders', any({ offset: '1', timestamp: 5 })),
  ],
  ['offsetsAt: { offest }', 'offsetsAt.position.offest', (a) => a.offsetsAt('orders', any({ offest: '1' }))],
  [
    'offsetsAt: an offset and another key',
    'offsetsAt.position.partition',
    (a) => a.offsetsAt('orders', any({ offset: '1', partition: 0 })),
  ],
  [
    'offsetsAt: a Symbol offset',
    'offsetsAt.position.offset',
    (a) => a.offsetsAt('orders', any({ offset: Symbol('1') })),
  ],
  [
    'offsetsAt: a null-prototype offset',
    'offsetsAt.position.offset',
    (a) => a.offsetsAt('orders', any({ offset: bare() })),
  ],
  ['offsetsAt: a numeric offset', 'offsetsAt.position.offset', (a) => a.offsetsAt('orders', any({ offset: 42 }))],
  ['offsetsAt: a bigint offset', 'offsetsAt.position.offset', (a) => a.offsetsAt('orders', any({ offset: 42n }))],
  ["offsetsAt: offset '-1'", 'offsetsAt.position.offset', (a) => a.offsetsAt('orders', { offset: '-1' })],
  ["offsetsAt: offset '1e3'", 'offsetsAt.position.offset', (a) => a.offsetsAt('orders', { offset: '1e3' })],
  ["offsetsAt: offset ' 5'", 'offsetsAt.position.offset', (a) => a.offsetsAt('orders', { offset: ' 5' })],
  ["offsetsAt: offset ''", 'offsetsAt.position.offset', (a) => a.offsetsAt('orders', { offset: '' })],
  ["offsetsAt: timestamp '5'", 'offsetsAt.position.timestamp', (a) => a.offsetsAt('orders', any({ timestamp: '5' }))],
  ['offsetsAt: timestamp NaN', 'offsetsAt.position.timestamp', (a) => a.offsetsAt('orders', { timestamp: Number.NaN })],
  [
    'offsetsAt: timestamp Infinity',
    'offsetsAt.position.timestamp',
    (a) => a.offsetsAt('orders', { timestamp: Number.POSITIVE_INFINITY }),
  ],
  ['offsetsAt: timestamp -1', 'offsetsAt.position.timestamp', (a) => a.offsetsAt('orders', { timestamp: -1 })],
  [
    'offsetsAt: timestamp a Date',
    'offsetsAt.position.timestamp',
    (a) => a.offsetsAt('orders', any({ timestamp: new Date() })),
  ],
  // resetGroup
  ['resetGroup: an empty group', 'resetGroup.group', (a) => a.resetGroup('', 'orders', 'earliest')],
  ['resetGroup: a Symbol topic', 'resetGroup.topic', (a) => a.resetGroup('g', any(Symbol('t')), 'earliest')],
  ["resetGroup: to 'beginning'", 'resetGroup.to', (a) => a.resetGroup('g', 'orders', any('beginning'))],
  ['resetGroup: to a Symbol', 'resetGroup.to', (a) => a.resetGroup('g', 'orders', any(Symbol('latest')))],
  [
    'resetGroup: to.offset a Symbol',
    'resetGroup.to.offset',
    (a) => a.resetGroup('g', 'orders', any({ offset: Symbol('1') })),
  ],
  [
    'resetGroup: to.timestamp a string',
    'resetGroup.to.timestamp',
    (a) => a.resetGroup('g', 'orders', any({ timestamp: '2024-01-01' })),
  ],
  // replay
  ['replay: no request', 'replay', (a) => a.replay(any(undefined))],
  ['replay: a string', 'replay', (a) => a.replay(any('orders'))],
  ['replay: an array', 'replay', (a) => a.replay(any([{ topic: 'orders' }]))],
  [
    'replay: a misspelt key',
    'replay.rate',
    (a) => a.replay(any({ topic: 'orders', to: 'earliest', ratePerSecond: 5, rate: 5 })),
  ],
  ['replay: no topic', 'replay.topic', (a) => a.replay(any({ to: 'earliest', ratePerSecond: 5 }))],
  ['replay: an empty topic', 'replay.topic', (a) => a.replay({ topic: '', to: 'earliest', ratePerSecond: 5 })],
  [
    'replay: an empty group',
    'replay.group',
    (a) => a.replay({ topic: 'o', group: '', to: 'earliest', ratePerSecond: 5 }),
  ],
  [
    'replay: a group and a freshGroupPrefix',
    'replay.freshGroupPrefix',
    (a) => a.replay({ topic: 'o', group: 'g', freshGroupPrefix: 'audit', to: 'earliest', ratePerSecond: 5 }),
  ],
  [
    'redriveDeadLetters: to the dead-letter topic itself',
    'redriveDeadLetters.to',
    (a) => a.redriveDeadLetters({ ...okRedrive, to: okRedrive.from }),
  ],
  [
    'replay: a numeric freshGroupPrefix',
    'replay.freshGroupPrefix',
    (a) => a.replay(any({ topic: 'o', freshGroupPrefix: 5, to: 'earliest', ratePerSecond: 5 })),
  ],
  ['replay: no to', 'replay.to', (a) => a.replay(any({ topic: 'o', ratePerSecond: 5 }))],
  ["replay: to 'beginning'", 'replay.to', (a) => a.replay(any({ topic: 'o', to: 'beginning', ratePerSecond: 5 }))],
  [
    'replay: to.offset a Symbol',
    'replay.to.offset',
    (a) => a.replay(any({ topic: 'o', to: { offset: Symbol('1') }, ratePerSecond: 5 })),
  ],
  ["replay: to.offset 'x'", 'replay.to.offset', (a) => a.replay({ topic: 'o', to: { offset: 'x' }, ratePerSecond: 5 })],
  [
    'replay: to with an unknown key',
    'replay.to.time',
    (a) => a.replay(any({ topic: 'o', to: { time: 5 }, ratePerSecond: 5 })),
  ],
  ['replay: no ratePerSecond', 'replay.ratePerSecond', (a) => a.replay(any({ topic: 'o', to: 'earliest' }))],
  [
    'replay: ratePerSecond a Symbol',
    'replay.ratePerSecond',
    (a) => a.replay(any({ topic: 'o', to: 'earliest', ratePerSecond: Symbol('5') })),
  ],
  [
    'replay: ratePerSecond a null-prototype object',
    'replay.ratePerSecond',
    (a) => a.replay(any({ topic: 'o', to: 'earliest', ratePerSecond: bare() })),
  ],
  [
    "replay: ratePerSecond '5'",
    'replay.ratePerSecond',
    (a) => a.replay(any({ topic: 'o', to: 'earliest', ratePerSecond: '5' })),
  ],
  [
    'replay: ratePerSecond 0',
    'replay.ratePerSecond',
    (a) => a.replay({ topic: 'o', to: 'earliest', ratePerSecond: 0 }),
  ],
  [
    'replay: ratePerSecond -1',
    'replay.ratePerSecond',
    (a) => a.replay({ topic: 'o', to: 'earliest', ratePerSecond: -1 }),
  ],
  [
    'replay: ratePerSecond Infinity',
    'replay.ratePerSecond',
    (a) => a.replay({ topic: 'o', to: 'earliest', ratePerSecond: Number.POSITIVE_INFINITY }),
  ],
  // deadLetterDepth
  ['deadLetterDepth: an empty topic', 'deadLetterDepth.topic', (a) => a.deadLetterDepth('')],
  ['deadLetterDepth: an empty group', 'deadLetterDepth.group', (a) => a.deadLetterDepth(dlq, '')],
  ['deadLetterDepth: a numeric group', 'deadLetterDepth.group', (a) => a.deadLetterDepth(dlq, any(5))],
  // inspectDeadLetters
  ['inspectDeadLetters: no topic', 'inspectDeadLetters.topic', (a) => a.inspectDeadLetters(any(undefined))],
  ['inspectDeadLetters: options null', 'inspectDeadLetters', (a) => a.inspectDeadLetters(dlq, any(null))],
  ["inspectDeadLetters: options 'earliest'", 'inspectDeadLetters', (a) => a.inspectDeadLetters(dlq, any('earliest'))],
  ['inspectDeadLetters: options an array', 'inspectDeadLetters', (a) => a.inspectDeadLetters(dlq, any([]))],
  ['inspectDeadLetters: a misspelt key', 'inspectDeadLetters.max', (a) => a.inspectDeadLetters(dlq, any({ max: 5 }))],
  [
    'inspectDeadLetters: an unknown key holding undefined',
    'inspectDeadLetters.group',
    (a) => a.inspectDeadLetters(dlq, any({ group: undefined })),
  ],
  ['inspectDeadLetters: limit 0', 'inspectDeadLetters.limit', (a) => a.inspectDeadLetters(dlq, { limit: 0 })],
  ['inspectDeadLetters: limit 1.5', 'inspectDeadLetters.limit', (a) => a.inspectDeadLetters(dlq, { limit: 1.5 })],
  ["inspectDeadLetters: limit '5'", 'inspectDeadLetters.limit', (a) => a.inspectDeadLetters(dlq, any({ limit: '5' }))],
  [
    'inspectDeadLetters: limit a Symbol',
    'inspectDeadLetters.limit',
    (a) => a.inspectDeadLetters(dlq, any({ limit: Symbol('5') })),
  ],
  [
    'inspectDeadLetters: limit Infinity',
    'inspectDeadLetters.limit',
    (a) => a.inspectDeadLetters(dlq, { limit: Number.POSITIVE_INFINITY }),
  ],
  [
    "inspectDeadLetters: from 'beginning'",
    'inspectDeadLetters.from',
    (a) => a.inspectDeadLetters(dlq, any({ from: 'beginning' })),
  ],
  [
    "inspectDeadLetters: from 'latest'",
    'inspectDeadLetters.from',
    (a) => a.inspectDeadLetters(dlq, any({ from: 'latest' })),
  ],
  ['inspectDeadLetters: from null', 'inspectDeadLetters.from', (a) => a.inspectDeadLetters(dlq, any({ from: null }))],
  [
    'inspectDeadLetters: from a Symbol',
    'inspectDeadLetters.from',
    (a) => a.inspectDeadLetters(dlq, any({ from: Symbol('earliest') })),
  ],
  [
    'inspectDeadLetters: from { offset }',
    'inspectDeadLetters.from.offset',
    (a) => a.inspectDeadLetters(dlq, any({ from: { offset: '5' } })),
  ],
  [
    'inspectDeadLetters: from {}',
    'inspectDeadLetters.from.timestamp',
    (a) => a.inspectDeadLetters(dlq, any({ from: {} })),
  ],
  [
    "inspectDeadLetters: from.timestamp '1'",
    'inspectDeadLetters.from.timestamp',
    (a) => a.inspectDeadLetters(dlq, any({ from: { timestamp: '1' } })),
  ],
  [
    'inspectDeadLetters: from.timestamp NaN',
    'inspectDeadLetters.from.timestamp',
    (a) => a.inspectDeadLetters(dlq, { from: { timestamp: Number.NaN } }),
  ],
  [
    'inspectDeadLetters: an empty redriveGroup',
    'inspectDeadLetters.redriveGroup',
    (a) => a.inspectDeadLetters(dlq, { redriveGroup: '' }),
  ],
  [
    'inspectDeadLetters: timeoutMs 0',
    'inspectDeadLetters.timeoutMs',
    (a) => a.inspectDeadLetters(dlq, { timeoutMs: 0 }),
  ],
  [
    'inspectDeadLetters: timeoutMs 2^31 (a Node timer would fire after 1 ms)',
    'inspectDeadLetters.timeoutMs',
    (a) => a.inspectDeadLetters(dlq, { timeoutMs: 2 ** 31 }),
  ],
  [
    'inspectDeadLetters: timeoutMs Infinity',
    'inspectDeadLetters.timeoutMs',
    (a) => a.inspectDeadLetters(dlq, { timeoutMs: Number.POSITIVE_INFINITY }),
  ],
  [
    "inspectDeadLetters: timeoutMs '1000'",
    'inspectDeadLetters.timeoutMs',
    (a) => a.inspectDeadLetters(dlq, any({ timeoutMs: '1000' })),
  ],
  // redriveDeadLetters
  ['redriveDeadLetters: no options', 'redriveDeadLetters', (a) => a.redriveDeadLetters(any(undefined))],
  ['redriveDeadLetters: options null', 'redriveDeadLetters', (a) => a.redriveDeadLetters(any(null))],
  ["redriveDeadLetters: options 'orders.dlq'", 'redriveDeadLetters', (a) => a.redriveDeadLetters(any(dlq))],
  [
    'redriveDeadLetters: a misspelt key',
    'redriveDeadLetters.rate',
    (a) => a.redriveDeadLetters(any({ ...okRedrive, rate: 5 })),
  ],
  ['redriveDeadLetters: no from', 'redriveDeadLetters.from', (a) => a.redriveDeadLetters(any({ ratePerSecond: 5 }))],
  [
    'redriveDeadLetters: an empty from',
    'redriveDeadLetters.from',
    (a) => a.redriveDeadLetters({ ...okRedrive, from: '' }),
  ],
  ['redriveDeadLetters: an empty to', 'redriveDeadLetters.to', (a) => a.redriveDeadLetters({ ...okRedrive, to: '' })],
  [
    'redriveDeadLetters: a Symbol to',
    'redriveDeadLetters.to',
    (a) => a.redriveDeadLetters(any({ ...okRedrive, to: Symbol('o') })),
  ],
  [
    'redriveDeadLetters: no ratePerSecond',
    'redriveDeadLetters.ratePerSecond',
    (a) => a.redriveDeadLetters(any({ from: dlq })),
  ],
  [
    'redriveDeadLetters: ratePerSecond 0',
    'redriveDeadLetters.ratePerSecond',
    (a) => a.redriveDeadLetters({ from: dlq, ratePerSecond: 0 }),
  ],
  [
    'redriveDeadLetters: ratePerSecond a Symbol',
    'redriveDeadLetters.ratePerSecond',
    (a) => a.redriveDeadLetters(any({ from: dlq, ratePerSecond: Symbol('5') })),
  ],
  ['redriveDeadLetters: max 0', 'redriveDeadLetters.max', (a) => a.redriveDeadLetters({ ...okRedrive, max: 0 })],
  ['redriveDeadLetters: max 1.5', 'redriveDeadLetters.max', (a) => a.redriveDeadLetters({ ...okRedrive, max: 1.5 })],
  [
    'redriveDeadLetters: max a Symbol',
    'redriveDeadLetters.max',
    (a) => a.redriveDeadLetters(any({ ...okRedrive, max: Symbol('1') })),
  ],
  [
    'redriveDeadLetters: an empty group',
    'redriveDeadLetters.group',
    (a) => a.redriveDeadLetters({ ...okRedrive, group: '' }),
  ],
  [
    'redriveDeadLetters: timeoutMs 0',
    'redriveDeadLetters.timeoutMs',
    (a) => a.redriveDeadLetters({ ...okRedrive, timeoutMs: 0 }),
  ],
  [
    'redriveDeadLetters: timeoutMs 2^31 (a Node timer would fire after 1 ms)',
    'redriveDeadLetters.timeoutMs',
    (a) => a.redriveDeadLetters({ ...okRedrive, timeoutMs: 2 ** 31 }),
  ],
  [
    'redriveDeadLetters: timeoutMs a day in µs',
    'redriveDeadLetters.timeoutMs',
    (a) => a.redriveDeadLetters({ ...okRedrive, timeoutMs: 86_400_000_000 }),
  ],
  [
    'redriveDeadLetters: timeoutMs a Symbol',
    'redriveDeadLetters.timeoutMs',
    (a) => a.redriveDeadLetters(any({ ...okRedrive, timeoutMs: Symbol('1') })),
  ],
  [
    "redriveDeadLetters: signal 'abort'",
    'redriveDeadLetters.signal',
    (a) => a.redriveDeadLetters(any({ ...okRedrive, signal: 'abort' })),
  ],
  [
    'redriveDeadLetters: signal {}',
    'redriveDeadLetters.signal',
    (a) => a.redriveDeadLetters(any({ ...okRedrive, signal: {} })),
  ],
  [
    'redriveDeadLetters: signal null',
    'redriveDeadLetters.signal',
    (a) => a.redriveDeadLetters(any({ ...okRedrive, signal: null })),
  ],
  [
    'redriveDeadLetters: the AbortController instead of its signal',
    'redriveDeadLetters.signal',
    (a) => a.redriveDeadLetters(any({ ...okRedrive, signal: new AbortController() })),
  ],
];

describe('KafkaAdmin call arguments', () => {
  it.each(refused)('refuses %s, naming %s, before any driver call', async (_name, option, call) => {
    const { error, calls } = await refusal(call);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/\. Fix: \S/);
    expect(calls).toEqual([]);
  });

  it('shows the wrong value in the message', async () => {
    expect((await refusal((a) => a.offsetsAt('orders', any('beginning')))).error.message).toContain("got 'beginning'");
    expect((await refusal((a) => a.offsetsAt('orders', any(Symbol('x'))))).error.message).toContain('got Symbol(x)');
    expect((await refusal((a) => a.offsetsAt('orders', any({ offset: bare() })))).error.message).toContain(
      'got an object',
    );
    expect((await refusal((a) => a.topicOffsets(any(bare())))).error.message).toContain('got an object');
    expect((await refusal((a) => a.inspectDeadLetters(dlq, { timeoutMs: 2 ** 31 }))).error.message).toContain(
      '2147483647',
    );
    expect((await refusal((a) => a.inspectDeadLetters(dlq, any({ max: 5 })))).error.message).toContain(
      'known options: limit, from, redriveGroup, timeoutMs',
    );
  });

  // Valid arguments pass the checks: the call goes on to the driver (whose first call, connect,
  // rejects here with ReachedDriver).
  const accepted: Array<[string, Call]> = [
    ['createTopics: none', (a) => a.createTopics([])],
    ['createTopics: a name only', (a) => a.createTopics([{ topic: 'orders' }])],
    [
      'createTopics: every field',
      (a) =>
        a.createTopics([
          {
            topic: 'orders',
            partitions: 3,
            replicationFactor: 1,
            retentionMs: 604_800_000,
            config: { 'cleanup.policy': 'compact' },
          },
        ]),
    ],
    [
      'createTopics: -1 for the broker defaults and forever',
      (a) => a.createTopics([{ topic: 'o', partitions: -1, replicationFactor: -1, retentionMs: -1 }]),
    ],
    [
      'createTopics: undefined optional fields',
      (a) => a.createTopics(any([{ topic: 'o', partitions: undefined, config: undefined }])),
    ],
    [
      'createTopics: a null-prototype definition',
      (a) => a.createTopics([Object.assign(bare(), { topic: 'o' }) as never]),
    ],
    ['deleteTopics: none', (a) => a.deleteTopics([])],
    ['deleteTopics: two', (a) => a.deleteTopics(['a', 'b'])],
    ['listTopics', (a) => a.listTopics()],
    ['topicOffsets', (a) => a.topicOffsets('orders')],
    ['groupOffsets', (a) => a.groupOffsets('g', 'orders')],
    ['lag', (a) => a.lag('g', 'orders')],
    ['hotPartitions: no options', (a) => a.hotPartitions('g', 'orders')],
    ['hotPartitions: undefined options', (a) => a.hotPartitions('g', 'orders', undefined)],
    [
      'hotPartitions: every option',
      (a) => a.hotPartitions('g', 'orders', { factor: 4, minLag: 0, minRatePerSecond: 100 }),
    ],
    ['hotPartitions: undefined keys', (a) => a.hotPartitions('g', 'orders', any({ factor: undefined, minLag: 10 }))],
    ['describeGroup', (a) => a.describeGroup('g')],
    ['deleteGroups: none', (a) => a.deleteGroups([])],
    ['deleteGroups: one', (a) => a.deleteGroups(['g'])],
    ["offsetsAt: 'earliest'", (a) => a.offsetsAt('orders', 'earliest')],
    ["offsetsAt: 'latest'", (a) => a.offsetsAt('orders', 'latest')],
    ["offsetsAt: { offset: '0' }", (a) => a.offsetsAt('orders', { offset: '0' })],
    ['offsetsAt: an offset past 2^64', (a) => a.offsetsAt('orders', { offset: '99999999999999999999999' })],
    ['offsetsAt: { timestamp: 0 }', (a) => a.offsetsAt('orders', { timestamp: 0 })],
    ['offsetsAt: { timestamp: now }', (a) => a.offsetsAt('orders', { timestamp: Date.now() })],
    [
      'offsetsAt: an offset and an undefined timestamp',
      (a) => a.offsetsAt('orders', any({ offset: '5', timestamp: undefined })),
    ],
    ['offsetsAt: a null-prototype position', (a) => a.offsetsAt('orders', any(Object.assign(bare(), { offset: '5' })))],
    ["resetGroup: 'earliest'", (a) => a.resetGroup('g', 'orders', 'earliest')],
    ['resetGroup: { timestamp }', (a) => a.resetGroup('g', 'orders', { timestamp: 1_700_000_000_000 })],
    [
      "replay: { topic, group, to: 'earliest', ratePerSecond: 5 }",
      (a) => a.replay({ topic: 'o', group: 'g', to: 'earliest', ratePerSecond: 5 }),
    ],
    [
      'replay: a fresh group at { timestamp }',
      (a) => a.replay({ topic: 'o', to: { timestamp: 1_000 }, ratePerSecond: 1_000 }),
    ],
    [
      'replay: a freshGroupPrefix, a fractional rate, group undefined',
      (a) =>
        a.replay(
          any({ topic: 'o', group: undefined, freshGroupPrefix: 'audit', to: { offset: '3' }, ratePerSecond: 0.5 }),
        ),
    ],
    ['deadLetterDepth: topic only', (a) => a.deadLetterDepth(dlq)],
    ['deadLetterDepth: group undefined', (a) => a.deadLetterDepth(dlq, undefined)],
    ['deadLetterDepth: a group', (a) => a.deadLetterDepth(dlq, 'orders.dlq.audit')],
    ['inspectDeadLetters: no options', (a) => a.inspectDeadLetters(dlq)],
    ['inspectDeadLetters: undefined options', (a) => a.inspectDeadLetters(dlq, undefined)],
    ['inspectDeadLetters: {}', (a) => a.inspectDeadLetters(dlq, {})],
    ['inspectDeadLetters: { limit: 100 }', (a) => a.inspectDeadLetters(dlq, { limit: 100 })],
    ["inspectDeadLetters: from 'earliest'", (a) => a.inspectDeadLetters(dlq, { from: 'earliest', limit: 100 })],
    ["inspectDeadLetters: from 'unredriven'", (a) => a.inspectDeadLetters(dlq, { from: 'unredriven' })],
    ['inspectDeadLetters: from { timestamp }', (a) => a.inspectDeadLetters(dlq, { from: { timestamp: 0 } })],
    [
      'inspectDeadLetters: a redriveGroup and the longest timeout',
      (a) => a.inspectDeadLetters(dlq, { redriveGroup: 'audit', timeoutMs: 2 ** 31 - 1 }),
    ],
    [
      'inspectDeadLetters: every key undefined',
      (a) =>
        a.inspectDeadLetters(
          dlq,
          any({ limit: undefined, from: undefined, redriveGroup: undefined, timeoutMs: undefined }),
        ),
    ],
    [
      'redriveDeadLetters: from and ratePerSecond',
      (a) => a.redriveDeadLetters({ from: dlq, ratePerSecond: 1_000, max: 4 }),
    ],
    ['redriveDeadLetters: a fractional rate', (a) => a.redriveDeadLetters({ from: dlq, ratePerSecond: 0.5 })],
    [
      'redriveDeadLetters: every option',
      (a) =>
        a.redriveDeadLetters({
          from: dlq,
          to: 'orders',
          ratePerSecond: 2,
          max: 10,
          group: 'audit',
          timeoutMs: 1_000,
          signal: new AbortController().signal,
        }),
    ],
    [
      'redriveDeadLetters: undefined optional keys',
      (a) =>
        a.redriveDeadLetters(
          any({
            from: dlq,
            ratePerSecond: 5,
            to: undefined,
            max: undefined,
            group: undefined,
            timeoutMs: undefined,
            signal: undefined,
          }),
        ),
    ],
  ];

  it.each(accepted)('accepts %s and goes on to the driver', async (_name, call) => {
    const { admin, calls } = recording('trip');
    const outcome = await call(admin).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    expect(outcome).not.toBeInstanceOf(InvalidOptionError);
    // An empty list asks the driver for nothing, so it may resolve; anything else reached connect.
    if (outcome !== 'resolved') expect(outcome).toBeInstanceOf(ReachedDriver);
    expect(calls[0]).toBe('connect');
  });
});

describe('KafkaAdmin calls after the checks (in-memory driver)', () => {
  function working(partitions = 2) {
    const r = recording('work');
    r.fake.adminClient.topics.set('orders', partitions);
    return r;
  }

  it('reads { offset } as an offset (an undefined timestamp is absent), clamped into the log', async () => {
    const { admin } = working();
    expect(await admin.offsetsAt('orders', any({ offset: '5', timestamp: undefined }))).toEqual([
      { partition: 0, offset: '5' },
      { partition: 1, offset: '5' },
    ]);
    expect(await admin.offsetsAt('orders', { offset: '007' })).toEqual([
      { partition: 0, offset: '7' },
      { partition: 1, offset: '7' },
    ]);
    expect(await admin.offsetsAt('orders', { offset: '500' })).toEqual([
      { partition: 0, offset: '100' },
      { partition: 1, offset: '100' },
    ]);
    expect(await admin.offsetsAt('orders', { timestamp: 1_234 })).toEqual([
      { partition: 0, offset: '234' },
      { partition: 1, offset: '234' },
    ]);
    expect(await admin.offsetsAt('orders', 'latest')).toEqual([
      { partition: 0, offset: '100' },
      { partition: 1, offset: '100' },
    ]);
  });

  it('resets a group and plans a replay in a fresh group', async () => {
    const { admin, fake } = working(1);
    expect(await admin.resetGroup('g', 'orders', { offset: '40' })).toEqual([{ partition: 0, offset: '40' }]);
    expect(await admin.groupOffsets('g', 'orders')).toEqual([{ partition: 0, committed: '40' }]);
    const plan = await admin.replay({ topic: 'orders', to: 'earliest', ratePerSecond: 5 });
    expect(plan.consumerGroup).toMatch(/^orders\.replay\.\d+$/);
    expect(plan).toMatchObject({
      topic: 'orders',
      offsets: [{ partition: 0, offset: '0' }],
      options: { ratePerSecond: 5 },
    });
    expect(fake.adminClient.groupCommits.get(`${plan.consumerGroup}/orders`)).toEqual(new Map([[0, '0']]));
    const prefixed = await admin.replay({ topic: 'orders', freshGroupPrefix: 'audit', to: 'latest', ratePerSecond: 1 });
    expect(prefixed.consumerGroup).toMatch(/^audit\.\d+$/);
  });

  it('creates topics as defined, with the defaults for what is left out', async () => {
    const { admin, fake } = working();
    await admin.createTopics([
      any({ topic: 'a', partitions: undefined }),
      { topic: 'b', partitions: 3, replicationFactor: 1, retentionMs: -1, config: { 'cleanup.policy': 'compact' } },
    ]);
    expect(fake.adminClient.created).toEqual([
      { topic: 'a', partitions: 1, config: {} },
      {
        topic: 'b',
        partitions: 3,
        replicationFactor: 1,
        config: { 'retention.ms': '-1', 'cleanup.policy': 'compact' },
      },
    ]);
  });

  it('reports no hot partitions on an even topic', async () => {
    const { admin } = working(3);
    expect(await admin.hotPartitions('g', 'orders', any({ factor: undefined }))).toEqual([]);
  });

  it('inspects and redrives an empty dead-letter topic with the longest timeout', async () => {
    const { admin, fake } = working();
    fake.adminClient.topics.set(dlq, 0);
    expect(
      await admin.inspectDeadLetters(dlq, any({ from: 'earliest', timeoutMs: 2 ** 31 - 1, limit: undefined })),
    ).toEqual([]);
    expect(await admin.redriveDeadLetters({ from: dlq, ratePerSecond: 50, timeoutMs: 2 ** 31 - 1 })).toEqual({
      group: 'orders.dlq.redrive',
      moved: 0,
      movedTo: {},
      skipped: [],
      complete: true,
    });
    expect(await admin.deadLetterDepth(dlq, undefined)).toEqual({
      topic: dlq,
      group: 'orders.dlq.redrive',
      total: 0,
      partitions: [],
    });
  });

  // An aborted signal stopped the run only after connecting and describing the redrive group.
  it('returns at once for an already aborted signal, without a call to the cluster', async () => {
    const { admin, calls } = recording('trip');
    const controller = new AbortController();
    controller.abort();
    expect(await admin.redriveDeadLetters({ ...okRedrive, signal: controller.signal })).toEqual({
      group: 'orders.dlq.redrive',
      moved: 0,
      movedTo: {},
      skipped: [],
      complete: false,
    });
    expect(calls).toEqual([]);
  });
});
