// Shared bits for the in-memory transport tests: bytes, subscription specs, recording observers
// and sinks that let a test wait for deliveries instead of sleeping.
import type { OutgoingMessage } from '../../src/envelope.js';
import type { Delivery, SubscriptionSpec, TransportObserver } from '../../src/ports/transport.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const bytes = (text: string): Uint8Array => encoder.encode(text);
export const text = (body: Uint8Array | null): string => (body === null ? '<null>' : decoder.decode(body));

let nextId = 0;
export function outgoing(body: string, fields: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return { id: `m-${++nextId}`, key: undefined, body: bytes(body), headers: {}, timestamp: 0, ...fields };
}

export interface RecordingObserver extends TransportObserver {
  readonly lags: { value: number; destination: string; partition?: number }[];
  readonly depths: { value: number; destination: string; state: string }[];
}

export function recordingObserver(): RecordingObserver {
  const lags: RecordingObserver['lags'] = [];
  const depths: RecordingObserver['depths'] = [];
  return {
    lags,
    depths,
    lag: (value, attributes) => lags.push({ value, ...attributes }),
    depth: (value, attributes) => depths.push({ value, ...attributes }),
  };
}

export function spec(destination: string, fields: Partial<SubscriptionSpec> = {}): SubscriptionSpec {
  return {
    destination,
    consumerGroup: 'group-a',
    semantics: 'at-least-once',
    startFrom: 'earliest',
    maxInFlight: 16,
    maxInFlightBytes: 1 << 20,
    observer: recordingObserver(),
    ...fields,
  };
}

/**
 * A sink that accepts every delivery at once and keeps it (acking it first with `autoAck`);
 * `waitFor(n)` and `next()` resolve on arrival, so tests wait on events rather than time.
 */
export class CollectingSink {
  readonly received: Delivery[] = [];
  readonly #autoAck: boolean;
  #taken = 0;
  #waiters: { readonly count: number; readonly resolve: () => void }[] = [];

  constructor(options: { readonly autoAck?: boolean } = {}) {
    this.#autoAck = options.autoAck ?? false;
  }

  readonly sink = async (delivery: Delivery): Promise<void> => {
    if (this.#autoAck) await delivery.settle({ kind: 'ack' });
    this.received.push(delivery);
    this.#waiters = this.#waiters.filter((w) => {
      if (this.received.length >= w.count) w.resolve();
      return this.received.length < w.count;
    });
  };

  /** Bodies received so far, as text. */
  get bodies(): string[] {
    return this.received.map((d) => text(d.message.body));
  }

  /** Resolves once at least `count` deliveries have arrived in total. */
  async waitFor(count: number): Promise<Delivery[]> {
    if (this.received.length < count) await new Promise<void>((resolve) => this.#waiters.push({ count, resolve }));
    return this.received.slice(0, count);
  }

  /** The next delivery not yet taken. */
  async next(): Promise<Delivery> {
    const index = this.#taken++;
    await this.waitFor(index + 1);
    return this.received[index]!;
  }
}
