#!/usr/bin/env node
// Runs the pinned pnpm without requiring a global install: a fresh machine has only node and npm.
import { spawnSync } from 'node:child_process';
import { PNPM_VERSION } from './lib/versions.mjs';

const result = spawnSync('npx', ['--yes', `pnpm@${PNPM_VERSION}`, ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, npm_config_update_notifier: 'false' },
});
process.exit(result.status ?? 1);
