// The Transport port over the embedded broker's queues, with SQS consumer semantics: competing
// consumers (no groups), a receive loop bounded by `maxInFlight`, each message leased for the
// visibility timeout. ack deletes; retry changes the visibility to the retry delay (the broker
// redelivers it then, with one more receive count, without blocking other messages); dead-letter
// writes the record to the DLQ and only then deletes; release makes the message visible at once.
// When a lease lapses before settlement, the delivery's signal aborts: another receive may get it.

import type { Clock } from '../clock.js';
import type { OutgoingMessage } from '../envelope.js';
import { InvalidOptionError, optionValueText, SwitchyardError } from '../errors.js';
import type {
  Delivery,
  DeliverySink,
  PublishOptions,
  Settlement,
  SubscriptionSpec,
  Transport,
  TransportCapabilities,
  TransportHealth,
  TransportSubscription,
} from '../ports/transport.js';
import type { MemoryBroker } from './broker.js';
import { readFanoutEnvelope } from './fanout.js';
import { InFlightWindow } from './in-flight-window.js';
import type { MemoryQueue, QueueOptions, ReceivedMessage } from './queue.js';
import { checkFlag, checkQueueOptions, queueDefaults, queueLimits } from './queue.js';
import {
  alreadySettled,
  lost,
  lowerCaseHeaders,
  type MemoryTransportOptions,
  memoryTransportDefaults,
  resolveBroker,
  runGaugeLoop,
  TransportLifecycle,
  validateSpec,
  writeDeadLetter,
} from './transport-shared.js';
import { untilAborted, Wakeup } from './wakeup.js';

export interface MemoryQueueTransportOptions extends MemoryTransportOptions {
  /**
   * Declare FIFO ordering (`capabilities.ordering: 'group'`); subscribing to a standard queue then
   * fails. Default false (`ordering: 'none'`; FIFO queues still keep their order).
   */
  readonly fifo?: boolean;
  /** Visibility timeout each receive asks for: the lease (`capabilities.leaseMs`). Default 30 s. */
  readonly visibilityTimeoutMs?: number;
  /** Options of queues created on first use (default: a standard queue with SQS defaults). */
  readonly autoCreateQueue?: QueueOptions;
}

/** `spec.options` the queue transport accepts. */
export interface MemoryQueueSubscriptionOptions {
  /**
   * Messages that came through a fan-out without raw delivery carry a notification envelope:
   * `'unwrap'` (default) hands core the original body and headers, `'keep'` the envelope as is.
   */
  readonly fanoutEnvelope?: 'unwrap' | 'keep';
  /**
   * Lease for this subscription's receives, overriding the transport's `visibilityTimeoutMs` (as an
   * SQS consumer may pass VisibilityTimeout per receive). Core reads `capabilities.leaseMs`: keep
   * handler timeouts below the shorter of the two.
   */
  readonly visibilityTimeoutMs?: number;
}

export function memoryQueueCapabilities(fifo: boolean, leaseMs: number): TransportCapabilities {
  return Object.freeze({
    model: 'queue',
    ordering: fifo ? 'group' : 'none',
    consumerGroups: false,
    replay: false,
    delayedRetry: true,
    maxRetryDelayMs: queueLimits.maxVisibilityTimeoutMs,
    nativeRedrive: true,
    exactlyOnce: false,
    leaseMs,
  });
}

export class MemoryQueueTransport implements Transport {
  readonly system = 'switchyard.memory';
  readonly capabilities: TransportCapabilities;
  readonly broker: MemoryBroker;
  readonly #lifecycle = new TransportLifecycle('MemoryQueueTransport');
  readonly #subscriptions = new Set<MemoryQueueSubscription>();
  readonly #autoCreate: boolean;
  readonly #autoCreateQueue: QueueOptions;
  readonly #gaugeIntervalMs: number;
  readonly #visibilityTimeoutMs: number;

