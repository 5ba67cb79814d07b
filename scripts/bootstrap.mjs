#!/usr/bin/env node
// Installs workspace dependencies (from the committed lockfile) and builds every package, so that
// `npm run demo` and `npm test` work on a fresh clone with nothing but node and npm.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNPM_VERSION } from './lib/versions.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pnpm = (args) => {
  const r = spawnSync('npx', ['--yes', `pnpm@${PNPM_VERSION}`, ...args], {
    cwd: root,
    // Progress goes to stderr so commands like `npm run env:up` keep stdout for their own output.
    stdio: ['inherit', 2, 2],
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  if (r.status !== 0) {
    console.error(`bootstrap: 'pnpm ${args.join(' ')}' failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
};

const lock = join(root, 'pnpm-lock.yaml');
const marker = join(root, 'node_modules', '.modules.yaml');
const stale = !existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs);
if (stale) {
  const started = Date.now();
  pnpm(existsSync(lock) && process.env.CI ? ['install', '--frozen-lockfile'] : ['install']);
  console.error(`bootstrap: dependencies installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
if (!process.argv.includes('--no-build')) pnpm(['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']);
