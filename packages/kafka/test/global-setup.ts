// The broker for the integration tests: the one `npm test` (or `npm run env:up`) provides through
// SWITCHYARD_ENDPOINTS, else a local Kafka started here for this run and stopped after it.

import { acquireServices, endpointsToEnv, type RunningServices, servicesFromEnv } from '@switchyard/testing';

let services: RunningServices | undefined;

function unitOnly(): boolean {
  // `vitest run test/options.test.ts` should not start a JVM.
  const files = process.argv.filter((a) => /\.test\.ts$/.test(a) || a.startsWith('test/'));
  return files.length > 0 && files.every((f) => !f.includes('integration'));
}

export async function setup(): Promise<void> {
  if (servicesFromEnv().kafka || unitOnly()) return;
  services = await acquireServices(['kafka'], { log: (line) => process.stderr.write(`[kafka tests] ${line}\n`) });
  Object.assign(process.env, endpointsToEnv(services.endpoints));
}

export async function teardown(): Promise<void> {
  await services?.stop();
}
