// Property tests of the wire format's pure decoders: whatever arrives (no body, random bytes,
// invalid UTF-8, JSON of the wrong shape, garbled or absurd Switchyard headers), decoding returns an
// envelope or a typed failure, never throws; and a dead-letter record of any message can always be
// written as headers and read back.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEvent } from '../src/contracts.js';
import type { DeadLetterReason, DeadLetterRecord } from '../src/dead-letter.js';
import {
  DEAD_LETTER_HEADER_PREFIX,
  DeadLetterHeaders,
  deadLetterHeaderLimits,
  deadLetterHeaders,
  readDeadLetterHeaders,
} from '../src/dead-letter-headers.js';
import type { RawMessage, SourcePosition } from '../src/envelope.js';
import { SwitchyardError } from '../src/errors.js';
import { type DecodeResult, decodeRawMessage, encodeMessageSync, type TypeResolver, WireHeaders } from '../src/wire.js';
import { FakeClock } from './support/fake-clock.js';

const OrderPlaced = defineEvent({
  name: 'OrderPlaced',
  schema: z.object({ orderId: z.string(), total: z.number() }),
  key: (p) => p.orderId,
  schemaVersion: 3,
});
const OrderShipped = defineEvent({
  name: 'OrderShipped',
  schema: z.object({ orderId: z.string() }),
  key: (p) => p.orderId,
});
const contracts = new Map<string, typeof OrderPlaced | typeof OrderShipped>([
  ['OrderPlaced', OrderPlaced],
  ['OrderShipped', OrderShipped],
]);

// ------------------------------------------------------------------------------------------------
// Generators

const bytes = (s: string) => new TextEncoder().encode(s);

/** Strings a numeric header should never be trusted to hold. */
const absurdNumber = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '-1',
    '0',
    '-0',
    'NaN',
    'Infinity',
    '-Infinity',
    '1e400',
    '8640000000000001',
    '-8640000000000001',
    '99999999999999999999',
    '9007199254740993',
    '0x1f',
    '1.5',
    '١٢',
    '3abc',
  ),
  fc.integer().map(String),
  fc.double().map(String),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
  fc.string({ maxLength: 12 }),
);

