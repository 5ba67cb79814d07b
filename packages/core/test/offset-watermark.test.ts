import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../src/errors.js';
import { OffsetWatermark } from '../src/offset-watermark.js';
import { seededRandom } from './support/fake-clock.js';

function tracked(partition: number, ...offsets: number[]): OffsetWatermark {
  const w = new OffsetWatermark();
  for (const o of offsets) w.track(partition, String(o));
  return w;
}

describe('OffsetWatermark', () => {
  it('commits one past the last message when they finish in order', () => {
    const w = tracked(0, 0, 1, 2);
    expect(w.committable(0)).toBeUndefined();
    w.complete(0, '0');
    expect(w.committable(0)).toBe('1');
    w.complete(0, '1');
    w.complete(0, '2');
    expect(w.committable(0)).toBe('3');
    expect(w.pending(0)).toBe(0);
  });

  it('holds at the lowest unfinished offset when later ones finish first', () => {
    const w = tracked(0, 10, 11, 12, 13);
    const steps: Array<string | undefined> = [];
    for (const o of ['12', '13', '11', '10']) {
      w.complete(0, o);
      steps.push(w.committable(0));
    }
    expect(steps).toEqual([undefined, undefined, undefined, '14']);
  });

  it('never passes a failed message, however much finishes after it', () => {
    const w = tracked(0, 0, 1, 2, 3, 4, 5);
    for (const o of ['0', '2', '3', '4', '5']) w.complete(0, o); // 1 failed: never completed
    expect(w.committable(0)).toBe('1');
    expect(w.pending(0)).toBe(1);
  });

  it('steps over gaps in the offsets (transaction markers, compaction)', () => {
    const w = tracked(0, 5, 7, 8, 12);
    w.complete(0, '5');
    expect(w.committable(0)).toBe('7'); // 6 is no record: reading from 7 loses nothing
    w.complete(0, '8');
    expect(w.committable(0)).toBe('7');
    w.complete(0, '7');
    expect(w.committable(0)).toBe('12');
    w.complete(0, '12');
    expect(w.committable(0)).toBe('13');
  });

  it('reports nothing new until more finishes after a commit', () => {
    const w = tracked(0, 0, 1, 2);
    w.complete(0, '0');
    expect(w.committable(0)).toBe('1');
    w.markCommitted(0, '1');
    expect(w.committable(0)).toBeUndefined();
    w.complete(0, '2');
    expect(w.committable(0)).toBeUndefined(); // 1 still runs
    w.complete(0, '1');
    expect(w.committable(0)).toBe('3');
    w.markCommitted(0, '3');
    w.markCommitted(0, '2'); // a late acknowledgement of an older commit does not move it back
    expect(w.committable(0)).toBeUndefined();
    w.track(0, '3');
    w.complete(0, '3');
    expect(w.committable(0)).toBe('4');
  });

  it('keeps partitions apart and lists them in order', () => {
    const w = new OffsetWatermark();
    w.track(2, '100');
    w.track(0, '7');
    w.track(1, '0');
    w.complete(2, '100');
    expect(w.partitions()).toEqual([0, 1, 2]);
    expect([w.committable(0), w.committable(1), w.committable(2)]).toEqual([undefined, undefined, '101']);
    expect([w.pending(0), w.pending(1), w.pending(2), w.pending(9)]).toEqual([1, 1, 0, 0]);
  });

  it('handles offsets beyond 2^53 exactly', () => {
    const big = '9007199254740993'; // 2^53 + 1: not representable as a number
    const w = new OffsetWatermark();
    w.track(0, big);
    w.track(0, '9007199254740995');
    w.complete(0, big);
    expect(w.committable(0)).toBe('9007199254740995');
    w.complete(0, '9007199254740995');
    expect(w.committable(0)).toBe('9007199254740996');
  });

  it('keeps order and commits across the 15-digit boundary (numbers below it, bigints from it)', () => {
    const w = new OffsetWatermark();
    for (const offset of ['999999999999998', '999999999999999', '1000000000000000', '1000000000000001'])
      w.track(0, offset);
    w.complete(0, '1000000000000000');
    w.complete(0, '999999999999998');
    expect(w.committable(0)).toBe('999999999999999');
    w.complete(0, '999999999999999');
    expect(w.committable(0)).toBe('1000000000000001');
    w.markCommitted(0, '1000000000000001');
    w.complete(0, '1000000000000001');
    expect(w.committable(0)).toBe('1000000000000002');
    // All done, the highest tracked a 15-digit one: the commit is one past it, a 16-digit value.
    const v = new OffsetWatermark();
    v.track(1, '999999999999999');
    v.complete(1, '999999999999999');
    expect(v.committable(1)).toBe('1000000000000000');
  });

  it('forgets a revoked partition, ignoring late completions and commits for it', () => {
    const w = tracked(3, 40, 41);
    w.complete(3, '40');
    w.revoke(3);
    expect(w.partitions()).toEqual([]);
    w.complete(3, '41');
    w.markCommitted(3, '42');
    expect(w.committable(3)).toBeUndefined();
    expect(w.partitions()).toEqual([]);
    // Assigned again later: starts from what it fetches then.
    w.track(3, '41');
    expect(w.committable(3)).toBeUndefined();
    w.complete(3, '41');
    expect(w.committable(3)).toBe('42');
  });

  it('ignores completions of offsets it never tracked', () => {
    const w = tracked(0, 0, 1);
    w.complete(0, '5');
    w.complete(0, '1');
    w.complete(0, '1');
    expect(w.committable(0)).toBeUndefined();
    expect(w.pending(0)).toBe(1);
  });

  describe('offsets fetched again (a seek back)', () => {
    it('treats tracking a pending offset again as a no-op', () => {
      const w = tracked(0, 0, 1, 1, 1);
      expect(w.pending(0)).toBe(2);
      w.complete(0, '0');
      w.complete(0, '1');
      expect(w.committable(0)).toBe('2');
    });

    it('holds commits for a finished offset fetched again inside the window until it finishes again', () => {
      const w = tracked(0, 0, 1, 2, 3);
      w.complete(0, '2');
      w.complete(0, '3');
      w.track(0, '2'); // re-read after a seek to 0
      w.complete(0, '0');
      w.complete(0, '1');
      expect(w.committable(0)).toBe('2');
      w.complete(0, '2');
      expect(w.committable(0)).toBe('4');
    });

    it('ignores offsets below the finished prefix: they are done as far as commits go', () => {
      const w = tracked(0, 5, 6);
      w.complete(0, '5');
      w.track(0, '5');
      w.track(0, '3');
      expect(w.pending(0)).toBe(1);
      w.complete(0, '6');
      expect(w.committable(0)).toBe('7');
    });

    it('widens the range for an earlier offset when nothing finished yet', () => {
      const w = tracked(0, 5, 6);
      w.track(0, '4');
      w.complete(0, '5');
      w.complete(0, '6');
      expect(w.committable(0)).toBeUndefined();
      w.complete(0, '4');
      expect(w.committable(0)).toBe('7');
    });
  });

  it('rejects offsets that are not non-negative decimal integers', () => {
    const w = new OffsetWatermark();
    for (const bad of ['', '-1', '1.5', '0x10', ' 7', '01', 'abc'])
      expect(() => w.track(0, bad)).toThrow(InvalidOptionError);
    expect(() => w.complete(0, 'x')).toThrow(InvalidOptionError);
  });

  describe('randomized completion orders', () => {
    /**
     * Offsets with random gaps, fetched in windows of random size, completed in random order, some
     * never (failed); commits taken at random moments. After every step the reported value must
     * equal the reference: the lowest unfinished tracked offset (or one past the highest), reported
     * only when something finished and it moved past the last commit.
     */
    function run(seed: number) {
      const random = seededRandom(seed);
      const w = new OffsetWatermark();
      const partition = Math.floor(random() * 4);
      const unfinished = new Set<bigint>();
      const inFlight: bigint[] = [];
      let first: bigint | undefined;
      let highest = -1n;
      let next = BigInt(Math.floor(random() * 1_000));
      let committed: bigint | undefined;
      let completions = 0;
      let maxPending = 0;

      for (let step = 0; step < 2_000; step++) {
        const action = random();
        if (action < 0.45 && inFlight.length < 64) {
          next += 1n + (random() < 0.15 ? BigInt(Math.floor(random() * 5)) : 0n);
          w.track(partition, next.toString());
          first ??= next;
          highest = next;
          unfinished.add(next);
          inFlight.push(next);
        } else if (action < 0.9 && inFlight.length > 0) {
          const [offset] = inFlight.splice(Math.floor(random() * inFlight.length), 1);
          // 3 % fail for good: they stay unfinished and must hold the watermark forever.
          if (random() < 0.03) continue;
          w.complete(partition, offset!.toString());
          unfinished.delete(offset!);
          completions += 1;
        } else {
          const value = w.committable(partition);
          if (value !== undefined) {
            w.markCommitted(partition, value);
            committed = BigInt(value);
          }
        }

        let lowest = highest + 1n;
        for (const o of unfinished) if (o < lowest) lowest = o;
        const expected =
          first !== undefined && lowest > first && (committed === undefined || lowest > committed)
            ? lowest.toString()
            : undefined;
        const reported = w.committable(partition);
        expect(reported, `seed ${seed} step ${step}`).toBe(expected);
        if (reported !== undefined) for (const o of unfinished) expect(BigInt(reported) <= o).toBe(true);
        expect(w.pending(partition)).toBe(unfinished.size);
        maxPending = Math.max(maxPending, w.pending(partition));
      }
      return { completions, maxPending, unfinished: unfinished.size };
    }

    it.each([1, 2, 3, 17, 42, 99, 2024, 31337])('holds the invariant for seed %i', (seed) => {
      const { completions, unfinished } = run(seed);
      expect(completions).toBeGreaterThan(500);
      expect(unfinished).toBeGreaterThan(0);
    });
  });
});
