// The local provider: every service as a process on 127.0.0.1, installed from package registries
// (Maven Central, PyPI, Debian) into a cache on first use, with its data in one run folder under
// the system temp folder that `stop()` removes.

import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Endpoints, RunningServices, ServiceHandle, ServiceName, ServicesRecord } from '../types.js';
import { planElasticMq } from './elasticmq.js';
import { planKafka } from './kafka.js';
import { LocalServer, type LocalServerPlan } from './local-server.js';
import { planMoto } from './moto.js';
import { planPostgres } from './postgres.js';
import { planRedis } from './redis.js';
import { isOurs, stopPid } from './server-process.js';
import { seconds } from './support.js';
import { ensureDebianPackages, findPostgresBin, findRedisServer } from './toolchain.js';
import { type RecordedProcess, startWatchdog, writeProcesses } from './watchdog.js';

export interface LocalStartOptions {
  readonly services: readonly ServiceName[];
  readonly log: (line: string) => void;
  readonly detached: boolean;
}

export async function startLocalServices(options: LocalStartOptions): Promise<RunningServices> {
  const { log } = options;
  const wanted = new Set(options.services);
  const started = Date.now();
  const runDir = mkdtempSync(join(tmpdir(), 'switchyard-'));
  // Postgres runs as its own user and must be able to reach its folder inside.
  chmodSync(runDir, 0o755);
  const servers: LocalServer[] = [];
  const record = (): RecordedProcess[] =>
    servers.flatMap((s) =>
      s.pid === undefined
        ? []
        : [{ server: s.plan.server, pid: s.pid, stopSignal: s.plan.process.stopSignal ?? 'SIGTERM' }],
    );
  const onLaunch = () => writeProcesses(runDir, record());
  writeProcesses(runDir, []);
  // Also while a detached start is under way: a Ctrl-C before `env:up` records the run must not
  // leave servers behind. A detached run ends its watchdog once everything is up.
  let watchdog = startWatchdog(runDir);

  // One apt-get for both Debian services, shared by their start-ups.
  const debian: { pkg: string; present: () => boolean }[] = [];
  if (wanted.has('redis')) debian.push({ pkg: 'redis-server', present: () => findRedisServer() !== undefined });
  if (wanted.has('postgres')) debian.push({ pkg: 'postgresql', present: () => findPostgresBin() !== undefined });
  const debianLabel = (['redis', 'postgres'] as const).filter((s) => wanted.has(s)).join('+');
  const debianReady = ensureDebianPackages(debianLabel, debian, log);
  debianReady.catch(() => undefined);

  const plans: { label: string; plan: () => Promise<LocalServerPlan> }[] = [];
  if (wanted.has('kafka')) plans.push({ label: 'kafka', plan: () => planKafka(runDir, log) });
  if (wanted.has('sqs')) plans.push({ label: 'sqs', plan: () => planElasticMq(runDir, log) });
  const moto = (['sns', 'sqsMoto'] as const).filter((s) => wanted.has(s));
  if (moto.length > 0) plans.push({ label: moto.join('+'), plan: () => planMoto(runDir, moto, log) });
  if (wanted.has('redis')) plans.push({ label: 'redis', plan: () => planRedis(runDir, debianReady) });
  if (wanted.has('postgres')) plans.push({ label: 'postgres', plan: () => planPostgres(runDir, debianReady) });

  let stopped: Promise<void> | undefined;
  const stopAll = (): Promise<void> => {
    stopped ??= (async () => {
      await Promise.allSettled(servers.map((s) => s.stop()));
      rmSync(runDir, { recursive: true, force: true });
      if (watchdog !== undefined) await stopPid(watchdog, 'SIGTERM', 2_000);
    })();
    return stopped;
  };

  // Start everything at once: on two cores the JVMs overlap well with the installs and Postgres.
  const results = await Promise.allSettled(
    plans.map(async ({ label, plan }) => {
      const t0 = Date.now();
      let server = new LocalServer(await plan(), onLaunch);
      servers.push(server);
      let t1 = Date.now();
      try {
        await server.launch();
      } catch (error) {
        // A free port is only free when we look: another process may bind it before the server
        // does. Try once more on fresh ports, in a fresh folder.
        if (!/address already in use|BindException|EADDRINUSE/i.test(String((error as Error).message))) throw error;
        log(`${label}: port taken before the server bound it; retrying on new ports`);
        servers.splice(servers.indexOf(server), 1);
        rmSync(join(runDir, server.plan.server), { recursive: true, force: true });
        server = new LocalServer(await plan(), onLaunch);
        servers.push(server);
        t1 = Date.now();
        await server.launch();
      }
      log(
        `${label}: ready at ${describe(server.plan.endpoints)} in ${seconds(Date.now() - t0)} ` +
          `(prepare ${seconds(t1 - t0)}, start ${seconds(Date.now() - t1)}; pid ${server.pid}, logs ${server.plan.process.logFile})`,
      );
    }),
  );
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length > 0) {
    await stopAll();
    if (failures.length === 1) throw failures[0];
    throw new AggregateError(
      failures,
      `${failures.length} services failed to start: ${failures.map((f) => (f as Error).message.split('\n')[0]).join('; ')}`,
    );
  }
  log(`local services ready in ${seconds(Date.now() - started)} (run folder ${runDir})`);
  if (options.detached && watchdog !== undefined) {
    await stopPid(watchdog, 'SIGTERM', 2_000);
    watchdog = undefined;
  }

  const endpoints: Endpoints = Object.assign({}, ...servers.map((s) => s.plan.endpoints));
  const handles: Partial<Record<ServiceName, ServiceHandle>> = {};
  for (const server of servers) for (const service of server.plan.services) handles[service] = server.handle(service);
  const startedAt = new Date(started).toISOString();
  return {
    provider: 'local',
    endpoints,
    ...handles,
    record: (): ServicesRecord => ({
      version: 1,
      provider: 'local',
      endpoints,
      startedAt,
      processes: record(),
      runDir,
      containers: [],
    }),
    stop: stopAll,
  };
}

function describe(endpoints: Endpoints): string {
  return Object.values(endpoints)
    .map((e) => ('brokers' in e ? e.brokers.join(',') : 'endpoint' in e ? e.endpoint : e.url))
    .filter((v, i, all) => all.indexOf(v) === i)
    .join(' ');
}

/** Stops a local run recorded by another process (`env:down`): each pid that is still ours, then the folder. */
export async function stopLocalRecord(record: ServicesRecord): Promise<void> {
  const runDir = record.runDir;
  await Promise.all(
    record.processes.map(async (p) => {
      if (runDir !== undefined && !isOurs(p.pid, runDir)) return;
      await stopPid(p.pid, p.stopSignal, 20_000);
    }),
  );
  if (runDir !== undefined) rmSync(runDir, { recursive: true, force: true });
}
