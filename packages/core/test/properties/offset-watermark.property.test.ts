// Property tests for OffsetWatermark: random fetch / complete / fail / seek / commit / revoke
// sequences over logs with gaps, on small offsets, across the 15-digit number/bigint boundary, past
// 2^53 and near the int64 top. Two references:
//  - ground truth (what Kafka needs): a reported commit value v never passes a record that has not
//    finished at least once since the partition was assigned, and never moves back;
//  - a plain bigint model of the documented rules (track/complete/committable/markCommitted), compared
//    after every step, so representation slips (Map order, number vs bigint) show up exactly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OffsetWatermark } from '../../src/offset-watermark.js';

const RUNS = { numRuns: 200 };

/** Where a partition's log starts: small, below and across the 15-digit boundary, past 2^53, near int64 max. */
const logBase = fc.oneof(
  fc.bigInt({ min: 0n, max: 50n }),
  fc.bigInt({ min: 999_999_999_999_970n, max: 1_000_000_000_000_010n }),
  fc.bigInt({ min: 9_007_199_254_740_960n, max: 9_007_199_254_741_000n }),
  fc.bigInt({ min: 9_223_372_036_854_775_000n, max: 9_223_372_036_854_775_200n }),
);

/** A log: ascending record offsets with gaps (transaction markers, compaction). */
const log = fc
  .tuple(
    logBase,
    fc.array(fc.oneof({ weight: 4, arbitrary: fc.constant(1n) }, fc.bigInt({ min: 2n, max: 6n })), {
      minLength: 1,
      maxLength: 40,
      size: 'max',
    }),
  )
  .map(([base, steps]) => {
    const records: bigint[] = [];
    let at = base;
    for (const step of steps) {
      records.push(at);
      at += step;
    }
    return records;
  });

type Op =
  | { readonly kind: 'fetch'; readonly p: number; readonly n: number }
  | { readonly kind: 'complete'; readonly p: number; readonly pick: number }
  | { readonly kind: 'fail'; readonly p: number; readonly pick: number }
  | { readonly kind: 'seek'; readonly p: number; readonly pick: number }
  | { readonly kind: 'commit'; readonly p: number; readonly acknowledged: boolean }
  | { readonly kind: 'late-ack'; readonly p: number; readonly pick: number }
  | { readonly kind: 'complete-unknown'; readonly p: number; readonly pick: number }
  | { readonly kind: 'revoke'; readonly p: number; readonly pick: number };

const PARTITIONS = 3;
const partition = fc.integer({ min: 0, max: PARTITIONS - 1 });
const pick = fc.nat({ max: 1_000 });
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ kind: fc.constant('fetch' as const), p: partition, n: fc.integer({ min: 1, max: 4 }) }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('complete' as const), p: partition, pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail' as const), p: partition, pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('seek' as const), p: partition, pick }) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('commit' as const), p: partition, acknowledged: fc.boolean() }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('late-ack' as const), p: partition, pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('complete-unknown' as const), p: partition, pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('revoke' as const), p: partition, pick }) },
);

/** The documented rules, on bigints and a Set (no ordering or typing tricks). */
class ModelPartition {
  readonly pending = new Set<bigint>();
  start: bigint;
  highest: bigint;
  committed: bigint | undefined;

  constructor(first: bigint) {
    this.pending.add(first);
    this.start = first;
    this.highest = first;
  }

  /** Everything tracked below it is complete: the lowest pending, or one past the highest. */
  floor(): bigint {
    let lowest = this.highest + 1n;
    for (const o of this.pending) if (o < lowest) lowest = o;
    return lowest;
  }

  track(o: bigint): void {
    if (o > this.highest) {
      this.pending.add(o);
      this.highest = o;
      return;
    }
    if (this.pending.has(o)) return; // no-op while pending
    const floor = this.floor();
    if (floor === this.start && o < this.start) {
      // nothing finished yet: an earlier offset widens the range
      this.start = o;
      this.pending.add(o);
    } else if (o > floor) {
      // inside the live window: held until it finishes again
      this.pending.add(o);
    } // else at or below the finished prefix: ignored
  }

