// The in-memory broker's and transports' options are checked at construction, as the other
// resolvers' are: a non-object, an unknown key, a clock that is not a Clock or a number out of range
// is an InvalidOptionError naming the option and the fix (never a TypeError, never a silent
// default). One row per bad input; every call the repository makes still constructs.

import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { MemoryBroker } from '../../src/memory/broker.js';
import { MemoryLogTransport } from '../../src/memory/log-transport.js';
import { MemoryQueueTransport } from '../../src/memory/queue-transport.js';
import { FakeClock } from '../support/fake-clock.js';
import { optionError } from '../support/option-error.js';
import { CollectingSink, outgoing, spec } from './helpers.js';

const bare = () => Object.create(null) as never;
const sym = () => Symbol('garbage') as never;
const any = (value: unknown) => value as never;

type Row = readonly [name: string, build: () => unknown, option: string];

function expectRefused(build: () => unknown, option: string): void {
  const error = optionError(build);
  expect(error.option).toBe(option);
  expect(error.message).toMatch(/\. Fix: \S/);
}

describe('MemoryBroker options', () => {
  it.each<Row>([
    ['null options', () => new MemoryBroker(any(null)), 'options'],
    ['a string as options', () => new MemoryBroker(any('clock')), 'options'],
    ['an array as options', () => new MemoryBroker(any([])), 'options'],
    ['a Date as options', () => new MemoryBroker(any(new Date())), 'options'],
    ['a misspelt clock', () => new MemoryBroker(any({ clok: systemClock })), 'clok'],
    ['a transport option', () => new MemoryBroker(any({ autoCreate: true })), 'autoCreate'],
    ['an unknown key holding undefined', () => new MemoryBroker(any({ retention: undefined })), 'retention'],
    ['clock: {}', () => new MemoryBroker({ clock: any({}) }), 'clock'],
    ['clock without sleep', () => new MemoryBroker({ clock: any({ now: () => 0 }) }), 'clock'],
    ['clock: a string', () => new MemoryBroker({ clock: any('system') }), 'clock'],
    ['clock: a number', () => new MemoryBroker({ clock: any(Date.now()) }), 'clock'],
    ['clock: Object.create(null)', () => new MemoryBroker({ clock: bare() }), 'clock'],
    ['maxMessageBytes: 0', () => new MemoryBroker({ maxMessageBytes: 0 }), 'maxMessageBytes'],
    ['maxMessageBytes: -1', () => new MemoryBroker({ maxMessageBytes: -1 }), 'maxMessageBytes'],
    ['maxMessageBytes: 1.5', () => new MemoryBroker({ maxMessageBytes: 1.5 }), 'maxMessageBytes'],
    ['maxMessageBytes: NaN', () => new MemoryBroker({ maxMessageBytes: Number.NaN }), 'maxMessageBytes'],
    ['maxMessageBytes: Infinity', () => new MemoryBroker({ maxMessageBytes: Infinity }), 'maxMessageBytes'],
    ["maxMessageBytes: '1024'", () => new MemoryBroker({ maxMessageBytes: any('1024') }), 'maxMessageBytes'],
    ['maxMessageBytes: null', () => new MemoryBroker({ maxMessageBytes: any(null) }), 'maxMessageBytes'],
    ['maxMessageBytes: a Symbol', () => new MemoryBroker({ maxMessageBytes: sym() }), 'maxMessageBytes'],
    ['maxMessageBytes: Object.create(null)', () => new MemoryBroker({ maxMessageBytes: bare() }), 'maxMessageBytes'],
  ])('refuses %s', (_name, build, option) => expectRefused(build, option));

  it.each<[string, () => MemoryBroker]>([
    ['no options', () => new MemoryBroker()],
    ['undefined', () => new MemoryBroker(undefined)],
    ['{}', () => new MemoryBroker({})],
    ['the system clock', () => new MemoryBroker({ clock: systemClock })],
    ['a fake clock and a size limit', () => new MemoryBroker({ clock: new FakeClock(), maxMessageBytes: 10 })],
    ['explicit undefined values', () => new MemoryBroker(any({ clock: undefined, maxMessageBytes: undefined }))],
    ['a null-prototype options object', () => new MemoryBroker(Object.assign(bare(), { maxMessageBytes: 64 }))],
  ])('still constructs with %s', (_name, build) => {
    expect(build()).toBeInstanceOf(MemoryBroker);
  });

  it('says what the wrong value was', () => {
    expect(optionError(() => new MemoryBroker(any(null))).message).toContain('got null');
    expect(optionError(() => new MemoryBroker({ maxMessageBytes: sym() })).message).toContain('Symbol(garbage)');
    expect(optionError(() => new MemoryBroker({ maxMessageBytes: bare() })).message).toContain('cannot be shown');
    expect(optionError(() => new MemoryBroker(any({ clok: 1 }))).message).toContain(
      'known options: clock, maxMessageBytes',
    );
  });
});

