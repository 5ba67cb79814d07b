import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import {
  type CircuitAcquire,
  CircuitBreaker,
  type CircuitBreakerOptions,
  CircuitBreakers,
  type CircuitState,
  type CircuitStateChange,
} from '../../src/policies/circuit-breaker.js';
import { FakeClock } from '../support/fake-clock.js';

function breaker(options: Partial<CircuitBreakerOptions> = {}) {
  const clock = new FakeClock(0);
  const transitions: string[] = [];
  const b = new CircuitBreaker({
    name: 'payments-api',
    clock,
    onStateChange: (from, to) => transitions.push(`${from}->${to}`),
    ...options,
  });
  return { clock, breaker: b, transitions };
}

/** Makes one call and reports it; returns what happened, for decision lists. */
function call(b: CircuitBreaker, result: 'ok' | 'fail'): string {
  const gate = b.tryAcquire();
  if (!gate.allowed) return `refused ${gate.retryAfterMs}`;
  if (result === 'ok') gate.permit.success();
  else gate.permit.failure();
  return result;
}

function allowed(gate: CircuitAcquire): Extract<CircuitAcquire, { allowed: true }> {
  if (!gate.allowed) throw new Error(`expected the call to be allowed, retry after ${gate.retryAfterMs}`);
  return gate;
}

