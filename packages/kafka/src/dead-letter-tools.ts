// Operator tools for a Kafka dead-letter topic: how many dead letters wait, what they are, and
// moving them back. A dead-letter topic is a log, so "waiting" means "after the redrive group's
// committed offset": redrive consumes the topic in its own group and commits only what the
// destination acknowledged, so a crash may send a record twice, never lose one, and a later run
// goes on where the last one stopped. Inspection reads through a throwaway group and commits nothing.

import {
  assertAbortSignal,
  type Clock,
  DEAD_LETTER_HEADER_PREFIX,
  DeadLetterHeaders,
  type DeadLetterRecord,
  InvalidOptionError,
  isOptionObject,
  type Logger,
  optionKindText,
  optionValueText,
  readDeadLetterHeaders,
  SwitchyardError,
  setHeader,
  shownValue,
  TokenBucket,
} from '@switchyard/core';
import { SpringDeadLetterHeaders } from './dead-letter-message.js';
import type {
  BatchControls,
  DriverAdmin,
  DriverBatch,
  DriverMessage,
  DriverProducer,
  DriverRecord,
  KafkaDriver,
} from './driver/driver.js';
import { int32, positiveInt, refuseUnknown } from './options.js';
import { decodeHeaders, KafkaHeaders, rawHeaders } from './records.js';
import { parseRetryTopic } from './topic-names.js';

export interface KafkaDeadLetter {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** When it was dead-lettered (record timestamp), ms since the epoch. */
  readonly timestamp: number;
  readonly key: Buffer | null;
  /** The original value, byte for byte; `null` for a dead-lettered tombstone or an omitted body. */
  readonly body: Buffer | null;
  /** Every header, decoded as UTF-8, the `sy-dlq-*` and `kafka_dlt-*` ones included. */
  readonly headers: Readonly<Record<string, string>>;
  /** What Switchyard wrote when it dead-lettered it (reason, error, source, attempts …). */
  readonly record: Partial<DeadLetterRecord> | undefined;
  /** The topic it was first consumed from (retry tiers resolved): where redrive sends it. */
  readonly originalTopic: string | undefined;
  /** Set when the value was too large for the dead-letter topic and was left out (its size in bytes). */
  readonly bodyOmittedBytes: number | undefined;
}

export interface DeadLetterDepth {
  readonly topic: string;
  /** The redrive group the depth is measured against. */
  readonly group: string;
  /** Dead letters after the group's committed offsets (from the log start where it never committed). */
  readonly total: number;
  readonly partitions: ReadonlyArray<{ partition: number; depth: number }>;
}

export type InspectFrom = 'unredriven' | 'earliest' | { readonly timestamp: number };

export interface InspectDeadLettersOptions {
  /** Most dead letters to return. Default 10. */
  readonly limit?: number;
  /** `unredriven` (default): after the redrive group's commits; `earliest`; or from a time. */
  readonly from?: InspectFrom;
  /** Redrive group whose position `unredriven` starts at. Default `<topic>.redrive`. */
  readonly redriveGroup?: string;
  /** Longest the read may take before it returns what it has. Default 30 000. */
  readonly timeoutMs?: number;
}

export interface RedriveDeadLettersOptions {
  /** The dead-letter topic. */
  readonly from: string;
  /** Where every record goes. Default: each record's original topic (from its dead-letter headers). */
  readonly to?: string;
  /** Records per second, at most. */
  readonly ratePerSecond: number;
  /** Move at most this many (records skipped count too). */
  readonly max?: number;
  /** The group whose commits remember what was redriven. Default `<from>.redrive`. */
  readonly group?: string;
  /** Longest the run may take; it stops between records and commits what was moved. Default 10 min. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export type RedriveSkipReason = 'no-destination' | 'body-omitted';

export interface RedriveResult {
  readonly group: string;
  readonly moved: number;
  /** Records by destination topic. */
  readonly movedTo: Readonly<Record<string, number>>;
  /** Records committed past without being sent: no known destination, or their value was left out. */
  readonly skipped: ReadonlyArray<{ partition: number; offset: string; reason: RedriveSkipReason }>;
  /** True when every partition reached the log end the run started with (false: max, timeout, abort). */
  readonly complete: boolean;
}

export const redriveGroupName = (deadLetterTopic: string): string => `${deadLetterTopic}.redrive`;

