// Kafka helpers with no Switchyard import (memory children of the raw side load only kafkajs).

import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';

export interface ConsumeRun {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly count: number;
}

/** One consume run: overall rate (start to N-th), time to the first message, rate after it. */
export interface ConsumeTiming {
  readonly rate: number;
  /** Connect, group join and first fetch. */
  readonly firstMs: number;
  /** From the first message to the N-th: throughput once joined. */
  readonly steadyRate: number;
}

/** Stopwatch for a consume run: `started` at construction, `message()` at each message. */
export class ConsumeClock {
  readonly #started = performance.now();
  #first = 0;
  #last = 0;

  message(): void {
    const now = performance.now();
    if (this.#first === 0) this.#first = now;
    this.#last = now;
  }

  timing(count: number): ConsumeTiming {
    return {
      rate: (count / (this.#last - this.#started)) * 1000,
      firstMs: this.#first - this.#started,
      steadyRate: this.#last > this.#first ? ((count - 1) / (this.#last - this.#first)) * 1000 : Number.NaN,
    };
  }
}

export function kafkaClient(brokers: readonly string[], clientId: string): Kafka {
  return new Kafka({ brokers: [...brokers], clientId, logLevel: logLevel.NOTHING });
}

export function uniqueName(prefix: string): string {
  return `bench-${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** How long a run of `count` messages may take before we call it hung (rate floor `minRate`/s). */
export function deadlineFor(count: number, minRate = 200, baseMs = 60_000): number {
  return baseMs + Math.ceil((count / minRate) * 1000);
}
