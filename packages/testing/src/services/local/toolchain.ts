// Finds (and, as root on Debian, installs) what the local provider runs on: a JDK with Maven for
// Kafka and ElasticMQ, Python's venv for moto, and Debian's redis-server and postgresql.

import { accessSync, constants, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { ServiceUnavailableError } from '../errors.js';
import { cacheDir, run, runChecked, seconds, withInstallLock } from './support.js';

type Log = (line: string) => void;

/** An executable's path, looked up like a shell does. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* keep looking */
    }
  }
  return undefined;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

let aptUpdated = false;

/**
 * Installs the Debian packages whose check fails. As root with apt-get this installs them (once,
 * under a lock); otherwise it throws with the exact command to run.
 */
export async function ensureDebianPackages(
  service: string,
  wanted: readonly { readonly pkg: string; readonly present: () => boolean }[],
  log: Log,
): Promise<void> {
  const missing = () => wanted.filter((w) => !w.present()).map((w) => w.pkg);
  if (missing().length === 0) return;
  const command = `apt-get update && apt-get install -y --no-install-recommends ${missing().join(' ')}`;
  if (!isRoot() || which('apt-get') === undefined) {
    throw new ServiceUnavailableError(
      service,
      `needs the Debian package(s) ${missing().join(', ')}; install them with: sudo sh -c '${command}'`,
    );
  }
  const dir = cacheDir();
  mkdirSync(dir, { recursive: true });
  await withInstallLock(join(dir, 'apt.lock'), async () => {
    const still = missing();
    if (still.length === 0) return; // another process installed them while we waited
    const started = Date.now();
    log(`${service}: installing Debian packages ${still.join(' ')} (first run only)`);
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    if (!aptUpdated) {
      await runChecked('apt-get update', 'apt-get', ['update'], { env });
      aptUpdated = true;
    }
    await runChecked('apt-get install', 'apt-get', ['install', '-y', '--no-install-recommends', ...still], { env });
    log(`${service}: installed ${still.join(' ')} in ${seconds(Date.now() - started)}`);
  });
  if (missing().length > 0) {
    throw new ServiceUnavailableError(service, `apt-get install finished but ${missing().join(', ')} is still missing`);
  }
}

export interface JavaToolchain {
  readonly java: string;
  readonly mvn: string;
  readonly major: number;
}

let javaCache: Promise<JavaToolchain> | undefined;

/** Java 17+ and Maven (Kafka 4 needs 17). Installed from Debian when missing and root. */
export function ensureJava(service: string, log: Log): Promise<JavaToolchain> {
  javaCache ??= findJava(service, log);
  // A failed lookup is not cached: the next caller may have fixed the machine.
  javaCache.catch(() => {
    javaCache = undefined;
  });
  return javaCache;
}

async function findJava(service: string, log: Log): Promise<JavaToolchain> {
  const javaPath = () => {
    const home = process.env.JAVA_HOME;
    if (home && existsSync(join(home, 'bin', 'java'))) return join(home, 'bin', 'java');
    return which('java');
  };
  const major = async (java: string | undefined) => {
    if (java === undefined) return 0;
    const r = await run(java, ['-version']);
    const m = /version "(\d+)(?:\.(\d+))?/.exec(r.stderr + r.stdout);
    if (!m) return 0;
    // "1.8.0" means Java 8.
    return m[1] === '1' ? Number(m[2] ?? 0) : Number(m[1]);
  };
  let java = javaPath();
  let version = await major(java);
  if (version < 17 || which('mvn') === undefined) {
    await ensureDebianPackages(
      service,
      [
        { pkg: 'default-jdk-headless', present: () => version >= 17 },
        { pkg: 'maven', present: () => which('mvn') !== undefined },
      ],
      log,
    );
    java = javaPath();
    version = await major(java);
  }
  const mvn = which('mvn');
  if (java === undefined || version < 17 || mvn === undefined) {
    throw new ServiceUnavailableError(
      service,
      `needs Java 17 or newer and Maven (found java ${version || 'none'}, mvn ${mvn ?? 'none'}); ` +
        'install them with: sudo apt-get install -y default-jdk-headless maven',
    );
  }
  return { java, mvn, major: version };
}

/** The folder holding `postgres`, `initdb` and `pg_ctl`: SWITCHYARD_POSTGRES_BIN, Debian's newest, or PATH. */
export function findPostgresBin(): string | undefined {
  const override = process.env.SWITCHYARD_POSTGRES_BIN;
  if (override) return existsSync(join(override, 'postgres')) ? override : undefined;
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot)
      .filter(
        (v) => existsSync(join(debianRoot, v, 'bin', 'postgres')) && existsSync(join(debianRoot, v, 'bin', 'initdb')),
      )
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(debianRoot, versions[0], 'bin');
  }
  const onPath = which('postgres');
  return onPath && which('initdb') ? dirname(onPath) : undefined;
}

export function findRedisServer(): string | undefined {
  return process.env.SWITCHYARD_REDIS_SERVER || which('redis-server');
}
