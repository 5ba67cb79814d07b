// A spy on `publisher:message:sent`: wait until the app has published something (acknowledged by
// the broker) instead of sleeping.

import type { SwitchyardEvents } from '@switchyard/core';
import { InvalidOptionError, optionKindText, optionValueText } from '@switchyard/core';
import { checkTimeout, EventLog, refuseUnknownOptions, type WaitOptions } from './event-log.js';
import { listen, type SwitchyardEventSource } from './event-source.js';

export type SentMessage = SwitchyardEvents['publisher:message:sent'];

export interface PublishSpyOptions {
  /** Default for every wait (default 15 s). */
  readonly defaultTimeoutMs?: number;
  /** Record only what this accepts, e.g. one destination. */
  readonly filter?: (sent: SentMessage) => boolean;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const RECENT_IN_REPORT = 12;
const SPY_OPTION_KEYS: readonly (keyof PublishSpyOptions)[] = ['defaultTimeoutMs', 'filter'];
const WAIT_OPTION_KEYS: readonly (keyof WaitOptions)[] = ['timeoutMs', 'signal'];
const COUNT_OPTION_KEYS: readonly string[] = [...WAIT_OPTION_KEYS, 'destination'];

export class PublishSpy {
  readonly #log = new EventLog<SentMessage>();
  readonly #unsubscribe: () => void;
  readonly #defaultTimeoutMs: number;

  constructor(source: SwitchyardEventSource, options: PublishSpyOptions = {}) {
    refuseUnknownOptions(options, 'options', '', SPY_OPTION_KEYS, 'spyOnPublishes', '{ defaultTimeoutMs: 5_000 }');
    if (options.filter !== undefined && typeof options.filter !== 'function')
      throw new InvalidOptionError(
        'filter',
        `must be a function (sent) => boolean, got ${optionKindText(options.filter)}`,
        "pass e.g. (sent) => sent.destination === 'orders', or leave it out to record every send",
      );
    this.#defaultTimeoutMs = checkTimeout(options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS, 'defaultTimeoutMs');
    if (!source || typeof source.on !== 'function')
      throw new InvalidOptionError(
        'spyOnPublishes.source',
        'has no on(name, listener) method',
        'pass app.events (or any TypedEvents<SwitchyardEvents>)',
      );
    const filter = options.filter;
    this.#unsubscribe = listen(source, 'publisher:message:sent', (sent) => {
      if (!filter || filter(sent)) this.#log.push(sent);
    });
  }

  /** Resolves when the message with this id was sent (also if it already was). */
  waitFor(messageId: string, options: WaitOptions = {}): Promise<SentMessage> {
    if (typeof messageId !== 'string')
      throw new InvalidOptionError(
        'waitFor.messageId',
        `must be a message id (a string), got ${optionKindText(messageId)}`,
        'pass the id publish returned, e.g. spy.waitFor(sent.id)',
      );
    refuseUnknownOptions(options, 'waitFor.options', 'waitFor', WAIT_OPTION_KEYS, 'spyOnPublishes');
    return this.waitForMessage((m) => m.messageId === messageId, options, `message '${messageId}' to be sent`);
  }

  /** Resolves with the first sent message `predicate` accepts. */
  waitForMessage(
    predicate: (sent: SentMessage) => boolean,
    options: WaitOptions = {},
    what = 'a sent message matching the predicate',
  ): Promise<SentMessage> {
    if (typeof predicate !== 'function')
      throw new InvalidOptionError(
        'waitForMessage.predicate',
        `must be a function (sent) => boolean, got ${optionKindText(predicate)}`,
        "pass e.g. (sent) => sent.type === 'OrderShipped'",
      );
    refuseUnknownOptions(options, 'waitForMessage.options', 'waitForMessage', WAIT_OPTION_KEYS, 'spyOnPublishes');
    const timeoutMs = checkTimeout(options.timeoutMs ?? this.#defaultTimeoutMs, 'timeoutMs');
    return this.#log.waitUntil((items) => items.find(predicate), {
      timeoutMs,
      signal: options.signal,
      describe: () => this.#report(what, timeoutMs),
    });
  }

  /** Resolves with the first `count` sent messages (optionally only to `destination`). */
  waitForCount(count: number, options: WaitOptions & { readonly destination?: string } = {}): Promise<SentMessage[]> {
    if (!(Number.isInteger(count) && count >= 0))
      throw new InvalidOptionError(
        'waitForCount.count',
        `must be a non-negative integer, got ${optionValueText(count)}`,
        'pass e.g. 3',
      );
    refuseUnknownOptions(options, 'waitForCount.options', 'waitForCount', COUNT_OPTION_KEYS, 'spyOnPublishes');
    if (options.destination !== undefined && typeof options.destination !== 'string')
      throw new InvalidOptionError(
        'waitForCount.destination',
        `must be a destination name, got ${optionKindText(options.destination)}`,
        "pass e.g. { destination: 'payments' }, or leave it out to count every send",
      );
    const timeoutMs = checkTimeout(options.timeoutMs ?? this.#defaultTimeoutMs, 'timeoutMs');
    const destination = options.destination;
    return this.#log.waitUntil(
      (items) => {
        const found = destination === undefined ? items : items.filter((m) => m.destination === destination);
        return found.length >= count ? found.slice(0, count) : undefined;
      },
      {
        timeoutMs,
        signal: options.signal,
        describe: () =>
          this.#report(`${count} sent message(s)${destination === undefined ? '' : ` to '${destination}'`}`, timeoutMs),
      },
    );
  }

  /** Sent messages in order, optionally only those to `destination`. */
  messages(destination?: string): SentMessage[] {
    return this.#log.items.filter((m) => destination === undefined || m.destination === destination);
  }

  count(destination?: string): number {
    return this.messages(destination).length;
  }

  reset(): void {
    this.#log.clear();
  }

  detach(): void {
    this.#unsubscribe();
    this.#log.close(new Error('PublishSpy was detached'));
  }

  #report(what: string, timeoutMs: number): string {
    const items = this.#log.items;
    const lines = [`PublishSpy: timed out after ${timeoutMs} ms waiting for ${what}.`, `  Sent: ${items.length}.`];
    for (const m of items.slice(-RECENT_IN_REPORT))
      lines.push(`    '${m.messageId}' (${m.type}) to '${m.destination}'`);
    return lines.join('\n');
  }
}

/** Attach a PublishSpy to `app.events`. */
export function spyOnPublishes(source: SwitchyardEventSource, options?: PublishSpyOptions): PublishSpy {
  return new PublishSpy(source, options);
}
