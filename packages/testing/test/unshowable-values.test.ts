// Values `String()` or a template literal cannot show (a null-prototype object; a Symbol in a
// template) must still end in the intended InvalidOptionError, naming the option, not a TypeError
// from building its message.

import { InvalidOptionError, type SwitchyardEvents, TypedEvents } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import {
  chooseProvider,
  faults,
  injectFaults,
  ManualClock,
  seededRandom,
  spyOn,
  spyOnPublishes,
  startServices,
  TestResources,
  uniqueName,
  WaitTimeoutError,
} from '../src/index.js';

const nullProto = () => Object.create(null) as never;
const symbol = () => Symbol('garbage') as never;

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

async function rejected(run: () => Promise<unknown>): Promise<unknown> {
  return run().then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

function expectOptionError(error: unknown, option: string, shown: RegExp): void {
  expect(error).toBeInstanceOf(InvalidOptionError);
  expect((error as InvalidOptionError).option).toBe(option);
  expect((error as InvalidOptionError).message).toMatch(shown);
}

const cannotBeShown = /cannot be shown/;
const shownSymbol = /Symbol\(garbage\)/;
const any = (value: unknown) => value as never;

/** A publish spy that has already seen 'm-1' to 'orders', so a wait that gets past its checks resolves at once. */
function publishSpy(options?: Parameters<typeof spyOnPublishes>[1]) {
  const events = new TypedEvents<SwitchyardEvents>();
  const spy = spyOnPublishes(events, options);
  events.emit('publisher:message:sent', { destination: 'orders', messageId: 'm-1', type: 'OrderPlaced' });
  return spy;
}

describe('error messages of @switchyard/testing show any value', () => {
  it.each<[string, () => unknown, string, RegExp]>([
    ['seededRandom(null-prototype object)', () => seededRandom(nullProto()), 'seed', cannotBeShown],
    ['seededRandom(Symbol)', () => seededRandom(symbol()), 'seed', shownSymbol],
    [
      'faults.failTimes(null-prototype object)',
      () => faults.failTimes(nullProto()),
      'faults.failTimes(n)',
      cannotBeShown,
    ],
    ['faults.hangFor(null-prototype object)', () => faults.hangFor(nullProto()), 'faults.hangFor(ms)', cannotBeShown],
    ['faults.hangFor times: Symbol', () => faults.hangFor(1, { times: symbol() }), 'faults.hangFor.times', shownSymbol],
    [
      'uniqueName maxLength: null-prototype object',
      () => uniqueName('orders', { maxLength: nullProto() }),
      'uniqueName.maxLength',
      cannotBeShown,
    ],
    [
      'spyOn defaultTimeoutMs: null-prototype object',
      () => spyOn(new TypedEvents<SwitchyardEvents>(), { defaultTimeoutMs: nullProto() }),
      'defaultTimeoutMs',
      cannotBeShown,
    ],
    [
      'MessageSpy.waitFor outcome: null-prototype object',
      () => spyOn(new TypedEvents<SwitchyardEvents>()).waitFor('m-1', nullProto()),
      'outcome',
      cannotBeShown,
    ],
    [
      'MessageSpy.waitForCount count: Symbol',
      () => spyOn(new TypedEvents<SwitchyardEvents>()).waitForCount('acked', symbol()),
      'waitForCount.count',
      shownSymbol,
    ],
    [
      'MessageSpy.waitForCount count: null-prototype object',
      () => spyOn(new TypedEvents<SwitchyardEvents>()).waitForCount('acked', nullProto()),
      'waitForCount.count',
      cannotBeShown,
    ],
    [
      'waitForCalls count: null-prototype object',
      () => injectFaults(() => undefined).waitForCalls(nullProto()),
      'waitForCalls(count)',
      cannotBeShown,
    ],
    ['new ManualClock(Symbol)', () => new ManualClock(symbol()), 'ManualClock.start', shownSymbol],
    ['new ManualClock(null-prototype object)', () => new ManualClock(nullProto()), 'ManualClock.start', cannotBeShown],
    [
      'PublishSpy.waitForCount count: Symbol',
      () => publishSpy().waitForCount(symbol()),
      'waitForCount.count',
      shownSymbol,
    ],
    [
      'PublishSpy.waitForCount count: null-prototype object',
      () => publishSpy().waitForCount(nullProto()),
      'waitForCount.count',
      cannotBeShown,
    ],
    ['PublishSpy.waitFor messageId: Symbol', () => publishSpy().waitFor(symbol()), 'waitFor.messageId', /a symbol/],
    ['uniqueName options: null', () => uniqueName('orders', any(null)), 'options', /got null/],
    ['uniqueName options: Symbol', () => uniqueName('orders', symbol()), 'options', /got a symbol/],
    ['spyOnPublishes options: null', () => publishSpy(any(null)), 'options', /got null/],
    ['PublishSpy.waitFor options: null', () => publishSpy().waitFor('m-1', any(null)), 'waitFor.options', /got null/],
    [
      'PublishSpy.waitForMessage options: null',
      () => publishSpy().waitForMessage(() => true, any(null)),
      'waitForMessage.options',
      /got null/,
    ],
    [
      'PublishSpy.waitForCount options: null',
      () => publishSpy().waitForCount(0, any(null)),
      'waitForCount.options',
      /got null/,
    ],
  ])('%s throws an InvalidOptionError naming the option', (_name, run, option, shown) => {
    expectOptionError(thrown(run), option, shown);
  });

  it.each<[string, () => Promise<unknown>, string, RegExp]>([
    ['ManualClock.advance(Symbol)', () => new ManualClock().advance(symbol()), 'ManualClock.advance(ms)', shownSymbol],
    [
      'ManualClock.advance(null-prototype object)',
      () => new ManualClock().advance(nullProto()),
      'ManualClock.advance(ms)',
      cannotBeShown,
    ],
  ])('%s rejects with an InvalidOptionError naming the option', async (_name, run, option, shown) => {
    expectOptionError(await rejected(run), option, shown);
  });

  it('chooseProvider(null-prototype object) rejects naming provider, without probing', async () => {
    const probe = async () => {
      throw new Error('must not probe');
    };
    expectOptionError(await rejected(() => chooseProvider(nullProto(), {}, probe)), 'provider', cannotBeShown);
  });

  it('startServices refuses a null-prototype object in services before starting anything', async () => {
    const error = await rejected(() => startServices({ services: [nullProto()], provider: 'external', env: {} }));
    expectOptionError(error, 'services', cannotBeShown);
  });

  it('a timed-out wait lists an app:error whose error is a null-prototype object', async () => {
    const events = new TypedEvents<SwitchyardEvents>();
    const spy = spyOn(events);
    events.emit('app:error', { error: Object.create(null), context: 'consumer' });
    const error = await rejected(() => spy.waitFor('m-1', 'acked', { timeoutMs: 5 }));
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as WaitTimeoutError).message).toMatch(/consumer: .*cannot be shown/);
  });
});