  committable(): string | undefined {
    const floor = this.floor();
    if (floor <= this.start) return undefined;
    if (this.committed !== undefined && floor <= this.committed) return undefined;
    return floor.toString();
  }

  markCommitted(v: bigint): void {
    if (this.committed === undefined || v > this.committed) this.committed = v;
  }
}

/** One partition of the simulated consumer: its log, fetch position and what really finished. */
interface Sim {
  readonly records: bigint[];
  /** Index of the next record to fetch. */
  position: number;
  /** Index the assignment started at: records before it count as committed by the group. */
  assignedAt: number;
  /** Delivered and not finished since (their latest delivery): a handler owes these. */
  readonly owed: Set<bigint>;
  /** Finished at least once since the assignment. */
  readonly doneOnce: Set<bigint>;
  /** Commit values reported (and acknowledged or not) in this assignment. */
  reported: bigint[];
  assigned: boolean;
}

function nth<T>(items: readonly T[], i: number): T | undefined {
  return items.length === 0 ? undefined : items[i % items.length];
}

function runScenario(logs: bigint[][], ops: readonly Op[]): void {
  const w = new OffsetWatermark();
  const models = new Map<number, ModelPartition>();
  const sims: Sim[] = logs.map((records) => ({
    records,
    position: 0,
    assignedAt: 0,
    owed: new Set(),
    doneOnce: new Set(),
    reported: [],
    assigned: true,
  }));
  const track = (p: number, o: bigint) => {
    w.track(p, o.toString());
    const m = models.get(p);
    if (m === undefined) models.set(p, new ModelPartition(o));
    else m.track(o);
  };

  for (const [step, o] of ops.entries()) {
    const sim = sims[o.p]!;
    const model = models.get(o.p);
    switch (o.kind) {
      case 'fetch':
        for (let i = 0; i < o.n && sim.position < sim.records.length; i++) {
          const offset = sim.records[sim.position++]!;
          sim.owed.add(offset);
          track(o.p, offset);
        }
        break;
      case 'complete': {
        const offset = nth([...sim.owed], o.pick);
        if (offset === undefined) break;
        sim.owed.delete(offset);
        sim.doneOnce.add(offset);
        w.complete(o.p, offset.toString());
        model?.pending.delete(offset);
        break;
      }
      case 'fail': {
        // A failed (released) message: its handler gives up, nothing completes it, ever.
        const offset = nth([...sim.owed], o.pick);
        if (offset !== undefined) sim.owed.delete(offset);
        break;
      }
      case 'seek': {
        // Seek back (retry in place, a reset to the last commit, a replay from before where this
        // assignment started): what follows is fetched again.
        sim.position = o.pick % (sim.position + 1);
        break;
      }
      case 'commit': {
        const value = w.committable(o.p);
        if (value !== undefined) {
          sim.reported.push(BigInt(value));
          if (o.acknowledged) {
            w.markCommitted(o.p, value);
            model?.markCommitted(BigInt(value));
          }
        }
        break;
      }
      case 'late-ack': {
        // The acknowledgement of an older commit arrives after a newer one.
        const value = nth(sim.reported, o.pick);
        if (value !== undefined) {
          w.markCommitted(o.p, value.toString());
          model?.markCommitted(value);
        }
        break;
      }
      case 'complete-unknown': {
        // A completion for an offset never tracked (a gap, or beyond what was fetched): ignored.
        const candidate = (sim.records.at(-1) ?? 0n) + 1n + BigInt(o.pick % 3);
        w.complete(o.p, candidate.toString());
        model?.pending.delete(candidate);
        break;
      }
      case 'revoke': {
        // Revoked, then assigned again from some position (its new owner may have committed anything).
        w.revoke(o.p);
        models.delete(o.p);
        sim.assignedAt = o.pick % (sim.records.length + 1);
        sim.position = sim.assignedAt;
        sim.owed.clear();
        sim.doneOnce.clear();
        sim.reported = [];
        break;
      }
    }

    // After every step, for every partition.
    for (let p = 0; p < sims.length; p++) {
      const s = sims[p]!;
      const m = models.get(p);
      const reported = w.committable(p);
      const where = `step ${step} (${o.kind}) partition ${p}`;
      // Exact agreement with the documented rules.
      expect(reported, where).toBe(m?.committable());
      expect(w.pending(p), where).toBe(m?.pending.size ?? 0);
      // Ground truth: never past a record that has not finished once since the assignment.
      if (reported !== undefined) {
        const v = BigInt(reported);
        for (let i = s.assignedAt; i < s.records.length && s.records[i]! < v; i++)
          expect(s.doneOnce.has(s.records[i]!), `${where}: commit ${reported} passes unfinished ${s.records[i]}`).toBe(
            true,
          );
        // Never moves back behind an acknowledged commit, and never repeats it.
        if (m?.committed !== undefined) expect(v > m.committed, where).toBe(true);
      }
      // Liveness: everything fetched has finished (and nothing was lost) -> one past the highest fetched.
      if (m !== undefined && s.owed.size === 0 && w.pending(p) === 0) {
        const expected = m.highest + 1n;
        if (m.committed === undefined || m.committed < expected) expect(reported, where).toBe(expected.toString());
      }
    }
    expect(w.partitions()).toEqual([...models.keys()].sort((a, b) => a - b));
  }
}

