// Micro-benchmark of core's per-message pipeline on the in-memory log transport (not a test).
//
// Figure of merit: `createApp` end to end (decode, schedule, span, validate, handler, ack) against a
// raw loop driving the SAME transport's subscribe sink with an immediate ack. Both sides pay for the
// memory broker, its fetch loops, offset watermark and commits; the difference is core's overhead.
//
//   cd packages/core
//   npx tsup bench/pipeline.bench.ts --no-config --format esm --target node20 \
//     --external @opentelemetry/context-async-hooks --out-dir node_modules/.cache/pipeline-bench
//   node node_modules/.cache/pipeline-bench/pipeline.bench.js [--messages 100000] [--rounds 5]
//        [--variants raw,noop,zod,...] [--in-flight 64] [--keys 1000] [--partitions 3]
//
// (`node --import tsx bench/pipeline.bench.ts` runs it unbundled, but tsx's name-keeping helper
// runs for every closure created, which inflates both sides.)
//
// Variants (each on a fresh consumer group reading the same seeded topic, order rotated per round):
//   raw      subscribe() + `settle({ kind: 'ack' })` at once, no decoding: what the transport can do
//   noop     createApp, a pass-through schema, a no-op handler; OTel API only (no SDK registered)
//   zod      as noop with a zod object schema (the contract's real validation)
//   zod-ctx  as zod with an AsyncLocalStorage context manager registered (what an SDK setup adds:
//            context.with() then really switches contexts); still no tracer provider
//   async    as zod with an `async` no-op handler (most real handlers are async)
//   timeout  as zod with a 30 s handler timeout (timeoutMs), which arms timers
//   core     core alone: as zod, but over a stub transport that hands over ready-made deliveries
//            and settles at once (no broker), to read core's own cost per message
//   core-async as core with an `async` no-op handler
//   core-raw that stub transport's loop with an immediate ack (subtract it from `core`)
//
// Two figures per variant: messages per wall-clock second, and messages per CPU second of this
// process (user + system, all its threads). On a shared machine the CPU figure is the steadier one;
// either way it is the median of several rounds, and the spread is printed too.

import { parseArgs } from 'node:util';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { z } from 'zod';
import {
  createApp,
  type DeliverySink,
  defineEvent,
  defineHandler,
  defineTopic,
  encodeMessage,
  MemoryBroker,
  MemoryLogTransport,
  memoryLogCapabilities,
  type OutgoingMessage,
  type RawMessage,
  type StandardSchemaV1,
  type SubscriptionSpec,
  systemClock,
  type Transport,
  type TransportHealth,
  type TransportSubscription,
} from '../src/index.js';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '5' },
    variants: { type: 'string', default: 'raw,noop,zod,zod-ctx,async,timeout' },
    'in-flight': { type: 'string', default: '64' },
    keys: { type: 'string', default: '1000' },
    partitions: { type: 'string', default: '3' },
  },
});
const MESSAGES = Number(args.messages);
const ROUNDS = Number(args.rounds);
const IN_FLIGHT = Number(args['in-flight']);
const KEYS = Number(args.keys);
const PARTITIONS = Number(args.partitions);
const VARIANTS = String(args.variants).split(',');
const TOPIC = 'bench.orders';

const orderShape = { orderId: z.string(), customerId: z.string(), total: z.number(), currency: z.string() };
type Order = { orderId: string; customerId: string; total: number; currency: string };

/** Accepts anything: measures the pipeline without a validator's cost. */
const passThrough: StandardSchemaV1<Order, Order> = {
  '~standard': { version: 1, vendor: 'bench', validate: (value) => ({ value: value as Order }) },
};

const ZodOrderPlaced = defineEvent({ name: 'OrderPlaced', schema: z.object(orderShape), key: (p) => p.orderId });
const PlainOrderPlaced = defineEvent({ name: 'OrderPlaced', schema: passThrough, key: (p) => p.orderId });

/** Messages as the stub transport hands them over (the first 1000 of the seeded topic's kind). */
const stubPool: OutgoingMessage[] = [];

