// Time and randomness
export { flushPromises, ManualClock } from './clock/manual-clock.js';
export { seededRandom } from './clock/seeded-random.js';
// Conformance suites
export type {
  IdempotencyConformanceOptions,
  IdempotencyStoreFactory,
  IdempotencyStoreFixture,
} from './conformance/idempotency-suite.js';
export { describeIdempotencyStoreConformance } from './conformance/idempotency-suite.js';
export type { OptionMutation, OptionMutationSpace, OptionPath } from './conformance/option-fuzz.js';
export {
  applyOptionMutations,
  assertOptionMutations,
  expectReturnsOrNamesAMutation,
  optionError,
  optionGarbage,
  optionMutations,
} from './conformance/option-fuzz.js';
export type {
  ConformanceDestination,
  DestinationOptions,
  TransportConformanceFactory,
  TransportConformanceFixture,
  TransportConformanceOptions,
} from './conformance/transport/fixture.js';
export { describeTransportConformance } from './conformance/transport/transport-suite.js';
// Fault injection
export type {
  CallStatus,
  ErrorSource,
  Fault,
  FaultCallInfo,
  FaultInterceptor,
  FaultRecord,
  FaultyHandler,
  HandlerCall,
  HandlerLike,
  HangOptions,
  MessageOf,
} from './faults/fault-injector.js';
export { faults, injectFaults, withFaults } from './faults/fault-injector.js';
// Unique names and cleanup
export type { CleanupFn } from './names/test-resources.js';
export { TestResources } from './names/test-resources.js';
export type { UniqueNameOptions } from './names/unique-name.js';
export { fifoName, MAX_NAME_LENGTH, uniqueName } from './names/unique-name.js';
// Real services: providers, endpoints, the env:up environment (also `@switchyard/testing/services`)
export type {
  AwsEndpoint,
  ContainerRuntimeProbe,
  EndpointOf,
  Endpoints,
  EnvironmentUpResult,
  KafkaEndpoint,
  ProviderChoice,
  ProviderDecision,
  ProviderName,
  RunningServices,
  ServiceHandle,
  ServiceName,
  ServicesRecord,
  StartServicesOptions,
  UrlEndpoint,
} from './services/index.js';
export {
  acquireServices,
  awsClientConfig,
  chooseProvider,
  detectContainerRuntime,
  endpointsToEnv,
  environmentDown,
  environmentFile,
  environmentUp,
  externalServices,
  formatEndpoints,
  isEnvironmentAlive,
  ProviderNames,
  parseEndpoints,
  providerFromEnv,
  readEnvironment,
  requireService,
  ServiceNames,
  ServiceUnavailableError,
  servicesFromEnv,
  startServices,
  stopRecordedServices,
  testEndpoints,
} from './services/index.js';
// Spies
export type { WaitOptions } from './spies/event-log.js';
export { WaitTimeoutError } from './spies/event-log.js';
export type { SwitchyardEventSource } from './spies/event-source.js';
// Waiting on conditions
export type { LogEntry, LogLevel, LogRecorderOptions } from './spies/log-recorder.js';
export { LogRecorder, recordLogs } from './spies/log-recorder.js';
export type {
  MessageOutcome,
  MessageOutcomeEvent,
  MessageSpyOptions,
  MessageWaitOptions,
  OutcomeCounts,
  RecordedOutcome,
} from './spies/message-spy.js';
export { MESSAGE_OUTCOMES, MessageSpy, spyOn } from './spies/message-spy.js';
export type { PublishSpyOptions, SentMessage } from './spies/publish-spy.js';
export { PublishSpy, spyOnPublishes } from './spies/publish-spy.js';
export { waitUntil } from './wait/wait-until.js';
