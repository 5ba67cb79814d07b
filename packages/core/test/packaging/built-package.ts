// Gives tests the built output of a workspace package, building it first when dist is missing or
// older than its sources, so these tests are self-contained on a fresh clone and never check a
// stale build. Several test files (and processes) may ask at once: a lock file keeps to one build.

import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const repoRoot = resolve(import.meta.dirname, '../../../..');
export const PUBLISHABLE = ['core', 'testing', 'kafka', 'sqs', 'sns'] as const;
export type PackageName = (typeof PUBLISHABLE)[number];

const rootRequire = createRequire(join(repoRoot, 'package.json'));
const DIST_FILES = ['index.js', 'index.cjs', 'index.d.ts', 'index.d.cts'];
const LOCK_DEADLINE_MS = 180_000;

export const packageDir = (name: PackageName): string => join(repoRoot, 'packages', name);

/** `node_modules/.bin`-free paths to the tools, so a test works wherever vitest was started. */
export const tool = {
  tsc: join(dirname(rootRequire.resolve('typescript/package.json')), 'bin', 'tsc'),
  tsup: join(dirname(rootRequire.resolve('tsup/package.json')), 'dist', 'cli-default.js'),
};

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

function isFresh(dir: string): boolean {
  const dist = DIST_FILES.map((f) => join(dir, 'dist', f));
  if (!dist.every(existsSync)) return false;
  const inputs = ['src', 'package.json', 'tsup.config.ts'].map((f) => join(dir, f)).filter(existsSync);
  const newestInput = Math.max(...inputs.map(newestMtime));
  return Math.min(...dist.map((f) => statSync(f).mtimeMs)) >= newestInput;
}

function holderAlive(lock: string): boolean {
  try {
    const pid = Number(readFileSync(lock, 'utf8'));
    if (!Number.isInteger(pid) || pid <= 0) return true; // being written: treat as held
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Builds `packages/<name>` with its own tsup config unless its dist is complete and newer than its sources. */
export async function ensureBuilt(name: PackageName): Promise<string> {
  const dir = packageDir(name);
  const lock = join(tmpdir(), `switchyard-build-${name}-${Buffer.from(dir).toString('hex').slice(-24)}.lock`);
  const deadline = Date.now() + LOCK_DEADLINE_MS;
  for (;;) {
    if (isFresh(dir)) return dir;
    let fd: number;
    try {
      fd = openSync(lock, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (!holderAlive(lock)) rmSync(lock, { force: true });
      else if (Date.now() > deadline) throw new Error(`timed out waiting for the build lock ${lock}`);
      else await sleep(100);
      continue;
    }
    try {
      writeSync(fd, String(process.pid));
      closeSync(fd);
      if (isFresh(dir)) return dir;
      const r = spawnSync(process.execPath, [tool.tsup], { cwd: dir, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`building @switchyard/${name} failed:\n${r.stdout}\n${r.stderr}`);
      return dir;
    } finally {
      rmSync(lock, { force: true });
    }
  }
}

/**
 * Makes `app` resolve `@switchyard/<name>` (and `@types/node`) the way an installed dependency does:
 * node_modules entries symlinked to the package folders, so `exports`, `main` and `types` are read
 * from each package.json and the package's own dependencies resolve from its real location.
 */
export function linkWorkspacePackages(app: string, names: readonly PackageName[]): void {
  mkdirSync(join(app, 'node_modules', '@switchyard'), { recursive: true });
  mkdirSync(join(app, 'node_modules', '@types'), { recursive: true });
  for (const name of names) symlinkSync(packageDir(name), join(app, 'node_modules', '@switchyard', name), 'dir');
  const typesNode = realpathSync(dirname(rootRequire.resolve('@types/node/package.json')));
  symlinkSync(typesNode, join(app, 'node_modules', '@types', 'node'), 'dir');
}
