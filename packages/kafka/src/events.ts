// Typed events of the Kafka binding (`transport.events.on(...)`): what a dashboard, a log line or
// a test waits on instead of sleeping.

import type { TopicPartitionOffset } from './driver/driver.js';
import type { HotPartition } from './hot-partitions.js';

export type PauseReason =
  /** In-flight bounds reached (count or bytes, subscription or partition). */
  | 'backpressure'
  /** The oldest unfinished message has run longer than `stuckPartitionMs`. */
  | 'stuck'
  /** The head of a retry-topic partition is not due yet. */
  | 'retry-due'
  /** `subscription.pause()`. */
  | 'user'
  /** `stopFetching()`. */
  | 'stopping';

export interface KafkaTransportEvents {
  'kafka:partition:paused': {
    readonly group: string;
    readonly topic: string;
    readonly partition: number;
    readonly reason: PauseReason;
  };
  'kafka:partition:resumed': { readonly group: string; readonly topic: string; readonly partition: number };
  'kafka:partition:hot': HotPartition & { readonly group: string };
  'kafka:rebalance': {
    readonly group: string;
    readonly memberId: string;
    readonly assigned: ReadonlyArray<{ topic: string; partition: number }>;
    readonly revoked: ReadonlyArray<{ topic: string; partition: number }>;
    readonly retained: ReadonlyArray<{ topic: string; partition: number }>;
  };
  'kafka:offsets:committed': { readonly group: string; readonly offsets: readonly TopicPartitionOffset[] };
  'kafka:offsets:commit-failed': { readonly group: string; readonly error: unknown };
  'kafka:consumer:crashed': { readonly group: string; readonly error: unknown; readonly restart: boolean };
  /** A record of a parked key was diverted behind its retried predecessor. */
  'kafka:message:parked': {
    readonly group: string;
    readonly topic: string;
    readonly partition: number;
    readonly offset: string;
    readonly key: string;
    readonly retryTopic: string;
  };
  /** A dead-letter record was written without its body (it was too large for the dead-letter topic). */
  'kafka:dead-letter:body-omitted': {
    readonly group: string;
    readonly topic: string;
    readonly partition: number;
    readonly offset: string;
    readonly destination: string;
    readonly bytes: number;
  };
}
