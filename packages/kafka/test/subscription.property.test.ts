// A model-based property test of the subscription's commit watermark under rebalances, on the fake
// driver (no broker). Random sequences of fetches, settlements (acks, dead letters whose write
// sometimes fails and is retried later), rebalances (revoke / retain / add, or a crash and rejoin)
// and commit triggers are played against the subscription and against a small model
// (test/support/commit-model.ts). Every commit the subscription sends is checked when it is sent:
//   1. never past the lowest offset received in this ownership that has not settled successfully
//      (a dead letter whose write failed and was not retried counts as unsettled), nor past one past
//      the highest received; at a commit trigger, exactly that watermark once something settled;
//   2. only for partitions this member owns at that moment;
//   3. never backwards within one ownership period;
//   4. revoked partitions' deliveries are aborted, and a late settle resolves and writes nothing;
//   5. records are handed over in offset order per partition and ownership (so per key), with one
//      ordering key per (partition, key) for core to run one at a time; a retained partition is
//      sought to where hand-over stopped;
//   6. after settling everything and closing, each owned partition's last commit is one past the
//      last record it received.

import { type DeadLetterRecord, type Delivery, hasCode } from '@switchyard/core';
import { flushPromises, ManualClock } from '@switchyard/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CommitModel, type Ownership } from './support/commit-model.js';
import { type FakeConsumer, record } from './support/fake-driver.js';
import { type Harness, harness } from './support/harness.js';

const TOPIC = 'orders';
const DLQ = 'orders.dlq';
const PARTITIONS = [0, 1, 2];
const KEYS = ['a', 'b', 'c', null] as const;

// ------------------------------------------------------------------------------------------------
// Operations

type Op =
  | {
      readonly t: 'deliver';
      readonly pick: number;
      readonly count: number;
      readonly gaps: number[];
      readonly keys: number[];
    }
  | { readonly t: 'settle'; readonly pick: number; readonly kind: 'ack' | 'dead-letter'; readonly failWrite: boolean }
  | {
      readonly t: 'rebalance';
      readonly keep: boolean[];
      readonly add: boolean[];
      readonly ahead: number;
      readonly crash: boolean;
    }
  | { readonly t: 'commit'; readonly fail: boolean };

interface Config {
  readonly commitEveryMessages: number;
  readonly ordering: 'key' | 'partition';
  readonly initial: boolean[];
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('deliver' as const),
      pick: fc.nat(5),
      count: fc.integer({ min: 1, max: 4 }),
      gaps: fc.array(
        fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
        {
          minLength: 1,
          maxLength: 4,
        },
      ),
      keys: fc.array(fc.nat(KEYS.length - 1), { minLength: 1, maxLength: 4 }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('settle' as const),
      pick: fc.nat(50),
      kind: fc.constantFrom('ack' as const, 'ack' as const, 'dead-letter' as const),
      failWrite: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('rebalance' as const),
      keep: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
      add: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
      ahead: fc.oneof(
        { weight: 3, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) },
      ),
      crash: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('commit' as const), fail: fc.boolean() }) },
);

const configArb: fc.Arbitrary<Config> = fc.record({
  commitEveryMessages: fc.constantFrom(1, 3, 10_000),
  ordering: fc.constantFrom('key' as const, 'partition' as const),
  initial: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
});

// ------------------------------------------------------------------------------------------------
// The system under test next to the model

interface Handed {
  readonly delivery: Delivery;
  readonly partition: number;
  readonly offset: number;
  readonly ownership: Ownership | undefined;
  state: 'running' | 'failed' | 'done';
}

function deadLetterRecord(delivery: Delivery): DeadLetterRecord {
  return {
    source: delivery.message.source,
    consumerGroup: 'group-a',
    messageId: `m-${delivery.message.key ?? 'none'}`,
    messageType: 'OrderPlaced',
    attempts: 3,
    firstFailureAt: Date.UTC(2025, 0, 1),
    lastFailureAt: Date.UTC(2025, 0, 1, 0, 1),
    reason: 'retries-exhausted',
    error: { className: 'TypeError', code: undefined, message: 'boom', stack: undefined },
    body: delivery.message.body,
    headers: delivery.message.headers,
    key: delivery.message.key,
  };
}

