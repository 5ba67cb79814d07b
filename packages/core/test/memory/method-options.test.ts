// The options objects of the in-memory broker's methods (receive, joinGroup, resetGroup, subscribe,
// publish, writeDeadLetter, inspectDeadLetters, redrive) and of resolvePosition are checked as
// createQueue's and createTopic's are: a non-object, an unknown key or a wrong value is an
// InvalidOptionError naming `<method>.<option>` and the fix, never a TypeError (a Symbol or a
// null-prototype object included), never a silent default. One row per bad input; every call the
// repository makes, spreads with keys set to undefined included, still works.

import { describe, expect, it } from 'vitest';
import type { DeadLetterRecord } from '../../src/dead-letter.js';
import { InvalidOptionError } from '../../src/errors.js';
import { MemoryBroker } from '../../src/memory/broker.js';
import { FakeClock } from '../support/fake-clock.js';
import { optionError } from '../support/option-error.js';
import { bytes, outgoing, text } from './helpers.js';

const bare = () => Object.create(null) as never;
const sym = () => Symbol('garbage') as never;
const any = (value: unknown) => value as never;
const noop = { onAssign: () => {}, onRevoke: () => {} };

/** A broker with a 1-partition topic 't', queues 'q' and 'dlq' (empty), and a fan-out 'f'. */
function setup(): MemoryBroker {
  const broker = new MemoryBroker({ clock: new FakeClock() });
  broker.createTopic('t', { partitions: 1 });
  broker.createQueue('q');
  broker.createQueue('dlq');
  broker.createFanout('f');
  return broker;
}

const record: DeadLetterRecord = {
  source: { kind: 'queue', queue: 'q', messageId: 'sqs-1', receiveCount: 4 },
  consumerGroup: 'worker',
  messageId: 'env-1',
  messageType: 'ChargeCard',
  attempts: 4,
  firstFailureAt: 1,
  lastFailureAt: 2,
  reason: 'retries-exhausted',
  error: { className: 'Error', code: 'SWITCHYARD_HANDLER', message: 'boom', stack: 'Error: boom' },
  body: bytes('{"amount":5}'),
  headers: { 'sy-type': 'ChargeCard' },
  key: 'acct-9',
};

/** The InvalidOptionError `run` throws or rejects with (anything else, or nothing, fails the test). */
async function refusal(run: () => unknown): Promise<InvalidOptionError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error('expected an InvalidOptionError');
}

type Row = readonly [name: string, run: (broker: MemoryBroker) => unknown, option: string];

async function expectRefused(run: (broker: MemoryBroker) => unknown, option: string): Promise<void> {
  const error = await refusal(() => run(setup()));
  expect(error.option).toBe(option);
  expect(error.message).toMatch(/\. Fix: \S/);
}

describe('MemoryBroker receive options', () => {
  it.each<Row>([
    ['null options', (b) => b.receive('q', any(null)), 'receive'],
    ['a string as options', (b) => b.receive('q', any('maxMessages')), 'receive'],
    ['an array as options', (b) => b.receive('q', any([10])), 'receive'],
    ['a misspelt key', (b) => b.receive('q', any({ maxMessage: 5 })), 'receive.maxMessage'],
    ['an unknown key holding undefined', (b) => b.receive('q', any({ wait: undefined })), 'receive.wait'],
    ['a queue option', (b) => b.receive('q', any({ delayMs: 0 })), 'receive.delayMs'],
    ['maxMessages: a Symbol', (b) => b.receive('q', { maxMessages: sym() }), 'receive.maxMessages'],
    ['maxMessages: Object.create(null)', (b) => b.receive('q', { maxMessages: bare() }), 'receive.maxMessages'],
    ['signal: a string', (b) => b.receive('q', { signal: any('abort') }), 'receive.signal'],
    ['signal: {}', (b) => b.receive('q', { signal: any({}) }), 'receive.signal'],
    ['signal: null', (b) => b.receive('q', { signal: any(null) }), 'receive.signal'],
    ['on the queue itself: null options', (b) => b.queue('q').receive(any(null)), 'receive'],
  ])('refuses %s', async (_name, run, option) => expectRefused(run, option));

  it('still receives with the options the repository passes', async () => {
    const broker = setup();
    broker.send('q', [{ body: bytes('a') }, { body: bytes('b') }, { body: bytes('c') }, { body: bytes('d') }]);
    expect(await broker.receive('q')).toHaveLength(1);
    expect(await broker.receive('q', {})).toHaveLength(1);
    const abort = new AbortController();
    // The queue transport's receive loop.
    expect(
      await broker
        .queue('q')
        .receive({ maxMessages: 10, waitTimeMs: 0, visibilityTimeoutMs: 500, signal: abort.signal }),
    ).toHaveLength(2);
    expect(
      await broker.receive(
        'q',
        any({ maxMessages: undefined, waitTimeMs: undefined, visibilityTimeoutMs: undefined, signal: undefined }),
      ),
    ).toEqual([]);
    expect(await broker.receive('q', Object.assign(bare(), { maxMessages: 10 }))).toEqual([]);
  });

  it('says what the wrong value was', async () => {
    expect((await refusal(() => setup().receive('q', { maxMessages: sym() }))).message).toContain('Symbol(garbage)');
    expect((await refusal(() => setup().receive('q', { maxMessages: bare() }))).message).toContain('cannot be shown');
    expect((await refusal(() => setup().receive('q', any({ max: 1 })))).message).toContain(
      'known options: maxMessages, waitTimeMs, visibilityTimeoutMs, signal',
    );
  });
});

