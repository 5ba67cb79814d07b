import { InvalidOptionError } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { detectHotPartitions, KafkaTransport, type KafkaTransportOptions } from '../src/index.js';
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
    const spec = {
      destination: 'orders',
      consumerGroup: 'g',
      semantics: 'at-least-once' as const,
      startFrom: 'earliest' as const,
      maxInFlight: 10,
      maxInFlightBytes: 1_000,
      observer: { lag() {}, depth() {} },
    };
    await expect(
      transport.subscribe({ ...spec, options: { pattern: 'orders.*' } }, async () => {}),
    ).rejects.toMatchObject({ option: 'options.pattern' });
    await expect(transport.subscribe({ ...spec, options: { ratePerSecond: 0 } }, async () => {})).rejects.toMatchObject(
      { option: 'options.ratePerSecond' },
    );
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
});
