// What a dead-lettered message carries, so an operator can tell why without reproducing it.

import type { SourcePosition } from './envelope.js';

export interface DeadLetterError {
  /** The error's class name, e.g. `ZodError`, `TypeError`. */
  readonly className: string;
  readonly code: string | undefined;
  readonly message: string;
  /** Trimmed to a bounded number of frames so headers never outgrow a record. */
  readonly stack: string | undefined;
}

export interface DeadLetterRecord {
  /** Original destination (topic or queue) and position. */
  readonly source: SourcePosition;
  readonly consumerGroup: string | undefined;
  readonly messageId: string | undefined;
  readonly messageType: string | undefined;
  readonly attempts: number;
  readonly firstFailureAt: number;
  readonly lastFailureAt: number;
  /** Why: `validation`, `decode`, `unknown-type`, `non-retryable`, `retries-exhausted`, `budget-exhausted`, `handler-requested`, `stale`. */
  readonly reason: DeadLetterReason;
  readonly error: DeadLetterError;
  /** Original payload, byte for byte (`null` for a tombstone). */
  readonly body: Uint8Array | null;
  /** Original headers, unchanged. */
  readonly headers: Readonly<Record<string, string>>;
  readonly key: string | undefined;
}

export type DeadLetterReason =
  | 'validation'
  | 'decode'
  | 'unknown-type'
  | 'non-retryable'
  | 'retries-exhausted'
  | 'budget-exhausted'
  | 'handler-requested'
  | 'timeout';
