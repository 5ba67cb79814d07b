// records.ts under arbitrary records as kafkajs hands them over (bytes or strings, repeated headers
// as arrays, null header values, null keys and values, odd timestamps): decoding never throws,
// header names are lower-cased with the last value winning, and the bytes that go back onto a topic
// are the very ones received.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DriverHeaderValue, DriverRecord } from '../src/driver/driver.js';
import { asBuffer, decodeHeaders, rawHeaders, recordBytes, recordKey, toRawMessage } from '../src/records.js';

const anyText = fc.oneof(fc.string({ maxLength: 24 }), fc.string({ unit: 'binary', maxLength: 24 }));
const bytes = fc.oneof(
  anyText.map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b)),
  fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from([...b, 0xc3, 0x28, 0xff, 0xfe])),
);
// `null` is outside DriverHeaderValue's type but is what kafkajs gives for a null header value.
const nul = fc.constant(null as unknown as Buffer);
const headerValue: fc.Arbitrary<DriverHeaderValue> = fc.oneof(
  anyText,
  bytes,
  nul,
  fc.constant(undefined),
  fc.array(fc.oneof(anyText, bytes, nul), { maxLength: 4 }),
);
const headerName = fc.oneof(
  fc.constantFrom(
    'sy-type',
    'SY-TYPE',
    'Sy-Id',
    'content-type',
    'traceparent',
    'constructor',
    'toString',
    '__proto__',
    'x',
  ),
  anyText,
);
const headers = fc
  .array(fc.tuple(headerName, headerValue), { maxLength: 10 })
  .map((entries) => Object.fromEntries(entries) as Record<string, DriverHeaderValue>);

const driverRecord: fc.Arbitrary<DriverRecord> = fc
  .record({
    offset: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String),
    key: fc.oneof(
      fc.constant(null),
      bytes,
      fc.integer({ min: 0, max: 100_000 }).map((n) => Buffer.alloc(n, 0x80)),
    ),
    value: fc.oneof(fc.constant(null), bytes, fc.constant(Buffer.alloc(0))),
    headers: fc.option(headers, { nil: undefined }),
    timestamp: fc.oneof(
      fc.integer({ min: -1, max: 2 ** 45 }).map(String),
      fc.constantFrom('', 'NaN', '1e400', '-1', '99999999999999999999'),
      anyText,
    ),
  })
  // A record without headers has no `headers` at all (kafkajs' own messages are passed through).
  .map(({ headers, ...rest }): DriverRecord => (headers === undefined ? rest : { ...rest, headers }));

/** The last value of a header that kafkajs may have repeated (null: none). */
function lastOf(value: DriverHeaderValue): Buffer | string | null | undefined {
  return Array.isArray(value) ? value[value.length - 1] : (value as Buffer | string | null | undefined);
}

const utf8 = new TextDecoder('utf-8');

describe('records.ts (fuzzed)', () => {
  it('decodes any header set: names lower-cased, the last non-null value, as UTF-8 text; never throws', () => {
    fc.assert(
      fc.property(fc.option(headers, { nil: undefined }), (h) => {
        const decoded = decodeHeaders(h);
        const expected = new Map<string, string>();
        for (const [name, value] of Object.entries(h ?? {})) {
          const last = lastOf(value);
          if (last === null || last === undefined) continue;
          expected.set(name.toLowerCase(), typeof last === 'string' ? last : utf8.decode(last));
        }
        expect(new Map(Object.entries(decoded))).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('gives back the very header values received, for writing them onto another topic', () => {
    fc.assert(
      fc.property(fc.option(headers, { nil: undefined }), (h) => {
        const raw = rawHeaders(h);
        const expected = new Map<string, Buffer | string>();
        for (const [name, value] of Object.entries(h ?? {})) {
          const last = lastOf(value);
          if (last !== null && last !== undefined) expected.set(name, last);
        }
        expect(Object.keys(raw).sort()).toEqual([...expected.keys()].sort());
        // The same objects: not copies, not re-encoded.
        for (const [name, value] of expected) expect(raw[name]).toBe(value);
      }),
      { numRuns: 300 },
    );
  });

  it('turns any record into a RawMessage with its value untouched and a finite timestamp', () => {
    fc.assert(
      fc.property(driverRecord, fc.nat({ max: 100 }), (record, partition) => {
        const key = recordKey(record);
        expect(key === undefined).toBe(record.key === null);
        if (record.key !== null) expect(typeof key).toBe('string');
        const message = toRawMessage(record, 'orders', partition, 'g', decodeHeaders(record.headers), key);
        expect(message.body).toBe(record.value);
        expect(Number.isFinite(message.timestamp)).toBe(true);
        expect(message.source).toEqual({
          kind: 'log',
          topic: 'orders',
          partition,
          offset: record.offset,
          consumerGroup: 'g',
        });
        expect(recordBytes(record)).toBe((record.value?.length ?? 0) + (record.key?.length ?? 0));
      }),
      { numRuns: 300 },
    );
  });

  it('wraps any byte view as a Buffer over the same bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(), fc.nat(), (all, a, b) => {
        const start = all.length === 0 ? 0 : a % all.length;
        const view = all.subarray(start, start + (b % (all.length - start + 1)));
        const buffer = asBuffer(view);
        expect(Buffer.isBuffer(buffer)).toBe(true);
        expect(buffer.equals(Buffer.from(view))).toBe(true);
        expect(buffer.buffer).toBe(view.buffer);
      }),
      { numRuns: 200 },
    );
  });
});
