// Decorated consumer classes: `@Consumer(channel, options)` on a class and `@Handle(contract)` on its
// methods become the same ConsumerDefinition a plain `defineHandler` list gives.
//
// One set of decorators serves both TypeScript modes, told apart by how they are called:
//   standard (TC39 2023-11, TS >= 5.0 default)  method: (value, context)   class: (value, context)
//   legacy (`experimentalDecorators`, NestJS)    method: (target, key, descriptor)   class: (constructor)
// Records live on the decorated objects under `Symbol.for` keys (not in a module-local WeakMap), so a
// class decorated through one copy of @switchyard/core (say the ESM build) is read correctly by another
// (the CJS build a transport package loaded): the dual-package hazard.

import type { AnyContract, Channel } from './contracts.js';
import { InvalidOptionError } from './errors.js';
import { defineHandler, type HandlerDefinition, type HandlerFn, type HandlerOptions } from './handlers.js';
import type { ConsumeOptions } from './runtime/options.js';

// Node 20 and 22 have no Symbol.metadata, and then TypeScript hands standard decorators
// `context.metadata === undefined`. Install the registered symbol that esbuild and Babel already fall
// back to, so every compiler agrees on the key. It must exist before a decorated class is evaluated,
// which importing `Handle` from this module guarantees.
(Symbol as { metadata?: symbol }).metadata ??= Symbol.for('Symbol.metadata');
const metadataKey = (): symbol => (Symbol as { metadata?: symbol }).metadata ?? Symbol.for('Symbol.metadata');

const HANDLES = Symbol.for('switchyard.decorators.handles');
const CONSUMERS = Symbol.for('switchyard.decorators.consumers');

/** The consumer's options (`app.consume`) without its handlers, which the `@Handle` methods give. */
export type ConsumerClassOptions<C extends Channel = Channel> = Omit<ConsumeOptions<C>, 'handlers'>;

/** What `consumerDefinitionsOf` returns: one per `@Consumer` on the class; `{ ...options, handlers }` is a ConsumeOptions. */
export interface ConsumerDefinition {
  readonly channel: Channel;
  readonly options: ConsumerClassOptions;
  readonly handlers: HandlerDefinition[];
}

interface HandleRecord {
  readonly contract: AnyContract;
  readonly options: HandlerOptions;
  readonly method: string | symbol;
  /** Reads the method off an instance (a `#private` one too, through the standard `access.get`). */
  readonly read: (instance: object) => unknown;
}

interface ConsumerRecord {
  readonly channel: Channel;
  readonly options: ConsumerClassOptions;
}

type AnyClass = abstract new (...args: any[]) => object;

/** `@Consumer(...)`: a class decorator under both compile modes. */
export interface ConsumerDecorator {
  <T extends AnyClass>(value: T, context: ClassDecoratorContext<T>): void;
  <T extends AnyClass>(target: T): void;
}

/** `@Handle(contract)`: a method decorator under both compile modes; the method must fit `HandlerFn<C>`. */
export interface HandleDecorator<C extends AnyContract> {
  <This extends object, M extends HandlerFn<C>>(value: M, context: ClassMethodDecoratorContext<This, M>): void;
  <M extends HandlerFn<C>>(target: object, propertyKey: string | symbol, descriptor: TypedPropertyDescriptor<M>): void;
}

/** Marks a class as a consumer of `channel` in consumer group `options.group`. May be repeated for other channels. */
export function Consumer<C extends Channel>(channel: C, options: ConsumerClassOptions<C>): ConsumerDecorator {
  checkChannel(channel);
  if (typeof options !== 'object' || options === null || typeof options.group !== 'string' || options.group === '')
    throw new InvalidOptionError(
      '@Consumer.options.group',
      'must be a non-empty string',
      "name the consumer group, e.g. @Consumer(orders, { group: 'billing' })",
    );
  const record: ConsumerRecord = Object.freeze({ channel, options: Object.freeze({ ...options }) });

  return ((target: unknown, context?: unknown) => {
    if (isDecoratorContext(context)) {
      if (context.kind !== 'class')
        throw new InvalidOptionError(
          '@Consumer',
          `was put on ${context.kind} '${String(context.name)}'`,
          'put @Consumer on the class and @Handle on its methods',
        );
    } else if (typeof target !== 'function' || context !== undefined) {
      throw new InvalidOptionError(
        '@Consumer',
        `was put on member '${String(context)}'`,
        'put @Consumer on the class and @Handle on its methods',
      );
    }
    addConsumer(target as Function, record);
  }) as ConsumerDecorator;
}

