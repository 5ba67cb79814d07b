// Fault injection for handlers: wrap a handler so its first calls fail, hang, or fail on a
// condition, and keep a record of every call. The wrapper has the handler's parameters, so it goes
// wherever the handler went (defineHandler, a class method), and its record answers "how many
// times did it run, with which attempt, and what happened" without a sleep.
//
//   const handle = injectFaults(chargeCard, faults.failTimes(2), faults.hangFor(50));
//   defineHandler(ChargeCard, handle);
//   await handle.waitForCalls(3);

import type { Clock, HandlerContext, HandlerDefinition } from '@switchyard/core';
import { InvalidOptionError, optionValueText, RetryableError, systemClock } from '@switchyard/core';
import { checkTimeout, EventLog, type WaitOptions } from '../spies/event-log.js';

/** Any handler-shaped function: (message, context) => result. */
export type HandlerLike = (message: any, context: HandlerContext) => unknown;

/** What a fault sees about the call in front of it. */
export interface FaultCallInfo<M = unknown> {
  /** Calls that reached this fault so far, this one included (1-based). */
  readonly call: number;
  readonly message: M;
  /** May be missing when a test calls the handler by hand. */
  readonly context: HandlerContext | undefined;
}

/** One fault's behaviour in one wrapper: act, or pass the call on with `next()`. */
export type FaultInterceptor = (
  info: FaultCallInfo,
  next: () => Promise<unknown>,
  inject: () => void,
) => Promise<unknown>;

/**
 * A fault: apply it to a handler directly (`fault(handler)`) or give several to `injectFaults`.
 * Each application gets fresh state (its own call count).
 */
export interface Fault {
  <F extends HandlerLike>(handler: F): FaultyHandler<F>;
  readonly description: string;
  create(): FaultInterceptor;
}

export type CallStatus = 'running' | 'returned' | 'threw';

export interface HandlerCall<M = unknown> {
  /** 1-based, counted by the wrapper. */
  readonly call: number;
  readonly message: M;
  readonly attempt: number | undefined;
  /** The fault that acted on this call (`failTimes(2)`, `hangFor(50ms)`), or undefined when the handler ran clean. */
  readonly injected: string | undefined;
  readonly status: CallStatus;
  readonly result: unknown;
  readonly error: unknown;
  readonly startedAt: number;
  readonly endedAt: number | undefined;
}

export interface FaultRecord<M> {
  /** Every call so far, in order; entries update as calls finish. */
  readonly calls: readonly HandlerCall<M>[];
  readonly callCount: number;
  /** `failTimes(2) -> hangFor(50ms) -> handler` */
  readonly description: string;
  /** Resolves with the first `count` calls once that many have started. */
  waitForCalls(count: number, options?: WaitOptions): Promise<HandlerCall<M>[]>;
  /** Forget the calls and restart every fault's state (failTimes counts from zero again). */
  reset(): void;
}

/** The message type a handler takes (unknown for one that takes none). */
export type MessageOf<F extends HandlerLike> = Parameters<F> extends [infer M, ...unknown[]] ? M : unknown;

/** The wrapped handler: same message type and result, always async, plus its call record. */
export type FaultyHandler<F extends HandlerLike> = ((
  message: MessageOf<F>,
  context: HandlerContext,
) => Promise<Awaited<ReturnType<F>>>) &
  FaultRecord<MessageOf<F>>;

/** The error to throw, or a function making a fresh one per call. */
export type ErrorSource = ((info: FaultCallInfo) => unknown) | {} | null;

const DEFAULT_WAIT_MS = 15_000;

interface MutableCall {
  call: number;
  message: unknown;
  attempt: number | undefined;
  injected: string | undefined;
  status: CallStatus;
  result: unknown;
  error: unknown;
  startedAt: number;
  endedAt: number | undefined;
}

function makeError(source: ErrorSource | undefined, info: FaultCallInfo, fallback: string): unknown {
  if (source === undefined)
    return new RetryableError(`Injected fault: ${fallback}, call ${info.call}`, {
      details: { injected: true, fault: fallback, call: info.call },
    });
  return typeof source === 'function' ? (source as (info: FaultCallInfo) => unknown)(info) : source;
}

