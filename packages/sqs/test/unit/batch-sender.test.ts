// The send loop SQS and SNS publishing share: entries the server failed are sent again after a
// jittered backoff, each round is logged, and a refused entry fails the call at once.

import type { Clock } from '@switchyard/core';
import { SwitchyardError } from '@switchyard/core';
import { recordLogs } from '@switchyard/testing';
import { describe, expect, it } from 'vitest';
import { type BatchEntryFailure, type BatchSender, sendBatches } from '../../src/batch-sender.js';

interface Entry {
  readonly messageId: string;
}

function harness(plan: Array<(ids: string[]) => BatchEntryFailure[]>, random: () => number) {
  const slept: number[] = [];
  const logs = recordLogs();
  const batches: string[][] = [];
  const clock: Clock = { now: () => 0, sleep: async (ms) => void slept.push(ms) };
  const sender: BatchSender<Entry> = {
    // A lone entry goes through the single-message call; a planned failure is then a thrown throttle.
    sendOne: async (entry) => {
      batches.push([entry.messageId]);
      if ((plan[batches.length - 1]?.([entry.messageId]) ?? []).length > 0)
        throw Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
    },
    sendBatch: async (entries) => {
      const ids = entries.map((e) => e.messageId);
      batches.push(ids);
      const failures = plan[batches.length - 1]?.(ids) ?? [];
      return { Failed: failures };
    },
    error: (what, cause, retryable) => new SwitchyardError('SWITCHYARD_PUBLISH', what, { cause, retryable }),
    attempts: 4,
    concurrency: 1,
    clock,
    random,
    logger: logs,
    label: "SendMessageBatch to 'orders'",
  };
  return { sender, slept, logs, batches };
}

const entries = (...ids: string[]): Entry[] => ids.map((messageId) => ({ messageId }));
const throttled = (index: number): BatchEntryFailure => ({
  Id: `m${index}`,
  SenderFault: false,
  Code: 'ThrottlingException',
});

describe('sendBatches', () => {
  it('sends failed entries again after a fully jittered, growing backoff, logging each round', async () => {
    const h = harness(
      [() => [throttled(0), throttled(2)], () => [throttled(1)], () => []],
      // Scripted: 0.5 of the 50 ms and 100 ms ceilings.
      (() => {
        const values = [0.5, 0.5];
        return () => values.shift() ?? Number.NaN;
      })(),
    );
    await sendBatches([entries('a', 'b', 'c')], h.sender, false);
    expect(h.batches).toEqual([['a', 'b', 'c'], ['a', 'c'], ['c']]);
    expect(h.slept).toEqual([25, 50]);
    expect(h.logs.messages('warn')).toEqual([
      "SendMessageBatch to 'orders': 2 of 3 message(s) failed on the server's side (ThrottlingException); sending them again in 25 ms (attempt 2 of 4)",
      "SendMessageBatch to 'orders': 1 of 2 message(s) failed on the server's side (ThrottlingException); sending them again in 50 ms (attempt 3 of 4)",
    ]);
    expect(h.logs.entries[0]!.fields).toMatchObject({ attempt: 1, of: 4, entries: 2, delayMs: 25 });
  });

  it('spreads the resends of publishers throttled together instead of sending them in step', async () => {
    const delays = await Promise.all(
      [0.1, 0.6, 0.95].map(async (r) => {
        const h = harness([() => [throttled(0)], () => []], () => r);
        await sendBatches([entries('a', 'b')], h.sender, false);
        return h.slept[0];
      }),
    );
    expect(delays).toEqual([5, 30, 48]);
  });

  it('fails the call on an entry the server refuses as the sender’s fault, without a resend', async () => {
    const h = harness(
      [() => [{ Id: 'm1', SenderFault: true, Code: 'InvalidParameterValue', Message: 'bad' }]],
      () => 0,
    );
    const error = await sendBatches([entries('a', 'b')], h.sender, false).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SWITCHYARD_PUBLISH', retryable: false });
    expect((error as Error).message).toContain('message b refused: InvalidParameterValue: bad');
    expect(h.slept).toEqual([]);
    expect(h.logs.entries).toEqual([]);
  });
});
