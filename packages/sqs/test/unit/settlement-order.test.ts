// A heartbeat extension still on its way when the handler fails must not land after the retry's
// visibility change: SQS keeps the last change it applies, so the retried message would stay hidden
// for a whole visibility timeout instead of its backoff. The stub applies a visibility change when
// it answers, and holds the extension's answer until the test lets it go.

import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { createApp, defineCommand, defineHandler, defineQueue, type StandardSchemaV1 } from '@switchyard/core';
import { flushPromises, ManualClock } from '@switchyard/testing';
import { describe, expect, it } from 'vitest';
import { encodeHeaders } from '../../src/message-attributes.js';
import { SqsTransport } from '../../src/transport.js';

const BASE = 'https://sqs.us-east-1.amazonaws.com/000000000000/';
const anything: StandardSchemaV1<unknown, { orderId: string }> = {
  '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value: value as { orderId: string } }) },
};
const Charge = defineCommand({ name: 'Charge', schema: anything, key: (p) => p.orderId });
const payments = defineQueue({ name: 'payments', commands: [Charge] });

class StubSqs {
  /** Visibility changes in the order SQS applied them. */
  readonly applied: number[] = [];
  /** Set while an extension's answer is held back. */
  heldExtension: (() => void) | undefined;
  #delivered = false;

  constructor(readonly visibilityS: number) {}

  async send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown> {
    if (command instanceof GetQueueUrlCommand) return { QueueUrl: BASE + command.input.QueueName };
    if (command instanceof GetQueueAttributesCommand)
      return { Attributes: { QueueArn: 'arn:aws:sqs:us-east-1:000000000000:payments', VisibilityTimeout: '30' } };
    if (command instanceof ReceiveMessageCommand) {
      if (!this.#delivered) {
        this.#delivered = true;
        const message: Message = {
          MessageId: 'm-1',
          ReceiptHandle: 'rh-1',
          Body: JSON.stringify({ orderId: 'o-1' }),
          MessageAttributes: encodeHeaders({ 'sy-type': 'Charge', 'sy-id': 'm-1' }),
          Attributes: { ApproximateReceiveCount: '1' },
        };
        return { Messages: [message] };
      }
      // Nothing more: a long poll that ends when the app stops.
      const signal = options?.abortSignal;
      await new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve(), { once: true }));
      throw signal?.reason ?? new Error('aborted');
    }
    if (command instanceof ChangeMessageVisibilityBatchCommand) {
      const entries = command.input.Entries ?? [];
      if (entries.some((e) => e.VisibilityTimeout === this.visibilityS) && this.heldExtension === undefined) {
        // The extension: answered (and applied) only when the test says so.
        await new Promise<void>((resolve) => {
          this.heldExtension = resolve;
        });
      }
      for (const e of entries) this.applied.push(e.VisibilityTimeout!);
      return { Successful: entries.map((e) => ({ Id: e.Id })), Failed: [] };
    }
    if (command instanceof DeleteMessageBatchCommand)
      return { Successful: command.input.Entries?.map((e) => ({ Id: e.Id })), Failed: [] };
    throw new Error(`the stub does not know ${(command as object).constructor.name}`);
  }
}

/** Moves the manual clock in small steps until `done`, letting promises run in between. */
async function until(clock: ManualClock, done: () => boolean, what: string): Promise<void> {
  for (let step = 0; step < 400; step++) {
    if (done()) return;
    await clock.advance(5);
    await flushPromises();
  }
  throw new Error(`never happened: ${what}`);
}

describe('SQS settlement after a heartbeat extension', () => {
  it("sends a retry's visibility change only after an extension on its way has been answered", async () => {
    const clock = new ManualClock();
    const visibilityS = 30;
    const sqs = new StubSqs(visibilityS);
    const transport = new SqsTransport({
      client: sqs as unknown as SQSClient,
      abortPollsOnStop: true,
      depthIntervalMs: 0,
      visibilityTimeoutS: visibilityS,
      heartbeatIntervalMs: 10_000,
      clock,
    });
    const app = createApp({ transport, clock });
    let entered = false;
    let fail: (error: Error) => void = () => {};
    app.consume(payments, {
      group: 'billing',
      retryBudget: false,
      retry: { maxAttempts: 5, initialDelayMs: 2_000, jitter: 'none' },
      handlers: [
        defineHandler(Charge, () => {
          entered = true;
          return new Promise<void>((_, reject) => {
            fail = reject;
          });
        }),
      ],
    });
    await app.start();
    try {
      await until(clock, () => entered, 'the handler ran');
      // A heartbeat round sends an extension, whose answer the stub holds back.
      await clock.advance(10_000);
      await until(clock, () => sqs.heldExtension !== undefined, 'an extension was sent');

      fail(new Error('downstream timed out'));
      await flushPromises();
      await clock.advance(100);
      await flushPromises();
      // The retry waits for the extension instead of racing it.
      expect(sqs.applied).toEqual([]);

      sqs.heldExtension?.();
      await until(clock, () => sqs.applied.length === 2, 'the retry was applied');
      // The retry's 2 s is the last word, not the extension's 30 s.
      expect(sqs.applied).toEqual([visibilityS, 2]);
    } finally {
      sqs.heldExtension?.();
      let stopped = false;
      const stopping = app.stop({ deadlineMs: 0 }).finally(() => {
        stopped = true;
      });
      await until(clock, () => stopped, 'the app stopped');
      await stopping;
    }
  });
});
