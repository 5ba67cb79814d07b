// A throwaway PostgreSQL: Debian's binaries, a fresh cluster (`initdb`, trust auth) in the run
// folder, on a free port on 127.0.0.1. Postgres refuses to run as root, so as root the cluster
// belongs to (and the server runs as) the `postgres` user the Debian package creates.
// Durability is switched off (fsync, synchronous_commit, full_page_writes): the data is thrown away.

import { chownSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ServiceUnavailableError } from '../errors.js';
import type { LocalServerPlan } from './local-server.js';
import { freePort, run, runChecked } from './support.js';
import { findPostgresBin, which } from './toolchain.js';

async function postgresUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const uid = await run('id', ['-u', 'postgres']);
  const gid = await run('id', ['-g', 'postgres']);
  if (uid.code !== 0 || gid.code !== 0) {
    throw new ServiceUnavailableError(
      'postgres',
      "running as root needs a `postgres` user to own the cluster (Debian's postgresql package creates it): useradd --system postgres",
    );
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export async function planPostgres(runDir: string, debianReady: Promise<void>): Promise<LocalServerPlan> {
  await debianReady;
  const bin = findPostgresBin();
  if (bin === undefined) throw new ServiceUnavailableError('postgres', 'the PostgreSQL server binaries were not found');
  const user = await postgresUser();
  const as = user ?? {};
  const dir = join(runDir, 'postgres');
  const data = join(dir, 'data');
  mkdirSync(dir, { recursive: true });
  if (user) chownSync(dir, user.uid, user.gid);
  await runChecked(
    'postgres: initdb',
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync', '--no-instructions'],
    { cwd: dir, timeoutMs: 120_000, ...as },
  );
  const port = await freePort();
  const psql = existsSync(join(bin, 'psql')) ? join(bin, 'psql') : (which('psql') ?? 'psql');
  return {
    server: 'postgres',
    services: ['postgres'],
    endpoints: { postgres: { url: `postgres://postgres@127.0.0.1:${port}/postgres` } },
    process: {
      label: 'postgres',
      command: join(bin, 'postgres'),
      args: [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'full_page_writes=off',
      ],
      cwd: dir,
      logFile: join(dir, 'postgres.log'),
      // SIGINT is Postgres' "fast" shutdown: it ends open sessions instead of waiting for them.
      stopSignal: 'SIGINT',
      graceMs: 10_000,
      ...as,
    },
    ready: async () => {
      const r = await run(
        psql,
        ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-tAc', 'select 1'],
        {
          timeoutMs: 5_000,
        },
      );
      return r.code === 0 && r.stdout.trim() === '1';
    },
    readyTimeoutMs: 60_000,
  };
}
