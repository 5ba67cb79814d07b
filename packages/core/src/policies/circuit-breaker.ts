// A circuit breaker around one named downstream (a database, a payment API). Closed, it lets calls
// through and watches their failure rate over a sliding time window; past the threshold it opens
// and refuses calls for `openMs`, so a struggling downstream gets air instead of a retry storm.
// Then it lets `halfOpenMaxCalls` trial calls through: if they succeed it closes, if one fails it
// opens again. The caller reports each admitted call's result through its permit; only what the
// caller reports as failure counts (the runtime reports retryable downstream errors, not
// validation failures, which say nothing about the downstream's health).

import { assertClock, type Clock, systemClock } from '../clock.js';
import { InvalidOptionError, isOptionObject, optionKindText, optionValueText } from '../errors.js';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitPermit {
  /** The call succeeded. Only the first report of a permit counts. */
  success(): void;
  /** The call failed in a way that says the downstream is unwell. */
  failure(): void;
}

export type CircuitAcquire =
  | { readonly allowed: true; readonly permit: CircuitPermit }
  | { readonly allowed: false; readonly retryAfterMs: number };

/** Tunables shared by one breaker and by the per-downstream defaults of CircuitBreakers. */
export interface CircuitBreakerSettings {
  /** Open when failures / calls in the window reach this (0 < x <= 1). Default 0.5. */
  readonly failureRateThreshold?: number;
  /** Calls the window must hold before the rate is judged. Default 10. */
  readonly minimumCalls?: number;
  /** Sliding window over which the failure rate is measured. Default 30 000 ms. */
  readonly windowMs?: number;
  /** How long an open breaker refuses calls before trying again. Default 30 000 ms. */
  readonly openMs?: number;
  /** Trial calls admitted while half-open; that many successes close the breaker. Default 1. */
  readonly halfOpenMaxCalls?: number;
  /** What a caller refused while the trial calls run is told to wait. Default min(1 000, openMs). */
  readonly halfOpenWaitMs?: number;
  readonly clock?: Clock;
}

export interface CircuitBreakerOptions extends CircuitBreakerSettings {
  readonly name: string;
  /** Called on every transition, after the state changed. Must not throw. */
  readonly onStateChange?: (from: CircuitState, to: CircuitState) => void;
}

export interface CircuitStateChange {
  readonly name: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
}

export interface CircuitBreakersOptions extends CircuitBreakerSettings {
  /** Called on every transition of any breaker. Must not throw. */
  readonly onStateChange?: (change: CircuitStateChange) => void;
  /** Settings for particular downstreams, merged over the ones above. */
  readonly downstreams?: Readonly<Record<string, CircuitBreakerSettings>>;
}

export interface CircuitBreakerSnapshot {
  readonly name: string;
  readonly state: CircuitState;
  /** Calls and failures reported in the window (closed state). */
  readonly calls: number;
  readonly failures: number;
  /** When an open breaker lets trial calls through, ms since the epoch. */
  readonly openUntil: number | undefined;
}

export const circuitBreakerDefaults = Object.freeze({
  failureRateThreshold: 0.5,
  minimumCalls: 10,
  windowMs: 30_000,
  openMs: 30_000,
  halfOpenMaxCalls: 1,
});

/** Buckets in the sliding window; a call leaves the window within windowMs / BUCKETS of its due time. */
const BUCKETS = 10;

interface ResolvedSettings {
  readonly failureRateThreshold: number;
  readonly minimumCalls: number;
  readonly windowMs: number;
  readonly openMs: number;
  readonly halfOpenMaxCalls: number;
  readonly halfOpenWaitMs: number;
  readonly clock: Clock;
}

export class CircuitBreaker {
  readonly name: string;
  readonly settings: Readonly<Omit<ResolvedSettings, 'clock'>>;
  readonly #clock: Clock;
  readonly #onStateChange: ((from: CircuitState, to: CircuitState) => void) | undefined;
  readonly #bucketMs: number;
  readonly #epochs: number[];
  readonly #calls: number[];
  readonly #failures: number[];
  #state: CircuitState = 'closed';
  /** Bumped on each transition: a permit's report counts only in the state that admitted it. */
  #generation = 0;
  #openUntil = 0;
  #trialsAdmitted = 0;
  #trialSuccesses = 0;

  constructor(options: CircuitBreakerOptions) {
    if (!isOptionObject(options))
      throw new InvalidOptionError(
        'circuitBreaker',
        `must be an options object, got ${optionKindText(options)}`,
        "pass e.g. { name: 'payments-api' }",
      );
    if (typeof options.name !== 'string' || options.name === '')
      throw new InvalidOptionError(
        'circuitBreaker.name',
        'must be a non-empty string',
        "name the downstream, e.g. 'payments-api'",
      );
    if (options.onStateChange !== undefined && typeof options.onStateChange !== 'function')
      throw new InvalidOptionError(
        'circuitBreaker.onStateChange',
        'must be a function',
        'pass (from, to) => log(from, to)',
      );
    const { clock, ...settings } = resolveSettings(options, 'circuitBreaker');
    this.name = options.name;
    this.settings = Object.freeze(settings);
    this.#clock = clock;
    this.#onStateChange = options.onStateChange;
    this.#bucketMs = settings.windowMs / BUCKETS;
    this.#epochs = new Array<number>(BUCKETS).fill(Number.NEGATIVE_INFINITY);
    this.#calls = new Array<number>(BUCKETS).fill(0);
    this.#failures = new Array<number>(BUCKETS).fill(0);
  }

