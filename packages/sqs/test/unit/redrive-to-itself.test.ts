// A redrive whose destination is the dead-letter queue itself sent every message back where it was
// read. It is refused once both names are resolved (a name and a URL can be the same queue), before
// anything is received, moved or deleted.

import { GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { redrive } from '../../src/dead-letter-tools.js';

const URL_OF = (name: string) => `https://sqs.us-east-1.amazonaws.com/000000000000/${name}`;

class NamingSqs {
  readonly calls: string[] = [];
  async send(command: object): Promise<unknown> {
    this.calls.push(command.constructor.name);
    if (command instanceof GetQueueUrlCommand) return { QueueUrl: URL_OF(command.input.QueueName!) };
    throw new Error(`nothing but GetQueueUrl may be called, got ${command.constructor.name}`);
  }
}

describe('SQS redrive to the dead-letter queue itself', () => {
  it.each([
    ['the same name', 'orders-dlq'],
    ['its URL', URL_OF('orders-dlq')],
  ])('is refused when to is %s, before anything is moved', async (_name, to) => {
    const sqs = new NamingSqs();
    await expect(
      redrive({ client: sqs as unknown as SQSClient, from: 'orders-dlq', to, ratePerSecond: 10 }),
    ).rejects.toMatchObject({ name: 'InvalidOptionError', option: 'to' });
    expect(sqs.calls.every((c) => c === 'GetQueueUrlCommand')).toBe(true);
  });
});
