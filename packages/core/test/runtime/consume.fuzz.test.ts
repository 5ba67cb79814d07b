// The consume pipeline under arbitrary input: valid messages mixed with tombstones, random bytes,
// invalid UTF-8, JSON of the wrong shape, unknown or missing types and garbled / absurd Switchyard
// headers, delivered through the fake transport to a real app. For every message: handled only if
// valid, otherwise dead-lettered once with a reason and its original bytes and headers; the record
// can be written by a transport (core's `deadLetterHeaders`); nothing is reported as an app error
// or left unsettled; the consumer still takes a valid message afterwards.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEvent, defineTopic } from '../../src/contracts.js';
import type { DeadLetterRecord } from '../../src/dead-letter.js';
import { DeadLetterHeaders, deadLetterHeaders, readDeadLetterHeaders } from '../../src/dead-letter-headers.js';
import { NonRetryableError } from '../../src/errors.js';
import { defineHandler } from '../../src/handlers.js';
import type { Logger } from '../../src/logger.js';
import type { Settlement } from '../../src/ports/transport.js';
import { WireHeaders } from '../../src/wire.js';
import { type DeliverOptions, type FakeDelivery, logCapabilities, queueCapabilities } from './fake-transport.js';
import { harness } from './harness.js';

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
const fuzzTopic = defineTopic({ name: 'fuzz-orders', events: [Placed, Shipped] });
const schemas = new Map<string, z.ZodType>([
  ['Placed', Placed.schema as z.ZodType],
  ['Shipped', Shipped.schema as z.ZodType],
]);

// Unhandled rejections anywhere in a run fail the property that caused them.
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

// ------------------------------------------------------------------------------------------------
// Generators: a valid message, then a few mutations that may or may not break it.

const bytes = (s: string) => new TextEncoder().encode(s);

interface Case {
  readonly body: Uint8Array | null;
  readonly headers: Record<string, string>;
  readonly key: string | undefined;
  readonly attempt: number;
  readonly firstReceivedAt: number | undefined;
}

const absurdNumber = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '-1',
    '0',
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
const anyText = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 }));
const traceparent = fc.oneof(
  fc.constantFrom(
    `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
    `00-${'0'.repeat(32)}-${'0'.repeat(16)}-01`,
    `ff-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
    '00-abc-def-01',
  ),
  anyText,
);

const garbledHeader: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(fc.constant(WireHeaders.type), fc.oneof(fc.constantFrom('Placed', 'Shipped', 'Nope', ''), anyText)),
  fc.tuple(
    fc.constantFrom(WireHeaders.id, WireHeaders.key, WireHeaders.correlationId, WireHeaders.causationId),
    anyText,
  ),
  fc.tuple(fc.constantFrom(WireHeaders.timestamp, WireHeaders.schemaVersion, WireHeaders.firstFailureAt), absurdNumber),
  fc.tuple(fc.constant(WireHeaders.decodeError), anyText),
  fc.tuple(
    fc.constant(WireHeaders.contentType),
    fc.oneof(fc.constantFrom('text/plain', 'application/x+json'), anyText),
  ),
  fc.tuple(fc.constantFrom(WireHeaders.traceparent, WireHeaders.tracestate), traceparent),
  fc.tuple(
    fc.constantFrom(DeadLetterHeaders.reason, DeadLetterHeaders.attempts, DeadLetterHeaders.sourceTopic),
    anyText,
  ),
  fc.tuple(fc.string({ maxLength: 12 }), anyText),
);

const garbageBody: fc.Arbitrary<Uint8Array | null> = fc.oneof(
  fc.constant(null),
  fc.constant(new Uint8Array(0)),
  fc.uint8Array({ maxLength: 48 }),
  fc.uint8Array({ maxLength: 8 }).map((b) => Uint8Array.from([0x7b, ...b, 0xc3, 0x28, 0x7d])),
  fc.json({ maxDepth: 2 }).map(bytes),
  fc.integer({ min: 50_000, max: 300_000 }).map((n) => bytes(JSON.stringify({ orderId: 'x'.repeat(n), total: 1 }))),
);

type Mutation =
  | { readonly op: 'set'; readonly name: string; readonly value: string }
  | { readonly op: 'delete'; readonly name: string }
  | { readonly op: 'body'; readonly body: Uint8Array | null };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  garbledHeader.map(([name, value]) => ({ op: 'set' as const, name, value })),
  fc
    .constantFrom(WireHeaders.type, WireHeaders.contentType, WireHeaders.id)
    .map((name) => ({ op: 'delete' as const, name })),
  garbageBody.map((body) => ({ op: 'body' as const, body })),
);