/** Routes messages of `contract` to the decorated method, called with the instance as `this`. */
export function Handle<C extends AnyContract>(contract: C, options: HandlerOptions = {}): HandleDecorator<C> {
  // Validates the contract and the options now, where the stack points at the decorator.
  defineHandler(contract, () => {}, options);

  return ((target: unknown, context: unknown, descriptor?: unknown) => {
    if (isDecoratorContext(context)) {
      if (context.kind !== 'method')
        throw new InvalidOptionError(
          '@Handle',
          `was put on ${context.kind} '${String(context.name)}'`,
          'put @Handle on a method of the class',
        );
      if (context.static)
        throw new InvalidOptionError(
          '@Handle',
          `was put on static method '${String(context.name)}'`,
          'make the handler an instance method',
        );
      const metadata = context.metadata as object | undefined;
      if (!metadata)
        throw new InvalidOptionError(
          '@Handle',
          'got no decorator metadata object (Symbol.metadata is missing)',
          "define Symbol.metadata before decorated classes load: Symbol.metadata ??= Symbol.for('Symbol.metadata')",
        );
      const access = (context as ClassMethodDecoratorContext).access;
      ownList<HandleRecord>(metadata, HANDLES).push({
        contract,
        options,
        method: context.name,
        read: (instance) => access.get(instance),
      });
      return;
    }

    if (typeof context !== 'string' && typeof context !== 'symbol')
      throw new InvalidOptionError('@Handle', 'was put on a class or a parameter', 'put @Handle on a method');
    if (typeof target === 'function')
      throw new InvalidOptionError(
        '@Handle',
        `was put on static method '${String(context)}'`,
        'make the handler an instance method',
      );
    if (typeof (descriptor as PropertyDescriptor | undefined)?.value !== 'function')
      throw new InvalidOptionError(
        '@Handle',
        `was put on '${String(context)}', which is not a method`,
        'put @Handle on a method of the class',
      );
    const key = context;
    ownList<HandleRecord>(target as object, HANDLES).push({
      contract,
      options,
      method: key,
      read: (instance) => (instance as Record<string | symbol, unknown>)[key],
    });
  }) as HandleDecorator<C>;
}

/**
 * The consumers a decorated instance declares, each with handlers that call its methods bound to it.
 * Handlers inherited from base classes count; where a subclass decorates a method again, its own
 * `@Handle` list replaces the base class's for that method.
 */
