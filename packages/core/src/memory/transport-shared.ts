// What the in-memory log and queue transports share: options, lifecycle checks, the gauge loop and
// the translation of broker records into the port's RawMessage.

import { assertClock, type Clock } from '../clock.js';
import { assertMethods, InvalidOptionError, optionValueText, SwitchyardError } from '../errors.js';
import type { Settlement, SubscriptionSpec } from '../ports/transport.js';
import { MemoryBroker } from './broker.js';
import { checkFlag, refuseUnknownOptions } from './queue.js';

export interface MemoryTransportOptions {
  /** The broker to use; share one between transports to connect producers and consumers. Default: a new one. */
  readonly broker?: MemoryBroker;
  /** Clock for a broker created here; when `broker` is given it must be the broker's clock (or absent). */
  readonly clock?: Clock;
  /** How often each subscription reports lag/depth to its observer (default 5 s). */
  readonly gaugeIntervalMs?: number;
  /**
   * Create a destination that does not exist on first publish or subscribe (default true), as Kafka's
   * `auto.create.topics.enable`; the log transport creates topics, the queue transport queues.
   */
  readonly autoCreate?: boolean;
}

export const memoryTransportDefaults = Object.freeze({ gaugeIntervalMs: 5_000, autoCreate: true });

const SHARED_KEYS: readonly (keyof MemoryTransportOptions)[] = ['broker', 'clock', 'gaugeIntervalMs', 'autoCreate'];

/**
 * Checks the options both transports take, and refuses a non-object or a key that neither they nor
 * `ownKeys` (the transport's own) name; then returns the broker to use: the given one or a new one.
 */
export function resolveBroker(
  options: MemoryTransportOptions,
  owner: 'MemoryLogTransport' | 'MemoryQueueTransport',
  ownKeys: readonly string[],
): MemoryBroker {
  refuseUnknownOptions(options, [...SHARED_KEYS, ...ownKeys], {
    option: 'options',
    prefix: '',
    owner: `a ${owner}`,
    example: '{ broker }',
  });
  // Absent as `??` reads it: undefined or null means a new broker.
  if (options.broker !== undefined && options.broker !== null)
    assertMethods(
      'broker',
      options.broker,
      'a MemoryBroker',
      ['kindOf', 'publish', 'createTopic', 'createQueue', 'joinGroup', 'writeDeadLetter'],
      'pass a new MemoryBroker(), or leave it out for a new one',
    );
  assertClock('clock', options.clock);
  checkFlag('autoCreate', options.autoCreate);
  if (options.broker && options.clock && options.broker.clock !== options.clock)
    throw new InvalidOptionError(
      'clock',
      'differs from the clock of the given broker',
      'leave clock out (the broker brings its own), or build the broker with this clock',
    );
  if (
    options.gaugeIntervalMs !== undefined &&
    !(Number.isFinite(options.gaugeIntervalMs) && options.gaugeIntervalMs > 0)
  )
    throw new InvalidOptionError(
      'gaugeIntervalMs',
      `must be a positive number of milliseconds, got ${optionValueText(options.gaugeIntervalMs)}`,
      'pass e.g. 5_000',
    );
  return options.broker ?? new MemoryBroker(options.clock ? { clock: options.clock } : {});
}

export class TransportLifecycle {
  #started = false;
  #closed = false;
  readonly #name: string;

  constructor(name: string) {
    this.#name = name;
  }

  get started(): boolean {
    return this.#started;
  }

  get closed(): boolean {
    return this.#closed;
  }