const orderId = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constant('fail-1') },
);
const validMessage = fc.oneof(
  fc.record({ orderId, total: fc.integer() }).map((payload) => ({ type: 'Placed', payload })),
  fc.record({ orderId }).map((payload) => ({ type: 'Shipped', payload })),
);

const messageCase = (model: 'log' | 'queue'): fc.Arbitrary<Case> =>
  fc
    .record({
      valid: validMessage,
      id: fc.uuid(),
      mutations: fc.oneof(
        { weight: 2, arbitrary: fc.constant([] as Mutation[]) },
        { weight: 5, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) },
      ),
      key: fc.option(anyText, { nil: undefined }),
      attempt: fc.integer({ min: 1, max: 4 }),
      firstReceivedAt: fc.option(absurdNumber.map(Number), { nil: undefined }),
    })
    .map(({ valid, id, mutations, key, attempt, firstReceivedAt }) => {
      let body: Uint8Array | null = bytes(JSON.stringify(valid.payload));
      const headers: Record<string, string> = {
        [WireHeaders.id]: id,
        [WireHeaders.type]: valid.type,
        [WireHeaders.contentType]: 'application/json',
        [WireHeaders.timestamp]: '1700000000000',
      };
      for (const m of mutations) {
        if (m.op === 'set') headers[m.name] = m.value;
        else if (m.op === 'delete') delete headers[m.name];
        else body = m.body;
      }
      return { body, headers, key, attempt, firstReceivedAt: model === 'queue' ? firstReceivedAt : undefined };
    });

// ------------------------------------------------------------------------------------------------
// What should happen to a message, from the wire format's rules (wire.ts) and the schemas.

type Expected = 'handled' | 'decode' | 'unknown-type' | 'validation' | 'non-retryable';
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function expected(c: Case): Expected {
  const h = c.headers;
  const header = (name: string) => (Object.hasOwn(h, name) ? h[name] : undefined);
  if (header(WireHeaders.decodeError) !== undefined || c.body === null) return 'decode';
  const contentType = header(WireHeaders.contentType);
  if (contentType !== undefined && !/json/i.test(contentType)) return 'decode';
  let payload: unknown;
  try {
    payload = JSON.parse(strictUtf8.decode(c.body));
  } catch {
    return 'decode';
  }
  const type = header(WireHeaders.type);
  const schema = type === undefined ? undefined : schemas.get(type);
  if (!schema) return 'unknown-type';
  const parsed = schema.safeParse(payload);
  if (!parsed.success) return 'validation';
  return (parsed.data as { orderId: string }).orderId.startsWith('fail') ? 'non-retryable' : 'handled';
}

interface LogLine {
  readonly level: string;
  readonly obj: Record<string, unknown>;
  readonly msg: string | undefined;
}

