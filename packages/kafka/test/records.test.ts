// Outgoing bodies reach the client as Buffers over the same bytes: no copy per message.

import { defineEvent, encodeMessage, systemClock } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { toDriverMessage } from '../src/records.js';

const OrderPlaced = defineEvent({
  name: 'OrderPlaced',
  schema: z.object({ orderId: z.string(), total: z.number() }),
  key: (o) => o.orderId,
});

describe('toDriverMessage', () => {
  it("passes core's encoded body (a Buffer) through as the record value", async () => {
    const message = await encodeMessage(OrderPlaced, { orderId: 'o-1', total: 5 }, { clock: systemClock });
    const record = toDriverMessage(message);
    expect(record.value).toBe(message.body);
    expect(JSON.parse(record.value!.toString('utf8'))).toEqual({ orderId: 'o-1', total: 5 });
  });

  it('wraps a plain Uint8Array body as a Buffer over the same memory', () => {
    const body = new TextEncoder().encode('{"a":1}');
    const record = toDriverMessage({ id: 'm', key: 'k', body, headers: {}, timestamp: 0 });
    expect(Buffer.isBuffer(record.value)).toBe(true);
    body[1] = 0x42;
    expect(record.value![1]).toBe(0x42);
  });
});
