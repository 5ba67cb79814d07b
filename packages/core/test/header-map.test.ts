import { describe, expect, it } from 'vitest';
import { setHeader } from '../src/index.js';

describe('setHeader', () => {
  it('adds a header named __proto__ as an own, enumerable property and leaves the prototype alone', () => {
    const headers: Record<string, string> = {};
    setHeader(headers, '__proto__', 'v');
    setHeader(headers, 'constructor', 'c');
    expect(Object.getPrototypeOf(headers)).toBe(Object.prototype);
    expect(Object.entries(headers)).toEqual([
      ['__proto__', 'v'],
      ['constructor', 'c'],
    ]);
    expect(JSON.parse(JSON.stringify(headers))).toEqual(headers);
    // and it can be replaced like any other header
    setHeader(headers, '__proto__', 'w');
    expect(Object.getOwnPropertyDescriptor(headers, '__proto__')?.value).toBe('w');
  });
});
