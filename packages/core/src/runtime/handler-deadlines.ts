// Handler timeouts with one timer per timeout length instead of one per message.
//
// A timer per handler run (an AbortController to cancel it, a sleep on the clock with its listener,
// and the abort once the handler finished) cost several microseconds per message: more than the
// rest of the pipeline. Runs with the same timeout reach their deadlines in the order they start,
// so a FIFO per timeout length needs a single timer: armed for the oldest run, it times out what is
// due when it fires and re-arms for the next run still going. A run that finishes only says so;
// finished runs are dropped from the front at once and from the middle in batches, so a lane holds
// about twice the runs in flight at most (plus a few dozen).
//
// Deadlines come from the injected clock. If it steps backwards (a wall clock set back), a run
// started after the step can time out late, by at most the step, because it waits behind older ones.

import type { Clock } from '../clock.js';

export interface TimedRun {
  /** When the run times out, in `clock.now()` milliseconds. */
  readonly deadline: number;
  /** True once the run finished; it is then skipped. */
  readonly finished: boolean;
  /** Called once, when the deadline passed while the run was still going. */
  timeOut(): void;
}

/** A run waiting in a lane (set by the lane). */
interface Queued {
  run: TimedRun;
  /** Still in the lane's FIFO, so its finishing counts towards compaction. */
  queued: boolean;
}

/** Finished runs a lane tolerates behind its head before it compacts (and at least as many as live ones). */
const COMPACT_AFTER = 64;
/** Runs before the head a lane keeps before it drops them (and at least as many as from the head on). */
const TRIM_AFTER = 64;

export class HandlerDeadlines {
  readonly #clock: Clock;
  readonly #lanes = new Map<number, DeadlineLane>();
  /** Cancels the armed timers when the consumer closes, so none outlives it. */
  readonly #closed = new AbortController();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /**
   * Times `run` out at `run.deadline` unless it finishes first; `timeoutMs` picks the lane. Returns
   * the ticket to pass to `finished`.
   */
  add(timeoutMs: number, run: TimedRun): DeadlineTicket {
    let lane = this.#lanes.get(timeoutMs);
    if (lane === undefined) {
      lane = new DeadlineLane(this.#clock, this.#closed.signal);
      this.#lanes.set(timeoutMs, lane);
    }
    return lane.add(run);
  }

  /** The run of `ticket` finished (its `finished` is now true). */
  finished(ticket: DeadlineTicket): void {
    ticket.lane.finished(ticket);
  }

  /** Cancels every timer; runs still going are no longer timed out. */
  close(): void {
    this.#closed.abort(CLOSED);
  }
}

export interface DeadlineTicket extends Queued {
  readonly lane: DeadlineLane;
}

/** A reason of our own: `abort()` without one builds a DOMException. */
const CLOSED = Object.freeze({ reason: 'consumer closed' });

class DeadlineLane {
  readonly #clock: Clock;
  readonly #closed: AbortSignal;
  #runs: DeadlineTicket[] = [];
  #head = 0;
  /** Finished runs still in `#runs` past the head. */
  #finishedInside = 0;
  #armed = false;

  constructor(clock: Clock, closed: AbortSignal) {
    this.#clock = clock;
    this.#closed = closed;
  }

  add(run: TimedRun): DeadlineTicket {
    const ticket: DeadlineTicket = { run, queued: true, lane: this };
    this.#runs.push(ticket);
    if (!this.#armed) this.#arm(run.deadline);
    return ticket;
  }

  finished(ticket: DeadlineTicket): void {
    if (!ticket.queued) return;
    this.#finishedInside += 1;
    this.#dropFinishedHead();
    const live = this.#runs.length - this.#head - this.#finishedInside;
    if (this.#finishedInside > COMPACT_AFTER && this.#finishedInside > live) {
      const kept: DeadlineTicket[] = [];
      for (let i = this.#head; i < this.#runs.length; i++) {
        const queued = this.#runs[i]!;
        if (queued.run.finished) queued.queued = false;
        else kept.push(queued);
      }
      this.#runs = kept;
      this.#head = 0;
      this.#finishedInside = 0;
    }
  }

  #dropFinishedHead(): void {
    const runs = this.#runs;
    while (this.#head < runs.length && runs[this.#head]!.run.finished) {
      runs[this.#head]!.queued = false;
      this.#head += 1;
      this.#finishedInside -= 1;
    }
    if (this.#head === runs.length) {
      runs.length = 0;
      this.#head = 0;
      this.#finishedInside = 0;
    } else if (this.#head >= TRIM_AFTER && this.#head * 2 >= runs.length) {
      // A lane that never empties (a busy consumer) would keep every run it ever held: drop the
      // ones before the head in one copy, at most as long as what was dropped.
      this.#runs = runs.slice(this.#head);
      this.#head = 0;
    }
  }

  #arm(at: number): void {
    this.#armed = true;
    this.#clock.sleep(Math.max(0, at - this.#clock.now()), this.#closed).then(
      () => this.#fire(),
      () => {
        this.#armed = false;
      },
    );
  }

  #fire(): void {
    this.#armed = false;
    const now = this.#clock.now();
    const runs = this.#runs;
    while (this.#head < runs.length) {
      const queued = runs[this.#head]!;
      if (queued.run.finished) {
        queued.queued = false;
        this.#head += 1;
        this.#finishedInside -= 1;
        continue;
      }
      if (queued.run.deadline > now) break;
      queued.queued = false;
      this.#head += 1;
      queued.run.timeOut();
    }
    this.#dropFinishedHead();
    const next = this.#runs[this.#head];
    if (next !== undefined && !this.#armed && !this.#closed.aborted) this.#arm(next.run.deadline);
  }
}
