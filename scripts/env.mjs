#!/usr/bin/env node
// `npm run env:up` / `npm run env:down`: a long-lived set of real services for tests and demos.
//
//   node scripts/env.mjs up [--services=kafka,sqs,...] [--provider=local|containers|external|auto]
//   node scripts/env.mjs down
//   node scripts/env.mjs status
//
// `up` prints exactly one JSON line with the endpoints on stdout (progress goes to stderr) and
// returns, leaving the services running; their pids and endpoints are kept in .switchyard/env.json
// (or SWITCHYARD_ENV_FILE). A second `up` while they run prints the same line. `down` stops them
// by pid and removes their data. The work is done by @switchyard/testing's `services` entry,
// which `node scripts/bootstrap.mjs` builds.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'packages', 'testing', 'dist', 'services.js');

function usage(code) {
  process.stderr.write(
    'usage: node scripts/env.mjs up [--services=kafka,sqs,sns,sqsMoto,redis,postgres] [--provider=local|containers|external|auto]\n' +
      '       node scripts/env.mjs down\n' +
      '       node scripts/env.mjs status\n',
  );
  process.exit(code);
}

const [command, ...rest] = process.argv.slice(2);
const flags = {};
for (const arg of rest) {
  const m = /^--([a-z-]+)=(.*)$/.exec(arg);
  if (!m) usage(2);
  flags[m[1]] = m[2];
}
if (!['up', 'down', 'status'].includes(command ?? '')) usage(command === undefined || command === '--help' ? 0 : 2);

if (!existsSync(entry)) {
  process.stderr.write(`env: ${entry} is missing; build the workspace first with: node scripts/bootstrap.mjs\n`);
  process.exit(1);
}
const services = await import(pathToFileURL(entry).href);
const file = services.environmentFile(root);
const log = (line) => process.stderr.write(`[env] ${line}\n`);

try {
  if (command === 'up') {
    const started = Date.now();
    const result = await services.environmentUp(file, {
      ...(flags.services ? { services: flags.services.split(',').map((s) => s.trim()) } : {}),
      ...(flags.provider ? { provider: flags.provider } : {}),
      log,
    });
    if (!result.reused) log(`up in ${((Date.now() - started) / 1000).toFixed(1)} s; stop with: npm run env:down`);
    process.stdout.write(`${services.formatEndpoints(result.endpoints)}\n`);
  } else if (command === 'down') {
    const stopped = await services.environmentDown(file);
    log(stopped ? 'stopped the environment and removed its data' : `nothing to stop (no ${file})`);
  } else {
    const record = services.readEnvironment(file);
    if (record === undefined || !(await services.isEnvironmentAlive(record))) {
      log(record === undefined ? 'no environment is recorded' : 'the recorded environment is not (fully) running');
      process.exit(1);
    }
    process.stdout.write(`${services.formatEndpoints(record.endpoints)}\n`);
  }
} catch (error) {
  process.stderr.write(`env ${command} failed: ${error?.stack ?? error}\n`);
  process.exit(1);
}
// Servers run detached with their output in files; nothing here should keep node alive.
process.exit(0);
