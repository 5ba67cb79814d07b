// The Kafka consume path under arbitrary records, on the fake driver with a real app: tombstones,
// random bytes, invalid UTF-8, JSON of the wrong shape, unknown or missing types, duplicated,
// non-UTF-8, null-valued and absurd headers (Switchyard's and the retry tiers'), huge keys and
// values, mixed with valid records. For every record: handled only if valid, otherwise exactly one
// dead-letter record with its reason, the original key, value and header bytes; the partition is
// committed to its end (nothing stops it, nothing is lost); no app error, no unhandled rejection;
// and a valid record fetched afterwards is handled.

import {
  type App,
  createApp,
  defineEvent,
  defineHandler,
  defineTopic,
  type Logger,
  NonRetryableError,
  readDeadLetterHeaders,
  WireHeaders,
} from '@switchyard/core';
import { flushPromises, ManualClock } from '@switchyard/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type DriverHeaderValue, type DriverRecord, KafkaHeaders, KafkaTransport } from '../src/index.js';
import { type FakeConsumer, FakeDriver, type SentRecord } from './support/fake-driver.js';
import { eventually } from './support/harness.js';

const Placed = defineEvent({
  name: 'Placed',
  schema: z.object({ orderId: z.string(), total: z.number() }),
  key: (p) => p.orderId,
});
const Shipped = defineEvent({
  name: 'Shipped',
  schema: z.object({ orderId: z.string() }),
  key: (p) => p.orderId,
});
const orders = defineTopic({ name: 'orders', events: [Placed, Shipped] });
const schemas = new Map<string, z.ZodType>([
  ['Placed', Placed.schema as z.ZodType],
  ['Shipped', Shipped.schema as z.ZodType],
]);
const DLQ = 'orders.dlq';
/** The dead-letter topic's max.message.bytes, played by the fake producer (kept small: runs stay fast). */
const DLQ_LIMIT = 64 * 1024;

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

// ------------------------------------------------------------------------------------------------
// Generators

const utf8 = (s: string) => Buffer.from(s, 'utf8');
const anyText = fc.oneof(fc.string({ maxLength: 24 }), fc.string({ unit: 'binary', maxLength: 24 }));
const absurdNumber = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '-1',
    'NaN',
    'Infinity',
    '1e400',
    '8640000000000001',
    '1e300',
    '99999999999999999999',
    '0x1f',
    '1.5',
    '3abc',
  ),
  fc.integer().map(String),
  fc.double().map(String),
);
const invalidUtf8 = fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from([...b, 0xc3, 0x28, 0xff]));
/** A header value's bytes as kafkajs hands them over: UTF-8 text, random bytes, invalid UTF-8. */
const headerBytes = fc.oneof(
  anyText.map(utf8),
  fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)),
  invalidUtf8,
);
/** One header as kafkajs decodes it: bytes, a string, a repeated header (array), or a null value. */
const headerValue = (text: fc.Arbitrary<string>): fc.Arbitrary<DriverHeaderValue> =>
  fc.oneof(
    { weight: 3, arbitrary: text.map(utf8) },
    { weight: 1, arbitrary: text },
    { weight: 2, arbitrary: headerBytes },
    { weight: 1, arbitrary: fc.array(fc.oneof(text.map(utf8), headerBytes), { minLength: 1, maxLength: 3 }) },
    // kafkajs gives null for a header whose value is null, and keeps it in a repeated header's array.
    { weight: 1, arbitrary: fc.constant(null as unknown as DriverHeaderValue) },
    {
      weight: 1,
      arbitrary: fc.tuple(text.map(utf8)).map(([b]) => [b, null] as unknown as DriverHeaderValue),
    },
  );

const headerNames = [
  WireHeaders.type,
  WireHeaders.id,
  WireHeaders.key,
  WireHeaders.timestamp,
  WireHeaders.schemaVersion,
  WireHeaders.correlationId,
  WireHeaders.causationId,
  WireHeaders.firstFailureAt,
  WireHeaders.decodeError,
  WireHeaders.contentType,
  WireHeaders.traceparent,
  WireHeaders.tracestate,
  KafkaHeaders.retryAttempt,
  KafkaHeaders.retryDueAt,
  KafkaHeaders.parked,
  KafkaHeaders.sequence,
  KafkaHeaders.bodyOmitted,
  'sy-dlq-reason',
  'sy-dlq-attempts',
  'kafka_dlt-original-topic',
  'SY-TYPE',
  'Content-Type',
  'x-tenant',
  // Lost from every header map (see the report), but it must not break anything.
  '__proto__',
];
const numericHeaders = new Set<string>([
  WireHeaders.timestamp,
  WireHeaders.schemaVersion,
  WireHeaders.firstFailureAt,
  KafkaHeaders.retryAttempt,
  KafkaHeaders.retryDueAt,
  KafkaHeaders.sequence,
  'sy-dlq-attempts',
]);

