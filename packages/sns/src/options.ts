// Options of the SNS transport, validated once at construction.

import type { SNSClient } from '@aws-sdk/client-sns';
import {
  assertClock,
  assertLogger,
  assertRandom,
  type Clock,
  InvalidOptionError,
  isOptionObject,
  type Logger,
  optionValueText,
  type RandomSource,
  refuseUnknownKeys,
  silentLogger,
  systemClock,
  systemRandom,
  type Transport,
} from '@switchyard/core';

export const SnsLimits = Object.freeze({
  /** Entries in one PublishBatch. */
  maxBatchEntries: 10,
  /** Message plus attributes, and all entries of one batch: 256 KiB. */
  maxMessageBytes: 262_144,
  /** Attributes SNS hands to an SQS subscription with raw delivery. */
  maxMessageAttributes: 10,
});

export interface SnsTransportOptions {
  /** An AWS SDK v3 SNS client. */
  readonly client: SNSClient;
  /**
   * Consume through this transport (an SqsTransport reading the queues subscribed to the topics).
   * Without it the transport only publishes, and `subscribe` says to subscribe a queue.
   */
  readonly consumeWith?: Transport;
  /**
   * Topic ARNs are this prefix plus the name (`arn:aws:sns:<region>:<account>:`). Without it names
   * are looked up once with ListTopics; ARNs are always accepted as they are.
   */
  readonly topicArnPrefix?: string;
  /** PublishBatch calls in flight at once for standard topics (FIFO topics publish in order). Default 4. */
  readonly publishConcurrency?: number;
  /** Attempts for entries that failed on the server's side. Default 3. */
  readonly publishAttempts?: number;
  readonly clock?: Clock;
  /** Jitter for resending entries the server failed. Default `Math.random`. */
  readonly random?: RandomSource;
  readonly logger?: Logger;
}

export interface ResolvedSnsOptions {
  readonly client: SNSClient;
  readonly consumeWith: Transport | undefined;
  readonly topicArnPrefix: string | undefined;
  readonly publishConcurrency: number;
  readonly publishAttempts: number;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly logger: Logger;
}

function integerIn(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new InvalidOptionError(
      option,
      `must be an integer from ${min} to ${max}, got ${optionValueText(value)}`,
      `pass e.g. ${min}`,
    );
  return value;
}

const TRANSPORT_KEYS: readonly string[] = [
  'client',
  'consumeWith',
  'topicArnPrefix',
  'publishConcurrency',
  'publishAttempts',
  'clock',
  'random',
  'logger',
];

export function resolveSnsOptions(options: SnsTransportOptions): ResolvedSnsOptions {
  // A misspelt option must not fall back to its default silently (core's consume options refuse them too).
  if (isOptionObject(options)) refuseUnknownKeys(options, TRANSPORT_KEYS, 'an SNS transport');
  if (!options || typeof (options.client as Partial<SNSClient> | undefined)?.send !== 'function')
    throw new InvalidOptionError(
      'client',
      'is not an AWS SDK v3 SNSClient',
      "pass new SnsTransport({ client: new SNSClient({ region: 'us-east-1' }) })",
    );
  const consumeWith = options.consumeWith;
  if (consumeWith !== undefined && typeof (consumeWith as Partial<Transport> | null)?.subscribe !== 'function')
    throw new InvalidOptionError('consumeWith', 'is not a transport', 'pass new SqsTransport({ client: sqsClient })');
  if (
    options.topicArnPrefix !== undefined &&
    (typeof options.topicArnPrefix !== 'string' || !/^arn:[^:]+:sns:[^:]*:[^:]*:$/.test(options.topicArnPrefix))
  )
    throw new InvalidOptionError(
      'topicArnPrefix',
      `must look like 'arn:aws:sns:<region>:<account>:', got ${optionValueText(options.topicArnPrefix)}`,
      "pass e.g. 'arn:aws:sns:us-east-1:123456789012:'",
    );
  assertLogger('logger', options.logger);
  assertClock('clock', options.clock);
  assertRandom('random', options.random);
  return {
    client: options.client,
    consumeWith,
    topicArnPrefix: options.topicArnPrefix,
    publishConcurrency: integerIn('publishConcurrency', options.publishConcurrency ?? 4, 1, 64),
    publishAttempts: integerIn('publishAttempts', options.publishAttempts ?? 3, 1, 20),
    clock: options.clock ?? systemClock,
    random: options.random ?? systemRandom,
    logger: options.logger ?? silentLogger,
  };
}
