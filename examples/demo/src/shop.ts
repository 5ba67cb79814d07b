// The example service: a small shop. Checkout publishes `OrderPlaced` on the `orders` topic; the
// billing group turns each order into a `ChargeCard` command on the `payments` queue, which payment
// workers compete for; analytics reads the same topic on its own; the storefront keeps each order's
// latest status from versioned `OrderStatusChanged` events.
//
// The payment gateway and the fee schedule are in-process stand-ins for the outside world, with the
// two faults the demo needs: a card whose gateway call fails transiently, and a currency the fee
// schedule forgot (a bug that fails every time, until it is fixed).

import { type Clock, defineCommand, defineEvent, defineQueue, defineTopic, RetryableError } from '@switchyard/core';
import { z } from 'zod';

const Currency = z.enum(['EUR', 'USD', 'JPY']);
export type Currency = z.infer<typeof Currency>;

export const OrderPlaced = defineEvent({
  name: 'OrderPlaced',
  schema: z.object({
    orderId: z.string(),
    customerId: z.string(),
    /** In the currency's minor unit (cents; yen have none). */
    amountMinor: z.number().int().positive(),
    currency: Currency,
    cardToken: z.string(),
  }),
  key: (order) => order.orderId,
});

export const ChargeCard = defineCommand({
  name: 'ChargeCard',
  schema: z.object({
    orderId: z.string(),
    amountMinor: z.number().int().positive(),
    currency: Currency,
    cardToken: z.string(),
  }),
  key: (charge) => charge.orderId,
});

export const OrderStatus = z.enum(['placed', 'paid', 'packed', 'shipped', 'delivered']);

export const OrderStatusChanged = defineEvent({
  name: 'OrderStatusChanged',
  schema: z.object({ orderId: z.string(), status: OrderStatus, version: z.number().int().positive() }),
  key: (change) => change.orderId,
  // The order's own revision: a change that is not newer than the one applied is stale.
  version: (change) => change.version,
});

export const orders = defineTopic({ name: 'orders', events: [OrderPlaced] });
export const orderStatus = defineTopic({ name: 'order-status', events: [OrderStatusChanged] });
export const payments = defineQueue({ name: 'payments', commands: [ChargeCard] });

export function formatMoney(amountMinor: number, currency: Currency): string {
  return currency === 'JPY'
    ? `JPY ${amountMinor.toLocaleString('en-US')}`
    : `${currency} ${(amountMinor / 100).toFixed(2)}`;
}

interface FeeRate {
  readonly percent: number;
  readonly fixedMinor: number;
}

/** What the shop pays its acquirer per charge. */
export class FeeSchedule {
  readonly #rates = new Map<string, FeeRate>([
    ['EUR', { percent: 1.4, fixedMinor: 25 }],
    ['USD', { percent: 2.9, fixedMinor: 30 }],
  ]);

  feeFor(amountMinor: number, currency: Currency): number {
    // The bug the demo dead-letters: the cast hides that a currency may have no rate, so a JPY
    // order throws a TypeError on every attempt. Retrying cannot help; fixing the table does.
    const rate = this.#rates.get(currency) as FeeRate;
    return Math.round((amountMinor * rate.percent) / 100) + rate.fixedMinor;
  }

  /** The fix, "deployed" while the poison messages wait in the dead-letter queue. */
  addRate(currency: Currency, rate: FeeRate): void {
    this.#rates.set(currency, rate);
  }
}

export interface ChargeRequest {
  readonly orderId: string;
  readonly amountMinor: number;
  readonly currency: Currency;
  readonly cardToken: string;
  readonly feeMinor: number;
  readonly worker: string;
  readonly attempt: number;
}

export interface Charge {
  readonly orderId: string;
  readonly amountMinor: number;
  readonly currency: Currency;
  readonly feeMinor: number;
  readonly worker: string;
  readonly attempt: number;
  readonly at: number;
}

/**
 * The card processor. Each call takes `latencyMs` (a network round trip); a card token listed in
 * `unavailableFor` makes that many calls fail with a 503 first, as a gateway under load does.
 */
export class PaymentGateway {
  readonly charges: Charge[] = [];
  /** Called after each successful charge (the demo narrates from it). */
  onCharge: ((charge: Charge) => void) | undefined;
  readonly #clock: Clock;
  readonly #latencyMs: number;
  readonly #unavailable: Map<string, number>;

  constructor(options: { clock: Clock; latencyMs: number; unavailableFor?: Record<string, number> }) {
    this.#clock = options.clock;
    this.#latencyMs = options.latencyMs;
    this.#unavailable = new Map(Object.entries(options.unavailableFor ?? {}));
  }

  async charge(request: ChargeRequest, signal: AbortSignal): Promise<Charge> {
    await this.#clock.sleep(this.#latencyMs, signal);
    const failuresLeft = this.#unavailable.get(request.cardToken) ?? 0;
    if (failuresLeft > 0) {
      this.#unavailable.set(request.cardToken, failuresLeft - 1);
      throw new RetryableError('payment gateway answered 503 Service Unavailable');
    }
    const { cardToken: _, ...rest } = request;
    const charge: Charge = { ...rest, at: this.#clock.now() };
    this.charges.push(charge);
    this.onCharge?.(charge);
    return charge;
  }

  chargesFor(orderId: string): number {
    return this.charges.filter((c) => c.orderId === orderId).length;
  }
}
