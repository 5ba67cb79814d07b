import { SNSClient } from '@aws-sdk/client-sns';
import { errorCodeOf, InvalidOptionError } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { preparePublish, SnsTransport, snsPublishOnlyCapabilities, splitPublishBatches } from '../../src/index.js';

const client = new SNSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const encoder = new TextEncoder();
const message = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  key: undefined as string | undefined,
  body: encoder.encode('{"a":1}'),
  headers: { 'sy-id': id, 'sy-type': 'OrderPlaced' } as Record<string, string>,
  timestamp: 0,
  ...extra,
});

describe('SnsTransport', () => {
  it('publishes only unless given a transport to consume with, and says how to consume', async () => {
    const transport = new SnsTransport({ client });
    expect(transport.system).toBe('aws.sns');
    expect(transport.capabilities).toEqual(snsPublishOnlyCapabilities);
    const error = await transport
      .subscribe(
        {
          destination: 'orders',
          consumerGroup: 'g',
          semantics: 'at-least-once',
          startFrom: 'earliest',
          maxInFlight: 1,
          maxInFlightBytes: 1,
          observer: { lag: () => {}, depth: () => {} },
        },
        async () => {},
      )
      .catch((e: unknown) => e);
    expect(errorCodeOf(error)).toBe('SWITCHYARD_CAPABILITY');
    expect((error as Error).message).toMatch(/subscribe an SQS queue to the topic/);
  });

  it('refuses wrong options at construction', () => {
    expect(() => new SnsTransport({} as never)).toThrow(InvalidOptionError);
    expect(() => new SnsTransport({ client, topicArnPrefix: 'orders' })).toThrow(/topicArnPrefix/);
    expect(() => new SnsTransport({ client, consumeWith: {} as never })).toThrow(/consumeWith/);
    expect(() => new SnsTransport({ client, publishConcurrency: 0 })).toThrow(/publishConcurrency/);
  });
});

describe('preparePublish', () => {
  it('keeps sy-type an attribute of its own for filter policies, within the ten SNS hands to SQS', () => {
    const headers = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`x-${i}`, String(i)]));
    const entry = preparePublish(message('a', { headers: { ...headers, 'sy-type': 'OrderPlaced' } }), {
      topic: 't',
      fifo: false,
    });
    expect(Object.keys(entry.attributes)).toHaveLength(10);
    expect(entry.attributes['sy-type']).toEqual({ DataType: 'String', StringValue: 'OrderPlaced' });
  });

  it('refuses delays and oversized messages, and gives FIFO topics group and deduplication ids', () => {
    expect(
      errorCodeOf(catchError(() => preparePublish(message('a', { delayMs: 10 }), { topic: 't', fifo: false }))),
    ).toBe('SWITCHYARD_CAPABILITY');
    const big = message('b', { body: encoder.encode('x'.repeat(262_144)) });
    expect(errorCodeOf(catchError(() => preparePublish(big, { topic: 't', fifo: false })))).toBe(
      'SWITCHYARD_MESSAGE_TOO_LARGE',
    );
    const fifo = preparePublish(message('c', { key: 'order-1' }), { topic: 't.fifo', fifo: true });
    expect([fifo.groupId, fifo.deduplicationId]).toEqual(['order-1', 'c']);
  });

  it('splits batches by ten entries and 256 KiB', () => {
    const entries = Array.from({ length: 12 }, (_, i) =>
      preparePublish(message(`m${i}`, { body: encoder.encode('x'.repeat(i < 3 ? 100_000 : 10)) }), {
        topic: 't',
        fifo: false,
      }),
    );
    expect(splitPublishBatches(entries).map((b) => b.length)).toEqual([2, 10]);
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}
