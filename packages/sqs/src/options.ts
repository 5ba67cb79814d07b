// Options of the SQS transport: one object, merged over exported defaults and validated once at
// construction, including the rules between fields (heartbeat below the visibility timeout, …).

import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  assertClock,
  assertLogger,
  assertRandom,
  type Clock,
  InvalidOptionError,
  isOptionObject,
  type Logger,
  optionKindText,
  optionValueText,
  type RandomSource,
  refuseUnknownKeys,
  silentLogger,
  systemClock,
  systemRandom,
} from '@switchyard/core';

/** SQS limits the transport works within (AWS documentation, "Amazon SQS quotas"). */
export const SqsLimits = Object.freeze({
  /** Longest visibility a message may have in total, counted from its receive: 12 hours. */
  maxVisibilitySeconds: 43_200,
  /** Longest `DelaySeconds` on a message: 15 minutes. */
  maxDelaySeconds: 900,
  /** Entries in one batch call. */
  maxBatchEntries: 10,
  /** Longest long-poll wait. */
  maxWaitTimeSeconds: 20,
  /** Message attributes per message (also what SNS raw delivery hands to SQS). */
  maxMessageAttributes: 10,
  /** Body plus attributes of one message, and of all entries of one batch: 256 KiB. */
  defaultMaxMessageBytes: 262_144,
  /** What AWS raised the per-queue maximum to in 2025 (queues configured for it). */
  maxMessageBytesCeiling: 1_048_576,
});

export interface SqsTransportOptions {
  /** An AWS SDK v3 SQS client (region, credentials, endpoint are the caller's business). */
  readonly client: SQSClient;
  /**
   * The queues this transport consumes are FIFO queues: capabilities say `ordering: 'group'` and a
   * subscription to a standard queue is refused. Default false (ordering `none`).
   */
  readonly fifo?: boolean;
  /**
   * Visibility timeout in whole seconds, passed on every ReceiveMessage so the lease the transport
   * declares is the lease SQS applies, whatever the queue's own default. Default 30 (SQS's default).
   */
  readonly visibilityTimeoutS?: number;
  /** Long-poll wait in seconds (0–20). Default 20. Also the longest `stopFetching()` waits for a poll in flight. */
  readonly waitTimeSeconds?: number;
  /**
   * Cut receives in flight short on `stopFetching()` instead of waiting for them (at most
   * `waitTimeSeconds`). Faster shutdown, but messages SQS handed to a cut request stay invisible for
   * the visibility timeout. Default false.
   */
  readonly abortPollsOnStop?: boolean;
  /** Concurrent ReceiveMessage loops per subscription. Default 1. */
  readonly pollers?: number;
  /**
   * Extend the visibility of received, unsettled messages every this many ms. Must be below the
   * visibility timeout. Default a third of it. `false` turns the heartbeat off (then handlers must
   * finish within the visibility timeout).
   */
  readonly heartbeatIntervalMs?: number | false;
  /**
   * With the heartbeat on, how long a message may be held from its receive before the transport
   * stops extending it and lets it be redelivered. At most 12 hours. Default 15 minutes.
   */
  readonly maxProcessingMs?: number;
  /** How long an ack or visibility change waits for nine more before its batch call goes out. Default 5 ms. */
  readonly settleLingerMs?: number;
  /** Attempts for batch entries that failed on the server's side (not the sender's). Default 3. */
  readonly settleAttempts?: number;
  /** GetQueueAttributes polling for depth gauges, ms; 0 turns it off. Default 30 000. */
  readonly depthIntervalMs?: number;
  /** Largest message (body plus attributes) and batch. Default 262 144 (256 KiB); at most 1 MiB. */
  readonly maxMessageBytes?: number;
  /** SendMessageBatch calls in flight at once for standard queues (FIFO queues send in order). Default 4. */
  readonly publishConcurrency?: number;
  /** Attempts for batch entries that failed on the server's side when publishing. Default 3. */
  readonly publishAttempts?: number;
  readonly clock?: Clock;
  /** Jitter for resending entries the server failed. Default `Math.random`. */
  readonly random?: RandomSource;
  readonly logger?: Logger;
}