const headerEntry: fc.Arbitrary<[string, DriverHeaderValue]> = fc.oneof(
  fc
    .constantFrom(...headerNames)
    .chain((name) =>
      fc.tuple(
        fc.constant(name),
        headerValue(
          numericHeaders.has(name)
            ? absurdNumber
            : name.toLowerCase() === WireHeaders.type
              ? fc.oneof(fc.constantFrom('Placed', 'Shipped', 'Nope', ''), anyText)
              : name.toLowerCase() === WireHeaders.contentType
                ? fc.oneof(fc.constantFrom('application/json', 'text/plain', 'application/avro'), anyText)
                : anyText,
        ),
      ),
    ),
  fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), headerValue(anyText)),
);

const garbageValue: fc.Arbitrary<Buffer | null> = fc.oneof(
  fc.constant(null),
  fc.constant(Buffer.alloc(0)),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
  invalidUtf8.map((b) => Buffer.concat([utf8('{"orderId":"'), b, utf8('","total":1}')])),
  fc.json({ maxDepth: 2 }).map(utf8),
  // Huge: some fit the dead-letter topic, some do not (written without the body).
  fc.integer({ min: 30_000, max: 120_000 }).map((n) => utf8(JSON.stringify({ orderId: 'x'.repeat(n), total: 1 }))),
  fc.integer({ min: 30_000, max: 120_000 }).map((n) => Buffer.alloc(n, 0xff)),
);

const garbageKey: fc.Arbitrary<Buffer | null> = fc.oneof(
  fc.constant(null),
  fc.constant(Buffer.alloc(0)),
  fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)),
  invalidUtf8,
  // Huge; past the dead-letter topic's limit the dead letter keeps only its diagnostics.
  fc.integer({ min: 10_000, max: DLQ_LIMIT + 20_000 }).map((n) => Buffer.alloc(n, 'k')),
);

type Mutation =
  | { readonly op: 'set'; readonly name: string; readonly value: DriverHeaderValue }
  | { readonly op: 'delete'; readonly name: string }
  | { readonly op: 'value'; readonly value: Buffer | null }
  | { readonly op: 'key'; readonly key: Buffer | null }
  | { readonly op: 'timestamp'; readonly timestamp: string }
  | { readonly op: 'origin'; readonly topic: string; readonly partition: string; readonly offset: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: headerEntry.map(([name, value]) => ({ op: 'set' as const, name, value })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(WireHeaders.type, WireHeaders.contentType, WireHeaders.id)
      .map((name) => ({ op: 'delete' as const, name })),
  },
  { weight: 2, arbitrary: garbageValue.map((value) => ({ op: 'value' as const, value })) },
  { weight: 1, arbitrary: garbageKey.map((key) => ({ op: 'key' as const, key })) },
  {
    weight: 1,
    arbitrary: fc.oneof(absurdNumber, fc.constant('-1')).map((timestamp) => ({ op: 'timestamp' as const, timestamp })),
  },
  // A record carrying the retry tiers' origin headers (copied or replayed from a retry topic), in
  // and out of what the Spring headers can encode.
  {
    weight: 1,
    arbitrary: fc
      .record({
        topic: anyText,
        partition: fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constant(2 ** 40)).map(String),
        offset: fc.bigInt({ min: 0n, max: 2n ** 70n }).map(String),
      })
      .map((o) => ({ op: 'origin' as const, ...o })),
  },
);

const orderId = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 1, arbitrary: fc.constant('fail-1') },
);
const validMessage = fc.oneof(
  fc.record({ orderId, total: fc.integer() }).map((payload) => ({ type: 'Placed', payload })),
  fc.record({ orderId }).map((payload) => ({ type: 'Shipped', payload })),
);

interface RecordCase {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, DriverHeaderValue>;
  readonly timestamp: string;
}

