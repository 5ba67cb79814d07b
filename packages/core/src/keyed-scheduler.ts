// Serial per key, parallel across keys, bounded in count and bytes.
//
// `schedule` resolves when a task is ACCEPTED, not when it finishes: a transport awaits it in its
// fetch loop, so when the bounds are full the fetch loop waits too (backpressure reaches the broker
// client instead of piling messages up in memory). Accepted tasks of one key run one at a time, in
// the order they were scheduled; tasks of different keys run concurrently.
//
// Admitted-but-waiting tasks count towards the bounds, so one hot key can occupy every slot and
// stall other keys: that is why per-key backlog is tracked and reported (`hotKeys`, `onHotKey`).

import { InvalidOptionError, SwitchyardError } from './errors.js';

export type ScheduledTask = () => Promise<void>;

export interface HotKeyReport {
  readonly key: string;
  /** Tasks of this key running, queued or waiting for admission. */
  readonly depth: number;
  /** Median depth over keys that have any work. */
  readonly median: number;
}

export interface KeyedSchedulerOptions {
  /** Most tasks admitted at once (running or queued behind their key). */
  readonly maxInFlight: number;
  /** Most bytes admitted at once. A single task larger than this is still admitted, alone. */
  readonly maxInFlightBytes: number;
  /** A task threw (tasks are expected to handle their own errors; this is the last resort). */
  readonly onTaskError?: (error: unknown, key: string) => void;
  /**
   * Called when a key's backlog reaches `hotKeyFactor` times the median backlog (and at least
   * `hotKeyMinDepth`). Checked when a key's depth crosses minDepth, 2×minDepth, 4×minDepth, ….
   */
  readonly onHotKey?: (report: HotKeyReport) => void;
  readonly hotKeyFactor?: number;
  readonly hotKeyMinDepth?: number;
}

interface Entry {
  readonly task: ScheduledTask;
  readonly sizeBytes: number;
}

interface Waiter {
  readonly key: string;
  readonly entry: Entry;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly cleanup: () => void;
}

export class KeyedScheduler {
  readonly #maxInFlight: number;
  readonly #maxBytes: number;
  readonly #onTaskError: ((error: unknown, key: string) => void) | undefined;
  readonly #onHotKey: ((report: HotKeyReport) => void) | undefined;
  readonly #hotFactor: number;
  readonly #hotMinDepth: number;

  /** Admitted tasks per key; the head is running. */
  readonly #queues = new Map<string, Entry[]>();
  /** Waiting for admission, FIFO across keys. */
  readonly #waiters: Waiter[] = [];
  /** Work per key: admitted + waiting, for hot-key detection. */
  readonly #depth = new Map<string, number>();
  #inFlight = 0;
  #inFlightBytes = 0;
  #idleWaiters: Array<() => void> = [];