/**
 * Per-subscription overrides, passed as `SubscriptionSpec.options`. A lease set here is not in the
 * transport's `capabilities.leaseMs`: keep handler timeouts below it yourself.
 */
export interface SqsSubscriptionOptions {
  readonly pollers?: number;
  readonly waitTimeSeconds?: number;
  readonly visibilityTimeoutS?: number;
  readonly heartbeatIntervalMs?: number | false;
  readonly maxProcessingMs?: number;
}

export const sqsTransportDefaults = Object.freeze({
  fifo: false,
  visibilityTimeoutS: 30,
  waitTimeSeconds: 20,
  pollers: 1,
  maxProcessingMs: 15 * 60_000,
  settleLingerMs: 5,
  settleAttempts: 3,
  depthIntervalMs: 30_000,
  maxMessageBytes: SqsLimits.defaultMaxMessageBytes,
  publishConcurrency: 4,
  publishAttempts: 3,
});

/** How long a received message stays leased, and how it is kept leased. */
export interface LeaseSettings {
  readonly visibilityTimeoutS: number;
  readonly heartbeatIntervalMs: number | false;
  readonly maxProcessingMs: number;
}

export interface ResolvedSqsOptions extends LeaseSettings {
  readonly client: SQSClient;
  readonly fifo: boolean;
  readonly waitTimeSeconds: number;
  readonly abortPollsOnStop: boolean;
  readonly pollers: number;
  readonly settleLingerMs: number;
  readonly settleAttempts: number;
  readonly depthIntervalMs: number;
  readonly maxMessageBytes: number;
  readonly publishConcurrency: number;
  readonly publishAttempts: number;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly logger: Logger;
}

function integerIn(option: string, value: unknown, min: number, max: number, fix: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new InvalidOptionError(
      option,
      `must be an integer from ${min} to ${max}, got ${optionValueText(value)}`,
      fix,
    );
  return value;
}

