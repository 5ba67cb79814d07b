// The suite's stand-in for core: a sink that records every delivery, settles it the way the test
// says (or holds it for the test to settle later), and lets the test wait for conditions on what
// arrived and how settles went (through the run that owns the probe). Settles run after the sink has returned, as core's do.

import type { Delivery, DeliverySink, Settlement } from '@switchyard/core';
import { testMessageId } from './test-messages.js';

export type SettleState = 'held' | 'settling' | 'settled' | 'failed';

export interface ReceivedDelivery {
  /** Arrival order within this probe, from 0. */
  readonly index: number;
  readonly delivery: Delivery;
  /** The suite's message id, when the message is one of ours. */
  readonly id: string | undefined;
  readonly settlement: Settlement | undefined;
  readonly state: SettleState;
  readonly error: unknown;
  /** The delivery's signal was already aborted when it reached the sink. */
  readonly abortedOnArrival: boolean;
  /** Wall-clock ms when it reached the sink, and when its settle finished (for failure reports). */
  readonly arrivedAt: number;
  readonly settledAt: number | undefined;
}

interface MutableReceived {
  index: number;
  delivery: Delivery;
  id: string | undefined;
  settlement: Settlement | undefined;
  state: SettleState;
  error: unknown;
  abortedOnArrival: boolean;
  arrivedAt: number;
  settledAt: number | undefined;
}

/** What to do with a delivery: settle it so, or hold it for the test. */
export type Reaction = (received: ReceivedDelivery, probe: DeliveryProbe) => Settlement | 'hold';

export const ackAll: Reaction = () => ({ kind: 'ack' });
export const holdAll: Reaction = () => 'hold';

export class DeliveryProbe {
  readonly label: string;
  readonly #items: MutableReceived[] = [];
  readonly #react: Reaction;
  readonly #changed: () => void;
  readonly #watched = new WeakSet<AbortSignal>();

  /** `changed` is called after every arrival and every finished settle, so waiters re-check. */
  constructor(label: string, react: Reaction, changed: () => void) {
    this.label = label;
    this.#react = react;
    this.#changed = changed;
  }

  readonly sink: DeliverySink = async (delivery) => {
    const received: MutableReceived = {
      index: this.#items.length,
      delivery,
      id: testMessageId(delivery.message),
      settlement: undefined,
      state: 'held',
      error: undefined,
      abortedOnArrival: delivery.signal.aborted,
      arrivedAt: Date.now(),
      settledAt: undefined,
    };
    this.#items.push(received);
    // A lost lease or revoked partition aborts the signal: let waiters see it. Deliveries may
    // share one signal (a partition's), so listen once per signal.
    if (!this.#watched.has(delivery.signal)) {
      this.#watched.add(delivery.signal);
      delivery.signal.addEventListener('abort', () => this.#changed(), { once: true });
    }
    const reaction = this.#react(received, this);
    // Settle on a later turn: the transport sees the sink resolve first, as with core.
    if (reaction !== 'hold') setImmediate(() => void this.settle(received, reaction).catch(() => {}));
    this.#changed();
  };

  get received(): readonly ReceivedDelivery[] {
    return this.#items;
  }

  deliveriesOf(id: string): ReceivedDelivery[] {
    return this.#items.filter((r) => r.id === id);
  }

  ids(): Set<string> {
    return new Set(this.#items.flatMap((r) => (r.id === undefined ? [] : [r.id])));
  }

  held(): ReceivedDelivery[] {
    return this.#items.filter((r) => r.state === 'held');
  }

  /** Settle a held delivery; rejects as the transport's settle does. */
  async settle(received: ReceivedDelivery, settlement: Settlement): Promise<void> {
    const r = received as MutableReceived;
    if (r.state !== 'held') throw new Error(`${this.label}: delivery #${r.index} (${r.id}) was already settled`);
    r.state = 'settling';
    r.settlement = settlement;
    try {
      await r.delivery.settle(settlement);
      r.state = 'settled';
    } catch (error) {
      r.state = 'failed';
      r.error = error;
      throw error;
    } finally {
      r.settledAt = Date.now();
      this.#changed();
    }
  }

  /** Ids whose `kind` settle resolved, with how many times. */
  settledCounts(kind: Settlement['kind']): Map<string, number> {
    const counts = new Map<string, number>();
    for (const r of this.#items)
      if (r.state === 'settled' && r.settlement?.kind === kind && r.id !== undefined)
        counts.set(r.id, (counts.get(r.id) ?? 0) + 1);
    return counts;
  }

  failures(): ReceivedDelivery[] {
    return this.#items.filter((r) => r.state === 'failed');
  }

  summary(limit = 30): string {
    const items = this.#items;
    const lines = [`  ${this.label}: ${items.length} deliver${items.length === 1 ? 'y' : 'ies'}`];
    for (const r of items.slice(-limit)) {
      const settled = r.settlement ? ` ${r.settlement.kind}` : '';
      const error = r.state === 'failed' ? ` (${r.error instanceof Error ? r.error.message : String(r.error)})` : '';
      const lost = r.delivery.signal.aborted ? ' [signal aborted]' : '';
      lines.push(
        `    #${r.index} ${r.id ?? '(not ours)'} attempt ${r.delivery.attempt} key ${r.delivery.message.key ?? '-'} -> ${r.state}${settled}${error}${lost}`,
      );
    }
    return lines.join('\n');
  }
}
