// Serial per key, parallel across keys, bounded in count and bytes.
//
// `schedule` resolves when a task is ACCEPTED, not when it finishes: a transport awaits it in its
// fetch loop, so when the bounds are full the fetch loop waits too (backpressure reaches the broker
// client instead of piling messages up in memory). Accepted tasks of one key run one at a time, in
// the order they were scheduled; tasks of different keys run concurrently.
//
// Admitted-but-waiting tasks count towards the bounds, so one hot key can occupy every slot and
// stall other keys: that is why per-key backlog is tracked and reported (`hotKeys`, `onHotKey`).

import { InvalidOptionError, optionValueText, SwitchyardError } from './errors.js';

/**
 * A unit of work. Returns a promise when it goes on asynchronously, or nothing when it finished
 * before returning: the key's next task then runs at once, without a promise and microtask turn.
 */
export type ScheduledTask = () => Promise<void> | undefined | void;

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

/**
 * One ordering key's work: the head task (running, or starting on the next microtask), the tasks
 * admitted behind it, and how many wait for admission. One map entry per key holds all of it, so a
 * task costs one lookup on the way in and at most one delete on the way out.
 *
 * Most keys see one task at a time, so the head lives in fields and the queue array is made only
 * for a second task (an array and an entry per message before). Idle states are not kept for
 * reuse: that saved ~300 more bytes a message but raised a Kafka consumer's RSS by ~15 MB at 1 M
 * messages (bench pair 7a, A/B of three runs a side). Why is not pinned down; long-lived states
 * pointing into the young generation is the likeliest cause.
 */
class KeyState {
  readonly key: string;
  headTask: ScheduledTask | undefined = undefined;
  headSize = 0;
  /** Admitted behind the head, in order. */
  queue: Entry[] | undefined = undefined;
  /** Index of the queue's first entry: taking one is O(1), where `shift()` copied a long queue. */
  queueHead = 0;
  waiting = 0;
  /**
   * Completion callbacks of the head task, made once per state (not once per task), and only when
   * one of the key's tasks goes asynchronous: synchronous tasks need neither.
   */
  done: (() => void) | undefined = undefined;
  failed: ((error: unknown) => void) | undefined = undefined;

  constructor(key: string) {
    this.key = key;
  }

  get admitted(): number {
    return (this.headTask === undefined ? 0 : 1) + (this.queue === undefined ? 0 : this.queue.length - this.queueHead);
  }
}

interface Waiter {
  readonly state: KeyState;
  readonly entry: Entry;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly cleanup: () => void;
}

const RESOLVED = Promise.resolve();

export class KeyedScheduler {
  readonly #maxInFlight: number;
  readonly #maxBytes: number;
  readonly #onTaskError: ((error: unknown, key: string) => void) | undefined;
  readonly #onHotKey: ((report: HotKeyReport) => void) | undefined;
  readonly #hotFactor: number;
  readonly #hotMinDepth: number;

  /** Keys with work admitted or waiting; a key leaves when it has neither. */
  readonly #keys = new Map<string, KeyState>();
  /** Keys with admitted work (`queuedKeys`). */
  #activeKeys = 0;
  /** Keys whose head task starts on the next microtask, in the order they became ready. */
  #ready: KeyState[] = [];
  /** Waiting for admission, FIFO across keys. */
  readonly #waiters: Waiter[] = [];
  #inFlight = 0;
  #inFlightBytes = 0;
  #idleWaiters: Array<() => void> = [];