/** The lease a transport (or one subscription) takes: lease rules between the fields included. */
function resolveLease(
  options: { visibilityTimeoutS?: unknown; heartbeatIntervalMs?: unknown; maxProcessingMs?: unknown },
  prefix: string,
  base: LeaseSettings = {
    visibilityTimeoutS: sqsTransportDefaults.visibilityTimeoutS,
    heartbeatIntervalMs: Math.floor((sqsTransportDefaults.visibilityTimeoutS * 1000) / 3),
    maxProcessingMs: sqsTransportDefaults.maxProcessingMs,
  },
): LeaseSettings {
  const visibilityTimeoutS = integerIn(
    `${prefix}visibilityTimeoutS`,
    options.visibilityTimeoutS ?? base.visibilityTimeoutS,
    1,
    SqsLimits.maxVisibilitySeconds,
    'pass whole seconds, e.g. visibilityTimeoutS: 30',
  );
  const visibilityMs = visibilityTimeoutS * 1000;
  let heartbeatIntervalMs: number | false;
  if (options.heartbeatIntervalMs === false) heartbeatIntervalMs = false;
  else if (options.heartbeatIntervalMs === undefined) {
    // Inherited: off stays off; an interval is kept unless the visibility changed (then a third of it).
    if (base.heartbeatIntervalMs === false) heartbeatIntervalMs = false;
    else
      heartbeatIntervalMs =
        options.visibilityTimeoutS === undefined ? base.heartbeatIntervalMs : Math.floor(visibilityMs / 3);
  } else {
    const value = options.heartbeatIntervalMs;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
      throw new InvalidOptionError(
        `${prefix}heartbeatIntervalMs`,
        `must be a positive number of ms or false, got ${optionValueText(value)}`,
        `pass e.g. heartbeatIntervalMs: ${Math.floor(visibilityMs / 3)} (a third of the visibility timeout)`,
      );
    heartbeatIntervalMs = value;
  }
  if (heartbeatIntervalMs !== false && heartbeatIntervalMs >= visibilityMs)
    throw new InvalidOptionError(
      `${prefix}heartbeatIntervalMs`,
      `${heartbeatIntervalMs} ms is not below the visibility timeout (${visibilityMs} ms): messages would become visible before the first extension`,
      `pass a value below it, e.g. heartbeatIntervalMs: ${Math.floor(visibilityMs / 3)} (a third)`,
    );
  const maxProcessingMs = options.maxProcessingMs ?? base.maxProcessingMs;
  if (typeof maxProcessingMs !== 'number' || !Number.isFinite(maxProcessingMs) || maxProcessingMs <= 0)
    throw new InvalidOptionError(
      `${prefix}maxProcessingMs`,
      `must be a positive number of ms, got ${optionValueText(maxProcessingMs)}`,
      'pass e.g. maxProcessingMs: 900_000',
    );
  if (maxProcessingMs > SqsLimits.maxVisibilitySeconds * 1000)
    throw new InvalidOptionError(
      `${prefix}maxProcessingMs`,
      `${maxProcessingMs} ms exceeds SQS's 12-hour limit on a message's total visibility`,
      'pass at most 43_200_000',
    );
  if (heartbeatIntervalMs !== false && maxProcessingMs < visibilityMs)
    throw new InvalidOptionError(
      `${prefix}maxProcessingMs`,
      `${maxProcessingMs} ms is below the visibility timeout (${visibilityMs} ms), so the heartbeat could never extend anything`,
      'raise maxProcessingMs, or turn the heartbeat off with heartbeatIntervalMs: false',
    );
  if (options.heartbeatIntervalMs === false && options.maxProcessingMs !== undefined)
    throw new InvalidOptionError(
      `${prefix}maxProcessingMs`,
      'only applies with the visibility heartbeat, which heartbeatIntervalMs: false turns off',
      'remove maxProcessingMs or the heartbeatIntervalMs: false',
    );
  return { visibilityTimeoutS, heartbeatIntervalMs, maxProcessingMs };
}

const TRANSPORT_KEYS: readonly string[] = [
  'client',
  'fifo',
  'visibilityTimeoutS',
  'waitTimeSeconds',
  'abortPollsOnStop',
  'pollers',
  'heartbeatIntervalMs',
  'maxProcessingMs',
  'settleLingerMs',
  'settleAttempts',
  'depthIntervalMs',
  'maxMessageBytes',
  'publishConcurrency',
  'publishAttempts',
  'clock',
  'random',
  'logger',
];

