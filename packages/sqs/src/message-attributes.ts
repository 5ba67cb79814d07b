// Envelope headers <-> SQS/SNS message attributes. SQS delivers at most 10 attributes per message
// (and SNS raw delivery hands at most 10 to SQS), so the headers that filter policies and tracing
// read go first as attributes of their own, and whatever does not fit (or cannot be an attribute:
// an invalid name, an empty value) is packed into one JSON String attribute, `sy-headers`.

import { setHeader } from '@switchyard/core';
import { SqsLimits } from './options.js';

/** The attribute holding the headers that did not fit, as a JSON object of strings. */
export const PACKED_HEADERS_ATTRIBUTE = 'sy-headers';

/** Structurally both SQS's and SNS's `MessageAttributeValue`. */
export interface AttributeValue {
  DataType: string | undefined;
  StringValue?: string | undefined;
  BinaryValue?: Uint8Array | undefined;
}

/** Headers first in line for an attribute of their own: filter policies match `sy-type`; tracing reads the W3C pair. */
const PRIORITY = ['sy-type', 'sy-id', 'traceparent', 'tracestate', 'sy-key', 'sy-correlation-id', 'sy-causation-id'];

/** SQS and SNS attribute naming rules (AWS: "Amazon SQS message attributes"). */
export function isValidAttributeName(name: string): boolean {
  if (name.length === 0 || name.length > 256) return false;
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) return false;
  if (name.startsWith('.') || name.endsWith('.') || name.includes('..')) return false;
  const lower = name.toLowerCase();
  return !lower.startsWith('aws.') && !lower.startsWith('amazon.');
}

function rank(name: string): number {
  const i = PRIORITY.indexOf(name);
  if (i >= 0) return i;
  return name.startsWith('sy-') ? PRIORITY.length : PRIORITY.length + 1;
}

export interface EncodeOptions {
  /** Attributes available (10 for SQS; fewer when the caller adds its own). */
  readonly maxAttributes?: number;
}

/** Turns headers into at most `maxAttributes` String attributes, packing the overflow into `sy-headers`. */
export function encodeHeaders(
  headers: Readonly<Record<string, string>>,
  options: EncodeOptions = {},
): Record<string, AttributeValue> {
  const max = options.maxAttributes ?? SqsLimits.maxMessageAttributes;
  const direct: string[] = [];
  const packed: Record<string, string> = {};
  let mustPack = false;
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value !== 'string') continue;
    if (name === PACKED_HEADERS_ATTRIBUTE || !isValidAttributeName(name) || value.length === 0) {
      setHeader(packed, name, value);
      mustPack = true;
    } else direct.push(name);
  }
  direct.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const room = mustPack || direct.length > max ? max - 1 : max;
  const result: Record<string, AttributeValue> = {};
  direct.forEach((name, i) => {
    const value = headers[name] as string;
    if (i < room) setHeader(result, name, { DataType: 'String', StringValue: value });
    else setHeader(packed, name, value);
  });
  if (Object.keys(packed).length > 0)
    result[PACKED_HEADERS_ATTRIBUTE] = { DataType: 'String', StringValue: JSON.stringify(packed) };
  return result;
}

export interface DecodedHeaders {
  /** Names lower-cased, values as strings (Binary values base64). */
  readonly headers: Record<string, string>;
  /** Set when `sy-headers` could not be read; the rest is still decoded. */
  readonly problem: string | undefined;
}

/** Attributes as received from SQS -> headers. Attributes of their own win over packed ones. */
export function decodeAttributes(attributes: Readonly<Record<string, AttributeValue>> | undefined): DecodedHeaders {
  const flat: Record<string, string> = {};
  for (const [name, attribute] of Object.entries(attributes ?? {})) {
    if (attribute.StringValue !== undefined) setHeader(flat, name, attribute.StringValue);
    else if (attribute.BinaryValue !== undefined)
      setHeader(flat, name, Buffer.from(attribute.BinaryValue).toString('base64'));
  }
  return unpackHeaders(flat);
}

/** Where an unreadable `sy-headers` value goes, verbatim. */
export const UNREADABLE_PACKED_HEADERS = 'sy-headers-unreadable';

/**
 * An unreadable packed value is kept as it came, under a name of its own, so the dead letter (whose
 * reason says what was wrong with it) still carries what the producer sent.
 */
function unreadable(headers: Record<string, string>, packedValue: string, problem: string): DecodedHeaders {
  headers[UNREADABLE_PACKED_HEADERS] = packedValue;
  return { headers, problem: `attribute '${PACKED_HEADERS_ATTRIBUTE}' ${problem}` };
}

/** Lower-cases names and merges a packed `sy-headers` value into the map. */
export function unpackHeaders(flat: Readonly<Record<string, string>>): DecodedHeaders {
  const headers: Record<string, string> = {};
  let packedValue: string | undefined;
  for (const [name, value] of Object.entries(flat)) {
    const lower = name.toLowerCase();
    if (lower === PACKED_HEADERS_ATTRIBUTE) packedValue = value;
    else setHeader(headers, lower, value);
  }
  if (packedValue === undefined) return { headers, problem: undefined };
  let parsed: unknown;
  try {
    parsed = JSON.parse(packedValue);
  } catch (error) {
    return unreadable(headers, packedValue, `is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return unreadable(headers, packedValue, 'is not a JSON object');
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (typeof value !== 'string') return unreadable(headers, packedValue, `has a non-string value for '${name}'`);
    const lower = name.toLowerCase();
    // Own names only: `in` also sees Object.prototype, so a packed `constructor` header was dropped.
    if (!Object.hasOwn(headers, lower)) setHeader(headers, lower, value);
  }
  return { headers, problem: undefined };
}

const utf8 = new TextEncoder();

/** UTF-8 length of a string without allocating for pure ASCII. */
export function utf8Length(value: string): number {
  // Fast path: ASCII strings are as long in bytes as in code units.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is the point
  if (/^[\x00-\x7f]*$/.test(value)) return value.length;
  return utf8.encode(value).byteLength;
}

/** What SQS counts towards the message size for attributes: name, data type and value. */
export function attributesSize(attributes: Readonly<Record<string, AttributeValue>>): number {
  let size = 0;
  for (const [name, attribute] of Object.entries(attributes)) {
    size += utf8Length(name) + utf8Length(attribute.DataType ?? '');
    if (attribute.StringValue !== undefined) size += utf8Length(attribute.StringValue);
    if (attribute.BinaryValue !== undefined) size += attribute.BinaryValue.byteLength;
  }
  return size;
}
