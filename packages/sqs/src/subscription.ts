// One consumed queue: long-polling receive loops bounded by the in-flight limit, hand-over to core,
// the visibility heartbeat, and settlement (delete, visibility change, dead-letter then delete).

import { setMaxListeners } from 'node:events';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
} from '@aws-sdk/client-sqs';
import {
  type Delivery,
  type DeliverySink,
  type RawMessage,
  RetryPolicy,
  type Settlement,
  type SourcePosition,
  type SubscriptionSpec,
  SwitchyardError,
  type TransportHealth,
  type TransportSubscription,
} from '@switchyard/core';
import { decodeBody } from './body-codec.js';
import type { DeadLetterWriter } from './dead-letter-message.js';
import { FifoGroupGate } from './fifo-group-gate.js';
import { decodeAttributes } from './message-attributes.js';
import { type LeaseSettings, type ResolvedSqsOptions, SqsLimits } from './options.js';
import type { QueueDepthMonitor } from './queue-depth-monitor.js';
import type { QueueDescription } from './queue-directory.js';
import { type BatchEntryFailure, SettlementBatcher } from './settlement-batcher.js';
import { DECODE_ERROR_HEADER, unwrapSnsEnvelope } from './sns-envelope.js';
import { type LeasedMessage, VisibilityHeartbeat } from './visibility-heartbeat.js';

/** After a failed ReceiveMessage: 200 ms, 400 ms, … up to 10 s, fully jittered, so pollers spread out. */
const RECEIVE_BACKOFF = RetryPolicy.exponential({
  initialDelayMs: 200,
  maxDelayMs: 10_000,
  multiplier: 2,
  jitter: 'full',
});

type HeldState = 'held' | 'handed' | 'settling' | 'settled';

class HeldMessage implements LeasedMessage {
  readonly controller = new AbortController();
  state: HeldState = 'held';
  delivery!: Delivery;
  /** The dead-letter record is written: a retried dead-letter settlement only deletes. */
  deadLettered = false;
  extendable = true;
  constructor(
    readonly receiptHandle: string,
    readonly messageId: string,
    readonly groupId: string | undefined,
    readonly receivedAt: number,
    public leaseUntil: number,
    readonly sizeBytes: number,
  ) {}
  /** Set by the subscription: what else must happen when the lease is gone. */
  onLost: () => void = () => {};
  lost(reason: SwitchyardError): void {
    if (this.controller.signal.aborted) return;
    this.controller.abort(reason);
    this.onLost();
  }
}

/** A promise that settles the next time something changes (room freed, resumed, stopping). */
class ChangeSignal {
  #resolve: () => void = () => {};
  #promise: Promise<void> = this.#renew();
  #renew(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#resolve = resolve;
    });
  }
  wait(): Promise<void> {
    return this.#promise;
  }
  notify(): void {
    const resolve = this.#resolve;
    this.#promise = this.#renew();
    resolve();
  }
}

export interface SqsSubscriptionParams {
  readonly options: ResolvedSqsOptions;
  readonly queue: QueueDescription;
  readonly spec: SubscriptionSpec;
  readonly sink: DeliverySink;
  readonly pollers: number;
  readonly waitTimeSeconds: number;
  readonly lease: LeaseSettings;
  readonly deadLetters: DeadLetterWriter;
  readonly depth: QueueDepthMonitor | undefined;
}

function failuresOf(
  failed:
    | readonly {
        Id?: string | undefined;
        SenderFault?: boolean | undefined;
        Code?: string | undefined;
        Message?: string | undefined;
      }[]
    | undefined,
): Map<number, BatchEntryFailure> {
  const map = new Map<number, BatchEntryFailure>();
  for (const f of failed ?? [])
    map.set(Number(f.Id), { code: f.Code ?? 'Unknown', message: f.Message ?? '', senderFault: f.SenderFault === true });
  return map;
}

export class SqsSubscription implements TransportSubscription {
  readonly #p: SqsSubscriptionParams;
  readonly #held = new Map<string, HeldMessage>();
  readonly #gate = new FifoGroupGate<HeldMessage>();
  readonly #changed = new ChangeSignal();
  readonly #stopController = new AbortController();
  readonly #deletes: SettlementBatcher<string>;
  readonly #visibility: SettlementBatcher<{ receiptHandle: string; seconds: number }>;
  readonly #heartbeat: VisibilityHeartbeat;
  readonly #pending = new Set<Promise<unknown>>();
  #reserved = 0;
  #heldBytes = 0;
  #paused = false;
  #stopping = false;
  #loops: Promise<void>[] = [];
  #stopped: Promise<void> | undefined;
  #closed: Promise<void> | undefined;
  #receiveError: unknown;

