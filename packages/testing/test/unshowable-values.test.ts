// Values `String()` or a template literal cannot show (a null-prototype object; a Symbol in a
// template) must still end in the intended InvalidOptionError, naming the option, not a TypeError
// from building its message.

import { InvalidOptionError, type SwitchyardEvents, TypedEvents } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import {
  chooseProvider,
  faults,
  injectFaults,
  seededRandom,
  spyOn,
  startServices,
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
  ])('%s throws an InvalidOptionError naming the option', (_name, run, option, shown) => {
    expectOptionError(thrown(run), option, shown);
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
