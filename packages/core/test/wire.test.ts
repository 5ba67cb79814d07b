import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEvent } from '../src/contracts.js';
import type { RawMessage } from '../src/envelope.js';
import { hasCode } from '../src/errors.js';
import { decodeRawMessage, encodeMessage, fallbackId, type TypeResolver, WireHeaders } from '../src/wire.js';
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

const clock = new FakeClock(1_700_000_000_123);
const both: TypeResolver = {
  contract: (type) => ({ OrderPlaced, OrderShipped })[type as 'OrderPlaced'],
};
const bytes = (s: string) => new TextEncoder().encode(s);
const raw = (over: Partial<RawMessage>): RawMessage => ({
  body: bytes('{}'),
  key: undefined,
  headers: {},
  timestamp: 42,
  source: { kind: 'log', topic: 'orders', partition: 2, offset: '17' },
  ...over,
});

describe('encodeMessage', () => {
  it('writes the JSON body and every sy-* header', async () => {
    const message = await encodeMessage(
      OrderPlaced,
      { orderId: 'o-1', total: 5 },
      { id: 'id-1', correlationId: 'c-1', causationId: 'k-1', headers: { 'X-Tenant': 't1' }, clock },
    );
    expect(new TextDecoder().decode(message.body)).toBe('{"orderId":"o-1","total":5}');
    expect(message).toMatchObject({ id: 'id-1', key: 'o-1', timestamp: 1_700_000_000_123 });
    expect(message.headers).toEqual({
      'x-tenant': 't1',
      'sy-id': 'id-1',
      'sy-type': 'OrderPlaced',
      'sy-key': 'o-1',
      'sy-timestamp': '1700000000123',
      'sy-schema-version': '3',
      'sy-correlation-id': 'c-1',
      'sy-causation-id': 'k-1',
      'content-type': 'application/json',
    });
  });

  it('lets no caller header impersonate a Switchyard header', async () => {
    const message = await encodeMessage(
      OrderPlaced,
      { orderId: 'o-1', total: 5 },
      { headers: { 'sy-type': 'Forged', 'sy-causation-id': 'forged' }, clock },
    );
    expect(message.headers['sy-type']).toBe('OrderPlaced');
    expect(message.headers['sy-causation-id']).toBeUndefined();
    expect(message.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses an invalid payload with a non-retryable validation error naming the field', async () => {
    const error = await encodeMessage(OrderPlaced, { orderId: 'o-1', total: 'x' } as never, { clock }).catch(
      (e: unknown) => e,
    );
    expect(hasCode(error, 'SWITCHYARD_VALIDATION')).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(false);
    expect(String(error)).toMatch(/invalid 'OrderPlaced' payload: total:/);
  });
});

describe('decodeRawMessage', () => {
  it('round-trips what encodeMessage wrote', async () => {
    const sent = await encodeMessage(OrderPlaced, { orderId: 'o-9', total: 1 }, { clock, correlationId: 'c' });
    const decoded = decodeRawMessage(
      raw({ body: sent.body, headers: { ...sent.headers, traceparent: '00-abc-def-01' }, key: 'o-9' }),
      both,
      3,
    );
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.contract).toBe(OrderPlaced);
    expect(decoded.envelope).toMatchObject({
      id: sent.id,
      type: 'OrderPlaced',
      key: 'o-9',
      payload: { orderId: 'o-9', total: 1 },
      timestamp: 1_700_000_000_123,
      attempt: 3,
      correlationId: 'c',
      causationId: undefined,
      schemaVersion: 3,
      traceContext: { traceparent: '00-abc-def-01' },
    });
  });

  it('consumes a plain JSON message of a single-handler consumer, falling back to transport id and key', () => {
    const decoded = decodeRawMessage(raw({ body: bytes('{"orderId":"o-2"}'), key: 'o-2' }), {
      contract: () => undefined,
      fallback: OrderShipped,
    });
    expect(decoded.ok && decoded.envelope).toMatchObject({
      id: 'orders/2/17',
      type: 'OrderShipped',
      key: 'o-2',
      timestamp: 42,
      schemaVersion: undefined,
    });
  });

  it("asks the consumer's resolveType when no sy-type header is present", () => {
    const decoded = decodeRawMessage(raw({ body: bytes('{"orderId":"o"}'), headers: { event: 'OrderShipped' } }), {
      ...both,
      resolveType: (m) => m.headers.event,
    });
    expect(decoded.ok && decoded.contract).toBe(OrderShipped);
  });

  it('uses the SQS message id when a queue message has no sy-id', () => {
    const source = { kind: 'queue', queue: 'q', messageId: 'abc-123', receiveCount: 1 } as const;
    expect(fallbackId(source)).toBe('abc-123');
    const decoded = decodeRawMessage(raw({ source, headers: { 'sy-type': 'OrderShipped' } }), both);
    expect(decoded.ok && decoded.envelope.id).toBe('abc-123');
  });

  it.each([
    ['a tombstone', raw({ body: null, headers: { [WireHeaders.type]: 'OrderPlaced' } }), /tombstone/],
    [
      'a non-JSON body',
      raw({ body: bytes('not json'), headers: { [WireHeaders.type]: 'OrderPlaced' } }),
      /not UTF-8 JSON/,
    ],
    ['invalid UTF-8', raw({ body: new Uint8Array([0x7b, 0xff, 0x7d]) }), /not UTF-8 JSON/],
    ['a non-JSON content type', raw({ headers: { 'content-type': 'application/avro' } }), /unsupported content-type/],
    [
      'what the transport could not unwrap',
      raw({ headers: { [WireHeaders.decodeError]: 'SNS envelope has no Message' } }),
      /transport could not decode the message: SNS envelope has no Message/,
    ],
  ])('fails to decode %s', (_name, message, pattern) => {
    const decoded = decodeRawMessage(message, both);
    expect(decoded.ok).toBe(false);
    if (decoded.ok) return;
    expect(decoded.reason).toBe('decode');
    expect(hasCode(decoded.error, 'SWITCHYARD_DECODE')).toBe(true);
    expect(decoded.error.message).toMatch(pattern);
  });

  it('reports an unknown type, and a type-less message of a multi-handler consumer', () => {
    const unknown = decodeRawMessage(raw({ headers: { 'sy-type': 'OrderLost' } }), both);
    expect(unknown).toMatchObject({ ok: false, reason: 'unknown-type', type: 'OrderLost' });
    const untyped = decodeRawMessage(raw({}), both);
    expect(untyped).toMatchObject({ ok: false, reason: 'unknown-type', type: undefined });
    if (!untyped.ok) expect(hasCode(untyped.error, 'SWITCHYARD_UNKNOWN_TYPE')).toBe(true);
  });
});
