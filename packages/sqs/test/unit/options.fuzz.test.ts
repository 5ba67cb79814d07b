// resolveSqsOptions and resolveSubscriptionOptions under garbage: "wrong options fail at
// construction naming the option and the fix". Each property starts from a valid options object,
// applies 1–4 mutations (a known key, the lease settings included, set to garbage; the client or a
// subscription's options replaced by garbage; an unknown key added) and checks that the resolver
// either returns or throws an InvalidOptionError naming what was mutated: never a TypeError, a
// RangeError or anything else.
//
// "Naming what was mutated" is relaxed in two documented ways (the same kit as core's
// test/options.fuzz.test.ts):
//  - the error's `option` names a mutated key, something inside it, or an object enclosing it
//    ('client' for a client whose send was replaced);
//  - or, for a rule between two fields, the message names a mutated key ('maxProcessingMs': "only
//    applies with the visibility heartbeat, which heartbeatIntervalMs: false turns off").
// resolveSubscriptionOptions refuses unknown keys, so an added one must be refused; the transport's
// resolver accepts them silently.

import { SQSClient } from '@aws-sdk/client-sqs';
import { silentLogger, systemClock } from '@switchyard/core';
import {
  applyOptionMutations,
  assertOptionMutations,
  expectReturnsOrNamesAMutation,
  type OptionMutationSpace,
  optionError,
  optionGarbage,
  optionMutations,
} from '@switchyard/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inspectDeadLetters, redrive } from '../../src/dead-letter-tools.js';
import { resolveSqsOptions, resolveSubscriptionOptions } from '../../src/options.js';
import { createQueueWithDeadLetter } from '../../src/provisioning.js';

const RUNS = { numRuns: 300 };

// ---- resolveSqsOptions -------------------------------------------------------------------------

const client = new SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });

/** Valid transports: a client only; every option given (a stub client); the heartbeat off. */
const SQS_BASES: readonly (() => Record<string, unknown>)[] = [
  () => ({ client }),
  () => ({
    client: { send: async () => ({}) },
    fifo: true,
    visibilityTimeoutS: 60,
    waitTimeSeconds: 10,
    abortPollsOnStop: true,
    pollers: 2,
    heartbeatIntervalMs: 20_000,
    maxProcessingMs: 3_600_000,
    settleLingerMs: 5,
    settleAttempts: 3,
    depthIntervalMs: 0,
    maxMessageBytes: 1_048_576,
    publishConcurrency: 8,
    publishAttempts: 5,
    clock: systemClock,
    random: Math.random,
    logger: silentLogger,
  }),
  () => ({ client, visibilityTimeoutS: 45, heartbeatIntervalMs: false }),
];

const SQS_SPACE: OptionMutationSpace = {
  leaves: [
    ['client'],
    ['client', 'send'],
    ['fifo'],
    ['visibilityTimeoutS'],
    ['waitTimeSeconds'],
    ['abortPollsOnStop'],
    ['pollers'],
    ['heartbeatIntervalMs'],
    ['maxProcessingMs'],
    ['settleLingerMs'],
    ['settleAttempts'],
    ['depthIntervalMs'],
    ['maxMessageBytes'],
    ['publishConcurrency'],
    ['publishAttempts'],
    ['clock'],
    ['clock', 'now'],
    ['clock', 'sleep'],
    ['random'],
    ['logger'],
    ['logger', 'info'],
    ['logger', 'error'],
  ],
  objects: [['client'], ['clock'], ['logger']],
  containers: [[]],
};

// ---- resolveSubscriptionOptions ----------------------------------------------------------------

const SUBSCRIPTION_BASES: readonly (() => Record<string, unknown>)[] = [
  () => ({}),
  () => ({
    pollers: 3,
    waitTimeSeconds: 5,
    visibilityTimeoutS: 6,
    heartbeatIntervalMs: 2_000,
    maxProcessingMs: 60_000,
  }),
  () => ({ visibilityTimeoutS: 1, heartbeatIntervalMs: false }),
];