  constructor(params: SqsSubscriptionParams) {
    this.#p = params;
    // Every poller's receive (the SDK adds an abort listener per request) and backoff listens to
    // this signal; up to 100 pollers is a bounded set, not the leak Node warns about past 10.
    setMaxListeners(0, this.#stopController.signal);
    const { options, queue } = params;
    const client = options.client;
    const batcher = {
      maxBatch: SqsLimits.maxBatchEntries,
      lingerMs: options.settleLingerMs,
      maxAttempts: options.settleAttempts,
      clock: options.clock,
      random: options.random,
    };
    this.#deletes = new SettlementBatcher<string>({
      ...batcher,
      operation: 'DeleteMessageBatch',
      send: async (handles) => {
        const out = await client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queue.url,
            Entries: handles.map((ReceiptHandle, i) => ({ Id: String(i), ReceiptHandle })),
          }),
        );
        return failuresOf(out.Failed);
      },
    });
    this.#visibility = new SettlementBatcher({
      ...batcher,
      operation: 'ChangeMessageVisibilityBatch',
      send: async (entries) => {
        const out = await client.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queue.url,
            Entries: entries.map((e, i) => ({
              Id: String(i),
              ReceiptHandle: e.receiptHandle,
              VisibilityTimeout: e.seconds,
            })),
          }),
        );
        return failuresOf(out.Failed);
      },
    });
    const lease = params.lease;
    // Without the heartbeat it still watches leases, so a lapsed delivery's signal is aborted.
    this.#heartbeat = new VisibilityHeartbeat({
      intervalMs:
        lease.heartbeatIntervalMs === false
          ? Math.max(50, (lease.visibilityTimeoutS * 1000) / 4)
          : lease.heartbeatIntervalMs,
      extendLeases: lease.heartbeatIntervalMs !== false,
      visibilityTimeoutS: lease.visibilityTimeoutS,
      maxProcessingMs: lease.maxProcessingMs,
      clock: options.clock,
      extend: (receiptHandle, seconds) => this.#visibility.submit({ receiptHandle, seconds }),
    });
  }

  /** Calls made so far, for tests and the benchmark. */
  get stats(): { deleteBatches: number; visibilityBatches: number; heartbeatExtensions: number; held: number } {
    return {
      deleteBatches: this.#deletes.calls,
      visibilityBatches: this.#visibility.calls,
      heartbeatExtensions: this.#heartbeat.extensions,
      held: this.#held.size,
    };
  }

  start(): void {
    for (let i = 0; i < this.#p.pollers; i++) this.#loops.push(this.#poll());
    this.#p.depth?.start();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#changed.notify();
  }

  health(): TransportHealth {
    if (this.#receiveError !== undefined)
      return {
        ok: false,
        detail: `ReceiveMessage on '${this.#p.queue.name}' failing: ${String((this.#receiveError as Error)?.message ?? this.#receiveError)}`,
      };
    return {
      ok: true,
      detail: `${this.#held.size} held, ${this.#stopping ? 'stopped' : this.#paused ? 'paused' : 'polling'}`,
    };
  }

  stopFetching(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopping = true;
      // Receives in flight are waited for (at most waitTimeSeconds) and what they bring is released at
      // once: a long poll cut short on the client side may still take messages on the server, which
      // would then stay invisible for the whole visibility timeout. `abortPollsOnStop` trades that for speed.
      this.#stopController.abort(new SwitchyardError('SWITCHYARD_SHUTDOWN', 'subscription stopping'));
      this.#changed.notify();
      await Promise.allSettled(this.#loops);
      // Received but never handed to core (FIFO messages waiting behind their group): give them back now.
      await Promise.allSettled(this.#gate.drainWaiting().map((m) => this.#release(m)));
    })();
    return this.#stopped;
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.stopFetching();
      await Promise.allSettled([...this.#pending]);
      await this.#deletes.drain();
      await this.#visibility.drain();
      await this.#heartbeat.stop();
      await this.#p.depth?.stop();
    })();
    return this.#closed;
  }

  async #poll(): Promise<void> {
    const { options, queue, spec } = this.#p;
    let failures = 0;
    while (!this.#stopping) {
      const room = Math.min(SqsLimits.maxBatchEntries, spec.maxInFlight - this.#held.size - this.#reserved);
      if (this.#paused || room <= 0 || this.#heldBytes >= spec.maxInFlightBytes) {
        await this.#changed.wait();
        continue;
      }
      this.#reserved += room;
      let messages: Message[];
      try {
        const out = await options.client.send(
          new ReceiveMessageCommand({
            QueueUrl: queue.url,
            MaxNumberOfMessages: room,
            WaitTimeSeconds: this.#p.waitTimeSeconds,
            VisibilityTimeout: this.#p.lease.visibilityTimeoutS,
            MessageAttributeNames: ['All'],
            MessageSystemAttributeNames: ['All'],
          }),
          options.abortPollsOnStop ? { abortSignal: this.#stopController.signal } : {},
        );
        messages = out.Messages ?? [];
        failures = 0;
        this.#receiveError = undefined;
      } catch (error) {
        if (this.#stopping) break;
        failures += 1;
        this.#receiveError = error;
        options.logger.warn({ err: error, queue: queue.name, failures }, 'SQS ReceiveMessage failed; backing off');
        await options.clock
          .sleep(RECEIVE_BACKOFF.delayFor(failures, options.random), this.#stopController.signal)
          .catch(() => {});
        continue;
      } finally {
        this.#reserved -= room;
      }
      await this.#accept(messages);
    }
  }

  async #accept(messages: Message[]): Promise<void> {
    const { options } = this.#p;
    const receivedAt = options.clock.now();
    const batch: HeldMessage[] = [];
    for (const message of messages) {
      if (!message.ReceiptHandle) continue;
      const held = this.#hold(message, receivedAt);
      batch.push(held);
    }
    for (const held of batch) {
      if (this.#stopping) {
        this.#track(this.#release(held));
        continue;
      }
      if (held.groupId !== undefined && !this.#gate.enter(held.groupId, held)) continue;
      await this.#handOver(held);
    }
  }

  #hold(message: Message, receivedAt: number): HeldMessage {
    const { queue } = this.#p;
    const system = message.Attributes ?? {};
    const messageId = message.MessageId ?? (message.ReceiptHandle as string);
    const groupId = system.MessageGroupId;
    // SQS counts from 1; anything else (an emulator's garble) would make the retry policy throw.
    const counted = Math.floor(Number(system.ApproximateReceiveCount ?? '1'));
    const receiveCount = Number.isSafeInteger(counted) && counted >= 1 ? counted : 1;
    const sentAt = Number(system.SentTimestamp);
    const firstReceivedAt = Number(system.ApproximateFirstReceiveTimestamp);
    this.#p.depth?.noteReceived(sentAt);

    const rawBody = message.Body ?? '';
    const decoded = decodeAttributes(message.MessageAttributes as never);
    let headers = decoded.headers;
    let body = rawBody;
    let timestamp = Number.isFinite(sentAt) ? sentAt : receivedAt;
    const problems: string[] = decoded.problem ? [decoded.problem] : [];
    const envelope = unwrapSnsEnvelope(rawBody);
    if (envelope.kind === 'unwrapped') {
      body = envelope.body;
      headers = { ...headers, ...envelope.headers };
      timestamp = envelope.timestamp ?? timestamp;
    } else if (envelope.kind === 'malformed') problems.push(envelope.reason);
    const decodedBody = decodeBody(body, headers);
    if (decodedBody.problem) problems.push(decodedBody.problem);
    // Core dead-letters a message carrying this header, with the reason, and keeps the body as it came.
    if (problems.length > 0) headers[DECODE_ERROR_HEADER] = problems.join('; ');
    const bytes = decodedBody.bytes;
    const source: SourcePosition = {
      kind: 'queue',
      queue: queue.name,
      messageId,
      receiveCount,
      ...(Number.isFinite(firstReceivedAt) && firstReceivedAt > 0 ? { firstReceivedAt } : {}),
      ...(groupId === undefined ? {} : { groupId }),
    };
    const raw: RawMessage = { body: bytes, key: groupId, headers, timestamp, source };
    const held = new HeldMessage(
      message.ReceiptHandle as string,
      messageId,
      groupId,
      receivedAt,
      receivedAt + this.#p.lease.visibilityTimeoutS * 1000,
      bytes.byteLength,
    );
    held.delivery = {
      message: raw,
      attempt: receiveCount,
      orderingKey: groupId ?? messageId,
      sizeBytes: bytes.byteLength,
      signal: held.controller.signal,
      settle: (settlement) => this.#settle(held, settlement),
    };
    // SQS will hand the message out again: its group must not stay blocked behind the lapsed delivery.
    if (groupId !== undefined) held.onLost = () => this.#afterSettle(held, false);
    this.#held.set(held.receiptHandle, held);
    this.#heldBytes += held.sizeBytes;
    this.#heartbeat.track(held);
    return held;
  }

  async #handOver(held: HeldMessage): Promise<void> {
    if (this.#stopping) {
      this.#track(this.#release(held));
      return;
    }
    held.state = 'handed';
    try {
      const accepted = this.#p.sink(held.delivery);
      if (accepted !== undefined) await accepted;
    } catch (error) {
      // Core refused it (shutting down): it was never started, so it goes back at once.
      this.#p.options.logger.debug({ err: error, messageId: held.messageId }, 'sink refused a delivery; releasing it');
      if (held.state === 'handed') this.#track(this.#settle(held, { kind: 'release' }).catch(() => {}));
    }
  }

  #track(promise: Promise<unknown>): void {
    this.#pending.add(promise);
    void promise.finally(() => this.#pending.delete(promise));
  }

  /** Gives back a message core never saw. */
  async #release(held: HeldMessage): Promise<void> {
    if (held.state === 'settling' || held.state === 'settled') return;
    held.state = 'settling';
    const extension = this.#heartbeat.untrack(held);
    try {
      if (extension !== undefined) await extension;
      await this.#visibility.submit({ receiptHandle: held.receiptHandle, seconds: 0 });
    } catch (error) {
      this.#p.options.logger.warn(
        { err: error, messageId: held.messageId },
        'could not release an unstarted message; it reappears after its visibility timeout',
      );
    } finally {
      this.#forget(held);
    }
  }

  #forget(held: HeldMessage): void {
    held.state = 'settled';
    if (this.#held.delete(held.receiptHandle)) this.#heldBytes -= held.sizeBytes;
    this.#changed.notify();
  }

  #retrySeconds(held: HeldMessage, delayMs: number): number {
    // SQS caps a message's visibility at 12 hours counted from its receive.
    // A second of margin: SQS counts from its own receive time, a little before ours.
    const elapsedS = Math.floor((this.#p.options.clock.now() - held.receivedAt) / 1000) + 1;
    const cap = Math.max(0, SqsLimits.maxVisibilitySeconds - elapsedS);
    const wanted = Number.isFinite(delayMs) && delayMs > 0 ? Math.ceil(delayMs / 1000) : 0;
    return Math.min(cap, wanted);
  }

  async #settle(held: HeldMessage, settlement: Settlement): Promise<void> {
    if (held.state === 'settling' || held.state === 'settled')
      throw new SwitchyardError('SWITCHYARD_TRANSPORT', `message ${held.messageId} was settled twice`, {
        retryable: false,
      });
    held.state = 'settling';
    const extension = this.#heartbeat.untrack(held);
    let done = false;
    let settled = false;
    try {
      switch (settlement.kind) {
        case 'ack':
          await this.#deletes.submit(held.receiptHandle);
          break;
        case 'retry':
          if (extension !== undefined) await extension;
          await this.#visibility.submit({
            receiptHandle: held.receiptHandle,
            seconds: this.#retrySeconds(held, settlement.delayMs),
          });
          break;
        case 'release':
          if (extension !== undefined) await extension;
          await this.#visibility.submit({ receiptHandle: held.receiptHandle, seconds: 0 });
          break;
        case 'dead-letter':
          // The record must be in the DLQ before the original goes: never delete first.
          if (!held.deadLettered) {
            const deadLetterQueue = await this.#p.deadLetters.write(settlement.destination, settlement.record);
            held.deadLettered = true;
            this.#p.depth?.watch(deadLetterQueue);
          }
          await this.#deletes.submit(held.receiptHandle);
          break;
      }
      settled = true;
      done = settlement.kind === 'ack' || settlement.kind === 'dead-letter';
    } finally {
      if (held.state !== 'settling') {
        // Its lease lapsed while a retried settlement ran: already forgotten, SQS redelivers it.
      } else if (settled) {
        this.#forget(held);
        this.#afterSettle(held, done);
      } else {
        // A failed settlement (a throttled dead-letter write, a delete that did not go through)
        // leaves the message held until its current lease lapses, so core can settle it again
        // meanwhile (marking it settled made that retry fail as "settled twice"). The lease is not
        // extended: if nobody settles it in time, it is forgotten and SQS delivers it again.
        held.state = 'handed';
        held.extendable = false;
        held.onLost = () => {
          this.#forget(held);
          this.#afterSettle(held, false);
        };
        if (held.controller.signal.aborted) held.onLost();
        else this.#heartbeat.track(held);
      }
    }
  }

  /** FIFO: after an ack the group's next message goes to core; otherwise the waiting ones go back to SQS. */
  #afterSettle(held: HeldMessage, done: boolean): void {
    if (held.groupId === undefined) return;
    if (done && !this.#stopping) {
      const next = this.#gate.advance(held.groupId, held);
      if (!next) return;
      if (!next.controller.signal.aborted) {
        this.#track(this.#handOver(next));
        return;
      }
      // Its lease lapsed while it waited (SQS may have handed it out again already): handing it
      // over would put two of the group's messages in flight. It and the ones behind it go back,
      // in order, as after a retry.
      const behind = this.#gate.drain(held.groupId, next);
      this.#track(this.#release(next));
      for (const m of behind) this.#track(this.#release(m));
      return;
    }
    const waiting = this.#gate.drain(held.groupId, held);
    for (const m of waiting) this.#track(this.#release(m));
  }
}