describe('MemoryBroker createQueue and createTopic options', () => {
  it.each<Row>([
    ['createQueue null options', () => new MemoryBroker().createQueue('q', any(null)), 'createQueue'],
    ['createQueue a string as options', () => new MemoryBroker().createQueue('q', any('fifo')), 'createQueue'],
    [
      'createQueue a misspelt key',
      () => new MemoryBroker().createQueue('q', any({ visibilityTimeout: 1_000 })),
      'createQueue.visibilityTimeout',
    ],
    [
      'createQueue garbage for a queue that exists',
      () => {
        const broker = new MemoryBroker();
        broker.createQueue('q');
        return broker.createQueue('q', any({ visibility: 1 }));
      },
      'createQueue.visibility',
    ],
    [
      "createQueue fifo: 'yes'",
      () => new MemoryBroker().createQueue('q.fifo', { fifo: any('yes') }),
      'createQueue.fifo',
    ],
    [
      'createQueue contentBasedDeduplication: 1',
      () => new MemoryBroker().createQueue('q.fifo', { contentBasedDeduplication: any(1) }),
      'createQueue.contentBasedDeduplication',
    ],
    [
      'createQueue visibilityTimeoutMs: a Symbol',
      () => new MemoryBroker().createQueue('q', { visibilityTimeoutMs: sym() }),
      'createQueue.visibilityTimeoutMs',
    ],
    [
      'createQueue delayMs: Object.create(null)',
      () => new MemoryBroker().createQueue('q', { delayMs: bare() }),
      'createQueue.delayMs',
    ],
    [
      'createQueue maxReceiveCount: a Symbol',
      () => {
        const broker = new MemoryBroker();
        broker.createQueue('dlq');
        return broker.createQueue('q', { maxReceiveCount: sym(), deadLetterQueue: 'dlq' });
      },
      'createQueue.maxReceiveCount',
    ],
    [
      'createQueue deadLetterQueue: a Symbol',
      () => new MemoryBroker().createQueue('q', { maxReceiveCount: 3, deadLetterQueue: sym() }),
      'createQueue.deadLetterQueue',
    ],
    [
      "createQueue deadLetterQueue: ''",
      () => new MemoryBroker().createQueue('q', { maxReceiveCount: 3, deadLetterQueue: '' }),
      'createQueue.deadLetterQueue',
    ],
    ['createTopic null options', () => new MemoryBroker().createTopic('t', any(null)), 'createTopic'],
    [
      'createTopic a misspelt key',
      () => new MemoryBroker().createTopic('t', any({ partition: 2 })),
      'createTopic.partition',
    ],
    [
      'createTopic partitions: a Symbol',
      () => new MemoryBroker().createTopic('t', { partitions: sym() }),
      'createTopic.partitions',
    ],
    [
      'createTopic retentionMs: a Symbol',
      () => new MemoryBroker().createTopic('t', { retentionMs: sym() }),
      'createTopic.retentionMs',
    ],
    [
      "createTopic retentionMs: '60000'",
      () => new MemoryBroker().createTopic('t', { retentionMs: any('60000') }),
      'createTopic.retentionMs',
    ],
    [
      'createTopic retentionMessages: Object.create(null)',
      () => new MemoryBroker().createTopic('t', { retentionMessages: bare() }),
      'createTopic.retentionMessages',
    ],
  ])('refuses %s', (_name, build, option) => expectRefused(build, option));

  it('still creates queues and topics with the options the repository passes', () => {
    const broker = new MemoryBroker({ clock: new FakeClock() });
    expect(broker.createQueue('dlq')).toBe(true);
    expect(broker.createQueue('q', { maxReceiveCount: 3, deadLetterQueue: 'dlq', visibilityTimeoutMs: 1_000 })).toBe(
      true,
    );
    expect(broker.createQueue('q', { visibilityTimeoutMs: 30_000 })).toBe(false);
    expect(broker.createQueue('c.fifo', { contentBasedDeduplication: true })).toBe(true);
    expect(broker.createQueue('f.fifo', { fifo: true, deduplicationWindowMs: 1_000, retentionMs: 60_000 })).toBe(true);
    expect(broker.createQueue('u', any({ fifo: undefined, delayMs: undefined }))).toBe(true);
    expect(broker.createTopic('t', { partitions: 2, retentionMs: 60_000, retentionMessages: 3 })).toBe(true);
    expect(broker.createTopic('t')).toBe(false);
  });
});