  /** The current state; an open breaker whose openMs has passed becomes half-open here. */
  get state(): CircuitState {
    if (this.#state === 'open') {
      const now = this.#clock.now();
      // A wall clock stepped back (an NTP correction) must not hold the breaker open past openMs.
      if (this.#openUntil - now > this.settings.openMs) this.#openUntil = now + this.settings.openMs;
      if (now >= this.#openUntil) this.#transition('half-open');
    }
    return this.#state;
  }

  /** Asks to make a call. Allowed: report its result on the permit. Refused: try again after retryAfterMs. */
  tryAcquire(): CircuitAcquire {
    const state = this.state;
    if (state === 'open') return { allowed: false, retryAfterMs: Math.max(0, this.#openUntil - this.#clock.now()) };
    if (state === 'half-open') {
      if (this.#trialsAdmitted >= this.settings.halfOpenMaxCalls)
        return { allowed: false, retryAfterMs: this.settings.halfOpenWaitMs };
      this.#trialsAdmitted += 1;
    }
    return { allowed: true, permit: this.#permit(this.#generation, state) };
  }

  snapshot(): CircuitBreakerSnapshot {
    const state = this.state;
    const { calls, failures } = this.#window();
    return { name: this.name, state, calls, failures, openUntil: state === 'open' ? this.#openUntil : undefined };
  }

  #permit(generation: number, admittedIn: 'closed' | 'half-open'): CircuitPermit {
    let reported = false;
    const report = (failed: boolean) => {
      if (reported) return;
      reported = true;
      // A call admitted before a transition says nothing about the new state.
      if (generation !== this.#generation) return;
      if (admittedIn === 'closed') this.#recordClosed(failed);
      else this.#recordTrial(failed);
    };
    return { success: () => report(false), failure: () => report(true) };
  }

  #recordClosed(failed: boolean): void {
    const slot = this.#slot();
    this.#calls[slot]! += 1;
    if (failed) this.#failures[slot]! += 1;
    // Judged after every call, successes too: the call that brings the window to minimumCalls may
    // be a success, and the rate is at the threshold then (5 failures, then 5 successes, at 10 calls
    // and 0.5). Judging only on failures left such a breaker closed until the next failure.
    const { calls, failures } = this.#window();
    if (calls >= this.settings.minimumCalls && failures / calls >= this.settings.failureRateThreshold) this.#open();
  }

  #recordTrial(failed: boolean): void {
    if (failed) {
      this.#open();
      return;
    }
    this.#trialSuccesses += 1;
    if (this.#trialSuccesses >= this.settings.halfOpenMaxCalls) this.#transition('closed');
  }

  #open(): void {
    this.#openUntil = this.#clock.now() + this.settings.openMs;
    this.#transition('open');
  }

  #transition(to: CircuitState): void {
    const from = this.#state;
    this.#state = to;
    this.#generation += 1;
    this.#trialsAdmitted = 0;
    this.#trialSuccesses = 0;
    // Each closed period judges its own calls: what failed before the breaker opened is history.
    if (to === 'closed' || to === 'open') this.#clearWindow();
    this.#onStateChange?.(from, to);
  }

  #window(): { calls: number; failures: number } {
    const current = this.#epoch();
    let calls = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const epoch = this.#epochs[i]!;
      if (epoch > current || epoch <= current - BUCKETS) continue;
      calls += this.#calls[i]!;
      failures += this.#failures[i]!;
    }
    return { calls, failures };
  }

  #clearWindow(): void {
    this.#epochs.fill(Number.NEGATIVE_INFINITY);
    this.#calls.fill(0);
    this.#failures.fill(0);
  }

  #epoch(): number {
    return Math.floor(this.#clock.now() / this.#bucketMs);
  }

  #slot(): number {
    const epoch = this.#epoch();
    const slot = ((epoch % BUCKETS) + BUCKETS) % BUCKETS;
    if (this.#epochs[slot] !== epoch) {
      this.#epochs[slot] = epoch;
      this.#calls[slot] = 0;
      this.#failures[slot] = 0;
    }
    return slot;
  }
}

/** One breaker per downstream, created on first use with the shared defaults. */
export class CircuitBreakers {
  readonly #defaults: CircuitBreakerSettings;
  readonly #downstreams: ReadonlyMap<string, CircuitBreakerSettings>;
  readonly #onStateChange: ((change: CircuitStateChange) => void) | undefined;
  readonly #breakers = new Map<string, CircuitBreaker>();

