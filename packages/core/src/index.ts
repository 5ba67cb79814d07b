export type { Clock, RandomSource } from './clock.js';
export { assertClock, assertRandom, MAX_TIMER_MS, systemClock, systemRandom } from './clock.js';
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
export {
  DEAD_LETTER_HEADER_PREFIX,
  DeadLetterHeaders,
  deadLetterHeaderLimits,
  deadLetterHeaders,
  readDeadLetterHeaders,
  stripDeadLetterHeaders,
} from './dead-letter-headers.js';
export type { ConsumerClassOptions, ConsumerDecorator, ConsumerDefinition, HandleDecorator } from './decorators.js';
export { Consumer, consumerDefinitionsOf, Handle } from './decorators.js';
export type { Envelope, OutgoingMessage, RawMessage, SourcePosition, TraceContextCarrier } from './envelope.js';
export type { ErrorCode, SwitchyardErrorOptions } from './errors.js';
export {
  assertAbortSignal,
  assertMethods,
  causeChain,
  ErrorCodes,
  errorCodeOf,
  hasCode,
  InvalidOptionError,
  isOptionObject,
  isRetryable,
  isSwitchyardError,
  NonRetryableError,
  optionKindText,
  optionValueText,
  RetryableError,
  readableThrown,
  refuseUnknownKeys,
  SwitchyardError,
  shownValue,
} from './errors.js';
export type { MessageEventBase, SwitchyardEventName, SwitchyardEvents } from './events.js';
export { TypedEvents } from './events.js';
export type { HandlerContext, HandlerDefinition, HandlerFn, HandlerOptions, HandlerResult } from './handlers.js';
export { defineHandler } from './handlers.js';
export { setHeader } from './header-map.js';
export type {
  IdempotencyErrorContext,
  IdempotencyOptions,
  IdempotentRun,
} from './idempotency/idempotency.js';
export { Idempotency, idempotencyDefaults } from './idempotency/idempotency.js';
export type { MemoryIdempotencyStoreOptions, MemoryIdempotencyStoreStats } from './idempotency/memory-store.js';
export { MemoryIdempotencyStore } from './idempotency/memory-store.js';
export { canonicalText, payloadHash } from './idempotency/payload-hash.js';
export type {
  MemoryVersionStoreOptions,
  StaleCheck,
  VersionComparison,
  VersionStore,
} from './idempotency/stale-event-guard.js';
export { compareVersions, MemoryVersionStore, StaleEventGuard } from './idempotency/stale-event-guard.js';
export type { Linked } from './in-flight-list.js';
export { InFlightList } from './in-flight-list.js';
export type { HotKeyReport, KeyedSchedulerOptions, ScheduledTask } from './keyed-scheduler.js';
export { KeyedScheduler } from './keyed-scheduler.js';
export type { Logger } from './logger.js';
export { assertLogger, childLogger, silentLogger } from './logger.js';
export type {
  AppendRecord,
  DeadLetterEntry,
  DestinationKind,
  JoinGroupOptions,
  MemoryBrokerOptions,
  PartitionLag,
  PublishToBrokerOptions,
  RedriveOptions,
  RedriveResult,
  ResetGroupOptions,
} from './memory/broker.js';
export { MemoryBroker } from './memory/broker.js';
export type { GroupMemberListener, GroupMembership, PartitionAssignor } from './memory/consumer-group.js';
export type { FanoutEnvelope, FanoutFilter, FanoutSubscription, FanoutSubscriptionOptions } from './memory/fanout.js';
export { readFanoutEnvelope } from './memory/fanout.js';
export type {
  MemoryLogSubscription,
  MemoryLogSubscriptionOptions,
  MemoryLogTransportOptions,
} from './memory/log-transport.js';
export { MemoryLogTransport, memoryLogCapabilities } from './memory/log-transport.js';
export { partitionForKey } from './memory/partitioner.js';
export type {
  MemoryQueue,
  QueueDepth,
  QueueMessageState,
  QueueMessageView,
  QueueOptions,
  ReceivedMessage,
  ReceiveOptions,
  SendMessageInput,
  SendResult,
} from './memory/queue.js';
export { queueDefaults, queueLimits } from './memory/queue.js';
export type {
  MemoryQueueSubscription,
  MemoryQueueSubscriptionOptions,
  MemoryQueueTransportOptions,
} from './memory/queue-transport.js';
export { MemoryQueueTransport, memoryQueueCapabilities } from './memory/queue-transport.js';
export type { LogRecord, PartitionLog, TopicLog, TopicOptions } from './memory/topic-log.js';
export type { MemoryTransportOptions } from './memory/transport-shared.js';
export { memoryTransportDefaults } from './memory/transport-shared.js';
export { OffsetWatermark } from './offset-watermark.js';
export type { Outcome } from './outcome.js';
export { ack, deadLetter, isOutcome, retry } from './outcome.js';
export type {
  CircuitAcquire,
  CircuitBreakerOptions,
  CircuitBreakerSettings,
  CircuitBreakerSnapshot,
  CircuitBreakersOptions,
  CircuitPermit,
  CircuitState,
  CircuitStateChange,
} from './policies/circuit-breaker.js';
export { CircuitBreaker, CircuitBreakers, circuitBreakerDefaults } from './policies/circuit-breaker.js';
export type { RetryBudgetOptions, RetryBudgetSnapshot } from './policies/retry-budget.js';
export { RetryBudget, retryBudgetDefaults } from './policies/retry-budget.js';
export type {
  ResolvedBackoff,
  ResolvedRetryOverride,
  ResolvedRetryPolicyOptions,
  RetryDecision,
  RetryDecisionInput,
  RetryMatcher,
  RetryOverride,
  RetryPolicyOptions,
  RetryStopReason,
} from './policies/retry-policy.js';
export { RetryPolicy, retryPolicyDefaults } from './policies/retry-policy.js';
export type { TokenBucketOptions } from './policies/token-bucket.js';
export { TokenBucket } from './policies/token-bucket.js';
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
export type {
  App,
  AppHealth,
  AppOptions,
  AppStatus,
  BatchSendOptions,
  HandleSignalsOptions,
  PublishReceipt,
  SendOptions,
  ShutdownSignal,
  StopResult,
} from './runtime/app.js';
export { appDefaults, createApp } from './runtime/app.js';
export type { ConsumerHealth, ConsumerState } from './runtime/consumer.js';
export type { DeadLetterInput } from './runtime/dead-letter-record.js';
export { buildDeadLetterRecord, STACK_FRAMES_KEPT, trimStack } from './runtime/dead-letter-record.js';
export { currentMessage } from './runtime/message-scope.js';
export type { ConsumeOptions, ContractsOf, HandlerFor } from './runtime/options.js';
export { consumerDefaults } from './runtime/options.js';
export type { StandardSchemaV1 } from './standard-schema.js';
export { Attr as TelemetryAttributes, Metric as TelemetryMetrics } from './telemetry/attributes.js';
export type { TelemetryOptions } from './telemetry/telemetry.js';
export { errorTypeOf, INSTRUMENTATION_NAME } from './telemetry/telemetry.js';
export type { DecodeResult, EncodeOptions, TypeResolver } from './wire.js';
export { decodeRawMessage, encodeMessage, fallbackId, JSON_CONTENT_TYPE, WireHeaders } from './wire.js';
