// `npm run soak [-- --minutes 10 --rate 1000]`: a long run on the in-memory transport (MemoryBroker +
// MemoryLogTransport: Kafka semantics, no network) that publishes and consumes steadily through the
// whole pipeline (zod validation, idempotency, retries in place, dead letters, telemetry through the
// OTel API) and samples the heap after a full GC. Verdict: heap growth after warm-up < 1 MB/min.
// The last line is one JSON object with the figures.

import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  createApp,
  deadLetter,
  defineHandler,
  defineTopic,
  InvalidOptionError,
  MemoryBroker,
  MemoryIdempotencyStore,
  MemoryLogTransport,
  RetryableError,
} from '@switchyard/core';
import { orderPayload } from './contracts.js';
import { within } from './deadline.js';
import { slope } from './stats.js';
import { OrderPlacedValidated } from './validated-contract.js';

function parseArgs(argv: readonly string[]): { minutes: number; rate: number; sampleEverySeconds: number } {
  let minutes = 10;
  let rate = 1_000;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') continue;
    const value = Number(argv[i + 1]);
    if (arg === '--minutes' && value > 0) minutes = value;
    else if (arg === '--rate' && value > 0) rate = value;
    else
      throw new InvalidOptionError(
        arg ?? '',
        'unknown or invalid argument',
        'npm run soak -- [--minutes 10] [--rate 1000]',
      );
    i++;
  }
  // About 40 samples whatever the length, never more often than every 5 s.
  return { minutes, rate, sampleEverySeconds: Math.max(5, Math.round((minutes * 60) / 40)) };
}

/** `global.gc`, exposed at run time when node was not started with --expose-gc. */
function collector(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

const options = parseArgs(process.argv.slice(2));
const gc = collector();
const mb = (bytes: number) => bytes / (1024 * 1024);
const heapAfterGc = () => {
  gc();
  gc();
  return mb(process.memoryUsage().heapUsed);
};

const topicName = 'soak.orders';
const broker = new MemoryBroker();
// Bounded retention: the broker keeps the log in this process, so an unbounded topic would be a
// "leak" by design. 5 000 records per partition is ~7 s of traffic at the default rate. (Kept small
// because the memory broker copies a partition's records on every append once retention applies.)
broker.createTopic(topicName, { partitions: 3, retentionMessages: 5_000 });
broker.createTopic(`${topicName}.dlq`, { partitions: 1, retentionMessages: 1_000 });
const transport = new MemoryLogTransport({ broker, autoCreate: false });
const app = createApp({ transport });
const topic = defineTopic({ name: topicName, events: [OrderPlacedValidated] });

let published = 0;
let handled = 0;
let retried = 0;
let deadLettered = 0;
let acked = 0;
app.events.on('consumer:message:acked', () => {
  acked++;
});
app.events.on('consumer:message:retried', () => {
  retried++;
});
app.events.on('consumer:message:dead-lettered', () => {
  deadLettered++;
});
app.consume(topic, {
  group: 'soak',
  maxInFlight: 64,
  retry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 20 },
  idempotency: { store: new MemoryIdempotencyStore({ maxEntries: 20_000 }), ttlMs: 60_000 },
  handlers: [
    defineHandler(OrderPlacedValidated, async (message, context) => {
      handled++;
      const n = message.payload.seq;
      // 1% fail once (retried in place), 0.1% are dead-lettered by the handler.
      if (n % 100 === 7 && context.attempt === 1) throw new RetryableError('soak: transient failure');
      if (n % 1000 === 13) return deadLetter('soak: rejected on purpose');
      await sleep(1);
      return undefined;
    }),
  ],
});

const stopping = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stopping.abort());

async function publishSteadily(): Promise<void> {
  const started = performance.now();
  while (!stopping.signal.aborted) {
    const due = Math.floor(((performance.now() - started) / 1000) * options.rate) - published;
    if (due > 0) {
      // Each message its own seq (no key reuse): keys never repeat, so idempotency must evict.
      const batch = Array.from({ length: due }, (_, k) => orderPayload(published + k, 1_000_000_000));
      await within(
        Promise.all(batch.map((p, k) => app.publish(topic, OrderPlacedValidated, { ...p, seq: published + k }))),
        30_000,
        'soak publish',
      );
      published += due;
    }
    await sleep(20);
  }
}