  start(): void {
    if (this.#closed) throw this.#shutdown();
    this.#started = true;
  }

  close(): void {
    this.#closed = true;
  }

  /** Throws unless started and not closed. */
  assertOpen(): void {
    if (this.#closed) throw this.#shutdown();
    if (!this.#started)
      throw new SwitchyardError('SWITCHYARD_NOT_STARTED', `${this.#name} is not started: call start() first`, {
        retryable: false,
      });
  }

  #shutdown(): SwitchyardError {
    return new SwitchyardError('SWITCHYARD_SHUTDOWN', `${this.#name} is closed`, { retryable: false });
  }
}

export function validateSpec(spec: SubscriptionSpec, knownOptions: readonly string[]): void {
  if (typeof spec.destination !== 'string' || spec.destination.length === 0)
    throw new InvalidOptionError('destination', 'must be a non-empty string', 'pass the topic or queue name');
  if (!(Number.isInteger(spec.maxInFlight) && spec.maxInFlight >= 1))
    throw new InvalidOptionError(
      'maxInFlight',
      `must be a positive integer, got ${optionValueText(spec.maxInFlight)}`,
      'pass e.g. 16',
    );
  if (!(typeof spec.maxInFlightBytes === 'number' && spec.maxInFlightBytes > 0))
    throw new InvalidOptionError(
      'maxInFlightBytes',
      `must be positive, got ${optionValueText(spec.maxInFlightBytes)}`,
      'pass e.g. 16_777_216',
    );
  for (const key of Object.keys(spec.options ?? {}))
    if (!knownOptions.includes(key))
      throw new InvalidOptionError(
        `options.${key}`,
        'is not an option of the in-memory transport',
        knownOptions.length > 0 ? `use one of: ${knownOptions.join(', ')}` : 'leave options out',
      );
  if (spec.semantics === 'exactly-once')
    throw new SwitchyardError(
      'SWITCHYARD_CAPABILITY',
      `the in-memory transport has no transactions: '${spec.destination}' cannot be consumed exactly-once`,
      { retryable: false, details: { destination: spec.destination } },
    );
}

/** Header names lower-cased, as the port's RawMessage promises. */
export function lowerCaseHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

/** Reports gauges now and every `intervalMs` until `signal` aborts. An observer that throws is ignored. */
export function runGaugeLoop(clock: Clock, intervalMs: number, report: () => void, signal: AbortSignal): void {
  const safeReport = () => {
    try {
      report();
    } catch {
      // Gauges are advisory: a faulty observer must not stop consumption.
    }
  };
  void (async () => {
    while (!signal.aborted) {
      safeReport();
      try {
        await clock.sleep(intervalMs, signal);
      } catch {
        return;
      }
    }
  })();
}

export function safeObserve(fn: () => void): void {
  try {
    fn();
  } catch {
    // See runGaugeLoop.
  }
}

/**
 * Writes a dead-letter settlement's record. A failure throws SWITCHYARD_DEAD_LETTER_PUBLISH and
 * settles nothing: the message stays where it was, and core may settle again.
 */
export function writeDeadLetter(
  broker: MemoryBroker,
  where: string,
  settlement: Extract<Settlement, { kind: 'dead-letter' }>,
  autoCreate: 'topic' | 'queue',
): void {
  try {
    broker.writeDeadLetter(settlement.destination, settlement.record, { autoCreate });
  } catch (error) {
    throw new SwitchyardError(
      'SWITCHYARD_DEAD_LETTER_PUBLISH',
      `could not write ${where} to '${settlement.destination}'`,
      {
        cause: error,
        details: { destination: settlement.destination },
      },
    );
  }
}

export function alreadySettled(where: string): SwitchyardError {
  return new SwitchyardError('SWITCHYARD_TRANSPORT', `delivery ${where} was already settled`, {
    retryable: false,
    details: { reason: 'already-settled' },
  });
}

export function lost(where: string, reason: 'partition-revoked' | 'lease-lapsed'): SwitchyardError {
  const why =
    reason === 'partition-revoked'
      ? 'its partition was revoked in a rebalance; the new owner redelivers it'
      : 'its visibility timeout lapsed and it was received again; that delivery settles it';
  return new SwitchyardError('SWITCHYARD_TRANSPORT', `delivery ${where} cannot be settled: ${why}`, {
    retryable: false,
    details: { reason },
  });
}