  constructor(defaults: CircuitBreakersOptions = {}) {
    if (!isOptionObject(defaults))
      throw new InvalidOptionError(
        'circuitBreaker',
        `must be an options object, got ${optionKindText(defaults)}`,
        'pass e.g. { failureRateThreshold: 0.5 }',
      );
    const { onStateChange, downstreams, ...settings } = defaults;
    if (onStateChange !== undefined && typeof onStateChange !== 'function')
      throw new InvalidOptionError(
        'circuitBreaker.onStateChange',
        'must be a function',
        'pass ({ name, from, to }) => log(name, from, to)',
      );
    if (downstreams !== undefined && !isOptionObject(downstreams))
      throw new InvalidOptionError(
        'circuitBreaker.downstreams',
        `must be an object keyed by downstream name, got ${optionKindText(downstreams)}`,
        "pass e.g. { 'payments-api': { openMs: 60_000 } }",
      );
    // Validate now, not when a message first reaches a downstream.
    resolveSettings(settings, 'circuitBreaker');
    const perDownstream = new Map<string, CircuitBreakerSettings>();
    for (const [name, own] of Object.entries(downstreams ?? {})) {
      if (!isOptionObject(own))
        throw new InvalidOptionError(
          `circuitBreaker.downstreams.${name}`,
          `must be the downstream's settings object, got ${optionKindText(own)}`,
          "pass e.g. { 'payments-api': { openMs: 60_000 } }",
        );
      // A setting left undefined falls back to the consumer-level one, as leaving it out does.
      const given = Object.fromEntries(Object.entries(own).filter(([, value]) => value !== undefined));
      resolveSettings({ ...settings, ...given }, `circuitBreaker.downstreams.${name}`);
      perDownstream.set(name, given);
    }
    this.#defaults = settings;
    this.#downstreams = perDownstream;
    this.#onStateChange = onStateChange;
  }

  /** The breaker for `name`, created on first use. */
  for(name: string): CircuitBreaker {
    let breaker = this.#breakers.get(name);
    if (breaker === undefined) {
      const onStateChange = this.#onStateChange;
      breaker = new CircuitBreaker({
        ...this.#defaults,
        ...this.#downstreams.get(name),
        name,
        ...(onStateChange
          ? { onStateChange: (from: CircuitState, to: CircuitState) => onStateChange({ name, from, to }) }
          : {}),
      });
      this.#breakers.set(name, breaker);
    }
    return breaker;
  }

  /** Every breaker created so far. */
  all(): CircuitBreaker[] {
    return [...this.#breakers.values()];
  }
}

function resolveSettings(options: CircuitBreakerSettings, prefix: string): ResolvedSettings {
  const failureRateThreshold = options.failureRateThreshold ?? circuitBreakerDefaults.failureRateThreshold;
  if (!(Number.isFinite(failureRateThreshold) && failureRateThreshold > 0 && failureRateThreshold <= 1))
    throw new InvalidOptionError(
      `${prefix}.failureRateThreshold`,
      `must be a share above 0 and at most 1, got ${optionValueText(failureRateThreshold)}`,
      'pass e.g. 0.5 to open when half the calls fail',
    );
  const minimumCalls = options.minimumCalls ?? circuitBreakerDefaults.minimumCalls;
  if (!(Number.isInteger(minimumCalls) && minimumCalls >= 1))
    throw new InvalidOptionError(
      `${prefix}.minimumCalls`,
      `must be a whole number >= 1, got ${optionValueText(minimumCalls)}`,
      'pass e.g. 10',
    );
  const windowMs = options.windowMs ?? circuitBreakerDefaults.windowMs;
  if (!(Number.isFinite(windowMs) && windowMs >= BUCKETS))
    throw new InvalidOptionError(
      `${prefix}.windowMs`,
      `must be a finite number of ms >= ${BUCKETS}, got ${optionValueText(windowMs)}`,
      'pass e.g. 30_000',
    );
  const openMs = options.openMs ?? circuitBreakerDefaults.openMs;
  if (!(Number.isFinite(openMs) && openMs > 0))
    throw new InvalidOptionError(
      `${prefix}.openMs`,
      `must be a positive finite number of ms, got ${optionValueText(openMs)}`,
      'pass e.g. 30_000',
    );
  const halfOpenMaxCalls = options.halfOpenMaxCalls ?? circuitBreakerDefaults.halfOpenMaxCalls;
  if (!(Number.isInteger(halfOpenMaxCalls) && halfOpenMaxCalls >= 1))
    throw new InvalidOptionError(
      `${prefix}.halfOpenMaxCalls`,
      `must be a whole number >= 1, got ${optionValueText(halfOpenMaxCalls)}`,
      'pass e.g. 1',
    );
  const halfOpenWaitMs = options.halfOpenWaitMs ?? Math.min(1_000, openMs);
  if (!(Number.isFinite(halfOpenWaitMs) && halfOpenWaitMs > 0))
    throw new InvalidOptionError(
      `${prefix}.halfOpenWaitMs`,
      `must be a positive finite number of ms, got ${optionValueText(halfOpenWaitMs)}`,
      'pass e.g. 1_000',
    );
  assertClock(`${prefix}.clock`, options.clock);
  const clock = options.clock ?? systemClock;
  return { failureRateThreshold, minimumCalls, windowMs, openMs, halfOpenMaxCalls, halfOpenWaitMs, clock };
}
