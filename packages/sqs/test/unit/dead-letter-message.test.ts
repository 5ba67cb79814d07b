import { type DeadLetterRecord, readDeadLetterHeaders } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { BODY_ENCODING_HEADER, decodeBody } from '../../src/body-codec.js';
import { buildDeadLetterMessage } from '../../src/dead-letter-message.js';
import { decodeAttributes } from '../../src/message-attributes.js';

const record = (body: Uint8Array | null): DeadLetterRecord => ({
  source: { kind: 'queue', queue: 'orders', messageId: 'm-1', receiveCount: 1 },
  consumerGroup: 'billing',
  messageId: 'm-1',
  messageType: undefined,
  attempts: 1,
  firstFailureAt: 0,
  lastFailureAt: 0,
  reason: 'decode',
  error: { className: 'SwitchyardError', code: undefined, message: 'message body is not UTF-8 JSON', stack: undefined },
  body,
  headers: { 'x-tenant': 't1' },
  key: undefined,
});

/** The dead letter as a reader of the DLQ gets it back: headers and body bytes. */
function readBack(body: Uint8Array | null) {
  const message = buildDeadLetterMessage(record(body), { fifo: false, maxMessageBytes: 262_144 });
  const { headers } = decodeAttributes(message.MessageAttributes);
  const decoded = decodeBody(message.MessageBody, headers);
  return { text: message.MessageBody, headers, ...decoded };
}

describe('buildDeadLetterMessage', () => {
  it('carries an empty body as a space marked empty, which reads back as zero bytes', () => {
    const back = readBack(new Uint8Array(0));
    expect(back.text).toBe(' ');
    expect(back.problem).toBeUndefined();
    expect(back.bytes).toEqual(new Uint8Array(0));
    expect(back.headers['x-tenant']).toBe('t1');
    expect(readDeadLetterHeaders(back.headers).reason).toBe('decode');
  });

  it('keeps an encoding header the original could not apply, so that empty body reads back as a space', () => {
    const message = buildDeadLetterMessage(
      { ...record(new Uint8Array(0)), headers: { [BODY_ENCODING_HEADER]: 'gzip' } },
      { fifo: false, maxMessageBytes: 262_144 },
    );
    const { headers } = decodeAttributes(message.MessageAttributes);
    expect(headers[BODY_ENCODING_HEADER]).toBe('gzip');
    expect(decodeBody(message.MessageBody, headers).bytes).toEqual(new TextEncoder().encode(' '));
  });

  it('carries a tombstone as a space marked by sy-dlq-tombstone, and a body of one space as it is', () => {
    const tombstone = readBack(null);
    expect(tombstone.headers['sy-dlq-tombstone']).toBe('true');
    expect(tombstone.headers[BODY_ENCODING_HEADER]).toBeUndefined();
    const space = readBack(new TextEncoder().encode(' '));
    expect(space.headers[BODY_ENCODING_HEADER]).toBeUndefined();
    expect(space.bytes).toEqual(new TextEncoder().encode(' '));
  });
});
