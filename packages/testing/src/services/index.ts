// @switchyard/testing/services: the service providers alone (no vitest), for plain-node scripts
// such as `scripts/env.mjs` and the test orchestrator. The main entry re-exports all of it.
export {
  awsClientConfig,
  endpointsToEnv,
  formatEndpoints,
  parseEndpoints,
  requireService,
  servicesFromEnv,
  testEndpoints,
} from './endpoints.js';
export type { EnvironmentUpResult } from './environment.js';
export {
  environmentDown,
  environmentFile,
  environmentUp,
  isEnvironmentAlive,
  readEnvironment,
  stopRecordedServices,
} from './environment.js';
export { ServiceUnavailableError } from './errors.js';
export type { ContainerRuntimeProbe, ProviderDecision } from './provider-choice.js';
export { chooseProvider, detectContainerRuntime, providerFromEnv } from './provider-choice.js';
export { acquireServices, externalServices, startServices } from './start-services.js';
export type {
  AwsEndpoint,
  EndpointOf,
  Endpoints,
  KafkaEndpoint,
  ProviderChoice,
  ProviderName,
  RunningServices,
  ServiceHandle,
  ServiceName,
  ServicesRecord,
  StartServicesOptions,
  UrlEndpoint,
} from './types.js';
export { ProviderNames, ServiceNames } from './types.js';