// Call-time checks of the admin's dead-letter tools (KafkaAdmin runs them before it connects), and the
// small checks KafkaAdmin's other methods share: a wrong argument is an InvalidOptionError naming it,
// never a TypeError from deep inside the call or a silently ignored key.

/** A topic or group name: a non-empty string. */
export function checkName(option: string, value: unknown, what: 'topic' | 'group', example: string): string {
  if (typeof value !== 'string' || value === '')
    throw new InvalidOptionError(
      option,
      `must be a ${what} name (a non-empty string), got ${shownValue(value)}`,
      `pass e.g. '${example}'`,
    );
  return value;
}

/** An options object (plain, or `Object.create(null)`) without keys the call does not know. */
export function checkOptionsObject(
  option: string,
  value: unknown,
  known: readonly string[],
  example: string,
): Readonly<Record<string, unknown>> {
  if (!isOptionObject(value))
    throw new InvalidOptionError(
      option,
      `expected an options object, got ${optionKindText(value)}`,
      `pass e.g. ${example}`,
    );
  refuseUnknown(option, value, known);
  return value;
}

/** A point in time to read from: ms since the epoch (Kafka reads -1 and -2 as "latest" and "earliest"). */
export function checkTimestamp(option: string, value: unknown): number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0))
    throw new InvalidOptionError(
      option,
      `must be a time in ms since the epoch (a finite number, 0 or more), got ${shownValue(value)}`,
      'pass e.g. { timestamp: Date.now() - 3_600_000 } (for a Date: date.getTime())',
    );
  return value;
}

/** A rate limit: a positive finite number of records per second. */
export function checkRate(option: string, value: unknown): number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value > 0))
    throw new InvalidOptionError(
      option,
      `must be a positive finite number, got ${optionValueText(value)}`,
      'pass e.g. ratePerSecond: 50',
    );
  return value;
}

/** A duration that reaches a timer: a whole number of ms from 1 to 2^31 - 1. */
function checkTimeout(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  int32(option, value as number);
  return value as number;
}

/** A count: a whole number of at least 1. */
function checkCount(option: string, value: unknown): number | undefined {
  if (value !== undefined) positiveInt(option, value as number);
  return value as number | undefined;
}

function checkInspectFrom(option: string, value: unknown): InspectFrom {
  if (value === undefined) return 'unredriven';
  if (value === 'unredriven' || value === 'earliest') return value;
  const fix = "pass 'earliest' or { timestamp: Date.now() - 3_600_000 }, or leave it out for 'unredriven'";
  if (!isOptionObject(value))
    throw new InvalidOptionError(
      option,
      `must be 'unredriven', 'earliest' or { timestamp }, got ${shownValue(value)}`,
      fix,
    );
  refuseUnknown(option, value, ['timestamp']);
  return { timestamp: checkTimestamp(`${option}.timestamp`, value.timestamp) };
}

/** An inspection as checked: every default filled in. */
export interface InspectPlan {
  readonly topic: string;
  readonly limit: number;
  readonly from: InspectFrom;
  readonly redriveGroup: string;
  readonly timeoutMs: number;
}

const INSPECT_KEYS = ['limit', 'from', 'redriveGroup', 'timeoutMs'] as const;

/** Checks `inspectDeadLetters(topic, options)` before anything is read (`undefined` keys: the defaults). */
export function checkInspect(topic: unknown, options: unknown): InspectPlan {
  const name = checkName('inspectDeadLetters.topic', topic, 'topic', 'orders.dlq');
  const o =
    options === undefined
      ? {}
      : checkOptionsObject('inspectDeadLetters', options, INSPECT_KEYS, "{ limit: 20, from: 'earliest' }");
  return {
    topic: name,
    limit: checkCount('inspectDeadLetters.limit', o.limit) ?? 10,
    from: checkInspectFrom('inspectDeadLetters.from', o.from),
    redriveGroup:
      o.redriveGroup === undefined
        ? redriveGroupName(name)
        : checkName('inspectDeadLetters.redriveGroup', o.redriveGroup, 'group', redriveGroupName(name)),
    timeoutMs: checkTimeout('inspectDeadLetters.timeoutMs', o.timeoutMs, 30_000),
  };
}

/** A redrive as checked: every default filled in. */
export interface RedrivePlan {
  readonly from: string;
  readonly to: string | undefined;
  readonly ratePerSecond: number;
  readonly max: number;
  readonly group: string;
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
}

