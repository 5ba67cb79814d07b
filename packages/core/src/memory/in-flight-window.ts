// The bound on what a subscription has handed to core and not yet had settled: a count and a byte
// total (`maxInFlight`, `maxInFlightBytes`). A fetch loop waits for room before it hands over more,
// so a slow consumer stops fetching instead of buffering without limit.

import { Wakeup } from './wakeup.js';

export class InFlightWindow {
  readonly maxCount: number;
  readonly maxBytes: number;
  #count = 0;
  #bytes = 0;
  readonly #room = new Wakeup();

  constructor(maxCount: number, maxBytes: number) {
    this.maxCount = maxCount;
    this.maxBytes = maxBytes;
  }

  get count(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Free slots; a single message larger than the byte bound still gets through when nothing is in flight. */
  get room(): number {
    if (this.#count > 0 && this.#bytes >= this.maxBytes) return 0;
    return Math.max(0, this.maxCount - this.#count);
  }

  take(bytes: number): void {
    this.#count += 1;
    this.#bytes += bytes;
  }

  give(bytes: number): void {
    this.#count -= 1;
    this.#bytes -= bytes;
    this.#room.notify();
  }

  /** Resolves when there is room (or `signal` aborts). */
  async waitForRoom(signal: AbortSignal): Promise<void> {
    while (this.room === 0 && !signal.aborted) await this.#room.wait({ signal });
  }
}