describe('MemoryBroker consumer-group options', () => {
  it.each<Row>([
    ['joinGroup null options', (b) => b.joinGroup('g', 't', any(null)), 'joinGroup'],
    ['joinGroup a string as options', (b) => b.joinGroup('g', 't', any('range')), 'joinGroup'],
    ['joinGroup the listener as options', (b) => b.joinGroup('g', 't', any(noop)), 'joinGroup.onAssign'],
    ['joinGroup a misspelt listener', (b) => b.joinGroup('g', 't', any({ listner: noop })), 'joinGroup.listner'],
    [
      'joinGroup an unknown key beside a listener',
      (b) => b.joinGroup('g', 't', any({ listener: noop, assigner: 'range' })),
      'joinGroup.assigner',
    ],
    [
      "joinGroup assignor: 'sticky'",
      (b) => b.joinGroup('g', 't', { assignor: any('sticky'), listener: noop }),
      'joinGroup.assignor',
    ],
    [
      'joinGroup assignor: a Symbol',
      (b) => b.joinGroup('g', 't', { assignor: sym(), listener: noop }),
      'joinGroup.assignor',
    ],
    ['joinGroup listener: missing', (b) => b.joinGroup('g', 't', any({})), 'joinGroup.listener'],
    [
      'joinGroup listener without onRevoke',
      (b) => b.joinGroup('g', 't', { listener: any({ onAssign: () => {} }) }),
      'joinGroup.listener',
    ],
    [
      'joinGroup listener: Object.create(null)',
      (b) => b.joinGroup('g', 't', { listener: bare() }),
      'joinGroup.listener',
    ],
    ['resetGroup null options', (b) => b.resetGroup('g', 't', any(null)), 'resetGroup'],
    ['resetGroup a misspelt key', (b) => b.resetGroup('g', 't', any({ too: 'earliest' })), 'resetGroup.too'],
    ["resetGroup to: 'beginning'", (b) => b.resetGroup('g', 't', { to: any('beginning') }), 'resetGroup.to'],
    ['resetGroup to: a Symbol', (b) => b.resetGroup('g', 't', { to: sym() }), 'resetGroup.to'],
    ['resetGroup to: {}', (b) => b.resetGroup('g', 't', { to: any({}) }), 'resetGroup.to'],
    [
      'resetGroup to: both an offset and a timestamp',
      (b) => b.resetGroup('g', 't', { to: any({ offset: '1', timestamp: 5 }) }),
      'resetGroup.to',
    ],
    ['resetGroup to: { offest }', (b) => b.resetGroup('g', 't', { to: any({ offest: '1' }) }), 'resetGroup.to.offest'],
    [
      'resetGroup to.offset: a Symbol',
      (b) => b.resetGroup('g', 't', { to: { offset: sym() } }),
      'resetGroup.to.offset',
    ],
    [
      'resetGroup to.offset: Object.create(null)',
      (b) => b.resetGroup('g', 't', { to: { offset: bare() } }),
      'resetGroup.to.offset',
    ],
    [
      "resetGroup to.timestamp: '5'",
      (b) => b.resetGroup('g', 't', { to: { timestamp: any('5') } }),
      'resetGroup.to.timestamp',
    ],
    [
      "resetGroup partitions: 'all'",
      (b) => b.resetGroup('g', 't', { to: 'earliest', partitions: any('all') }),
      'resetGroup.partitions',
    ],
    [
      'resetGroup partitions: [a Symbol]',
      (b) => b.resetGroup('g', 't', { to: 'earliest', partitions: [sym()] }),
      'resetGroup.partitions',
    ],
    [
      'resetGroup partitions: one the topic lacks',
      (b) => b.resetGroup('g', 't', { to: 'earliest', partitions: [7] }),
      'resetGroup.partitions',
    ],
    ["resolvePosition 'beginning'", (b) => b.resolvePosition('t', 0, any('beginning')), 'position'],
    ['resolvePosition { offset: a Symbol }', (b) => b.resolvePosition('t', 0, { offset: sym() }), 'position.offset'],
  ])('refuses %s', async (_name, run, option) => expectRefused(run, option));

  it('resets nothing when one of the partitions is wrong', () => {
    const broker = new MemoryBroker();
    broker.createTopic('t', { partitions: 2 });
    broker.append('t', [{ body: bytes('a'), partition: 0 }]);
    broker.commitOffset('g', 't', 0, '1');
    expect(() => broker.resetGroup('g', 't', { to: 'earliest', partitions: [0, 2] })).toThrow(InvalidOptionError);
    expect(broker.committed('g', 't')).toEqual({ 0: '1' });
  });

  it('still joins and resets with the options the repository passes', () => {
    const broker = setup();
    broker.append('t', [{ body: bytes('a') }, { body: bytes('b') }]);
    const member = broker.joinGroup('g', 't', { listener: noop });
    broker.joinGroup('g', 't', any({ assignor: undefined, listener: noop }));
    expect(member.assignment()).toEqual([0]);
    expect(broker.joinGroup('h', 't', { assignor: 'round-robin', listener: noop }).assignment()).toEqual([0]);
    expect(broker.resetGroup('r', 't', { to: 'earliest' })).toEqual({ 0: '0' });
    expect(broker.resetGroup('r', 't', { to: { offset: '1' } })).toEqual({ 0: '1' });
    expect(broker.resetGroup('r', 't', { to: 'latest', partitions: [0] })).toEqual({ 0: '2' });
    expect(broker.resetGroup('r', 't', any({ to: 'earliest', partitions: undefined }))).toEqual({ 0: '0' });
    expect(broker.resetGroup('r', 't', { to: { timestamp: 0 } })).toEqual({ 0: '0' });
  });

  it('reads an offset beside timestamp: undefined (a spread) as the offset', () => {
    const broker = setup();
    broker.append('t', [{ body: bytes('a') }, { body: bytes('b') }]);
    expect(broker.resolvePosition('t', 0, any({ offset: '1', timestamp: undefined }))).toBe(1);
    expect(broker.resetGroup('r', 't', { to: any({ timestamp: undefined, offset: '1' }) })).toEqual({ 0: '1' });
  });
});

