export type { Clock, RandomSource } from './clock.js';
export { systemClock, systemRandom } from './clock.js';
export type {
  AnyContract,
  Channel,
  ChannelKind,
  CommandContract,
  ContractDefinition,
  EventContract,
  MessageContract,
  MessageKind,
  PayloadOf,
  Queue,
  Topic,
} from './contracts.js';
export { assertChannelFits, defineCommand, defineEvent, defineQueue, defineTopic } from './contracts.js';
export type { DeadLetterError, DeadLetterReason, DeadLetterRecord } from './dead-letter.js';
export type { Envelope, OutgoingMessage, RawMessage, SourcePosition, TraceContextCarrier } from './envelope.js';
export type { ErrorCode, SwitchyardErrorOptions } from './errors.js';
export {
  causeChain,
  ErrorCodes,
  errorCodeOf,
  hasCode,
  InvalidOptionError,
  isRetryable,
  isSwitchyardError,
  NonRetryableError,
  RetryableError,
  SwitchyardError,
} from './errors.js';
export type { MessageEventBase, SwitchyardEventName, SwitchyardEvents } from './events.js';
export { TypedEvents } from './events.js';
export type { HandlerContext, HandlerDefinition, HandlerFn, HandlerOptions, HandlerResult } from './handlers.js';
export { defineHandler } from './handlers.js';
export type { Logger } from './logger.js';
export { childLogger, silentLogger } from './logger.js';
export type { Outcome } from './outcome.js';
export { ack, deadLetter, isOutcome, retry } from './outcome.js';
export type { ClaimRequest, ClaimResult, IdempotencyStore } from './ports/idempotency.js';
export type {
  Delivery,
  DeliverySemantics,
  DeliverySink,
  PublishOptions,
  Settlement,
  StartPosition,
  SubscriptionSpec,
  Transport,
  TransportCapabilities,
  TransportHealth,
  TransportObserver,
  TransportSubscription,
} from './ports/transport.js';
export type { StandardSchemaV1 } from './standard-schema.js';
