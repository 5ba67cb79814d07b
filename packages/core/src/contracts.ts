// Message contracts and channels. An event states a fact and goes on a topic; a command requests an
// action and goes on a queue. The types keep them apart where they can see it; `assertChannelFits`
// keeps them apart at run time where they cannot (plain JavaScript, `any`).

import {
  InvalidOptionError,
  isOptionObject,
  optionKindText,
  optionValueText,
  refuseUnknownKeys,
  SwitchyardError,
} from './errors.js';
import type { StandardSchemaV1 } from './standard-schema.js';

export type MessageKind = 'event' | 'command';

export interface MessageContract<
  TKind extends MessageKind = MessageKind,
  TName extends string = string,
  TPayload = unknown,
> {
  readonly kind: TKind;
  /** The message type written on the wire (`sy-type`). Unique within an app. */
  readonly name: TName;
  readonly schema: StandardSchemaV1<unknown, TPayload>;
  /** What must stay in order shares a key. */
  readonly key: (payload: TPayload) => string;
  /** For stale-event rejection: a monotonically increasing version of the entity the event describes. */
  readonly version: ((payload: TPayload) => number | bigint) | undefined;
  /** The contract's own schema version, written on the wire (`sy-schema-version`). */
  readonly schemaVersion: number;
}

export type EventContract<TName extends string = string, TPayload = unknown> = MessageContract<
  'event',
  TName,
  TPayload
>;
export type CommandContract<TName extends string = string, TPayload = unknown> = MessageContract<
  'command',
  TName,
  TPayload
>;
export type AnyContract = MessageContract<MessageKind, string, any>;
export type PayloadOf<C> = C extends MessageContract<MessageKind, string, infer P> ? P : never;

export interface ContractDefinition<TName extends string, TSchema extends StandardSchemaV1> {
  readonly name: TName;
  readonly schema: TSchema;
  readonly key: (payload: StandardSchemaV1.InferOutput<TSchema>) => string;
  readonly version?: (payload: StandardSchemaV1.InferOutput<TSchema>) => number | bigint;
  readonly schemaVersion?: number;
}

function define<TKind extends MessageKind, TName extends string, TSchema extends StandardSchemaV1>(
  kind: TKind,
  def: ContractDefinition<TName, TSchema>,
): MessageContract<TKind, TName, StandardSchemaV1.InferOutput<TSchema>> {
  const fn = kind === 'event' ? 'defineEvent' : 'defineCommand';
  checkDefinition(fn, def, CONTRACT_KEYS, "{ name: 'OrderPlaced', schema, key: (p) => p.orderId }");
  if (typeof def.name !== 'string' || def.name.length === 0)
    throw new InvalidOptionError(
      `${fn}.name`,
      'must be a non-empty string',
      "give the message type a name such as 'OrderPlaced'",
    );
  if (!def.schema || typeof (def.schema as Partial<StandardSchemaV1>)['~standard']?.validate !== 'function')
    throw new InvalidOptionError(
      `${fn}.schema`,
      'is not a Standard Schema (zod 4 or zod >= 3.24)',
      'pass a zod schema, e.g. z.object({...})',
    );
  if (typeof def.key !== 'function')
    throw new InvalidOptionError(`${fn}.key`, 'must be a function of the payload', 'pass key: (p) => p.orderId');
  if (def.version !== undefined && typeof def.version !== 'function')
    throw new InvalidOptionError(
      `${fn}.version`,
      'must be a function of the payload',
      'pass version: (p) => p.version',
    );
  if (def.schemaVersion !== undefined && !(Number.isSafeInteger(def.schemaVersion) && def.schemaVersion >= 1))
    throw new InvalidOptionError(
      `${fn}.schemaVersion`,
      `must be a whole number, 1 or more, got ${optionValueText(def.schemaVersion)}`,
      'pass e.g. schemaVersion: 2, or leave it out for 1',
    );
  return Object.freeze({
    kind,
    name: def.name,
    schema: def.schema as StandardSchemaV1<unknown, StandardSchemaV1.InferOutput<TSchema>>,
    key: def.key,
    version: def.version,
    schemaVersion: def.schemaVersion ?? 1,
  });
}

export function defineEvent<TName extends string, TSchema extends StandardSchemaV1>(
  def: ContractDefinition<TName, TSchema>,
): EventContract<TName, StandardSchemaV1.InferOutput<TSchema>> {
  return define('event', def);
}

