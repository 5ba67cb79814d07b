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

// Unchecked: a null definition threw a TypeError, a misspelt key was ignored, a topic without events
// (or with `event:` misspelt) threw 'def.events is not iterable' or was accepted, and two contracts
// of one name were accepted though consumers find a contract by its name.
describe('definitions are checked when made', () => {
  const schema = z.object({ orderId: z.string() });
  const key = (p: { orderId: string }) => p.orderId;
  const Shipped = defineEvent({ name: 'OrderShipped', schema, key });
  it.each<[string, () => unknown, string]>([
    ['a null event definition', () => defineEvent(null as never), 'defineEvent'],
    [
      'a misspelt event key',
      () => defineEvent({ name: 'E', schema, key, verison: () => 1 } as never),
      'defineEvent.verison',
    ],
    [
      'a fractional schemaVersion',
      () => defineCommand({ name: 'C', schema, key, schemaVersion: 1.5 }),
      'defineCommand.schemaVersion',
    ],
    [
      'a schemaVersion of 0',
      () => defineEvent({ name: 'E', schema, key, schemaVersion: 0 }),
      'defineEvent.schemaVersion',
    ],
    [
      'a string schemaVersion',
      () => defineEvent({ name: 'E', schema, key, schemaVersion: '2' as never }),
      'defineEvent.schemaVersion',
    ],
    ['a topic without events', () => defineTopic({ name: 't', events: [] }), 'defineTopic.events'],
    ['a topic with events misspelt', () => defineTopic({ name: 't', event: [Shipped] } as never), 'defineTopic.event'],
    [
      'a topic with events as one contract',
      () => defineTopic({ name: 't', events: Shipped as never }),
      'defineTopic.events',
    ],
    [
      'a topic listing a contract twice',
      () => defineTopic({ name: 't', events: [Shipped, Shipped] }),
      'defineTopic.events',
    ],
    [
      'a topic with two contracts of one name',
      () => defineTopic({ name: 't', events: [Shipped, defineEvent({ name: 'OrderShipped', schema, key })] }),
      'defineTopic.events',
    ],
    ['a queue without commands', () => defineQueue({ name: 'q', commands: [] }), 'defineQueue.commands'],
    ['a null queue definition', () => defineQueue(null as never), 'defineQueue'],
  ])('refuses %s, naming %s', (_name, run, option) => {
    expect(run).toThrow(expect.objectContaining({ name: 'InvalidOptionError', option }));
  });

  it('still accepts what it did: schemaVersion 2, a topic of several events, a queue of one command', () => {
    expect(defineEvent({ name: 'E', schema, key, schemaVersion: 2 }).schemaVersion).toBe(2);
    expect(defineTopic({ name: 'orders', events: [OrderPlaced, Shipped] }).contracts).toHaveLength(2);
    expect(defineQueue({ name: 'payments', commands: [ChargeCard] }).contracts).toEqual([ChargeCard]);
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
