// A test spy on an app's consumer events, after message-queue-toolkit's HandlerSpy: tests wait for
// "message X was acked" instead of sleeping, and a wait that times out says what did happen.

import type { MessageEventBase, SwitchyardEvents } from '@switchyard/core';
import { InvalidOptionError, optionKindText, optionValueText } from '@switchyard/core';
import { checkTimeout, EventLog, refuseUnknownOptions, type WaitOptions } from './event-log.js';
import { listen, type SwitchyardEventSource } from './event-source.js';

export const MESSAGE_OUTCOMES = ['acked', 'retried', 'dead-lettered', 'duplicate', 'stale', 'released'] as const;

/** How a consumed message ended one delivery; each maps to the event `consumer:message:<outcome>`. */
export type MessageOutcome = (typeof MESSAGE_OUTCOMES)[number];

/** The payload of `consumer:message:<O>`. */
export type MessageOutcomeEvent<O extends MessageOutcome> = SwitchyardEvents[`consumer:message:${O}`];

/** One observed outcome, in arrival order; `outcome` narrows `event`. */
export type RecordedOutcome = {
  readonly [O in MessageOutcome]: { readonly outcome: O; readonly event: MessageOutcomeEvent<O> };
}[MessageOutcome];

export type OutcomeCounts = { readonly [O in MessageOutcome]: number };

export interface MessageSpyOptions {
  /** Default for every wait (default 15 s: generous for real brokers, never used as a sleep). */
  readonly defaultTimeoutMs?: number;
  /** Record only the events this accepts, e.g. one consumer group of an app with several. */
  readonly filter?: (event: MessageEventBase) => boolean;
}

export interface MessageWaitOptions extends WaitOptions {
  /** Match only this delivery attempt (e.g. the 3rd `retried`). */
  readonly attempt?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;
/** How many recent events a timeout message lists. */
const RECENT_IN_REPORT = 12;

function isOutcome(value: unknown): value is MessageOutcome {
  return (MESSAGE_OUTCOMES as readonly unknown[]).includes(value);
}

function describeRecord(record: RecordedOutcome): string {
  const e = record.event;
  const extra =
    record.outcome === 'retried'
      ? `, delay ${record.event.delayMs} ms`
      : record.outcome === 'dead-lettered'
        ? `, reason ${record.event.record.reason}`
        : '';
  return `${record.outcome} '${e.messageId}' (${e.destination}, group ${e.consumerGroup}, attempt ${e.attempt}${extra})`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : optionValueText(error);
}

export class MessageSpy {
  readonly #log = new EventLog<RecordedOutcome>();
  readonly #errors: SwitchyardEvents['app:error'][] = [];
  readonly #unsubscribe: (() => void)[] = [];
  readonly #defaultTimeoutMs: number;
  readonly #filter: ((event: MessageEventBase) => boolean) | undefined;

  constructor(source: SwitchyardEventSource, options: MessageSpyOptions = {}) {
    refuseUnknownOptions(
      options,
      'options',
      '',
      ['defaultTimeoutMs', 'filter'],
      'spyOn',
      '{ defaultTimeoutMs: 5_000 }',
    );
    if (options.filter !== undefined && typeof options.filter !== 'function')
      throw new InvalidOptionError(
        'filter',
        `must be a function (event) => boolean, got ${optionKindText(options.filter)}`,
        "pass e.g. filter: (e) => e.consumerGroup === 'billing'",
      );
    this.#defaultTimeoutMs = checkTimeout(options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS, 'defaultTimeoutMs');
    this.#filter = options.filter;
    if (!source || typeof source.on !== 'function')
      throw new InvalidOptionError(
        'spyOn.source',
        'has no on(name, listener) method',
        'pass app.events (or any TypedEvents<SwitchyardEvents>)',
      );
    for (const outcome of MESSAGE_OUTCOMES) {
      this.#unsubscribe.push(
        listen(source, `consumer:message:${outcome}`, (event: MessageEventBase) => {
          if (this.#filter && !this.#filter(event)) return;
          this.#log.push({ outcome, event } as RecordedOutcome);
        }),
      );
    }
    this.#unsubscribe.push(listen(source, 'app:error', (event) => this.#errors.push(event)));
  }

  /**
   * Resolves with the event of `messageId` reaching `outcome` (the first such, or the given
   * `attempt`), including one that happened before the call.
   */
  waitFor<O extends MessageOutcome>(
    messageId: string,
    outcome: O,
    options: MessageWaitOptions = {},
  ): Promise<MessageOutcomeEvent<O>> {
    this.#checkOutcome(outcome);
    refuseUnknownOptions(options, 'waitFor.options', 'waitFor', ['timeoutMs', 'signal', 'attempt'], 'spyOn');
    const timeoutMs = checkTimeout(options.timeoutMs ?? this.#defaultTimeoutMs, 'timeoutMs');
    const matches = (r: RecordedOutcome) =>
      r.outcome === outcome &&
      r.event.messageId === messageId &&
      (options.attempt === undefined || r.event.attempt === options.attempt);
    const what = `message '${messageId}' to be ${outcome}${options.attempt === undefined ? '' : ` on attempt ${options.attempt}`}`;
    return this.#log.waitUntil((items) => items.find(matches)?.event as MessageOutcomeEvent<O> | undefined, {
      timeoutMs,
      signal: options.signal,
      describe: () => this.#report(`waiting for ${what}`, timeoutMs, messageId),
    });
  }