const REDRIVE_KEYS = ['from', 'to', 'ratePerSecond', 'max', 'group', 'timeoutMs', 'signal'] as const;

/** Checks `redriveDeadLetters(options)` before anything is read or sent (`undefined` keys: the defaults). */
export function checkRedrive(options: unknown): RedrivePlan {
  const o = checkOptionsObject(
    'redriveDeadLetters',
    options,
    REDRIVE_KEYS,
    "{ from: 'orders.dlq', ratePerSecond: 50 }",
  );
  const from = checkName('redriveDeadLetters.from', o.from, 'topic', 'orders.dlq');
  const to = o.to === undefined ? undefined : checkName('redriveDeadLetters.to', o.to, 'topic', 'orders');
  if (to === from)
    throw new InvalidOptionError(
      'redriveDeadLetters.to',
      `is the dead-letter topic itself ('${from}'): every record would be written back where it was read`,
      'name the topic to send them to, or leave `to` out for each record’s original topic',
    );
  return {
    from,
    to,
    ratePerSecond: checkRate('redriveDeadLetters.ratePerSecond', o.ratePerSecond),
    max: checkCount('redriveDeadLetters.max', o.max) ?? Number.POSITIVE_INFINITY,
    group:
      o.group === undefined
        ? redriveGroupName(from)
        : checkName('redriveDeadLetters.group', o.group, 'group', redriveGroupName(from)),
    timeoutMs: checkTimeout('redriveDeadLetters.timeoutMs', o.timeoutMs, 600_000),
    signal: assertAbortSignal('redriveDeadLetters.signal', o.signal, ['throwIfAborted']),
  };
}

const NONE_LEFT_AFTER_IDLE_FETCHES = 5;

const sizeOf = (byTopic: ReadonlyMap<string, readonly unknown[]>): number => {
  let n = 0;
  for (const messages of byTopic.values()) n += messages.length;
  return n;
};

/** Where a dead letter came from: Spring's header, then the retry headers, then core's source header. */
function originalTopicOf(headers: Readonly<Record<string, string>>): string | undefined {
  const topic =
    headers[SpringDeadLetterHeaders.originalTopic] ??
    headers[KafkaHeaders.retryOriginalTopic] ??
    headers[DeadLetterHeaders.sourceTopic];
  if (topic === undefined || topic === '') return undefined;
  return parseRetryTopic(topic)?.source ?? topic;
}

export function toDeadLetter(topic: string, partition: number, record: DriverRecord): KafkaDeadLetter {
  const headers = decodeHeaders(record.headers);
  const hasRecord = Object.keys(headers).some((name) => name.startsWith(DEAD_LETTER_HEADER_PREFIX));
  const omitted = headers[KafkaHeaders.bodyOmitted];
  const tombstone = headers[DeadLetterHeaders.tombstone] === 'true';
  const timestamp = Number(record.timestamp);
  return {
    topic,
    partition,
    offset: record.offset,
    timestamp: Number.isFinite(timestamp) ? timestamp : 0,
    key: record.key,
    body: tombstone || omitted !== undefined ? null : (record.value ?? null),
    headers,
    record: hasRecord ? readDeadLetterHeaders(headers) : undefined,
    originalTopic: originalTopicOf(headers),
    bodyOmittedBytes: omitted === undefined ? undefined : Number(omitted),
  };
}

/** The record as it goes back: original key, value and headers, without dead-letter and retry headers. */
export function redriveMessage(letter: KafkaDeadLetter, original: DriverRecord): DriverMessage {
  const headers: Record<string, string | Buffer> = {};
  for (const [name, value] of Object.entries(rawHeaders(original.headers))) {
    const lower = name.toLowerCase();
    if (lower.startsWith(DEAD_LETTER_HEADER_PREFIX) || lower.startsWith('kafka_dlt-')) continue;
    // The redriven record starts over: no retry tier, due time, parking or first-failure time.
    if (
      lower.startsWith('sy-retry-') ||
      lower === KafkaHeaders.parked ||
      lower === KafkaHeaders.parkedBy ||
      lower === KafkaHeaders.firstFailureAt
    )
      continue;
    setHeader(headers, name, value);
  }
  return { key: original.key, value: letter.body, headers };
}

interface ReadContext {
  readonly driver: KafkaDriver;
  readonly admin: DriverAdmin;
  readonly clock: Clock;
  readonly logger: Logger;
}

