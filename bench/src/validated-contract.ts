// The validated pair's contract: the same event as OrderPlaced, checked by a zod schema.

import { defineEvent } from '@switchyard/core';
import { z } from 'zod';

export const orderSchema = z.object({
  orderId: z.string().min(1),
  customerId: z.string().min(1),
  sku: z.string().regex(/^sku-\d+$/),
  quantity: z.number().int().positive(),
  total: z.number().nonnegative(),
  currency: z.enum(['EUR', 'USD', 'GBP']),
  seq: z.number().int().nonnegative(),
});

// Same type and payload shape as OrderPlaced: only the schema differs.
export const OrderPlacedValidated = defineEvent({ name: 'OrderPlaced', schema: orderSchema, key: (p) => p.orderId });
