import { describe, expect, it } from 'vitest';
import { fifoName, MAX_NAME_LENGTH, uniqueName } from '../../src/index.js';

// What every broker accepts: SQS queue names are the strictest ([A-Za-z0-9_-], 1-80).
const SQS_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const SQS_FIFO_NAME = /^[A-Za-z0-9_-]{1,75}\.fifo$/;
const KAFKA_TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

describe('uniqueName', () => {
  it('is the prefix, a dash and a random part', () => {
    expect(uniqueName('orders')).toMatch(/^orders-[0-9a-z]{12}$/);
  });

  it('never repeats across many calls', () => {
    const names = new Set(Array.from({ length: 5_000 }, () => uniqueName('t')));
    expect(names.size).toBe(5_000);
  });

  it('is a valid SQS queue name and Kafka topic whatever the prefix', () => {
    for (const prefix of ['orders', 'Orders.Placed v2', 'ünïcode/with:colons', '', '---', 'a'.repeat(300)]) {
      const name = uniqueName(prefix);
      expect(name).toMatch(SQS_NAME);
      expect(name).toMatch(KAFKA_TOPIC);
      expect(name).not.toContain('.');
    }
  });

  it('shortens a long prefix but keeps the whole random part', () => {
    const name = uniqueName('p'.repeat(200));
    expect(name).toHaveLength(MAX_NAME_LENGTH);
    expect(name).toMatch(/-[0-9a-z]{12}$/);
  });

  it('honours a smaller maxLength and refuses an impossible one', () => {
    expect(uniqueName('consumer-group', { maxLength: 20 }).length).toBeLessThanOrEqual(20);
    expect(() => uniqueName('x', { maxLength: 5 })).toThrow(/maxLength/);
    expect(() => uniqueName('x', { maxLength: 81 })).toThrow(/maxLength/);
  });

  it('falls back to a default prefix when nothing usable is left', () => {
    expect(uniqueName('///')).toMatch(/^sy-[0-9a-z]{12}$/);
  });
});

describe('fifoName', () => {
  it('ends in .fifo and fits the SQS limit', () => {
    const name = fifoName('payments'.repeat(20));
    expect(name).toMatch(SQS_FIFO_NAME);
    expect(name.length).toBeLessThanOrEqual(MAX_NAME_LENGTH);
  });

  it('is unique', () => {
    expect(fifoName('q')).not.toBe(fifoName('q'));
  });
});
