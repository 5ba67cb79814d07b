// Which provider runs the services: the caller's option, else SWITCHYARD_TEST_SERVICES, else
// containers when a container engine answers and local processes when none does.

import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InvalidOptionError, optionValueText } from '@switchyard/core';
import { canConnect } from './endpoints.js';
import { type ProviderChoice, type ProviderName, ProviderNames } from './types.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface ContainerRuntimeProbe {
  readonly available: boolean;
  /** Where the engine answered, or why none did: printed when container tests skip. */
  readonly reason: string;
}

export interface ProviderDecision {
  readonly provider: ProviderName;
  readonly reason: string;
}

const CHOICES: readonly string[] = [...ProviderNames, 'auto'];

/** The provider named by SWITCHYARD_TEST_SERVICES, checked; undefined when unset. */
export function providerFromEnv(env: Env = process.env): ProviderChoice | undefined {
  const value = env.SWITCHYARD_TEST_SERVICES?.trim();
  if (!value) return undefined;
  if (!CHOICES.includes(value)) {
    throw new InvalidOptionError(
      'SWITCHYARD_TEST_SERVICES',
      `'${value}' is not a provider`,
      `use one of ${CHOICES.join(', ')}`,
    );
  }
  return value as ProviderChoice;
}

export async function chooseProvider(
  option: ProviderChoice | undefined,
  env: Env = process.env,
  probe: (env: Env) => Promise<ContainerRuntimeProbe> = detectContainerRuntime,
): Promise<ProviderDecision> {
  if (option !== undefined && !CHOICES.includes(option)) {
    throw new InvalidOptionError(
      'provider',
      `'${optionValueText(option)}' is not a provider`,
      `use one of ${CHOICES.join(', ')}`,
    );
  }
  if (option !== undefined && option !== 'auto') return { provider: option, reason: 'chosen by the caller' };
  const fromEnv = providerFromEnv(env);
  if (fromEnv !== undefined && fromEnv !== 'auto') {
    return { provider: fromEnv, reason: `SWITCHYARD_TEST_SERVICES=${fromEnv}` };
  }
  const runtime = await probe(env);
  return runtime.available
    ? { provider: 'containers', reason: runtime.reason }
    : { provider: 'local', reason: `${runtime.reason}; using local processes` };
}

/** Unix sockets where Docker, Docker Desktop, Colima-style setups and Podman listen. */
export function containerSocketCandidates(env: Env = process.env): string[] {
  const home = env.HOME || homedir();
  const runtime = env.XDG_RUNTIME_DIR;
  return [
    '/var/run/docker.sock',
    join(home, '.docker', 'run', 'docker.sock'),
    join(home, '.docker', 'desktop', 'docker.sock'),
    ...(runtime ? [join(runtime, 'docker.sock'), join(runtime, 'podman', 'podman.sock')] : []),
    '/run/podman/podman.sock',
  ];
}

/** Asks the engine's `/_ping` (DOCKER_HOST first, then the usual sockets). Never throws. */
export async function detectContainerRuntime(env: Env = process.env): Promise<ContainerRuntimeProbe> {
  const dockerHost = env.DOCKER_HOST?.trim();
  if (dockerHost) {
    try {
      if (dockerHost.startsWith('unix://')) {
        const socket = dockerHost.slice('unix://'.length);
        await pingSocket(socket);
      } else if (/^(tcp|http|https):\/\//.test(dockerHost)) {
        const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
        await canConnect(url.hostname, Number(url.port || 2375), 2_000);
      } else {
        return { available: false, reason: `DOCKER_HOST=${dockerHost} is not a unix:// or tcp:// address` };
      }
      return { available: true, reason: `container engine at DOCKER_HOST=${dockerHost}` };
    } catch (error) {
      return { available: false, reason: `DOCKER_HOST=${dockerHost} does not answer (${(error as Error).message})` };
    }
  }
  const candidates = containerSocketCandidates(env);
  const present = candidates.filter((s) => existsSync(s));
  for (const socket of present) {
    try {
      await pingSocket(socket);
      return { available: true, reason: `container engine at ${socket}` };
    } catch {
      /* try the next one */
    }
  }
  return {
    available: false,
    reason:
      present.length === 0
        ? `no container engine: DOCKER_HOST is unset and none of ${candidates.join(', ')} exists`
        : `no container engine: ${present.join(', ')} did not answer /_ping`,
  };
}

function pingSocket(socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 2_000 }, (res) => {
      res.resume();
      if (res.statusCode === 200) resolve();
      else reject(new Error(`/_ping answered ${res.statusCode}`));
    });
    req.once('timeout', () => req.destroy(new Error('/_ping timed out')));
    req.once('error', reject);
    req.end();
  });
}
