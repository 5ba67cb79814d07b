// The SQS/SNS decoders under arbitrary input: bodies (text, binary, declared encodings that do or do
// not apply), message attributes (any data type, string or binary values, a packed `sy-headers` that
// is or is not readable) and SNS notifications (well-formed or not). They return a value with the
// problem named, never throw; what the encoders write decodes back to what went in.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BODY_ENCODING_HEADER, decodeBody, encodeBody } from '../../src/body-codec.js';
import {
  type AttributeValue,
  decodeAttributes,
  encodeHeaders,
  isValidAttributeName,
  PACKED_HEADERS_ATTRIBUTE,
  unpackHeaders,
} from '../../src/message-attributes.js';
import { SNS_MESSAGE_ID_HEADER, SNS_TOPIC_ARN_HEADER, unwrapSnsEnvelope } from '../../src/sns-envelope.js';

const encoder = new TextEncoder();
const anyText = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 }));
// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters SQS refuses are the point
const REFUSED = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
/** No lone surrogates (they do not survive UTF-8, and SQS refuses them). */
const wellFormed = (s: string) => Buffer.from(s, 'utf8').toString('utf8') === s;
/** A string SQS accepts: well-formed UTF-16 without the refused characters. */
const isSqsText = (s: string) => wellFormed(s) && !REFUSED.test(s);

/** Attribute and header names, valid for SQS or not, including ones an object literal trips on. */
const headerName = fc.oneof(
  fc.constantFrom(
    'sy-type',
    'sy-id',
    'traceparent',
    'sy-key',
    PACKED_HEADERS_ATTRIBUTE,
    BODY_ENCODING_HEADER,
    'constructor',
    '__proto__',
    'tostring',
    'hasownproperty',
    'valueof',
    'aws.reserved',
    'has space',
    'x..y',
  ),
  fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.'), minLength: 1, maxLength: 12 }),
  fc.string({ minLength: 1, maxLength: 12 }).map((s) => s.toLowerCase()),
);

