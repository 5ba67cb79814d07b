import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCode } from '@switchyard/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ContainerRuntimeProbe,
  chooseProvider,
  detectContainerRuntime,
  providerFromEnv,
} from '../../src/services/index.js';
import { containerSocketCandidates } from '../../src/services/provider-choice.js';

const engine = (available: boolean) => async (): Promise<ContainerRuntimeProbe> => ({
  available,
  reason: available ? 'engine at /fake.sock' : 'no engine here',
});

describe('chooseProvider', () => {
  it('takes the caller’s provider without probing', async () => {
    const probe = async (): Promise<ContainerRuntimeProbe> => {
      throw new Error('must not probe');
    };
    expect(await chooseProvider('local', { SWITCHYARD_TEST_SERVICES: 'containers' }, probe)).toEqual({
      provider: 'local',
      reason: 'chosen by the caller',
    });
  });

  it('takes SWITCHYARD_TEST_SERVICES when the caller says auto or nothing', async () => {
    for (const option of [undefined, 'auto'] as const) {
      const decision = await chooseProvider(option, { SWITCHYARD_TEST_SERVICES: 'external' }, engine(true));
      expect(decision).toEqual({ provider: 'external', reason: 'SWITCHYARD_TEST_SERVICES=external' });
    }
  });

  it('picks containers when an engine answers and local processes when none does', async () => {
    expect((await chooseProvider(undefined, {}, engine(true))).provider).toBe('containers');
    const local = await chooseProvider('auto', { SWITCHYARD_TEST_SERVICES: 'auto' }, engine(false));
    expect(local).toEqual({ provider: 'local', reason: 'no engine here; using local processes' });
  });

  it('rejects an unknown provider name with an invalid-option error naming the variable', async () => {
    const error = await chooseProvider(undefined, { SWITCHYARD_TEST_SERVICES: 'docker' }, engine(true)).catch((e) => e);
    expect(hasCode(error, 'SWITCHYARD_INVALID_OPTION')).toBe(true);
    expect(String(error.message)).toContain('SWITCHYARD_TEST_SERVICES');
    expect(() => providerFromEnv({ SWITCHYARD_TEST_SERVICES: 'podman' })).toThrow(/containers, local, external, auto/);
    expect(providerFromEnv({})).toBeUndefined();
  });
});

describe('detectContainerRuntime', () => {
  let server: Server | undefined;
  const socket = join(tmpdir(), `switchyard-fake-docker-${process.pid}.sock`);
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
    rmSync(socket, { force: true });
  });

  it('finds an engine that answers /_ping on the DOCKER_HOST socket', async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url === '/_ping' ? 200 : 404).end('OK');
    });
    await new Promise<void>((resolve) => server?.listen(socket, resolve));

    expect(await detectContainerRuntime({ DOCKER_HOST: `unix://${socket}` })).toEqual({
      available: true,
      reason: `container engine at DOCKER_HOST=unix://${socket}`,
    });
  });

  it('reports why a DOCKER_HOST that does not answer is unusable', async () => {
    const probe = await detectContainerRuntime({ DOCKER_HOST: `unix://${socket}` });
    expect(probe.available).toBe(false);
    expect(probe.reason).toContain(`DOCKER_HOST=unix://${socket} does not answer`);
    const odd = await detectContainerRuntime({ DOCKER_HOST: 'ssh://somewhere' });
    expect(odd).toEqual({ available: false, reason: 'DOCKER_HOST=ssh://somewhere is not a unix:// or tcp:// address' });
  });

  it('looks at the usual Docker and Podman sockets', () => {
    expect(containerSocketCandidates({ HOME: '/home/dev', XDG_RUNTIME_DIR: '/run/user/1000' })).toEqual([
      '/var/run/docker.sock',
      '/home/dev/.docker/run/docker.sock',
      '/home/dev/.docker/desktop/docker.sock',
      '/run/user/1000/docker.sock',
      '/run/user/1000/podman/podman.sock',
      '/run/podman/podman.sock',
    ]);
  });
});
