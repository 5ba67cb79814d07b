// Pairs 5 and 6 on SQS (ElasticMQ). Each round seeds two queues with the same messages, one per side.
//   5: one poller, no-op handler. Switchyard (SqsTransport, pollers 1, default maxInFlight 64) against
//      a raw SDK loop: ReceiveMessage (10, long poll) -> handle each -> DeleteMessageBatch -> again.
//   6: 10 ms handler, one poller, the same in-flight bound on both sides (10 = SQS's batch maximum,
//      which is sqs-consumer's bound): Switchyard (maxInFlight 10) against sqs-consumer at its best
//      settings (batchSize 10, handleMessageBatch running the batch's handlers in parallel, one
//      DeleteMessageBatch per batch, no wait between polls).
// Both sides' SQS clients count their calls, which gives DeleteMessageBatch calls per message.

import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createApp, defineHandler, defineQueue } from '@switchyard/core';
import { SqsTransport } from '@switchyard/sqs';
import { Consumer } from 'sqs-consumer';
import { ProcessOrder } from '../contracts.js';
import { closeQuietly, signal, within } from '../deadline.js';
import { deadlineFor } from '../kafka/client.js';
import { runPair, type SideRun } from '../pair.js';
import { fmtSample, type Report } from '../report.js';
import type { Settings } from '../settings.js';
import { summarize } from '../stats.js';
import { type CallCounts, countingClient, type Queues, type SqsEndpoint, seedQueues } from './support.js';

interface QueueRun {
  readonly name: string;
  readonly url: string;
  readonly count: number;
}

function deleteFigures(counts: CallCounts, processed: number): Record<string, number> {
  const calls = counts.calls.get('DeleteMessageBatchCommand') ?? 0;
  return {
    deleteCallsPerMessage: calls / processed,
    receiveCalls: counts.calls.get('ReceiveMessageCommand') ?? 0,
    deletedEntries: counts.deletedEntries,
  };
}

async function switchyardConsume(
  endpoint: SqsEndpoint,
  run: QueueRun,
  options: { maxInFlight?: number; handlerMs: number },
): Promise<SideRun> {
  const { client, counts } = countingClient(endpoint);
  const transport = new SqsTransport({ client, pollers: 1, abortPollsOnStop: true });
  const app = createApp({ transport });
  const done = signal();
  let processed = 0;
  app.consume(defineQueue({ name: run.name, commands: [ProcessOrder] }), {
    group: 'bench',
    ...(options.maxInFlight === undefined ? {} : { maxInFlight: options.maxInFlight }),
    handlers: [
      defineHandler(ProcessOrder, async () => {
        if (options.handlerMs > 0) await sleep(options.handlerMs);
        if (++processed === run.count) done.resolve();
      }),
    ],
  });
  const started = performance.now();
  try {
    await within(app.start(), 30_000, 'Switchyard app start');
    await within(done.promise, deadlineFor(run.count, 50), `Switchyard consuming ${run.count} SQS messages`);
    const rate = (run.count / (performance.now() - started)) * 1000;
    // Stopping flushes the last deletes; the count is then complete.
    await within(app.stop({ deadlineMs: 10_000 }), 30_000, 'Switchyard app stop');
    return { rate, extra: deleteFigures(counts, run.count) };
  } finally {
    await closeQuietly('Switchyard app', () => app.stop({ deadlineMs: 10_000 }));
    client.destroy();
  }
}

async function rawLoop(endpoint: SqsEndpoint, run: QueueRun): Promise<SideRun> {
  const { client, counts } = countingClient(endpoint);
  let processed = 0;
  const handle = (_message: Message) => {};
  const loop = async () => {
    while (processed < run.count) {
      const out = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: run.url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 20,
          VisibilityTimeout: 30,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) continue;
      for (const m of messages) handle(m);
      await client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: run.url,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
      processed += messages.length;
    }
  };
  const started = performance.now();
  try {
    await within(loop(), deadlineFor(run.count, 50), `raw SDK loop consuming ${run.count} messages`);
    return { rate: (run.count / (performance.now() - started)) * 1000, extra: deleteFigures(counts, run.count) };
  } finally {
    client.destroy();
  }
}

