// The Transport port over the embedded broker's topics, with Kafka consumer semantics: a
// subscription joins consumer group `spec.consumerGroup`; the group spreads the topic's partitions
// over its members and rebalances on every join and leave; each owned partition has a fetch loop
// that hands records to core one at a time (awaiting the sink: backpressure); offsets commit
// through an OffsetWatermark, so a commit never passes a record that is still running or was
// released. When a partition is revoked, its in-flight deliveries are aborted and their settlements
// no longer commit: the new owner starts from the last commit and redelivers them (at-least-once).

import type { Clock } from '../clock.js';
import type { OutgoingMessage } from '../envelope.js';
import { InvalidOptionError, optionValueText, SwitchyardError } from '../errors.js';
import { OffsetWatermark } from '../offset-watermark.js';
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
import { copyBytes } from './bytes.js';
import type { GroupMembership, PartitionAssignor } from './consumer-group.js';
import { InFlightWindow } from './in-flight-window.js';
import type { LogRecord } from './topic-log.js';
import {
  alreadySettled,
  lost,
  lowerCaseHeaders,
  type MemoryTransportOptions,
  memoryTransportDefaults,
  resolveBroker,
  runGaugeLoop,
  safeObserve,
  TransportLifecycle,
  validateSpec,
  writeDeadLetter,
} from './transport-shared.js';
import { untilAborted, Wakeup } from './wakeup.js';

export interface MemoryLogTransportOptions extends MemoryTransportOptions {
  /** Partition assignor of the groups this transport joins (default `range`). */
  readonly assignor?: PartitionAssignor;
  /** Partitions of a topic created on first use (default 3). */
  readonly autoCreatePartitions?: number;
}

/** `spec.options` the log transport accepts. */
export interface MemoryLogSubscriptionOptions {
  /** Overrides the transport's assignor for this subscription. */
  readonly assignor?: PartitionAssignor;
}

export const memoryLogCapabilities: TransportCapabilities = Object.freeze({
  model: 'log',
  ordering: 'partition',
  consumerGroups: true,
  replay: true,
  delayedRetry: false,
  maxRetryDelayMs: 0,
  nativeRedrive: false,
  exactlyOnce: false,
  leaseMs: undefined,
});

export class MemoryLogTransport implements Transport {
  readonly system = 'switchyard.memory';
  readonly capabilities: TransportCapabilities = memoryLogCapabilities;
  readonly broker: MemoryBroker;
  readonly #lifecycle = new TransportLifecycle('MemoryLogTransport');
  readonly #subscriptions = new Set<MemoryLogSubscription>();
  readonly #assignor: PartitionAssignor;
  readonly #autoCreate: boolean;
  readonly #autoCreatePartitions: number;
  readonly #gaugeIntervalMs: number;