const SUBSCRIPTION_SPACE: OptionMutationSpace = {
  leaves: [['pollers'], ['waitTimeSeconds'], ['visibilityTimeoutS'], ['heartbeatIntervalMs'], ['maxProcessingMs']],
  objects: [],
  containers: [[]],
};

// ---- the properties ----------------------------------------------------------------------------

const baseIndex = (bases: readonly unknown[]) => fc.nat({ max: bases.length - 1 });

describe('SQS option resolvers under garbage (fuzz)', () => {
  it('resolveSqsOptions and resolveSubscriptionOptions: the valid options resolve (so the fuzzing is not vacuous)', () => {
    for (const make of SQS_BASES) {
      const base = resolveSqsOptions(make() as never);
      expect(() => resolveSubscriptionOptions(base, undefined)).not.toThrow();
      for (const raw of SUBSCRIPTION_BASES) expect(() => resolveSubscriptionOptions(base, raw())).not.toThrow();
    }
  });

  it('resolveSqsOptions: garbage options resolve or fail with an InvalidOptionError naming a mutated key', () => {
    assertOptionMutations(SQS_BASES, SQS_SPACE, (options) => resolveSqsOptions(options as never), RUNS.numRuns);
  });

  it('resolveSubscriptionOptions: garbage options resolve or fail with an InvalidOptionError naming a mutated key', () => {
    fc.assert(
      fc.property(
        baseIndex(SQS_BASES),
        baseIndex(SUBSCRIPTION_BASES),
        optionMutations(SUBSCRIPTION_SPACE),
        (i, j, mutations) => {
          const base = resolveSqsOptions(SQS_BASES[i]!() as never);
          const { options, applied } = applyOptionMutations(SUBSCRIPTION_BASES[j]!(), mutations);
          // unknown keys are refused
          const refuses = applied.some((m) => m.unknownKey);
          expectReturnsOrNamesAMutation(() => resolveSubscriptionOptions(base, options), applied, refuses);
        },
      ),
      RUNS,
    );
  });

  it('garbage for the whole options fails with an InvalidOptionError (or, for a subscription, may resolve)', () => {
    fc.assert(
      fc.property(optionGarbage, (value) => {
        expect(optionError(() => resolveSqsOptions(value as never)).option).toMatch(/^(options|client|a)$/); // `{ a: 1 }` names its unknown key
        expectReturnsOrNamesAMutation(
          () => resolveSubscriptionOptions(resolveSqsOptions({ client }), value as never),
          undefined,
        );
      }),
      { numRuns: 100 },
    );
  });
});

describe('SQS option errors name the option (examples)', () => {
  const base = resolveSqsOptions({ client });
  it.each<[string, () => unknown]>([
    ['client', () => resolveSqsOptions({ client: { send: 'x' } as never })],
    ['settleLingerMs', () => resolveSqsOptions({ client, settleLingerMs: 1_001 })],
    ['depthIntervalMs', () => resolveSqsOptions({ client, depthIntervalMs: -1 })],
    ['subscription.options.pollers', () => resolveSubscriptionOptions(base, { pollers: 0.5 })],
    ['subscription.options.maxProcessingMs', () => resolveSubscriptionOptions(base, { maxProcessingMs: Number.NaN })],
    ['subscription.options.toString', () => resolveSubscriptionOptions(base, { toString: 1 })],
  ])('%s', (option, run) => {
    const error = optionError(run);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(new RegExp(`^Invalid option '${option.replace(/[[\].]/g, '\\$&')}': .+\\. Fix: .+`));
  });
});