describe('options objects of @switchyard/testing', () => {
  it.each<[string, () => unknown, string, RegExp]>([
    ['uniqueName options: a string', () => uniqueName('orders', any('short')), 'options', /got a string/],
    ['uniqueName options: an array', () => uniqueName('orders', any([40])), 'options', /got an array/],
    [
      'uniqueName a misspelt maxLength',
      () => uniqueName('orders', any({ maxLen: 40 })),
      'uniqueName.maxLen',
      /known options: maxLength/,
    ],
    ['TestResources.name options: null', () => new TestResources().name('orders', any(null)), 'options', /got null/],
    ['spyOnPublishes options: a string', () => publishSpy(any('orders')), 'options', /got a string/],
    [
      'spyOnPublishes a wait option',
      () => publishSpy(any({ timeoutMs: 5_000 })),
      'timeoutMs',
      /known options: defaultTimeoutMs, filter/,
    ],
    ['spyOnPublishes filter: a string', () => publishSpy({ filter: any('orders') }), 'filter', /got a string/],
    [
      'PublishSpy.waitFor a misspelt timeoutMs',
      () => publishSpy().waitFor('m-1', any({ timeout: 5 })),
      'waitFor.timeout',
      /known options: timeoutMs, signal/,
    ],
    [
      'PublishSpy.waitForMessage predicate: a string',
      () => publishSpy().waitForMessage(any('OrderPlaced')),
      'waitForMessage.predicate',
      /got a string/,
    ],
    [
      'PublishSpy.waitForMessage a misspelt key',
      () => publishSpy().waitForMessage(() => true, any({ destination: 'orders' })),
      'waitForMessage.destination',
      /known options: timeoutMs, signal/,
    ],
    [
      'PublishSpy.waitForCount a misspelt destination',
      () => publishSpy().waitForCount(0, any({ destinaton: 'orders' })),
      'waitForCount.destinaton',
      /known options: timeoutMs, signal, destination/,
    ],
    [
      'PublishSpy.waitForCount destination: a Symbol',
      () => publishSpy().waitForCount(0, { destination: symbol() }),
      'waitForCount.destination',
      /got a symbol/,
    ],
  ])('%s throws an InvalidOptionError naming the option', (_name, run, option, shown) => {
    expectOptionError(thrown(run), option, shown);
  });

  it('still takes the options the repository passes', async () => {
    expect(uniqueName('orders', undefined)).toMatch(/^orders-[0-9a-z]{12}$/);
    expect(uniqueName('orders', {})).toMatch(/^orders-[0-9a-z]{12}$/);
    expect(uniqueName('fan', { maxLength: 40 }).length).toBeLessThanOrEqual(40);
    expect(uniqueName('orders', any({ maxLength: undefined }))).toMatch(/^orders-/);
    expect(uniqueName('orders', Object.assign(nullProto(), { maxLength: 20 })).length).toBeLessThanOrEqual(20);
    expect(new TestResources().name('orders')).toMatch(/^orders-/);
    const spy = publishSpy({ defaultTimeoutMs: 5_000, filter: (sent) => sent.destination === 'orders' });
    expect((await spy.waitFor('m-1', { timeoutMs: 1_000 })).type).toBe('OrderPlaced');
    expect(await spy.waitForMessage((m) => m.messageId === 'm-1', any({ timeoutMs: undefined }))).toMatchObject({
      messageId: 'm-1',
    });
    expect(await spy.waitForCount(1, { destination: 'orders', signal: new AbortController().signal })).toHaveLength(1);
    expect(await publishSpy(any({ defaultTimeoutMs: undefined, filter: undefined })).waitForCount(1)).toHaveLength(1);
    const clock = new ManualClock(0);
    await clock.advance(5);
    expect(clock.now()).toBe(5);
  });
});