  constructor(options: MemoryLogTransportOptions = {}) {
    this.broker = resolveBroker(options, 'MemoryLogTransport', ['assignor', 'autoCreatePartitions']);
    this.#assignor = checkAssignor('assignor', options.assignor) ?? 'range';
    this.#autoCreate = options.autoCreate ?? memoryTransportDefaults.autoCreate;
    const partitions = options.autoCreatePartitions ?? 3;
    if (!(Number.isInteger(partitions) && partitions >= 1))
      throw new InvalidOptionError(
        'autoCreatePartitions',
        `must be a positive integer, got ${optionValueText(partitions)}`,
        'pass e.g. 3',
      );
    this.#autoCreatePartitions = partitions;
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
    if (this.broker.kindOf(destination) === undefined && this.#autoCreate)
      this.broker.createTopic(destination, { partitions: this.#autoCreatePartitions });
    this.broker.publish(destination, messages);
  }

  async subscribe(spec: SubscriptionSpec, sink: DeliverySink): Promise<TransportSubscription> {
    this.#lifecycle.assertOpen();
    validateSpec(spec, ['assignor']);
    const assignor = checkAssignor('options.assignor', spec.options?.assignor) ?? this.#assignor;
    const kind = this.broker.kindOf(spec.destination);
    if (kind === undefined) {
      if (!this.#autoCreate)
        throw new SwitchyardError('SWITCHYARD_TRANSPORT', `no topic named '${spec.destination}'`, {
          retryable: false,
          details: { destination: spec.destination },
        });
      this.broker.createTopic(spec.destination, { partitions: this.#autoCreatePartitions });
    } else if (kind !== 'topic') {
      throw new SwitchyardError(
        'SWITCHYARD_CAPABILITY',
        `'${spec.destination}' is a ${kind}: the log transport consumes topics (use MemoryQueueTransport for queues)`,
        { retryable: false, details: { destination: spec.destination, kind } },
      );
    }
    const subscription = new MemoryLogSubscription(this.broker, spec, sink, assignor, this.#gaugeIntervalMs, () =>
      this.#subscriptions.delete(subscription),
    );
    this.#subscriptions.add(subscription);
    subscription.join();
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

function checkAssignor(option: string, value: unknown): PartitionAssignor | undefined {
  if (value === undefined) return undefined;
  if (value === 'range' || value === 'round-robin') return value;
  throw new InvalidOptionError(
    option,
    `must be 'range' or 'round-robin', got ${optionValueText(value)}`,
    "pass 'range'",
  );
}

/** One owned partition, from assignment to revocation. */
interface PartitionClaim {
  readonly partition: number;
  /** Aborted on revocation: stops the fetch loop and is every delivery's `signal`. */
  readonly lost: AbortController;
  position: number;
}

export class MemoryLogSubscription implements TransportSubscription {
  readonly #broker: MemoryBroker;
  readonly #clock: Clock;
  readonly #spec: SubscriptionSpec;
  readonly #sink: DeliverySink;
  readonly #assignor: PartitionAssignor;
  readonly #gaugeIntervalMs: number;
  readonly #onClosed: () => void;
  readonly #watermark = new OffsetWatermark();
  readonly #claims = new Map<number, PartitionClaim>();
  readonly #loops = new Set<Promise<void>>();
  readonly #window: InFlightWindow;
  readonly #stopFetching = new AbortController();
  readonly #stopGauges = new AbortController();
  readonly #resumed = new Wakeup();
  #membership: GroupMembership | undefined;
  #paused = false;
  #closed = false;
  #failure: unknown;

  constructor(
    broker: MemoryBroker,
    spec: SubscriptionSpec,
    sink: DeliverySink,
    assignor: PartitionAssignor,
    gaugeIntervalMs: number,
    onClosed: () => void,
  ) {
    this.#broker = broker;
    this.#clock = broker.clock;
    this.#spec = spec;
    this.#sink = sink;
    this.#assignor = assignor;
    this.#gaugeIntervalMs = gaugeIntervalMs;
    this.#onClosed = onClosed;
    this.#window = new InFlightWindow(spec.maxInFlight, spec.maxInFlightBytes);
  }

  get memberId(): string | undefined {
    return this.#membership?.memberId;
  }

  /** Partitions this member owns now. */
  assignment(): readonly number[] {
    return this.#membership?.assignment() ?? [];
  }

  join(): void {
    this.#membership = this.#broker.joinGroup(this.#spec.consumerGroup, this.#spec.destination, {
      assignor: this.#assignor,
      listener: {
        onAssign: (partitions) => {
          for (const p of partitions) this.#claim(p);
        },
        onRevoke: (partitions) => {
          for (const p of partitions) this.#release(p);
        },
      },
    });
    runGaugeLoop(this.#clock, this.#gaugeIntervalMs, () => this.reportGauges(), this.#stopGauges.signal);
  }

  /** Reports the group's lag on every partition of the topic to the observer now. */
  reportGauges(): void {
    for (const p of this.#broker.lag(this.#spec.consumerGroup, this.#spec.destination))
      this.#spec.observer.lag(p.lag, { destination: this.#spec.destination, partition: p.partition });
  }

  #claim(partition: number): void {
    const { consumerGroup, destination, startFrom } = this.#spec;
    const committed = this.#broker.committedOffset(consumerGroup, destination, partition);
    const position = committed ?? this.#broker.resolvePosition(destination, partition, startFrom);
    const claim: PartitionClaim = { partition, lost: new AbortController(), position };
    this.#claims.set(partition, claim);
    const loop = this.#fetchLoop(claim).catch((error: unknown) => {
      this.#failure = error;
    });
    this.#loops.add(loop);
    void loop.finally(() => this.#loops.delete(loop));
  }

  /** Revocation (rebalance or leave): commit what is finished, then let go of everything else. */
  #release(partition: number): void {
    const claim = this.#claims.get(partition);
    if (!claim) return;
    this.#commit(partition);
    this.#claims.delete(partition);
    this.#watermark.revoke(partition);
    claim.lost.abort(
      new SwitchyardError('SWITCHYARD_TRANSPORT', `partition ${this.#spec.destination}/${partition} was revoked`, {
        retryable: true,
        details: { reason: 'partition-revoked', partition },
      }),
    );
  }

  async #fetchLoop(claim: PartitionClaim): Promise<void> {
    // Start on a later turn: assignments arrive inside a rebalance (someone else's join or leave),
    // which must finish before this member hands anything to its sink or commits.
    await Promise.resolve();
    const stop = AbortSignal.any([this.#stopFetching.signal, claim.lost.signal]);
    const log = this.#broker.topic(this.#spec.destination).partition(claim.partition);
    while (!stop.aborted) {
      if (this.#paused) {
        await this.#resumed.wait({ signal: stop });
        continue;
      }
      if (this.#window.room === 0) {
        await this.#window.waitForRoom(stop);
        continue;
      }
      this.#broker.topic(this.#spec.destination); // applies retention
      // Out of range (retention passed us): start over at the log start, as auto.offset.reset=earliest.
      if (claim.position < log.startOffset) claim.position = log.startOffset;
      const [record] = log.read(claim.position, 1);
      if (!record) {
        await log.appended.wait({ signal: stop });
        continue;
      }
      claim.position += 1;
      const delivery = this.#deliver(claim, record);
      // Awaiting the sink is the backpressure; a stop or revocation ends the wait (core keeps the delivery).
      const accepted = this.#sink(delivery);
      if (accepted !== undefined) await untilAborted(accepted, stop);
    }
  }

  #deliver(claim: PartitionClaim, record: LogRecord): Delivery {
    const { partition } = claim;
    const atMostOnce = this.#spec.semantics === 'at-most-once';
    this.#watermark.track(partition, record.offset);
    if (atMostOnce) {
      // At-most-once: the offset is committed before core sees the message.
      this.#watermark.complete(partition, record.offset);
      this.#commit(partition);
    }
    const sizeBytes = record.body?.byteLength ?? 0;
    this.#window.take(sizeBytes);
    const where = `${record.topic}/${partition}@${record.offset}`;
    let settled = false;
    // Bookkeeping in memory: recorded before returning (`undefined`), a failure as a rejection.
    const settle = (settlement: Settlement): Promise<void> | undefined => {
      try {
        if (settled) throw alreadySettled(where);
        if (settlement.kind === 'retry')
          throw new SwitchyardError(
            'SWITCHYARD_CAPABILITY',
            `the log transport has no delayed retry (capabilities.delayedRetry is false): retry ${where} in place`,
            { retryable: false, details: { reason: 'no-delayed-retry' } },
          );
        if (claim.lost.signal.aborted || this.#claims.get(partition) !== claim) {
          settled = true;
          this.#window.give(sizeBytes);
          if (settlement.kind === 'release') return;
          throw lost(where, 'partition-revoked');
        }
        if (settlement.kind === 'dead-letter') {
          // Not settled if it throws: the offset stays uncommitted and core may settle again.
          writeDeadLetter(this.#broker, where, settlement, 'topic');
        }
        settled = true;
        this.#window.give(sizeBytes);
        // A released record stays uncommitted: the watermark holds at it until the partition's next owner.
        if (settlement.kind !== 'release' && !atMostOnce) {
          this.#watermark.complete(partition, record.offset);
          this.#commit(partition);
        }
      } catch (error) {
        return Promise.reject(error);
      }
      return undefined;
    };
    return {
      message: {
        body: record.body === null ? null : copyBytes(record.body),
        key: record.key,
        headers: lowerCaseHeaders(record.headers),
        timestamp: record.timestamp,
        source: {
          kind: 'log',
          topic: record.topic,
          partition,
          offset: record.offset,
          consumerGroup: this.#spec.consumerGroup,
        },
      },
      attempt: 1,
      orderingKey: `${record.topic}/${partition}/${record.key ?? ''}`,
      sizeBytes,
      signal: claim.lost.signal,
      settle,
    };
  }

  #commit(partition: number): void {
    const offset = this.#watermark.committable(partition);
    if (offset === undefined || !this.#membership) return;
    this.#broker.commitOffset(
      this.#spec.consumerGroup,
      this.#spec.destination,
      partition,
      offset,
      this.#membership.memberId,
    );
    this.#watermark.markCommitted(partition, offset);
    const end = Number(this.#broker.offsets(this.#spec.destination, partition).end);
    safeObserve(() =>
      this.#spec.observer.lag(end - Number(offset), { destination: this.#spec.destination, partition }),
    );
  }

  async stopFetching(): Promise<void> {
    this.#stopFetching.abort();
    await Promise.all([...this.#loops]);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.stopFetching();
    // Leaving revokes every partition: finished work is committed, unsettled deliveries are aborted.
    this.#membership?.leave();
    this.#stopGauges.abort();
    this.#onClosed();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#resumed.notify();
  }

  health(): TransportHealth {
    if (this.#failure !== undefined)
      return { ok: false, detail: `fetch failed: ${String((this.#failure as Error)?.message ?? this.#failure)}` };
    if (this.#closed) return { ok: false, detail: 'closed' };
    const state = this.#stopFetching.signal.aborted ? 'stopped' : this.#paused ? 'paused' : 'fetching';
    return {
      ok: true,
      detail: `${state}; group '${this.#spec.consumerGroup}' member ${this.memberId ?? '-'} owns [${this.assignment().join(', ')}] of '${this.#spec.destination}', ${this.#window.count} in flight`,
    };
  }
}
