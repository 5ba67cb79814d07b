import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineCommand, defineEvent, defineQueue, defineTopic } from '../../src/contracts.js';
import { Consumer, consumerDefinitionsOf, Handle } from '../../src/decorators.js';
import type { Envelope } from '../../src/envelope.js';
import { InvalidOptionError, isSwitchyardError } from '../../src/errors.js';
import type { HandlerContext } from '../../src/handlers.js';
import { silentLogger } from '../../src/logger.js';
import { ack, deadLetter } from '../../src/outcome.js';
import { compile, MODES } from './transpile.js';

const OrderPlaced = defineEvent({
  name: 'OrderPlaced',
  schema: z.object({ orderId: z.string() }),
  key: (p) => p.orderId,
});
const OrderCancelled = defineEvent({
  name: 'OrderCancelled',
  schema: z.object({ orderId: z.string() }),
  key: (p) => p.orderId,
});
const OrderShipped = defineEvent({
  name: 'OrderShipped',
  schema: z.object({ orderId: z.string() }),
  key: (p) => p.orderId,
});
const ChargeCard = defineCommand({
  name: 'ChargeCard',
  schema: z.object({ orderId: z.string() }),
  key: (p) => p.orderId,
});
const orders = defineTopic({ name: 'orders', events: [OrderPlaced, OrderCancelled] });
const shipments = defineTopic({ name: 'shipments', events: [OrderShipped] });
const payments = defineQueue({ name: 'payments', commands: [ChargeCard] });
const fixture = { ack, deadLetter, OrderPlaced, OrderCancelled, OrderShipped, ChargeCard, orders, shipments, payments };

const HEADER = `import { Consumer, Handle } from '@switchyard/core';
import { ack, deadLetter, OrderPlaced, OrderCancelled, OrderShipped, ChargeCard, orders, shipments, payments } from 'fixture';`;

function envelope(type: string, orderId: string): Envelope<{ orderId: string }> {
  return {
    id: `${type}-${orderId}`,
    type,
    key: orderId,
    payload: { orderId },
    headers: {},
    timestamp: 0,
    attempt: 2,
    correlationId: undefined,
    causationId: undefined,
    traceContext: {},
    source: { kind: 'log', topic: 'orders', partition: 0, offset: '7' },
    schemaVersion: 1,
  };
}
const context: HandlerContext = { signal: new AbortController().signal, attempt: 2, logger: silentLogger };

/** The error a thunk throws, asserted to be an InvalidOptionError. */
function invalidOption(thunk: () => unknown): InvalidOptionError {
  try {
    thunk();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(isSwitchyardError(error) && error.code).toBe('SWITCHYARD_INVALID_OPTION');
    return error as InvalidOptionError;
  }
  throw new Error('expected an InvalidOptionError, nothing was thrown');
}