describe('CircuitBreaker', () => {
  it('starts closed and stays closed while calls succeed', () => {
    const { breaker: b, transitions } = breaker();
    expect(b.state).toBe('closed');
    for (let i = 0; i < 50; i++) expect(call(b, 'ok')).toBe('ok');
    expect(transitions).toEqual([]);
  });

  it('does not judge the rate below minimumCalls, even when every call fails', () => {
    const { breaker: b } = breaker({ minimumCalls: 10 });
    for (let i = 0; i < 9; i++) call(b, 'fail');
    expect(b.state).toBe('closed');
    call(b, 'fail');
    expect(b.state).toBe('open');
  });

  it('opens when the failure rate reaches the threshold and refuses calls for openMs', () => {
    const { clock, breaker: b, transitions } = breaker({ failureRateThreshold: 0.5, minimumCalls: 10, openMs: 30_000 });
    const results = ['ok', 'ok', 'ok', 'ok', 'ok', 'fail', 'fail', 'fail', 'fail', 'fail', 'ok'] as const;
    expect(results.map((r) => call(b, r))).toEqual([...results.slice(0, 10), 'refused 30000']);
    expect(transitions).toEqual(['closed->open']);
    clock.set(12_000);
    expect(b.tryAcquire()).toEqual({ allowed: false, retryAfterMs: 18_000 });
    expect(b.snapshot()).toMatchObject({ name: 'payments-api', state: 'open', openUntil: 30_000 });
  });

  it('stays closed just below the threshold', () => {
    const { breaker: b } = breaker({ failureRateThreshold: 0.5, minimumCalls: 10 });
    for (const r of ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'fail', 'fail', 'fail', 'fail'] as const) call(b, r);
    expect(b.state).toBe('closed');
    expect(b.snapshot()).toMatchObject({ calls: 10, failures: 4 });
  });

  it('becomes half-open lazily once openMs has passed, admits one trial and closes on its success', () => {
    const { clock, breaker: b, transitions } = breaker({ minimumCalls: 2, openMs: 1_000 });
    call(b, 'fail');
    call(b, 'fail');
    clock.set(999);
    expect(b.state).toBe('open');
    clock.set(1_000);
    expect(b.state).toBe('half-open');
    const trial = allowed(b.tryAcquire());
    // While the trial runs, others are told to come back soon, not after a whole openMs.
    expect(b.tryAcquire()).toEqual({ allowed: false, retryAfterMs: 1_000 });
    trial.permit.success();
    expect(b.state).toBe('closed');
    expect(transitions).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
    expect(call(b, 'ok')).toBe('ok');
  });

  // openUntil is on the wall clock: stepped back an hour (an NTP correction) while open, the breaker
  // stayed open, deferring every message, for that hour plus openMs.
  it('stays open no longer than openMs when the wall clock steps back', () => {
    const { clock, breaker: b } = breaker({ minimumCalls: 2, openMs: 1_000, windowMs: 10_000 });
    clock.set(5_000_000);
    call(b, 'fail');
    call(b, 'fail');
    clock.set(5_000_000 - 3_600_000);
    expect(b.tryAcquire()).toEqual({ allowed: false, retryAfterMs: 1_000 });
    clock.set(5_000_000 - 3_600_000 + 1_000);
    expect(b.state).toBe('half-open');
  });

  it('reopens for a fresh openMs when the trial fails', () => {
    const { clock, breaker: b, transitions } = breaker({ minimumCalls: 1, openMs: 5_000 });
    call(b, 'fail');
    clock.set(5_000);
    expect(call(b, 'fail')).toBe('fail');
    expect(transitions).toEqual(['closed->open', 'open->half-open', 'half-open->open']);
    expect(b.tryAcquire()).toEqual({ allowed: false, retryAfterMs: 5_000 });
    clock.set(10_000);
    expect(call(b, 'ok')).toBe('ok');
    expect(b.state).toBe('closed');
  });

  it('needs halfOpenMaxCalls successful trials to close, and any failing one reopens', () => {
    const { clock, breaker: b } = breaker({ minimumCalls: 1, openMs: 100, halfOpenMaxCalls: 3, halfOpenWaitMs: 25 });
    call(b, 'fail');
    clock.set(100);
    const trials = [b.tryAcquire(), b.tryAcquire(), b.tryAcquire()].map(allowed);
    expect(b.tryAcquire()).toEqual({ allowed: false, retryAfterMs: 25 });
    trials[0]!.permit.success();
    trials[1]!.permit.success();
    expect(b.state).toBe('half-open');
    trials[2]!.permit.success();
    expect(b.state).toBe('closed');

    for (let i = 0; i < 1; i++) call(b, 'fail');
    clock.set(300);
    const second = [b.tryAcquire(), b.tryAcquire()].map(allowed);
    second[0]!.permit.success();
    second[1]!.permit.failure();
    expect(b.state).toBe('open');
  });

  it('counts each permit once and ignores reports from before a transition', () => {
    const { clock, breaker: b, transitions } = breaker({ minimumCalls: 2, openMs: 1_000 });
    const slow = allowed(b.tryAcquire()); // admitted while closed, reports late
    const twice = allowed(b.tryAcquire());
    twice.permit.failure();
    twice.permit.failure(); // a second report changes nothing
    expect(b.snapshot()).toMatchObject({ calls: 1, failures: 1 });
    call(b, 'fail');
    expect(b.state).toBe('open');
    clock.set(1_000);
    const trial = allowed(b.tryAcquire());
    slow.permit.failure(); // belongs to the closed period: must not reopen the half-open breaker
    expect(b.state).toBe('half-open');
    trial.permit.success();
    expect(transitions).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('judges only the calls inside the sliding window', () => {
    const { clock, breaker: b } = breaker({ minimumCalls: 4, windowMs: 10_000 });
    for (let i = 0; i < 3; i++) call(b, 'fail'); // t = 0
    clock.set(10_000); // those three left the window
    for (let i = 0; i < 3; i++) call(b, 'ok');
    call(b, 'fail');
    expect(b.snapshot()).toMatchObject({ state: 'closed', calls: 4, failures: 1 });
    clock.set(12_000);
    expect([call(b, 'fail'), call(b, 'fail'), call(b, 'fail')]).toEqual(['fail', 'fail', 'refused 30000']);
    expect(b.state).toBe('open'); // 3 of 6 calls in the window failed
  });

  it('starts a fresh window after closing, so old failures do not reopen it', () => {
    const { clock, breaker: b } = breaker({ minimumCalls: 4, openMs: 1_000 });
    for (let i = 0; i < 4; i++) call(b, 'fail');
    clock.set(1_000);
    call(b, 'ok'); // trial closes it
    expect(b.state).toBe('closed');
    expect(b.snapshot()).toMatchObject({ calls: 0, failures: 0 });
    call(b, 'fail');
    expect(b.state).toBe('closed');
  });

  it('lists its decisions through a whole outage', () => {
    const { clock, breaker: b, transitions } = breaker({ minimumCalls: 3, failureRateThreshold: 0.6, openMs: 2_000 });
    const log: string[] = [];
    const script: Array<[number, 'ok' | 'fail']> = [
      [0, 'ok'],
      [100, 'fail'],
      [200, 'fail'], // 2 of 3 failed -> open until 2200
      [300, 'ok'],
      [2_199, 'ok'],
      [2_200, 'fail'], // trial fails -> open until 4200
      [4_200, 'ok'], // trial succeeds -> closed
      [4_300, 'fail'],
    ];
    for (const [t, r] of script) {
      clock.set(t);
      log.push(`${t} ${call(b, r)} ${b.state}`);
    }
    expect(log).toEqual([
      '0 ok closed',
      '100 fail closed',
      '200 fail open',
      '300 refused 1900 open',
      '2199 refused 1 open',
      '2200 fail open',
      '4200 ok closed',
      '4300 fail closed',
    ]);
    expect(transitions).toEqual([
      'closed->open',
      'open->half-open',
      'half-open->open',
      'open->half-open',
      'half-open->closed',
    ]);
  });

  const invalid: Array<[string, Partial<CircuitBreakerOptions>, string]> = [
    ['an empty name', { name: '' }, 'circuitBreaker.name'],
    ['a zero threshold', { failureRateThreshold: 0 }, 'circuitBreaker.failureRateThreshold'],
    ['a threshold above 1', { failureRateThreshold: 1.5 }, 'circuitBreaker.failureRateThreshold'],
    ['zero minimum calls', { minimumCalls: 0 }, 'circuitBreaker.minimumCalls'],
    ['a tiny window', { windowMs: 5 }, 'circuitBreaker.windowMs'],
    ['a zero open time', { openMs: 0 }, 'circuitBreaker.openMs'],
    ['zero trial calls', { halfOpenMaxCalls: 0 }, 'circuitBreaker.halfOpenMaxCalls'],
    ['a negative half-open wait', { halfOpenWaitMs: -1 }, 'circuitBreaker.halfOpenWaitMs'],
    ['a listener that is not a function', { onStateChange: 'log' as never }, 'circuitBreaker.onStateChange'],
  ];
  it.each(invalid)('rejects %s, naming the option', (_, options, option) => {
    try {
      new CircuitBreaker({ name: 'x', ...options });
      expect.unreachable('constructor should have thrown');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).option).toBe(option);
    }
  });
});

