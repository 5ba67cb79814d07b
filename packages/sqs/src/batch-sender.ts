// The send loop SQS SendMessageBatch and SNS PublishBatch share: batches in parallel (or one after
// another where order matters), a lone entry through the single-message call, entries the server
// failed on its side sent again with backoff, and the call failed on the first entry it refuses.

import { createHash } from 'node:crypto';
import { type Clock, type Logger, type RandomSource, RetryPolicy, type SwitchyardError } from '@switchyard/core';
import { awsErrorName } from './queue-directory.js';

/** What a batch call reports per failed entry (the AWS SDK's BatchResultErrorEntry). */
export interface BatchEntryFailure {
  readonly Id?: string | undefined;
  readonly SenderFault?: boolean | undefined;
  readonly Code?: string | undefined;
  readonly Message?: string | undefined;
}

export interface BatchSender<E extends { readonly messageId: string }> {
  /** One entry alone (SendMessage, Publish). */
  sendOne(entry: E, signal: AbortSignal | undefined): Promise<void>;
  /** Several entries; entry `i` goes with the id `m<i>`. */
  sendBatch(
    entries: readonly E[],
    signal: AbortSignal | undefined,
  ): Promise<{ readonly Failed?: readonly BatchEntryFailure[] | undefined }>;
  /** The call's error: `what` names the message or batch, `retryable` says whether a later try may work. */
  error(what: string, cause: unknown, retryable: boolean): SwitchyardError;
  readonly attempts: number;
  readonly concurrency: number;
  readonly clock: Clock;
  /** Jitter for the resend backoff, so publishers throttled together do not retry together. */
  readonly random: RandomSource;
  readonly logger: Logger;
  /** Names the call and its destination in the log, e.g. `SendMessageBatch to 'orders'`. */
  readonly label: string;
}

/** Resending failed entries (publishes, settlements): 50 ms, 100 ms, … up to 1 s, fully jittered. */
const RESEND_BACKOFF = RetryPolicy.exponential({
  initialDelayMs: 50,
  maxDelayMs: 1_000,
  multiplier: 2,
  jitter: 'full',
});

/** The wait before resending entries whose attempt `attempt` failed on the server's side. */
export function resendDelay(attempt: number, random: RandomSource): number {
  return RESEND_BACKOFF.delayFor(attempt, random);
}

/** The batch-entry id of entry `index` (what `BatchSender.sendBatch` must use). */
export const batchEntryId = (index: number): string => `m${index}`;

/** Sends every batch; `ordered` sends them one after another (FIFO), else `concurrency` at a time. */
export async function sendBatches<E extends { readonly messageId: string }>(
  batches: readonly (readonly E[])[],
  sender: BatchSender<E>,
  ordered: boolean,
  signal?: AbortSignal,
): Promise<void> {
  if (ordered) {
    for (const batch of batches) await sendWithRetries(batch, sender, signal);
    return;
  }
  let next = 0;
  const worker = async () => {
    while (next < batches.length) await sendWithRetries(batches[next++]!, sender, signal);
  };
  const results = await Promise.allSettled(
    Array.from({ length: Math.min(sender.concurrency, batches.length) }, worker),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

async function sendWithRetries<E extends { readonly messageId: string }>(
  batch: readonly E[],
  sender: BatchSender<E>,
  signal: AbortSignal | undefined,
): Promise<void> {
  let pending = batch;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    const last = attempt >= sender.attempts;
    let retry: E[] = [];
    const reasons = new Set<string>();
    if (pending.length === 1) {
      const entry = pending[0]!;
      try {
        await sender.sendOne(entry, signal);
      } catch (error) {
        if (signal?.aborted || isClientFault(error) || last)
          throw sender.error(`message ${entry.messageId}`, error, !isClientFault(error));
        retry = [...pending];
        reasons.add(awsErrorName(error) ?? 'error');
      }
    } else {
      let failures: readonly BatchEntryFailure[] = [];
      try {
        failures = (await sender.sendBatch(pending, signal)).Failed ?? [];
      } catch (error) {
        if (signal?.aborted || isClientFault(error) || last)
          throw sender.error(`batch of ${pending.length}`, error, !isClientFault(error));
        retry = [...pending];
        reasons.add(awsErrorName(error) ?? 'error');
      }
      for (const failure of failures) {
        const entry = pending[Number((failure.Id ?? '').slice(1))];
        if (!entry) continue;
        if (failure.SenderFault || last)
          throw sender.error(
            `message ${entry.messageId} refused: ${failure.Code ?? 'unknown'}: ${failure.Message ?? ''}`,
            undefined,
            !failure.SenderFault,
          );
        retry.push(entry);
        reasons.add(failure.Code ?? 'unknown');
      }
    }
    if (retry.length === 0) return;
    const delayMs = resendDelay(attempt, sender.random);
    const why = [...reasons].join(', ');
    sender.logger.warn(
      { attempt, of: sender.attempts, entries: retry.length, delayMs, reason: why },
      `${sender.label}: ${retry.length} of ${pending.length} message(s) failed on the server's side (${why}); ` +
        `sending them again in ${delayMs} ms (attempt ${attempt + 1} of ${sender.attempts})`,
    );
    pending = retry;
    await sender.clock.sleep(delayMs, signal);
  }
}

/**
 * A fault of the request itself: sending it again cannot help. Throttling is not one, although the
 * SDK marks it `$fault: 'client'`: it says so with `$retryable` (or its name).
 */
export function isClientFault(error: unknown): boolean {
  const e = error as { $fault?: unknown; $retryable?: unknown; name?: unknown } | null;
  if (typeof e?.name === 'string' && /throttl|RequestThrottled|OverLimit/i.test(e.name)) return false;
  if (e?.$retryable) return false;
  return e?.$fault === 'client';
}

/** SQS's and SNS's rule for deduplication ids: up to 128 of alphanumerics and punctuation, else a hash. */
export function fifoDeduplicationId(value: string): string {
  if (value.length > 0 && value.length <= 128 && /^[\x21-\x7e]+$/.test(value)) return value;
  return createHash('sha256').update(value).digest('hex');
}
