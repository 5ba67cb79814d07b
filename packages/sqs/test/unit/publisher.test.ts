import { errorCodeOf } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { prepareEntry, splitBatches } from '../../src/publisher.js';

const encoder = new TextEncoder();
const message = (id: string, body: string | Uint8Array, extra: Record<string, unknown> = {}) => ({
  id,
  key: undefined as string | undefined,
  body: typeof body === 'string' ? encoder.encode(body) : body,
  headers: { 'sy-id': id, 'sy-type': 'T' },
  timestamp: 0,
  ...extra,
});

describe('prepareEntry', () => {
  const standard = { destination: 'q', fifo: false, maxMessageBytes: 262_144 };
  const fifo = { destination: 'q.fifo', fifo: true, maxMessageBytes: 262_144 };

  it('counts body and attributes towards the size and refuses an oversized message with a claim-check hint', () => {
    const ok = prepareEntry(message('a', 'x'.repeat(1000)), standard);
    expect(ok.size).toBe(1000 + 'sy-id'.length + 'String'.length + 1 + 'sy-type'.length + 'String'.length + 1);
    let error: unknown;
    try {
      prepareEntry(message('big', 'x'.repeat(262_144)), standard);
    } catch (e) {
      error = e;
    }
    expect(errorCodeOf(error)).toBe('SWITCHYARD_MESSAGE_TOO_LARGE');
    expect((error as Error).message).toMatch(/claim check/);
    expect((error as { retryable: boolean }).retryable).toBe(false);
  });

  it('turns delays into DelaySeconds up to 900 s, and refuses per-message delays on FIFO queues', () => {
    expect(prepareEntry(message('a', 'x', { delayMs: 1500 }), standard).delaySeconds).toBe(2);
    expect(() => prepareEntry(message('a', 'x', { delayMs: 901_000 }), standard)).toThrow(/900 s/);
    expect(() => prepareEntry(message('a', 'x', { delayMs: 1000 }), fifo)).toThrow(/no per-message delay/);
  });

  it('gives FIFO messages the key as group id and the message id (or its hash) as deduplication id', () => {
    const entry = prepareEntry(message('id-1', 'x', { key: 'order-7' }), fifo);
    expect([entry.groupId, entry.deduplicationId]).toEqual(['order-7', 'id-1']);
    const keyless = prepareEntry(message('id-2', 'x', { deduplicationId: 'with space' }), fifo);
    expect(keyless.groupId).toBe('id-2');
    expect(keyless.deduplicationId).toMatch(/^[0-9a-f]{64}$/);
    expect(prepareEntry(message('id-3', 'x'), standard).groupId).toBeUndefined();
  });

  it('carries a binary body base64-encoded with its encoding header', () => {
    const entry = prepareEntry(message('b', Uint8Array.of(0, 1, 255)), standard);
    expect(entry.body).toBe('AAH/');
    expect(entry.attributes['sy-body-encoding']).toEqual({ DataType: 'String', StringValue: 'base64' });
  });
});

describe('splitBatches', () => {
  it('splits by ten entries and by the byte limit, keeping order', () => {
    const entries = Array.from({ length: 23 }, (_, i) =>
      prepareEntry(message(`m${i}`, 'x'.repeat(i === 12 ? 149_900 : 100)), {
        destination: 'q',
        fifo: false,
        maxMessageBytes: 262_144,
      }),
    );
    const batches = splitBatches(entries, 150_000);
    expect(batches.map((b) => b.length)).toEqual([10, 2, 1, 10]);
    expect(batches.flat().map((e) => e.messageId)).toEqual(entries.map((e) => e.messageId));
    for (const batch of batches) expect(batch.reduce((n, e) => n + e.size, 0)).toBeLessThanOrEqual(150_000);
  });
});