  /** Resolves with the first `count` events of `outcome` once that many were seen. */
  waitForCount<O extends MessageOutcome>(
    outcome: O,
    count: number,
    options: WaitOptions = {},
  ): Promise<MessageOutcomeEvent<O>[]> {
    this.#checkOutcome(outcome);
    refuseUnknownOptions(options, 'waitForCount.options', 'waitForCount', ['timeoutMs', 'signal'], 'spyOn');
    if (!(Number.isInteger(count) && count >= 0))
      throw new InvalidOptionError(
        'waitForCount.count',
        `must be a non-negative integer, got ${optionValueText(count)}`,
        'pass e.g. 3',
      );
    const timeoutMs = checkTimeout(options.timeoutMs ?? this.#defaultTimeoutMs, 'timeoutMs');
    return this.#log.waitUntil(
      (items) => {
        const found = items.filter((r) => r.outcome === outcome);
        return found.length >= count ? found.slice(0, count).map((r) => r.event as MessageOutcomeEvent<O>) : undefined;
      },
      {
        timeoutMs,
        signal: options.signal,
        describe: () => this.#report(`waiting for ${count} ${outcome} message(s)`, timeoutMs),
      },
    );
  }

  /** Resolves with the first event of `outcome` that `predicate` accepts. */
  waitForEvent<O extends MessageOutcome>(
    outcome: O,
    predicate: (event: MessageOutcomeEvent<O>) => boolean,
    options: WaitOptions = {},
  ): Promise<MessageOutcomeEvent<O>> {
    this.#checkOutcome(outcome);
    refuseUnknownOptions(options, 'waitForEvent.options', 'waitForEvent', ['timeoutMs', 'signal'], 'spyOn');
    const timeoutMs = checkTimeout(options.timeoutMs ?? this.#defaultTimeoutMs, 'timeoutMs');
    return this.#log.waitUntil(
      (items) => {
        for (const r of items)
          if (r.outcome === outcome && predicate(r.event as MessageOutcomeEvent<O>))
            return r.event as MessageOutcomeEvent<O>;
        return undefined;
      },
      {
        timeoutMs,
        signal: options.signal,
        describe: () => this.#report(`waiting for a ${outcome} message matching the predicate`, timeoutMs),
      },
    );
  }

  /** Events seen so far per outcome (since the last `reset`). */
  counts(): OutcomeCounts {
    const counts = Object.fromEntries(MESSAGE_OUTCOMES.map((o) => [o, 0])) as Record<MessageOutcome, number>;
    for (const r of this.#log.items) counts[r.outcome] += 1;
    return counts;
  }

  /** Events of one outcome, in arrival order. */
  events<O extends MessageOutcome>(outcome: O): MessageOutcomeEvent<O>[] {
    this.#checkOutcome(outcome);
    return this.#log.items.filter((r) => r.outcome === outcome).map((r) => r.event as MessageOutcomeEvent<O>);
  }

  /** Every recorded outcome in arrival order. */
  history(): readonly RecordedOutcome[] {
    return [...this.#log.items];
  }

  /** What happened to one message, in order. */
  historyOf(messageId: string): readonly RecordedOutcome[] {
    return this.#log.items.filter((r) => r.event.messageId === messageId);
  }

  /** `app:error` events seen (settlement failures, transport errors); listed in timeout reports. */
  errors(): readonly SwitchyardEvents['app:error'][] {
    return [...this.#errors];
  }

  /** Forget everything seen; pending waits keep waiting for new events. */
  reset(): void {
    this.#log.clear();
    this.#errors.length = 0;
  }

  /** Stop listening; pending and later waits reject. */
  detach(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
    this.#log.close(new Error('MessageSpy was detached'));
  }

  #checkOutcome(outcome: unknown): void {
    if (!isOutcome(outcome))
      throw new InvalidOptionError(
        'outcome',
        `'${optionValueText(outcome)}' is not a message outcome`,
        `use one of ${MESSAGE_OUTCOMES.join(', ')}`,
      );
  }

  #report(what: string, timeoutMs: number, messageId?: string): string {
    const lines = [`MessageSpy: timed out after ${timeoutMs} ms ${what}.`];
    if (messageId !== undefined) {
      const own = this.historyOf(messageId);
      lines.push(
        own.length === 0
          ? `  Nothing seen for '${messageId}'.`
          : `  Seen for '${messageId}': ${own.map((r) => `${r.outcome} (attempt ${r.event.attempt})`).join(', ')}.`,
      );
    }
    const counts = this.counts();
    lines.push(`  Counts: ${MESSAGE_OUTCOMES.map((o) => `${o} ${counts[o]}`).join(', ')}.`);
    const items = this.#log.items;
    if (items.length > 0) {
      const recent = items.slice(-RECENT_IN_REPORT);
      lines.push(`  Last ${recent.length} of ${items.length} event(s):`);
      for (const r of recent) lines.push(`    ${describeRecord(r)}`);
    }
    if (this.#errors.length > 0) {
      lines.push(`  app:error events (${this.#errors.length}):`);
      for (const e of this.#errors.slice(-3)) lines.push(`    ${e.context}: ${errorText(e.error)}`);
    }
    return lines.join('\n');
  }
}

/** Attach a MessageSpy to `app.events` (or any source of Switchyard events). */
export function spyOn(source: SwitchyardEventSource, options?: MessageSpyOptions): MessageSpy {
  return new MessageSpy(source, options);
}
