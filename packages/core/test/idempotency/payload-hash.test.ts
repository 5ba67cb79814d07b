import { describe, expect, it } from 'vitest';
import { canonicalText, payloadHash } from '../../src/idempotency/payload-hash.js';

describe('payloadHash', () => {
  it('is the SHA-256 hex of sorted-key JSON for plain JSON data', () => {
    expect(payloadHash({ a: 1 })).toBe('015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862');
    expect(canonicalText({ b: 1, a: [1, 'x'] })).toBe('{"a":[1,"x"],"b":1}');
    expect(payloadHash({ b: 1, a: [1, 'x'] })).toBe('a88dede55f330dbae7d6c99cb78c43213f114625ed11c8fd0b769d117c06bb50');
  });

  it('ignores key order at every depth', () => {
    const a = { order: { id: 'o-1', lines: [{ sku: 'A', qty: 2 }], total: 10 }, at: '2025-01-01' };
    const b = { at: '2025-01-01', order: { total: 10, lines: [{ qty: 2, sku: 'A' }], id: 'o-1' } };
    expect(payloadHash(a)).toBe(payloadHash(b));
  });

  it('tells apart values that plain JSON would confuse', () => {
    const values: unknown[] = [
      1,
      1n,
      '1',
      '1n',
      null,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      [1, 2],
      new Uint8Array([1, 2]),
      new Map([['a', 1]]),
      { a: 1 },
      new Set([1]),
      [1],
      new Date(0),
      '1970-01-01T00:00:00.000Z',
      { $bigint: '1' },
    ];
    const hashes = values.map((v) => payloadHash(v));
    expect(new Set(hashes).size).toBe(values.length);
  });

  it('changes with any change of the data', () => {
    expect(payloadHash({ amount: 10 })).not.toBe(payloadHash({ amount: 11 }));
    expect(payloadHash([1, 2])).not.toBe(payloadHash([2, 1]));
    expect(payloadHash({ a: '' })).not.toBe(payloadHash({}));
  });

  it('hashes bigint, bytes and Buffers by value', () => {
    expect(payloadHash({ offset: 9007199254740993n })).toBe(payloadHash({ offset: 9007199254740993n }));
    expect(payloadHash({ offset: 9007199254740993n })).not.toBe(payloadHash({ offset: 9007199254740992n }));
    expect(payloadHash(new Uint8Array([1, 2, 3]))).toBe(payloadHash(Buffer.from([1, 2, 3])));
    const view = new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4);
    expect(payloadHash(view)).toBe(payloadHash(new Uint8Array([1, 2, 3])));
    expect(canonicalText({ id: 1n, body: new Uint8Array([104, 105]) })).toBe('{"body":b"aGk=","id":1n}');
  });

  it('skips undefined and function members as JSON does, and sorts Map and Set contents', () => {
    expect(payloadHash({ a: 1, b: undefined, c: () => 1 })).toBe(payloadHash({ a: 1 }));
    expect(canonicalText([undefined])).toBe('[null]');
    expect(
      payloadHash(
        new Map([
          ['b', 2],
          ['a', 1],
        ]),
      ),
    ).toBe(
      payloadHash(
        new Map([
          ['a', 1],
          ['b', 2],
        ]),
      ),
    );
    expect(payloadHash(new Set(['b', 'a']))).toBe(payloadHash(new Set(['a', 'b'])));
  });

  it('uses toJSON where an object defines it', () => {
    const money = { toJSON: () => '10.00 EUR' };
    expect(canonicalText({ price: money })).toBe('{"price":"10.00 EUR"}');
  });

  it('accepts shared references but rejects cycles', () => {
    const shared = { id: 1 };
    expect(canonicalText({ a: shared, b: shared })).toBe('{"a":{"id":1},"b":{"id":1}}');
    const cyclic: Record<string, unknown> = { id: 1 };
    cyclic.self = cyclic;
    expect(() => payloadHash(cyclic)).toThrow(TypeError);
    const map = new Map<string, unknown>();
    map.set('me', map);
    expect(() => payloadHash(map)).toThrow(/circular/);
  });
});