describe('MemoryBroker fan-out, publish and dead-letter options', () => {
  it.each<Row>([
    ['subscribe null options', (b) => b.subscribe('f', 'q', any(null)), 'subscribe'],
    ['subscribe a string as options', (b) => b.subscribe('f', 'q', any('raw')), 'subscribe'],
    ['subscribe a misspelt key', (b) => b.subscribe('f', 'q', any({ filtr: () => true })), 'subscribe.filtr'],
    ["subscribe raw: 'false'", (b) => b.subscribe('f', 'q', { raw: any('false') }), 'subscribe.raw'],
    ['subscribe raw: a Symbol', (b) => b.subscribe('f', 'q', { raw: sym() }), 'subscribe.raw'],
    ['subscribe filter: a string', (b) => b.subscribe('f', 'q', { filter: any('OrderPaid') }), 'subscribe.filter'],
    ['subscribe filter: Object.create(null)', (b) => b.subscribe('f', 'q', { filter: bare() }), 'subscribe.filter'],
    ['publish null options', (b) => b.publish('new', [outgoing('x')], any(null)), 'publish'],
    [
      'publish a misspelt key',
      (b) => b.publish('new', [outgoing('x')], any({ autocreate: 'queue' })),
      'publish.autocreate',
    ],
    [
      "publish autoCreate: 'fanout'",
      (b) => b.publish('new', [outgoing('x')], { autoCreate: any('fanout') }),
      'publish.autoCreate',
    ],
    [
      'publish autoCreate: true',
      (b) => b.publish('new', [outgoing('x')], { autoCreate: any(true) }),
      'publish.autoCreate',
    ],
    [
      'publish autoCreate: a Symbol',
      (b) => b.publish('new', [outgoing('x')], { autoCreate: sym() }),
      'publish.autoCreate',
    ],
    ['publish null options to a queue that exists', (b) => b.publish('q', [outgoing('x')], any(null)), 'publish'],
    ['writeDeadLetter null options', (b) => b.writeDeadLetter('new-dlq', record, any(null)), 'writeDeadLetter'],
    [
      'writeDeadLetter a misspelt key',
      (b) => b.writeDeadLetter('new-dlq', record, any({ autocreate: 'topic' })),
      'writeDeadLetter.autocreate',
    ],
    [
      "writeDeadLetter autoCreate: 'log'",
      (b) => b.writeDeadLetter('new-dlq', record, { autoCreate: any('log') }),
      'writeDeadLetter.autoCreate',
    ],
    ['inspectDeadLetters null options', (b) => b.inspectDeadLetters('dlq', any(null)), 'inspectDeadLetters'],
    [
      'inspectDeadLetters a misspelt key',
      (b) => b.inspectDeadLetters('dlq', any({ max: 5 })),
      'inspectDeadLetters.max',
    ],
    [
      "inspectDeadLetters limit: '5'",
      (b) => b.inspectDeadLetters('dlq', { limit: any('5') }),
      'inspectDeadLetters.limit',
    ],
    ['inspectDeadLetters limit: -1', (b) => b.inspectDeadLetters('dlq', { limit: -1 }), 'inspectDeadLetters.limit'],
    [
      'inspectDeadLetters limit: a Symbol',
      (b) => b.inspectDeadLetters('dlq', { limit: sym() }),
      'inspectDeadLetters.limit',
    ],
  ])('refuses %s', async (_name, run, option) => expectRefused(run, option));

  it('creates nothing when publish options are wrong', () => {
    const broker = setup();
    optionError(() => broker.publish('new', [outgoing('x')], { autoCreate: any('fanout') }));
    expect(broker.kindOf('new')).toBeUndefined();
  });

  it('still subscribes, publishes and writes dead letters with the options the repository passes', () => {
    const broker = setup();
    broker.createQueue('r');
    broker.createQueue('s');
    broker.subscribe('f', 'q');
    broker.subscribe('f', 'r', { raw: false });
    broker.subscribe('f', 's', any({ filter: undefined, raw: undefined }));
    broker.subscribe('f', 'dlq', { filter: (headers) => headers['sy-type'] === 'Nothing' });
    broker.publish('f', [outgoing('x')]);
    expect([broker.depth('q').visible, broker.depth('r').visible, broker.depth('s').visible]).toEqual([1, 1, 1]);
    broker.publish('auto-q', [outgoing('y')], { autoCreate: 'queue' });
    broker.publish('auto-t', [outgoing('z')], { autoCreate: 'topic' });
    broker.publish('q', [outgoing('w')], any({ autoCreate: undefined }));
    expect([broker.kindOf('auto-q'), broker.kindOf('auto-t')]).toEqual(['queue', 'topic']);
    // The transports' dead-letter writes.
    broker.writeDeadLetter('dlq-t', record, { autoCreate: 'topic' });
    broker.writeDeadLetter('dlq-q', record, { autoCreate: 'queue' });
    broker.writeDeadLetter('dlq', record);
    expect(broker.records('dlq-t')).toHaveLength(1);
    expect(broker.inspectDeadLetters('dlq-q')).toHaveLength(1);
    expect(broker.inspectDeadLetters('dlq', { limit: 0 })).toEqual([]);
    expect(broker.inspectDeadLetters('dlq', any({ limit: undefined })).map((e) => text(e.body))).toEqual([
      '{"amount":5}',
    ]);
    expect(broker.inspectDeadLetters('dlq', { limit: Number.POSITIVE_INFINITY })).toHaveLength(1);
  });
});

