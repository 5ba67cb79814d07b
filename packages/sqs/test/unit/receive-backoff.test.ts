// A poller whose ReceiveMessage fails waits a growing, fully jittered backoff before the next one,
// so the pollers of many consumers hit by the same outage do not come back in step.

import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Clock } from '@switchyard/core';
import { waitUntil } from '@switchyard/testing';
import { describe, expect, it } from 'vitest';
import { SqsTransport } from '../../src/transport.js';

class FailingSqs {
  receives = 0;
  async send(command: unknown): Promise<unknown> {
    if (command instanceof GetQueueUrlCommand)
      return { QueueUrl: `https://sqs.us-east-1.amazonaws.com/000000000000/${command.input.QueueName}` };
    if (command instanceof GetQueueAttributesCommand)
      return { Attributes: { QueueArn: 'arn:aws:sqs:us-east-1:000000000000:payments', VisibilityTimeout: '30' } };
    if (command instanceof ReceiveMessageCommand) {
      this.receives++;
      throw Object.assign(new Error('We encountered an internal error'), { name: 'InternalError', $fault: 'server' });
    }
    throw new Error(`the stub does not know ${(command as object).constructor.name}`);
  }
}

/** Records each sleep; the first `free` return at once, later ones wait until aborted. */
function recordingClock(free: number): Clock & { slept: number[] } {
  const slept: number[] = [];
  return {
    slept,
    now: () => 0,
    sleep: (ms, signal) => {
      slept.push(ms);
      if (slept.length <= free) return Promise.resolve();
      return new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(signal.reason)));
    },
  };
}

describe('SQS receive backoff', () => {
  it.each([
    [0.5, [100, 200, 400, 800]],
    [0.05, [10, 20, 40, 80]],
  ])('with random() = %s waits %j after 1, 2, 3, 4 failed receives', async (r, expected) => {
    const sqs = new FailingSqs();
    const clock = recordingClock(3);
    const transport = new SqsTransport({
      client: sqs as unknown as SQSClient,
      depthIntervalMs: 0,
      heartbeatIntervalMs: false,
      clock,
      random: () => r,
    });
    const subscription = await transport.subscribe(
      {
        destination: 'payments',
        consumerGroup: 'billing',
        semantics: 'at-least-once',
        startFrom: 'latest',
        maxInFlight: 10,
        maxInFlightBytes: 1_000_000,
        observer: { lag() {}, depth() {} },
      },
      async () => {},
    );
    await waitUntil('four failed receives', () => clock.slept.length === 4);
    await subscription.stopFetching();
    await subscription.close();
    await transport.close();
    expect(sqs.receives).toBe(4);
    expect(clock.slept).toEqual(expected);
  });
});
