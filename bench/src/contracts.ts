// The messages every pair uses: one event shape, with a schema that accepts anything (the no-op
// pairs: no validation cost on either side). The zod schema of the validated pair is in
// validated-contract.ts, so processes that do not validate do not load zod.

import {
  type AnyContract,
  defineCommand,
  defineEvent,
  encodeMessage,
  type OutgoingMessage,
  type StandardSchemaV1,
  systemClock,
} from '@switchyard/core';

export interface OrderPayload {
  readonly orderId: string;
  readonly customerId: string;
  readonly sku: string;
  readonly quantity: number;
  readonly total: number;
  readonly currency: 'EUR' | 'USD' | 'GBP';
  /** Position of this message among its key's messages (checks per-key order). */
  readonly seq: number;
}

/** A Standard Schema that accepts every value as it is: what a raw client does (no validation). */
const unchecked: StandardSchemaV1<unknown, OrderPayload> = {
  '~standard': { version: 1, vendor: 'switchyard-bench', validate: (value) => ({ value: value as OrderPayload }) },
};

export const OrderPlaced = defineEvent({ name: 'OrderPlaced', schema: unchecked, key: (p) => p.orderId });
/** The same message as a command, for queues (SQS carries commands). */
export const ProcessOrder = defineCommand({ name: 'ProcessOrder', schema: unchecked, key: (p) => p.orderId });

/** Message i of a run with `keys` distinct keys: key `o-(i % keys)`, seq = its index within the key. */
export function orderPayload(i: number, keys = 1_000_000_000): OrderPayload {
  return {
    orderId: `o-${i % keys}`,
    customerId: `c-${i % 977}`,
    sku: `sku-${i % 101}`,
    quantity: 1 + (i % 5),
    total: Math.round((i % 1000) * 1.37 * 100) / 100,
    currency: 'EUR',
    seq: Math.floor(i / keys),
  };
}

/** Switchyard's wire format (body, sy-* headers), as `app.publish` writes it. */
export function wireMessage(i: number, keys?: number, contract: AnyContract = OrderPlaced): Promise<OutgoingMessage> {
  return encodeMessage(contract, orderPayload(i, keys), { clock: systemClock });
}

/** A W3C traceparent, as an instrumented producer would have written. */
export function randomTraceparent(): string {
  const hex = (bytes: number) =>
    Array.from({ length: bytes }, () =>
      Math.floor(Math.random() * 256)
        .toString(16)
        .padStart(2, '0'),
    ).join('');
  return `00-${hex(16)}-${hex(8)}-01`;
}