describe('MemoryLogTransport options', () => {
  it.each<Row>([
    ['null options', () => new MemoryLogTransport(any(null)), 'options'],
    ['a number as options', () => new MemoryLogTransport(any(42)), 'options'],
    ['an array as options', () => new MemoryLogTransport(any([new MemoryBroker()])), 'options'],
    ['a broker as options', () => new MemoryLogTransport(any(new MemoryBroker())), 'options'],
    ['a misspelt key', () => new MemoryLogTransport(any({ partitions: 3 })), 'partitions'],
    [
      'a queue-transport option',
      () => new MemoryLogTransport(any({ visibilityTimeoutMs: 1_000 })),
      'visibilityTimeoutMs',
    ],
    ['a broker option', () => new MemoryLogTransport(any({ maxMessageBytes: 1_024 })), 'maxMessageBytes'],
    ['broker: a string', () => new MemoryLogTransport({ broker: any('memory') }), 'broker'],
    ['broker: {}', () => new MemoryLogTransport({ broker: any({}) }), 'broker'],
    ['broker: Object.create(null)', () => new MemoryLogTransport({ broker: bare() }), 'broker'],
    ['broker: its options', () => new MemoryLogTransport({ broker: any({ clock: systemClock }) }), 'broker'],
    ['clock: {}', () => new MemoryLogTransport({ clock: any({}) }), 'clock'],
    ['clock: Object.create(null)', () => new MemoryLogTransport({ clock: bare() }), 'clock'],
    ['clock: a function', () => new MemoryLogTransport({ clock: any(() => Date.now()) }), 'clock'],
    [
      "clock other than the broker's",
      () => new MemoryLogTransport({ broker: new MemoryBroker({ clock: new FakeClock() }), clock: systemClock }),
      'clock',
    ],
    ['gaugeIntervalMs: 0', () => new MemoryLogTransport({ gaugeIntervalMs: 0 }), 'gaugeIntervalMs'],
    ['gaugeIntervalMs: -5', () => new MemoryLogTransport({ gaugeIntervalMs: -5 }), 'gaugeIntervalMs'],
    ['gaugeIntervalMs: NaN', () => new MemoryLogTransport({ gaugeIntervalMs: Number.NaN }), 'gaugeIntervalMs'],
    ['gaugeIntervalMs: Infinity', () => new MemoryLogTransport({ gaugeIntervalMs: Infinity }), 'gaugeIntervalMs'],
    ["gaugeIntervalMs: '5000'", () => new MemoryLogTransport({ gaugeIntervalMs: any('5000') }), 'gaugeIntervalMs'],
    ['gaugeIntervalMs: a Symbol', () => new MemoryLogTransport({ gaugeIntervalMs: sym() }), 'gaugeIntervalMs'],
    [
      'gaugeIntervalMs: Object.create(null)',
      () => new MemoryLogTransport({ gaugeIntervalMs: bare() }),
      'gaugeIntervalMs',
    ],
    ["autoCreate: 'false'", () => new MemoryLogTransport({ autoCreate: any('false') }), 'autoCreate'],
    ['autoCreate: 0', () => new MemoryLogTransport({ autoCreate: any(0) }), 'autoCreate'],
    ['autoCreate: a Symbol', () => new MemoryLogTransport({ autoCreate: sym() }), 'autoCreate'],
    ['autoCreatePartitions: 0', () => new MemoryLogTransport({ autoCreatePartitions: 0 }), 'autoCreatePartitions'],
    ['autoCreatePartitions: 1.5', () => new MemoryLogTransport({ autoCreatePartitions: 1.5 }), 'autoCreatePartitions'],
    [
      'autoCreatePartitions: NaN',
      () => new MemoryLogTransport({ autoCreatePartitions: Number.NaN }),
      'autoCreatePartitions',
    ],
    [
      'autoCreatePartitions: Infinity',
      () => new MemoryLogTransport({ autoCreatePartitions: Infinity }),
      'autoCreatePartitions',
    ],
    [
      "autoCreatePartitions: '3'",
      () => new MemoryLogTransport({ autoCreatePartitions: any('3') }),
      'autoCreatePartitions',
    ],
    [
      'autoCreatePartitions: a Symbol',
      () => new MemoryLogTransport({ autoCreatePartitions: sym() }),
      'autoCreatePartitions',
    ],
    [
      'autoCreatePartitions: Object.create(null)',
      () => new MemoryLogTransport({ autoCreatePartitions: bare() }),
      'autoCreatePartitions',
    ],
    ["assignor: 'sticky'", () => new MemoryLogTransport({ assignor: any('sticky') }), 'assignor'],
  ])('refuses %s', (_name, build, option) => expectRefused(build, option));

  it.each<[string, () => MemoryLogTransport]>([
    ['no options', () => new MemoryLogTransport()],
    ['{}', () => new MemoryLogTransport({})],
    ['a broker', () => new MemoryLogTransport({ broker: new MemoryBroker() })],
    [
      "a broker and the broker's clock",
      () => {
        const broker = new MemoryBroker({ clock: new FakeClock() });
        return new MemoryLogTransport({ broker, clock: broker.clock });
      },
    ],
    ['a clock for a new broker', () => new MemoryLogTransport({ clock: new FakeClock() })],
    ['autoCreate: false', () => new MemoryLogTransport({ broker: new MemoryBroker(), autoCreate: false })],
    [
      'every option',
      () =>
        new MemoryLogTransport({
          broker: new MemoryBroker(),
          autoCreate: true,
          autoCreatePartitions: 1,
          assignor: 'round-robin',
          gaugeIntervalMs: 1_000,
        }),
    ],
    [
      'explicit undefined values',
      () => new MemoryLogTransport(any({ broker: undefined, clock: undefined, assignor: undefined })),
    ],
  ])('still constructs with %s', (_name, build) => {
    expect(build()).toBeInstanceOf(MemoryLogTransport);
  });

  it('names the known options when refusing an unknown one', () => {
    expect(optionError(() => new MemoryLogTransport(any({ partitions: 3 }))).message).toContain(
      'known options: broker, clock, gaugeIntervalMs, autoCreate, assignor, autoCreatePartitions',
    );
  });
});