describe('OffsetWatermark (properties)', () => {
  it('never reports past an unfinished or failed record, and agrees with the documented rules', () => {
    fc.assert(
      fc.property(
        fc.array(log, { minLength: PARTITIONS, maxLength: PARTITIONS }),
        fc.array(op, { minLength: 10, maxLength: 150, size: 'max' }),
        runScenario,
      ),
      RUNS,
    );
  });

  it('reports the lowest unfinished offset (or one past the highest) for any completion order', () => {
    fc.assert(
      fc.property(
        log,
        fc.infiniteStream(fc.nat()),
        fc.array(fc.boolean(), { maxLength: 40 }),
        (records, randoms, failed) => {
          const w = new OffsetWatermark();
          for (const r of records) w.track(7, r.toString());
          const failedSet = new Set(records.filter((_, i) => failed[i] === true));
          const order = records.filter((r) => !failedSet.has(r));
          // a random permutation
          const it = randoms[Symbol.iterator]();
          for (let i = order.length - 1; i > 0; i--) {
            const j = it.next().value! % (i + 1);
            [order[i], order[j]] = [order[j]!, order[i]!];
          }
          const unfinished = new Set(records);
          for (const r of order) {
            w.complete(7, r.toString());
            unfinished.delete(r);
            let lowest = records.at(-1)! + 1n;
            for (const u of unfinished) if (u < lowest) lowest = u;
            expect(w.committable(7)).toBe(lowest > records[0]! ? lowest.toString() : undefined);
          }
          expect(w.pending(7)).toBe(failedSet.size);
        },
      ),
      RUNS,
    );
  });

  it('round-trips any offset exactly: one past it once it finished', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.bigInt({ min: 0n, max: 1n << 63n }),
          logBase,
          fc.constantFrom(999_999_999_999_999n, 2n ** 53n - 1n),
        ),
        (o) => {
          const w = new OffsetWatermark();
          w.track(0, o.toString());
          w.track(0, (o + 1n).toString());
          w.complete(0, (o + 1n).toString());
          expect(w.committable(0)).toBeUndefined();
          w.complete(0, o.toString());
          expect(w.committable(0)).toBe((o + 2n).toString());
        },
      ),
      RUNS,
    );
  });
});