async function seed(broker: MemoryBroker): Promise<void> {
  broker.createTopic(TOPIC, { partitions: PARTITIONS });
  const transport = new MemoryLogTransport({ broker });
  await transport.start();
  const batch: OutgoingMessage[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const payload = { orderId: `o-${i % KEYS}`, customerId: `c-${i % 97}`, total: i / 100, currency: 'EUR' };
    const message = await encodeMessage(ZodOrderPlaced, payload, { clock: systemClock });
    if (stubPool.length < 1000) stubPool.push(message);
    batch.push(message);
    if (batch.length === 1000) {
      await transport.publish(TOPIC, batch.splice(0));
    }
  }
  if (batch.length > 0) await transport.publish(TOPIC, batch);
  await transport.close();
}

/** Resolves once the group has committed every record (lag 0 on every partition). */
async function committedAll(broker: MemoryBroker, group: string): Promise<void> {
  for (;;) {
    if (broker.lag(group, TOPIC).every((p) => p.lag === 0)) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const spec = (group: string): SubscriptionSpec => ({
  destination: TOPIC,
  consumerGroup: group,
  semantics: 'at-least-once',
  startFrom: 'earliest',
  maxInFlight: IN_FLIGHT,
  maxInFlightBytes: 64 * 1024 * 1024,
  observer: { lag() {}, depth() {} },
});

let runs = 0;

/**
 * A transport without a broker: `drive()` hands `MESSAGES` deliveries (bodies and headers made once,
 * as a transport would have decoded them) to the subscribed sink, awaiting it as fetch loops do, and
 * resolves when all are settled. Measures core's cost per message without any transport's.
 */
class StubTransport implements Transport {
  readonly system = 'switchyard.memory';
  readonly capabilities = memoryLogCapabilities;
  #sink: DeliverySink | undefined;
  readonly #pool: RawMessage[];

  constructor(pool: readonly OutgoingMessage[]) {
    this.#pool = pool.map((m, i) => ({
      body: m.body,
      key: m.key,
      headers: { ...m.headers },
      timestamp: m.timestamp,
      source: { kind: 'log', topic: TOPIC, partition: i % PARTITIONS, offset: String(i), consumerGroup: 'stub' },
    }));
  }

  async start(): Promise<void> {}
  async publish(): Promise<void> {}
  async close(): Promise<void> {}
  health(): TransportHealth {
    return { ok: true };
  }

  async subscribe(_spec: SubscriptionSpec, sink: DeliverySink): Promise<TransportSubscription> {
    this.#sink = sink;
    return {
      stopFetching: async () => {},
      close: async () => {},
      pause() {},
      resume() {},
      health: () => ({ ok: true }),
    };
  }

  /** Hands every delivery to the sink; resolves once all are settled. */
  async drive(sink: DeliverySink | undefined = this.#sink): Promise<void> {
    if (sink === undefined) throw new Error('nothing subscribed');
    let settledCount = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const settle = async (): Promise<void> => {
      if (++settledCount === MESSAGES) done();
    };
    const signal = new AbortController().signal;
    for (let i = 0; i < MESSAGES; i++) {
      const message = this.#pool[i % this.#pool.length]!;
      await sink({
        message,
        attempt: 1,
        orderingKey: `${TOPIC}/${i % PARTITIONS}/${message.key ?? ''}`,
        sizeBytes: message.body?.byteLength ?? 0,
        signal,
        settle,
      });
    }
    await finished;
  }
}

interface Rate {
  /** Messages per wall-clock second. */
  readonly wall: number;
  /** Messages per CPU second of this process. */
  readonly cpu: number;
}

function timer(): () => Rate {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(cpu);
    return {
      wall: MESSAGES / ((performance.now() - wall) / 1000),
      cpu: MESSAGES / ((used.user + used.system) / 1e6),
    };
  };
}

async function runRaw(broker: MemoryBroker): Promise<Rate> {
  const group = `raw-${++runs}`;
  const transport = new MemoryLogTransport({ broker });
  await transport.start();
  let acked = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const stop = timer();
  await transport.subscribe(spec(group), async (delivery) => {
    await delivery.settle({ kind: 'ack' });
    if (++acked === MESSAGES) done();
  });
  await finished;
  await committedAll(broker, group);
  const rate = stop();
  await transport.close();
  return rate;
}

