import { describe, expect, it } from 'vitest';
import { BODY_ENCODING_HEADER, decodeBody, encodeBody } from '../../src/body-codec.js';

const encoder = new TextEncoder();

describe('encodeBody / decodeBody', () => {
  it('sends text as it is', () => {
    const bytes = encoder.encode('héllo ✓ {"a":1}\n\t');
    const encoded = encodeBody(bytes);
    expect(encoded).toEqual({ text: 'héllo ✓ {"a":1}\n\t', headers: {} });
    expect(decodeBody(encoded.text, {}).bytes).toEqual(bytes);
  });

  it('base64-encodes bytes that are not UTF-8, or characters SQS refuses, and restores them exactly', () => {
    for (const bytes of [
      Uint8Array.from({ length: 256 }, (_, i) => i),
      Uint8Array.of(0xff, 0x00, 0xfe),
      encoder.encode('nul \u0000 inside'),
      Uint8Array.of(0xef, 0xbb, 0xbf, 0x41), // a byte-order mark survives
    ]) {
      const encoded = encodeBody(bytes);
      const headers: Record<string, string> = { ...encoded.headers, other: 'x' };
      if (bytes[0] === 0xef) expect(encoded.headers).toEqual({});
      else expect(encoded.headers).toEqual({ [BODY_ENCODING_HEADER]: 'base64' });
      expect(decodeBody(encoded.text, headers)).toEqual({ bytes, problem: undefined });
      expect(headers).toEqual({ other: 'x' });
    }
  });

  it('refuses an empty body and reports a body that does not match its declared encoding', () => {
    expect(() => encodeBody(new Uint8Array())).toThrow(/empty/);
    expect(decodeBody('not base64!', { [BODY_ENCODING_HEADER]: 'base64' }).problem).toMatch(/not base64/);
    expect(decodeBody('abc', { [BODY_ENCODING_HEADER]: 'gzip' }).problem).toMatch(/unknown/);
    expect(decodeBody('x', { [BODY_ENCODING_HEADER]: 'empty' }).problem).toMatch(/not a single space/);
  });

  it("reads ' ' marked empty as zero bytes (how a dead letter carries an empty body), and ' ' alone as a space", () => {
    const headers: Record<string, string> = { [BODY_ENCODING_HEADER]: 'empty', other: 'x' };
    expect(decodeBody(' ', headers)).toEqual({ bytes: new Uint8Array(0), problem: undefined });
    expect(headers).toEqual({ other: 'x' });
    expect(decodeBody(' ', {}).bytes).toEqual(encoder.encode(' '));
  });
});
