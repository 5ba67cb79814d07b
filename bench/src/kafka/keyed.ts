// Pair 3: one partition, a 10 ms handler, 1 000 keys. Switchyard with 16 messages in flight
// (parallel across keys, serial per key) against the same app with 1 in flight. Every handler call
// checks per-key order: a key's messages must arrive in seq order, never two of a key at once.

import { setTimeout as sleep } from 'node:timers/promises';
import { createApp, defineHandler, defineTopic } from '@switchyard/core';
import { KafkaTransport } from '@switchyard/kafka';
import { OrderPlaced } from '../contracts.js';
import { closeQuietly, signal, within } from '../deadline.js';
import { runPair } from '../pair.js';
import { fmtSample } from '../report.js';
import type { KafkaContext } from './consume.js';
import { seed, uniqueName } from './support.js';

/** Per-key order: seq must follow seq, and a key may not run twice at once. */
export class KeyOrderCheck {
  readonly #next = new Map<string, number>();
  readonly #running = new Set<string>();
  violations = 0;

  begin(key: string, seq: number): void {
    if ((this.#next.get(key) ?? 0) !== seq) this.violations++;
    if (this.#running.has(key)) this.violations++;
    this.#running.add(key);
    this.#next.set(key, seq + 1);
  }

  end(key: string): void {
    this.#running.delete(key);
  }
}

async function keyedRun(
  brokers: readonly string[],
  topicName: string,
  count: number,
  maxInFlight: number,
  handlerMs: number,
  capMs: number,
): Promise<{ rate: number; violations: number; capped: boolean }> {
  const app = createApp({ transport: new KafkaTransport({ brokers, clientId: `bench-keyed-${maxInFlight}` }) });
  const check = new KeyOrderCheck();
  const done = signal();
  const firstCall = signal();
  let processed = 0;
  let first = 0;
  let last = 0;
  app.consume(defineTopic({ name: topicName, events: [OrderPlaced] }), {
    group: uniqueName(`keyed-c${maxInFlight}`),
    maxInFlight,
    handlers: [
      defineHandler(OrderPlaced, async (message) => {
        if (processed >= count) return; // past the measured window: being stopped
        if (first === 0) {
          first = performance.now();
          firstCall.resolve();
        }
        check.begin(message.payload.orderId, message.payload.seq);
        await sleep(handlerMs);
        check.end(message.payload.orderId);
        if (++processed === count) {
          last = performance.now();
          done.resolve();
        }
      }),
    ],
  });
  try {
    await within(app.start(), 60_000, 'Switchyard app start');
    // Until `count` are processed or `capMs` passed since the first call, whichever comes first: a
    // slow consumer still gets a figure; one that never calls the handler is an error.
    await within(firstCall.promise, 60_000, `keyed consumer (maxInFlight ${maxInFlight}): first message`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done.promise,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, capMs - (performance.now() - first)));
      }),
    ]);
    clearTimeout(timer);
    const capped = processed < count;
    if (capped) last = performance.now();
    if (processed === 0)
      throw new Error(`keyed consumer (maxInFlight ${maxInFlight}) finished no message in ${capMs} ms`);
    // Steady state: from the first handler call to the last, so group joining does not count.
    return { rate: (processed / (last - first)) * 1000, violations: check.violations, capped };
  } finally {
    await closeQuietly('Switchyard app', () => app.stop({ deadlineMs: 10_000 }));
  }
}

export async function kafkaKeyed(ctx: KafkaContext): Promise<void> {
  const { settings, kafka, brokers, topics, report } = ctx;
  const result = await runPair({
    name: 'kafka keyed c16 vs c1',
    rounds: settings.rounds,
    maxSpread: settings.maxSpread,
    prepare: async () => {
      const topic = await topics.create('keyed', 1);
      // One send at a time: each key's messages are written in seq order.
      await seed(kafka, topic, settings.keyedMessages, { keys: settings.keyedKeys, concurrency: 1 });
      return topic;
    },
    candidate: async (topic) => {
      const r = await keyedRun(
        brokers,
        topic,
        settings.keyedMessages,
        16,
        settings.handlerMs,
        settings.keyedCapSeconds * 1000,
      );
      return { rate: r.rate, extra: { violations: r.violations, capped: r.capped ? 1 : 0 } };
    },
    reference: async (topic) => {
      const r = await keyedRun(
        brokers,
        topic,
        settings.keyedSerialMessages,
        1,
        settings.handlerMs,
        settings.keyedCapSeconds * 1000,
      );
      return { rate: r.rate, extra: { violations: r.violations, capped: r.capped ? 1 : 0 } };
    },
    cleanup: (topic) => topics.remove(topic),
  });
  const c = result.comparison;
  const violations = [...result.candidateExtra, ...result.referenceExtra].reduce((s, e) => s + (e.violations ?? 0), 0);
  const section = 'kafka keyed (1 partition, 10 ms)';
  report.sample('kafka.keyed.c16.msgs_per_s', c.candidate);
  report.sample('kafka.keyed.c1.msgs_per_s', c.reference);
  report.figure('kafka.keyed.spread', c.spread);
  report.figures['kafka.keyed.c16_vs_c1'] = c.decided ? Math.round(c.ratio * 100) / 100 : null;
  if (!c.decided) report.figure('kafka.keyed.c16_vs_c1_undecided', c.ratio, 2);
  report.figure('kafka.keyed.order_violations', violations, 0);
  report.row(section, 'concurrency 16', fmtSample(c.candidate));
  report.row(section, 'concurrency 1', fmtSample(c.reference));
  report.row(
    section,
    'c16 / c1',
    c.decided
      ? `${c.ratio.toFixed(1)}x (rounds ${c.roundRatios.min.toFixed(1)}-${c.roundRatios.max.toFixed(1)})`
      : `undecided (spread ${(c.spread * 100).toFixed(0)}%; medians give ${c.ratio.toFixed(1)}x)`,
  );
  report.row(section, 'per-key order violations', `${violations} (target 0)`);
  // A ratio of two stalled sides means nothing: each side is also compared with its own ceiling
  // (16 or 1 handler(s) of handlerMs running back to back).
  const c16Efficiency = c.candidate.median / ((16 * 1000) / settings.handlerMs);
  const c1Efficiency = c.reference.median / (1000 / settings.handlerMs);
  report.figure('kafka.keyed.c16_efficiency', c16Efficiency);
  report.figure('kafka.keyed.c1_efficiency', c1Efficiency);
  report.row(
    section,
    'share of ceiling',
    `c16 ${(c16Efficiency * 100).toFixed(0)}% of 16 x 1000/${settings.handlerMs} ms; c1 ${(c1Efficiency * 100).toFixed(0)}% of 1000/${settings.handlerMs} ms`,
  );
  report.target(
    'kafka.keyed',
    section,
    c,
    12,
    'kafka.keyed.c16_vs_c1',
    c1Efficiency < 0.5
      ? `concurrency 1 runs at ${(c1Efficiency * 100).toFixed(0)}% of its ceiling, so the ratio compares two stalls`
      : undefined,
  );
  const capped = (xs: readonly Readonly<Record<string, number>>[]) => xs.filter((x) => x.capped === 1).length;
  if (capped(result.candidateExtra) + capped(result.referenceExtra) > 0)
    report.row(
      section,
      'time cap',
      `${capped(result.candidateExtra)} c16 and ${capped(result.referenceExtra)} c1 run(s) stopped at the ${settings.keyedCapSeconds} s cap before their count`,
    );
}