// What the properties above found (shrunk: Object.create(null) for settleLingerMs and a subscription's
// pollers), and the same input at each other place the fix covers. Each threw a TypeError before
// the fix: String() of an object without a prototype in the message.
describe('regressions found by the option fuzzing', () => {
  const bare = () => Object.create(null) as never;
  const base = resolveSqsOptions({ client });

  it.each<[string, () => unknown]>([
    ['settleLingerMs', () => resolveSqsOptions({ client, settleLingerMs: bare() })],
    ['visibilityTimeoutS', () => resolveSqsOptions({ client, visibilityTimeoutS: bare() })],
    ['heartbeatIntervalMs', () => resolveSqsOptions({ client, heartbeatIntervalMs: bare() })],
    ['maxProcessingMs', () => resolveSqsOptions({ client, maxProcessingMs: bare() })],
    ['fifo', () => resolveSqsOptions({ client, fifo: bare() })],
    ['subscription.options.pollers', () => resolveSubscriptionOptions(base, { pollers: bare() })],
    [
      'subscription.options.heartbeatIntervalMs',
      () => resolveSubscriptionOptions(base, { heartbeatIntervalMs: bare() }),
    ],
  ])('%s: Object.create(null) is an InvalidOptionError, not a TypeError', (option, run) => {
    const error = optionError(run);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/\. Fix: \S/);
  });
});

// Gaps the fuzzing could not catch: accepted by resolveSqsOptions, then a TypeError at the first
// log line or clock read (a poll, a heartbeat), or a non-boolean abortPollsOnStop read as false.
describe('validation gaps closed at construction', () => {
  it.each<[string, () => unknown, string]>([
    ['logger: {}', () => resolveSqsOptions({ client, logger: {} as never }), 'logger'],
    [
      'logger: without error',
      () => resolveSqsOptions({ client, logger: { debug() {}, info() {}, warn() {} } as never }),
      'logger',
    ],
    ['clock: a Date', () => resolveSqsOptions({ client, clock: new Date() as never }), 'clock'],
    ['clock: without sleep', () => resolveSqsOptions({ client, clock: { now: Date.now } as never }), 'clock'],
    ['random: a number', () => resolveSqsOptions({ client, random: 0.5 as never }), 'random'],
    [
      "abortPollsOnStop: 'yes'",
      () => resolveSqsOptions({ client, abortPollsOnStop: 'yes' as never }),
      'abortPollsOnStop',
    ],
    // the client's send was already checked; kept as an example
    ['client without send (refused before too)', () => resolveSqsOptions({ client: {} as never }), 'client'],
  ])('%s: an InvalidOptionError naming the option', (_name, run, option) => {
    const error = optionError(run);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/\. Fix: \S/);
  });

  it('a pino-shaped logger and a class-instance clock are still accepted', () => {
    class TestClock {
      now() {
        return 0;
      }
      async sleep() {}
    }
    expect(() =>
      resolveSqsOptions({
        client,
        logger: { debug() {}, info() {}, warn() {}, error() {} },
        clock: new TestClock(),
        abortPollsOnStop: false,
      }),
    ).not.toThrow();
  });
});

// String(value) threw a TypeError for a value without a prototype; these show it with optionValueText.
// Each rejects before any call to SQS (the client has no endpoint to reach).
describe('SQS tool option errors show any value', () => {
  const bare = () => Object.create(null) as never;

  it.each<[string, () => Promise<unknown>]>([
    ['limit', () => inspectDeadLetters(client, 'orders-dlq', { limit: bare() })],
    ['ratePerSecond', () => redrive({ client, from: 'orders-dlq', ratePerSecond: bare() })],
    ['max', () => redrive({ client, from: 'orders-dlq', ratePerSecond: 10, max: bare() })],
    ['maxReceiveCount', () => createQueueWithDeadLetter(client, { name: 'orders', maxReceiveCount: bare() })],
  ])('%s: Object.create(null) rejects with an InvalidOptionError, not a TypeError', async (option, run) => {
    await expect(run()).rejects.toMatchObject({ name: 'InvalidOptionError', option });
  });
});
