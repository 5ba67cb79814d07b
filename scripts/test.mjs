#!/usr/bin/env node
// The whole suite, as `npm test` runs it (after scripts/bootstrap.mjs installed and built everything):
//   static checks (lint, types, circular imports) -> real services up (in the background while the
//   core unit suite runs) -> every package's vitest suite -> core's unit suite again on Node 24 ->
//   services down (also on failure or interrupt) -> one plain closing line `N passed, N failed[, N skipped]`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNode24 } from './lib/node24.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const resultsDir = join(root, '.cache', 'test-results');
rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });

const args = process.argv.slice(2);
const only = args.filter((a) => !a.startsWith('--'));
const skipServices = args.includes('--no-services');
const SUITE_TIMEOUT_MS = Number(process.env.SWITCHYARD_SUITE_TIMEOUT_MS ?? 12 * 60_000);

const tally = { passed: 0, failed: 0, skipped: 0 };
const problems = [];
const children = new Set();

function run(label, command, argv, options = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(command, argv, { stdio: 'inherit', detached: true, ...options });
    children.add(child);
    const timer = setTimeout(() => {
      console.error(`[test] ${label}: still running after ${SUITE_TIMEOUT_MS / 60_000} min, stopping it`);
      killTree(child);
    }, options.timeoutMs ?? SUITE_TIMEOUT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      console.log(`[test] ${label}: exit ${code ?? signal} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      resolve(code ?? 1);
    });
  });
}

function killTree(child) {
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {}
  setTimeout(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  }, 5_000).unref();
}

const bin = (name) => join(root, 'node_modules', '.bin', name);

async function check(label, command, argv) {
  const code = await run(label, command, argv, { cwd: root });
  if (code === 0) tally.passed += 1;
  else {
    tally.failed += 1;
    problems.push(`check '${label}' failed`);
  }
}

/** Adds a vitest JSON report to the tally; a suite that crashed before reporting counts as one failure. */
function count(label, code, reportFile) {
  if (!existsSync(reportFile)) {
    tally.failed += 1;
    problems.push(`${label}: no report (exit ${code})`);
    return;
  }
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  tally.passed += report.numPassedTests;
  tally.failed += report.numFailedTests;
  tally.skipped += report.numPendingTests + report.numTodoTests;
  // Files that failed to load report no tests: count each as a failure so nothing hides.
  for (const file of report.testResults ?? []) {
    if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) {
      tally.failed += 1;
      problems.push(`${label}: ${relative(root, file.name)} failed to run: ${String(file.message).split('\n')[0]}`);
    }
  }
  if (report.numFailedTests > 0) {
    problems.push(`${label}: ${report.numFailedTests} failed`);
    // Name each failure in the closing summary: CI keeps only the tail of the log.
    for (const file of report.testResults ?? []) {
      for (const test of file.assertionResults ?? []) {
        if (test.status !== 'failed') continue;
        const firstLine = String(test.failureMessages?.[0] ?? '')
          .split('\n')[0]
          .slice(0, 2_000);
        problems.push(`${label}: ${relative(root, file.name)} > ${test.fullName}: ${firstLine}`);
      }
    }
  }
  if (code !== 0 && report.numFailedTests === 0 && !report.testResults?.some((f) => f.status === 'failed')) {
    tally.failed += 1;
    problems.push(`${label}: exited ${code}`);
  }
}

async function vitest(label, dir, env = {}, nodeBinary = process.execPath) {
  const reportFile = join(resultsDir, `${label.replace(/[^a-z0-9]+/gi, '-')}.json`);
  const code = await run(
    label,
    nodeBinary,
    [
      join(root, 'node_modules', 'vitest', 'vitest.mjs'),
      'run',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${reportFile}`,
    ],
    { cwd: dir, env: { ...process.env, ...env } },
  );
  count(label, code, reportFile);
}

function suites() {
  const dirs = [];
  for (const group of ['packages', 'examples', 'bench']) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    const candidates = group === 'bench' ? [base] : readdirSync(base).map((d) => join(base, d));
    for (const dir of candidates) {
      if (existsSync(join(dir, 'vitest.config.ts')) && existsSync(join(dir, 'test'))) dirs.push(dir);
    }
  }
  return dirs.filter((d) => only.length === 0 || only.some((o) => relative(root, d).includes(o)));
}

let services;
async function stopServices() {
  if (!services) return;
  const s = services;
  services = undefined;
  try {
    await (await s).stop();
  } catch (error) {
    console.error('[test] stopping services failed:', error);
  }
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`[test] ${signal}: stopping suites and services`);
    for (const child of children) killTree(child);
    await stopServices();
    process.exit(130);
  });
}

async function main() {
  const started = Date.now();
  if (only.length === 0) {
    await check('lint', bin('biome'), ['check', '.']);
    // Through pnpm: turbo looks for the workspace's package manager on PATH.
    await check('typecheck', process.execPath, [
      join(root, 'scripts', 'pnpm.mjs'),
      'exec',
      'turbo',
      'run',
      'typecheck',
      '--output-logs=errors-only',
    ]);
    await check('circular imports', process.execPath, [join(root, 'scripts', 'check-circular.mjs')]);
  }

  const dirs = suites();
  const needServices = !skipServices && dirs.some((d) => !d.endsWith(join('packages', 'core')));
  let endpoints = {};
  if (needServices) {
    // Start the real services while the core unit suite (which needs none) runs.
    const { startServices } = await import(join(root, 'packages', 'testing', 'dist', 'services.js'));
    services = startServices({
      provider: process.env.SWITCHYARD_TEST_SERVICES ?? 'auto',
      log: (l) => console.error(`[services] ${l}`),
    });
    services.catch(() => {});
  }

  const coreDir = join(root, 'packages', 'core');
  if (dirs.includes(coreDir)) await vitest('core (node 20)', coreDir);

  if (services) {
    try {
      endpoints = (await services).endpoints;
      console.log(`[test] services: ${JSON.stringify(endpoints)}`);
    } catch (error) {
      problems.push(`services failed to start: ${error?.message ?? error}`);
      console.error('[test] services failed to start:', error);
    }
  }
  const env = { SWITCHYARD_ENDPOINTS: JSON.stringify(endpoints) };
  try {
    for (const dir of dirs.filter((d) => d !== coreDir)) await vitest(relative(root, dir), dir, env);
  } finally {
    await stopServices();
  }

  if (dirs.includes(coreDir)) {
    const node24 = await ensureNode24(root);
    if (node24) await vitest('core (node 24)', coreDir, {}, node24);
    else {
      tally.failed += 1;
      problems.push('could not install node@24 from the npm registry');
    }
  }

  console.log(`\n[test] finished in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  for (const p of problems) console.log(`[test] problem: ${p}`);
  const skipped = tally.skipped > 0 ? `, ${tally.skipped} skipped` : '';
  console.log(`${tally.passed} passed, ${tally.failed} failed${skipped}`);
  process.exit(tally.failed > 0 ? 1 : 0);
}

main().catch(async (error) => {
  console.error('[test] orchestrator failed:', error);
  await stopServices();
  console.log(`${tally.passed} passed, ${tally.failed + 1} failed`);
  process.exit(1);
});