const startedAt = Date.now();
await app.start();
const publishing = publishSteadily();
const samples: [number, number][] = [];
const endAt = startedAt + options.minutes * 60_000;
process.stderr.write(
  `[soak] ${options.minutes} min on the in-memory transport at ${options.rate} msg/s, heap sampled after GC every ${options.sampleEverySeconds} s\n`,
);
while (Date.now() < endAt && !stopping.signal.aborted) {
  const t = (Date.now() - startedAt) / 60_000;
  const heap = heapAfterGc();
  samples.push([t, heap]);
  process.stderr.write(
    `[soak] ${t.toFixed(2)} min: heap ${heap.toFixed(1)} MB, published ${published}, handled ${handled}, acked ${acked}, retried ${retried}, dead-lettered ${deadLettered}\n`,
  );
  await sleep(Math.min(options.sampleEverySeconds * 1000, Math.max(0, endAt - Date.now())), undefined, {
    signal: stopping.signal,
  }).catch(() => {});
}
stopping.abort();
await publishing.catch((error: unknown) => process.stderr.write(`[soak] publishing failed: ${String(error)}\n`));
const stop = await within(app.stop({ deadlineMs: 10_000 }), 30_000, 'soak app stop');
const finalHeap = heapAfterGc();

// Warm-up (JIT, caches and bounded stores filling: retention, idempotency entries) is the first
// fifth of the run, at least one minute when the run allows; growth is the slope after it.
const warmMinutes = Math.min(Math.max(options.minutes / 5, 1), options.minutes / 2);
const steady = samples.filter(([t]) => t >= warmMinutes);
const growth = steady.length >= 3 ? slope(steady) : Number.NaN;
const lag = broker.lag('soak', topicName).reduce((s, p) => s + p.lag, 0);
const verdict = Number.isNaN(growth) ? 'undecided (too few samples)' : growth < 1 ? 'PASS' : 'FAIL';
const minutes = (Date.now() - startedAt) / 60_000;

const rows: [string, string][] = [
  ['duration', `${minutes.toFixed(1)} min (warm-up ${warmMinutes.toFixed(1)} min excluded)`],
  ['transport', 'in-memory (MemoryBroker + MemoryLogTransport), 3 partitions, retention 5 000 records per partition'],
  ['traffic', `${options.rate} msg/s; 1% fail once (retried in place), 0.1% dead-lettered; zod + idempotency`],
  [
    'messages',
    `published ${published}, handled ${handled}, acked ${acked}, retried ${retried}, dead-lettered ${deadLettered}, lag at stop ${lag}`,
  ],
  [
    'heap after GC',
    `${steady[0]?.[1].toFixed(1) ?? '?'} MB after warm-up, ${finalHeap.toFixed(1)} MB at the end (${samples.length} samples)`,
  ],
  ['heap growth', `${Number.isNaN(growth) ? '?' : growth.toFixed(2)} MB/min (target < 1 MB/min)`],
  ['verdict', verdict],
  ['stop', `drained ${stop.drained}, abandoned ${stop.abandoned}`],
];
const width = Math.max(...rows.map(([k]) => k.length));
process.stdout.write(`\nSwitchyard soak on Node ${process.version}\n\n`);
for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
process.stdout.write(
  `${JSON.stringify({
    'soak.minutes': Math.round(minutes * 10) / 10,
    'soak.rate': options.rate,
    'soak.published': published,
    'soak.acked': acked,
    'soak.dead_lettered': deadLettered,
    'soak.retried': retried,
    'soak.heap_mb_start': steady[0] ? Math.round(steady[0][1] * 10) / 10 : null,
    'soak.heap_mb_end': Math.round(finalHeap * 10) / 10,
    'soak.heap_growth_mb_per_min': Number.isNaN(growth) ? null : Math.round(growth * 1000) / 1000,
    'soak.verdict': verdict,
    'soak.transport': 'memory',
  })}\n`,
);
process.exit(verdict === 'FAIL' ? 1 : 0);
