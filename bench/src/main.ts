// `npm run bench [-- --quick]`: Switchyard side by side with raw clients and peer libraries, in one
// run, on one broker, on this machine. Prints a table, the total duration, and as the last line one
// JSON object with every figure and ratio. See bench/README.md for what each pair measures.

import { cpus, totalmem } from 'node:os';
import { SQSClient } from '@aws-sdk/client-sqs';
import { acquireServices, awsClientConfig, type RunningServices } from '@switchyard/testing/services';
import { closeQuietly, within } from './deadline.js';
import { kafkaCeiling } from './kafka/ceiling.js';
import { kafkaClient } from './kafka/client.js';
import {
  type KafkaContext,
  kafkaConsumeNoop,
  kafkaConsumeValidatedTraced,
  kafkaConsumeVsDecodingRaw,
} from './kafka/consume.js';
import { kafkaKeyed } from './kafka/keyed.js';
import { kafkaProduce } from './kafka/produce.js';
import { Topics } from './kafka/support.js';
import { memoryAllocation, memoryBacklog, memoryRss } from './memory/memory.js';
import { killChildren } from './processes.js';
import { Report } from './report.js';
import { parseSettings, type Section, type Settings } from './settings.js';
import { type SqsContext, sqsConsumeNoop, sqsVsSqsConsumer } from './sqs/consume.js';
import { Queues } from './sqs/support.js';

const startedAt = Date.now();
const settings: Settings = parseSettings(process.argv.slice(2));
const report = new Report();
const wants = (s: Section) => settings.sections.includes(s);
let services: RunningServices | undefined;
let cleaning: Promise<void> | undefined;

/** Stops what this run started: child processes by pid, then the services (their own pids). */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    const killed = killChildren();
    if (killed.length > 0) process.stderr.write(`[bench] killed ${killed.join(', ')}\n`);
    if (services) await closeQuietly('services', () => services!.stop(), 60_000);
  })();
  return cleaning;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    process.stderr.write(`[bench] ${sig}: stopping services and children\n`);
    void cleanup().finally(() => process.exit(130));
  });

/** Runs one section; a failure omits its keys and says why, the others still run. */
async function section(name: string, work: () => Promise<void>): Promise<void> {
  const started = Date.now();
  try {
    await work();
    report.row(name, 'section time', `${((Date.now() - started) / 1000).toFixed(0)} s`);
  } catch (error) {
    report.omit(name, `failed: ${error instanceof Error ? error.message : String(error)}`);
    if (error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  }
}

async function main(): Promise<void> {
  process.stderr.write(
    `[bench] ${settings.quick ? 'quick' : 'full'} run: ${settings.rounds} rounds, sections ${settings.sections.join(', ')}\n`,
  );
  const needKafka = settings.sections.some((s) => ['kafka', 'keyed', 'produce', 'ceiling', 'memory'].includes(s));
  const needSqs = wants('sqs');
  const names = [...(needKafka ? (['kafka'] as const) : []), ...(needSqs ? (['sqs'] as const) : [])];
  if (names.length === 0) return;
  services = await within(acquireServices(names), 600_000, 'starting services');
  report.note('env.provider', services.provider);

  if (needKafka) {
    const kafkaEndpoint = services.endpoints.kafka;
    if (!kafkaEndpoint) report.omit('kafka', 'no Kafka endpoint');
    else {
      const kafka = kafkaClient(kafkaEndpoint.brokers, 'bench-admin');
      const topics = await Topics.connect(kafka);
      const ctx: KafkaContext = { settings, kafka, brokers: kafkaEndpoint.brokers, topics, report };
      let rawMedian: number | undefined;
      try {
        if (wants('kafka')) {
          await section('kafka consume no-op', async () => {
            rawMedian = await kafkaConsumeNoop(ctx);
          });
          await section('kafka consume zod+tracing', () => kafkaConsumeValidatedTraced(ctx));
          await section('kafka consume no-op vs kafkajs+decode', () => kafkaConsumeVsDecodingRaw(ctx));
        }
        if (wants('keyed')) await section('kafka keyed', () => kafkaKeyed(ctx));
        if (wants('produce')) await section('kafka batched publish', () => kafkaProduce(ctx));
        if (wants('ceiling')) await section('kafka ceiling (Java)', () => kafkaCeiling(ctx, rawMedian));
        if (wants('memory')) {
          await section('memory: RSS', () => memoryRss(ctx));
          await section('memory: allocation', () => memoryAllocation(ctx));
          await section('memory: backlog', () => memoryBacklog(ctx));
        }
      } finally {
        await closeQuietly('Kafka admin', () => topics.close());
      }
    }
  }

  if (needSqs) {
    const endpoint = services.endpoints.sqs;
    if (!endpoint) report.omit('sqs', 'no SQS endpoint');
    else {
      const admin = new SQSClient(awsClientConfig(endpoint));
      const queues = new Queues(admin);
      const ctx: SqsContext = { settings, endpoint, admin, queues, report };
      try {
        await section('sqs consume no-op', () => sqsConsumeNoop(ctx));
        await section('sqs vs sqs-consumer', () => sqsVsSqsConsumer(ctx));
      } finally {
        await closeQuietly('SQS queues', () => queues.close());
        admin.destroy();
      }
    }
  }
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  process.stderr.write(
    `[bench] run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
} finally {
  await cleanup();
}

const seconds = (Date.now() - startedAt) / 1000;
report.figure('run.duration_s', seconds, 0);
report.note('run.mode', settings.quick ? 'quick' : 'full');
report.figure('run.rounds', settings.rounds, 0);
report.figure('run.max_spread', settings.maxSpread, 2);
report.note('env.node', process.version);
report.figure('env.cpus', cpus().length, 0);
report.figure('env.memory_gb', totalmem() / 1024 ** 3, 1);
const machine = `${cpus().length} x ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GB, Node ${process.version}`;
process.stdout.write(
  `\nSwitchyard benchmark (${settings.quick ? 'quick' : 'full'}, ${settings.rounds} rounds) on ${machine}\n\n`,
);
process.stdout.write(`${report.table()}\n\n`);
process.stdout.write(`total duration: ${seconds.toFixed(0)} s\n`);
process.stdout.write(`${JSON.stringify(report.figures)}\n`);
process.exit(failed ? 1 : 0);
