import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { assertChannelFits, defineCommand, defineEvent, defineQueue, defineTopic } from '../src/contracts.js';
import { hasCode } from '../src/errors.js';

const OrderPlaced = defineEvent({
  name: 'OrderPlaced',
  schema: z.object({ orderId: z.string(), version: z.number().int() }),
  key: (p) => p.orderId,
  version: (p) => p.version,
});
const ChargeCard = defineCommand({
  name: 'ChargeCard',
  schema: z.object({ orderId: z.string(), cents: z.number().int().positive() }),
  key: (p) => p.orderId,
});

describe('contracts', () => {
  it('defines events and commands with their kind, key and version', () => {
    expect(OrderPlaced.kind).toBe('event');
    expect(ChargeCard.kind).toBe('command');
    expect(OrderPlaced.key({ orderId: 'o-1', version: 3 })).toBe('o-1');
    expect(OrderPlaced.version?.({ orderId: 'o-1', version: 3 })).toBe(3);
    expect(OrderPlaced.schemaVersion).toBe(1);
    expect(Object.isFrozen(OrderPlaced)).toBe(true);
  });

  it('validates payloads through the Standard Schema interface', async () => {
    const ok = await ChargeCard.schema['~standard'].validate({ orderId: 'o', cents: 5 });
    expect(ok.issues).toBeUndefined();
    const bad = await ChargeCard.schema['~standard'].validate({ orderId: 'o', cents: -5 });
    expect(bad.issues?.length).toBeGreaterThan(0);
  });

  it('rejects a definition without a schema, naming the option', () => {
    expect(() => defineEvent({ name: 'X', schema: {} as never, key: () => 'k' })).toThrow(
      /Invalid option 'defineEvent.schema'.*Fix: pass a zod schema/,
    );
    expect(() => defineCommand({ name: '', schema: z.object({}), key: () => 'k' })).toThrow(/defineCommand.name/);
    expect(() => defineEvent({ name: 'Y', schema: z.object({}), key: 'k' as never })).toThrow(/defineEvent.key/);
  });
});

describe('channels keep events and commands apart', () => {
  it('puts events on topics and commands on queues', () => {
    const orders = defineTopic({ name: 'orders', events: [OrderPlaced] });
    const payments = defineQueue({ name: 'payments', commands: [ChargeCard] });
    expect(orders.kind).toBe('topic');
    expect(payments.contracts).toEqual([ChargeCard]);
  });

  it('refuses a command on a topic and an event on a queue at run time', () => {
    let caught: unknown;
    try {
      defineTopic({ name: 'orders', events: [ChargeCard as never] });
    } catch (error) {
      caught = error;
    }
    expect(hasCode(caught, 'SWITCHYARD_CHANNEL_MISMATCH')).toBe(true);
    expect(String(caught)).toMatch(/command 'ChargeCard' cannot go on topic 'orders'/);
    expect(() => defineQueue({ name: 'payments', commands: [OrderPlaced as never] })).toThrow(
      /event 'OrderPlaced' cannot go on queue 'payments'/,
    );
    expect(() => assertChannelFits('queue', 'payments', ChargeCard)).not.toThrow();
  });

  it('makes the mismatch a type error where the types can see it', () => {
    // @ts-expect-error a command is not an event
    const wrong = () => defineTopic({ name: 'orders', events: [ChargeCard] });
    expect(wrong).toThrow();
  });
});
