// Everything a test creates on a shared broker (topics, queues, groups, clients, subscriptions) is
// registered here with the function that removes it, and removed in afterEach/afterAll. Cleanup runs
// newest first (a subscription closes before its queue is deleted), keeps going past failures and
// reports them all at the end, so one broken delete does not leak the rest.

import { type UniqueNameOptions, uniqueName } from './unique-name.js';

export type CleanupFn = () => unknown | Promise<unknown>;

interface TrackedCleanup {
  readonly label: string;
  readonly run: CleanupFn;
}

export class TestResources {
  #stack: TrackedCleanup[] = [];
  #names: string[] = [];

  /** Register a cleanup; returns a function that runs it early (and only once). */
  track(cleanup: CleanupFn, label = `cleanup #${this.#stack.length + 1}`): () => Promise<void> {
    let done = false;
    const entry: TrackedCleanup = {
      label,
      run: async () => {
        if (done) return;
        done = true;
        await cleanup();
      },
    };
    this.#stack.push(entry);
    return async () => {
      this.#stack = this.#stack.filter((e) => e !== entry);
      await entry.run();
    };
  }

  /** Register `resource` with its disposer and hand the resource back: `const t = resources.add(client, c => c.close())`. */
  add<T>(resource: T, dispose: (resource: T) => unknown | Promise<unknown>, label?: string): T {
    this.track(() => dispose(resource), label);
    return resource;
  }

  /** A `uniqueName(prefix)` remembered for diagnostics (see `names`). */
  name(prefix: string, options?: UniqueNameOptions): string {
    const name = uniqueName(prefix, options);
    this.#names.push(name);
    return name;
  }

  /** Names handed out by `name()` since the last cleanup. */
  get names(): readonly string[] {
    return [...this.#names];
  }

  /** Cleanups still to run. */
  get size(): number {
    return this.#stack.length;
  }

  /**
   * Run every registered cleanup, newest first. All run even if some fail; the failures are then
   * thrown together as one AggregateError naming each cleanup.
   */
  async cleanup(): Promise<void> {
    const stack = this.#stack;
    this.#stack = [];
    this.#names = [];
    const failures: unknown[] = [];
    const labels: string[] = [];
    for (const entry of stack.reverse()) {
      try {
        await entry.run();
      } catch (error) {
        failures.push(error);
        labels.push(entry.label);
      }
    }
    if (failures.length > 0)
      throw new AggregateError(failures, `TestResources: ${failures.length} cleanup(s) failed: ${labels.join(', ')}`);
  }
}
