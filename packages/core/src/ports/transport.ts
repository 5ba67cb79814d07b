// The transport port. A transport (Kafka, SQS, SNS->SQS, in-memory) moves bytes and settles
// deliveries; core owns decoding, scheduling, the handler pipeline and the decision of what to do
// with each message. A transport states what it can do in `capabilities`, and core adapts to it or
// refuses a configuration the transport cannot honour (SWITCHYARD_CAPABILITY).
//
// Life of a delivery:
//   transport fetches -> `sink(delivery)` (awaited: resolves once core has room, which is how
//   backpressure reaches the fetch loop) -> core runs the pipeline -> `delivery.settle(...)` exactly
//   once -> the transport commits the offset watermark / deletes / changes visibility / writes the
//   dead letter, and only then resolves `settle`.

import type { DeadLetterRecord } from '../dead-letter.js';
import type { OutgoingMessage, RawMessage } from '../envelope.js';

export type DeliverySemantics = 'at-most-once' | 'at-least-once' | 'exactly-once';

export interface TransportCapabilities {
  /** `log`: offsets, replay, consumer groups (Kafka). `queue`: per-message ack and leases (SQS). */
  readonly model: 'log' | 'queue';
  /** What order deliveries keep: per partition, per FIFO group, or none. */
  readonly ordering: 'partition' | 'group' | 'none';
  /** Several independent groups each receive every message. */
  readonly consumerGroups: boolean;
  /** Can re-read from an offset or a timestamp. */
  readonly replay: boolean;
  /**
   * `settle({ kind: 'retry', delayMs })` is accepted: the transport redelivers later without blocking
   * other messages (SQS visibility, Kafka retry topics, memory queues). When false, core retries in
   * place (blocking the ordering key) and never passes a retry settlement.
   */
  readonly delayedRetry: boolean;
  /** Longest delay a retry settlement may ask for (SQS: 12 hours). */
  readonly maxRetryDelayMs: number;
  /** The broker itself moves a message to a DLQ after N receives (SQS redrive policy). */
  readonly nativeRedrive: boolean;
  /** Supports `exactly-once` subscriptions (Kafka transactions). */
  readonly exactlyOnce: boolean;
  /** Messages have a lease that lapses (SQS visibility timeout); handler timeouts must stay below it. */
  readonly leaseMs: number | undefined;
}

export type Settlement =
  | { readonly kind: 'ack' }
  /** Redeliver after `delayMs`. Only sent when `capabilities.delayedRetry`. */
  | { readonly kind: 'retry'; readonly delayMs: number; readonly attempt: number }
  /** Write `record` to the dead-letter destination, then settle past the message. Must not lose it. */
  | { readonly kind: 'dead-letter'; readonly record: DeadLetterRecord; readonly destination: string }
  /** Not processed (shutdown before start): give it back at once (SQS visibility 0; Kafka: not committed). */
  | { readonly kind: 'release' };

export interface Delivery {
  readonly message: RawMessage;
  /** Delivery attempt as the transport knows it: SQS receive count, or 1 for logs (core counts in-place retries). */
  readonly attempt: number;
  /**
   * Deliveries sharing an ordering key run one at a time, in the order they were handed over.
   * Kafka: `topic/partition/key` (or `topic/partition` for strict partition order); SQS FIFO: the
   * group id; standard SQS: the message id (no ordering).
   */
  readonly orderingKey: string;
  /** Body size in bytes, for the in-flight byte bound. */
  readonly sizeBytes: number;
  /** Aborted when the transport lost the message (partition revoked, lease lapsed): results will not be committed. */
  readonly signal: AbortSignal;
  /**
   * Where this delivery's dead letter goes when the consumer named no `deadLetterDestination`, for a
   * transport whose default depends on the message (Kafka: `<source topic>.dlq` for each topic of a
   * multi-topic subscription, and for a retry-topic record its source topic's). Absent: the
   * subscription's default (`SubscriptionSpec.deadLetter`).
   */
  readonly deadLetterDestination?: string;
  /**
   * Settle once; resolves when the transport has durably recorded the settlement, rejects (or
   * throws) if it could not. Returns `undefined` when the settlement was recorded before returning
   * (a log's ack is bookkeeping in memory until the next commit): core then goes on without a
   * promise and microtask turn per message.
   */
  settle(settlement: Settlement): Promise<void> | undefined;
}

