// A stable hash of a payload, to tell "the same message again" from "the same key, different
// data". The text hashed is a canonical JSON-like form: object keys sorted, so key order does
// not matter; bigint, bytes, Date, Map and Set written in forms plain JSON never produces, so two
// different values cannot share a text (1n is not "1", bytes are not an array of numbers).

import { createHash } from 'node:crypto';

/** SHA-256 (hex) of the canonical form of `value`. Throws TypeError on a circular structure. */
export function payloadHash(value: unknown): string {
  return createHash('sha256').update(canonicalText(value)).digest('hex');
}

/** The canonical text payloadHash hashes; exported for diagnostics and tests. */
export function canonicalText(value: unknown): string {
  const parts: string[] = [];
  write(value, parts, new Set());
  return parts.join('');
}

function write(value: unknown, out: string[], ancestors: Set<object>): void {
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'number':
      // JSON turns NaN and ±Infinity into null; keep them apart from null and from each other.
      out.push(Number.isFinite(value) ? JSON.stringify(value) : `#${String(value)}`);
      return;
    case 'bigint':
      out.push(`${value.toString()}n`);
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'undefined':
    case 'function':
    case 'symbol':
      // As JSON.stringify at the top level or in an array; object members holding them are skipped.
      out.push('null');
      return;
  }
  if (value === null) {
    out.push('null');
    return;
  }
  const object = value as object;
  if (ancestors.has(object)) throw new TypeError('payloadHash: the value contains a circular reference');
  ancestors.add(object);
  try {
    writeObject(object, out, ancestors);
  } finally {
    ancestors.delete(object);
  }
}

function writeObject(object: object, out: string[], ancestors: Set<object>): void {
  if (ArrayBuffer.isView(object)) {
    const bytes = new Uint8Array(object.buffer, object.byteOffset, object.byteLength);
    out.push(`b"${Buffer.from(bytes).toString('base64')}"`);
    return;
  }
  if (object instanceof ArrayBuffer) {
    out.push(`b"${Buffer.from(object).toString('base64')}"`);
    return;
  }
  if (object instanceof Date) {
    out.push(Number.isNaN(object.getTime()) ? 'D"invalid"' : `D"${object.toISOString()}"`);
    return;
  }
  if (Array.isArray(object)) {
    out.push('[');
    object.forEach((item, i) => {
      if (i > 0) out.push(',');
      write(item, out, ancestors);
    });
    out.push(']');
    return;
  }
  if (object instanceof Map) {
    // Entries sorted by their key's canonical text, so insertion order does not matter.
    const entries = [...object.entries()].map(([k, v]) => [textOf(k, ancestors), v] as const);
    entries.sort((a, b) => compareText(a[0], b[0]));
    out.push('M{');
    entries.forEach(([k, v], i) => {
      if (i > 0) out.push(',');
      out.push(k, ':');
      write(v, out, ancestors);
    });
    out.push('}');
    return;
  }
  if (object instanceof Set) {
    const items = [...object].map((item) => textOf(item, ancestors)).sort(compareText);
    out.push(`S[${items.join(',')}]`);
    return;
  }
  const toJSON = (object as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    write(toJSON.call(object), out, ancestors);
    return;
  }
  const record = object as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((key) => {
      const type = typeof record[key];
      return type !== 'undefined' && type !== 'function' && type !== 'symbol';
    })
    .sort(compareText);
  out.push('{');
  keys.forEach((key, i) => {
    if (i > 0) out.push(',');
    out.push(JSON.stringify(key), ':');
    write(record[key], out, ancestors);
  });
  out.push('}');
}

function textOf(value: unknown, ancestors: Set<object>): string {
  const parts: string[] = [];
  write(value, parts, ancestors);
  return parts.join('');
}

/** Code-unit order, independent of locale. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
