// The raw kafkajs side of the consume pairs (and of the memory children). It imports nothing from
// Switchyard, so a memory child running it loads only kafkajs. Its settings are Switchyard's consumer
// defaults (kafkaConsumerDefaults), checked against them by rawSettingsMatch() in consume.ts.

import type { Kafka, KafkaMessage } from 'kafkajs';
import { closeQuietly, signal, within } from '../deadline.js';
import { ConsumeClock, type ConsumeRun, type ConsumeTiming, deadlineFor, uniqueName } from './client.js';

export const rawSettings = {
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  maxBytesPerPartition: 1_048_576,
  maxBytes: 10_485_760,
  maxWaitTimeMs: 1_000,
  commitIntervalMs: 1_000,
  commitEveryMessages: 1_000,
  partitionsConsumedConcurrently: 1,
} as const;

const utf8 = new TextDecoder('utf-8');

/**
 * What any consumer of these messages must do before a handler sees them: read the headers as
 * text and parse the JSON body. The `decoding` raw loop does it, to tell that floor apart from
 * framework overhead (Switchyard does this and more for every message).
 */
function decodeLikeAnyConsumer(message: KafkaMessage): unknown {
  const headers: Record<string, string> = {};
  for (const name in message.headers) {
    const value = message.headers[name];
    if (Buffer.isBuffer(value)) headers[name] = utf8.decode(value);
  }
  return message.value === null ? headers : JSON.parse(utf8.decode(message.value));
}

export async function rawConsume(
  kafka: Kafka,
  run: ConsumeRun,
  onDone?: () => void,
  options: { decode?: boolean; onFirst?: () => void } = {},
): Promise<ConsumeTiming> {
  const decode = options.decode === true;
  const consumer = kafka.consumer({
    groupId: uniqueName('raw'),
    sessionTimeout: rawSettings.sessionTimeoutMs,
    heartbeatInterval: rawSettings.heartbeatIntervalMs,
    maxBytesPerPartition: rawSettings.maxBytesPerPartition,
    maxBytes: rawSettings.maxBytes,
    maxWaitTimeInMs: rawSettings.maxWaitTimeMs,
    readUncommitted: false,
  });
  const done = signal();
  let processed = 0;
  const clock = new ConsumeClock();
  try {
    await within(consumer.connect(), 30_000, 'kafkajs consumer connect');
    await within(consumer.subscribe({ topic: run.topic, fromBeginning: true }), 30_000, 'kafkajs subscribe');
    await consumer.run({
      autoCommit: true,
      autoCommitInterval: rawSettings.commitIntervalMs,
      autoCommitThreshold: rawSettings.commitEveryMessages,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: rawSettings.partitionsConsumedConcurrently,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
        for (const message of batch.messages) {
          if (!isRunning() || isStale()) break;
          // The no-op handler: the message is looked at, nothing is done with it.
          if (decode) decodeLikeAnyConsumer(message);
          if (processed === 0) options.onFirst?.();
          clock.message();
          if (message.value !== null && ++processed === run.count) {
            onDone?.();
            done.resolve();
          }
          resolveOffset(message.offset);
        }
        await commitOffsetsIfNecessary();
        await heartbeat();
      },
    });
    await within(done.promise, deadlineFor(run.count), `kafkajs consuming ${run.count} messages`);
    return clock.timing(run.count);
  } finally {
    await closeQuietly('kafkajs consumer', () => consumer.disconnect());
  }
}