const recordCase: fc.Arbitrary<RecordCase> = fc
  .record({
    valid: validMessage,
    id: fc.uuid(),
    mutations: fc.oneof(
      { weight: 2, arbitrary: fc.constant([] as Mutation[]) },
      { weight: 5, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 4 }) },
    ),
  })
  .map(({ valid, id, mutations }) => {
    let key: Buffer | null = utf8(valid.payload.orderId);
    let value: Buffer | null = utf8(JSON.stringify(valid.payload));
    let timestamp = '1700000000000';
    const headers: Record<string, DriverHeaderValue> = {
      [WireHeaders.id]: utf8(id),
      [WireHeaders.type]: utf8(valid.type),
      [WireHeaders.contentType]: utf8('application/json'),
    };
    for (const m of mutations) {
      // An own property even for `__proto__`, as kafkajs builds its header objects.
      if (m.op === 'set')
        Object.defineProperty(headers, m.name, {
          value: m.value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      else if (m.op === 'delete') delete headers[m.name];
      else if (m.op === 'value') value = m.value;
      else if (m.op === 'key') key = m.key;
      else if (m.op === 'timestamp') timestamp = m.timestamp;
      else {
        headers[KafkaHeaders.retryOriginalTopic] = utf8(m.topic);
        headers[KafkaHeaders.retryOriginalPartition] = utf8(m.partition);
        headers[KafkaHeaders.retryOriginalOffset] = utf8(m.offset);
      }
    }
    return { key, value, headers, timestamp };
  });

const toRecords = (cases: readonly RecordCase[], first: number): DriverRecord[] =>
  cases.map((c, i) => ({ offset: String(first + i), ...c }));

// ------------------------------------------------------------------------------------------------
// The expected outcome, from the documented rules: headers lower-cased, a repeated header's last
// value, null values absent, bytes read as UTF-8 (invalid bytes become U+FFFD); then wire.ts.

type Expected = 'handled' | 'decode' | 'unknown-type' | 'validation' | 'non-retryable';
const lenientUtf8 = new TextDecoder('utf-8');
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The last non-null value of each header, as sent (bytes or string). */
function lastValues(headers: Readonly<Record<string, DriverHeaderValue>>): Map<string, Buffer | string> {
  const out = new Map<string, Buffer | string>();
  for (const [name, value] of Object.entries(headers)) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined && last !== null) out.set(name, last as Buffer | string);
  }
  return out;
}

function decodedHeaders(headers: Readonly<Record<string, DriverHeaderValue>>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, last] of lastValues(headers))
    out.set(name.toLowerCase(), typeof last === 'string' ? last : lenientUtf8.decode(last));
  return out;
}

function expected(c: RecordCase): Expected {
  const h = decodedHeaders(c.headers);
  if (h.has(WireHeaders.decodeError) || c.value === null) return 'decode';
  const contentType = h.get(WireHeaders.contentType);
  if (contentType !== undefined && !/json/i.test(contentType)) return 'decode';
  let payload: unknown;
  try {
    payload = JSON.parse(strictUtf8.decode(c.value));
  } catch {
    return 'decode';
  }
  const type = h.get(WireHeaders.type);
  const schema = type === undefined ? undefined : schemas.get(type);
  if (!schema) return 'unknown-type';
  const parsed = schema.safeParse(payload);
  if (!parsed.success) return 'validation';
  return (parsed.data as { orderId: string }).orderId.startsWith('fail') ? 'non-retryable' : 'handled';
}

// ------------------------------------------------------------------------------------------------
// One app on the fake driver

interface Run {
  readonly app: App;
  readonly clock: ManualClock;
  readonly driver: FakeDriver;
  readonly consumer: FakeConsumer;
  readonly handled: string[];
  readonly deadLetterLogs: Array<Record<string, unknown>>;
  readonly appErrors: string[];
  readonly dlq: () => SentRecord[];
}

async function startApp(): Promise<Run> {
  const driver = new FakeDriver();
  driver.adminClient.topics.set('orders', 1);
  const appErrors: string[] = [];
  // The transport's errors ('kafka batch failed': a record that broke the fetch loop) fail the run at once.
  const transportLogger: Logger = {
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: (obj, msg) => appErrors.push(`transport: ${msg} ${String((obj as { err?: unknown }).err)}`),
  };
  const transport = new KafkaTransport({
    driver,
    logger: transportLogger,
    consumer: { commitEveryMessages: 1, commitIntervalMs: 60_000 },
  });
  // The dead-letter topic refuses records over its max.message.bytes, as the broker would.
  driver.producer0.failFor = (topic, m) => {
    if (topic !== DLQ) return undefined;
    const size = (m.value?.length ?? 0) + (m.key?.length ?? 0);
    return size > DLQ_LIMIT ? Object.assign(new Error('record too large'), { type: 'MESSAGE_TOO_LARGE' }) : undefined;
  };
  const deadLetterLogs: Array<Record<string, unknown>> = [];
  const noop = () => {};
  const logger: Logger = {
    debug: noop,
    info: noop,
    error: noop,
    warn: (obj, msg) => {
      if (msg?.startsWith('dead-lettering')) deadLetterLogs.push(obj as Record<string, unknown>);
    },
  };
  // A manual clock: a failed settlement is retried only if time moves, so it shows as an app:error.
  const clock = new ManualClock();
  const app = createApp({ transport, clock, logger });
  const handled: string[] = [];
  const handle = (m: { id: string; payload: { orderId: string } }) => {
    if (m.payload.orderId.startsWith('fail')) throw new NonRetryableError('refused by the handler');
    handled.push(m.id);
  };
  app.consume(orders, {
    group: 'fuzz',
    retryBudget: false,
    handlers: [defineHandler(Placed, handle), defineHandler(Shipped, handle)],
  });
  app.events.on('app:error', ({ error, context }) =>
    appErrors.push(`${context}: ${String(error)} (cause: ${String((error as { cause?: unknown }).cause)})`),
  );
  const starting = app.start();
  const consumer = await eventually(() => (driver.consumers[0]?.handler ? driver.consumers[0] : undefined));
  consumer.join({ orders: [0] });
  await starting;
  return { app, clock, driver, consumer, handled, deadLetterLogs, appErrors, dlq: () => driver.producer0.to(DLQ) };
}

