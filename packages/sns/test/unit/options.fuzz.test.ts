// resolveSnsOptions under garbage: "wrong options fail at construction naming the option and the
// fix". Each property starts from a valid options object, applies 1–4 mutations (a known key set to
// garbage; the client or the consuming transport replaced by garbage, or their methods; an unknown
// key added) and checks that the resolver either returns or throws an InvalidOptionError naming what
// was mutated: never a TypeError, a RangeError or anything else.
//
// "Naming what was mutated" is relaxed in two documented ways (the same kit as core's
// test/options.fuzz.test.ts): the error's `option` names a mutated key, something inside it, or an
// object enclosing it ('consumeWith' for a transport whose subscribe was replaced); or, for a rule
// between two fields, the message names a mutated key. The resolver refuses unknown keys, naming
// the key.

import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { silentLogger, systemClock } from '@switchyard/core';
import { SqsTransport } from '@switchyard/sqs';
import { assertOptionMutations, type OptionMutationSpace, optionError, optionGarbage } from '@switchyard/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveSnsOptions } from '../../src/options.js';

const RUNS = { numRuns: 300 };

// ---- resolveSnsOptions -------------------------------------------------------------------------

const client = new SNSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const sqs = new SqsTransport({
  client: new SQSClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }),
});

/** Valid transports: a client only; every option given (stub client and consuming transport); a real SqsTransport. */
const SNS_BASES: readonly (() => Record<string, unknown>)[] = [
  () => ({ client }),
  () => ({
    client: { send: async () => ({}) },
    consumeWith: { subscribe: async () => ({}), capabilities: {} },
    topicArnPrefix: 'arn:aws:sns:us-east-1:123456789012:',
    publishConcurrency: 8,
    publishAttempts: 5,
    clock: systemClock,
    random: Math.random,
    logger: silentLogger,
  }),
  () => ({ client, consumeWith: sqs, topicArnPrefix: 'arn:aws-cn:sns:cn-north-1:123456789012:' }),
];

const SNS_SPACE: OptionMutationSpace = {
  leaves: [
    ['client'],
    ['client', 'send'],
    ['consumeWith'],
    ['consumeWith', 'subscribe'],
    ['topicArnPrefix'],
    ['publishConcurrency'],
    ['publishAttempts'],
    ['clock'],
    ['clock', 'now'],
    ['clock', 'sleep'],
    ['random'],
    ['logger'],
    ['logger', 'warn'],
    ['logger', 'debug'],
  ],
  objects: [['client'], ['consumeWith'], ['clock'], ['logger']],
  containers: [[]],
};

// ---- the properties ----------------------------------------------------------------------------

describe('SNS option resolver under garbage (fuzz)', () => {
  it('resolveSnsOptions: the valid options resolve (so the fuzzing below is not vacuous)', () => {
    for (const make of SNS_BASES) expect(() => resolveSnsOptions(make() as never)).not.toThrow();
  });

  it('resolveSnsOptions: garbage options resolve or fail with an InvalidOptionError naming a mutated key', () => {
    assertOptionMutations(SNS_BASES, SNS_SPACE, (options) => resolveSnsOptions(options as never), RUNS.numRuns);
  });

  it('resolveSnsOptions: garbage for the whole options fails with an InvalidOptionError', () => {
    fc.assert(
      fc.property(optionGarbage, (value) => {
        // `{ a: 1 }` names its unknown key
        expect(optionError(() => resolveSnsOptions(value as never)).option).toMatch(/^(client|a)$/);
      }),
      { numRuns: 100 },
    );
  });
});

describe('SNS option errors name the option (examples)', () => {
  it.each<[string, () => unknown]>([
    ['client', () => resolveSnsOptions({ client: {} as never })],
    ['consumeWith', () => resolveSnsOptions({ client, consumeWith: { subscribe: 1 } as never })],
    ['topicArnPrefix', () => resolveSnsOptions({ client, topicArnPrefix: 'arn:aws:sns:us-east-1:123456789012' })],
    ['publishConcurrency', () => resolveSnsOptions({ client, publishConcurrency: 65 })],
    ['publishAttempts', () => resolveSnsOptions({ client, publishAttempts: 0.5 })],
  ])('%s', (option, run) => {
    const error = optionError(run);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(new RegExp(`^Invalid option '${option}': .+\\. Fix: .+`));
  });
});

// What the property above found (shrunk: consumeWith null; Object.create(null) for topicArnPrefix and
// publishConcurrency). Each threw a TypeError before the fix: reading `subscribe` of null, or
// String() of an object without a prototype in the message.
describe('regressions found by the option fuzzing', () => {
  it.each<[string, () => unknown]>([
    ['consumeWith', () => resolveSnsOptions({ client, consumeWith: null as never })],
    ['topicArnPrefix', () => resolveSnsOptions({ client, topicArnPrefix: Object.create(null) })],
    ['publishConcurrency', () => resolveSnsOptions({ client, publishConcurrency: Object.create(null) })],
  ])('%s: null or Object.create(null) is an InvalidOptionError, not a TypeError', (option, run) => {
    const error = optionError(run);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/\. Fix: \S/);
  });
});

// Gaps the fuzzing could not catch: accepted by resolveSnsOptions, then a TypeError at the first log
// line or clock read of a publish.
describe('validation gaps closed at construction', () => {
  it.each<[string, () => unknown, string]>([
    ['logger: {}', () => resolveSnsOptions({ client, logger: {} as never }), 'logger'],
    ['logger: a function', () => resolveSnsOptions({ client, logger: console.log as never }), 'logger'],
    ['clock: a number', () => resolveSnsOptions({ client, clock: 0 as never }), 'clock'],
    ['random: a number', () => resolveSnsOptions({ client, random: 0.5 as never }), 'random'],
    ['clock: without now', () => resolveSnsOptions({ client, clock: { sleep: async () => {} } as never }), 'clock'],
    // the client's send was already checked; kept as an example
    ['client without send (refused before too)', () => resolveSnsOptions({ client: { send: 1 } as never }), 'client'],
  ])('%s: an InvalidOptionError naming the option', (_name, run, option) => {
    const error = optionError(run);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/\. Fix: \S/);
  });
});

describe('SnsTransport options: misspelt keys', () => {
  it('refuses a key it does not know instead of falling back to the default', () => {
    const error = optionError(() => resolveSnsOptions({ client, topicArn: 'arn:aws:sns:us-east-1:1:' } as never));
    expect(error.option).toBe('topicArn');
    expect(error.message).toMatch(
      /is not an SNS transport option\. Fix: remove it; known options: client, consumeWith/,
    );
  });
});
