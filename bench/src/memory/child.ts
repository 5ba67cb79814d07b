// A child process of the memory section, so each side's RSS is its own process's: forked with the
// task as JSON in argv[2]; reports over IPC and exits.
//   consume: consume `count` messages from `topic` (Switchyard or raw kafkajs, no-op handler) and
//            report RSS after loading, at the end and at its peak.
//   backlog: a Switchyard consumer with a slow handler while the parent keeps producing; reports
//            RSS samples over `seconds`.
//   allocation: consume `count` messages under V8's sampling heap profiler, counting collected
//            objects too, and report the bytes allocated per message.

// Each side's modules are imported only when that side runs: the raw child never loads Switchyard.

import type { HeapProfiler } from 'node:inspector';
import { setTimeout as sleep } from 'node:timers/promises';
import { within } from '../deadline.js';
import { deadlineFor, kafkaClient } from '../kafka/client.js';

export type ChildTask =
  | { kind: 'consume' | 'allocation'; side: 'switchyard' | 'raw'; brokers: string[]; topic: string; count: number }
  | {
      kind: 'backlog';
      brokers: string[];
      topic: string;
      group: string;
      maxInFlight: number;
      handlerMs: number;
      seconds: number;
    };

export type ChildReport =
  | {
      kind: 'consume';
      rssIdle: number;
      rssEnd: number;
      rssPeak: number;
      /** Mean of the 100 ms samples from the first message to the last: RSS whatever the GC phase. */
      rssMean: number;
      heapUsedEnd: number;
      rate: number;
    }
  | { kind: 'backlog'; samples: [number, number][]; processed: number }
  | { kind: 'allocation'; bytesPerMessage: number; rate: number }
  | { kind: 'error'; message: string };

const mb = (bytes: number) => bytes / (1024 * 1024);

type ConsumeTask = Extract<ChildTask, { kind: 'consume' | 'allocation' }>;

type StartConsuming = (onDone: () => void, onFirst: () => void) => Promise<{ rate: number }>;

/** Loads only the side's modules and returns how to start it. */
async function consumer(task: ConsumeTask): Promise<StartConsuming> {
  const run = { brokers: task.brokers, topic: task.topic, count: task.count };
  let start: StartConsuming;
  if (task.side === 'switchyard') {
    const { switchyardConsume } = await import('../kafka/switchyard-consume.js');
    start = (onDone, onFirst) => switchyardConsume(run, { onDone, onFirst });
  } else {
    const { rawConsume } = await import('../kafka/raw-consume.js');
    start = (onDone, onFirst) => rawConsume(kafkaClient(task.brokers, 'bench-memory-raw'), run, onDone, { onFirst });
  }
  return start;
}

async function consume(task: ConsumeTask): Promise<ChildReport> {
  const start = await consumer(task);
  // After the side's modules are loaded, before it connects.
  const rssIdle = mb(process.memoryUsage.rss());
  let rssPeak = rssIdle;
  let rssSum = 0;
  let rssSamples = 0;
  let consuming = false;
  const sampler = setInterval(() => {
    const rss = mb(process.memoryUsage.rss());
    rssPeak = Math.max(rssPeak, rss);
    if (consuming) {
      rssSum += rss;
      rssSamples++;
    }
  }, 100);
  try {
    // Measured when the M-th message is handled, before the consumer closes: what a running
    // service holds after M messages.
    let rssEnd = 0;
    let heapUsedEnd = 0;
    const { rate } = await start(
      () => {
        rssEnd = mb(process.memoryUsage.rss());
        heapUsedEnd = mb(process.memoryUsage().heapUsed);
        consuming = false;
      },
      () => {
        consuming = true;
      },
    );
    rssPeak = Math.max(rssPeak, rssEnd);
    const rssMean = rssSamples > 0 ? rssSum / rssSamples : rssEnd;
    return { kind: 'consume', rssIdle, rssEnd, rssPeak, rssMean, heapUsedEnd, rate };
  } finally {
    clearInterval(sampler);
  }
}

/**
 * Every byte allocated while consuming, garbage included: the sampling heap profiler with collected
 * objects kept in the profile (a sample per ~4 KiB allocated, so 200k messages give millions of
 * samples' worth of precision). Unlike RSS, this does not depend on where the GC cycle stands.
 */
interface ProfileNode {
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

async function allocation(task: ConsumeTask): Promise<ChildReport> {
  const start = await consumer(task);
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  try {
    // The two include flags are newer than the typings of Node 20 (V8 has them).
    const sampling: HeapProfiler.StartSamplingParameterType &
      Record<`includeObjectsCollectedBy${'Major' | 'Minor'}GC`, boolean> = {
      samplingInterval: 4_096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    };
    await session.post('HeapProfiler.startSampling', sampling);
    const { rate } = await start(
      () => {},
      () => {},
    );
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: ProfileNode } };
    // A node's selfSize is its sampled bytes scaled up to an estimate of all bytes allocated there.
    const total = (node: ProfileNode): number => node.children.reduce((sum, c) => sum + total(c), node.selfSize);
    const bytes = total(profile.head);
    return { kind: 'allocation', bytesPerMessage: bytes / task.count, rate };
  } finally {
    session.disconnect();
  }
}

async function backlog(task: Extract<ChildTask, { kind: 'backlog' }>): Promise<ChildReport> {
  const { createApp, defineHandler, defineTopic } = await import('@switchyard/core');
  const { KafkaTransport } = await import('@switchyard/kafka');
  const { OrderPlaced } = await import('../contracts.js');
  const app = createApp({ transport: new KafkaTransport({ brokers: task.brokers, clientId: 'bench-backlog' }) });
  let processed = 0;
  app.consume(defineTopic({ name: task.topic, events: [OrderPlaced] }), {
    group: task.group,
    maxInFlight: task.maxInFlight,
    handlers: [
      defineHandler(OrderPlaced, async () => {
        await sleep(task.handlerMs);
        processed++;
      }),
    ],
  });
  const samples: [number, number][] = [];
  const started = performance.now();
  await within(app.start(), 60_000, 'Switchyard app start');
  const end = started + task.seconds * 1000;
  while (performance.now() < end) {
    samples.push([(performance.now() - started) / 1000, mb(process.memoryUsage.rss())]);
    await sleep(250);
  }
  await within(app.stop({ deadlineMs: 5_000 }), 30_000, 'Switchyard app stop');
  return { kind: 'backlog', samples, processed };
}

// Orphaned (the parent died without killing us): stop at once rather than at the deadline.
process.on('disconnect', () => process.exit(1));
const task = JSON.parse(process.argv[2] ?? '{}') as ChildTask;
const send = (report: ChildReport) =>
  new Promise<void>((resolve) => {
    if (process.send) process.send(report, () => resolve());
    else {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      resolve();
    }
  });
try {
  const work = task.kind === 'backlog' ? backlog(task) : task.kind === 'allocation' ? allocation(task) : consume(task);
  await send(
    await within(work, deadlineFor(task.kind === 'backlog' ? 0 : task.count) + 120_000, `memory child ${task.kind}`),
  );
} catch (error) {
  await send({ kind: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
}
process.exit(0);
