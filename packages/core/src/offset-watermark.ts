// Which offset is safe to commit, per partition, when messages finish out of order. Kafka commits
// one number per partition ("read from here next"), so with parallel work inside a partition the
// commit may only move up to the lowest message still running or failed: committing past it would
// lose it on a crash or rebalance. Only pending offsets are kept (the finished prefix is folded
// into one number), so memory follows the in-flight count, not the distance travelled.

import { InvalidOptionError } from './errors.js';

/**
 * An offset as a number while it has at most 15 digits (exact, and no BigInt to allocate per message:
 * a partition would need centuries at a million records a second to leave that range), as a bigint
 * beyond. The same string always gives the same type, so it is a stable Map key; `<` and `>` compare
 * the two types exactly.
 */
type Offset = number | bigint;

interface PartitionState {
  /** Tracked and not complete, ascending (a Map keeps insertion order, and offsets arrive ascending). */
  pending: Map<Offset, true>;
  /** The lowest offset tracked since the partition was (re)assigned. */
  start: Offset;
  /** The highest offset tracked. */
  highest: Offset;
  /** The highest value passed to markCommitted. */
  committed: Offset | undefined;
}

export class OffsetWatermark {
  readonly #partitions = new Map<number, PartitionState>();

  /**
   * A fetched message. Offsets arrive ascending per partition, with gaps where the log has no
   * record for the consumer (transaction markers, compaction). Tracking an offset again is a
   * no-op while it is pending; an offset at or below the finished prefix (fetched again after a
   * seek) is already done as far as commits go and is ignored.
   */
  track(partition: number, offset: string): void {
    const value = parseOffset(offset);
    const state = this.#partitions.get(partition);
    if (state === undefined) {
      this.#partitions.set(partition, {
        pending: new Map([[value, true]]),
        start: value,
        highest: value,
        committed: undefined,
      });
      return;
    }
    if (value > state.highest) {
      state.pending.set(value, true);
      state.highest = value;
      return;
    }
    if (state.pending.has(value)) return;
    const floor = this.#floor(state);
    if (floor === state.start && value < state.start) {
      // Nothing finished yet, so nothing was reported: an earlier offset simply widens the range.
      state.start = value;
      insertSorted(state, value);
    } else if (value > floor) {
      // Inside the live window (re-fetched after a seek, finished before): hold commits until it finishes again.
      insertSorted(state, value);
    }
  }

  /** Finished: acked, or dead-lettered with the dead-letter write acknowledged. Unknown offsets are ignored. */
  complete(partition: number, offset: string): void {
    const value = parseOffset(offset);
    this.#partitions.get(partition)?.pending.delete(value);
  }

  /**
   * The Kafka commit value (the next offset to read) as a decimal string: one past the highest
   * offset that, with every tracked offset below it, is complete. Undefined when nothing new
   * finished since the last markCommitted (or nothing finished at all).
   */
  committable(partition: number): string | undefined {
    const state = this.#partitions.get(partition);
    if (state === undefined) return undefined;
    const floor = this.#floor(state);
    if (floor <= state.start) return undefined;
    if (state.committed !== undefined && floor <= state.committed) return undefined;
    return floor.toString();
  }

  /** Records a successful commit of `offset` (a value committable returned); ignored for unknown partitions. */
  markCommitted(partition: number, offset: string): void {
    const state = this.#partitions.get(partition);
    if (state === undefined) return;
    const value = parseOffset(offset);
    if (state.committed === undefined || value > state.committed) state.committed = value;
  }

  /** Tracked but not complete. */
  pending(partition: number): number {
    return this.#partitions.get(partition)?.pending.size ?? 0;
  }

  /** Forgets the partition (revoked in a rebalance): its results are no longer this member's to commit. */
  revoke(partition: number): void {
    this.#partitions.delete(partition);
  }

  /** Partitions tracked, ascending. */
  partitions(): number[] {
    return [...this.#partitions.keys()].sort((a, b) => a - b);
  }

  /** Everything tracked below this is complete: the lowest pending offset, or one past the highest. */
  #floor(state: PartitionState): Offset {
    for (const offset of state.pending.keys()) return offset;
    const { highest } = state;
    return typeof highest === 'number' ? highest + 1 : highest + 1n;
  }
}

/** Rare path (a seek back): rebuild the pending map in ascending order. */
function insertSorted(state: PartitionState, value: Offset): void {
  const offsets = [...state.pending.keys(), value].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  state.pending = new Map(offsets.map((o) => [o, true]));
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

function parseOffset(offset: string): Offset {
  if (typeof offset !== 'string' || !DECIMAL.test(offset))
    throw new InvalidOptionError(
      'offset',
      `must be a non-negative decimal integer string, got ${JSON.stringify(offset)}`,
      "pass the offset as the client reports it, e.g. '42'",
    );
  return offset.length <= 15 ? Number(offset) : BigInt(offset);
}