interface RangeRead {
  readonly topic: string;
  readonly groupId: string;
  /** Next offset to read, per partition. */
  readonly starts: ReadonlyMap<number, bigint>;
  /** Log end when the read began, per partition: nothing at or past it is read. */
  readonly ends: ReadonlyMap<number, bigint>;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Handles records of one partition in offset order; returns false to stop the whole read. */
  readonly onRecords: (partition: number, records: readonly DriverRecord[], io: PartitionIo) => Promise<boolean>;
  /** Commit the ends of partitions that ended in records nobody can read (redrive's bookkeeping). */
  readonly onDrained?: 'commit-ends';
}

/** What a range reader may do while it holds a partition's records. */
interface PartitionIo {
  /** False once the read was stopped (timeout, abort): hand nothing more over. */
  active(): boolean;
  /** Keeps the group membership alive while records wait for the rate limit. */
  heartbeat(): Promise<void>;
  /** Commits `nextOffset` for the partition in the current generation. */
  commit(nextOffset: string): Promise<void>;
}

/**
 * Reads `[start, end)` of every partition through a consumer in `groupId`. A partition whose last records are transaction markers never shows its end, so the
 * read also ends after a few fetches in a row that brought nothing.
 */
async function readRange(ctx: ReadContext, read: RangeRead): Promise<{ complete: boolean }> {
  const next = new Map(read.starts);
  const done = new Set<number>();
  for (const [partition, end] of read.ends) if ((next.get(partition) ?? end) >= end) done.add(partition);
  if (done.size === read.ends.size) return { complete: true };
  const consumer = ctx.driver.consumer({
    groupId: read.groupId,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    heartbeatIntervalMs: 1_000,
    maxBytesPerPartition: 1_048_576,
    maxBytes: 10_485_760,
    maxWaitTimeMs: 200,
    readUncommitted: false,
    allowAutoTopicCreation: false,
  });
  let finish!: (complete: boolean) => void;
  let fail!: (error: unknown) => void;
  const finished = new Promise<boolean>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  let stopped = false;
  const stop = (complete: boolean) => {
    stopped = true;
    finish(complete);
  };
  let idleFetches = 0;
  let handling = false;
  let drained = false;
  const unlisten = consumer.on((event) => {
    // Start where the caller said, whatever the group committed (kafkajs' own setOffsets joins a
    // consumer and waits out a 5 s fetch, so the position is set here instead).
    if (event.kind === 'group-join')
      for (const partition of event.assignment[read.topic] ?? []) {
        const offset = next.get(partition);
        if (done.has(partition)) consumer.pause([{ topic: read.topic, partitions: [partition] }]);
        else if (offset !== undefined) consumer.seek({ topic: read.topic, partition, offset: String(offset) });
      }
    // Fetches that bring nothing while nothing is being handled: no partition has a readable
    // record left before its end (read_committed ends are last stable offsets, so what remains
    // there is transaction markers or aborted records).
    if (event.kind === 'fetch' && !handling && ++idleFetches >= NONE_LEFT_AFTER_IDLE_FETCHES) {
      drained = true;
      stop(true);
    }
    if (event.kind === 'crash' && !event.restart) fail(event.error);
  });
  const timer = setTimeout(() => stop(false), read.timeoutMs);
  const onAbort = () => stop(false);
  read.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await consumer.connect();
    await consumer.subscribe([read.topic], true);
    await consumer.run(
      async (batch: DriverBatch, controls) => {
        if (stopped || done.has(batch.partition)) return;
        idleFetches = 0;
        handling = true;
        try {
          await handOver(batch, controls);
        } catch (error) {
          // Not kafkajs' retry: the caller gets the error, and what was committed stays committed.
          stopped = true;
          fail(error);
        } finally {
          handling = false;
        }
      },
      { partitionsConsumedConcurrently: 1 },
    );
    const complete = await finished;
    if (drained && read.onDrained) {
      const rest = [...read.ends].filter(([partition]) => !done.has(partition));
      const offsets = rest.map(([partition, end]) => ({ topic: read.topic, partition, offset: String(end) }));
      // Fails when no batch ran in this generation; the markers are then counted until a later run.
      if (offsets.length > 0)
        await consumer.commit(offsets).catch((error: unknown) => {
          ctx.logger.warn(
            { err: error, topic: read.topic },
            'dead-letter tools: could not commit past trailing markers',
          );
        });
    }
    return { complete };
  } finally {
    clearTimeout(timer);
    read.signal?.removeEventListener('abort', onAbort);
    unlisten();
    await consumer.disconnect().catch((error: unknown) => {
      ctx.logger.warn({ err: error, topic: read.topic }, 'dead-letter tools: consumer did not disconnect cleanly');
    });
  }

  async function handOver(batch: DriverBatch, controls: BatchControls): Promise<void> {
    // A batch fetched before the seek above took effect is stale: it is fetched again from there.
    if (!controls.isActive()) return;
    const end = read.ends.get(batch.partition) ?? 0n;
    const start = next.get(batch.partition) ?? 0n;
    const records = batch.records.filter((r) => BigInt(r.offset) >= start && BigInt(r.offset) < end);
    if (records.length > 0) {
      const goOn = await read.onRecords(batch.partition, records, {
        active: () => !stopped,
        heartbeat: () => controls.heartbeat(),
        commit: (offset) => consumer.commit([{ topic: read.topic, partition: batch.partition, offset }]),
      });
      const last = records[records.length - 1]!;
      next.set(batch.partition, BigInt(last.offset) + 1n);
      if (goOn === false) return stop(false);
    }
    const last = batch.records[batch.records.length - 1];
    if (last) controls.advance(last.offset);
    if ((next.get(batch.partition) ?? 0n) >= end || batch.records.length > records.length) {
      done.add(batch.partition);
      // Records written after the start stay where they are; fetching them again would only
      // take fetch room from the partitions still being read.
      consumer.pause([{ topic: read.topic, partitions: [batch.partition] }]);
    }
    if (done.size === read.ends.size) stop(true);
  }
}

