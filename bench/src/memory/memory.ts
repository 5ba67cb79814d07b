// Memory on Kafka, each side in a child process of its own (forked per run, so RSS is comparable):
//   RSS after consuming M messages: Switchyard (KafkaTransport, no-op handler) against the raw
//   kafkajs eachBatch loop, alternating which side runs first.
//   Backlog: a Switchyard consumer with a slow handler while this process keeps producing much
//   faster than it consumes; lag grows far beyond 10x the in-flight bound, RSS is sampled.

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Kafka, Message } from 'kafkajs';
import { Partitioners } from 'kafkajs';
import { wireMessage } from '../contracts.js';
import { within } from '../deadline.js';
import { deadlineFor, uniqueName } from '../kafka/client.js';
import type { KafkaContext } from '../kafka/consume.js';
import { seed, toKafkaMessage } from '../kafka/support.js';
import { trackChild } from '../processes.js';
import { fmtSample } from '../report.js';
import { summarize } from '../stats.js';
import type { ChildReport, ChildTask } from './child.js';

const childScript = fileURLToPath(new URL('./child.ts', import.meta.url));

function runChild(task: ChildTask, timeoutMs: number): Promise<ChildReport> {
  const child = fork(childScript, [JSON.stringify(task)], {
    execArgv: ['--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const untrack = trackChild(child, `memory child (${task.kind})`);
  const result = new Promise<ChildReport>((resolve, reject) => {
    child.once('message', (m) => resolve(m as ChildReport));
    child.once('exit', (code) => reject(new Error(`memory child exited (${code}) without a report`)));
    child.once('error', reject);
  });
  return within(result, timeoutMs, `memory child (${task.kind})`)
    .then((r) => {
      if (r.kind === 'error') throw new Error(`memory child failed: ${r.message}`);
      return r;
    })
    .finally(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
      untrack();
    });
}

export async function memoryRss(ctx: KafkaContext): Promise<void> {
  const { settings, kafka, brokers, topics, report } = ctx;
  const count = settings.memoryMessages;
  const topic = await topics.create('memory', settings.kafkaPartitions);
  const section = `memory: RSS after ${count.toLocaleString('en-US')} msgs (Kafka)`;
  try {
    await seed(kafka, topic, count);
    type ConsumeReport = Extract<ChildReport, { kind: 'consume' }>;
    const sides: Record<'switchyard' | 'raw', ConsumeReport[]> = { switchyard: [], raw: [] };
    for (let i = 0; i < settings.memoryRounds; i++) {
      const order = i % 2 === 0 ? (['switchyard', 'raw'] as const) : (['raw', 'switchyard'] as const);
      for (const side of order) {
        const r = await runChild(
          { kind: 'consume', side, brokers: [...brokers], topic, count },
          deadlineFor(count) + 60_000,
        );
        if (r.kind !== 'consume') throw new Error('unexpected child report');
        sides[side].push(r);
        process.stderr.write(
          `[bench] memory round ${i + 1}/${settings.memoryRounds} ${side}: RSS ${r.rssEnd.toFixed(0)} MB (loaded ${r.rssIdle.toFixed(0)}, peak ${r.rssPeak.toFixed(0)}), ${Math.round(r.rate)} msg/s\n`,
        );
      }
    }
    const end = (s: 'switchyard' | 'raw') => summarize(sides[s].map((r) => r.rssEnd));
    const idle = (s: 'switchyard' | 'raw') => summarize(sides[s].map((r) => r.rssIdle));
    const peak = (s: 'switchyard' | 'raw') => summarize(sides[s].map((r) => r.rssPeak));
    const mean = (s: 'switchyard' | 'raw') => summarize(sides[s].map((r) => r.rssMean));
    const ratio = end('switchyard').median / end('raw').median;
    const meanRatio = mean('switchyard').median / mean('raw').median;
    for (const s of ['switchyard', 'raw'] as const) {
      report.sample(`memory.rss_mb.${s}`, end(s), 1);
      report.figure(`memory.rss_loaded_mb.${s}`, idle(s).median, 1);
      report.figure(`memory.rss_peak_mb.${s}`, peak(s).median, 1);
      report.figure(`memory.rss_mean_mb.${s}`, mean(s).median, 1);
      report.row(
        section,
        s === 'raw' ? 'kafkajs' : s,
        `${fmtSample(end(s), 'MB')}; loaded ${idle(s).median.toFixed(0)} MB, peak ${peak(s).median.toFixed(0)} MB, mean while consuming ${mean(s).median.toFixed(0)} MB`,
      );
    }
    report.figure('memory.rss_ratio_vs_raw', ratio);
    report.figure('memory.rss_mean_ratio_vs_raw', meanRatio);
    report.figure('memory.rss_ratio_vs_raw_target', 1.25);
    report.note('memory.rss_ratio_vs_raw_verdict', ratio <= 1.25 ? 'met' : 'missed');
    report.figure('memory.messages', count, 0);
    report.row(
      section,
      'ratio',
      `${ratio.toFixed(2)}x of the medians: ${ratio <= 1.25 ? 'met' : 'missed'} (target <= 1.25x; ${settings.memoryRounds} run(s) per side)`,
    );
    // RSS at one moment depends on where the GC cycle happens to be (it swings by ~50 MB on the
    // Switchyard side): the mean over the run is the steadier figure, reported beside it.
    report.row(section, 'mean-RSS ratio', `${meanRatio.toFixed(2)}x (context, same runs)`);
  } finally {
    await topics.remove(topic);
  }
}

/**
 * Bytes allocated per message consumed (garbage included), each side in a fresh child: the
 * figure behind RSS, without RSS's dependence on the GC phase at the moment it is read.
 */
export async function memoryAllocation(ctx: KafkaContext): Promise<void> {
  const { settings, kafka, brokers, topics, report } = ctx;
  const count = settings.allocationMessages;
  const section = `memory: bytes allocated per msg (Kafka, ${count.toLocaleString('en-US')} msgs)`;
  const perMessage: Record<'switchyard' | 'raw', number> = { switchyard: 0, raw: 0 };
  for (const side of ['switchyard', 'raw'] as const) {
    const topic = await topics.create(`alloc-${side}`, settings.kafkaPartitions);
    try {
      await seed(kafka, topic, count);
      const r = await runChild(
        { kind: 'allocation', side, brokers: [...brokers], topic, count },
        deadlineFor(count) + 60_000,
      );
      if (r.kind !== 'allocation') throw new Error('unexpected child report');
      perMessage[side] = r.bytesPerMessage;
      report.figure(`memory.alloc_bytes_per_msg.${side}`, r.bytesPerMessage, 0);
      report.row(
        section,
        side === 'raw' ? 'kafkajs' : side,
        `${Math.round(r.bytesPerMessage).toLocaleString('en-US')} B/msg`,
      );
    } finally {
      await topics.remove(topic);
    }
  }
  const ratio = perMessage.switchyard / perMessage.raw;
  report.figure('memory.alloc_ratio_vs_raw', ratio);
  report.row(
    section,
    'ratio',
    `${ratio.toFixed(2)}x (context for the RSS pair: V8 sizes the heap from the allocation rate)`,
  );
}

/** Writes ~`rate` messages/s of `bytes` each to `topic` until `stop` aborts; returns how many. */
async function produceSteadily(kafka: Kafka, topic: string, rate: number, bytes: number, stop: AbortSignal) {
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await within(producer.connect(), 30_000, 'backlog producer connect');
  const padding = 'x'.repeat(bytes);
  let sent = 0;
  try {
    const started = performance.now();
    while (!stop.aborted) {
      const due = Math.floor(((performance.now() - started) / 1000) * rate) - sent;
      if (due > 0) {
        const messages: Message[] = [];
        for (let k = 0; k < due; k++) {
          const m = toKafkaMessage(await wireMessage(sent + k));
          // Same envelope, bigger body: the JSON gains a field the handler ignores.
          const body = JSON.parse(Buffer.from(m.value as Buffer).toString()) as Record<string, unknown>;
          messages.push({ ...m, value: JSON.stringify({ ...body, note: padding }) });
        }
        await within(producer.send({ topic, acks: 1, messages }), 30_000, 'backlog produce');
        sent += messages.length;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return sent;
  } finally {
    await producer.disconnect().catch(() => {});
  }
}

export async function memoryBacklog(ctx: KafkaContext): Promise<void> {
  const { settings, kafka, brokers, topics, report } = ctx;
  const inFlight = settings.backlogInFlight;
  const handlerMs = 20;
  const rate = 2_000;
  const bytes = 1_024;
  const section = `memory: backlog (Kafka, maxInFlight ${inFlight})`;
  const topic = await topics.create('backlog', settings.kafkaPartitions);
  const group = uniqueName('backlog');
  const stop = new AbortController();
  try {
    const producing = produceSteadily(kafka, topic, rate, bytes, stop.signal);
    producing.catch(() => {});
    let child: ChildReport;
    try {
      child = await runChild(
        {
          kind: 'backlog',
          brokers: [...brokers],
          topic,
          group,
          maxInFlight: inFlight,
          handlerMs,
          seconds: settings.backlogSeconds,
        },
        settings.backlogSeconds * 1000 + 120_000,
      );
    } finally {
      stop.abort();
    }
    const produced = await producing;
    if (child.kind !== 'backlog') throw new Error('unexpected child report');
    const lag = produced - child.processed;
    // The first seconds load modules, connect and fill the first fetch: growth is measured after.
    const warm = child.samples.filter(([t]) => t >= Math.min(6, settings.backlogSeconds / 3));
    if (warm.length < 4) throw new Error('too few RSS samples after warm-up');
    const fifth = Math.max(1, Math.floor(warm.length / 5));
    const mean = (xs: [number, number][]) => xs.reduce((s, [, y]) => s + y, 0) / xs.length;
    const growth = mean(warm.slice(-fifth)) - mean(warm.slice(0, fifth));
    const rss = warm.map(([, y]) => y);
    report.figure('memory.backlog_rss_growth_mb', growth, 1);
    report.figure('memory.backlog_rss_max_mb', Math.max(...rss), 1);
    report.figure('memory.backlog_lag_end', lag, 0);
    report.figure('memory.backlog_lag_vs_in_flight', lag / inFlight, 0);
    report.figure('memory.backlog_bytes_behind_mb', (lag * bytes) / (1024 * 1024), 1);
    report.row(
      section,
      'RSS growth while lag grew',
      `${growth.toFixed(1)} MB (${warm.length} samples over ${(warm.at(-1)![0] - warm[0]![0]).toFixed(0)} s; RSS ${Math.min(...rss).toFixed(0)}-${Math.max(...rss).toFixed(0)} MB)`,
    );
    report.row(
      section,
      'lag at the end',
      `${lag.toLocaleString('en-US')} msgs = ${Math.round(lag / inFlight)}x the in-flight bound, ~${((lag * bytes) / (1024 * 1024)).toFixed(0)} MB not held in memory`,
    );
    report.row(
      section,
      'settings',
      `produce ${rate}/s of ~${bytes} B, handler ${handlerMs} ms, ${settings.backlogSeconds} s`,
    );
  } finally {
    stop.abort();
    await topics.remove(topic);
  }
}