describe.each(MODES)('decorated consumer classes (%s decorators)', (mode) => {
  const load = (body: string) => compile(mode, `${HEADER}\n${body}`, fixture).exports;

  it('compiles with the helpers of its mode', () => {
    const { js } = compile(
      mode,
      `${HEADER}\n@Consumer(orders, { group: 'g' }) export class C { @Handle(OrderPlaced) m() {} }`,
      fixture,
    );
    if (mode === 'standard') {
      expect(js).toContain('__esDecorate');
      expect(js).not.toMatch(/__decorate\(/);
    } else {
      expect(js).toMatch(/__decorate\(/);
      expect(js).not.toContain('__esDecorate');
    }
  });

  it('turns the class into a definition with its channel, options and one handler per decorated method', () => {
    const { Billing } = load(`
      @Consumer(orders, { group: 'billing', maxInFlight: 8 })
      export class Billing {
        @Handle(OrderPlaced, { timeoutMs: 5000, downstream: 'ledger' })
        async onPlaced() {}
        @Handle(OrderCancelled)
        onCancelled() {}
        notAHandler() {}
      }`);
    const definitions = consumerDefinitionsOf(new Billing());
    expect(definitions).toHaveLength(1);
    const [definition] = definitions;
    expect(definition!.channel).toBe(orders);
    expect(definition!.options).toEqual({ group: 'billing', maxInFlight: 8 });
    expect(definition!.handlers.map((h) => [h.contract, h.options])).toEqual([
      [OrderPlaced, { timeoutMs: 5000, downstream: 'ledger' }],
      [OrderCancelled, {}],
    ]);
  });

  it('calls the decorated method on the instance, with the message and context, and returns its outcome', async () => {
    const { Billing } = load(`
      @Consumer(orders, { group: 'billing' })
      export class Billing {
        constructor(ledger) { this.ledger = ledger; }
        @Handle(OrderPlaced)
        async onPlaced(message, context) {
          this.ledger.push(['placed', message.payload.orderId, context.attempt]);
          return ack();
        }
        @Handle(OrderCancelled)
        onCancelled(message) {
          this.ledger.push(['cancelled', message.payload.orderId]);
          return deadLetter('cancelled orders are not billed');
        }
      }`);
    const ledger: unknown[] = [];
    const [definition] = consumerDefinitionsOf(new Billing(ledger));
    const byType = new Map(definition!.handlers.map((h) => [h.contract.name, h]));

    await expect(byType.get('OrderPlaced')!.handle(envelope('OrderPlaced', 'o-1'), context)).resolves.toEqual(ack());
    expect(await byType.get('OrderCancelled')!.handle(envelope('OrderCancelled', 'o-2'), context)).toEqual(
      deadLetter('cancelled orders are not billed'),
    );
    expect(ledger).toEqual([
      ['placed', 'o-1', 2],
      ['cancelled', 'o-2'],
    ]);
  });

  it('binds each definition to its own instance', async () => {
    const { Counter } = load(`
      @Consumer(orders, { group: 'g' })
      export class Counter {
        count = 0;
        @Handle(OrderPlaced) onPlaced() { this.count += 1; }
      }`);
    const a = new Counter();
    const b = new Counter();
    await consumerDefinitionsOf(a)[0]!.handlers[0]!.handle(envelope('OrderPlaced', 'o'), context);
    expect([a.count, b.count]).toEqual([1, 0]);
  });

  it('includes handlers of base classes and calls the subclass override', async () => {
    const { Shipping } = load(`
      export class Audited {
        seen = [];
        @Handle(OrderCancelled) onCancelled(m) { this.seen.push('base:' + m.type); }
        @Handle(OrderPlaced) onPlaced(m) { this.seen.push('base:' + m.type); }
      }
      @Consumer(orders, { group: 'shipping' })
      export class Shipping extends Audited {
        onPlaced(m) { this.seen.push('override:' + m.type); }
      }`);
    const shipping = new Shipping();
    const [definition] = consumerDefinitionsOf(shipping);
    for (const h of definition!.handlers) await h.handle(envelope(h.contract.name, 'o'), context);
    expect(definition!.handlers.map((h) => h.contract.name).sort()).toEqual(['OrderCancelled', 'OrderPlaced']);
    expect(shipping.seen.sort()).toEqual(['base:OrderCancelled', 'override:OrderPlaced']);
  });

  it('lets a subclass redecorate a method, replacing the types the base class gave it', () => {
    const { Sub } = load(`
      export class Base { @Handle(OrderPlaced) on() {} }
      @Consumer(orders, { group: 'g' })
      export class Sub extends Base { @Handle(OrderCancelled) on() {} }`);
    const [definition] = consumerDefinitionsOf(new Sub());
    expect(definition!.handlers.map((h) => h.contract.name)).toEqual(['OrderCancelled']);
  });

  it('handles several types in one method and splits handlers between several @Consumer channels', async () => {
    const { Fulfilment } = load(`
      @Consumer(orders, { group: 'fulfilment' })
      @Consumer(payments, { group: 'fulfilment' })
      export class Fulfilment {
        seen = [];
        @Handle(OrderPlaced)
        @Handle(OrderCancelled)
        onOrder(m) { this.seen.push(m.type); }
        @Handle(ChargeCard) onCharge(m) { this.seen.push(m.type); }
      }`);
    const fulfilment = new Fulfilment();
    const definitions = consumerDefinitionsOf(fulfilment);
    expect(definitions.map((d) => [d.channel.name, d.handlers.map((h) => h.contract.name).sort()])).toEqual([
      ['orders', ['OrderCancelled', 'OrderPlaced']],
      ['payments', ['ChargeCard']],
    ]);
    for (const d of definitions) for (const h of d.handlers) await h.handle(envelope(h.contract.name, 'o'), context);
    expect(fulfilment.seen.sort()).toEqual(['ChargeCard', 'OrderCancelled', 'OrderPlaced']);
  });

  it('refuses a class with @Handle methods but no @Consumer, naming the class and the methods', () => {
    const { Forgotten } = load(`
      export class Forgotten {
        @Handle(OrderPlaced) onPlaced() {}
        @Handle(OrderCancelled) onCancelled() {}
      }`);
    const error = invalidOption(() => consumerDefinitionsOf(new Forgotten()));
    expect(error.option).toBe('@Consumer');
    expect(error.message).toContain('Forgotten has @Handle methods (onPlaced, onCancelled) but no @Consumer');
  });

  it('refuses a @Handle whose contract the channel does not carry', () => {
    const { Billing } = load(`
      @Consumer(orders, { group: 'billing' })
      export class Billing {
        @Handle(OrderPlaced) onPlaced() {}
        @Handle(OrderShipped) onShipped() {}
      }`);
    const error = invalidOption(() => consumerDefinitionsOf(new Billing()));
    expect(error.option).toBe('@Handle');
    expect(error.message).toContain(
      "Billing.onShipped handles 'OrderShipped', which topic 'orders' (OrderPlaced, OrderCancelled) carries",
    );
  });

  it('refuses two methods handling one message type', () => {
    const { Billing } = load(`
      @Consumer(orders, { group: 'billing' })
      export class Billing {
        @Handle(OrderPlaced) first() {}
        @Handle(OrderPlaced) second() {}
      }`);
    const error = invalidOption(() => consumerDefinitionsOf(new Billing()));
    expect(error.message).toMatch(/Billing\.(first|second) and Billing\.(first|second) both handle 'OrderPlaced'/);
    const { Twice } = load(`
      @Consumer(orders, { group: 'g' })
      export class Twice { @Handle(OrderPlaced) @Handle(OrderPlaced) on() {} }`);
    expect(invalidOption(() => consumerDefinitionsOf(new Twice())).message).toContain(
      "Twice.on has @Handle for 'OrderPlaced' twice",
    );
  });

  it('refuses a @Consumer without @Handle methods, and a channel none of the handlers serves', () => {
    const { Empty, Partly } = load(`
      @Consumer(orders, { group: 'g' }) export class Empty { on() {} }
      @Consumer(orders, { group: 'g' }) @Consumer(shipments, { group: 'g' })
      export class Partly { @Handle(OrderPlaced) on() {} }`);
    expect(invalidOption(() => consumerDefinitionsOf(new Empty())).message).toContain(
      'Empty is a @Consumer with no @Handle methods',
    );
    expect(invalidOption(() => consumerDefinitionsOf(new Partly())).message).toContain(
      "Partly consumes topic 'shipments' (OrderShipped) but none of its @Handle methods handles a type it carries",
    );
  });

  it('refuses an instance of an undecorated class', () => {
    class Plain {}
    expect(invalidOption(() => consumerDefinitionsOf(new Plain())).message).toContain(
      'Plain has no @Consumer and no @Handle methods',
    );
    expect(invalidOption(() => consumerDefinitionsOf(null as never)).option).toBe('consumerDefinitionsOf.instance');
  });

  it('refuses @Handle on a static method or a field, and @Consumer on a method, when the class is defined', () => {
    expect(invalidOption(() => load(`export class A { @Handle(OrderPlaced) static on() {} }`)).message).toContain(
      "static method 'on'",
    );
    expect(invalidOption(() => load(`export class A { @Handle(OrderPlaced) on = () => {}; }`)).message).toMatch(/'on'/);
    expect(invalidOption(() => load(`export class A { @Consumer(orders, { group: 'g' }) on() {} }`)).option).toBe(
      '@Consumer',
    );
  });

  it('refuses the same channel twice on one class', () => {
    const error = invalidOption(() =>
      load(
        `@Consumer(orders, { group: 'a' }) @Consumer(orders, { group: 'b' }) export class A { @Handle(OrderPlaced) on() {} }`,
      ),
    );
    expect(error.message).toContain("A consumes topic 'orders' twice");
  });

  it('refuses a method overwritten on the instance by a non-function', () => {
    const { Broken } = load(`
      @Consumer(orders, { group: 'g' })
      export class Broken {
        @Handle(OrderPlaced) on() {}
        constructor() { Object.defineProperty(this, 'on', { value: 42 }); }
      }`);
    expect(invalidOption(() => consumerDefinitionsOf(new Broken())).message).toContain(
      'Broken.on is not a function on the instance',
    );
  });
});

describe('decorator options, checked where the decorator is written', () => {
  it('refuses a missing or empty consumer group', () => {
    expect(invalidOption(() => Consumer(orders, {} as never)).option).toBe('@Consumer.options.group');
    expect(invalidOption(() => Consumer(orders, { group: '' })).option).toBe('@Consumer.options.group');
  });

  it('refuses something that is not a channel', () => {
    expect(invalidOption(() => Consumer({ name: 'orders' } as never, { group: 'g' })).option).toBe('@Consumer.channel');
  });

  it('refuses a non-contract and invalid handler options', () => {
    expect(invalidOption(() => Handle({} as never)).option).toBe('defineHandler.contract');
    expect(invalidOption(() => Handle(OrderPlaced, { timeoutMs: -1 })).option).toBe('timeoutMs');
  });
});

describe('standard decorators only', () => {
  it('handles with a #private method', async () => {
    const { Secretive } = compile(
      'standard',
      `${HEADER}
      @Consumer(orders, { group: 'g' })
      export class Secretive {
        seen = [];
        @Handle(OrderPlaced) #onPlaced(m) { this.seen.push(m.payload.orderId); }
      }`,
      fixture,
    ).exports;
    const secretive = new Secretive();
    const [definition] = consumerDefinitionsOf(secretive);
    await definition!.handlers[0]!.handle(envelope('OrderPlaced', 'o-9'), context);
    expect(secretive.seen).toEqual(['o-9']);
  });

  it('refuses @Handle on an accessor', () => {
    expect(
      invalidOption(() =>
        compile(
          'standard',
          `${HEADER}\nexport class A { @Handle(OrderPlaced) get on() { return () => {}; } }`,
          fixture,
        ),
      ).message,
    ).toContain("getter 'on'");
  });
});
