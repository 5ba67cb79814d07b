// One consumer-group subscription: fetches batches, hands each record to core as a Delivery, and
// commits offsets only up to the watermark (never past a record that is unfinished or failed).
//
// How the kafkajs gaps are handled here (see also driver/kafkajs.ts):
//   - No background heartbeat: while a batch is being handed over (the sink may make us wait), a
//     timer calls heartbeat(); records are handed over and the batch returns without waiting for
//     handlers, so the client's own loop heartbeats between fetches. A partition whose oldest
//     unfinished record runs past `stuckPartitionMs` is paused, so it stops taking slots from the
//     others, and resumed once that record settles.
//   - No revocation callback: a rebalance is seen as REBALANCING (commit what we can, in the old
//     generation) and GROUP_JOIN (the new assignment). Revoked partitions have their deliveries
//     aborted (Delivery.signal) and dropped from the watermark, so this member never commits them;
//     retained partitions are re-positioned to where hand-over stopped, because kafkajs restarts
//     every partition from its committed offset after a join (which would re-deliver records that
//     are still in flight here).
//   - Commits are issued only from timer callbacks or event listeners, never from a promise
//     continuation: kafkajs swaps in the new generation and emits GROUP_JOIN within one chain of
//     microtasks, so a commit built in a macrotask always sees the assignment it is built from.

import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import {
  type DeadLetterRecord,
  type Delivery,
  type DeliverySemantics,
  type DeliverySink,
  OffsetWatermark,
  type RawMessage,
  type Settlement,
  type SubscriptionSpec,
  SwitchyardError,
  TokenBucket,
  type TransportHealth,
  type TransportSubscription,
  type TypedEvents,
} from '@switchyard/core';
import { deadLetterMessage } from '../dead-letter-message.js';
import { deadLetterDepth } from '../dead-letter-tools.js';
import type {
  BatchControls,
  DriverAdmin,
  DriverBatch,
  DriverConsumer,
  DriverConsumerEvent,
  DriverMessage,
  DriverRecord,
  KafkaDriver,
  TopicPartitionOffset,
} from '../driver/driver.js';
import type { KafkaTransportEvents, PauseReason } from '../events.js';
import { detectHotPartitions, type PartitionSample } from '../hot-partitions.js';
import type { KafkaSubscriptionOptions, ResolvedKafkaOptions } from '../options.js';
import { isTooLarge, type KafkaPublisher, recordsBytes } from '../producer/publisher.js';
import { decodeHeaders, KafkaHeaders, rawHeaders, recordBytes, recordKey, toRawMessage } from '../records.js';
import {
  type DeadLetterNaming,
  parseRetryTopic,
  retryTier,
  retryTopicName,
  sourceDeadLetterTopic,
} from '../topic-names.js';
import type { TransactionScope } from '../transactions.js';
import { nextOffset, PartitionState, partitionId, type UnsettledDelivery } from './partition-state.js';

export interface SubscriptionContext {
  readonly driver: KafkaDriver;
  readonly admin: DriverAdmin;
  readonly options: ResolvedKafkaOptions;
  readonly publisher: KafkaPublisher;
  readonly events: TypedEvents<KafkaTransportEvents>;
  /** Present when the transport has a transactional producer (exactly-once subscriptions). */
  readonly transactions: TransactionScope | undefined;
}

type Outcome = 'done' | 'released' | 'revoked';

class KafkaDelivery implements Delivery, UnsettledDelivery {
  readonly message: RawMessage;
  readonly attempt: number;
  readonly orderingKey: string;
  readonly sizeBytes: number;
  readonly signal: AbortSignal;
  readonly offset: string;
  readonly handedAt: number;
  readonly record: DriverRecord;
  readonly state: PartitionState;
  settled = false;
  /** A settle call is running (a failed one may be retried, a concurrent one may not). */
  settling = false;
  /** Still counted in the subscription's in-flight figures. */
  counted = true;
  prev: UnsettledDelivery | undefined = undefined;
  next: UnsettledDelivery | undefined = undefined;
  listed = false;
  #outcome: Outcome | undefined;
  #waiters: Array<(outcome: Outcome) => void> | undefined;
  readonly #settle: (delivery: KafkaDelivery, settlement: Settlement) => Promise<void> | undefined;

  // Positional, not an options object: one is built per record.
  constructor(
    message: RawMessage,
    attempt: number,
    orderingKey: string,
    record: DriverRecord,
    state: PartitionState,
    handedAt: number,
    settle: (delivery: KafkaDelivery, settlement: Settlement) => Promise<void> | undefined,
  ) {
    this.message = message;
    this.attempt = attempt;
    this.orderingKey = orderingKey;
    this.record = record;
    this.state = state;
    this.offset = record.offset;
    this.sizeBytes = record.value?.length ?? 0;
    this.signal = state.controller.signal;
    this.handedAt = handedAt;
    this.#settle = settle;
  }

  settle(settlement: Settlement): Promise<void> | undefined {
    return this.#settle(this, settlement);
  }

  /** The source topic's dead-letter topic: core writes there unless the consumer named its own. */
  get deadLetterDestination(): string {
    return this.state.deadLetterTopic;
  }

  /** How the delivery ended (exactly-once batches wait on it); made only when someone asks. */
  outcome(): Promise<Outcome> {
    if (this.#outcome !== undefined) return Promise.resolve(this.#outcome);
    return new Promise((resolve) => {
      this.#waiters ??= [];
      this.#waiters.push(resolve);
    });
  }

  resolveOutcome(outcome: Outcome): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = outcome;
    for (const wake of this.#waiters?.splice(0) ?? []) wake(outcome);
  }
}

interface HeartbeatTimer {
  rebalancing: boolean;
  stop(): void;
}

/** "retry topic 'a' does not exist" or "retry topics 'a', 'b' do not exist". */
function missingTopics(kind: string, topics: readonly string[]): string {
  const names = topics.map((t) => `'${t}'`).join(', ');
  return topics.length === 1 ? `${kind} topic ${names} does not exist` : `${kind} topics ${names} do not exist`;
}

/** Diverted records one parked key remembers before it falls back to the TTL alone. */
const MAX_PENDING_PER_PARKED_KEY = 10_000;

export class KafkaSubscription implements TransportSubscription {
  readonly #ctx: SubscriptionContext;
  readonly #spec: SubscriptionSpec;
  readonly #sink: DeliverySink;
  readonly #sub: KafkaSubscriptionOptions;
  readonly #deadLetterNaming: DeadLetterNaming;
  readonly #group: string;
  readonly #semantics: DeliverySemantics;
  readonly #ordering: 'key' | 'partition';
  readonly #stuckMs: number;
  readonly #partitionMaxInFlight: number;
  readonly #consumer: DriverConsumer;
  readonly #watermarks = new Map<string, OffsetWatermark>();
  readonly #partitions = new Map<string, PartitionState>();
  readonly #rate: TokenBucket | undefined;
  /** Source topics (not retry topics) this subscription reads. */
  #sourceTopics: string[] = [];
  #inFlight = 0;
  #inFlightBytes = 0;
  /** Hand-overs waiting for in-flight room; called on every settlement. */
  readonly #roomWaiters = new Set<() => void>();
  /** Partitions paused because the in-flight bounds were full (resumed as settlements make room). */
  readonly #backpressured = new Set<PartitionState>();
  #activeBatches = 0;
  #idleWaiters: Array<() => void> = [];
  #stopping = false;
  readonly #stop = new AbortController();
  #userPaused = false;
  #closed = false;
  #failed: unknown;
  #joined = false;
  #memberId = '';
  #committing: Promise<void> | undefined;
  #commitAgain = false;
  #commitSoon: ReturnType<typeof setImmediate> | undefined;
  #settledSinceCommit = 0;
  #lastCommitAt = 0;
  #lastSampleAt = 0;
  #lastDepthAt = Number.NEGATIVE_INFINITY;
  /** Parking tokens: this subscription instance, then a counter. */
  readonly #parkingPrefix = randomUUID().slice(0, 8);
  #parkings = 0;
  #samplingDepth = false;
  #tick: ReturnType<typeof setInterval> | undefined;
  #unlisten: (() => void) | undefined;
  #deadLetterTopicsReady: Promise<void> = Promise.resolve();
  /** Every delivery's settle callback: one function, not a closure per record. */
  readonly #settleDelivery = (delivery: KafkaDelivery, settlement: Settlement): Promise<void> | undefined =>
    this.#settle(delivery, settlement);
  #ready: { promise: Promise<void>; resolve: () => void; joined: boolean };

