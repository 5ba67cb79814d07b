// The long-lived environment behind `npm run env:up` / `env:down`: services started detached,
// with their pids (or container ids) and endpoints in a state file, so a later command in another
// process can reuse or stop them.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { removeRecordedContainers } from './containers/containers-provider.js';
import { addressOf, canConnect } from './endpoints.js';
import { stopLocalRecord } from './local/local-provider.js';
import { isAlive, isOurs } from './local/server-process.js';
import { withInstallLock } from './local/support.js';
import { startServices } from './start-services.js';
import type { Endpoints, ServiceName, ServicesRecord, StartServicesOptions } from './types.js';
import { ServiceNames } from './types.js';

/** `<root>/.switchyard/env.json`, or SWITCHYARD_ENV_FILE. */
export function environmentFile(root: string, env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.SWITCHYARD_ENV_FILE || join(root, '.switchyard', 'env.json');
}

export function readEnvironment(file: string): ServicesRecord | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as ServicesRecord;
    return record.version === 1 ? record : undefined;
  } catch {
    return undefined;
  }
}

function writeEnvironment(file: string, record: ServicesRecord): void {
  mkdirSync(dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(partial, file);
}

/** Whether every recorded process is alive (and still ours) and every endpoint accepts connections. */
export async function isEnvironmentAlive(record: ServicesRecord): Promise<boolean> {
  for (const p of record.processes) {
    if (!isAlive(p.pid) || (record.runDir !== undefined && !isOurs(p.pid, record.runDir))) return false;
  }
  const checks = (Object.keys(record.endpoints) as ServiceName[]).map(async (name) => {
    const { host, port } = addressOf(name, record.endpoints[name]);
    await canConnect(host, port, 2_000);
  });
  const results = await Promise.allSettled(checks);
  return results.every((r) => r.status === 'fulfilled');
}

/** Stops whatever a record describes: local processes by pid, containers by id. */
export async function stopRecordedServices(record: ServicesRecord): Promise<void> {
  if (record.provider === 'local') await stopLocalRecord(record);
  if (record.provider === 'containers') await removeRecordedContainers(record);
}

export interface EnvironmentUpResult {
  readonly endpoints: Endpoints;
  readonly record: ServicesRecord;
  /** True when a running environment from the state file was reused. */
  readonly reused: boolean;
}

/**
 * Starts the environment detached and records it in `file`, or reuses the one recorded there
 * when all of it still runs and it has every service asked for.
 */
export async function environmentUp(
  file: string,
  options: Omit<StartServicesOptions, 'detached'> = {},
): Promise<EnvironmentUpResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  mkdirSync(dirname(file), { recursive: true });
  // Two `env:up` at once would start two environments and record one.
  return withInstallLock(`${file}.lock`, () => up(file, options, log));
}

async function up(
  file: string,
  options: Omit<StartServicesOptions, 'detached'>,
  log: (line: string) => void,
): Promise<EnvironmentUpResult> {
  const wanted = options.services ?? ServiceNames;
  const existing = readEnvironment(file);
  if (existing !== undefined) {
    const covers = wanted.every((s) => existing.endpoints[s] !== undefined);
    if (covers && (await isEnvironmentAlive(existing))) {
      log(`env: reusing the environment started at ${existing.startedAt} (recorded in ${file})`);
      return { endpoints: existing.endpoints, record: existing, reused: true };
    }
    log(
      covers
        ? 'env: the recorded environment is partly gone; stopping what is left and starting afresh'
        : 'env: the recorded environment lacks some services; replacing it',
    );
    await stopRecordedServices(existing);
    rmSync(file, { force: true });
  }
  const running = await startServices({ ...options, log, detached: true });
  const record = running.record();
  writeEnvironment(file, record);
  return { endpoints: running.endpoints, record, reused: false };
}

/** Stops the environment recorded in `file` and removes the file. Resolves false when none was recorded. */
export async function environmentDown(file: string): Promise<boolean> {
  const record = readEnvironment(file);
  if (record === undefined) {
    rmSync(file, { force: true });
    return false;
  }
  await stopRecordedServices(record);
  rmSync(file, { force: true });
  return true;
}