function logPosition(delivery: Delivery): { partition: number; offset: number } {
  const source = delivery.message.source as { kind: string; partition?: number; offset?: string };
  if (source.kind !== 'log' || source.partition === undefined || source.offset === undefined)
    throw new Error(`not a log source: ${JSON.stringify(source)}`);
  return { partition: source.partition, offset: Number(source.offset) };
}

class Run {
  readonly model = new CommitModel();
  readonly clock = new ManualClock();
  readonly handed: Handed[] = [];
  readonly problems: string[] = [];
  readonly config: Config;
  /** Ordering identity (partition and key, or the record when keyless) ↔ the delivery's orderingKey. */
  readonly #orderingKeyOf = new Map<string, string>();
  readonly #identityOf = new Map<string, string>();
  #dlqDown = false;
  #h: Harness | undefined;

  constructor(config: Config) {
    this.config = config;
  }

  get h(): Harness {
    if (!this.#h) throw new Error('not started');
    return this.#h;
  }

  async start(): Promise<void> {
    const initial = PARTITIONS.filter((p) => this.config.initial[p]);
    for (const p of initial) this.model.assign(p, 0);
    this.#h = await harness(
      {
        clock: this.clock,
        producer: { lingerMs: 0 },
        deadLetter: { timeoutMs: 60_000 },
        consumer: { commitEveryMessages: this.config.commitEveryMessages, ordering: this.config.ordering },
      },
      { maxInFlight: 10_000 },
      { [TOPIC]: initial },
      (d) => {
        this.#onHandOver(d);
        return undefined;
      },
    );
    this.h.driver.producer0.failFor = (topic) =>
      topic === DLQ && this.#dlqDown ? Object.assign(new Error('broker unavailable'), { retriable: true }) : undefined;
    this.#hookCommits(this.h.consumer);
  }