/**
 * Core's entry point. Returns `undefined` when the delivery was accepted at once (there was room in
 * flight: the usual case), else a promise that resolves when it is accepted; a transport awaits it
 * as its backpressure. Skipping the await when there is nothing to wait for saves a promise and a
 * microtask turn per message on the hot path.
 */
export type DeliverySink = (delivery: Delivery) => Promise<void> | undefined;

export type StartPosition = 'earliest' | 'latest' | { readonly timestamp: number } | { readonly offset: string };

/** Gauges a transport reports; core turns them into OpenTelemetry metrics. */
export interface TransportObserver {
  /** Kafka: log end offset minus committed offset, per partition. */
  lag(value: number, attributes: { readonly destination: string; readonly partition?: number }): void;
  /** Queues: visible, in-flight and oldest-age figures. */
  depth(
    value: number,
    attributes: { readonly destination: string; readonly state: 'visible' | 'in-flight' | 'delayed' | 'oldest-age-s' },
  ): void;
}

export interface SubscriptionSpec {
  /** Topic or queue name. */
  readonly destination: string;
  readonly consumerGroup: string;
  readonly semantics: DeliverySemantics;
  /** Where a new group starts (logs). */
  readonly startFrom: StartPosition;
  /** Upper bounds on what core will hold; the transport should not prefetch far beyond them. */
  readonly maxInFlight: number;
  readonly maxInFlightBytes: number;
  readonly observer: TransportObserver;
  /** Transport-specific options, validated by the transport. */
  readonly options?: Readonly<Record<string, unknown>>;
  /**
   * Where dead letters go, so a transport can check at subscribe that the destination exists (or
   * create it) and watch its depth. `named`: the consumer named it (`deadLetterDestination`), and
   * every dead letter goes there; otherwise it is the transport's default, which a delivery's own
   * `deadLetterDestination` overrides. Core always sets it; absent only in a hand-built spec.
   */
  readonly deadLetter?: { readonly destination: string; readonly named: boolean };
  /**
   * The most attempts core's retry policy makes of one message (`RetryPolicy.mostAttempts`), so a
   * queue whose own redrive policy would move messages first can say so. Absent in a hand-built spec.
   */
  readonly maxAttempts?: number;
}

export interface TransportHealth {
  readonly ok: boolean;
  readonly detail?: string;
}

export interface TransportSubscription {
  /** Stop fetching; resolves when the fetch loop has stopped. Delivered messages remain to be settled. */
  stopFetching(): Promise<void>;
  /** After settling: commit what is committable, leave the group, release resources. */
  close(): Promise<void>;
  pause(): void;
  resume(): void;
  health(): TransportHealth;
}

export interface PublishOptions {
  /** Caller's abort: stop waiting for buffer room or acknowledgement. */
  readonly signal?: AbortSignal;
}

export interface Transport {
  /** OpenTelemetry `messaging.system`: `kafka`, `aws_sqs`, `aws.sns`, or `switchyard.memory`. */
  readonly system: string;
  readonly capabilities: TransportCapabilities;
  /** Connect producers and admin clients. Idempotent. */
  start(): Promise<void>;
  subscribe(spec: SubscriptionSpec, sink: DeliverySink): Promise<TransportSubscription>;
  /**
   * The dead-letter destination for `destination` when a consumer names none. Core's default is
   * `<destination>.dlq`; a transport whose names cannot hold that (SQS allows a dot only in `.fifo`)
   * says its own.
   */
  deadLetterDestinationFor?(destination: string): string;
  /** Resolves when every message is acknowledged by the broker. */
  publish(destination: string, messages: readonly OutgoingMessage[], options?: PublishOptions): Promise<void>;
  /** Flush and disconnect. Idempotent. */
  close(): Promise<void>;
  health(): TransportHealth;
}