export function defineCommand<TName extends string, TSchema extends StandardSchemaV1>(
  def: ContractDefinition<TName, TSchema>,
): CommandContract<TName, StandardSchemaV1.InferOutput<TSchema>> {
  return define('command', def);
}

export type ChannelKind = 'topic' | 'queue';

/** A topic carries events (Kafka topic, SNS topic); a queue carries commands (SQS queue). */
export interface Channel<TKind extends ChannelKind = ChannelKind, TContracts extends AnyContract = AnyContract> {
  readonly kind: TKind;
  /** Destination name on the transport: Kafka topic, SQS queue name, SNS topic name. */
  readonly name: string;
  readonly contracts: readonly TContracts[];
}

export type Topic<TEvents extends EventContract<string, any> = EventContract<string, any>> = Channel<'topic', TEvents>;
export type Queue<TCommands extends CommandContract<string, any> = CommandContract<string, any>> = Channel<
  'queue',
  TCommands
>;

export function defineTopic<const TEvents extends readonly EventContract<string, any>[]>(def: {
  name: string;
  events: TEvents;
}): Topic<TEvents[number]> {
  checkDefinition('defineTopic', def, ['name', 'events'], "{ name: 'orders', events: [OrderPlaced] }");
  if (typeof def.name !== 'string' || def.name.length === 0)
    throw new InvalidOptionError('defineTopic.name', 'must be a non-empty string', "name the topic, e.g. 'orders'");
  checkContracts('defineTopic.events', def.events, 'events', 'topic', def.name);
  return Object.freeze({ kind: 'topic', name: def.name, contracts: Object.freeze([...def.events]) });
}

export function defineQueue<const TCommands extends readonly CommandContract<string, any>[]>(def: {
  name: string;
  commands: TCommands;
}): Queue<TCommands[number]> {
  checkDefinition('defineQueue', def, ['name', 'commands'], "{ name: 'payments', commands: [ChargeCard] }");
  if (typeof def.name !== 'string' || def.name.length === 0)
    throw new InvalidOptionError('defineQueue.name', 'must be a non-empty string', "name the queue, e.g. 'payments'");
  checkContracts('defineQueue.commands', def.commands, 'commands', 'queue', def.name);
  return Object.freeze({ kind: 'queue', name: def.name, contracts: Object.freeze([...def.commands]) });
}

const CONTRACT_KEYS: readonly string[] = ['name', 'schema', 'key', 'version', 'schemaVersion'];

/** A definition that is not an object, or holds a misspelt key, fails naming it instead of being ignored. */
function checkDefinition(fn: string, def: unknown, known: readonly string[], example: string): void {
  if (!isOptionObject(def))
    throw new InvalidOptionError(fn, `expects a definition object, got ${optionKindText(def)}`, `pass ${example}`);
  refuseUnknownKeys(def, known, `a ${fn}`, (key) => `${fn}.${key}`);
}

/**
 * A channel's contracts: a non-empty array of the right kind, each type name once. Consumers find a
 * message's contract by its type name, so two contracts of one name could not be told apart.
 */
function checkContracts(
  option: string,
  contracts: unknown,
  what: string,
  channelKind: ChannelKind,
  channelName: string,
): void {
  if (!Array.isArray(contracts) || contracts.length === 0)
    throw new InvalidOptionError(
      option,
      `must be a non-empty array of ${what}, got ${Array.isArray(contracts) ? 'an empty array' : optionKindText(contracts)}`,
      `list the ${what} the ${channelKind} carries, e.g. ${what}: [${channelKind === 'topic' ? 'OrderPlaced' : 'ChargeCard'}]`,
    );
  const names = new Set<string>();
  for (const c of contracts as AnyContract[]) {
    assertChannelFits(channelKind, channelName, c);
    if (names.has(c.name))
      throw new InvalidOptionError(
        option,
        `holds two contracts named '${c.name}': a consumer could not tell their messages apart`,
        'list each message type once (one contract per name)',
      );
    names.add(c.name);
  }
}

/** Events go to topics, commands to queues: refuse anything else with a clear error. */
export function assertChannelFits(channelKind: ChannelKind, channelName: string, contract: AnyContract): void {
  const expected: MessageKind = channelKind === 'topic' ? 'event' : 'command';
  if (contract?.kind !== expected) {
    throw new SwitchyardError(
      'SWITCHYARD_CHANNEL_MISMATCH',
      `${contract?.kind ?? 'unknown'} '${contract?.name ?? '?'}' cannot go on ${channelKind} '${channelName}': ` +
        `events are published to topics and commands are sent to queues`,
      { retryable: false },
    );
  }
}