export function consumerDefinitionsOf(instance: object): ConsumerDefinition[] {
  if (typeof instance !== 'object' || instance === null)
    throw new InvalidOptionError(
      'consumerDefinitionsOf.instance',
      `must be an instance of a class decorated with @Consumer, got ${instance === null ? 'null' : typeof instance}`,
      'pass new MyConsumer(...)',
    );
  const className = instance.constructor?.name || 'anonymous class';

  const byMethod = new Map<string | symbol, HandleRecord[]>();
  let consumers: readonly ConsumerRecord[] | undefined;
  for (let proto = Object.getPrototypeOf(instance); proto !== null && proto !== Object.prototype; ) {
    const ctor: unknown = Object.hasOwn(proto, 'constructor') ? proto.constructor : undefined;
    const own = [...ownRecords<HandleRecord>(proto, HANDLES)];
    if (typeof ctor === 'function') {
      const metadata: unknown = Object.hasOwn(ctor, metadataKey()) ? (ctor as any)[metadataKey()] : undefined;
      if (typeof metadata === 'object' && metadata !== null) own.push(...ownRecords<HandleRecord>(metadata, HANDLES));
      consumers ??= Object.hasOwn(ctor, CONSUMERS) ? ownRecords<ConsumerRecord>(ctor, CONSUMERS) : undefined;
    }
    const declaredHere = new Map<string | symbol, HandleRecord[]>();
    for (const r of own) declaredHere.set(r.method, [...(declaredHere.get(r.method) ?? []), r]);
    for (const [method, records] of declaredHere) if (!byMethod.has(method)) byMethod.set(method, records);
    proto = Object.getPrototypeOf(proto);
  }

  const methodNames = [...byMethod.keys()].map(String);
  if (!consumers) {
    if (methodNames.length === 0)
      throw new InvalidOptionError(
        'consumerDefinitionsOf.instance',
        `${className} has no @Consumer and no @Handle methods`,
        'decorate the class with @Consumer(channel, { group }) and its handler methods with @Handle(contract)',
      );
    throw new InvalidOptionError(
      '@Consumer',
      `${className} has @Handle methods (${methodNames.join(', ')}) but no @Consumer`,
      `add @Consumer(channel, { group }) to class ${className}`,
    );
  }
  if (methodNames.length === 0)
    throw new InvalidOptionError(
      '@Handle',
      `${className} is a @Consumer with no @Handle methods`,
      'decorate each handler method with @Handle(contract)',
    );

  const methodOfType = new Map<string, string | symbol>();
  const handlersByConsumer = consumers.map(() => [] as HandlerDefinition[]);
  for (const [method, records] of byMethod) {
    const fn = records[0]!.read(instance);
    if (typeof fn !== 'function')
      throw new InvalidOptionError(
        '@Handle',
        `${className}.${String(method)} is not a function on the instance`,
        'keep decorated handlers as methods; do not overwrite them with fields',
      );
    for (const record of records) {
      const type = record.contract.name;
      const taken = methodOfType.get(type);
      if (taken !== undefined)
        throw new InvalidOptionError(
          '@Handle',
          taken === method
            ? `${className}.${String(method)} has @Handle for '${type}' twice`
            : `${className}.${String(taken)} and ${className}.${String(method)} both handle '${type}'`,
          'handle each message type in one method, once',
        );
      methodOfType.set(type, method);

      const handle: HandlerFn<AnyContract> = (message, context) => fn.call(instance, message, context);
      const handler = defineHandler(record.contract, handle, record.options);
      let placed = false;
      consumers.forEach((consumer, i) => {
        if (consumer.channel.contracts.some((c) => c.name === type)) {
          handlersByConsumer[i]!.push(handler);
          placed = true;
        }
      });
      if (!placed)
        throw new InvalidOptionError(
          '@Handle',
          `${className}.${String(method)} handles '${type}', which ${consumers.map(describeChannel).join(' nor ')} carries`,
          `add '${type}' to the channel's contracts, or consume the channel that carries it`,
        );
    }
  }

  return consumers.map((consumer, i) => {
    const handlers = handlersByConsumer[i]!;
    if (handlers.length === 0)
      throw new InvalidOptionError(
        '@Consumer',
        `${className} consumes ${describeChannel(consumer)} but none of its @Handle methods handles a type it carries`,
        'add a @Handle method for one of its types, or remove that @Consumer',
      );
    return { channel: consumer.channel, options: consumer.options, handlers };
  });
}

function describeChannel({ channel }: ConsumerRecord): string {
  return `${channel.kind} '${channel.name}' (${channel.contracts.map((c) => c.name).join(', ') || 'no types'})`;
}

function checkChannel(channel: Channel): void {
  const ok =
    typeof channel === 'object' &&
    channel !== null &&
    (channel.kind === 'topic' || channel.kind === 'queue') &&
    typeof channel.name === 'string' &&
    Array.isArray(channel.contracts);
  if (!ok)
    throw new InvalidOptionError(
      '@Consumer.channel',
      'is not a channel',
      'pass the result of defineTopic() or defineQueue()',
    );
}

function addConsumer(target: Function, record: ConsumerRecord): void {
  const list = ownList<ConsumerRecord>(target, CONSUMERS);
  const same = list.find((c) => c.channel.name === record.channel.name && c.channel.kind === record.channel.kind);
  if (same)
    throw new InvalidOptionError(
      '@Consumer',
      `${target.name || 'the class'} consumes ${record.channel.kind} '${record.channel.name}' twice`,
      'keep one @Consumer per channel on a class; use another class for a second group',
    );
  // Decorators apply bottom-up: prepend so the list reads in source order.
  list.unshift(record);
}

function isDecoratorContext(value: unknown): value is DecoratorContext {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { kind?: unknown }).kind === 'string' &&
    typeof (value as { addInitializer?: unknown }).addInitializer === 'function'
  );
}

function ownList<T>(holder: object, key: symbol): T[] {
  if (!Object.hasOwn(holder, key))
    Object.defineProperty(holder, key, { value: [], enumerable: false, configurable: true, writable: false });
  return (holder as Record<symbol, T[]>)[key]!;
}

function ownRecords<T>(holder: object, key: symbol): readonly T[] {
  return Object.hasOwn(holder, key) ? (holder as Record<symbol, T[]>)[key]! : [];
}
