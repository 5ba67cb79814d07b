import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { environmentDown, environmentUp, parseEndpoints, readEnvironment } from '../../src/services/index.js';
import { isAlive } from '../../src/services/local/server-process.js';
import { startWatchdog, writeProcesses } from '../../src/services/local/watchdog.js';

const repoRoot = join(import.meta.dirname, '..', '..', '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'switchyard-env-test-'));

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** Polls `condition` until it holds or `timeoutMs` passes. */
async function eventually(condition: () => boolean, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await delay(50);
  }
  return true;
}

describe('environmentUp / environmentDown', () => {
  it('records a detached run, reuses it while it runs, and leaves no process after down', async () => {
    const file = join(scratch, 'api', 'env.json');
    const lines: string[] = [];
    const first = await environmentUp(file, { services: ['redis'], provider: 'local', log: (l) => lines.push(l) });
    expect(first.reused).toBe(false);
    const record = readEnvironment(file);
    expect(record?.endpoints).toEqual(first.endpoints);
    const pids = record?.processes.map((p) => p.pid) ?? [];
    expect(pids).toHaveLength(1);
    expect(pids.every(isAlive)).toBe(true);

    const second = await environmentUp(file, { services: ['redis'], provider: 'local', log: (l) => lines.push(l) });
    expect(second).toMatchObject({ reused: true, endpoints: first.endpoints });
    expect(lines.some((l) => l.includes('reusing the environment'))).toBe(true);

    expect(await environmentDown(file)).toBe(true);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(record?.runDir ?? '')).toBe(false);
    expect(existsSync(file)).toBe(false);
    expect(await environmentDown(file)).toBe(false);
  });
});

const envScript = join(repoRoot, 'scripts', 'env.mjs');
const built = existsSync(join(repoRoot, 'packages', 'testing', 'dist', 'services.js'));
if (!built)
  console.info('skipping scripts/env.mjs tests: packages/testing/dist is not built (run node scripts/bootstrap.mjs)');

describe.skipIf(!built)('scripts/env.mjs', () => {
  const env = { ...process.env, SWITCHYARD_ENV_FILE: join(scratch, 'cli', 'env.json') };
  const run = (...args: string[]) => spawnSync(process.execPath, [envScript, ...args], { env, encoding: 'utf8' });

  it('prints one JSON line on up, the same line again, and stops every pid on down', () => {
    const up = run('up', '--services=redis', '--provider=local');
    expect(up.status, up.stderr).toBe(0);
    const lines = up.stdout.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    const endpoints = parseEndpoints(lines[0] ?? '');
    expect(endpoints.redis?.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    const record = readEnvironment(env.SWITCHYARD_ENV_FILE);
    const pids = record?.processes.map((p) => p.pid) ?? [];
    expect(pids.length).toBe(1);

    const again = run('up', '--services=redis');
    expect(again.stdout).toBe(up.stdout);
    expect(again.stderr).toContain('reusing');
    expect(run('status').stdout).toBe(up.stdout);

    const down = run('down');
    expect(down.status, down.stderr).toBe(0);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(record?.runDir ?? '')).toBe(false);
    expect(run('status').status).toBe(1);
  });
});

describe('watchdog', () => {
  it('stops the servers and removes the run folder when the starting process dies', async () => {
    const runDir = mkdtempSync(join(scratch, 'run-'));
    const parent = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const server = spawn('sleep', ['300'], { cwd: runDir, stdio: 'ignore', detached: true });
    server.unref();
    const parentPid = parent.pid ?? 0;
    const serverPid = server.pid ?? 0;
    writeProcesses(runDir, [{ server: 'sleep', pid: serverPid, stopSignal: 'SIGTERM' }]);
    const watchdog = startWatchdog(runDir, parentPid) ?? 0;

    parent.kill('SIGKILL');

    expect(await eventually(() => !isAlive(serverPid) && !existsSync(runDir))).toBe(true);
    expect(await eventually(() => !isAlive(watchdog))).toBe(true);
  });

  it('leaves servers alone while the starting process lives and exits once the folder is removed', async () => {
    const runDir = mkdtempSync(join(scratch, 'run-'));
    const server = spawn('sleep', ['300'], { cwd: runDir, stdio: 'ignore', detached: true });
    const serverPid = server.pid ?? 0;
    writeProcesses(runDir, [{ server: 'sleep', pid: serverPid, stopSignal: 'SIGTERM' }]);
    const watchdog = startWatchdog(runDir) ?? 0;
    try {
      expect(isAlive(watchdog)).toBe(true);
      rmSync(runDir, { recursive: true, force: true });
      expect(await eventually(() => !isAlive(watchdog))).toBe(true);
      expect(isAlive(serverPid)).toBe(true);
    } finally {
      server.kill('SIGKILL');
    }
  });
});
