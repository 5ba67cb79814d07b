// FIFO SQS locks a message group while one of its messages is in flight, but one receive may return
// several messages of the same group. Handing them all to core would let the second run while the
// first waits for a retry. The gate hands a group's messages over one at a time: the next only after
// the one before it was acked or dead-lettered; if it is retried, released or its lease lapses
// instead, the ones behind it are given back to SQS (visibility 0) and come again after it, in order.

interface GroupState<M> {
  readonly active: M;
  readonly waiting: M[];
}

export class FifoGroupGate<M> {
  readonly #groups = new Map<string, GroupState<M>>();

  /** True when `group` has no active message: `message` becomes active and may be handed over. */
  enter(group: string, message: M): boolean {
    const state = this.#groups.get(group);
    if (state) {
      state.waiting.push(message);
      return false;
    }
    this.#groups.set(group, { active: message, waiting: [] });
    return true;
  }

  /** `message` (the active one) is done: returns the next, now active, or frees the group. */
  advance(group: string, message: M): M | undefined {
    const state = this.#groups.get(group);
    if (!state || state.active !== message) return undefined;
    const next = state.waiting.shift();
    if (next === undefined) this.#groups.delete(group);
    else this.#groups.set(group, { active: next, waiting: state.waiting });
    return next;
  }

  /** `message` (the active one) will come again: returns the waiting ones (to give back) and frees the group. */
  drain(group: string, message: M): M[] {
    const state = this.#groups.get(group);
    if (!state || state.active !== message) return [];
    this.#groups.delete(group);
    return state.waiting;
  }

  /** Shutdown: every waiting message; groups stay blocked until their active message settles. */
  drainWaiting(): M[] {
    const all: M[] = [];
    // A loop, not push(...): a group's queue is bounded only by maxInFlight, and a spread of a long
    // one overflows the call stack.
    for (const state of this.#groups.values()) {
      for (const message of state.waiting) all.push(message);
      state.waiting.length = 0;
    }
    return all;
  }

  get waiting(): number {
    let n = 0;
    for (const state of this.#groups.values()) n += state.waiting.length;
    return n;
  }
}
