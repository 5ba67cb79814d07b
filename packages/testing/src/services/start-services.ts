// The one entry point for real services in tests: pick a provider, start (or find) the services,
// hand back their endpoints and fault hooks.

import { InvalidOptionError, optionValueText } from '@switchyard/core';
import { startContainerServices } from './containers/containers-provider.js';
import { servicesFromEnv } from './endpoints.js';
import { ServiceUnavailableError } from './errors.js';
import { startLocalServices } from './local/local-provider.js';
import { chooseProvider } from './provider-choice.js';
import {
  type Endpoints,
  type RunningServices,
  type ServiceName,
  ServiceNames,
  type ServicesRecord,
  type StartServicesOptions,
} from './types.js';

const VARIABLES: Record<ServiceName, string> = {
  kafka: 'KAFKA_BROKERS',
  sqs: 'AWS_ENDPOINT_URL_SQS',
  sns: 'AWS_ENDPOINT_URL_SNS',
  sqsMoto: 'SWITCHYARD_SQS_MOTO_ENDPOINT (or AWS_ENDPOINT_URL_SNS)',
  redis: 'REDIS_URL',
  postgres: 'DATABASE_URL',
};

function stderrLog(line: string): void {
  process.stderr.write(`[switchyard services] ${line}\n`);
}

function checkServices(services: readonly ServiceName[] | undefined): ServiceName[] {
  const list = [...new Set(services ?? ServiceNames)];
  for (const s of list) {
    if (!(ServiceNames as readonly string[]).includes(s)) {
      throw new InvalidOptionError(
        'services',
        `'${optionValueText(s)}' is not a service`,
        `use some of ${ServiceNames.join(', ')}`,
      );
    }
  }
  if (list.length === 0)
    throw new InvalidOptionError('services', 'is empty', 'name at least one service or leave it out');
  return list;
}

/**
 * Starts the services (default: all) with the chosen provider and resolves once each answers a
 * real request. Call `stop()` when done; without `detached`, a watchdog also cleans up if this
 * process dies first.
 */
export async function startServices(options: StartServicesOptions = {}): Promise<RunningServices> {
  const env = options.env ?? process.env;
  const services = checkServices(options.services);
  const log = options.log ?? stderrLog;
  const decision = await chooseProvider(options.provider, env);
  log(`provider ${decision.provider}: ${decision.reason}`);
  switch (decision.provider) {
    case 'external':
      return externalServices(services, env);
    case 'local':
      return startLocalServices({ services, log, detached: options.detached ?? false });
    case 'containers':
      return startContainerServices({ services, log, detached: options.detached ?? false });
  }
}

/** Services someone else runs, from SWITCHYARD_ENDPOINTS or the per-service variables. */
export function externalServices(
  services: readonly ServiceName[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): RunningServices {
  const all = servicesFromEnv(env);
  const missing = services.filter((s) => all[s] === undefined);
  if (missing.length > 0) {
    throw new ServiceUnavailableError(
      missing.join(', '),
      `the external provider has no endpoint; set SWITCHYARD_ENDPOINTS or ${missing.map((s) => VARIABLES[s]).join(', ')}`,
    );
  }
  const endpoints: Endpoints = Object.fromEntries(services.map((s) => [s, all[s]]));
  const startedAt = new Date().toISOString();
  return {
    provider: 'external',
    endpoints,
    record: (): ServicesRecord => ({
      version: 1,
      provider: 'external',
      endpoints,
      startedAt,
      processes: [],
      runDir: undefined,
      containers: [],
    }),
    stop: async () => undefined,
  };
}

/**
 * For a test file: the services it names, reusing the environment this process was given
 * (SWITCHYARD_ENDPOINTS, set by `npm test` or from `npm run env:up`) and starting only what that
 * lacks. `stop()` stops only what this call started.
 */
export async function acquireServices(
  services: readonly ServiceName[],
  options: Omit<StartServicesOptions, 'services'> = {},
): Promise<RunningServices> {
  const env = options.env ?? process.env;
  const wanted = checkServices(services);
  const given = servicesFromEnv(env);
  const missing = wanted.filter((s) => given[s] === undefined);
  const reused = externalServices(
    wanted.filter((s) => given[s] !== undefined),
    env,
  );
  if (missing.length === 0) return reused;
  const started = await startServices({ ...options, services: missing });
  const endpoints: Endpoints = { ...reused.endpoints, ...started.endpoints };
  return {
    ...started,
    endpoints,
    record: () => ({ ...started.record(), endpoints }),
  };
}
