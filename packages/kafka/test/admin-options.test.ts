// KafkaAdmin's options are checked at construction, as the transport's are: a wrong one is an
// InvalidOptionError naming it (never a TypeError, never a silent default). No broker: nothing here
// connects.

import { InvalidOptionError, silentLogger, systemClock } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { KafkaAdmin, type KafkaAdminOptions, KafkaTransport } from '../src/index.js';
import { FakeDriver } from './support/fake-driver.js';

function adminError(options: unknown): InvalidOptionError {
  try {
    new KafkaAdmin(options as KafkaAdminOptions);
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error('expected an InvalidOptionError');
}

describe('KafkaAdmin options', () => {
  it.each<[string, string, () => unknown]>([
    // not an options object
    ['undefined', 'options', () => undefined],
    ['null', 'options', () => null],
    ['a string', 'options', () => '127.0.0.1:9092'],
    ['an array', 'options', () => [new FakeDriver()]],
    ['a Date', 'options', () => new Date()],
    ['a function', 'options', () => () => ({ driver: new FakeDriver() })],
    // unknown top-level keys, named as given
    ['a misspelt clientId', 'clientID', () => ({ driver: new FakeDriver(), clientID: 'ops' })],
    ['a transport-only option', 'consumer', () => ({ driver: new FakeDriver(), consumer: {} })],
    ['a key holding undefined', 'broker', () => ({ driver: new FakeDriver(), broker: undefined })],
    // clientId
    ['an empty clientId', 'clientId', () => ({ brokers: ['127.0.0.1:9092'], clientId: '' })],
    ['a numeric clientId', 'clientId', () => ({ brokers: ['127.0.0.1:9092'], clientId: 42 })],
    ['a null clientId', 'clientId', () => ({ brokers: ['127.0.0.1:9092'], clientId: null })],
    ['a Symbol clientId', 'clientId', () => ({ brokers: ['127.0.0.1:9092'], clientId: Symbol('ops') })],
    ['a null-prototype clientId', 'clientId', () => ({ brokers: ['127.0.0.1:9092'], clientId: Object.create(null) })],
    ['a clientId with a driver', 'clientId', () => ({ driver: new FakeDriver(), clientId: ['ops'] })],
    [
      'a valid clientId with a driver (it names itself)',
      'clientId',
      () => ({ driver: new FakeDriver(), clientId: 'ops' }),
    ],
    // the cluster, checked as the transport checks it
    ['no cluster', 'brokers', () => ({ clientId: 'ops' })],
    ['two clusters', 'brokers', () => ({ brokers: ['127.0.0.1:9092'], driver: new FakeDriver() })],
    ['brokers as one string', 'brokers', () => ({ brokers: '127.0.0.1:9092' })],
    ['no brokers', 'brokers', () => ({ brokers: [] })],
    ['a broker without a port', 'brokers', () => ({ brokers: ['127.0.0.1'] })],
    ['a driver without its functions', 'driver', () => ({ driver: {} })],
  ])('refuses %s, naming %s', (_name, option, options) => {
    const error = adminError(options());
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/\. Fix: \S/);
  });

  it('names the known options when refusing an unknown one', () => {
    const error = adminError({ driver: new FakeDriver(), timeoutMs: 1_000 });
    expect(error.message).toContain('is not a Kafka admin option');
    expect(error.message).toContain('brokers, kafka, driver, clientId, logger, clock');
  });

  it('says what a non-object was', () => {
    expect(adminError(null).message).toContain('got null');
    expect(adminError([]).message).toContain('got an array');
  });

  it.each<[string, () => KafkaAdminOptions]>([
    ['brokers', () => ({ brokers: ['127.0.0.1:9092'] })],
    ['brokers and a clientId', () => ({ brokers: ['127.0.0.1:9092'], clientId: 'ops-admin' })],
    ['a driver', () => ({ driver: new FakeDriver() })],
    ['a driver, logger and clock', () => ({ driver: new FakeDriver(), logger: silentLogger, clock: systemClock })],
    [
      'explicit undefined for optional keys',
      () => ({ driver: new FakeDriver(), clientId: undefined, logger: undefined }),
    ],
    ['a null-prototype options object', () => Object.assign(Object.create(null), { driver: new FakeDriver() })],
  ])('still constructs with %s', (_name, options) => {
    expect(new KafkaAdmin(options())).toBeInstanceOf(KafkaAdmin);
  });

  it("transport.admin() still constructs from the transport's resolved options", () => {
    const transport = new KafkaTransport({ driver: new FakeDriver(), logger: silentLogger, clock: systemClock });
    expect(transport.admin()).toBeInstanceOf(KafkaAdmin);
  });
});