const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const traceparent = fc.oneof(
  fc.tuple(hex(32), hex(16)).map(([t, s]) => `00-${t}-${s}-01`),
  fc.constantFrom(
    `00-${'0'.repeat(32)}-${'0'.repeat(16)}-01`,
    `ff-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
    '00-abc-def-01',
    '',
    '-'.repeat(55),
  ),
  fc.string({ maxLength: 80 }),
);

const anyText = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }));

/** Header values by name: Switchyard's headers get values of their kind, garbled or not. */
const headerEntry: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(
    fc.constant(WireHeaders.type),
    fc.oneof(fc.constantFrom('OrderPlaced', 'OrderShipped', 'Nope', ''), anyText),
  ),
  fc.tuple(fc.constant(WireHeaders.id), anyText),
  fc.tuple(fc.constant(WireHeaders.key), anyText),
  fc.tuple(fc.constantFrom(WireHeaders.correlationId, WireHeaders.causationId), anyText),
  fc.tuple(fc.constantFrom(WireHeaders.timestamp, WireHeaders.schemaVersion, WireHeaders.firstFailureAt), absurdNumber),
  fc.tuple(fc.constant(WireHeaders.decodeError), anyText),
  fc.tuple(
    fc.constant(WireHeaders.contentType),
    fc.oneof(fc.constantFrom('application/json', 'text/plain', 'application/avro', 'APPLICATION/JSON; x=1'), anyText),
  ),
  fc.tuple(fc.constant(WireHeaders.traceparent), traceparent),
  fc.tuple(fc.constant(WireHeaders.tracestate), anyText),
  fc.tuple(fc.constantFrom(...Object.values(DeadLetterHeaders)), anyText),
  fc.tuple(fc.constantFrom('__proto__', 'constructor', 'toString', 'x-tenant'), anyText),
  fc.tuple(anyText, anyText),
);

const headers = fc
  .array(headerEntry, { maxLength: 12 })
  .map((entries) => Object.fromEntries(entries) as Record<string, string>);

const validPayload = fc.oneof(
  fc.record({ orderId: fc.string(), total: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
  fc.record({ orderId: fc.string() }),
);

const body: fc.Arbitrary<Uint8Array | null> = fc.oneof(
  fc.constant(null),
  fc.constant(new Uint8Array(0)),
  fc.uint8Array({ maxLength: 64 }),
  // Invalid UTF-8 inside otherwise plausible JSON.
  fc.uint8Array({ maxLength: 8 }).map((b) => Uint8Array.from([0x7b, ...b, 0xc3, 0x28, 0xff, 0x7d])),
  fc.json().map(bytes),
  validPayload.map((p) => bytes(JSON.stringify(p))),
  // A byte-order mark before valid JSON.
  validPayload.map((p) => Uint8Array.from([0xef, 0xbb, 0xbf, ...bytes(JSON.stringify(p))])),
  fc.integer({ min: 10_000, max: 200_000 }).map((n) => bytes(JSON.stringify({ orderId: 'x'.repeat(n) }))),
);

const source: fc.Arbitrary<SourcePosition> = fc.oneof(
  fc.record({
    kind: fc.constant('log' as const),
    topic: fc.string({ minLength: 1, maxLength: 20 }),
    partition: fc.nat({ max: 1000 }),
    offset: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String),
  }),
  fc.record({
    kind: fc.constant('queue' as const),
    queue: fc.string({ minLength: 1, maxLength: 20 }),
    messageId: fc.string({ minLength: 1, maxLength: 40 }),
    receiveCount: fc.integer({ min: 1, max: 1000 }),
  }),
);

const rawMessage: fc.Arbitrary<RawMessage> = fc.record({
  body,
  key: fc.option(anyText, { nil: undefined }),
  headers,
  timestamp: fc.integer({ min: 0, max: 2_000_000_000_000 }),
  source,
});

type ResolveType = (raw: RawMessage) => string | undefined;
const resolver: fc.Arbitrary<TypeResolver> = fc.oneof(
  fc.constant<TypeResolver>({ contract: (type) => contracts.get(type) }),
  fc.constant<TypeResolver>({ contract: (type) => contracts.get(type), fallback: OrderShipped }),
  fc
    .constantFrom<ResolveType>(
      () => 'OrderPlaced',
      () => 'Nope',
      () => undefined,
      () => {
        throw new Error('resolveType bug');
      },
      (m) => m.headers['x-tenant'],
    )
    .map((resolveType) => ({ contract: (type: string) => contracts.get(type), resolveType })),
);

// ------------------------------------------------------------------------------------------------
// An oracle written from the wire format's documented rules (wire.ts header comment).

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function expectedOutcome(raw: RawMessage, resolve: TypeResolver): 'ok' | 'decode' | 'unknown-type' {
  const h = raw.headers;
  if (Object.hasOwn(h, WireHeaders.decodeError)) return 'decode';
  if (raw.body === null) return 'decode';
  const contentType = Object.hasOwn(h, WireHeaders.contentType) ? h[WireHeaders.contentType] : undefined;
  if (contentType !== undefined && !/json/i.test(contentType)) return 'decode';
  try {
    JSON.parse(strictUtf8.decode(raw.body));
  } catch {
    return 'decode';
  }
  let type = Object.hasOwn(h, WireHeaders.type) ? h[WireHeaders.type] : undefined;
  if (type === undefined && resolve.resolveType) {
    try {
      type = resolve.resolveType(raw);
    } catch {
      return 'decode';
    }
  }
  const contract = type === undefined ? resolve.fallback : resolve.contract(type);
  return contract ? 'ok' : 'unknown-type';
}

function decodeOrFail(raw: RawMessage, resolve: TypeResolver, attempt: number): DecodeResult {
  try {
    return decodeRawMessage(raw, resolve, attempt);
  } catch (error) {
    throw new Error(`decodeRawMessage threw instead of returning a failure: ${String(error)}`);
  }
}

describe('decodeRawMessage (fuzzed)', () => {
  it('returns an envelope or a typed decode / unknown-type failure for any message, never throws', () => {
    fc.assert(
      fc.property(rawMessage, resolver, fc.integer({ min: 1, max: 1_000 }), (raw, resolve, attempt) => {
        const result = decodeOrFail(raw, resolve, attempt);
        const expected = expectedOutcome(raw, resolve);
        if (result.ok) {
          expect(expected).toBe('ok');
          const { envelope, contract } = result;
          expect(envelope.type).toBe(contract.name);
          expect(envelope.headers).toBe(raw.headers);
          expect(envelope.attempt).toBe(attempt);
          expect(typeof envelope.id).toBe('string');
          expect(typeof envelope.key).toBe('string');
          expect(Number.isFinite(envelope.timestamp)).toBe(true);
          if (envelope.schemaVersion !== undefined) expect(Number.isInteger(envelope.schemaVersion)).toBe(true);
          for (const value of Object.values(envelope.traceContext)) expect(typeof value).toBe('string');
        } else {
          expect(result.reason).toBe(expected);
          expect(result.error).toBeInstanceOf(SwitchyardError);
          expect(result.error.code).toBe(result.reason === 'decode' ? 'SWITCHYARD_DECODE' : 'SWITCHYARD_UNKNOWN_TYPE');
          expect(result.error.retryable).toBe(false);
          expect(result.error.message.trim()).not.toBe('');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips any valid payload with any extra headers, and no extra header forges a Switchyard one', () => {
    const clock = new FakeClock();
    fc.assert(
      fc.property(
        fc.record({ orderId: fc.string(), total: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
        headers,
        fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
        (payload, extra, correlationId) => {
          const message = encodeMessageSync(OrderPlaced, payload, { clock, headers: extra, correlationId });
          if (message instanceof Promise) throw new Error('zod validates synchronously');
          const raw: RawMessage = {
            body: message.body,
            key: message.key,
            headers: message.headers,
            timestamp: 1,
            source: { kind: 'log', topic: 'orders', partition: 0, offset: '0' },
          };
          // Only what the decoder itself refuses (a caller's content-type / decode-error header
          // is overwritten or kept as sent) may stop it.
          const result = decodeOrFail(raw, { contract: (type) => contracts.get(type) }, 1);
          if (Object.hasOwn(extra, WireHeaders.decodeError)) {
            expect(result).toMatchObject({ ok: false, reason: 'decode' });
            return;
          }
          expect(result.ok).toBe(true);
          if (!result.ok) return;
          // JSON has no -0: it comes back as 0.
          expect(result.envelope.payload).toEqual({ ...payload, total: payload.total === 0 ? 0 : payload.total });
          expect(result.envelope).toMatchObject({
            id: message.id,
            type: 'OrderPlaced',
            key: payload.orderId,
            timestamp: clock.now(),
            schemaVersion: 3,
            correlationId,
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});

// ------------------------------------------------------------------------------------------------
// Dead-letter headers

const reasons: DeadLetterReason[] = [
  'validation',
  'decode',
  'unknown-type',
  'non-retryable',
  'retries-exhausted',
  'budget-exhausted',
  'handler-requested',
  'timeout',
];

/** Times as core computes them: the clock, or a first-failure time carried in a (garbled) header. */
const failureTime = fc.oneof(
  fc.integer({ min: 0, max: 4_102_444_800_000 }),
  absurdNumber.map(Number).filter((n) => Number.isFinite(n) && n > 0),
);

const deadLetterRecord: fc.Arbitrary<DeadLetterRecord> = fc.record({
  source,
  consumerGroup: fc.option(anyText, { nil: undefined }),
  messageId: fc.option(anyText, { nil: undefined }),
  messageType: fc.option(anyText, { nil: undefined }),
  attempts: fc.oneof(fc.integer({ min: 1, max: 100 }), absurdNumber.map(Number)),
  firstFailureAt: failureTime,
  lastFailureAt: failureTime,
  reason: fc.constantFrom(...reasons),
  error: fc.record({
    className: fc.string({ minLength: 1, maxLength: 20 }),
    code: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
    message: fc.oneof(
      anyText,
      fc.integer({ min: 4_000, max: 20_000 }).map((n) => 'm'.repeat(n)),
    ),
    stack: fc.option(fc.oneof(anyText, fc.constant('s'.repeat(10_000))), { nil: undefined }),
  }),
  body: body,
  headers,
  key: fc.option(anyText, { nil: undefined }),
});

const asDate = (ms: number) => (Number.isNaN(new Date(ms).getTime()) ? undefined : new Date(ms).getTime());

describe('deadLetterHeaders / readDeadLetterHeaders (fuzzed)', () => {
  it('writes any record as string headers, within the caps, and reads its fields back', () => {
    fc.assert(
      fc.property(deadLetterRecord, (record) => {
        let written: Record<string, string>;
        try {
          written = deadLetterHeaders(record);
        } catch (error) {
          throw new Error(`deadLetterHeaders threw: ${String(error)}`);
        }
        for (const value of Object.values(written)) expect(typeof value).toBe('string');
        expect(written[DeadLetterHeaders.errorMessage]!.length).toBeLessThanOrEqual(
          deadLetterHeaderLimits.errorMessage,
        );
        expect((written[DeadLetterHeaders.errorStack] ?? '').length).toBeLessThanOrEqual(
          deadLetterHeaderLimits.errorStack,
        );
        // The original headers ride along unchanged (earlier sy-dlq-* ones replaced, not kept),
        // one named `__proto__` included.
        for (const [name, value] of Object.entries(record.headers))
          if (!name.toLowerCase().startsWith(DEAD_LETTER_HEADER_PREFIX))
            expect(Object.hasOwn(written, name) && written[name]).toBe(value);

        const read = readDeadLetterHeaders(written);
        expect(read.reason).toBe(record.reason);
        if (record.source.kind === 'queue') expect(read.source).toEqual(record.source);
        else expect(read.source).toMatchObject(record.source);
        expect(read.error?.className).toBe(record.error.className);
        // Whole milliseconds when a Date can hold the time, else left out.
        expect(read.firstFailureAt).toBe(asDate(record.firstFailureAt));
        expect(read.lastFailureAt).toBe(asDate(record.lastFailureAt));
        if (Number.isSafeInteger(record.attempts)) expect(read.attempts).toBe(record.attempts + 0); // -0 reads back as 0
        expect(read.body).toBe(record.body === null ? null : undefined);
      }),
      { numRuns: 300 },
    );
  });

  it('reads any header set without throwing', () => {
    fc.assert(
      fc.property(headers, fc.dictionary(fc.constantFrom(...Object.values(DeadLetterHeaders)), anyText), (h, dlq) => {
        const read = readDeadLetterHeaders({ ...h, ...dlq });
        if (read.reason !== undefined) expect(reasons).toContain(read.reason);
        if (read.attempts !== undefined) expect(Number.isInteger(read.attempts)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('counterexamples found by fuzzing', () => {
  it('writes a record whose first failure time came from an absurd sy-first-failure-at header', () => {
    // Core takes the first failure time from `sy-first-failure-at` when it is a positive finite
    // number; 8640000000000001 is one, but no Date: toISOString() threw a RangeError, and every
    // transport's dead-letter write failed for ever.
    const record: DeadLetterRecord = {
      source: { kind: 'log', topic: 'orders', partition: 0, offset: '7' },
      consumerGroup: 'g',
      messageId: 'm-1',
      messageType: 'OrderPlaced',
      attempts: 1,
      firstFailureAt: 8_640_000_000_000_001,
      lastFailureAt: 1_700_000_000_000,
      reason: 'non-retryable',
      error: { className: 'Error', code: undefined, message: 'boom', stack: undefined },
      body: bytes('{}'),
      headers: { [WireHeaders.firstFailureAt]: '8640000000000001' },
      key: undefined,
    };
    const written = deadLetterHeaders(record);
    expect(written[DeadLetterHeaders.firstFailureAt]).toBe('8640000000000001');
    expect(written[DeadLetterHeaders.lastFailureAt]).toBe('2023-11-14T22:13:20.000Z');
    expect(readDeadLetterHeaders(written)).toMatchObject({ reason: 'non-retryable', lastFailureAt: 1_700_000_000_000 });
    expect(readDeadLetterHeaders(written).firstFailureAt).toBeUndefined();
  });
});