async function runApp(
  broker: MemoryBroker,
  contract: typeof ZodOrderPlaced | typeof PlainOrderPlaced,
  options: { readonly async?: boolean; readonly timeoutMs?: number } = {},
): Promise<Rate> {
  const group = `app-${++runs}`;
  const transport = new MemoryLogTransport({ broker });
  const topic = defineTopic({ name: TOPIC, events: [contract] });
  const app = createApp({ transport });
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  app.consume(topic, {
    group,
    maxInFlight: IN_FLIGHT,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    handlers: [
      options.async
        ? defineHandler(contract, async () => {
            if (++handled === MESSAGES) done();
          })
        : defineHandler(contract, () => {
            if (++handled === MESSAGES) done();
          }),
    ],
  });
  const stop = timer();
  await app.start();
  await finished;
  await committedAll(broker, group);
  const rate = stop();
  await app.stop();
  return rate;
}

async function runStub(sinkOnly: boolean, asyncHandler = false): Promise<Rate> {
  const transport = new StubTransport(stubPool);
  if (sinkOnly) {
    const stop = timer();
    await transport.drive(async (delivery) => {
      await delivery.settle({ kind: 'ack' });
    });
    return stop();
  }
  const app = createApp({ transport });
  app.consume(defineTopic({ name: TOPIC, events: [ZodOrderPlaced] }), {
    group: `stub-${++runs}`,
    maxInFlight: IN_FLIGHT,
    handlers: [asyncHandler ? defineHandler(ZodOrderPlaced, async () => {}) : defineHandler(ZodOrderPlaced, () => {})],
  });
  await app.start();
  const stop = timer();
  await transport.drive();
  const rate = stop();
  await app.stop();
  return rate;
}

async function runVariant(broker: MemoryBroker, variant: string): Promise<Rate> {
  switch (variant) {
    case 'core':
      return runStub(false);
    case 'core-async':
      return runStub(false, true);
    case 'core-raw':
      return runStub(true);
    case 'raw':
      return runRaw(broker);
    case 'noop':
      return runApp(broker, PlainOrderPlaced);
    case 'zod':
      return runApp(broker, ZodOrderPlaced);
    case 'async':
      return runApp(broker, ZodOrderPlaced, { async: true });
    case 'timeout':
      return runApp(broker, ZodOrderPlaced, { timeoutMs: 30_000 });
    case 'zod-ctx': {
      const manager = new AsyncLocalStorageContextManager().enable();
      context.setGlobalContextManager(manager);
      try {
        return await runApp(broker, ZodOrderPlaced);
      } finally {
        context.disable();
        manager.disable();
      }
    }
    default:
      throw new Error(
        `unknown variant '${variant}' (raw, noop, zod, zod-ctx, async, timeout, core, core-async, core-raw)`,
      );
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function main(): Promise<void> {
  const broker = new MemoryBroker({ clock: systemClock });
  await seed(broker);
  process.stderr.write(
    `seeded ${MESSAGES} messages on ${PARTITIONS} partitions, ${KEYS} keys; maxInFlight ${IN_FLIGHT}; node ${process.version}\n`,
  );
  // Warm-up: let the JIT see every path once before anything is timed.
  for (const variant of VARIANTS) await runVariant(broker, variant);

  const results = new Map<string, Rate[]>(VARIANTS.map((v) => [v, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]!);
    for (const variant of order) {
      const rate = await runVariant(broker, variant);
      results.get(variant)!.push(rate);
      process.stderr.write(
        `round ${round + 1}/${ROUNDS} ${variant.padEnd(8)} ${Math.round(rate.wall)} msg/s wall, ${Math.round(rate.cpu)} msg/cpu-s\n`,
      );
    }
  }

  for (const figure of ['wall', 'cpu'] as const) {
    const raw = results.has('raw') ? median(results.get('raw')!.map((r) => r[figure])) : undefined;
    console.log(`\n${figure === 'wall' ? 'msg per wall-clock s' : 'msg per CPU s'}`);
    console.log('variant      median   min..max            ratio to raw');
    for (const [variant, rates] of results) {
      const values = rates.map((r) => r[figure]);
      const m = median(values);
      const spread = `${Math.round(Math.min(...values))}..${Math.round(Math.max(...values))}`;
      const ratio = raw === undefined ? '' : (m / raw).toFixed(2);
      console.log(`${variant.padEnd(9)} ${String(Math.round(m)).padStart(9)}   ${spread.padEnd(19)} ${ratio}`);
    }
  }
}

await main();
