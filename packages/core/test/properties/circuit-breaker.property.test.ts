// Property tests for CircuitBreaker on an injected clock, against a model of the README's state
// machine: closed, it judges the failure rate of the calls reported in its sliding window (10
// buckets) and opens at the threshold once the window holds minimumCalls; open, it refuses calls
// until openMs has passed (retryAfterMs counts down), then turns half-open lazily; half-open, it
// admits halfOpenMaxCalls trials: that many successes close it, any failure reopens it. Each permit
// counts once, a permit from before a transition does not move the new state, and each closed
// period starts with an empty window. Random acquires, reports (late, twice, never) and time steps.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type CircuitPermit, type CircuitState } from '../../src/policies/circuit-breaker.js';
import { FakeClock } from '../support/fake-clock.js';

const RUNS = { numRuns: 300 };

const settings = fc.record({
  failureRateThreshold: fc.oneof(fc.constantFrom(0.25, 0.5, 1), fc.double({ min: 0.05, max: 1, noNaN: true })),
  minimumCalls: fc.integer({ min: 1, max: 6 }),
  windowMs: fc.integer({ min: 10, max: 2_000 }),
  openMs: fc.integer({ min: 1, max: 2_000 }),
  halfOpenMaxCalls: fc.integer({ min: 1, max: 3 }),
  halfOpenWaitMs: fc.option(fc.integer({ min: 1, max: 500 }), { nil: undefined }),
});
type Settings = typeof settings extends fc.Arbitrary<infer T> ? T : never;

type Op =
  | { readonly kind: 'acquire' }
  | { readonly kind: 'report'; readonly pick: number; readonly failed: boolean }
  | { readonly kind: 'call'; readonly failed: boolean }
  | { readonly kind: 'advance'; readonly ms: number }
  | { readonly kind: 'state' };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'acquire' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('report' as const), pick: fc.nat(), failed: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('call' as const), failed: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 3_000 })),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'state' as const }) },
);

/** The README's state machine, with the window kept as a list of (time, failed). */
class Model {
  state: CircuitState = 'closed';
  generation = 0;
  openUntil = 0;
  trials = 0;
  trialSuccesses = 0;
  calls: Array<{ at: number; failed: boolean }> = [];
  readonly transitions: string[] = [];
  readonly halfOpenWaitMs: number;

  constructor(
    readonly s: Settings,
    readonly clock: FakeClock,
  ) {
    this.halfOpenWaitMs = s.halfOpenWaitMs ?? Math.min(1_000, s.openMs);
  }

  #epoch(t: number): number {
    return Math.floor(t / (this.s.windowMs / 10));
  }

  window(): { calls: number; failures: number } {
    const now = this.#epoch(this.clock.now());
    const live = this.calls.filter((c) => this.#epoch(c.at) > now - 10 && this.#epoch(c.at) <= now);
    return { calls: live.length, failures: live.filter((c) => c.failed).length };
  }

  #to(to: CircuitState): void {
    this.transitions.push(`${this.state}->${to}`);
    this.state = to;
    this.generation += 1;
    this.trials = 0;
    this.trialSuccesses = 0;
    if (to !== 'half-open') this.calls = [];
  }

  #open(): void {
    this.openUntil = this.clock.now() + this.s.openMs;
    this.#to('open');
  }

  read(): CircuitState {
    if (this.state === 'open' && this.clock.now() >= this.openUntil) this.#to('half-open');
    return this.state;
  }

  acquire():
    | { allowed: true; generation: number; admittedIn: CircuitState }
    | { allowed: false; retryAfterMs: number } {
    const state = this.read();
    if (state === 'open') return { allowed: false, retryAfterMs: this.openUntil - this.clock.now() };
    if (state === 'half-open') {
      if (this.trials >= this.s.halfOpenMaxCalls) return { allowed: false, retryAfterMs: this.halfOpenWaitMs };
      this.trials += 1;
    }
    return { allowed: true, generation: this.generation, admittedIn: state };
  }

  report(generation: number, admittedIn: CircuitState, failed: boolean): void {
    if (generation !== this.generation) return;
    if (admittedIn === 'closed') {
      this.calls.push({ at: this.clock.now(), failed });
      // "open when failures / calls in the window reach it", judged once the window holds minimumCalls
      const { calls, failures } = this.window();
      if (calls >= this.s.minimumCalls && failures / calls >= this.s.failureRateThreshold) this.#open();
    } else if (failed) this.#open();
    else if (++this.trialSuccesses >= this.s.halfOpenMaxCalls) this.#to('closed');
  }
}