  #problem(message: string): void {
    this.problems.push(message);
  }

  /** Checks each commit against the model when it is sent (invariants 1-3). */
  #hookCommits(consumer: FakeConsumer): void {
    const send = consumer.commit.bind(consumer);
    consumer.commit = async (offsets) => {
      const sentFor = offsets.map((o) => {
        const problem = this.model.commitViolation(o.partition, Number(o.offset));
        if (problem) this.#problem(problem);
        return this.model.owned.get(o.partition);
      });
      await send(offsets);
      offsets.forEach((o, i) => {
        const ownership = sentFor[i];
        if (ownership) ownership.lastCommit = Number(o.offset);
        this.model.groupCommit.set(o.partition, Number(o.offset));
      });
    };
  }

  /** Invariant 5 at hand-over. */
  #onHandOver(delivery: Delivery): void {
    const { partition, offset } = logPosition(delivery);
    const ownership = this.model.owned.get(partition);
    if (!ownership) this.#problem(`handed over ${partition}@${offset} of a partition this member does not own`);
    else {
      const last = ownership.handed[ownership.handed.length - 1];
      if (last !== undefined && offset <= last)
        this.#problem(`handed over ${partition}@${offset} after ${partition}@${last} in one ownership`);
      ownership.handed.push(offset);
      ownership.tracked.set(offset, 'running');
    }
    const key = delivery.message.key;
    const identity =
      this.config.ordering === 'partition'
        ? `${partition}`
        : key === undefined
          ? `${partition}/@${offset}`
          : `${partition}/key:${key}`;
    const known = this.#orderingKeyOf.get(identity);
    if (known !== undefined && known !== delivery.orderingKey)
      this.#problem(`${identity} came with ordering keys ${known} and ${delivery.orderingKey}`);
    const other = this.#identityOf.get(delivery.orderingKey);
    if (other !== undefined && other !== identity)
      this.#problem(`ordering key ${delivery.orderingKey} shared by ${other} and ${identity}`);
    this.#orderingKeyOf.set(identity, delivery.orderingKey);
    this.#identityOf.set(delivery.orderingKey, identity);
    this.handed.push({ delivery, partition, offset, ownership, state: 'running' });
  }

  async apply(op: Op): Promise<void> {
    switch (op.t) {
      case 'deliver':
        return this.#deliver(op);
      case 'settle': {
        const open = this.handed.filter((x) => x.state !== 'done');
        const target = open[op.pick % Math.max(1, open.length)];
        if (!target) return;
        // A failed dead letter is retried as a dead letter (core retries the same settlement).
        return this.settle(target, target.state === 'failed' ? 'dead-letter' : op.kind, op.failWrite);
      }
      case 'rebalance':
        return this.#rebalance(op);
      case 'commit':
        return this.#commitTrigger(op.fail);
    }
  }

  async #deliver(op: Extract<Op, { t: 'deliver' }>): Promise<void> {
    const owned = [...this.model.owned.values()].sort((a, b) => a.partition - b.partition);
    const ownership = owned[op.pick % Math.max(1, owned.length)];
    if (!ownership) return;
    const records = this.model.fetch(
      ownership.partition,
      ownership.nextFetch,
      op.count,
      op.gaps,
      op.keys.map((k) => KEYS[k] ?? null),
    );
    const before = this.handed.length;
    const result = await this.h.consumer.deliver(
      TOPIC,
      ownership.partition,
      records.map((r) => record(r.offset, { key: r.key })),
    );
    const last = records[records.length - 1]!.offset;
    if (this.handed.length - before !== records.length)
      this.#problem(`a batch of ${records.length} handed over ${this.handed.length - before}`);
    if (result.advanced.join() !== String(last))
      this.#problem(`fetch position advanced ${JSON.stringify(result.advanced)}, expected [${last}]`);
    ownership.nextFetch = last + 1;
    await flushPromises();
  }

  async settle(target: Handed, kind: 'ack' | 'dead-letter', failWrite: boolean): Promise<void> {
    const { partition, offset } = target;
    const current = target.ownership !== undefined && this.model.owned.get(partition) === target.ownership;
    const producer = this.h.driver.producer0;
    const writtenBefore = producer.to(DLQ).length;
    this.#dlqDown = kind === 'dead-letter' && failWrite;
    let error: unknown;
    try {
      await target.delivery.settle(
        kind === 'ack'
          ? { kind: 'ack' }
          : { kind: 'dead-letter', record: deadLetterRecord(target.delivery), destination: DLQ },
      );
    } catch (e) {
      error = e;
    }
    this.#dlqDown = false;
    const written = producer.to(DLQ).length - writtenBefore;
    const where = `${partition}@${offset}`;
    if (!current) {
      // Invariant 4: a revoked partition's late settlement resolves and writes nothing.
      if (error !== undefined) this.#problem(`late ${kind} of revoked ${where} rejected: ${String(error)}`);
      if (written !== 0) this.#problem(`late ${kind} of revoked ${where} wrote ${written} dead letters`);
      target.state = 'done';
    } else if (kind === 'dead-letter' && failWrite) {
      if (!hasCode(error, 'SWITCHYARD_DEAD_LETTER_PUBLISH'))
        this.#problem(`failed dead-letter write of ${where} settled with ${String(error)}`);
      target.state = 'failed';
      target.ownership!.tracked.set(offset, 'failed');
    } else {
      if (error !== undefined) this.#problem(`${kind} of ${where} rejected: ${String(error)}`);
      if (written !== (kind === 'dead-letter' ? 1 : 0))
        this.#problem(`${kind} of ${where} wrote ${written} dead letters`);
      target.state = 'done';
      target.ownership!.tracked.set(offset, 'settled');
    }
    await flushPromises();
  }

  async #rebalance(op: Extract<Op, { t: 'rebalance' }>): Promise<void> {
    const before = new Map(this.model.owned);
    const next = PARTITIONS.filter((p) => (before.has(p) ? op.keep[p] : op.add[p]));
    // The old generation's last chance to commit (a crash has none).
    if (op.crash) this.h.consumer.emit({ kind: 'crash', error: new Error('connection lost'), restart: true });
    else this.h.consumer.emit({ kind: 'rebalancing' });
    for (const p of before.keys()) if (op.crash || !next.includes(p)) this.model.revoke(p);
    for (const p of next)
      if (!this.model.owned.has(p)) {
        // Starts at the group's commit, or further on when another member owned it meanwhile.
        const from = (this.model.groupCommit.get(p) ?? 0) + op.ahead;
        if (op.ahead > 0) this.model.groupCommit.set(p, from);
        this.model.assign(p, from);
      }
    const seeksBefore = this.h.consumer.seeks.length;
    this.h.consumer.join({ [TOPIC]: next });
    const seeks = this.h.consumer.seeks.slice(seeksBefore);
    // Invariant 4: revoked deliveries are aborted, retained ones are not.
    for (const x of this.handed) {
      if (x.state === 'done') continue;
      const current = x.ownership !== undefined && this.model.owned.get(x.partition) === x.ownership;
      if (current && x.delivery.signal.aborted) this.#problem(`retained ${x.partition}@${x.offset} was aborted`);
      if (!current && !x.delivery.signal.aborted) this.#problem(`revoked ${x.partition}@${x.offset} was not aborted`);
    }
    // Invariant 5: retained partitions continue where hand-over stopped.
    for (const p of PARTITIONS) {
      const seek = seeks.filter((s) => s.partition === p);
      const ownership = this.model.owned.get(p);
      const retained = ownership !== undefined && before.get(p) === ownership;
      const last = ownership?.handed[ownership.handed.length - 1];
      if (retained && last !== undefined) {
        if (seek.length !== 1 || seek[0]!.offset !== String(last + 1) || seek[0]!.topic !== TOPIC)
          this.#problem(`retained partition ${p} sought ${JSON.stringify(seek)}, expected ${last + 1}`);
        ownership.nextFetch = last + 1;
      } else if (seek.length > 0) this.#problem(`unexpected seek ${JSON.stringify(seek)} for partition ${p}`);
    }
    await flushPromises();
  }

  async #commitTrigger(fail: boolean): Promise<void> {
    if (fail) this.h.consumer.failCommits = new Error('coordinator moved');
    this.h.consumer.emit({ kind: 'rebalancing' });
    await flushPromises();
    this.h.consumer.failCommits = undefined;
    if (fail) return;
    // Invariant 1, exactly: a successful commit trigger commits the whole watermark.
    for (const ownership of this.model.owned.values()) {
      const bound = this.model.bound(ownership);
      const start = this.model.start(ownership);
      if (bound !== undefined && start !== undefined && bound > start && ownership.lastCommit !== bound)
        this.#problem(
          `after a commit trigger partition ${ownership.partition} stands at ${ownership.lastCommit}, its watermark is ${bound}`,
        );
    }
  }

  /** Settles everything (failed dead letters retried successfully), closes; invariant 6. */
  async finish(): Promise<void> {
    for (const x of this.handed)
      if (x.state !== 'done') await this.settle(x, x.state === 'failed' ? 'dead-letter' : 'ack', false);
    await this.h.transport.close();
    for (const ownership of this.model.owned.values()) {
      if (ownership.handed.length === 0) continue;
      const expected = Math.max(...ownership.handed) + 1;
      const committed = this.h.consumer.lastCommitted(TOPIC, ownership.partition);
      if (ownership.lastCommit !== expected || committed !== String(expected))
        this.#problem(`closed with partition ${ownership.partition} at ${committed}, expected ${expected}`);
    }
  }

  async dispose(): Promise<void> {
    await this.#h?.transport.close().catch(() => {});
  }
}

async function play(config: Config, ops: readonly Op[]): Promise<string[]> {
  const run = new Run(config);
  try {
    await run.start();
    for (const op of ops) {
      await run.apply(op);
      if (run.problems.length > 0) return run.problems;
    }
    await run.finish();
    return run.problems;
  } finally {
    await run.dispose();
  }
}

// ------------------------------------------------------------------------------------------------

describe('commit watermark under rebalances (model-based)', () => {
  it('commits only the watermark of owned partitions, never backwards, and everything in the end', async () => {
    await fc.assert(
      fc.asyncProperty(
        configArb,
        fc.array(opArb, { minLength: 1, maxLength: 40, size: 'large' }),
        async (config, ops) => {
          expect(await play(config, ops)).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });
});
