// A server the local provider runs: launched (process + readiness check) once at start and again
// on `restart()`, on the same ports and data folder, so clients reconnect to the same address.

import { ServiceUnavailableError } from '../errors.js';
import type { Endpoints, ServiceHandle, ServiceName } from '../types.js';
import { ServerProcess, type ServerProcessSpec } from './server-process.js';
import { waitUntil } from './support.js';

export interface LocalServerPlan {
  /** Process label: kafka, elasticmq, moto, redis, postgres. */
  readonly server: string;
  /** The services this one process provides (moto provides `sns` and `sqsMoto`). */
  readonly services: readonly ServiceName[];
  readonly endpoints: Endpoints;
  readonly process: ServerProcessSpec;
  /** True once the server answers a real request. */
  readonly ready: () => Promise<boolean>;
  readonly readyTimeoutMs: number;
}

export class LocalServer {
  readonly plan: LocalServerPlan;
  #current: ServerProcess | undefined;
  readonly #onLaunch: () => void;

  constructor(plan: LocalServerPlan, onLaunch: () => void) {
    this.plan = plan;
    this.#onLaunch = onLaunch;
  }

  get pid(): number | undefined {
    return this.#current?.exitInfo === undefined ? this.#current?.pid : undefined;
  }

  get process(): ServerProcess | undefined {
    return this.#current;
  }

  /** Spawns the server and waits until it answers; on failure it is stopped and the log tail reported. */
  async launch(): Promise<void> {
    const proc = ServerProcess.start(this.plan.process);
    this.#current = proc;
    this.#onLaunch();
    try {
      await waitUntil(`${this.plan.server} on ${describe(this.plan.endpoints)}`, this.plan.ready, {
        timeoutMs: this.plan.readyTimeoutMs,
        failed: () => {
          const exit = proc.exitInfo;
          return exit === undefined ? undefined : `exited early (code ${exit.code}, signal ${exit.signal})`;
        },
      });
    } catch (error) {
      await proc.stop();
      const tail = proc.logTail();
      throw new ServiceUnavailableError(
        this.plan.services.join('+'),
        `${(error as Error).message}\n--- last lines of ${this.plan.process.logFile} ---\n${tail}`,
        error,
      );
    }
  }

  async stop(): Promise<void> {
    await this.#current?.stop();
  }

  handle(service: ServiceName): ServiceHandle {
    const pid = () => this.pid;
    return {
      service,
      get pid() {
        return pid();
      },
      stop: () => this.stop(),
      restart: async () => {
        await this.stop();
        await this.launch();
      },
      pause: async () => this.#current?.pause(),
      resume: async () => this.#current?.resume(),
    };
  }
}

function describe(endpoints: Endpoints): string {
  const e = Object.values(endpoints)[0] as Record<string, unknown> | undefined;
  if (!e) return '?';
  if (Array.isArray(e.brokers)) return e.brokers.join(',');
  return String(e.endpoint ?? e.url ?? '?');
}
