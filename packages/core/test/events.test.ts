import { describe, expect, it } from 'vitest';
import { TypedEvents } from '../src/events.js';

interface Events {
  ping: { n: number };
  pong: { n: number };
}

describe('TypedEvents', () => {
  it('tells whether an event has listeners, as they come and go', () => {
    const events = new TypedEvents<Events>();
    expect(events.has('ping')).toBe(false);
    const off = events.on('ping', () => {});
    expect(events.has('ping')).toBe(true);
    expect(events.has('pong')).toBe(false);
    off();
    expect(events.has('ping')).toBe(false);
  });

  it('delivers to every listener, past one that throws', () => {
    const events = new TypedEvents<Events>();
    const seen: number[] = [];
    events.on('ping', () => {
      throw new Error('faulty listener');
    });
    events.on('ping', (e) => seen.push(e.n));
    events.emit('ping', { n: 7 });
    expect(seen).toEqual([7]);
  });
});