/** Stops the app; the shutdown deadline runs on the manual clock, so time is moved until it has stopped. */
async function stopApp(run: Run): Promise<void> {
  let stopped = false;
  const stopping = run.app.stop({ deadlineMs: 0 }).finally(() => {
    stopped = true;
  });
  for (let turn = 0; !stopped && turn < 100; turn++) {
    await run.clock.advance(1_000);
    await flushPromises();
  }
  await stopping;
}

/** Delivers one batch and waits until each record is handled or dead-lettered, or an app error shows. */
async function consumeBatch(run: Run, records: DriverRecord[], handledBefore: number, deadBefore: number) {
  await run.consumer.deliver('orders', 0, records);
  const want = records.length;
  await eventually(
    () => run.appErrors.length > 0 || run.handled.length - handledBefore + run.dlq().length - deadBefore >= want,
  );
  expect(run.appErrors).toEqual([]);
  const last = records[records.length - 1]!.offset;
  // The partition is committed to its end: no record stops it.
  await eventually(
    () => run.appErrors.length > 0 || run.consumer.lastCommitted('orders', 0) === String(BigInt(last) + 1n),
  );
  expect(run.appErrors).toEqual([]);
}

function same(a: Buffer | string | undefined, b: Buffer | string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return Buffer.from(a).equals(Buffer.from(b));
}

/** Headers the dead-letter record replaces or drops (its own, Spring's, retry control). */
const replaced = (name: string) => {
  const lower = name.toLowerCase();
  return (
    lower.startsWith('sy-dlq-') ||
    lower.startsWith('kafka_dlt-') ||
    lower === KafkaHeaders.retryDueAt ||
    lower === KafkaHeaders.parked ||
    lower === KafkaHeaders.bodyOmitted
  );
};

function checkEveryRecord(run: Run, cases: readonly RecordCase[], records: readonly DriverRecord[]): void {
  const dlq = run.dlq();
  const byOffset = new Map<string, SentRecord[]>();
  for (const r of dlq) {
    const offset = String(r.headers['sy-dlq-source-offset']);
    byOffset.set(offset, [...(byOffset.get(offset) ?? []), r]);
  }
  let wantHandled = 0;
  cases.forEach((c, i) => {
    const offset = records[i]!.offset;
    const want = expected(c);
    const dead = byOffset.get(offset) ?? [];
    if (want === 'handled') {
      wantHandled++;
      expect(dead).toEqual([]);
      return;
    }
    // Exactly one dead-letter record, with the reason and a message saying what was wrong.
    expect(dead).toHaveLength(1);
    const d = dead[0]!;
    const text = Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [k, String(v)]));
    const record = readDeadLetterHeaders(text);
    expect(record.reason).toBe(want);
    expect(record.error?.message.trim()).not.toBe('');
    expect(record.source).toMatchObject({ kind: 'log', topic: 'orders', partition: 0, offset });
    // Diagnostics only, when even the key and headers were too large: the sizes left out are said.
    const keyOmitted = d.headers[KafkaHeaders.keyOmitted];
    if (keyOmitted !== undefined) {
      expect(String(keyOmitted)).toBe(String(c.key?.length ?? 0));
      expect(String(d.headers[KafkaHeaders.bodyOmitted])).toBe(String(c.value?.length ?? 0));
      expect(d.key).toBeNull();
      expect(d.value?.length ?? 0).toBe(0);
      expect(record.key).toBeUndefined();
      return;
    }
    // The original key and value, byte for byte (a value too large for the topic is left out and
    // its size said; a tombstone becomes an empty value marked as one).
    expect(same(d.key ?? undefined, c.key ?? undefined)).toBe(true);
    const omitted = d.headers[KafkaHeaders.bodyOmitted];
    if (omitted !== undefined) {
      expect(String(omitted)).toBe(String(c.value?.length ?? 0));
      expect(c.value!.length + (c.key?.length ?? 0)).toBeGreaterThan(DLQ_LIMIT);
    } else if (c.value === null) {
      expect(text['sy-dlq-tombstone']).toBe('true');
      expect(d.value?.length ?? 0).toBe(0);
    } else expect(same(d.value ?? undefined, c.value)).toBe(true);
    // The original header bytes (each header's last value), untouched.
    for (const [name, value] of lastValues(c.headers))
      if (!replaced(name)) expect(Object.hasOwn(d.headers, name) && same(d.headers[name], value)).toBe(true);
  });
  expect(run.deadLetterLogs.length).toBeGreaterThanOrEqual(cases.length - wantHandled);
  for (const reason of new Set(cases.map(expected).filter((e) => e !== 'handled')))
    expect(run.deadLetterLogs.some((l) => l.reason === reason)).toBe(true);
  expect(dlq).toHaveLength(cases.length - wantHandled);
  expect(run.handled).toHaveLength(wantHandled);
}

