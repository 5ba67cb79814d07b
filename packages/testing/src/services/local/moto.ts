// SNS (and the SQS it delivers to) through moto's server mode, installed from PyPI into a venv in
// the Switchyard cache. moto keeps state in memory: a restart comes back empty.

import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_REGION, MOTO_ACCOUNT_ID } from '../endpoints.js';
import { ServiceUnavailableError } from '../errors.js';
import { sqsAnswers } from './elasticmq.js';
import type { LocalServerPlan } from './local-server.js';
import { cacheDir, freePort, run, runChecked, seconds, withInstallLock } from './support.js';
import { ensureDebianPackages, which } from './toolchain.js';

export const MOTO_VERSION = '5.2.5';
/**
 * Only the SNS and SQS backends plus the server's web framework: `moto[server]` pulls every AWS
 * service's dependencies (317 MB, 47 s cold) where this needs 140 MB and about 12 s.
 */
export const MOTO_REQUIREMENTS = [`moto[sns,sqs]==${MOTO_VERSION}`, 'flask==3.1.2', 'flask-cors==6.0.1'] as const;

/** The venv holding `moto_server`, created on first use. */
export async function motoVenv(log: (line: string) => void): Promise<string> {
  const home = join(cacheDir(), `moto-${MOTO_VERSION}-sns-sqs`);
  const venv = join(home, 'venv');
  const complete = join(home, '.complete');
  if (existsSync(complete)) return venv;
  mkdirSync(home, { recursive: true });
  return withInstallLock(join(home, '.lock'), async () => {
    if (existsSync(complete)) return venv;
    const python = which('python3');
    if (python === undefined) {
      await ensureDebianPackages('sns', [{ pkg: 'python3-venv', present: () => which('python3') !== undefined }], log);
    }
    const started = Date.now();
    log(`sns: installing ${MOTO_REQUIREMENTS.join(' ')} into ${venv} (first run only)`);
    rmSync(venv, { recursive: true, force: true });
    let made = await run(which('python3') ?? 'python3', ['-m', 'venv', venv]);
    if (made.code !== 0) {
      // Debian splits ensurepip out of python3 into python3-venv.
      rmSync(venv, { recursive: true, force: true });
      await ensureDebianPackages('sns', [{ pkg: 'python3-venv', present: () => false }], log).catch((error) => {
        throw new ServiceUnavailableError('sns', `python3 -m venv failed: ${made.stderr.trim()}`, error);
      });
      made = await runChecked('sns: python3 -m venv', 'python3', ['-m', 'venv', venv]);
    }
    try {
      await runChecked(
        'sns: pip install moto',
        join(venv, 'bin', 'pip'),
        ['install', '--quiet', '--disable-pip-version-check', ...MOTO_REQUIREMENTS],
        { timeoutMs: 15 * 60_000 },
      );
    } catch (error) {
      rmSync(venv, { recursive: true, force: true });
      throw error;
    }
    writeFileSync(complete, `${new Date().toISOString()}\n`);
    log(`sns: moto installed in ${seconds(Date.now() - started)}`);
    return venv;
  });
}

export async function planMoto(
  runDir: string,
  services: readonly ('sns' | 'sqsMoto')[],
  log: (line: string) => void,
): Promise<LocalServerPlan> {
  const venv = await motoVenv(log);
  const dir = join(runDir, 'moto');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const aws = { endpoint, region: DEFAULT_REGION, accountId: MOTO_ACCOUNT_ID };
  return {
    server: 'moto',
    services,
    endpoints: Object.fromEntries(services.map((s) => [s, aws])),
    process: {
      label: 'moto',
      command: join(venv, 'bin', 'moto_server'),
      args: ['-H', '127.0.0.1', '-p', String(port)],
      cwd: dir,
      env: { PYTHONUNBUFFERED: '1' },
      logFile: join(dir, 'moto.log'),
      graceMs: 5_000,
    },
    // A real SQS call: proves the whole app loaded, not just the HTTP listener.
    ready: () => sqsAnswers(endpoint),
    readyTimeoutMs: 60_000,
  };
}