  constructor(options: KeyedSchedulerOptions) {
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1)
      throw new InvalidOptionError(
        'maxInFlight',
        `must be an integer >= 1, got ${optionValueText(options.maxInFlight)}`,
        'pass e.g. maxInFlight: 64',
      );
    if (!(Number.isFinite(options.maxInFlightBytes) && options.maxInFlightBytes >= 1))
      throw new InvalidOptionError(
        'maxInFlightBytes',
        `must be a positive number of bytes, got ${optionValueText(options.maxInFlightBytes)}`,
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
    return this.#activeKeys;
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
    if (signal?.aborted) return Promise.reject(signal.reason ?? abortError());
    if (this.tryAdmit(key, sizeBytes, task)) return RESOLVED;
    const entry: Entry = { task, sizeBytes: countedSize(sizeBytes) };
    const state = this.#stateOf(key);
    state.waiting += 1;
    this.#checkHot(state);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) {
          this.#waiters.splice(index, 1);
          state.waiting -= 1;
          this.#forgetIfIdle(state);
          // The aborted waiter may have been the one blocking the FIFO: those behind it that fit
          // now must not wait for some running task to finish (it may run for a long time).
          this.#admitWaiters();
          this.#notifyIdle();
          reject(signal?.reason ?? abortError());
        }
      };
      const waiter: Waiter = {
        state,
        entry,
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /**
   * Admits the task at once when nothing waits before it and the bounds have room, as `schedule`
   * would; false (nothing done) otherwise, and the caller then uses `schedule` to wait. Lets a
   * caller on the hot path skip a promise per task when there is room, which is the common case.
   */
  tryAdmit(key: string, sizeBytes: number, task: ScheduledTask): boolean {
    const size = countedSize(sizeBytes);
    if (this.#waiters.length > 0 || !this.#fits(size)) return false;
    const state = this.#stateOf(key);
    this.#admit(state, task, size);
    this.#checkHot(state);
    return true;
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
    for (const state of this.#keys.values()) {
      const depth = depthOf(state);
      if (depth >= minDepth && depth >= factor * median) hot.push({ key: state.key, depth, median });
    }
    return hot.sort((a, b) => b.depth - a.depth);
  }

  /** Backlog of one key (running + queued + waiting). */
  depthOf(key: string): number {
    const state = this.#keys.get(key);
    return state === undefined ? 0 : depthOf(state);
  }

  #fits(sizeBytes: number): boolean {
    if (this.#inFlight >= this.#maxInFlight) return false;
    // Alone, anything fits: a message larger than the byte bound must not deadlock the consumer.
    if (this.#inFlight === 0) return true;
    return this.#inFlightBytes + sizeBytes <= this.#maxBytes;
  }

  #stateOf(key: string): KeyState {
    let state = this.#keys.get(key);
    if (state === undefined) {
      state = new KeyState(key);
      this.#keys.set(key, state);
    }
    return state;
  }

  #forgetIfIdle(state: KeyState): void {
    if (state.headTask === undefined && state.waiting === 0) this.#keys.delete(state.key);
  }

  #admit(state: KeyState, task: ScheduledTask, sizeBytes: number): void {
    this.#inFlight += 1;
    this.#inFlightBytes += sizeBytes;
    if (state.headTask !== undefined) {
      if (state.queue === undefined) state.queue = [];
      state.queue.push({ task, sizeBytes });
      return;
    }
    state.headTask = task;
    state.headSize = sizeBytes;
    this.#activeKeys += 1;
    // Start on a microtask so a task never runs inside the caller's `schedule()` call. Keys made
    // ready in one turn share a microtask: `queueMicrotask` builds an AsyncResource per call.
    this.#ready.push(state);
    if (this.#ready.length === 1) RESOLVED.then(this.#runReady);
  }

  readonly #runReady = (): void => {
    const ready = this.#ready;
    // Keys made ready by the tasks started here go into the next batch, not this loop.
    this.#ready = [];
    for (const state of ready) this.#runHead(state);
  };

  // Runs the key's head task, then (in #headDone) the next one. Chained with `then` rather than an
  // `async` loop: most keys run a single task, and an async frame per key run was needless garbage.
  #runHead(state: KeyState): void {
    // A task that finishes synchronously hands the key to its next task here, in this loop: no
    // promise, no microtask turn, and no recursion however long the key's queue.
    for (;;) {
      let running: Promise<void> | undefined | void;
      try {
        running = state.headTask!();
      } catch (error) {
        this.#reportFailure(error, state.key);
        running = undefined;
      }
      if (running === undefined || running === null || typeof running.then !== 'function') {
        if (this.#finishHead(state)) continue;
        return;
      }
      state.done ??= () => this.#headDone(state);
      state.failed ??= (error: unknown) => {
        this.#reportFailure(error, state.key);
        this.#headDone(state);
      };
      running.then(state.done, state.failed);
      return;
    }
  }

  #reportFailure(error: unknown, key: string): void {
    try {
      this.#onTaskError?.(error, key);
    } catch {
      // A failing reporter must not stop the key: its next task still has to run.
    }
  }

  #headDone(state: KeyState): void {
    if (this.#finishHead(state)) this.#runHead(state);
  }

  /** Ends the key's running task; true when the key has a next task to run now. */
  #finishHead(state: KeyState): boolean {
    this.#inFlight -= 1;
    this.#inFlightBytes -= state.headSize;
    const next = state.queue === undefined ? undefined : takeNext(state);
    state.headTask = next?.task;
    state.headSize = next?.sizeBytes ?? 0;
    // Decided before admitting waiters: a waiter of this key admitted into the emptied head starts
    // a run of its own (see #admit), which must not be started twice.
    const more = next !== undefined;
    if (!more) {
      this.#activeKeys -= 1;
      this.#forgetIfIdle(state);
    }
    this.#admitWaiters();
    this.#notifyIdle();
    return more;
  }

  #admitWaiters(): void {
    // Strict FIFO: the first waiter blocks later ones, so a large message is not starved by small ones.
    while (this.#waiters.length > 0 && this.#fits(this.#waiters[0]!.entry.sizeBytes)) {
      const waiter = this.#waiters.shift()!;
      waiter.cleanup();
      waiter.state.waiting -= 1;
      this.#admit(waiter.state, waiter.entry.task, waiter.entry.sizeBytes);
      waiter.resolve();
    }
  }

  /** Called when a key's backlog grew by one. */
  #checkHot(state: KeyState): void {
    if (this.#onHotKey === undefined) return;
    const depth = depthOf(state);
    if (depth >= this.#hotMinDepth && isCheckpoint(depth / this.#hotMinDepth)) {
      const median = this.#medianDepth();
      if (depth >= this.#hotFactor * median) this.#onHotKey({ key: state.key, depth, median });
    }
  }

  #medianDepth(): number {
    const depths = Array.from(this.#keys.values(), depthOf).sort((a, b) => a - b);
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

function takeNext(state: KeyState): Entry | undefined {
  const queue = state.queue!;
  if (state.queueHead === queue.length) return undefined;
  const next = queue[state.queueHead]!;
  state.queueHead += 1;
  if (state.queueHead === queue.length) {
    queue.length = 0;
    state.queueHead = 0;
  } else if (state.queueHead >= 1024 && state.queueHead * 2 >= queue.length) {
    // A key that never drains: drop the taken half now and then (amortised O(1)).
    queue.splice(0, state.queueHead);
    state.queueHead = 0;
  }
  return next;
}

function depthOf(state: KeyState): number {
  return state.admitted + state.waiting;
}

/** 1, 2, 4, 8, …: report a growing backlog a logarithmic number of times. */
function isCheckpoint(ratio: number): boolean {
  return Number.isInteger(ratio) && (ratio & (ratio - 1)) === 0;
}

function abortError(): SwitchyardError {
  return new SwitchyardError('SWITCHYARD_SHUTDOWN', 'scheduling was aborted', { retryable: false });
}

/**
 * The bytes a task counts for. A size that is not a finite positive number (a transport's NaN, say)
 * counts as 0: added to the in-flight total it would make that NaN for good, and nothing would fit.
 */
function countedSize(sizeBytes: number): number {
  return sizeBytes > 0 && sizeBytes < Number.POSITIVE_INFINITY ? sizeBytes : 0;
}