describe('CircuitBreakers', () => {
  it('creates one breaker per downstream on first use and returns the same one after', () => {
    const breakers = new CircuitBreakers({ clock: new FakeClock(0) });
    const payments = breakers.for('payments-api');
    expect(breakers.for('payments-api')).toBe(payments);
    expect(breakers.for('ledger-db')).not.toBe(payments);
    expect(breakers.all().map((b) => b.name)).toEqual(['payments-api', 'ledger-db']);
  });

  it('keeps downstreams independent: one open breaker does not stop another', () => {
    const breakers = new CircuitBreakers({ clock: new FakeClock(0), minimumCalls: 2 });
    call(breakers.for('payments-api'), 'fail');
    call(breakers.for('payments-api'), 'fail');
    expect(breakers.for('payments-api').state).toBe('open');
    expect(call(breakers.for('ledger-db'), 'ok')).toBe('ok');
  });

  it('applies per-downstream settings over the defaults', () => {
    const breakers = new CircuitBreakers({
      openMs: 10_000,
      minimumCalls: 5,
      downstreams: { 'ledger-db': { openMs: 60_000 } },
    });
    expect(breakers.for('ledger-db').settings).toMatchObject({ openMs: 60_000, minimumCalls: 5 });
    expect(breakers.for('payments-api').settings).toMatchObject({ openMs: 10_000, minimumCalls: 5 });
    // An inherited name must not pick up Object.prototype members.
    expect(breakers.for('toString').settings.openMs).toBe(10_000);
  });

  it('lets a downstream setting left undefined fall back to the consumer-level one, not the default', () => {
    const breakers = new CircuitBreakers({
      openMs: 10_000,
      // as JavaScript, or a spread of optional config values, passes it (the types refuse it)
      downstreams: { 'ledger-db': { openMs: undefined, minimumCalls: 7 } as never },
    });
    expect(breakers.for('ledger-db').settings).toMatchObject({ openMs: 10_000, minimumCalls: 7 });
  });

  it('reports every transition with the downstream name', () => {
    const clock = new FakeClock(0);
    const changes: CircuitStateChange[] = [];
    const breakers = new CircuitBreakers({ clock, minimumCalls: 1, openMs: 50, onStateChange: (c) => changes.push(c) });
    call(breakers.for('payments-api'), 'fail');
    clock.set(50);
    call(breakers.for('payments-api'), 'ok');
    const expected: Array<[CircuitState, CircuitState]> = [
      ['closed', 'open'],
      ['open', 'half-open'],
      ['half-open', 'closed'],
    ];
    expect(changes).toEqual(expected.map(([from, to]) => ({ name: 'payments-api', from, to })));
  });

  it('validates the defaults and every downstream at construction', () => {
    expect(() => new CircuitBreakers({ failureRateThreshold: 2 })).toThrow(/circuitBreaker\.failureRateThreshold/);
    expect(() => new CircuitBreakers({ downstreams: { 'ledger-db': { openMs: -1 } } })).toThrow(
      /circuitBreaker\.downstreams\.ledger-db\.openMs/,
    );
    expect(() => new CircuitBreakers({ onStateChange: 1 as never })).toThrow(InvalidOptionError);
  });
});
