// The hot-partition signal: a partition whose lag or consumption rate is far above the group's
// median usually means a hot key (one tenant producing most of the traffic), a slow consumer or a
// skewed partitioner. It is a pure function of one sample per partition, so it is tested by
// listing decisions; the subscription and `KafkaAdmin.hotPartitions` feed it.

import { InvalidOptionError, shownValue } from '@switchyard/core';
import { checkOptionsObject } from './dead-letter-tools.js';

export interface PartitionSample {
  readonly topic: string;
  readonly partition: number;
  /** Log end offset minus committed offset. */
  readonly lag: number;
  /** Messages per second arriving (or consumed) on the partition over the last interval. */
  readonly ratePerSecond?: number;
}

export interface HotPartitionOptions {
  /** How many times the median a partition must reach to count as hot. */
  readonly factor?: number;
  /** Ignore lag below this, so a quiet topic is never "hot" over a handful of messages. */
  readonly minLag?: number;
  /** Ignore rates below this (messages per second). */
  readonly minRatePerSecond?: number;
}

export interface HotPartition {
  readonly topic: string;
  readonly partition: number;
  readonly reason: 'lag' | 'rate';
  readonly value: number;
  readonly median: number;
}

export const hotPartitionDefaults = { factor: 4, minLag: 1_000, minRatePerSecond: 100 } as const;

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Partitions whose lag (or rate) is at least `factor` times the median over all samples. Needs
 * three or more partitions: with fewer, "far above the median" says nothing.
 */
const EMPTY: HotPartitionOptions = Object.freeze({});

export function detectHotPartitions(
  samples: readonly PartitionSample[],
  options: HotPartitionOptions = EMPTY,
): HotPartition[] {
  // The subscription's own tick passes none; a caller's options are checked.
  if (options !== EMPTY) checkHotPartitionOptions('options', options);
  const factor = options.factor ?? hotPartitionDefaults.factor;
  const minLag = options.minLag ?? hotPartitionDefaults.minLag;
  const minRate = options.minRatePerSecond ?? hotPartitionDefaults.minRatePerSecond;
  if (samples.length < 3) return [];
  const hot: HotPartition[] = [];
  const lagMedian = median(samples.map((s) => s.lag));
  const rates = samples.filter((s) => s.ratePerSecond !== undefined).map((s) => s.ratePerSecond!);
  const rateMedian = rates.length >= 3 ? median(rates) : undefined;
  for (const s of samples) {
    // A zero median (most partitions caught up) compares against minLag alone.
    if (s.lag >= minLag && s.lag >= factor * lagMedian) {
      hot.push({ topic: s.topic, partition: s.partition, reason: 'lag', value: s.lag, median: lagMedian });
      continue;
    }
    if (
      rateMedian !== undefined &&
      s.ratePerSecond !== undefined &&
      s.ratePerSecond >= minRate &&
      s.ratePerSecond >= factor * rateMedian
    )
      hot.push({ topic: s.topic, partition: s.partition, reason: 'rate', value: s.ratePerSecond, median: rateMedian });
  }
  return hot;
}

const HOT_KEYS = ['factor', 'minLag', 'minRatePerSecond'] as const;

/** `options` of detectHotPartitions and KafkaAdmin.hotPartitions; `option` names them in errors. */
export function checkHotPartitionOptions(option: string, options: unknown): HotPartitionOptions {
  if (options === undefined) return {};
  const o = checkOptionsObject(option, options, HOT_KEYS, '{ factor: 4, minLag: 1_000 }');
  const out: { factor?: number; minLag?: number; minRatePerSecond?: number } = {};
  for (const [key, min] of [
    ['factor', 1],
    ['minLag', 0],
    ['minRatePerSecond', 0],
  ] as const) {
    const value = o[key];
    if (value === undefined) continue;
    if (!(typeof value === 'number' && Number.isFinite(value) && value >= min))
      throw new InvalidOptionError(
        `${option}.${key}`,
        `must be a finite number of at least ${min}, got ${shownValue(value)}`,
        `set ${key} to e.g. ${key === 'factor' ? 4 : 1_000}, or leave it out for the default`,
      );
    out[key] = value;
  }
  return out;
}
