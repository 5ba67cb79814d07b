import { describe, expect, it } from 'vitest';
import {
  decodeAttributes,
  encodeHeaders,
  isValidAttributeName,
  PACKED_HEADERS_ATTRIBUTE,
  UNREADABLE_PACKED_HEADERS,
} from '../../src/message-attributes.js';

describe('encodeHeaders / decodeAttributes', () => {
  it('sends up to ten headers as attributes of their own', () => {
    const headers = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`h${i}`, `v${i}`]));
    const attributes = encodeHeaders(headers);
    expect(Object.keys(attributes)).toHaveLength(10);
    expect(attributes[PACKED_HEADERS_ATTRIBUTE]).toBeUndefined();
    expect(decodeAttributes(attributes).headers).toEqual(headers);
  });

  it('packs what does not fit into sy-headers, keeping sy-type and the trace context as attributes', () => {
    const headers: Record<string, string> = Object.fromEntries(
      Array.from({ length: 15 }, (_, i) => [`x-${i}`, `v${i}`]),
    );
    headers['sy-type'] = 'OrderPlaced';
    headers.traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    headers.tracestate = 'vendor=1';
    headers['sy-id'] = 'id-1';
    const attributes = encodeHeaders(headers);
    expect(Object.keys(attributes)).toHaveLength(10);
    for (const name of ['sy-type', 'sy-id', 'traceparent', 'tracestate', PACKED_HEADERS_ATTRIBUTE])
      expect(attributes[name], name).toBeDefined();
    expect(decodeAttributes(attributes)).toEqual({ headers, problem: undefined });
  });

  it('packs headers SQS would refuse as attributes: invalid names and empty values', () => {
    const headers = { 'AWS.reserved': 'a', 'has space': 'b', empty: '', ok: 'c' };
    const attributes = encodeHeaders(headers);
    expect(Object.keys(attributes).sort()).toEqual(['ok', PACKED_HEADERS_ATTRIBUTE].sort());
    expect(decodeAttributes(attributes).headers).toEqual({ 'aws.reserved': 'a', 'has space': 'b', empty: '', ok: 'c' });
  });

  it('honours a smaller attribute budget', () => {
    const headers = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`h${i}`, `v${i}`]));
    const attributes = encodeHeaders(headers, { maxAttributes: 5 });
    expect(Object.keys(attributes)).toHaveLength(5);
    expect(decodeAttributes(attributes).headers).toEqual(headers);
  });

  it('lower-cases names, base64-encodes binary values, and prefers attributes over packed duplicates', () => {
    const decoded = decodeAttributes({
      'X-Upper': { DataType: 'String', StringValue: 'u' },
      bin: { DataType: 'Binary', BinaryValue: Uint8Array.of(1, 2, 3) },
      num: { DataType: 'Number', StringValue: '42' },
      [PACKED_HEADERS_ATTRIBUTE]: {
        DataType: 'String',
        StringValue: JSON.stringify({ 'x-upper': 'packed', other: 'o' }),
      },
    });
    expect(decoded).toEqual({ headers: { 'x-upper': 'u', bin: 'AQID', num: '42', other: 'o' }, problem: undefined });
  });

  it('reports an unreadable sy-headers attribute instead of throwing', () => {
    const decoded = decodeAttributes({
      a: { DataType: 'String', StringValue: 'kept' },
      [PACKED_HEADERS_ATTRIBUTE]: { DataType: 'String', StringValue: '{not json' },
    });
    expect(decoded.headers).toEqual({ a: 'kept', [UNREADABLE_PACKED_HEADERS]: '{not json' });
    expect(decoded.problem).toMatch(/not JSON/);
    expect(
      decodeAttributes({ [PACKED_HEADERS_ATTRIBUTE]: { DataType: 'String', StringValue: '{"a":1}' } }).problem,
    ).toMatch(/non-string/);
  });

  it('knows the SQS attribute naming rules', () => {
    expect(isValidAttributeName('sy-type')).toBe(true);
    expect(isValidAttributeName('a.b_c-d')).toBe(true);
    for (const bad of ['', '.a', 'a.', 'a..b', 'aws.x', 'Amazon.y', 'sp ace', 'ü', 'x'.repeat(257)])
      expect(isValidAttributeName(bad), bad).toBe(false);
  });
});