interface Held {
  readonly permit: CircuitPermit;
  readonly generation: number;
  readonly admittedIn: CircuitState;
  reported: boolean;
}

function run(s: Settings, ops: readonly Op[]): void {
  const clock = new FakeClock(0);
  const transitions: string[] = [];
  const breaker = new CircuitBreaker({
    name: 'downstream',
    clock,
    onStateChange: (from, to) => transitions.push(`${from}->${to}`),
    ...Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)),
  });
  const model = new Model(s, clock);
  const held: Held[] = [];
  const acquire = (where: string): Held | undefined => {
    const expected = model.acquire();
    const actual = breaker.tryAcquire();
    if (!expected.allowed) {
      expect(actual, where).toEqual(expected);
      return undefined;
    }
    expect(actual.allowed, `${where}: refused, the model admits`).toBe(true);
    if (!actual.allowed) return undefined;
    const h = {
      permit: actual.permit,
      generation: expected.generation,
      admittedIn: expected.admittedIn,
      reported: false,
    };
    held.push(h);
    return h;
  };
  const report = (h: Held, failed: boolean) => {
    if (failed) h.permit.failure();
    else h.permit.success();
    // only the first report of a permit counts
    if (!h.reported) model.report(h.generation, h.admittedIn, failed);
    h.reported = true;
  };
  for (const [i, o] of ops.entries()) {
    const where = `step ${i} ${JSON.stringify(o)} at ${clock.now()}`;
    switch (o.kind) {
      case 'acquire':
        acquire(where);
        break;
      case 'call': {
        const h = acquire(where);
        if (h !== undefined) report(h, o.failed);
        break;
      }
      case 'report': {
        const h = held[o.pick % Math.max(1, held.length)];
        if (h !== undefined) report(h, o.failed);
        break;
      }
      case 'advance':
        clock.set(clock.now() + o.ms);
        break;
      case 'state':
        expect(breaker.state, where).toBe(model.read());
        break;
    }
    expect(transitions, where).toEqual(model.transitions);
    const snapshot = breaker.snapshot();
    const state = model.read();
    expect(snapshot, where).toEqual({
      name: 'downstream',
      state,
      // open and half-open hold no window: opening cleared it, and trials are not closed calls
      ...(state === 'closed' ? model.window() : { calls: 0, failures: 0 }),
      openUntil: state === 'open' ? model.openUntil : undefined,
    });
    expect(transitions, where).toEqual(model.transitions);
  }
}

describe('CircuitBreaker (properties)', () => {
  it('follows the documented state machine for any sequence of calls, reports and time steps', () => {
    fc.assert(fc.property(settings, fc.array(op, { maxLength: 120, size: 'max' }), run), RUNS);
  });

  it('opens once the window holds minimumCalls and the failure rate is at the threshold, whichever call completes it', () => {
    // 5 failures, then 5 successes: the 10th call brings the window to minimumCalls with 5 / 10 failed.
    const clock = new FakeClock(0);
    const breaker = new CircuitBreaker({ name: 'd', clock, minimumCalls: 10, failureRateThreshold: 0.5 });
    const states: CircuitState[] = [];
    for (const failed of [true, true, true, true, true, false, false, false, false, false]) {
      const gate = breaker.tryAcquire();
      if (!gate.allowed) throw new Error('refused');
      if (failed) gate.permit.failure();
      else gate.permit.success();
      states.push(breaker.state);
    }
    expect(states).toEqual([...Array<CircuitState>(9).fill('closed'), 'open']);
  });
});