  constructor(ctx: SubscriptionContext, spec: SubscriptionSpec, sink: DeliverySink, sub: KafkaSubscriptionOptions) {
    this.#ctx = ctx;
    this.#spec = spec;
    this.#sink = sink;
    this.#sub = sub;
    this.#deadLetterNaming = {
      named: spec.deadLetter?.named ? spec.deadLetter.destination : undefined,
      deadLetterTopic: sub.deadLetterTopic,
      suffix: ctx.options.deadLetter.suffix,
    };
    this.#group = spec.consumerGroup;
    this.#semantics = spec.semantics;
    const c = ctx.options.consumer;
    this.#ordering = sub.ordering ?? c.ordering;
    this.#stuckMs = sub.stuckPartitionMs ?? c.stuckPartitionMs;
    this.#partitionMaxInFlight = sub.partitionMaxInFlight ?? c.partitionMaxInFlight;
    this.#rate =
      sub.ratePerSecond === undefined
        ? undefined
        : new TokenBucket({
            ratePerSecond: sub.ratePerSecond,
            burst: Math.max(1, Math.ceil(sub.ratePerSecond / 10)),
            clock: ctx.options.clock,
          });
    setMaxListeners(0, this.#stop.signal);
    this.#consumer = ctx.driver.consumer({
      groupId: spec.consumerGroup,
      sessionTimeoutMs: c.sessionTimeoutMs,
      rebalanceTimeoutMs: c.rebalanceTimeoutMs,
      heartbeatIntervalMs: c.heartbeatIntervalMs,
      maxBytesPerPartition: c.maxBytesPerPartition,
      maxBytes: c.maxBytes,
      maxWaitTimeMs: c.maxWaitTimeMs,
      readUncommitted: c.readUncommitted,
      allowAutoTopicCreation: c.allowAutoTopicCreation,
    });
    let resolveReady!: () => void;
    const promise = new Promise<void>((resolve) => {
      resolveReady = resolve;
    });
    this.#ready = { promise, resolve: resolveReady, joined: false };
  }

  get group(): string {
    return this.#group;
  }

  /** Source topics this subscription consumes (patterns resolved). */
  get topics(): readonly string[] {
    return this.#sourceTopics;
  }

  /** Connects, subscribes, joins the group; resolves once the first fetch ran (offsets resolved). */
  async start(): Promise<void> {
    const o = this.#ctx.options;
    this.#sourceTopics = await this.#resolveTopics();
    const retryTopics =
      o.retry.mode === 'retry-topics'
        ? this.#sourceTopics.flatMap((t) => Array.from({ length: o.retry.topics }, (_, i) => retryTopicName(t, i + 1)))
        : [];
    // Topics nothing will create must exist already.
    const checkRetryTopics = retryTopics.length > 0 && !o.retry.createTopics && !o.consumer.allowAutoTopicCreation;
    const deadLettersToCheck = o.deadLetter.createTopics
      ? []
      : [...new Set(this.#sourceTopics.map((t) => sourceDeadLetterTopic(t, this.#deadLetterNaming)))];
    // Before anything is created for them: retry topics made for a missing source would get one
    // partition, and kafkajs would only say "This server does not host this topic-partition".
    // One metadata look serves every existence check and the sizes of the topics made for the sources.
    const counts = await this.#ctx.admin.partitionCounts([
      ...new Set([...this.#sourceTopics, ...(checkRetryTopics ? retryTopics : []), ...deadLettersToCheck]),
    ]);
    if (!o.consumer.allowAutoTopicCreation) this.#requireSourceTopics(counts);
    if (checkRetryTopics) this.#requireRetryTopics(retryTopics, counts);
    this.#checkDeadLetterTopics(deadLettersToCheck, counts);
    // Retry topics are subscribed to, so they must exist before the join; dead-letter topics are
    // only written to, so they are created while the group is joined (kafkajs polls metadata until
    // a new topic has leaders, which took most of a second of every start).
    await this.#createTopics(retryTopics, false, counts);
    const deadLetterTopics = this.#createTopics([], o.deadLetter.createTopics, counts);
    this.#deadLetterTopicsReady = deadLetterTopics.catch(() => {});
    this.#unlisten = this.#consumer.on((event) => this.#onConsumerEvent(event));
    await this.#consumer.connect();
    await this.#consumer.subscribe(this.#sourceTopics, this.#spec.startFrom === 'earliest');
    // Retry topics are always read from their beginning: a record there is owed a redelivery.
    if (retryTopics.length > 0) await this.#consumer.subscribe(retryTopics, true);
    await this.#consumer.run((batch, controls) => this.#onBatch(batch, controls), {
      partitionsConsumedConcurrently: o.consumer.partitionsConsumedConcurrently,
    });
    const tickMs = Math.max(50, Math.min(1_000, Math.floor(this.#stuckMs / 4), o.consumer.commitIntervalMs));
    this.#lastCommitAt = this.#lastSampleAt = o.clock.now();
    this.#tick = setInterval(() => this.#onTick(), tickMs);
    // Resolve once a fetch ran after joining: by then kafkajs has resolved the start offsets, so a
    // record produced after `subscribe()` resolves is seen even with startFrom 'latest'.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#ready.promise,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, o.consumer.sessionTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    await deadLetterTopics;
  }

  async #resolveTopics(): Promise<string[]> {
    if (this.#sub.topics) return [...this.#sub.topics];
    if (!this.#sub.pattern) return [this.#spec.destination];
    const pattern = this.#sub.pattern;
    const suffix = this.#ctx.options.deadLetter.suffix;
    const matched = (await this.#ctx.admin.listTopics()).filter(
      (t) =>
        pattern.test(t) &&
        !parseRetryTopic(t) &&
        !t.endsWith(suffix) &&
        !t.startsWith('__') &&
        t !== this.#deadLetterNaming.named &&
        t !== this.#deadLetterNaming.deadLetterTopic,
    );
    if (matched.length === 0)
      throw new SwitchyardError('SWITCHYARD_TRANSPORT', `no topic matches ${String(pattern)}`, {
        retryable: true,
        details: { pattern: String(pattern) },
      });
    return matched.sort();
  }

  /** Retry topics are subscribed to: with nothing to create them, kafkajs would fail the join naming none. */
  #requireRetryTopics(retryTopics: readonly string[], counts: ReadonlyMap<string, number>): void {
    const missing = retryTopics.filter((t) => !counts.has(t));
    if (missing.length === 0) return;
    throw new SwitchyardError(
      'SWITCHYARD_TRANSPORT',
      `${missingTopics('retry', missing)}, and retry.createTopics is off: create the retry topics first (as many partitions as their source topic), or set retry.createTopics: true`,
      { retryable: false, details: { topics: missing, consumerGroup: this.#spec.consumerGroup } },
    );
  }

  /**
   * With deadLetter.createTopics off, a missing dead-letter topic would hold its partition at the
   * first poison message: refused now when nothing would create it, else warned about (the broker
   * may create it on the first write, if its auto.create.topics.enable allows).
   */
  #checkDeadLetterTopics(topics: readonly string[], counts: ReadonlyMap<string, number>): void {
    const missing = topics.filter((t) => !counts.has(t));
    if (missing.length === 0) return;
    if (!this.#ctx.options.producer.allowAutoTopicCreation)
      throw new SwitchyardError(
        'SWITCHYARD_TRANSPORT',
        `${missingTopics('dead-letter', missing)}, and nothing would create it (deadLetter.createTopics and producer.allowAutoTopicCreation are off): create it first, or set deadLetter.createTopics: true`,
        { retryable: false, details: { topics: missing, consumerGroup: this.#spec.consumerGroup } },
      );
    this.#logger.warn(
      { topics: missing, consumerGroup: this.#spec.consumerGroup },
      `${missingTopics('dead-letter', missing)} and deadLetter.createTopics is off: the first dead letter relies on the broker's auto.create.topics.enable, and without it its partition holds at that record`,
    );
  }

  #requireSourceTopics(counts: ReadonlyMap<string, number>): void {
    const missing = this.#sourceTopics.filter((t) => !counts.has(t));
    if (missing.length === 0) return;
    throw new SwitchyardError(
      'SWITCHYARD_TRANSPORT',
      `${missingTopics('Kafka', missing)}: create it first (transport.admin().createTopics([{ topic: '${missing[0]}', partitions: 3 }])), or set consumer.allowAutoTopicCreation: true`,
      { retryable: false, details: { topics: missing, consumerGroup: this.#spec.consumerGroup } },
    );
  }

  async #createTopics(
    retryTopics: readonly string[],
    wantDeadLetters: boolean,
    counts: ReadonlyMap<string, number>,
  ): Promise<void> {
    const o = this.#ctx.options;
    if (retryTopics.length === 0 && !wantDeadLetters) return;
    // A dead-letter topic several sources share gets the partitions of the largest.
    const specs = new Map<string, number>();
    for (const source of this.#sourceTopics) {
      const partitions = counts.get(source) ?? 1;
      if (retryTopics.length > 0 && o.retry.createTopics)
        for (let tier = 1; tier <= o.retry.topics; tier++) specs.set(retryTopicName(source, tier), partitions);
      if (wantDeadLetters) {
        const topic = sourceDeadLetterTopic(source, this.#deadLetterNaming);
        specs.set(topic, Math.max(partitions, specs.get(topic) ?? 0));
      }
    }
    await this.#ctx.admin.createTopics([...specs].map(([topic, partitions]) => ({ topic, partitions })));
  }

  // ---------------------------------------------------------------------------------------------
  // Group membership

  #onConsumerEvent(event: DriverConsumerEvent): void {
    switch (event.kind) {
      case 'group-join':
        this.#onJoin(event.memberId, event.assignment);
        break;
      case 'rebalancing':
        // Last chance to commit in the generation that still owns these partitions.
        void this.#commit();
        break;
      case 'crash':
        this.#logger.error({ err: event.error, group: this.#group, restart: event.restart }, 'kafka consumer crashed');
        this.#ctx.events.emit('kafka:consumer:crashed', {
          group: this.#group,
          error: event.error,
          restart: event.restart,
        });
        this.#revokeAll();
        this.#joined = false;
        if (!event.restart) this.#failed = event.error;
        break;
      case 'stop':
        this.#revokeAll();
        this.#joined = false;
        break;
      case 'fetch':
        if (this.#ready.joined) this.#ready.resolve();
        break;
    }
  }

  get #logger() {
    return this.#ctx.options.logger;
  }

  #onJoin(memberId: string, assignment: Readonly<Record<string, number[]>>): void {
    this.#joined = true;
    this.#memberId = memberId;
    this.#ready.joined = true;
    const owned = new Set<string>();
    for (const [topic, partitions] of Object.entries(assignment))
      for (const partition of partitions) owned.add(partitionId(topic, partition));
    const revoked: Array<{ topic: string; partition: number }> = [];
    for (const state of [...this.#partitions.values()])
      if (!owned.has(state.id)) {
        this.#revoke(state);
        revoked.push({ topic: state.topic, partition: state.partition });
      }
    const assigned: Array<{ topic: string; partition: number }> = [];
    const retained: Array<{ topic: string; partition: number }> = [];
    const gates = new Map<string, Promise<Map<number, string | undefined>>>();
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) {
        const existing = this.#partitions.get(partitionId(topic, partition));
        if (existing) {
          retained.push({ topic, partition });
          // kafkajs restarts each partition at its committed offset after a join; continue where
          // hand-over stopped instead, the records in between are in flight here.
          if (existing.lastHanded !== undefined)
            this.#consumer.seek({ topic, partition, offset: nextOffset(existing.lastHanded) });
          if (existing.pauseReasons.size > 0) this.#consumer.pause([{ topic, partitions: [partition] }]);
          continue;
        }
        const retry = parseRetryTopic(topic);
        const isRetry =
          retry !== undefined &&
          this.#ctx.options.retry.mode === 'retry-topics' &&
          this.#sourceTopics.includes(retry.source);
        const source = isRetry ? retry.source : topic;
        const state = new PartitionState(
          topic,
          partition,
          isRetry ? retry.tier : 0,
          source,
          sourceDeadLetterTopic(source, this.#deadLetterNaming),
        );
        this.#partitions.set(state.id, state);
        assigned.push({ topic, partition });
        if (this.#stopping) state.pauseReasons.add('stopping');
        if (this.#userPaused) state.pauseReasons.add('user');
        if (state.pauseReasons.size > 0) this.#consumer.pause([{ topic, partitions: [partition] }]);
        if (state.tier === 0) state.startGate = this.#startGate(state, gates);
      }
    }
    this.#logger.info({ group: this.#group, memberId, assigned, revoked, retained }, 'kafka group joined');
    this.#ctx.events.emit('kafka:rebalance', { group: this.#group, memberId, assigned, revoked, retained });
  }

  /**
   * For a group that has no committed offset on a partition, start at the requested timestamp or
   * offset (kafkajs only knows earliest/latest): look the offset up and seek before any record of
   * the partition is handed over.
   */
  #startGate(
    state: PartitionState,
    gates: Map<string, Promise<Map<number, string | undefined>>>,
  ): Promise<void> | undefined {
    const start = this.#spec.startFrom;
    if (typeof start !== 'object') return undefined;
    let lookup = gates.get(state.topic);
    if (!lookup) {
      lookup = (async () => {
        const committed = await this.#ctx.admin.groupOffsets(this.#group, state.topic);
        const targets =
          'timestamp' in start
            ? await this.#ctx.admin.offsetsForTimestamp(state.topic, start.timestamp)
            : (await this.#ctx.admin.topicOffsets(state.topic)).map((p) => ({
                partition: p.partition,
                offset: start.offset,
              }));
        const result = new Map<number, string | undefined>();
        for (const { partition, offset } of targets) {
          const c = committed.find((p) => p.partition === partition)?.offset;
          result.set(partition, c === undefined || BigInt(c) < 0n ? offset : undefined);
        }
        return result;
      })();
      gates.set(state.topic, lookup);
    }
    return lookup.then(
      (targets) => {
        const offset = targets.get(state.partition);
        if (offset !== undefined && !state.revoked)
          this.#consumer.seek({ topic: state.topic, partition: state.partition, offset });
        state.startGate = undefined;
      },
      (error: unknown) => {
        this.#logger.warn(
          { err: error, group: this.#group, topic: state.topic },
          'kafka start position lookup failed; starting at the default position',
        );
        state.startGate = undefined;
      },
    );
  }

  #revoke(state: PartitionState): void {
    if (state.revoked) return;
    state.revoked = true;
    this.#backpressured.delete(state);
    state.controller.abort(
      new SwitchyardError('SWITCHYARD_TRANSPORT', `partition ${state.id} was revoked from this member`, {
        retryable: false,
      }),
    );
    state.dueWait?.abort();
    this.#watermarks.get(state.topic)?.revoke(state.partition);
    for (const entry of state.unsettled.snapshot()) this.#uncount(entry as KafkaDelivery);
    this.#partitions.delete(state.id);
  }

  #revokeAll(): void {
    for (const state of [...this.#partitions.values()]) this.#revoke(state);
  }

  // ---------------------------------------------------------------------------------------------
  // Fetching and handing over

  async #onBatch(batch: DriverBatch, controls: BatchControls): Promise<void> {
    const state = this.#partitions.get(partitionId(batch.topic, batch.partition));
    if (!state || state.revoked) return;
    state.highWatermark = batch.highWatermark;
    if (batch.records.length === 0 || this.#stopping || this.#closed) return;
    state.firstSeen ??= batch.records[0]!.offset;
    this.#activeBatches++;
    const heartbeat = this.#startHeartbeat(controls);
    try {
      if (state.startGate) {
        await state.startGate;
        if (!controls.isActive()) return;
      }
      if (this.#semantics === 'exactly-once') await this.#transactionalBatch(state, batch, controls, heartbeat);
      else await this.#handOver(state, batch, controls, heartbeat);
    } catch (error) {
      // Never throw into kafkajs (it would restart the consumer): what was not handed over is
      // fetched again.
      this.#logger.error(
        { err: error, group: this.#group, topic: batch.topic, partition: batch.partition },
        'kafka batch failed',
      );
    } finally {
      heartbeat.stop();
      this.#activeBatches--;
      if (this.#activeBatches === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
    }
  }

  #startHeartbeat(controls: BatchControls): HeartbeatTimer {
    const timer: HeartbeatTimer = {
      rebalancing: false,
      stop: () => clearInterval(interval),
    };
    const interval = setInterval(() => {
      controls.heartbeat().catch((error: unknown) => {
        // REBALANCE_IN_PROGRESS / UNKNOWN_MEMBER_ID: stop handing over, let kafkajs rejoin.
        timer.rebalancing = true;
        this.#logger.debug({ err: error, group: this.#group }, 'kafka heartbeat during batch failed');
      });
    }, this.#ctx.options.consumer.heartbeatIntervalMs);
    return timer;
  }

  #mayHandOver(state: PartitionState, controls: BatchControls, heartbeat: HeartbeatTimer): boolean {
    return (
      controls.isActive() &&
      !heartbeat.rebalancing &&
      !state.revoked &&
      state.pauseReasons.size === 0 &&
      !this.#stopping &&
      !this.#closed &&
      this.#failed === undefined
    );
  }

  #partitionFull(state: PartitionState): boolean {
    return this.#partitionMaxInFlight > 0 && state.unsettled.size >= this.#partitionMaxInFlight;
  }

  #subscriptionFull(size: number): boolean {
    if (this.#inFlight >= this.#spec.maxInFlight) return true;
    return this.#inFlight > 0 && this.#inFlightBytes + size > this.#spec.maxInFlightBytes;
  }

  /**
   * Waits inside the batch until the subscription has room again. Pausing instead would pause every
   * partition at once, and kafkajs then sleeps `maxWaitTimeInMs` before it fetches again even after
   * a resume: one partition would run at maxInFlight messages per second. Heartbeats go on meanwhile.
   * Resolves false when the hand-over must stop (revoked, stopping, rebalancing).
   */
  #waitForRoom(
    state: PartitionState,
    size: number,
    controls: BatchControls,
    heartbeat: HeartbeatTimer,
  ): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (!this.#mayHandOver(state, controls, heartbeat)) done(false);
        else if (!this.#subscriptionFull(size)) done(true);
      };
      // A rebalance shows only through the heartbeat's flag: look again now and then.
      const poll = setInterval(check, Math.max(50, Math.floor(this.#ctx.options.consumer.heartbeatIntervalMs / 2)));
      const done = (room: boolean) => {
        clearInterval(poll);
        this.#roomWaiters.delete(check);
        state.controller.signal.removeEventListener('abort', check);
        this.#stop.signal.removeEventListener('abort', check);
        resolve(room);
      };
      this.#roomWaiters.add(check);
      state.controller.signal.addEventListener('abort', check, { once: true });
      this.#stop.signal.addEventListener('abort', check, { once: true });
      check();
    });
  }

  async #handOver(
    state: PartitionState,
    batch: DriverBatch,
    controls: BatchControls,
    heartbeat: HeartbeatTimer,
  ): Promise<void> {
    const atMostOnce = this.#semantics === 'at-most-once';
    if (atMostOnce) {
      // At-most-once: the batch is committed before any of it is handed over.
      const last = batch.records[batch.records.length - 1]!.offset;
      await this.#consumer.commit([{ topic: state.topic, partition: state.partition, offset: nextOffset(last) }]);
      state.lastCommitted = nextOffset(last);
    }
    const clock = this.#ctx.options.clock;
    let handed: string | undefined;
    try {
      await this.#handOverRecords(state, batch, controls, heartbeat, atMostOnce, clock, (offset) => {
        handed = offset;
      });
    } finally {
      // Moves kafkajs' fetch position once per batch (resolving costs a Long parse per call).
      if (handed !== undefined) controls.advance(handed);
    }
  }

  async #handOverRecords(
    state: PartitionState,
    batch: DriverBatch,
    controls: BatchControls,
    heartbeat: HeartbeatTimer,
    atMostOnce: boolean,
    clock: ResolvedKafkaOptions['clock'],
    handedOver: (offset: string) => void,
  ): Promise<void> {
    for (const record of batch.records) {
      if (!this.#mayHandOver(state, controls, heartbeat)) break;
      const headers = decodeHeaders(record.headers);
      if (state.tier > 0) {
        const due = this.#dueAt(state, record.offset, Number(headers[KafkaHeaders.retryDueAt]), clock.now());
        if (due !== undefined) {
          this.#waitUntilDue(state, due);
          break;
        }
      }
      const size = recordBytes(record);
      if (!atMostOnce && this.#partitionFull(state)) {
        this.#pause(state, 'backpressure');
        break;
      }
      if (!atMostOnce && this.#subscriptionFull(size)) {
        if (!(await this.#waitForRoom(state, size, controls, heartbeat))) break;
      }
      if (this.#rate) {
        try {
          // A slow rate must not hold up stopFetching() or a revocation.
          await this.#rate.take(1, AbortSignal.any([state.controller.signal, this.#stop.signal]));
        } catch {
          break;
        }
        if (!this.#mayHandOver(state, controls, heartbeat)) break;
      }
      const key = recordKey(record);
      const parked = key === undefined ? undefined : this.#parkedBehind(state, key);
      if (parked !== undefined) {
        await this.#divert(state, record, headers, key!, parked);
        handedOver(record.offset);
        state.lastHanded = record.offset;
        continue;
      }
      const delivery = this.#deliveryFor(state, record, headers, key);
      if (!atMostOnce) this.#watermark(state.topic).track(state.partition, record.offset);
      this.#count(delivery);
      // Counted as handed over before waiting on the sink: from here on the record is core's, and
      // a rejoin must not fetch it again.
      handedOver(record.offset);
      state.lastHanded = record.offset;
      try {
        const accepted = this.#sink(delivery);
        // Accepted at once (the usual case): no await, so no promise and microtask turn per record.
        if (accepted !== undefined) await accepted;
      } catch (error) {
        // Core refused it (it is shutting down): the record stays unfinished, so the watermark
        // holds before it and the partition's next owner (or our next start) delivers it again.
        this.#failed ??= error;
        this.#logger.warn({ err: error, group: this.#group, topic: state.topic }, 'kafka delivery refused by the sink');
        break;
      }
    }
  }

  #deliveryFor(
    state: PartitionState,
    record: DriverRecord,
    headers: Record<string, string>,
    key: string | undefined,
  ): KafkaDelivery {
    const attemptHeader = state.tier > 0 ? Number(headers[KafkaHeaders.retryAttempt]) : Number.NaN;
    const attempt = Number.isInteger(attemptHeader) && attemptHeader >= 1 ? attemptHeader : 1;
    // Keyless records promise no order beyond the partition: each runs on its own.
    const orderingKey =
      this.#ordering === 'partition'
        ? state.id
        : key === undefined
          ? `${state.id}/@${record.offset}`
          : `${state.id}/${key}`;
    return new KafkaDelivery(
      toRawMessage(record, state.topic, state.partition, this.#group, headers, key),
      attempt,
      orderingKey,
      record,
      state,
      this.#ctx.options.clock.now(),
      this.#settleDelivery,
    );
  }

  #watermark(topic: string): OffsetWatermark {
    const existing = this.#watermarks.get(topic);
    if (existing) return existing;
    const watermark = new OffsetWatermark();
    this.#watermarks.set(topic, watermark);
    return watermark;
  }

  #count(delivery: KafkaDelivery): void {
    delivery.state.unsettled.add(delivery);
    delivery.state.inFlightBytes += delivery.sizeBytes;
    this.#inFlight++;
    this.#inFlightBytes += delivery.sizeBytes;
  }

  #uncount(delivery: KafkaDelivery): void {
    if (!delivery.counted) return;
    delivery.counted = false;
    this.#inFlight--;
    this.#inFlightBytes -= delivery.sizeBytes;
    delivery.state.inFlightBytes -= delivery.sizeBytes;
    delivery.state.unsettled.delete(delivery);
    if (!delivery.settled) delivery.resolveOutcome('revoked');
  }

  /**
   * When the head record of a retry partition becomes due, or undefined when it is due now. The due
   * time comes from the writer's wall clock; a record is never held longer than retry.maxDelayMs
   * (the longest delay a writer sets) from when this member began waiting for it, so a writer's clock
   * running ahead, or this one stepped back, cannot stall the partition.
   */
  #dueAt(state: PartitionState, offset: string, due: number, now: number): number | undefined {
    if (!Number.isFinite(due) || due <= now) {
      state.dueHead = undefined;
      return undefined;
    }
    if (state.dueHead?.offset !== offset || state.dueHead.since > now) state.dueHead = { offset, since: now };
    const capped = Math.min(due, state.dueHead.since + this.#ctx.options.retry.maxDelayMs);
    if (capped <= now) {
      state.dueHead = undefined;
      return undefined;
    }
    return capped;
  }

  #waitUntilDue(state: PartitionState, due: number): void {
    this.#pause(state, 'retry-due');
    state.dueWait?.abort();
    const wait = new AbortController();
    state.dueWait = wait;
    // On the injected clock, so tests move time instead of waiting for it.
    const { clock } = this.#ctx.options;
    clock.sleep(Math.max(0, due - clock.now()), wait.signal).then(
      () => {
        if (state.dueWait === wait) state.dueWait = undefined;
        this.#unpause(state, 'retry-due');
      },
      () => {},
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Pausing

  #pause(state: PartitionState, reason: PauseReason): void {
    if (state.pauseReasons.has(reason) || state.revoked) return;
    state.pauseReasons.add(reason);
    if (reason === 'backpressure') this.#backpressured.add(state);
    if (state.pauseReasons.size === 1) {
      this.#consumer.pause([{ topic: state.topic, partitions: [state.partition] }]);
      this.#ctx.events.emit('kafka:partition:paused', {
        group: this.#group,
        topic: state.topic,
        partition: state.partition,
        reason,
      });
    }
  }

  #unpause(state: PartitionState, reason: PauseReason): void {
    if (reason === 'backpressure') this.#backpressured.delete(state);
    if (!state.pauseReasons.delete(reason) || state.revoked) return;
    if (state.pauseReasons.size === 0) {
      this.#consumer.resume([{ topic: state.topic, partitions: [state.partition] }]);
      this.#ctx.events.emit('kafka:partition:resumed', {
        group: this.#group,
        topic: state.topic,
        partition: state.partition,
      });
    }
  }

  #resumeIfRoom(): void {
    // Runs on every settlement: no copy of the waiters when there are none (the usual case).
    if (this.#roomWaiters.size > 0) for (const waiter of [...this.#roomWaiters]) waiter();
    if (this.#backpressured.size === 0) return;
    const roomy =
      this.#inFlight <= this.#spec.maxInFlight / 2 && this.#inFlightBytes <= this.#spec.maxInFlightBytes / 2;
    for (const state of [...this.#backpressured]) {
      const partitionRoomy = this.#partitionMaxInFlight === 0 || state.unsettled.size <= this.#partitionMaxInFlight / 2;
      if (roomy && partitionRoomy) this.#unpause(state, 'backpressure');
    }
  }

  pause(): void {
    this.#userPaused = true;
    for (const state of this.#partitions.values()) this.#pause(state, 'user');
  }

  resume(): void {
    this.#userPaused = false;
    for (const state of this.#partitions.values()) this.#unpause(state, 'user');
  }

  // ---------------------------------------------------------------------------------------------
  // Settling

  // Not `async`: an ack, a release and a revoked partition's settlement are bookkeeping, recorded
  // before returning (`undefined`: core goes on without a promise); only writes return one.
  #settle(delivery: KafkaDelivery, settlement: Settlement): Promise<void> | undefined {
    try {
      if (delivery.settled || delivery.settling)
        throw new SwitchyardError(
          'SWITCHYARD_TRANSPORT',
          `delivery ${delivery.state.id}@${delivery.offset} was already settled`,
          { retryable: false },
        );
      const state = delivery.state;
      if (state.revoked || !delivery.counted) {
        // The partition moved to another member: it will deliver the record again; nothing of
        // ours may be committed or written for it now.
        delivery.settled = true;
        delivery.resolveOutcome('revoked');
        return undefined;
      }
      switch (settlement.kind) {
        case 'ack':
          this.#settled(delivery);
          if (state.tier > 0) this.#unpark(delivery);
          return undefined;
        case 'release':
          // Not processed: it stays unfinished, so the watermark holds before it and it is read
          // again by the next owner of the partition (or after a restart).
          delivery.settled = true;
          delivery.resolveOutcome('released');
          this.#uncount(delivery);
          this.#resumeIfRoom();
          return undefined;
        case 'dead-letter':
        case 'retry':
          return this.#settleByWriting(delivery, settlement);
      }
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Dead-letter and retry settlements: the record is written elsewhere first, then completed. */
  async #settleByWriting(
    delivery: KafkaDelivery,
    settlement: Extract<Settlement, { kind: 'dead-letter' | 'retry' }>,
  ): Promise<void> {
    delivery.settling = true;
    try {
      if (settlement.kind === 'dead-letter') {
        await this.#deadLetter(delivery, settlement.record, settlement.destination);
      } else {
        if (this.#ctx.options.retry.mode !== 'retry-topics')
          throw new SwitchyardError('SWITCHYARD_CAPABILITY', "retry settlements need retry.mode 'retry-topics'", {
            retryable: false,
          });
        await this.#retry(delivery, settlement.delayMs, settlement.attempt);
      }
    } finally {
      delivery.settling = false;
    }
    this.#settled(delivery);
    if (settlement.kind === 'dead-letter' && delivery.state.tier > 0) this.#unpark(delivery);
  }

  /**
   * A record this member's source-partition parking sent to the retry path is resolved (handled or
   * dead-lettered): once none of that parking's records is left there, the key runs on the source
   * again. Records another member parked, or whose source partition is not ours now, only count
   * against the TTL.
   */
  #unpark(delivery: KafkaDelivery): void {
    const headers = delivery.message.headers;
    const token = headers[KafkaHeaders.parkedBy];
    const key = delivery.message.key;
    if (token === undefined || key === undefined || !token.startsWith(this.#parkingPrefix)) return;
    const topic = headers[KafkaHeaders.retryOriginalTopic];
    const partition = Number(headers[KafkaHeaders.retryOriginalPartition]);
    const offset = headers[KafkaHeaders.retryOriginalOffset];
    if (topic === undefined || offset === undefined || !Number.isInteger(partition)) return;
    const source = this.#partitions.get(partitionId(topic, partition));
    const parked = source?.parked.get(key);
    if (!source || !parked?.pending || parked.token !== token) return;
    parked.pending.delete(offset);
    if (parked.pending.size > 0) return;
    source.parked.delete(key);
    this.#logger.debug({ group: this.#group, partition: source.id, key }, 'parkSameKey: key released');
  }

  /** The delivery is done with: counts, outcome, watermark, commit schedule, room for more. */
  #settled(delivery: KafkaDelivery): void {
    const state = delivery.state;
    delivery.settled = true;
    const revoked = state.revoked || !delivery.counted;
    this.#uncount(delivery);
    delivery.resolveOutcome(revoked ? 'revoked' : 'done');
    if (revoked) return;
    state.settledSinceSample++;
    if (this.#semantics === 'at-least-once') {
      this.#watermark(state.topic).complete(state.partition, delivery.offset);
      if (++this.#settledSinceCommit >= this.#ctx.options.consumer.commitEveryMessages) this.#scheduleCommit();
    }
    this.#resumeIfRoom();
  }

  async #deadLetter(delivery: KafkaDelivery, record: DeadLetterRecord, requested: string): Promise<void> {
    const o = this.#ctx.options;
    // Core asks for the delivery's own `deadLetterDestination` unless the consumer named one.
    const destination = requested || delivery.state.deadLetterTopic;
    // A dead letter in the first moments after start waits for its topic to be created.
    await this.#deadLetterTopicsReady;
    const write = (omit: 'nothing' | 'body' | 'all') =>
      this.#produce(
        destination,
        [
          deadLetterMessage(record, {
            springHeaders: o.deadLetter.springHeaders,
            omitBody: omit === 'body',
            diagnosticsOnly: omit === 'all',
            original: delivery.record,
          }),
        ],
        o.deadLetter.timeoutMs,
      );
    try {
      await write('nothing');
    } catch (error) {
      if (!isTooLarge(error))
        throw new SwitchyardError(
          'SWITCHYARD_DEAD_LETTER_PUBLISH',
          `could not write the dead letter of ${delivery.state.id}@${delivery.offset} to '${destination}'; the partition holds at this offset until it succeeds`,
          {
            cause: error,
            retryable: true,
            details: {
              destination,
              topic: delivery.state.topic,
              partition: delivery.state.partition,
              offset: delivery.offset,
            },
          },
        );
      // The record cannot be written whole (larger than the dead-letter topic allows). Blocking
      // the partition forever helps nobody: write the diagnostics without the body, which stays
      // readable at its original position while retention keeps it.
      const bytes = delivery.record.value?.length ?? 0;
      this.#logger.warn(
        { group: this.#group, destination, offset: delivery.offset, bytes },
        'dead letter too large: written without its body',
      );
      try {
        // A key or headers too large on their own leave only the diagnostics to write.
        await write('body').catch((second: unknown) => {
          if (!isTooLarge(second)) throw second;
          this.#logger.warn(
            { group: this.#group, destination, offset: delivery.offset, keyBytes: delivery.record.key?.length ?? 0 },
            'dead letter too large without its body: written with its diagnostics only',
          );
          return write('all');
        });
      } catch (second) {
        throw new SwitchyardError(
          'SWITCHYARD_DEAD_LETTER_PUBLISH',
          `could not write the dead letter of ${delivery.state.id}@${delivery.offset} to '${destination}'`,
          {
            cause: second,
            retryable: true,
            details: { destination },
          },
        );
      }
      this.#ctx.events.emit('kafka:dead-letter:body-omitted', {
        group: this.#group,
        topic: delivery.state.topic,
        partition: delivery.state.partition,
        offset: delivery.offset,
        destination,
        bytes,
      });
    }
  }

  /** `failedAttempt` is the attempt that just failed; the redelivery is the next one. */
  async #retry(delivery: KafkaDelivery, delayMs: number, failedAttempt: number): Promise<void> {
    const o = this.#ctx.options;
    const state = delivery.state;
    const now = o.clock.now();
    const dueAt = now + Math.min(Math.max(0, delayMs), o.retry.maxDelayMs);
    const attempt = Math.max(failedAttempt, delivery.attempt) + 1;
    // From the source topic, attempt n goes to tier n - 1; from tier t, always onwards (t + 1).
    const tier = Math.min(Math.max(retryTier(attempt, o.retry.topics), state.tier + 1), o.retry.topics);
    const topic = retryTopicName(state.sourceTopic, tier);
    const park = o.retry.parkSameKey;
    const key = delivery.message.key;
    // Never park a key behind a retry written to the topic this record came from (a retry on the
    // last tier): the key's later records there would be diverted into that same topic, reach its
    // head again, and be diverted again, for ever. Every diversion must move a record to a later tier.
    const parkHere = park !== undefined && key !== undefined && topic !== state.topic;
    const token = parkHere && state.tier === 0 ? `${this.#parkingPrefix}-${++this.#parkings}` : undefined;
    const message = this.#retryMessage(delivery.record, delivery.message.headers, state, {
      dueAt,
      attempt,
      now,
      ...(token === undefined ? {} : { parkedBy: token }),
    });
    try {
      await this.#produce(topic, [message], o.deadLetter.timeoutMs);
    } catch (error) {
      throw new SwitchyardError(
        'SWITCHYARD_PUBLISH',
        `could not write ${state.id}@${delivery.offset} to retry topic '${topic}'`,
        {
          cause: error,
          retryable: true,
          details: { destination: topic },
        },
      );
    }
    if (parkHere && key !== undefined) {
      state.parked.delete(key);
      state.parked.set(key, {
        retryTopic: topic,
        dueAt,
        expiresAt: now + park.ttlMs,
        ...(token === undefined ? {} : { token, pending: new Set([delivery.offset]) }),
      });
      if (state.parked.size > park.maxKeys) {
        const oldest = state.parked.keys().next().value;
        if (oldest !== undefined) {
          state.parked.delete(oldest);
          this.#logger.warn(
            { group: this.#group, partition: state.id, key: oldest },
            'parkSameKey: key forgotten (maxKeys reached); its order is no longer restored',
          );
        }
      }
    }
  }

  #retryMessage(
    record: DriverRecord,
    headers: Readonly<Record<string, string>>,
    state: PartitionState,
    at: { dueAt: number; attempt: number; now: number; parked?: boolean; parkedBy?: string },
  ): DriverMessage {
    const out = rawHeaders(record.headers);
    const h = KafkaHeaders;
    for (const name of Object.keys(out)) {
      const lower = name.toLowerCase();
      if (lower === h.retryDueAt || lower === h.parked || (at.parkedBy !== undefined && lower === h.parkedBy))
        delete out[name];
    }
    if (at.parkedBy !== undefined) out[h.parkedBy] = at.parkedBy;
    out[h.retryDueAt] = String(at.dueAt);
    out[h.retryAttempt] = String(at.attempt);
    if (headers[h.retryOriginalTopic] === undefined) {
      out[h.retryOriginalTopic] = state.topic;
      out[h.retryOriginalPartition] = String(state.partition);
      out[h.retryOriginalOffset] = record.offset;
    }
    if (at.parked) out[h.parked] = 'true';
    else if (headers[h.firstFailureAt] === undefined) out[h.firstFailureAt] = String(at.now);
    const timestamp = Number(record.timestamp);
    return {
      key: record.key,
      value: record.value,
      headers: out,
      ...(Number.isFinite(timestamp) ? { timestamp } : {}),
    };
  }

  /** The retry topic a key's earlier record went to, while that key is parked on this partition. */
  #parkedBehind(state: PartitionState, key: string): string | undefined {
    if (!this.#ctx.options.retry.parkSameKey) return undefined;
    const parked = state.parked.get(key);
    if (!parked) return undefined;
    if (parked.expiresAt <= this.#ctx.options.clock.now()) {
      state.parked.delete(key);
      return undefined;
    }
    return parked.retryTopic;
  }

  async #divert(
    state: PartitionState,
    record: DriverRecord,
    headers: Record<string, string>,
    key: string,
    retryTopic: string,
  ): Promise<void> {
    const o = this.#ctx.options;
    const parked = state.parked.get(key)!;
    const attemptHeader = Number(headers[KafkaHeaders.retryAttempt]);
    const attempt = state.tier > 0 && Number.isInteger(attemptHeader) && attemptHeader >= 1 ? attemptHeader : 1;
    const message = this.#retryMessage(record, headers, state, {
      dueAt: parked.dueAt,
      attempt,
      now: o.clock.now(),
      parked: true,
      ...(parked.token === undefined ? {} : { parkedBy: parked.token }),
    });
    this.#watermark(state.topic).track(state.partition, record.offset);
    // Written before the offset completes; a failure throws out of the batch and the record is
    // fetched again (it was not advanced past).
    await this.#produce(retryTopic, [message], o.deadLetter.timeoutMs);
    parked.expiresAt = o.clock.now() + (o.retry.parkSameKey?.ttlMs ?? 0);
    // Bounded: when the resolutions do not come back here (another member reads the retry topic),
    // the key falls back to the TTL alone rather than remembering every diverted offset.
    if (parked.pending && parked.pending.size < MAX_PENDING_PER_PARKED_KEY) parked.pending.add(record.offset);
    else if (parked.pending)
      state.parked.set(key, { retryTopic: parked.retryTopic, dueAt: parked.dueAt, expiresAt: parked.expiresAt });
    this.#watermark(state.topic).complete(state.partition, record.offset);
    this.#ctx.events.emit('kafka:message:parked', {
      group: this.#group,
      topic: state.topic,
      partition: state.partition,
      offset: record.offset,
      key,
      retryTopic,
    });
  }

  /** Writes records and waits for the broker's acknowledgement, at most `timeoutMs`. */
  async #produce(topic: string, records: DriverMessage[], timeoutMs: number): Promise<void> {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new SwitchyardError(
          'SWITCHYARD_PUBLISH',
          `no acknowledgement from '${topic}' within ${timeoutMs} ms`,
          { retryable: true },
        );
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });
    try {
      await Promise.race([
        this.#ctx.publisher.publishRecords(topic, records, recordsBytes(records), controller.signal),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Exactly-once: one transaction per chunk of a batch (outputs + consumed offsets commit together)

  async #transactionalBatch(
    state: PartitionState,
    batch: DriverBatch,
    controls: BatchControls,
    heartbeat: HeartbeatTimer,
  ): Promise<void> {
    const transactions = this.#ctx.transactions;
    if (!transactions)
      throw new SwitchyardError('SWITCHYARD_CAPABILITY', 'exactly-once needs producer.transactionalId', {
        retryable: false,
      });
    const chunkSize = Math.max(1, this.#spec.maxInFlight);
    for (let start = 0; start < batch.records.length; start += chunkSize) {
      if (!this.#mayHandOver(state, controls, heartbeat)) return;
      const chunk = batch.records.slice(start, start + chunkSize);
      const committed = await transactions.run(async (tx) => {
        const deliveries: KafkaDelivery[] = [];
        for (const record of chunk) {
          if (!this.#mayHandOver(state, controls, heartbeat)) break;
          const headers = decodeHeaders(record.headers);
          const delivery = this.#deliveryFor(state, record, headers, recordKey(record));
          this.#count(delivery);
          deliveries.push(delivery);
          await this.#sink(delivery);
        }
        if (deliveries.length === 0) return false;
        const outcomes = await Promise.all(deliveries.map((d) => d.outcome()));
        // Everything handlers published went into this transaction; make sure it was sent.
        await this.#ctx.publisher.flush();
        if (outcomes.some((o) => o !== 'done') || state.revoked || !controls.isActive() || heartbeat.rebalancing) {
          await tx.abort();
          return false;
        }
        const last = deliveries[deliveries.length - 1]!.offset;
        const offset = nextOffset(last);
        await tx.sendOffsets(this.#group, [{ topic: state.topic, partition: state.partition, offset }]);
        await tx.commit();
        controls.advance(last);
        state.lastHanded = last;
        state.lastCommitted = offset;
        this.#ctx.events.emit('kafka:offsets:committed', {
          group: this.#group,
          offsets: [{ topic: state.topic, partition: state.partition, offset }],
        });
        return deliveries.length === chunk.length;
      });
      // Aborted (a delivery released, the partition revoked) or cut short: the rest is fetched
      // again from the last committed offset.
      if (!committed) return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Commits, lag, stuck partitions

  #scheduleCommit(): void {
    // A macrotask, never a microtask continuation (see the header comment).
    this.#commitSoon ??= setImmediate(() => {
      this.#commitSoon = undefined;
      void this.#commit();
    });
  }

  #commit(): Promise<void> {
    if (this.#semantics !== 'at-least-once' || !this.#joined) return Promise.resolve();
    if (this.#committing) {
      this.#commitAgain = true;
      return this.#committing;
    }
    const offsets: Array<TopicPartitionOffset & { state: PartitionState }> = [];
    for (const state of this.#partitions.values()) {
      if (state.revoked) continue;
      const offset = this.#watermarks.get(state.topic)?.committable(state.partition);
      if (offset !== undefined && offset !== state.lastCommitted)
        offsets.push({ topic: state.topic, partition: state.partition, offset, state });
    }
    this.#settledSinceCommit = 0;
    this.#lastCommitAt = this.#ctx.options.clock.now();
    if (offsets.length === 0) return Promise.resolve();
    const plain = offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset }));
    let request: Promise<void>;
    try {
      request = this.#consumer.commit(plain);
    } catch (error) {
      request = Promise.reject(error);
    }
    this.#committing = request
      .then(
        () => {
          for (const { state, offset, partition, topic } of offsets) {
            if (state.revoked) continue;
            this.#watermarks.get(topic)?.markCommitted(partition, offset);
            state.lastCommitted = offset;
          }
          this.#ctx.events.emit('kafka:offsets:committed', { group: this.#group, offsets: plain });
        },
        (error: unknown) => {
          this.#logger.warn(
            { err: error, group: this.#group, offsets: plain },
            'kafka offset commit failed; will retry',
          );
          this.#ctx.events.emit('kafka:offsets:commit-failed', { group: this.#group, error });
        },
      )
      .finally(() => {
        this.#committing = undefined;
        if (this.#commitAgain) {
          this.#commitAgain = false;
          this.#scheduleCommit();
        }
      });
    return this.#committing;
  }

  #onTick(): void {
    const o = this.#ctx.options;
    const now = o.clock.now();
    for (const state of this.#partitions.values()) {
      const oldest = state.oldest();
      if (oldest && now - oldest.handedAt > this.#stuckMs) {
        if (!state.pauseReasons.has('stuck')) {
          this.#logger.warn(
            { group: this.#group, partition: state.id, offset: oldest.offset, runningMs: now - oldest.handedAt },
            'kafka partition paused: its oldest message is still unfinished',
          );
          this.#pause(state, 'stuck');
        }
      } else this.#unpause(state, 'stuck');
      for (const [key, parked] of state.parked) if (parked.expiresAt <= now) state.parked.delete(key);
    }
    if (now - this.#lastCommitAt >= o.consumer.commitIntervalMs) void this.#commit();
    if (now - this.#lastSampleAt >= o.consumer.lagIntervalMs) this.#sampleLag(now);
    const depthEvery = o.deadLetter.depthIntervalMs;
    if (depthEvery > 0 && !this.#samplingDepth && now - this.#lastDepthAt >= depthEvery) {
      this.#lastDepthAt = now;
      void this.#sampleDeadLetterDepth();
    }
  }

  /** Dead letters waiting in this subscription's dead-letter topics (after the redrive group). */
  async #sampleDeadLetterDepth(): Promise<void> {
    this.#samplingDepth = true;
    try {
      const topics = new Set(this.#sourceTopics.map((t) => sourceDeadLetterTopic(t, this.#deadLetterNaming)));
      for (const topic of topics) {
        const depth = await deadLetterDepth(this.#ctx.admin, topic).catch((error: unknown) => {
          // Not created yet (createTopics off), or the admin call failed: try again next interval.
          this.#logger.debug({ err: error, topic }, 'kafka dead-letter depth not sampled');
          return undefined;
        });
        if (depth && !this.#closed) this.#spec.observer.depth(depth.total, { destination: topic, state: 'visible' });
      }
    } finally {
      this.#samplingDepth = false;
    }
  }

  #sampleLag(now: number): void {
    const seconds = Math.max(0.001, (now - this.#lastSampleAt) / 1_000);
    this.#lastSampleAt = now;
    const samples: PartitionSample[] = [];
    for (const state of this.#partitions.values()) {
      const base = state.lastCommitted ?? state.firstSeen;
      const rate = state.settledSinceSample / seconds;
      state.settledSinceSample = 0;
      if (state.highWatermark === undefined || base === undefined) continue;
      const lag = Math.max(0, Number(BigInt(state.highWatermark) - BigInt(base)));
      this.#spec.observer.lag(lag, { destination: state.topic, partition: state.partition });
      samples.push({ topic: state.topic, partition: state.partition, lag, ratePerSecond: rate });
    }
    for (const hot of detectHotPartitions(samples))
      this.#ctx.events.emit('kafka:partition:hot', { ...hot, group: this.#group });
  }

  // ---------------------------------------------------------------------------------------------
  // Lifecycle

  async stopFetching(): Promise<void> {
    this.#stopping = true;
    this.#stop.abort(
      new SwitchyardError('SWITCHYARD_SHUTDOWN', 'the subscription stopped fetching', { retryable: false }),
    );
    for (const state of this.#partitions.values()) this.#pause(state, 'stopping');
    if (this.#activeBatches > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (!this.#stopping) await this.stopFetching();
    this.#closed = true;
    clearInterval(this.#tick);
    if (this.#commitSoon) clearImmediate(this.#commitSoon);
    // Commit what finished, in the generation that owns it, then leave the group.
    await this.#committing;
    await this.#commit();
    for (const state of this.#partitions.values()) state.dueWait?.abort();
    try {
      await this.#consumer.disconnect();
    } finally {
      this.#revokeAll();
      this.#unlisten?.();
    }
  }

  health(): TransportHealth {
    if (this.#failed !== undefined)
      return {
        ok: false,
        detail: `consumer failed: ${this.#failed instanceof Error ? this.#failed.message : String(this.#failed)}`,
      };
    if (this.#closed) return { ok: false, detail: 'closed' };
    if (!this.#joined) return { ok: false, detail: `group '${this.#group}' not joined` };
    const paused = [...this.#partitions.values()].filter((s) => s.pauseReasons.size > 0).length;
    return {
      ok: true,
      detail: `group '${this.#group}' member ${this.#memberId}: ${this.#partitions.size} partitions (${paused} paused), ${this.#inFlight} in flight`,
    };
  }

  /** For tests and diagnostics: what this member owns and holds right now. */
  snapshot(): {
    partitions: Array<{
      topic: string;
      partition: number;
      inFlight: number;
      paused: PauseReason[];
      lastCommitted: string | undefined;
    }>;
    inFlight: number;
  } {
    return {
      inFlight: this.#inFlight,
      partitions: [...this.#partitions.values()].map((s) => ({
        topic: s.topic,
        partition: s.partition,
        inFlight: s.unsettled.size,
        paused: [...s.pauseReasons],
        lastCommitted: s.lastCommitted,
      })),
    };
  }
}
