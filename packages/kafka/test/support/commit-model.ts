// The reference model for the subscription's commit watermark (test/subscription.property.test.ts):
// which partitions this member owns, what it received in each ownership period and how far each
// record got, and the broker's side (the log and the group's committed offsets). It states what a
// commit may carry; the property test checks every commit the subscription sends against it.

export type Status = 'running' | 'failed' | 'settled';

/** One ownership period of a partition: from its assignment to its revocation (retained across rebalances). */
export interface Ownership {
  readonly partition: number;
  readonly epoch: number;
  /** Offsets handed over in this period, with how far they got. */
  readonly tracked: Map<number, Status>;
  /** Offsets handed over, in hand-over order. */
  readonly handed: number[];
  /** The last commit of this period the broker acknowledged. */
  lastCommit: number | undefined;
  /** Where the broker fetches this partition next. */
  nextFetch: number;
}

export interface LogRecord {
  readonly offset: number;
  readonly key: string | null;
}

export class CommitModel {
  readonly owned = new Map<number, Ownership>();
  /** The group's committed offset per partition (ours or, after a revocation, another member's). */
  readonly groupCommit = new Map<number, number>();
  /** The broker's log per partition: offsets ascending, with gaps. */
  readonly logs = new Map<number, LogRecord[]>();
  #epoch = 0;

  assign(partition: number, from: number): Ownership {
    const ownership: Ownership = {
      partition,
      epoch: ++this.#epoch,
      tracked: new Map(),
      handed: [],
      lastCommit: undefined,
      nextFetch: from,
    };
    this.owned.set(partition, ownership);
    return ownership;
  }

  revoke(partition: number): void {
    this.owned.delete(partition);
  }

  /**
   * The highest commit allowed now: the lowest offset handed over in this period that has not
   * settled successfully, or one past the highest handed over when all have. Undefined when nothing
   * was handed over (then nothing may be committed).
   */
  bound(ownership: Ownership): number | undefined {
    let lowestOpen: number | undefined;
    let highest: number | undefined;
    for (const [offset, status] of ownership.tracked) {
      if (status !== 'settled' && (lowestOpen === undefined || offset < lowestOpen)) lowestOpen = offset;
      if (highest === undefined || offset > highest) highest = offset;
    }
    if (highest === undefined) return undefined;
    return lowestOpen ?? highest + 1;
  }

  /** The lowest offset handed over in this period (a commit must be above it). */
  start(ownership: Ownership): number | undefined {
    let lowest: number | undefined;
    for (const offset of ownership.tracked.keys()) if (lowest === undefined || offset < lowest) lowest = offset;
    return lowest;
  }

  /** Why a commit of `offset` for `partition` sent now breaks the model, or undefined when it may be sent. */
  commitViolation(partition: number, offset: number): string | undefined {
    const ownership = this.owned.get(partition);
    if (!ownership) return `commit ${offset} for partition ${partition}, which this member does not own`;
    const bound = this.bound(ownership);
    if (bound === undefined)
      return `commit ${offset} for partition ${partition}, which handed nothing over in this ownership`;
    if (offset > bound)
      return `commit ${offset} for partition ${partition} passes the watermark ${bound} (tracked ${JSON.stringify([...ownership.tracked])})`;
    if (ownership.lastCommit !== undefined && offset < ownership.lastCommit)
      return `commit ${offset} for partition ${partition} goes back from ${ownership.lastCommit}`;
    return undefined;
  }

  /**
   * The records a fetch from `from` returns: those already in the log, then new ones appended
   * (`gaps[i]` offsets skipped before the i-th new record, `keys[i]` its key).
   */
  fetch(partition: number, from: number, count: number, gaps: readonly number[], keys: readonly (string | null)[]) {
    const log = this.logs.get(partition) ?? [];
    this.logs.set(partition, log);
    const out = log.filter((r) => r.offset >= from).slice(0, count);
    for (let i = 0; out.length < count; i++) {
      const last = log[log.length - 1];
      const base = Math.max(last ? last.offset + 1 : 0, from);
      const appended: LogRecord = { offset: base + (gaps[i % gaps.length] ?? 0), key: keys[i % keys.length] ?? null };
      log.push(appended);
      out.push(appended);
    }
    return out;
  }
}
