// The envelope every handler sees, and where a message came from.

/** Where a consumed message sits on its transport. */
export type SourcePosition =
  | {
      readonly kind: 'log';
      readonly topic: string;
      readonly partition: number;
      /** Kafka offsets exceed 2^53 in theory: kept as a decimal string. */
      readonly offset: string;
      readonly consumerGroup?: string;
    }
  | {
      readonly kind: 'queue';
      readonly queue: string;
      readonly messageId: string;
      readonly receiveCount: number;
      /**
       * When the queue first handed the message out (SQS ApproximateFirstReceiveTimestamp), ms since
       * the epoch. A retry on a queue is a visibility change that keeps the message as it was, so this
       * is how the first failure's time survives redelivery (for max-elapsed limits and DLQ records).
       */
      readonly firstReceivedAt?: number;
      /** FIFO message group, when the queue has them. */
      readonly groupId?: string;
    };

/** W3C trace context as carried on the wire. */
export interface TraceContextCarrier {
  readonly traceparent?: string;
  readonly tracestate?: string;
}

export interface Envelope<TPayload = unknown> {
  /** Message id: stable across redeliveries, the default idempotency key. */
  readonly id: string;
  readonly type: string;
  readonly key: string;
  readonly payload: TPayload;
  /** Every header/attribute as received, Switchyard's and the producer's own. */
  readonly headers: Readonly<Record<string, string>>;
  /** Producer timestamp, ms since the epoch. */
  readonly timestamp: number;
  /** 1 on the first delivery. */
  readonly attempt: number;
  readonly correlationId: string | undefined;
  readonly causationId: string | undefined;
  readonly traceContext: TraceContextCarrier;
  readonly source: SourcePosition;
  readonly schemaVersion: number | undefined;
}

/** A message as a transport hands it over, before decoding. */
export interface RawMessage {
  /** Body bytes as received; `null` for a Kafka tombstone. */
  readonly body: Uint8Array | null;
  /** Transport key (Kafka record key, SQS FIFO group id), if any. */
  readonly key: string | undefined;
  /** Headers/attributes, names lower-cased, values decoded to strings. */
  readonly headers: Readonly<Record<string, string>>;
  /** Broker timestamp, ms since the epoch. */
  readonly timestamp: number;
  readonly source: SourcePosition;
}

/** A message ready to go onto a transport. */
export interface OutgoingMessage {
  readonly id: string;
  /** Partitioning / FIFO group key. */
  readonly key: string | undefined;
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: number;
  /** Delay delivery (queues that support it natively). */
  readonly delayMs?: number;
  /** FIFO deduplication id (defaults to the message id on transports that need one). */
  readonly deduplicationId?: string;
}