async function sqsConsumerLib(endpoint: SqsEndpoint, run: QueueRun, handlerMs: number, batchSize: number) {
  const { client, counts } = countingClient(endpoint);
  const done = signal();
  let processed = 0;
  const consumer = Consumer.create({
    queueUrl: run.url,
    sqs: client,
    batchSize,
    waitTimeSeconds: 20,
    visibilityTimeout: 30,
    pollingWaitTimeMs: 0,
    shouldDeleteMessages: true,
    messageAttributeNames: ['All'],
    handleMessageBatch: async (messages) => {
      await Promise.all(messages.map(() => sleep(handlerMs)));
      processed += messages.length;
      if (processed >= run.count) done.resolve();
      return messages;
    },
  });
  // Once the count is reached the consumer is stopped with abort: the requests it cuts are not errors.
  consumer.on('error', (error) => {
    if (processed < run.count) process.stderr.write(`[bench] sqs-consumer error: ${error.message}\n`);
  });
  const started = performance.now();
  try {
    consumer.start();
    await within(done.promise, deadlineFor(run.count, 20), `sqs-consumer consuming ${run.count} messages`);
    const rate = (run.count / (performance.now() - started)) * 1000;
    return { rate, extra: deleteFigures(counts, run.count) };
  } finally {
    consumer.stop({ abort: true });
    client.destroy();
  }
}

export interface SqsContext {
  readonly settings: Settings;
  readonly endpoint: SqsEndpoint;
  readonly admin: SQSClient;
  readonly queues: Queues;
  readonly report: Report;
}

async function twoQueues(ctx: SqsContext, prefix: string, count: number) {
  const sy = await ctx.queues.create(`${prefix}-sy`);
  const ref = await ctx.queues.create(`${prefix}-ref`);
  await seedQueues(ctx.admin, [sy.name, ref.name], count);
  return { sy: { ...sy, count }, ref: { ...ref, count } };
}

const median = (xs: readonly Readonly<Record<string, number>>[], key: string) =>
  summarize(xs.map((x) => x[key] ?? Number.NaN));

/** Pair 5. */
export async function sqsConsumeNoop(ctx: SqsContext): Promise<void> {
  const { settings, endpoint, queues, report } = ctx;
  const result = await runPair({
    name: 'sqs consume no-op',
    rounds: settings.rounds,
    maxSpread: settings.maxSpread,
    // The first pair on ElasticMQ warms its JVM (and this process) up.
    warmup: true,
    prepare: () => twoQueues(ctx, 'noop', settings.sqsMessages),
    candidate: (q) => switchyardConsume(endpoint, q.sy, { handlerMs: 0 }),
    reference: (q) => rawLoop(endpoint, q.ref),
    cleanup: (q) => queues.remove(q.sy.name, q.ref.name),
  });
  const section = 'sqs consume no-op (1 poller)';
  report.comparison(
    'sqs.consume.noop',
    section,
    { candidate: 'switchyard', reference: 'raw_sdk' },
    result.comparison,
    0.95,
  );
  const d = median(result.candidateExtra, 'deleteCallsPerMessage');
  report.figure('sqs.consume.noop.delete_calls_per_msg', d.median);
  report.row(section, 'switchyard DeleteMessageBatch/msg', d.median.toFixed(3));
}

/** Pair 6. */
export async function sqsVsSqsConsumer(ctx: SqsContext): Promise<void> {
  const { settings, endpoint, queues, report } = ctx;
  const result = await runPair({
    name: 'sqs 10 ms vs sqs-consumer',
    rounds: settings.rounds,
    maxSpread: settings.maxSpread,
    prepare: () => twoQueues(ctx, 'slow', settings.sqsSlowMessages),
    candidate: (q) =>
      switchyardConsume(endpoint, q.sy, { handlerMs: settings.handlerMs, maxInFlight: settings.sqsInFlight }),
    reference: (q) => sqsConsumerLib(endpoint, q.ref, settings.handlerMs, settings.sqsInFlight),
    cleanup: (q) => queues.remove(q.sy.name, q.ref.name),
  });
  const section = `sqs ${settings.handlerMs} ms handler, in-flight ${settings.sqsInFlight}`;
  report.comparison(
    'sqs.vs_sqs_consumer',
    section,
    { candidate: 'switchyard', reference: 'sqs_consumer' },
    result.comparison,
    3,
  );
  const d = median(result.candidateExtra, 'deleteCallsPerMessage');
  const ref = median(result.referenceExtra, 'deleteCallsPerMessage');
  report.figure('sqs.delete_calls_per_msg', d.median);
  report.figure('sqs.delete_calls_per_msg_target', 0.11);
  report.note('sqs.delete_calls_per_msg_verdict', d.max <= 0.11 ? 'met' : d.min > 0.11 ? 'missed' : 'undecided');
  report.figure('sqs.vs_sqs_consumer.sqs_consumer_delete_calls_per_msg', ref.median);
  report.row(section, 'switchyard DeleteMessageBatch/msg', `${fmtSample(d, 'calls')} (target <= 0.11)`);
  report.row(section, 'sqs-consumer DeleteMessageBatch/msg', ref.median.toFixed(3));
  const ceiling = (settings.sqsInFlight * 1000) / settings.handlerMs;
  report.row(
    section,
    'in-flight ceiling',
    `${ceiling} msg/s (${settings.sqsInFlight} x 1000/${settings.handlerMs} ms)`,
  );
}
