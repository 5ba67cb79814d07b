// Typed, namespaced lifecycle events. Spies, metrics and logs read the same values.

import type { DeadLetterRecord } from './dead-letter.js';
import type { SourcePosition } from './envelope.js';

/** What every consumer-side event says about the message it concerns. */
export interface MessageEventBase {
  /** Consumer group that processed it. */
  readonly consumerGroup: string;
  readonly destination: string;
  /** Envelope id when decoded, else the transport's message id/position. */
  readonly messageId: string;
  readonly type: string | undefined;
  readonly key: string | undefined;
  readonly attempt: number;
  readonly source: SourcePosition;
}

export interface SwitchyardEvents {
  /** Handler finished and the message was settled as done. */
  'consumer:message:acked': MessageEventBase & { readonly durationMs: number };
  /** A retryable failure; the message will be redelivered after `delayMs`. */
  'consumer:message:retried': MessageEventBase & { readonly delayMs: number; readonly error: unknown };
  /** Written to the dead-letter destination (after the write was acknowledged). */
  'consumer:message:dead-lettered': MessageEventBase & {
    readonly record: DeadLetterRecord;
    readonly deadLetterDestination: string;
  };
  /** Absorbed by idempotency: already completed. */
  'consumer:message:duplicate': MessageEventBase;
  /** Rejected by the stale-event guard: its version is not newer than the stored one. */
  'consumer:message:stale': MessageEventBase & { readonly version: string };
  /** Given back unprocessed (shutdown). */
  'consumer:message:released': MessageEventBase;
  /** Circuit breaker state change. */
  'circuit:state-changed': { readonly downstream: string; readonly from: string; readonly to: string };
  'publisher:message:sent': { readonly destination: string; readonly messageId: string; readonly type: string };
  'app:started': Record<string, never>;
  'app:stopped': { readonly drained: boolean; readonly abandoned: number };
  /** Something went wrong outside a handler (settlement failed, transport error); work continues or retries. */
  'app:error': { readonly error: unknown; readonly context: string };
}

export type SwitchyardEventName = keyof SwitchyardEvents;

/** A minimal typed emitter (no Node EventEmitter, so listeners cannot crash the runtime). */
export class TypedEvents<M extends object> {
  readonly #listeners = new Map<keyof M, Set<(payload: never) => void>>();

  on<K extends keyof M>(name: K, listener: (payload: M[K]) => void): () => void {
    let set = this.#listeners.get(name);
    if (!set) {
      set = new Set();
      this.#listeners.set(name, set);
    }
    set.add(listener as (payload: never) => void);
    return () => this.off(name, listener);
  }

  off<K extends keyof M>(name: K, listener: (payload: M[K]) => void): void {
    this.#listeners.get(name)?.delete(listener as (payload: never) => void);
  }

  /** Whether anyone listens: lets a per-message emitter skip building a payload nobody reads. */
  has<K extends keyof M>(name: K): boolean {
    return (this.#listeners.get(name)?.size ?? 0) > 0;
  }

  emit<K extends keyof M>(name: K, payload: M[K]): void {
    const set = this.#listeners.get(name);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (p: M[K]) => void)(payload);
      } catch {
        // A faulty listener must not break message processing.
      }
    }
  }
}