async function endsOf(admin: DriverAdmin, topic: string): Promise<Map<number, { low: bigint; high: bigint }>> {
  if (!(await admin.listTopics()).includes(topic))
    throw new SwitchyardError('SWITCHYARD_TRANSPORT', `Kafka topic '${topic}' does not exist`, {
      retryable: false,
      details: { topic },
    });
  const offsets = await admin.topicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]));
}

async function committedOf(admin: DriverAdmin, group: string, topic: string): Promise<Map<number, bigint>> {
  const offsets = await admin.groupOffsets(group, topic);
  const out = new Map<number, bigint>();
  for (const o of offsets) if (BigInt(o.offset) >= 0n) out.set(o.partition, BigInt(o.offset));
  return out;
}

/** Next offset to read per partition: committed, clamped into the log (retention may have moved its start). */
function startsFrom(
  ends: ReadonlyMap<number, { low: bigint; high: bigint }>,
  committed: ReadonlyMap<number, bigint>,
): Map<number, bigint> {
  const starts = new Map<number, bigint>();
  for (const [partition, { low, high }] of ends) {
    let c = committed.get(partition) ?? low;
    if (c < low) c = low;
    if (c > high) c = high;
    starts.set(partition, c);
  }
  return starts;
}

export async function deadLetterDepth(admin: DriverAdmin, topic: string, group?: string): Promise<DeadLetterDepth> {
  const redriveGroup = group ?? redriveGroupName(topic);
  const [ends, committed] = await Promise.all([endsOf(admin, topic), committedOf(admin, redriveGroup, topic)]);
  const starts = startsFrom(ends, committed);
  const partitions = [...ends].map(([partition, { high }]) => ({
    partition,
    depth: Number(high - (starts.get(partition) ?? high)),
  }));
  return { topic, group: redriveGroup, total: partitions.reduce((sum, p) => sum + p.depth, 0), partitions };
}