  constructor(options: KeyedSchedulerOptions) {
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1)
      throw new InvalidOptionError(
        'maxInFlight',
        `must be an integer >= 1, got ${String(options.maxInFlight)}`,
        'pass e.g. maxInFlight: 64',
      );
    if (!(Number.isFinite(options.maxInFlightBytes) && options.maxInFlightBytes >= 1))
      throw new InvalidOptionError(
        'maxInFlightBytes',
        `must be a positive number of bytes, got ${String(options.maxInFlightBytes)}`,
        'pass e.g. maxInFlightBytes: 64 * 1024 * 1024',
      );
    this.#maxInFlight = options.maxInFlight;
    this.#maxBytes = options.maxInFlightBytes;
    this.#onTaskError = options.onTaskError;
    this.#onHotKey = options.onHotKey;
    this.#hotFactor = options.hotKeyFactor ?? 4;
    this.#hotMinDepth = options.hotKeyMinDepth ?? 8;
  }

  /** Tasks admitted (running or queued behind their key). */
  get inFlight(): number {
    return this.#inFlight;
  }

  get inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  /** Keys with admitted work. */
  get queuedKeys(): number {
    return this.#queues.size;
  }

  /** Tasks waiting for admission. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Resolves once the task is admitted. Rejects with the signal's reason if `signal` aborts while it
   * still waits (the task then never runs).
   */
  schedule(key: string, sizeBytes: number, task: ScheduledTask, signal?: AbortSignal): Promise<void> {
    const entry: Entry = { task, sizeBytes: Math.max(0, sizeBytes) };
    if (signal?.aborted) return Promise.reject(signal.reason ?? abortError());
    this.#addDepth(key, 1);
    if (this.#waiters.length === 0 && this.#fits(entry.sizeBytes)) {
      this.#admit(key, entry);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) {
          this.#waiters.splice(index, 1);
          this.#addDepth(key, -1);
          this.#notifyIdle();
          reject(signal?.reason ?? abortError());
        }
      };
      const waiter: Waiter = {
        key,
        entry,
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Resolves when nothing is admitted or waiting. */
  idle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Waits for `idle()` or the signal; true when it went idle. */
  async drain(signal?: AbortSignal): Promise<boolean> {
    if (this.#isIdle()) return true;
    if (signal?.aborted) return false;
    return new Promise<boolean>((resolve) => {
      const onAbort = () => resolve(this.#isIdle());
      signal?.addEventListener('abort', onAbort, { once: true });
      void this.idle().then(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      });
    });
  }

  /** Keys whose backlog is at least `factor` times the median backlog (and at least `minDepth`), deepest first. */
  hotKeys(factor = this.#hotFactor, minDepth = this.#hotMinDepth): HotKeyReport[] {
    const median = this.#medianDepth();
    const hot: HotKeyReport[] = [];
    for (const [key, depth] of this.#depth)
      if (depth >= minDepth && depth >= factor * median) hot.push({ key, depth, median });
    return hot.sort((a, b) => b.depth - a.depth);
  }

  /** Backlog of one key (running + queued + waiting). */
  depthOf(key: string): number {
    return this.#depth.get(key) ?? 0;
  }

  #fits(sizeBytes: number): boolean {
    if (this.#inFlight >= this.#maxInFlight) return false;
    // Alone, anything fits: a message larger than the byte bound must not deadlock the consumer.
    if (this.#inFlight === 0) return true;
    return this.#inFlightBytes + sizeBytes <= this.#maxBytes;
  }

  #admit(key: string, entry: Entry): void {
    this.#inFlight += 1;
    this.#inFlightBytes += entry.sizeBytes;
    const queue = this.#queues.get(key);
    if (queue) {
      queue.push(entry);
      return;
    }
    this.#queues.set(key, [entry]);
    // Start on a microtask so a task never runs inside the caller's `schedule()` call.
    queueMicrotask(() => void this.#runKey(key));
  }

  async #runKey(key: string): Promise<void> {
    const queue = this.#queues.get(key);
    while (queue && queue.length > 0) {
      const entry = queue[0]!;
      try {
        await entry.task();
      } catch (error) {
        this.#onTaskError?.(error, key);
      }
      queue.shift();
      this.#inFlight -= 1;
      this.#inFlightBytes -= entry.sizeBytes;
      this.#addDepth(key, -1);
      if (queue.length === 0) this.#queues.delete(key);
      this.#admitWaiters();
      this.#notifyIdle();
    }
  }

  #admitWaiters(): void {
    // Strict FIFO: the first waiter blocks later ones, so a large message is not starved by small ones.
    while (this.#waiters.length > 0 && this.#fits(this.#waiters[0]!.entry.sizeBytes)) {
      const waiter = this.#waiters.shift()!;
      waiter.cleanup();
      this.#admit(waiter.key, waiter.entry);
      waiter.resolve();
    }
  }

  #addDepth(key: string, delta: number): void {
    const before = this.#depth.get(key) ?? 0;
    const after = before + delta;
    if (after <= 0) this.#depth.delete(key);
    else this.#depth.set(key, after);
    if (delta > 0 && this.#onHotKey && after >= this.#hotMinDepth && isCheckpoint(after / this.#hotMinDepth)) {
      const median = this.#medianDepth();
      if (after >= this.#hotFactor * median) this.#onHotKey({ key, depth: after, median });
    }
  }

  #medianDepth(): number {
    const depths = [...this.#depth.values()].sort((a, b) => a - b);
    if (depths.length === 0) return 0;
    const mid = depths.length >> 1;
    return depths.length % 2 === 1 ? depths[mid]! : (depths[mid - 1]! + depths[mid]!) / 2;
  }

  #isIdle(): boolean {
    return this.#inFlight === 0 && this.#waiters.length === 0;
  }

  #notifyIdle(): void {
    if (!this.#isIdle() || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** 1, 2, 4, 8, …: report a growing backlog a logarithmic number of times. */
function isCheckpoint(ratio: number): boolean {
  return Number.isInteger(ratio) && (ratio & (ratio - 1)) === 0;
}

function abortError(): SwitchyardError {
  return new SwitchyardError('SWITCHYARD_SHUTDOWN', 'scheduling was aborted', { retryable: false });
}