describe('Kafka consume path (fuzzed)', () => {
  it('handles only valid records, dead-letters every other one once with its bytes, never stops the partition', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(recordCase, { minLength: 1, maxLength: 10 }), async (cases) => {
        unhandled.length = 0;
        const run = await startApp();
        try {
          const records = toRecords(cases, 0);
          await consumeBatch(run, records, 0, 0);
          checkEveryRecord(run, cases, records);
          // Still consuming: a valid record fetched after the garbage is handled and committed.
          const handledBefore = run.handled.length;
          const after: DriverRecord = {
            offset: String(records.length),
            key: utf8('after'),
            value: utf8('{"orderId":"after","total":1}'),
            headers: { [WireHeaders.type]: utf8('Placed'), [WireHeaders.id]: utf8('after') },
            timestamp: '1700000000000',
          };
          await consumeBatch(run, [after], handledBefore, run.dlq().length);
          expect(run.handled.slice(handledBefore)).toEqual(['after']);
          expect(run.app.health().consumers[0]!.subscription?.ok).toBe(true);
          expect(unhandled).toEqual([]);
        } finally {
          await stopApp(run);
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe('counterexamples found by fuzzing', () => {
  async function deadLetterOf(c: RecordCase): Promise<{ run: Run; records: DriverRecord[] }> {
    const run = await startApp();
    const records = toRecords([c], 0);
    try {
      await consumeBatch(run, records, 0, 0);
      checkEveryRecord(run, [c], records);
    } finally {
      await stopApp(run);
    }
    return { run, records };
  }

  // dead-letter-message.ts wrote Spring's kafka_dlt-original-offset (int64) and -partition (int32)
  // from the record's own sy-retry-original-* headers whenever they looked numeric; a value out of
  // range threw a RangeError from writeBigInt64BE / writeInt32BE on every dead-letter write, so the
  // record was never dead-lettered and the partition held at it for good.
  it('dead-letters a record whose sy-retry-original-offset does not fit an int64', async () => {
    await deadLetterOf({
      key: null,
      value: utf8('not json'),
      headers: {
        [KafkaHeaders.retryOriginalTopic]: utf8('orders'),
        [KafkaHeaders.retryOriginalPartition]: utf8('0'),
        [KafkaHeaders.retryOriginalOffset]: utf8('99999999999999999999'),
      },
      timestamp: '1700000000000',
    });
  });

  it('dead-letters a record whose sy-retry-original-partition does not fit an int32', async () => {
    await deadLetterOf({
      key: null,
      value: utf8('not json'),
      headers: {
        [KafkaHeaders.retryOriginalTopic]: utf8('orders'),
        [KafkaHeaders.retryOriginalPartition]: utf8('1e10'),
        [KafkaHeaders.retryOriginalOffset]: utf8('5'),
      },
      timestamp: '1700000000000',
    });
  });

  // subscription.ts #deadLetter retried a too-large dead letter without its value, but with its key:
  // a key larger than the dead-letter topic allows failed both writes, and the partition held there.
  it('dead-letters a record whose key alone is larger than the dead-letter topic allows', async () => {
    await deadLetterOf({
      key: Buffer.alloc(DLQ_LIMIT + 1, 'k'),
      value: utf8('not json'),
      headers: {},
      timestamp: '1700000000000',
    });
  });
});