export async function inspectDeadLetters(ctx: ReadContext, plan: InspectPlan): Promise<KafkaDeadLetter[]> {
  const { topic, limit, from } = plan;
  const ends = await endsOf(ctx.admin, topic);
  let starts: Map<number, bigint>;
  if (from === 'earliest') starts = startsFrom(ends, new Map());
  else if (from === 'unredriven') starts = startsFrom(ends, await committedOf(ctx.admin, plan.redriveGroup, topic));
  else {
    const at = await ctx.admin.offsetsForTimestamp(topic, from.timestamp);
    starts = startsFrom(ends, new Map(at.map((o) => [o.partition, BigInt(o.offset)])));
  }
  const groupId = `${topic}.inspect.${ctx.clock.now()}.${Math.random().toString(36).slice(2, 8)}`;
  const letters: KafkaDeadLetter[] = [];
  try {
    await readRange(ctx, {
      topic,
      groupId,
      starts,
      ends: new Map([...ends].map(([p, e]) => [p, e.high])),
      timeoutMs: plan.timeoutMs,
      onRecords: async (partition, records) => {
        for (const r of records) {
          letters.push(toDeadLetter(topic, partition, r));
          if (letters.length >= limit) return false;
        }
        return true;
      },
    });
  } finally {
    await ctx.admin.deleteGroups([groupId]).catch((error: unknown) => {
      ctx.logger.warn({ err: error, groupId }, 'dead-letter inspection: could not delete its throwaway group');
    });
  }
  return letters.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}

export async function redriveDeadLetters(ctx: ReadContext, plan: RedrivePlan): Promise<RedriveResult> {
  const { ratePerSecond, max, group } = plan;
  const description = await ctx.admin.describeGroup(group);
  if (description.members > 0)
    throw new SwitchyardError(
      'SWITCHYARD_CAPABILITY',
      `redrive group '${group}' has ${description.members} active members: another redrive is running`,
      { retryable: true, details: { group, state: description.state } },
    );
  const ends = await endsOf(ctx.admin, plan.from);
  const starts = startsFrom(ends, await committedOf(ctx.admin, group, plan.from));
  const bucket = new TokenBucket({
    ratePerSecond,
    burst: Math.max(1, Math.min(100, Math.floor(ratePerSecond / 10))),
    clock: ctx.clock,
  });
  const movedTo: Record<string, number> = {};
  const skipped: Array<{ partition: number; offset: string; reason: RedriveSkipReason }> = [];
  let moved = 0;
  const producer: DriverProducer = ctx.driver.producer({ idempotent: true, allowAutoTopicCreation: false, retries: 5 });
  await producer.connect();
  try {
    const { complete } = await readRange(ctx, {
      topic: plan.from,
      groupId: group,
      starts,
      ends: new Map([...ends].map(([p, e]) => [p, e.high])),
      timeoutMs: plan.timeoutMs,
      ...(plan.signal ? { signal: plan.signal } : {}),
      onDrained: 'commit-ends',
      onRecords: async (partition, records, io) => {
        // Chunks of one burst: each is sent, acknowledged and committed before the next one waits
        // for its tokens, so what was sent never runs ahead of what the rate allowed.
        const chunkSize = bucket.burst;
        for (let i = 0; i < records.length; i += chunkSize) {
          if (!io.active()) return false;
          const byTopic = new Map<string, DriverMessage[]>();
          let taken: DriverRecord | undefined;
          for (const r of records.slice(i, i + chunkSize)) {
            if (moved + skipped.length + sizeOf(byTopic) >= max) break;
            const letter = toDeadLetter(plan.from, partition, r);
            const destination = plan.to ?? letter.originalTopic;
            if (letter.bodyOmittedBytes !== undefined || destination === undefined) {
              const reason = letter.bodyOmittedBytes !== undefined ? 'body-omitted' : 'no-destination';
              skipped.push({ partition, offset: r.offset, reason });
              ctx.logger.warn(
                { topic: plan.from, partition, offset: r.offset, reason },
                'dead-letter redrive: record skipped',
              );
            } else {
              if (
                !(await bucket.take(1, plan.signal).then(
                  () => true,
                  () => false,
                ))
              )
                break;
              const messages = byTopic.get(destination) ?? [];
              messages.push(redriveMessage(letter, r));
              byTopic.set(destination, messages);
            }
            taken = r;
          }
          if (byTopic.size > 0) {
            const batch = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
            await producer.send(batch, { acks: -1, timeoutMs: 30_000, compression: 'none' });
            for (const { topic, messages } of batch) {
              movedTo[topic] = (movedTo[topic] ?? 0) + messages.length;
              moved += messages.length;
            }
          }
          // Committed only after the destination acknowledged: a crash before this sends them again.
          if (taken) await io.commit(String(BigInt(taken.offset) + 1n));
          if (taken !== records[Math.min(records.length, i + chunkSize) - 1]) return false;
          await io.heartbeat().catch(() => {});
        }
        return true;
      },
    });
    return { group, moved, movedTo, skipped, complete };
  } finally {
    await producer.disconnect().catch(() => {});
  }
}