describe('encodeBody / decodeBody (fuzzed)', () => {
  it('gives back any non-empty bytes exactly, as SQS-safe text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 200 }),
          fc.string({ minLength: 1, maxLength: 100 }).map((s) => encoder.encode(s)),
          fc.string({ unit: 'binary', minLength: 1, maxLength: 100 }).map((s) => encoder.encode(s)),
        ),
        (bytes) => {
          const encoded = encodeBody(bytes);
          expect(isSqsText(encoded.text)).toBe(true);
          expect(encoded.text.length).toBeGreaterThan(0);
          const headers: Record<string, string> = { ...encoded.headers, other: 'x' };
          const decoded = decodeBody(encoded.text, headers);
          expect(decoded.problem).toBeUndefined();
          expect(Buffer.from(decoded.bytes).equals(Buffer.from(bytes))).toBe(true);
          expect(headers).toEqual({ other: 'x' });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes any body under any declared encoding, naming the problem when it cannot apply it', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          anyText,
          fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('base64')),
        ),
        fc.option(fc.oneof(fc.constantFrom('base64', 'BASE64', 'gzip', ''), anyText), { nil: undefined }),
        (text, encoding) => {
          const headers: Record<string, string> = encoding === undefined ? {} : { [BODY_ENCODING_HEADER]: encoding };
          const decoded = decodeBody(text, headers);
          const applies = encoding === 'base64' && /^[A-Za-z0-9+/]*={0,2}$/.test(text) && text.length % 4 === 0;
          if (encoding === undefined || applies) expect(decoded.problem).toBeUndefined();
          else expect(decoded.problem).toMatch(new RegExp(BODY_ENCODING_HEADER));
          if (applies) expect(Buffer.from(decoded.bytes).equals(Buffer.from(text, 'base64'))).toBe(true);
          else expect(Buffer.from(decoded.bytes).equals(Buffer.from(encoder.encode(text)))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('encodeHeaders / decodeAttributes (fuzzed)', () => {
  it('writes any headers as at most ten valid attributes that decode back to the same headers', () => {
    fc.assert(
      fc.property(
        fc.dictionary(headerName, fc.oneof(anyText, fc.constant('')), { maxKeys: 16 }),
        fc.integer({ min: 1, max: 10 }),
        (headers, maxAttributes) => {
          const attributes = encodeHeaders(headers, { maxAttributes });
          expect(Object.keys(attributes).length).toBeLessThanOrEqual(maxAttributes);
          for (const [name, attribute] of Object.entries(attributes)) {
            expect(isValidAttributeName(name)).toBe(true);
            expect(attribute.DataType).toBe('String');
            expect(attribute.StringValue).not.toBe('');
          }
          expect(decodeAttributes(attributes)).toEqual({ headers, problem: undefined });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes any attribute set without throwing: strings (binary as base64), or the packed problem named', () => {
    const attribute: fc.Arbitrary<AttributeValue> = fc.record(
      {
        DataType: fc.oneof(fc.constantFrom('String', 'Number', 'Binary', 'String.json', 'Number.int'), anyText),
        StringValue: fc.oneof(anyText, fc.integer().map(String)),
        BinaryValue: fc.uint8Array({ maxLength: 16 }),
      },
      { requiredKeys: ['DataType'] },
    );
    const packedValue = fc.oneof(
      anyText,
      fc.json({ maxDepth: 2 }),
      fc.dictionary(headerName, anyText, { maxKeys: 4 }).map((d) => JSON.stringify(d)),
      fc.constantFrom('[]', 'null', '"x"', '{"a":1}', '{"a":null}', '{'),
    );
    fc.assert(
      fc.property(
        fc.dictionary(headerName, attribute, { maxKeys: 10 }),
        fc.option(packedValue, { nil: undefined }),
        (attributes, packed) => {
          const all: Record<string, AttributeValue> =
            packed === undefined
              ? attributes
              : { ...attributes, [PACKED_HEADERS_ATTRIBUTE]: { DataType: 'String', StringValue: packed } };
          const decoded = decodeAttributes(all);
          const header = (name: string) => (Object.hasOwn(decoded.headers, name) ? decoded.headers[name] : undefined);
          for (const value of Object.values(decoded.headers)) expect(typeof value).toBe('string');
          for (const [name, a] of Object.entries(all)) {
            if (name === PACKED_HEADERS_ATTRIBUTE) continue;
            const want =
              a.StringValue !== undefined
                ? a.StringValue
                : a.BinaryValue !== undefined
                  ? Buffer.from(a.BinaryValue).toString('base64')
                  : undefined;
            // (An attribute without a value gives no header: a packed one of that name may.)
            if (want !== undefined) expect(header(name.toLowerCase())).toBe(want);
          }
          if (decoded.problem !== undefined) expect(decoded.problem).toMatch(new RegExp(PACKED_HEADERS_ATTRIBUTE));
          else if (packed !== undefined) {
            const parsed = JSON.parse(packed) as Record<string, string>;
            // Attributes of their own (with a value) win over packed duplicates.
            const own = Object.entries(attributes)
              .filter(([, a]) => a.StringValue !== undefined || a.BinaryValue !== undefined)
              .map(([n]) => n.toLowerCase());
            for (const [name, value] of Object.entries(parsed))
              if (!own.includes(name.toLowerCase())) expect(header(name.toLowerCase())).toBe(value);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws on a packed value of any shape', () => {
    fc.assert(
      fc.property(fc.dictionary(headerName, anyText, { maxKeys: 5 }), fc.oneof(anyText, fc.json()), (flat, packed) => {
        const result = unpackHeaders({ ...flat, [PACKED_HEADERS_ATTRIBUTE]: packed });
        expect(result.problem === undefined || typeof result.problem === 'string').toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('unwrapSnsEnvelope (fuzzed)', () => {
  const topicArn = 'arn:aws:sns:us-east-1:000000000000:orders';
  const snsAttribute = fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({ Type: fc.constantFrom('String', 'Number', 'Binary', 'String.Array'), Value: anyText }),
    },
    { weight: 1, arbitrary: fc.record({ Type: fc.constant('String'), Value: fc.constant(undefined) }) },
    { weight: 1, arbitrary: fc.record({ Type: fc.constant(7), Value: anyText }) },
    { weight: 1, arbitrary: fc.constantFrom(null, 'flat') },
  );
  /** Headers packed into `sy-headers` inside a notification: readable, or not. */
  const packedAttribute = fc
    .oneof(
      fc.dictionary(headerName, anyText, { maxKeys: 3 }).map((d) => JSON.stringify(d)),
      fc.constantFrom('', 'not json', '[]', 'null', '{"a":1}', '{'),
      anyText,
    )
    .map((Value) => ({ Type: 'String', Value }));
  const envelopeField = <T>(value: fc.Arbitrary<T>) =>
    fc.oneof({ weight: 4, arbitrary: value }, { weight: 1, arbitrary: fc.constantFrom(undefined, null, 7, {}, []) });
  const envelope = fc.record(
    {
      Type: envelopeField(
        fc.constantFrom('Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation', 'Other'),
      ),
      TopicArn: envelopeField(fc.constant(topicArn)),
      MessageId: envelopeField(fc.uuid()),
      Message: envelopeField(anyText),
      Subject: envelopeField(anyText),
      Timestamp: envelopeField(
        fc.oneof(
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
          anyText,
        ),
      ),
      MessageAttributes: envelopeField(
        fc
          .tuple(
            fc.dictionary(headerName, snsAttribute, { maxKeys: 5 }),
            fc.option(packedAttribute, { nil: undefined }),
          )
          .map(([attributes, packed]) =>
            packed === undefined ? attributes : { ...attributes, [PACKED_HEADERS_ATTRIBUTE]: packed },
          ),
      ),
    },
    { requiredKeys: [] },
  );

  it('unwraps, refuses with a reason, or leaves alone any body; never throws', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          envelope.map((e) => JSON.stringify(e)),
          envelope.map((e) => `  ${JSON.stringify(e)}`),
          anyText,
          fc.json(),
          fc.constant('{"TopicArn": "x", "Type": '),
        ),
        (body) => {
          const result = unwrapSnsEnvelope(body);
          if (result.kind === 'malformed') expect(result.reason.trim()).not.toBe('');
          if (result.kind === 'unwrapped') {
            const parsed = JSON.parse(body) as Record<string, unknown>;
            expect(parsed.Type).toBe('Notification');
            expect(result.body).toBe(parsed.Message);
            expect(result.headers[SNS_TOPIC_ARN_HEADER]).toBe(parsed.TopicArn);
            expect(result.headers[SNS_MESSAGE_ID_HEADER]).toBe(parsed.MessageId);
            for (const value of Object.values(result.headers)) expect(typeof value).toBe('string');
            if (result.timestamp !== undefined) expect(Number.isFinite(result.timestamp)).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('counterexamples found by fuzzing', () => {
  it('keeps a packed header named constructor (it was taken for one already present)', () => {
    const attributes = encodeHeaders({ constructor: '' });
    expect(attributes[PACKED_HEADERS_ATTRIBUTE]?.StringValue).toBe('{"constructor":""}');
    expect(decodeAttributes(attributes)).toEqual({ headers: { constructor: '' }, problem: undefined });
  });

  // Assigning `__proto__` to a plain object sets its prototype: header maps go through setHeader.
  it('keeps an attribute named __proto__ (a valid SQS attribute name)', () => {
    // As the SDK deserializes it: an own property (an object literal's `__proto__:` would not be one).
    const attributes = JSON.parse('{"__proto__":{"DataType":"String","StringValue":"v"}}');
    expect(Object.keys(attributes)).toEqual(['__proto__']);
    const decoded = decodeAttributes(attributes);
    expect(Object.entries(decoded.headers)).toEqual([['__proto__', 'v']]);
  });
});
