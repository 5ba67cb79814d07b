import { SQSClient } from '@aws-sdk/client-sqs';
import { InvalidOptionError } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { SqsTransport } from '../../src/index.js';
import { resolveSqsOptions, resolveSubscriptionOptions } from '../../src/options.js';

const client = new SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });

function optionError(fn: () => unknown): InvalidOptionError {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidOptionError) return error;
    throw error;
  }
  throw new Error('no error thrown');
}

describe('SqsTransport options', () => {
  it('declares queue capabilities; the lease is maxProcessingMs with the heartbeat, the visibility timeout without', () => {
    const transport = new SqsTransport({ client, fifo: true, maxProcessingMs: 120_000 });
    expect(transport.system).toBe('aws_sqs');
    expect(transport.capabilities).toEqual({
      model: 'queue',
      ordering: 'group',
      consumerGroups: false,
      replay: false,
      delayedRetry: true,
      maxRetryDelayMs: 43_200_000,
      nativeRedrive: true,
      exactlyOnce: false,
      leaseMs: 120_000,
    });
    const plain = new SqsTransport({ client, visibilityTimeoutS: 45, heartbeatIntervalMs: false });
    expect(plain.capabilities.ordering).toBe('none');
    expect(plain.capabilities.leaseMs).toBe(45_000);
  });

  it('defaults the heartbeat to a third of the visibility timeout', () => {
    expect(resolveSqsOptions({ client }).heartbeatIntervalMs).toBe(10_000);
    expect(resolveSqsOptions({ client, visibilityTimeoutS: 3 }).heartbeatIntervalMs).toBe(1_000);
  });

  it('refuses wrong options at construction, naming the option and the fix', () => {
    const cases: [string, () => unknown][] = [
      ['client', () => new SqsTransport({} as never)],
      ['visibilityTimeoutS', () => new SqsTransport({ client, visibilityTimeoutS: 0.5 })],
      ['visibilityTimeoutS', () => new SqsTransport({ client, visibilityTimeoutS: 50_000 })],
      ['waitTimeSeconds', () => new SqsTransport({ client, waitTimeSeconds: 21 })],
      ['heartbeatIntervalMs', () => new SqsTransport({ client, visibilityTimeoutS: 10, heartbeatIntervalMs: 10_000 })],
      ['heartbeatIntervalMs', () => new SqsTransport({ client, heartbeatIntervalMs: -1 })],
      ['maxProcessingMs', () => new SqsTransport({ client, visibilityTimeoutS: 60, maxProcessingMs: 30_000 })],
      ['maxProcessingMs', () => new SqsTransport({ client, maxProcessingMs: 13 * 3_600_000 })],
      ['maxProcessingMs', () => new SqsTransport({ client, heartbeatIntervalMs: false, maxProcessingMs: 60_000 })],
      ['maxMessageBytes', () => new SqsTransport({ client, maxMessageBytes: 2_000_000 })],
      ['pollers', () => new SqsTransport({ client, pollers: 0 })],
      ['fifo', () => new SqsTransport({ client, fifo: 'yes' as never })],
    ];
    for (const [option, make] of cases) {
      const error = optionError(make);
      expect(error.option, option).toBe(option);
      expect(error.message).toMatch(/Fix: /);
    }
  });

  it('validates per-subscription overrides against the same rules', () => {
    const base = resolveSqsOptions({ client });
    expect(resolveSubscriptionOptions(base, { pollers: 3, visibilityTimeoutS: 6 })).toEqual({
      pollers: 3,
      waitTimeSeconds: 20,
      lease: { visibilityTimeoutS: 6, heartbeatIntervalMs: 2_000, maxProcessingMs: 900_000 },
    });
    expect(resolveSubscriptionOptions(base, { visibilityTimeoutS: 1, heartbeatIntervalMs: false }).lease).toEqual({
      visibilityTimeoutS: 1,
      heartbeatIntervalMs: false,
      maxProcessingMs: 900_000,
    });
    expect(optionError(() => resolveSubscriptionOptions(base, { batchSize: 5 })).option).toBe(
      'subscription.options.batchSize',
    );
    expect(optionError(() => resolveSubscriptionOptions(base, { heartbeatIntervalMs: 40_000 })).option).toBe(
      'subscription.options.heartbeatIntervalMs',
    );
  });
});

describe('SqsTransport options: misspelt keys', () => {
  it('refuses a key it does not know instead of falling back to the default', () => {
    for (const key of ['visibilityTimeout', 'heartbeatMs', 'deadLetterQueue']) {
      let error: unknown;
      try {
        resolveSqsOptions({ client, [key]: 30 } as never);
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(key);
      expect((error as InvalidOptionError).message).toMatch(/is not an SQS transport option\. Fix: remove it; known/);
    }
    expect(() => resolveSqsOptions([client] as never)).toThrow(
      /Invalid option 'options': must be an options object, got an array/,
    );
  });
});