describe('MemoryQueueTransport options', () => {
  it.each<Row>([
    ['null options', () => new MemoryQueueTransport(any(null)), 'options'],
    ['a string as options', () => new MemoryQueueTransport(any('fifo')), 'options'],
    ['a log-transport option', () => new MemoryQueueTransport(any({ assignor: 'range' })), 'assignor'],
    [
      'autoCreatePartitions (log only)',
      () => new MemoryQueueTransport(any({ autoCreatePartitions: 3 })),
      'autoCreatePartitions',
    ],
    ['a misspelt key', () => new MemoryQueueTransport(any({ visibilityTimeout: 1_000 })), 'visibilityTimeout'],
    ['broker: a number', () => new MemoryQueueTransport({ broker: any(1) }), 'broker'],
    ['clock: {}', () => new MemoryQueueTransport({ clock: any({}) }), 'clock'],
    ['clock: a Symbol', () => new MemoryQueueTransport({ clock: sym() }), 'clock'],
    ['gaugeIntervalMs: a Symbol', () => new MemoryQueueTransport({ gaugeIntervalMs: sym() }), 'gaugeIntervalMs'],
    ["autoCreate: 'no'", () => new MemoryQueueTransport({ autoCreate: any('no') }), 'autoCreate'],
    ["fifo: 'true'", () => new MemoryQueueTransport({ fifo: any('true') }), 'fifo'],
    ['fifo: 1', () => new MemoryQueueTransport({ fifo: any(1) }), 'fifo'],
    ['visibilityTimeoutMs: 0', () => new MemoryQueueTransport({ visibilityTimeoutMs: 0 }), 'visibilityTimeoutMs'],
    ['visibilityTimeoutMs: -1', () => new MemoryQueueTransport({ visibilityTimeoutMs: -1 }), 'visibilityTimeoutMs'],
    [
      'visibilityTimeoutMs: past 12 hours',
      () => new MemoryQueueTransport({ visibilityTimeoutMs: 43_200_001 }),
      'visibilityTimeoutMs',
    ],
    [
      'visibilityTimeoutMs: NaN',
      () => new MemoryQueueTransport({ visibilityTimeoutMs: Number.NaN }),
      'visibilityTimeoutMs',
    ],
    [
      'visibilityTimeoutMs: Infinity',
      () => new MemoryQueueTransport({ visibilityTimeoutMs: Infinity }),
      'visibilityTimeoutMs',
    ],
    [
      "visibilityTimeoutMs: '30000'",
      () => new MemoryQueueTransport({ visibilityTimeoutMs: any('30000') }),
      'visibilityTimeoutMs',
    ],
    [
      'visibilityTimeoutMs: a Symbol',
      () => new MemoryQueueTransport({ visibilityTimeoutMs: sym() }),
      'visibilityTimeoutMs',
    ],
    [
      'visibilityTimeoutMs: Object.create(null)',
      () => new MemoryQueueTransport({ visibilityTimeoutMs: bare() }),
      'visibilityTimeoutMs',
    ],
    ['autoCreateQueue: a string', () => new MemoryQueueTransport({ autoCreateQueue: any('fifo') }), 'autoCreateQueue'],
    ['autoCreateQueue: an array', () => new MemoryQueueTransport({ autoCreateQueue: any([]) }), 'autoCreateQueue'],
    [
      'autoCreateQueue: a misspelt key',
      () => new MemoryQueueTransport({ autoCreateQueue: any({ visibilityTimeout: 1_000 }) }),
      'autoCreateQueue.visibilityTimeout',
    ],
    [
      'autoCreateQueue.visibilityTimeoutMs: past 12 hours',
      () => new MemoryQueueTransport({ autoCreateQueue: { visibilityTimeoutMs: 43_200_001 } }),
      'autoCreateQueue.visibilityTimeoutMs',
    ],
    [
      'autoCreateQueue.delayMs: past 15 minutes',
      () => new MemoryQueueTransport({ autoCreateQueue: { delayMs: 900_001 } }),
      'autoCreateQueue.delayMs',
    ],
    [
      'autoCreateQueue.retentionMs: under a minute',
      () => new MemoryQueueTransport({ autoCreateQueue: { retentionMs: 1 } }),
      'autoCreateQueue.retentionMs',
    ],
    [
      'autoCreateQueue.deduplicationWindowMs: 0',
      () => new MemoryQueueTransport({ autoCreateQueue: { deduplicationWindowMs: 0 } }),
      'autoCreateQueue.deduplicationWindowMs',
    ],
    [
      'autoCreateQueue.maxReceiveCount without deadLetterQueue',
      () => new MemoryQueueTransport({ autoCreateQueue: { maxReceiveCount: 3 } }),
      'autoCreateQueue.maxReceiveCount',
    ],
    [
      'autoCreateQueue.maxReceiveCount: 0',
      () => new MemoryQueueTransport({ autoCreateQueue: { maxReceiveCount: 0, deadLetterQueue: 'dlq' } }),
      'autoCreateQueue.maxReceiveCount',
    ],
    [
      'autoCreateQueue.deadLetterQueue: a number',
      () => new MemoryQueueTransport({ autoCreateQueue: { maxReceiveCount: 3, deadLetterQueue: any(42) } }),
      'autoCreateQueue.deadLetterQueue',
    ],
    [
      "autoCreateQueue.contentBasedDeduplication: 'yes'",
      () => new MemoryQueueTransport({ autoCreateQueue: { contentBasedDeduplication: any('yes') } }),
      'autoCreateQueue.contentBasedDeduplication',
    ],
  ])('refuses %s', (_name, build, option) => expectRefused(build, option));

  it.each<[string, () => MemoryQueueTransport]>([
    ['no options', () => new MemoryQueueTransport()],
    ['fifo: true', () => new MemoryQueueTransport({ fifo: true })],
    [
      'a broker, a lease and fifo',
      () => new MemoryQueueTransport({ broker: new MemoryBroker(), visibilityTimeoutMs: 10_000, fifo: false }),
    ],
    [
      'the conformance router options',
      () =>
        new MemoryQueueTransport({
          broker: new MemoryBroker(),
          fifo: true,
          autoCreate: false,
          visibilityTimeoutMs: 500,
        }),
    ],
    ['an empty autoCreateQueue', () => new MemoryQueueTransport({ autoCreateQueue: {} })],
    [
      'a redrive policy for queues created later (the DLQ need not exist yet)',
      () => new MemoryQueueTransport({ autoCreateQueue: { maxReceiveCount: 3, deadLetterQueue: 'dlq' } }),
    ],
    ['explicit undefined values', () => new MemoryQueueTransport(any({ fifo: undefined, autoCreateQueue: undefined }))],
  ])('still constructs with %s', (_name, build) => {
    expect(build()).toBeInstanceOf(MemoryQueueTransport);
  });

  it('still creates unknown queues with autoCreateQueue', async () => {
    const broker = new MemoryBroker({ clock: new FakeClock() });
    const transport = new MemoryQueueTransport({ broker, autoCreateQueue: { visibilityTimeoutMs: 1_000 } });
    await transport.start();
    await transport.publish('jobs', [outgoing('a')]);
    await transport.publish('jobs.fifo', [outgoing('b', { key: 'k' })]);
    expect(broker.queue('jobs').visibilityTimeoutMs).toBe(1_000);
    expect(broker.queue('jobs.fifo').fifo).toBe(true);
    await transport.close();
  });
});

describe('subscription specs of the in-memory transports', () => {
  it.each<[string, Partial<Parameters<MemoryLogTransport['subscribe']>[0]>, string]>([
    ['maxInFlight: a Symbol', { maxInFlight: sym() }, 'maxInFlight'],
    ['maxInFlight: Object.create(null)', { maxInFlight: bare() }, 'maxInFlight'],
    ['maxInFlightBytes: a Symbol', { maxInFlightBytes: sym() }, 'maxInFlightBytes'],
    ['maxInFlightBytes: Object.create(null)', { maxInFlightBytes: bare() }, 'maxInFlightBytes'],
  ])('%s rejects with an InvalidOptionError, not a TypeError', async (_name, fields, option) => {
    for (const transport of [new MemoryLogTransport(), new MemoryQueueTransport()]) {
      await transport.start();
      await expect(transport.subscribe(spec('orders', fields), new CollectingSink().sink)).rejects.toMatchObject({
        name: 'InvalidOptionError',
        option,
      });
      await transport.close();
    }
  });
});