  constructor(options: MemoryQueueTransportOptions = {}) {
    this.broker = resolveBroker(options, 'MemoryQueueTransport', ['fifo', 'visibilityTimeoutMs', 'autoCreateQueue']);
    checkFlag('fifo', options.fifo);
    const visibility = options.visibilityTimeoutMs ?? queueDefaults.visibilityTimeoutMs;
    if (!(Number.isFinite(visibility) && visibility > 0 && visibility <= queueLimits.maxVisibilityTimeoutMs))
      throw new InvalidOptionError(
        'visibilityTimeoutMs',
        `must be from 1 to 43_200_000 ms (12 hours), got ${optionValueText(visibility)}`,
        'pass e.g. 30_000',
      );
    // Checked now, not when the first unknown queue is created; only the name-dependent rules (the
    // '.fifo' suffix, the dead-letter queue existing) wait for that.
    if (options.autoCreateQueue !== undefined && options.autoCreateQueue !== null)
      checkQueueOptions('autoCreateQueue', options.autoCreateQueue);
    this.#visibilityTimeoutMs = visibility;
    this.capabilities = memoryQueueCapabilities(options.fifo ?? false, visibility);
    this.#autoCreate = options.autoCreate ?? memoryTransportDefaults.autoCreate;
    this.#autoCreateQueue = options.autoCreateQueue ?? {};
    this.#gaugeIntervalMs = options.gaugeIntervalMs ?? memoryTransportDefaults.gaugeIntervalMs;
  }

  async start(): Promise<void> {
    this.#lifecycle.start();
  }

