import { describe, expect, it } from 'vitest';
import { FifoGroupGate } from '../../src/fifo-group-gate.js';

describe('FifoGroupGate', () => {
  it('lets one message per group through, the next after the one before is done', () => {
    const gate = new FifoGroupGate<string>();
    expect(gate.enter('a', 'a1')).toBe(true);
    expect(gate.enter('a', 'a2')).toBe(false);
    expect(gate.enter('b', 'b1')).toBe(true);
    expect(gate.enter('a', 'a3')).toBe(false);
    expect(gate.waiting).toBe(2);
    expect(gate.advance('a', 'a1')).toBe('a2');
    expect(gate.advance('a', 'a2')).toBe('a3');
    expect(gate.advance('a', 'a3')).toBeUndefined();
    expect(gate.enter('a', 'a4')).toBe(true);
  });

  it('gives back the waiting ones when the active message will come again', () => {
    const gate = new FifoGroupGate<string>();
    gate.enter('a', 'a1');
    gate.enter('a', 'a2');
    gate.enter('a', 'a3');
    expect(gate.drain('a', 'a1')).toEqual(['a2', 'a3']);
    expect(gate.enter('a', 'a1-again')).toBe(true);
  });

  it('ignores a message that is no longer its group’s active one (its lease lapsed meanwhile)', () => {
    const gate = new FifoGroupGate<string>();
    gate.enter('a', 'a1');
    gate.drain('a', 'a1');
    gate.enter('a', 'a1-again');
    gate.enter('a', 'a2');
    // The lapsed first delivery settles late: it must not move the group on.
    expect(gate.advance('a', 'a1')).toBeUndefined();
    expect(gate.drain('a', 'a1')).toEqual([]);
    expect(gate.advance('a', 'a1-again')).toBe('a2');
  });

  it('on shutdown hands back every waiting message and keeps groups blocked', () => {
    const gate = new FifoGroupGate<string>();
    gate.enter('a', 'a1');
    gate.enter('a', 'a2');
    gate.enter('b', 'b1');
    gate.enter('b', 'b2');
    expect(gate.drainWaiting().sort()).toEqual(['a2', 'b2']);
    expect(gate.enter('a', 'a3')).toBe(false);
  });

  // drainWaiting spread a group's queue into push(...): past ~120,000 waiting messages (maxInFlight
  // has no upper bound) shutdown threw "Maximum call stack size exceeded".
  it('hands back a group of 200,000 waiting messages on shutdown', () => {
    const gate = new FifoGroupGate<number>();
    gate.enter('a', -1);
    for (let i = 0; i < 200_000; i++) gate.enter('a', i);
    const drained = gate.drainWaiting();
    expect([drained.length, drained[0], drained.at(-1), gate.waiting]).toEqual([200_000, 0, 199_999, 0]);
  });
});
