// While a message is held (received, not yet settled) its visibility is extended before it lapses,
// so a handler that runs longer than the visibility timeout does not see its message delivered to
// another worker. Extensions stop at `maxProcessingMs` after the receive: a stuck handler then loses
// its lease and SQS redelivers the message (and eventually dead-letters it by its redrive policy).

import { type Clock, isRetryable, SwitchyardError } from '@switchyard/core';

/** A held message as the heartbeat sees it. */
export interface LeasedMessage {
  readonly receiptHandle: string;
  /** When it was received (ms). Extensions never reach past `receivedAt + maxProcessingMs`. */
  readonly receivedAt: number;
  /** When its visibility lapses unless extended (ms). */
  leaseUntil: number;
  /** Called once when the lease is gone: lapsed, or SQS refused to extend it. */
  lost(reason: SwitchyardError): void;
  /** False: watched until its lease lapses, never extended (a settlement of it failed). */
  readonly extendable?: boolean;
}

export interface VisibilityHeartbeatOptions {
  readonly intervalMs: number;
  /** False: only watch for lapsed leases (heartbeat off), abort them, never extend. */
  readonly extendLeases?: boolean;
  readonly visibilityTimeoutS: number;
  readonly maxProcessingMs: number;
  readonly clock: Clock;
  /** Sets a message's visibility to `seconds` from now (batched by the caller). */
  readonly extend: (receiptHandle: string, seconds: number) => Promise<void>;
}

export class VisibilityHeartbeat {
  readonly #options: VisibilityHeartbeatOptions;
  readonly #held = new Set<LeasedMessage>();
  /** Extensions sent and not yet answered (their retries included), by message. */
  readonly #extending = new Map<LeasedMessage, Promise<void>>();
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  /** Extensions requested, for tests and metrics. */
  extensions = 0;

  constructor(options: VisibilityHeartbeatOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#held.size;
  }

  track(message: LeasedMessage): void {
    if (this.#stop.signal.aborted) return;
    this.#held.add(message);
    if (!this.#loop) this.#loop = this.#run();
  }

  /**
   * Stops extending (the message is being settled). Returns the extension still on its way for it,
   * if any: a visibility change the settlement makes must wait for it, or the late extension can
   * land last and hide a retried or released message for a whole visibility timeout.
   */
  untrack(message: LeasedMessage): Promise<void> | undefined {
    this.#held.delete(message);
    return this.#extending.get(message);
  }

  /** Stops the loop; held messages keep whatever visibility they have. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { clock, intervalMs } = this.#options;
    try {
      while (this.#held.size > 0 && !this.#stop.signal.aborted) {
        await clock.sleep(intervalMs, this.#stop.signal);
        this.tick(clock.now());
      }
    } catch {
      // Aborted by stop().
    } finally {
      this.#loop = undefined;
      if (this.#held.size > 0 && !this.#stop.signal.aborted) this.#loop = this.#run();
    }
  }

  /** One round: extend every held message by the visibility timeout; report what has lapsed. */
  tick(now: number): void {
    const { intervalMs, visibilityTimeoutS, maxProcessingMs } = this.#options;
    for (const message of this.#held) {
      if (this.#extending.has(message)) continue;
      if (now >= message.leaseUntil) {
        this.#held.delete(message);
        message.lost(
          new SwitchyardError(
            'SWITCHYARD_TRANSPORT',
            now - message.receivedAt >= maxProcessingMs
              ? `message held for ${now - message.receivedAt} ms, past maxProcessingMs (${maxProcessingMs}): SQS will redeliver it`
              : 'visibility lapsed before it could be extended: SQS will redeliver the message',
            { retryable: true },
          ),
        );
        continue;
      }
      // Extended every round (skipping what was received or extended less than half a round ago), so
      // a failed extension still has the following rounds to succeed before the lease lapses.
      if (this.#options.extendLeases === false || message.extendable === false) continue;
      if (message.leaseUntil - now > visibilityTimeoutS * 1000 - intervalMs / 2) continue;
      const limit = message.receivedAt + maxProcessingMs;
      const seconds = Math.floor(Math.min(visibilityTimeoutS * 1000, limit - now) / 1000);
      if (seconds <= 0 || now + seconds * 1000 <= message.leaseUntil) continue;
      this.extensions += 1;
      const answered = this.#options.extend(message.receiptHandle, seconds).then(
        () => {
          // Counted from the request, not the answer: the lease SQS grants is never shorter.
          message.leaseUntil = Math.max(message.leaseUntil, now + seconds * 1000);
          this.#extending.delete(message);
        },
        (error: unknown) => {
          this.#extending.delete(message);
          // A server-side failure leaves the lease as it was: the next round tries again before it lapses.
          if (isRetryable(error) || !this.#held.delete(message)) return;
          message.lost(
            new SwitchyardError('SWITCHYARD_TRANSPORT', 'SQS refused to extend the visibility of a held message', {
              cause: error,
              retryable: true,
            }),
          );
        },
      );
      this.#extending.set(message, answered);
    }
  }
}