export function resolveSqsOptions(options: SqsTransportOptions): ResolvedSqsOptions {
  if (!isOptionObject(options))
    throw new InvalidOptionError(
      'options',
      `must be an options object, got ${optionKindText(options)}`,
      'pass new SqsTransport({ client: new SQSClient({...}) })',
    );
  // A misspelt option must not fall back to its default silently (core's consume options refuse them too).
  refuseUnknownKeys(options, TRANSPORT_KEYS, 'an SQS transport');
  const client = options.client as Partial<SQSClient> | undefined;
  if (!client || typeof client.send !== 'function')
    throw new InvalidOptionError(
      'client',
      'is not an AWS SDK v3 SQSClient',
      "pass client: new SQSClient({ region: 'us-east-1' })",
    );
  const d = sqsTransportDefaults;
  const waitTimeSeconds = integerIn(
    'waitTimeSeconds',
    options.waitTimeSeconds ?? d.waitTimeSeconds,
    0,
    SqsLimits.maxWaitTimeSeconds,
    'pass 20 for long polling (fewest empty receives)',
  );
  const pollers = integerIn('pollers', options.pollers ?? d.pollers, 1, 100, 'pass e.g. pollers: 2');
  const lease = resolveLease(options, '');
  const settleLingerMs = integerIn(
    'settleLingerMs',
    options.settleLingerMs ?? d.settleLingerMs,
    0,
    1000,
    'pass a few ms, e.g. 5',
  );
  const settleAttempts = integerIn('settleAttempts', options.settleAttempts ?? d.settleAttempts, 1, 20, 'pass e.g. 3');
  const depthIntervalMs = integerIn(
    'depthIntervalMs',
    options.depthIntervalMs ?? d.depthIntervalMs,
    0,
    24 * 3_600_000,
    'pass e.g. 30_000, or 0 to turn depth polling off',
  );
  const maxMessageBytes = integerIn(
    'maxMessageBytes',
    options.maxMessageBytes ?? d.maxMessageBytes,
    1024,
    SqsLimits.maxMessageBytesCeiling,
    'pass 262_144 (256 KiB), or up to 1_048_576 for queues whose MaximumMessageSize allows it',
  );
  const publishConcurrency = integerIn(
    'publishConcurrency',
    options.publishConcurrency ?? d.publishConcurrency,
    1,
    64,
    'pass e.g. 4',
  );
  const publishAttempts = integerIn(
    'publishAttempts',
    options.publishAttempts ?? d.publishAttempts,
    1,
    20,
    'pass e.g. 3',
  );
  if (options.fifo !== undefined && typeof options.fifo !== 'boolean')
    throw new InvalidOptionError('fifo', `must be a boolean, got ${optionValueText(options.fifo)}`, 'pass fifo: true');
  if (options.abortPollsOnStop !== undefined && typeof options.abortPollsOnStop !== 'boolean')
    throw new InvalidOptionError(
      'abortPollsOnStop',
      `must be a boolean, got ${optionValueText(options.abortPollsOnStop)}`,
      'pass abortPollsOnStop: true, or leave it out (false)',
    );
  assertLogger('logger', options.logger);
  assertClock('clock', options.clock);
  assertRandom('random', options.random);
  return {
    client: options.client,
    fifo: options.fifo ?? d.fifo,
    ...lease,
    waitTimeSeconds,
    abortPollsOnStop: options.abortPollsOnStop === true,
    pollers,
    settleLingerMs,
    settleAttempts,
    depthIntervalMs,
    maxMessageBytes,
    publishConcurrency,
    publishAttempts,
    clock: options.clock ?? systemClock,
    random: options.random ?? systemRandom,
    logger: options.logger ?? silentLogger,
  };
}

/** Validates `SubscriptionSpec.options` and merges them over the transport's options. */
export function resolveSubscriptionOptions(
  base: ResolvedSqsOptions,
  raw: Readonly<Record<string, unknown>> | undefined,
): { pollers: number; waitTimeSeconds: number; lease: LeaseSettings } {
  const known = new Set(['pollers', 'waitTimeSeconds', 'visibilityTimeoutS', 'heartbeatIntervalMs', 'maxProcessingMs']);
  for (const key of Object.keys(raw ?? {}))
    if (!known.has(key))
      throw new InvalidOptionError(
        `subscription.options.${key}`,
        'is not an SQS subscription option',
        `use one of ${[...known].join(', ')} (other settings belong to new SqsTransport({...}))`,
      );
  return {
    pollers: integerIn('subscription.options.pollers', raw?.pollers ?? base.pollers, 1, 100, 'pass e.g. pollers: 2'),
    waitTimeSeconds: integerIn(
      'subscription.options.waitTimeSeconds',
      raw?.waitTimeSeconds ?? base.waitTimeSeconds,
      0,
      SqsLimits.maxWaitTimeSeconds,
      'pass 0–20',
    ),
    lease: resolveLease(raw ?? {}, 'subscription.options.', base),
  };
}
