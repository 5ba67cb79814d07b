// Every poller's ReceiveMessage listens to the subscription's stop signal (the AWS SDK adds an
// abort listener per request when abortPollsOnStop is on), and pollers go up to 100: past 10
// listeners Node printed a MaxListenersExceededWarning ("possible memory leak") for a bounded,
// intended set of listeners. The stub listens the way the SDK does.

import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { createApp, defineCommand, defineHandler, defineQueue, type StandardSchemaV1 } from '@switchyard/core';
import { afterEach, describe, expect, it } from 'vitest';
import { SqsTransport } from '../../src/transport.js';

const anything: StandardSchemaV1<unknown, { orderId: string }> = {
  '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value: value as { orderId: string } }) },
};
const Charge = defineCommand({ name: 'Charge', schema: anything, key: (p) => p.orderId });
const payments = defineQueue({ name: 'payments', commands: [Charge] });

class ListeningSqs {
  polling = 0;
  async send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown> {
    if (command instanceof GetQueueUrlCommand)
      return { QueueUrl: `https://sqs.us-east-1.amazonaws.com/000000000000/${command.input.QueueName}` };
    if (command instanceof GetQueueAttributesCommand)
      return { Attributes: { QueueArn: 'arn:aws:sqs:us-east-1:000000000000:payments', VisibilityTimeout: '30' } };
    if (command instanceof ReceiveMessageCommand) {
      const signal = options?.abortSignal;
      this.polling++;
      // A long poll that ends when the app stops, listening as @smithy/node-http-handler does.
      await new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
      this.polling--;
      throw signal?.reason ?? new Error('aborted');
    }
    throw new Error(`the stub does not know ${(command as object).constructor.name}`);
  }
}

const warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);

afterEach(() => {
  process.off('warning', onWarning);
});

describe('SQS subscription with many pollers', () => {
  it('holds 20 long polls on its stop signal without a MaxListenersExceededWarning', async () => {
    process.on('warning', onWarning);
    const sqs = new ListeningSqs();
    const transport = new SqsTransport({
      client: sqs as unknown as SQSClient,
      abortPollsOnStop: true,
      depthIntervalMs: 0,
    });
    const app = createApp({ transport });
    app.consume(payments, {
      group: 'billing',
      maxInFlight: 200,
      transportOptions: { pollers: 20 },
      handlers: [defineHandler(Charge, () => {})],
    });
    await app.start();
    try {
      await expect.poll(() => sqs.polling, { timeout: 10_000 }).toBe(20);
      // Node emits the warning on the next tick after the listener that crossed the limit.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      await app.stop({ deadlineMs: 5_000 });
    }
    expect(sqs.polling).toBe(0);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message)).toEqual([]);
  });
});
