// Pairs 1 and 2: consume N seeded messages, at-least-once, time from start to the N-th processed.
// Switchyard (KafkaTransport, defaults) against a raw kafkajs eachBatch loop that commits the way
// Switchyard does: resolveOffset per message, commitOffsetsIfNecessary per batch, a commit at least
// every 1 000 messages or 1 s (Switchyard's commitEveryMessages / commitIntervalMs defaults).

import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { kafkaConsumerDefaults } from '@switchyard/kafka';
import type { Kafka } from 'kafkajs';
import { type PairResult, runPair, type SideRun } from '../pair.js';
import type { Report } from '../report.js';
import type { Settings } from '../settings.js';
import { compare, summarize } from '../stats.js';
import { OrderPlacedValidated } from '../validated-contract.js';
import type { ConsumeTiming } from './client.js';
import { rawConsume, rawSettings } from './raw-consume.js';
import type { Topics } from './support.js';
import { seed } from './support.js';
import { switchyardConsume } from './switchyard-consume.js';

/** The raw loop must run with Switchyard's consumer defaults, or the pair compares settings. */
export function rawSettingsMatch(): void {
  for (const [name, value] of Object.entries(rawSettings))
    if (kafkaConsumerDefaults[name as keyof typeof kafkaConsumerDefaults] !== value)
      throw new Error(
        `raw kafkajs loop uses ${name}=${value}, Switchyard's default is ${String(kafkaConsumerDefaults[name as keyof typeof kafkaConsumerDefaults])}`,
      );
}

export interface KafkaContext {
  readonly settings: Settings;
  readonly kafka: Kafka;
  readonly brokers: readonly string[];
  readonly topics: Topics;
  readonly report: Report;
}

const sideRun = (t: ConsumeTiming): SideRun => ({
  rate: t.rate,
  extra: { firstMs: t.firstMs, steadyRate: t.steadyRate },
});

/** Join and steady-state figures next to the headline (start to N-th) ones. */
function reportPhases(ctx: KafkaContext, key: string, section: string, result: PairResult): void {
  const of = (xs: readonly Readonly<Record<string, number>>[], name: string) =>
    summarize(xs.map((x) => x[name] ?? Number.NaN));
  const steady = compare(
    result.candidateExtra.map((x) => x.steadyRate ?? Number.NaN),
    result.referenceExtra.map((x) => x.steadyRate ?? Number.NaN),
    ctx.settings.maxSpread,
  );
  const syFirst = of(result.candidateExtra, 'firstMs');
  const rawFirst = of(result.referenceExtra, 'firstMs');
  ctx.report.figure(`${key}.switchyard.first_message_ms`, syFirst.median, 0);
  ctx.report.figure(`${key}.kafkajs.first_message_ms`, rawFirst.median, 0);
  ctx.report.figure(`${key}.switchyard.steady_msgs_per_s`, steady.candidate.median, 0);
  ctx.report.figure(`${key}.kafkajs.steady_msgs_per_s`, steady.reference.median, 0);
  ctx.report.figures[`${key}.steady_ratio`] = steady.decided ? Math.round(steady.ratio * 1000) / 1000 : null;
  ctx.report.row(
    section,
    'after the first message',
    `switchyard ${Math.round(steady.candidate.median).toLocaleString('en-US')}, kafkajs ${Math.round(steady.reference.median).toLocaleString('en-US')} msg/s: ${
      steady.decided
        ? `${steady.ratio.toFixed(2)}x`
        : `undecided (spread ${(steady.spread * 100).toFixed(0)}%, medians ${steady.ratio.toFixed(2)}x)`
    }; first message after ${syFirst.median.toFixed(0)} / ${rawFirst.median.toFixed(0)} ms`,
  );
}

function consumePair(ctx: KafkaContext, validatedTraced: boolean): Promise<PairResult> {
  const { settings, kafka, brokers, topics } = ctx;
  return runPair({
    name: validatedTraced ? 'kafka consume validated+traced' : 'kafka consume no-op',
    rounds: settings.rounds,
    maxSpread: settings.maxSpread,
    // The first pair on the broker warms it (and this process) up.
    warmup: !validatedTraced,
    prepare: async () => {
      const topic = await topics.create(validatedTraced ? 'traced' : 'noop', settings.kafkaPartitions);
      await seed(kafka, topic, settings.kafkaMessages, { traceparent: validatedTraced });
      return { brokers, topic, count: settings.kafkaMessages };
    },
    candidate: async (r) =>
      sideRun(
        await switchyardConsume(r, {
          ...(validatedTraced ? { contract: OrderPlacedValidated, propagator: new W3CTraceContextPropagator() } : {}),
        }),
      ),
    reference: async (r) => sideRun(await rawConsume(kafka, r)),
    cleanup: (r) => topics.remove(r.topic),
  });
}

/**
 * Context for pair 1: the same Switchyard run against a raw loop that also decodes the headers and
 * parses the JSON body of each message, the work no consumer of these messages can skip. Its ratio
 * is Switchyard's own overhead; the gap between it and pair 1's ratio is the decoding floor.
 */
export async function kafkaConsumeVsDecodingRaw(ctx: KafkaContext): Promise<void> {
  const { settings, kafka, brokers, topics } = ctx;
  const result = await runPair({
    name: 'kafka consume no-op vs decoding raw loop',
    rounds: settings.rounds,
    maxSpread: settings.maxSpread,
    prepare: async () => {
      const topic = await topics.create('decoding', settings.kafkaPartitions);
      await seed(kafka, topic, settings.kafkaMessages, { traceparent: false });
      return { brokers, topic, count: settings.kafkaMessages };
    },
    candidate: async (r) => sideRun(await switchyardConsume(r, {})),
    reference: async (r) => sideRun(await rawConsume(kafka, r, undefined, { decode: true })),
    cleanup: (r) => topics.remove(r.topic),
  });
  ctx.report.comparison(
    'kafka.consume.noop_vs_decoding_raw',
    'kafka consume no-op vs kafkajs+decode',
    { candidate: 'switchyard', reference: 'kafkajs_decoding' },
    result.comparison,
  );
  reportPhases(ctx, 'kafka.consume.noop_vs_decoding_raw', 'kafka consume no-op vs kafkajs+decode', result);
}

/** Pair 1. Returns the raw client's median rate (context for the Java ceiling). */
export async function kafkaConsumeNoop(ctx: KafkaContext): Promise<number> {
  rawSettingsMatch();
  const result = await consumePair(ctx, false);
  ctx.report.comparison(
    'kafka.consume.noop',
    'kafka consume no-op',
    { candidate: 'switchyard', reference: 'kafkajs' },
    result.comparison,
    0.9,
  );
  reportPhases(ctx, 'kafka.consume.noop', 'kafka consume no-op', result);
  return result.comparison.reference.median;
}

/**
 * Pair 2: zod validation and tracing active with the OpenTelemetry API only. A W3C propagator reads
 * each message's traceparent and an AsyncLocalStorage context manager carries the process span
 * into the handler, but no SDK is registered, so spans are neither recorded nor exported.
 */
export async function kafkaConsumeValidatedTraced(ctx: KafkaContext): Promise<void> {
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  try {
    const result = await consumePair(ctx, true);
    ctx.report.comparison(
      'kafka.consume.validated_traced',
      'kafka consume zod+tracing',
      { candidate: 'switchyard', reference: 'kafkajs' },
      result.comparison,
      0.8,
    );
    reportPhases(ctx, 'kafka.consume.validated_traced', 'kafka consume zod+tracing', result);
  } finally {
    context.disable();
  }
}