function capturingLogger(lines: LogLine[]): Logger {
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Runs the cases through one app; resolves with what happened to each, or rejects on the first app error. */
async function consumeAll(model: 'log' | 'queue', cases: readonly Case[]) {
  const lines: LogLine[] = [];
  const h = harness(model === 'log' ? logCapabilities : queueCapabilities, { logger: capturingLogger(lines) });
  const handled: string[] = [];
  h.app.consume(fuzzTopic, {
    group: 'fuzz',
    retryBudget: false,
    handlers: [
      defineHandler(Placed, (m) => {
        if (m.payload.orderId.startsWith('fail')) throw new NonRetryableError('refused by the handler');
        handled.push(m.id);
      }),
      defineHandler(Shipped, (m) => {
        if (m.payload.orderId.startsWith('fail')) throw new NonRetryableError('refused by the handler');
        handled.push(m.id);
      }),
    ],
  });
  // What a transport does with a dead-letter settlement: write the record as headers.
  const written = new Map<DeadLetterRecord, Record<string, string>>();
  h.transport.onSettle = async (settlement) => {
    if (settlement.kind === 'dead-letter') written.set(settlement.record, deadLetterHeaders(settlement.record));
  };
  let failed!: (error: unknown) => void;
  const appError = new Promise<never>((_, reject) => {
    failed = reject;
  });
  h.app.events.on('app:error', ({ error, context }) =>
    failed(new Error(`app:error (${context}): ${String(error)}`, { cause: error })),
  );
  await h.app.start();
  const subscription = h.transport.subscription();
  const deliveries: FakeDelivery[] = [];
  for (const c of cases) {
    const options: DeliverOptions = {
      attempt: c.attempt,
      ...(c.firstReceivedAt === undefined ? {} : { firstReceivedAt: c.firstReceivedAt }),
    };
    const d = subscription.deliver({ body: c.body, headers: c.headers, key: c.key }, options);
    deliveries.push(d);
    await Promise.race([d.accepted, appError]);
  }
  const settlements = await Promise.race([Promise.all(deliveries.map((d) => d.settled)), appError]);
  return { h, deliveries, settlements, handled, written, lines, appError };
}

function checkEveryMessage(
  cases: readonly Case[],
  run: Awaited<ReturnType<typeof consumeAll>>,
  model: 'log' | 'queue',
): void {
  const { deliveries, settlements, handled, written, lines } = run;
  const deadLettered = run.h.seen.filter((e) => e.name === 'consumer:message:dead-lettered');
  const acked = run.h.seen.filter((e) => e.name === 'consumer:message:acked');
  let expectedHandled = 0;
  cases.forEach((c, i) => {
    const d = deliveries[i]!;
    const settlement = settlements[i] as Settlement;
    const want = expected(c);
    // Exactly one settlement per message, and no failed settle attempt before it.
    expect(d.settlements).toHaveLength(1);
    if (want === 'handled') {
      expectedHandled++;
      expect(settlement.kind).toBe('ack');
      return;
    }
    expect(settlement.kind).toBe('dead-letter');
    if (settlement.kind !== 'dead-letter') return;
    const { record } = settlement;
    expect(record.reason).toBe(want);
    expect(record.error.message.trim()).not.toBe('');
    // The original bytes byte for byte (a tombstone stays null) and the original headers.
    const raw = d.delivery.message;
    if (c.body === null) expect(record.body).toBeNull();
    else expect(Buffer.from(record.body!).equals(Buffer.from(c.body))).toBe(true);
    expect(record.headers).toEqual(raw.headers);
    expect(record.source).toEqual(raw.source);
    // A transport can write it, and reads the reason back.
    const headers = written.get(record);
    expect(headers).toBeDefined();
    expect(readDeadLetterHeaders(headers!).reason).toBe(want);
    if (c.body === null) expect(headers![DeadLetterHeaders.tombstone]).toBe('true');
    // …and the reason was logged.
    const logged = lines.filter((l) => l.level === 'warn' && /dead-lettering/.test(l.msg ?? ''));
    expect(logged.some((l) => l.obj.reason === want)).toBe(true);
    // Non-log sources: the queue position survives too.
    if (model === 'queue') expect(record.source.kind).toBe('queue');
  });
  expect(handled).toHaveLength(expectedHandled);
  expect(acked).toHaveLength(expectedHandled);
  expect(deadLettered).toHaveLength(cases.length - expectedHandled);
}

describe.each(['log', 'queue'] as const)('core consume pipeline, %s transport (fuzzed)', (model) => {
  it('handles only valid messages, dead-letters every other one once with its reason and bytes, and keeps going', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(messageCase(model), { minLength: 1, maxLength: 12 }), async (cases) => {
        unhandled.length = 0;
        const run = await consumeAll(model, cases);
        try {
          checkEveryMessage(cases, run, model);
          // Still consuming: a valid message after the garbage is handled.
          const after = run.h.transport
            .subscription()
            .deliver(
              { body: bytes('{"orderId":"after","total":1}'), headers: { [WireHeaders.type]: 'Placed' }, key: 'after' },
              { orderingKey: 'after' },
            );
          expect(await Promise.race([after.settled, run.appError])).toEqual({ kind: 'ack' });
          expect(run.h.app.health().consumers[0]!.state).toBe('running');
          expect(unhandled).toEqual([]);
        } finally {
          await run.h.app.stop();
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('counterexamples found by fuzzing', () => {
  it('dead-letters a message whose handler fails and whose sy-first-failure-at header is beyond any date', async () => {
    // The header is a positive finite number, so core took it as the first failure time; the
    // transport's deadLetterHeaders() threw on toISOString() and the settlement failed for ever.
    const c: Case = {
      body: bytes('{"orderId":"fail-1","total":1}'),
      headers: { [WireHeaders.type]: 'Placed', [WireHeaders.firstFailureAt]: '8640000000000001' },
      key: undefined,
      attempt: 1,
      firstReceivedAt: undefined,
    };
    const run = await consumeAll('log', [c]);
    try {
      checkEveryMessage([c], run, 'log');
    } finally {
      await run.h.app.stop();
    }
  });
});