describe('MemoryBroker redrive options', () => {
  const from = 'dlq';
  it.each<Row>([
    ['null options', (b) => b.redrive(any(null)), 'redrive'],
    ['a string as options', (b) => b.redrive(any('dlq')), 'redrive'],
    ['a misspelt rate', (b) => b.redrive(any({ from, rate: 5 })), 'redrive.rate'],
    ['an unknown key', (b) => b.redrive(any({ from, ratePerSecond: 5, limit: 1 })), 'redrive.limit'],
    ['from: a Symbol', (b) => b.redrive({ from: sym(), ratePerSecond: 5 }), 'redrive.from'],
    ['from: Object.create(null)', (b) => b.redrive({ from: bare(), ratePerSecond: 5 }), 'redrive.from'],
    ['to: a Symbol', (b) => b.redrive({ from, to: sym(), ratePerSecond: 5 }), 'redrive.to'],
    ['to: the dead-letter queue itself', (b) => b.redrive({ from, to: from, ratePerSecond: 5 }), 'redrive.to'],
    ['ratePerSecond: a Symbol', (b) => b.redrive({ from, ratePerSecond: sym() }), 'redrive.ratePerSecond'],
    ['ratePerSecond: Object.create(null)', (b) => b.redrive({ from, ratePerSecond: bare() }), 'redrive.ratePerSecond'],
    ["ratePerSecond: '10'", (b) => b.redrive({ from, ratePerSecond: any('10') }), 'redrive.ratePerSecond'],
    ['ratePerSecond: Infinity', (b) => b.redrive({ from, ratePerSecond: Infinity }), 'redrive.ratePerSecond'],
    ['burst: 0', (b) => b.redrive({ from, ratePerSecond: 5, burst: 0 }), 'redrive.burst'],
    ['burst: a Symbol', (b) => b.redrive({ from, ratePerSecond: 5, burst: sym() }), 'redrive.burst'],
    ['max: a Symbol', (b) => b.redrive({ from, ratePerSecond: 5, max: sym() }), 'redrive.max'],
    ['max: Object.create(null)', (b) => b.redrive({ from, ratePerSecond: 5, max: bare() }), 'redrive.max'],
    ['max: null', (b) => b.redrive({ from, ratePerSecond: 5, max: any(null) }), 'redrive.max'],
    ['signal: a string', (b) => b.redrive({ from, ratePerSecond: 5, signal: any('abort') }), 'redrive.signal'],
    ['signal: {}', (b) => b.redrive({ from, ratePerSecond: 5, signal: any({}) }), 'redrive.signal'],
  ])('refuses %s', async (_name, run, option) => expectRefused(run, option));

  it('says what the wrong value was', async () => {
    const broker = setup();
    expect((await refusal(() => broker.redrive({ from, ratePerSecond: sym() }))).message).toContain('Symbol(garbage)');
    expect((await refusal(() => broker.redrive({ from, ratePerSecond: bare() }))).message).toContain('cannot be shown');
    expect((await refusal(() => broker.redrive(any(null)))).message).not.toContain('leave it out');
  });

  it('still redrives with the options the repository passes', async () => {
    const broker = setup();
    broker.createQueue('elsewhere');
    for (let i = 0; i < 3; i++) broker.writeDeadLetter('dlq', { ...record, body: bytes(`m${i}`) });
    expect(await broker.redrive({ from, to: 'elsewhere', ratePerSecond: 1_000, burst: 10, max: 1 })).toMatchObject({
      moved: 1,
      stopped: 'max',
    });
    const abort = new AbortController();
    expect(
      await broker.redrive(
        any({ from, to: undefined, ratePerSecond: 1_000, burst: 10, max: undefined, signal: abort.signal }),
      ),
    ).toMatchObject({ moved: 2, remaining: 0, stopped: 'drained' });
    expect(await broker.redrive({ from, ratePerSecond: 5 })).toMatchObject({ moved: 0, stopped: 'drained' });
    expect(broker.depth('elsewhere').visible + broker.depth('q').visible).toBe(3);
  });
});