function checkCount(value: number, option: string): void {
  if (!(Number.isInteger(value) && value >= 0))
    throw new InvalidOptionError(
      option,
      `must be a non-negative integer, got ${optionValueText(value)}`,
      'pass e.g. 2',
    );
}

function defineFault(description: string, create: () => FaultInterceptor): Fault {
  const fault = (<F extends HandlerLike>(handler: F) => injectFaults(handler, fault)) as Fault;
  Object.defineProperties(fault, {
    description: { value: description, enumerable: true },
    create: { value: create, enumerable: true },
  });
  return fault;
}

/** Waits `ms`, rejecting with the signal's reason on abort when `signal` is given. */
function wait(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms === Number.POSITIVE_INFINITY) {
    return new Promise<void>((_resolve, reject) => {
      if (!signal) return;
      if (signal.aborted) reject(signal.reason);
      else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
  return clock.sleep(ms, signal);
}

export interface HangOptions {
  /**
   * Stop hanging when the handler's `context.signal` aborts (timeout, shutdown, lease lost) and
   * reject with its reason, as a well-behaved handler does (default true). `false` simulates a
   * handler that ignores cancellation.
   */
  readonly signalAware?: boolean;
  /** Hang only the first N calls (default: every call). */
  readonly times?: number;
  /** Clock to wait on (default: the system clock); a manual clock makes hangs instant in unit tests. */
  readonly clock?: Clock;
}

export const faults = {
  /** The first `n` calls throw `error` (default: a retryable `RetryableError`), later calls run the handler. */
  failTimes(n: number, error?: ErrorSource): Fault {
    checkCount(n, 'faults.failTimes(n)');
    const description = `failTimes(${n})`;
    return defineFault(description, () => async (info, next, inject) => {
      if (info.call > n) return next();
      inject();
      throw makeError(error, info, description);
    });
  },

  /** Every call throws `error` (e.g. `new NonRetryableError('bad card')` to test dead-lettering). */
  failWith(error: NonNullable<ErrorSource>): Fault {
    const description = `failWith(${error instanceof Error ? error.name : typeof error})`;
    return defineFault(description, () => async (info, _next, inject) => {
      inject();
      throw makeError(error, info, description);
    });
  },

  /** Calls for which `predicate` is true throw `error`; the others run the handler. */
  failWhen<M = any>(
    predicate: (message: M, context: HandlerContext | undefined, call: number) => boolean,
    error?: ErrorSource,
  ): Fault {
    if (typeof predicate !== 'function')
      throw new InvalidOptionError(
        'faults.failWhen(predicate)',
        'must be a function',
        'pass (message) => message.payload.amount > 100',
      );
    const description = 'failWhen(predicate)';
    return defineFault(description, () => async (info, next, inject) => {
      if (!predicate(info.message as M, info.context, info.call)) return next();
      inject();
      throw makeError(error, info, description);
    });
  },

  /**
   * Wait `ms` (or forever) before running the handler: a slow downstream, or one that never answers.
   * Signal-aware by default: an abort (handler timeout, shutdown) ends the hang with the signal's reason.
   */
  hangFor(ms: number | 'forever', options: HangOptions = {}): Fault {
    const duration = ms === 'forever' ? Number.POSITIVE_INFINITY : ms;
    if (ms !== 'forever' && !(Number.isFinite(ms) && ms >= 0))
      throw new InvalidOptionError(
        'faults.hangFor(ms)',
        `must be a non-negative number of milliseconds or 'forever', got ${optionValueText(ms)}`,
        "pass e.g. 200 or 'forever'",
      );
    if (options.times !== undefined) checkCount(options.times, 'faults.hangFor.times');
    const signalAware = options.signalAware ?? true;
    const clock = options.clock ?? systemClock;
    const times = options.times ?? Number.POSITIVE_INFINITY;
    const description = `hangFor(${ms === 'forever' ? 'forever' : `${ms}ms`}${signalAware ? '' : ', ignoring abort'})`;
    return defineFault(description, () => async (info, next, inject) => {
      if (info.call > times) return next();
      inject();
      await wait(clock, duration, signalAware ? info.context?.signal : undefined);
      return next();
    });
  },
} as const;

/**
 * Wrap `handler` in `faultList`, the first one outermost: `injectFaults(h, failTimes(1), hangFor(50))`
 * fails call 1; call 2 passes failTimes, then hangs 50 ms, then runs `h`.
 */
export function injectFaults<F extends HandlerLike>(handler: F, ...faultList: Fault[]): FaultyHandler<F> {
  if (typeof handler !== 'function')
    throw new InvalidOptionError('injectFaults(handler)', 'must be a function', 'pass the handler function');
  for (const fault of faultList)
    if (typeof fault?.create !== 'function')
      throw new InvalidOptionError('injectFaults(faults)', 'contains something that is not a fault', 'use faults.*()');

  const log = new EventLog<MutableCall>();
  let interceptors: FaultInterceptor[] = [];
  let counters: number[] = [];
  const start = () => {
    interceptors = faultList.map((f) => f.create());
    counters = faultList.map(() => 0);
  };
  start();

  const wrapped = async (message: unknown, context: HandlerContext) => {
    const record: MutableCall = {
      call: log.items.length + 1,
      message,
      attempt: context?.attempt,
      injected: undefined,
      status: 'running',
      result: undefined,
      error: undefined,
      startedAt: Date.now(),
      endedAt: undefined,
    };
    log.push(record);
    const run = (index: number): Promise<unknown> => {
      const interceptor = interceptors[index];
      if (!interceptor) return Promise.resolve().then(() => handler(message, context));
      counters[index] = (counters[index] ?? 0) + 1;
      const info: FaultCallInfo = { call: counters[index], message, context };
      const description = faultList[index]?.description;
      return interceptor(
        info,
        () => run(index + 1),
        () => {
          record.injected ??= description;
        },
      );
    };
    try {
      const result = await run(0);
      record.status = 'returned';
      record.result = result;
      return result;
    } catch (error) {
      record.status = 'threw';
      record.error = error;
      throw error;
    } finally {
      record.endedAt = Date.now();
    }
  };

  const inner = (handler as Partial<FaultRecord<unknown>>).description ?? (handler.name || 'handler');
  const description = [...faultList.map((f) => f.description), inner].join(' -> ');
  Object.defineProperties(wrapped, {
    calls: { get: () => [...log.items], enumerable: true },
    callCount: { get: () => log.items.length, enumerable: true },
    description: { value: description, enumerable: true },
    waitForCalls: {
      value: (count: number, options: WaitOptions = {}) => {
        checkCount(count, 'waitForCalls(count)');
        const timeoutMs = checkTimeout(options.timeoutMs ?? DEFAULT_WAIT_MS, 'timeoutMs');
        return log.waitUntil((items) => (items.length >= count ? items.slice(0, count) : undefined), {
          timeoutMs,
          signal: options.signal,
          describe: () =>
            `${description}: timed out after ${timeoutMs} ms waiting for ${count} call(s); saw ${log.items.length}: ` +
            (log.items.map((c) => `#${c.call} ${c.status}${c.injected ? ` [${c.injected}]` : ''}`).join(', ') ||
              'none'),
        });
      },
    },
    reset: {
      value: () => {
        log.clear();
        start();
      },
    },
  });
  return wrapped as unknown as FaultyHandler<F>;
}

/** `injectFaults` for a whole HandlerDefinition: same contract and options, faulty handle. */
export function withFaults<D extends HandlerDefinition<any>>(
  definition: D,
  ...faultList: Fault[]
): D & { readonly handle: FaultyHandler<D['handle']> } {
  const handle = injectFaults(definition.handle as D['handle'], ...faultList);
  return Object.freeze({ ...definition, handle });
}
