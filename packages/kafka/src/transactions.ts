// One Kafka transaction at a time on the transport's transactional producer. While a transaction
// is open, everything the transport writes (handler publishes, dead letters, retry records) goes
// into it, and the consumed offsets are added before it commits: a crash anywhere before the
// commit aborts all of it, and the input is read again by whoever owns the partition next.

import type { DriverProducer, DriverTransaction } from './driver/driver.js';

export class TransactionScope {
  readonly #producer: DriverProducer;
  #current: DriverTransaction | undefined;
  #queue: Promise<void> = Promise.resolve();

  constructor(producer: DriverProducer) {
    this.#producer = producer;
  }

  get producer(): DriverProducer {
    return this.#producer;
  }

  /** The open transaction, if any. */
  current(): DriverTransaction | undefined {
    return this.#current?.isActive() ? this.#current : undefined;
  }

  /**
   * Runs `work` inside a new transaction, after any transaction already running. `work` commits
   * (or aborts); a transaction still open when it returns or throws is aborted.
   */
  run<T>(work: (tx: DriverTransaction) => Promise<T>): Promise<T> {
    const result = this.#queue.then(async () => {
      const tx = await this.#producer.transaction();
      this.#current = tx;
      try {
        return await work(tx);
      } finally {
        this.#current = undefined;
        if (tx.isActive()) await tx.abort().catch(() => {});
      }
    });
    this.#queue = result.then(
      () => {},
      () => {},
    );
    return result;
  }
}