  async publish(
    destination: string,
    messages: readonly OutgoingMessage[],
    options: PublishOptions = {},
  ): Promise<void> {
    this.#lifecycle.assertOpen();
    options.signal?.throwIfAborted();
    if (this.broker.kindOf(destination) === undefined && this.#autoCreate) this.#createQueue(destination);
    this.broker.publish(destination, messages);
  }

  #createQueue(name: string): void {
    this.broker.createQueue(name, { ...this.#autoCreateQueue, fifo: name.endsWith('.fifo') });
  }

  async subscribe(spec: SubscriptionSpec, sink: DeliverySink): Promise<TransportSubscription> {
    this.#lifecycle.assertOpen();
    validateSpec(spec, ['fanoutEnvelope', 'visibilityTimeoutMs']);
    const lease = spec.options?.visibilityTimeoutMs ?? this.#visibilityTimeoutMs;
    if (
      typeof lease !== 'number' ||
      !(Number.isFinite(lease) && lease > 0 && lease <= queueLimits.maxVisibilityTimeoutMs)
    )
      throw new InvalidOptionError(
        'options.visibilityTimeoutMs',
        `must be from 1 to 43_200_000 ms (12 hours), got ${optionValueText(lease)}`,
        'pass e.g. 30_000, or leave it out to use the transport lease',
      );
    const envelope = spec.options?.fanoutEnvelope ?? 'unwrap';
    if (envelope !== 'unwrap' && envelope !== 'keep')
      throw new InvalidOptionError(
        'options.fanoutEnvelope',
        `must be 'unwrap' or 'keep', got ${optionValueText(envelope)}`,
        "pass 'unwrap'",
      );
    if (typeof spec.startFrom === 'object')
      throw new SwitchyardError(
        'SWITCHYARD_CAPABILITY',
        `a queue cannot be replayed from an offset or a timestamp ('${spec.destination}')`,
        { retryable: false, details: { destination: spec.destination } },
      );
    const kind = this.broker.kindOf(spec.destination);
    if (kind === undefined) {
      if (!this.#autoCreate)
        throw new SwitchyardError('SWITCHYARD_TRANSPORT', `no queue named '${spec.destination}'`, {
          retryable: false,
          details: { destination: spec.destination },
        });
      this.#createQueue(spec.destination);
    } else if (kind !== 'queue') {
      throw new SwitchyardError(
        'SWITCHYARD_CAPABILITY',
        kind === 'fanout'
          ? `'${spec.destination}' is a fan-out: subscribe a queue to it and consume the queue`
          : `'${spec.destination}' is a topic: the queue transport consumes queues (use MemoryLogTransport)`,
        { retryable: false, details: { destination: spec.destination, kind } },
      );
    }
    const queue = this.broker.queue(spec.destination);
    if (this.capabilities.ordering === 'group' && !queue.fifo)
      throw new SwitchyardError(
        'SWITCHYARD_CAPABILITY',
        `this transport promises per-group ordering, but '${spec.destination}' is a standard queue`,
        { retryable: false, details: { destination: spec.destination } },
      );
    const subscription = new MemoryQueueSubscription(
      this.broker,
      queue,
      spec,
      sink,
      {
        visibilityTimeoutMs: lease,
        gaugeIntervalMs: this.#gaugeIntervalMs,
        unwrapEnvelopes: envelope === 'unwrap',
      },
      () => this.#subscriptions.delete(subscription),
    );
    this.#subscriptions.add(subscription);
    subscription.start();
    return subscription;
  }

  async close(): Promise<void> {
    if (this.#lifecycle.closed) return;
    this.#lifecycle.close();
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
  }

  health(): TransportHealth {
    if (this.#lifecycle.closed) return { ok: false, detail: 'closed' };
    if (!this.#lifecycle.started) return { ok: false, detail: 'not started' };
    return { ok: true, detail: `${this.#subscriptions.size} subscription(s)` };
  }
}

interface Lease {
  readonly handle: string;
  visibleAt: number;
  readonly lost: AbortController;
  settled: boolean;
  /** In the LeaseQueue (false once the watcher took it out). */
  queued: boolean;
  readonly where: string;
}

/**
 * Leases by end time. A subscription's receives all ask for the same visibility timeout, so leases
 * arrive in end-time order and `add` is an append; only a lease extended through the broker is
 * inserted further back.
 */
class LeaseQueue {
  readonly added = new Wakeup();
  #items: Lease[] = [];
  #head = 0;
  /** Settled leases still in `#items`; dropped from the head at once, compacted away in bulk. */
  #settled = 0;

  add(lease: Lease): void {
    let i = this.#items.length;
    while (i > this.#head && this.#items[i - 1]!.visibleAt > lease.visibleAt) i--;
    this.#items.splice(i, 0, lease);
    lease.queued = true;
    // Only an earlier first deadline changes what the watcher sleeps for.
    if (i === this.#head) this.added.notify();
  }

  /** A delivery was settled: its lease no longer needs watching. */
  settle(lease: Lease): void {
    lease.settled = true;
    if (!lease.queued) return;
    this.#settled += 1;
    while (this.#items[this.#head]?.settled) this.#drop();
    const live = this.#items.length - this.#head;
    if (this.#settled > 1024 && this.#settled * 2 > live) {
      this.#items = this.#items.slice(this.#head).filter((l) => {
        if (l.settled) l.queued = false;
        return !l.settled;
      });
      this.#head = 0;
      this.#settled = 0;
    }
  }

  /** The first unsettled lease. */
  peek(): Lease | undefined {
    while (this.#items[this.#head]?.settled) this.#drop();
    return this.#items[this.#head];
  }

  shift(): void {
    const lease = this.#items[this.#head];
    if (lease?.settled) this.#drop();
    else if (lease) {
      lease.queued = false;
      this.#advance();
    }
  }

  #drop(): void {
    this.#items[this.#head]!.queued = false;
    this.#settled -= 1;
    this.#advance();
  }

  #advance(): void {
    this.#head += 1;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}

interface QueueSubscriptionSettings {
  readonly visibilityTimeoutMs: number;
  readonly gaugeIntervalMs: number;
  readonly unwrapEnvelopes: boolean;
}

export class MemoryQueueSubscription implements TransportSubscription {
  readonly #broker: MemoryBroker;
  readonly #queue: MemoryQueue;
  readonly #clock: Clock;
  readonly #spec: SubscriptionSpec;
  readonly #sink: DeliverySink;
  readonly #settings: QueueSubscriptionSettings;
  readonly #onClosed: () => void;
  readonly #window: InFlightWindow;
  readonly #stopFetching = new AbortController();
  readonly #stopGauges = new AbortController();
  readonly #resumed = new Wakeup();
  readonly #leases = new LeaseQueue();
  #pausePoll = new AbortController();
  /** Ends a long poll on stop or pause; rebuilt on resume (one combined signal, not one per poll). */
  #pollSignal: AbortSignal;
  #loop: Promise<void> = Promise.resolve();
  #paused = false;
  #closed = false;
  #failure: unknown;

  constructor(
    broker: MemoryBroker,
    queue: MemoryQueue,
    spec: SubscriptionSpec,
    sink: DeliverySink,
    settings: QueueSubscriptionSettings,
    onClosed: () => void,
  ) {
    this.#broker = broker;
    this.#queue = queue;
    this.#clock = broker.clock;
    this.#spec = spec;
    this.#sink = sink;
    this.#settings = settings;
    this.#onClosed = onClosed;
    this.#window = new InFlightWindow(spec.maxInFlight, spec.maxInFlightBytes);
    this.#pollSignal = AbortSignal.any([this.#stopFetching.signal, this.#pausePoll.signal]);
  }

  start(): void {
    runGaugeLoop(this.#clock, this.#settings.gaugeIntervalMs, () => this.reportGauges(), this.#stopGauges.signal);
    void this.#watchLeases();
    this.#loop = this.#receiveLoop().catch((error: unknown) => {
      this.#failure = error;
    });
  }

  /** Reports the queue's depth figures to the observer now. */
  reportGauges(): void {
    const depth = this.#queue.depth();
    const destination = this.#queue.name;
    const { observer } = this.#spec;
    observer.depth(depth.visible, { destination, state: 'visible' });
    observer.depth(depth.inFlight, { destination, state: 'in-flight' });
    observer.depth(depth.delayed, { destination, state: 'delayed' });
    observer.depth(Math.floor(depth.oldestAgeMs / 1000), { destination, state: 'oldest-age-s' });
  }

  async #receiveLoop(): Promise<void> {
    const stop = this.#stopFetching.signal;
    while (!stop.aborted) {
      if (this.#paused) {
        await this.#resumed.wait({ signal: stop });
        continue;
      }
      if (this.#window.room === 0) {
        await this.#window.waitForRoom(stop);
        continue;
      }
      const received = await this.#queue.receive({
        maxMessages: Math.min(queueLimits.maxReceiveBatch, this.#window.room),
        waitTimeMs: queueLimits.maxWaitTimeMs,
        visibilityTimeoutMs: this.#settings.visibilityTimeoutMs,
        signal: this.#pollSignal,
      });
      for (let i = 0; i < received.length; i++) {
        if (stop.aborted) {
          // Received but never handed over: give them back at once instead of waiting out the lease.
          for (const m of received.slice(i)) this.#queue.changeVisibility(m.receiptHandle, 0);
          break;
        }
        const accepted = this.#sink(this.#deliver(received[i]!));
        if (accepted !== undefined) await untilAborted(accepted, stop);
      }
    }
  }

  #deliver(m: ReceivedMessage): Delivery {
    let body = m.body;
    let headers: Record<string, string> = { ...m.headers };
    if (m.enveloped && this.#settings.unwrapEnvelopes) {
      const unwrapped = readFanoutEnvelope(m.body);
      body = unwrapped.body;
      headers = unwrapped.headers;
    }
    const sizeBytes = body.byteLength;
    this.#window.take(sizeBytes);
    const where = `${m.queue}#${m.messageId} (receive ${m.receiveCount})`;
    const lease: Lease = {
      handle: m.receiptHandle,
      visibleAt: m.visibleAt,
      lost: new AbortController(),
      settled: false,
      queued: false,
      where,
    };
    this.#leases.add(lease);
    let settled = false;
    const finish = () => {
      settled = true;
      this.#leases.settle(lease);
      this.#window.give(sizeBytes);
    };
    // Bookkeeping in memory: recorded before returning (`undefined`), a failure as a rejection.
    const settle = (settlement: Settlement): Promise<void> | undefined => {
      try {
        if (settled) throw alreadySettled(where);
        if (settlement.kind === 'retry') {
          const { delayMs } = settlement;
          if (!(Number.isFinite(delayMs) && delayMs >= 0 && delayMs <= queueLimits.maxVisibilityTimeoutMs))
            throw new SwitchyardError(
              'SWITCHYARD_CAPABILITY',
              `retry delay ${delayMs} ms of ${where} is outside 0..${queueLimits.maxVisibilityTimeoutMs} ms`,
              { retryable: false, details: { reason: 'retry-delay-out-of-range', delayMs } },
            );
        }
        const handle = m.receiptHandle;
        switch (settlement.kind) {
          case 'ack': {
            finish();
            if (!this.#queue.delete(handle)) throw lost(where, 'lease-lapsed');
            return undefined;
          }
          case 'retry': {
            finish();
            if (!this.#queue.changeVisibility(handle, Math.round(settlement.delayMs)))
              throw lost(where, 'lease-lapsed');
            return undefined;
          }
          case 'release': {
            finish();
            this.#queue.changeVisibility(handle, 0);
            return undefined;
          }
          case 'dead-letter': {
            if (!this.#queue.holds(handle).current) {
              finish();
              throw lost(where, 'lease-lapsed');
            }
            // Not settled and not deleted if it throws: the message is safe, and core may settle again.
            writeDeadLetter(this.#broker, where, settlement, 'queue');
            finish();
            // The record is written; only now may the original go.
            this.#queue.delete(handle);
            return undefined;
          }
        }
      } catch (error) {
        return Promise.reject(error);
      }
      return undefined;
    };
    return {
      message: {
        body,
        key: m.groupId,
        headers: lowerCaseHeaders(headers),
        timestamp: m.sentAt,
        source: {
          kind: 'queue',
          queue: m.queue,
          messageId: m.messageId,
          receiveCount: m.receiveCount,
          ...(m.firstReceivedAt !== undefined ? { firstReceivedAt: m.firstReceivedAt } : {}),
          ...(m.groupId !== undefined && this.#queue.fifo ? { groupId: m.groupId } : {}),
        },
      },
      attempt: m.receiveCount,
      orderingKey: this.#queue.fifo ? `${m.queue}/${m.groupId}` : `${m.queue}/${m.messageId}`,
      sizeBytes,
      signal: lease.lost.signal,
      settle,
    };
  }

  /**
   * One watcher for every lease of the subscription (not a timer per message): sleeps until the
   * earliest lease ends, then aborts the signal of each delivery whose lease lapsed unsettled.
   */
  async #watchLeases(): Promise<void> {
    const stop = this.#stopGauges.signal;
    while (!stop.aborted) {
      const next = this.#leases.peek();
      if (!next) {
        await this.#leases.added.wait({ signal: stop });
        continue;
      }
      if (next.visibleAt > this.#clock.now()) {
        await this.#leases.added.wait({ clock: this.#clock, until: next.visibleAt, signal: stop });
        continue;
      }
      this.#leases.shift();
      const held = this.#queue.holds(next.handle);
      if (held.current && held.inFlight) {
        // Extended through the broker: watch again until the new end.
        next.visibleAt = held.visibleAt;
        this.#leases.add(next);
        continue;
      }
      next.lost.abort(
        new SwitchyardError('SWITCHYARD_TRANSPORT', `the lease on ${next.where} lapsed`, {
          retryable: true,
          details: { reason: 'lease-lapsed' },
        }),
      );
    }
  }

  async stopFetching(): Promise<void> {
    this.#stopFetching.abort();
    await this.#loop;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.stopFetching();
    this.#stopGauges.abort();
    this.#onClosed();
  }

  pause(): void {
    this.#paused = true;
    this.#pausePoll.abort();
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#pausePoll = new AbortController();
    this.#pollSignal = AbortSignal.any([this.#stopFetching.signal, this.#pausePoll.signal]);
    this.#resumed.notify();
  }

  health(): TransportHealth {
    if (this.#failure !== undefined)
      return { ok: false, detail: `receive failed: ${String((this.#failure as Error)?.message ?? this.#failure)}` };
    if (this.#closed) return { ok: false, detail: 'closed' };
    const state = this.#stopFetching.signal.aborted ? 'stopped' : this.#paused ? 'paused' : 'receiving';
    return { ok: true, detail: `${state}; queue '${this.#queue.name}', ${this.#window.count} in flight` };
  }
}
