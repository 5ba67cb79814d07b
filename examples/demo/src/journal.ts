// Every runtime event of every app in the demo, in the order they happened, so the demo can wait
// for what it expects (instead of sleeping) and count what it saw afterwards.

import type { App, SwitchyardEvents } from '@switchyard/core';

type MessageEventName =
  | 'consumer:message:acked'
  | 'consumer:message:retried'
  | 'consumer:message:dead-lettered'
  | 'consumer:message:duplicate'
  | 'consumer:message:stale'
  | 'consumer:message:released';

const MESSAGE_EVENTS: readonly MessageEventName[] = [
  'consumer:message:acked',
  'consumer:message:retried',
  'consumer:message:dead-lettered',
  'consumer:message:duplicate',
  'consumer:message:stale',
  'consumer:message:released',
];

/** One event: which app (process) emitted it, when, and what it said. */
export type Entry = {
  [K in MessageEventName]: {
    readonly app: string;
    readonly at: number;
    readonly name: K;
    readonly event: SwitchyardEvents[K];
  };
}[MessageEventName];

export type EntryOf<K extends MessageEventName> = Extract<Entry, { name: K }>;

export interface AppError {
  readonly app: string;
  readonly context: string;
  readonly error: unknown;
}

export class EventJournal {
  readonly entries: Entry[] = [];
  readonly errors: AppError[] = [];
  /** Sees each entry as it arrives (the demo narrates from it). */
  onEntry: ((entry: Entry) => void) | undefined;
  readonly #now: () => number;
  readonly #changed = new Set<() => void>();

  constructor(now: () => number) {
    this.#now = now;
  }

  attach(label: string, app: App): void {
    for (const name of MESSAGE_EVENTS)
      app.events.on(name, (event) => this.#add({ app: label, at: this.#now(), name, event } as Entry));
    app.events.on('app:error', ({ context, error }) => {
      this.errors.push({ app: label, context, error });
      this.#notify();
    });
  }

  select<K extends MessageEventName>(name: K, where: (entry: EntryOf<K>) => boolean = () => true): EntryOf<K>[] {
    return this.entries.filter((e): e is EntryOf<K> => e.name === name && where(e as EntryOf<K>));
  }

  /**
   * Resolves true once `condition` holds, re-checking after every event; false if it still does
   * not after `timeoutMs` (the demo then reports what is missing instead of hanging).
   */
  until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    if (condition()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!condition()) return;
        finish(true);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      const finish = (met: boolean) => {
        clearTimeout(timer);
        this.#changed.delete(check);
        resolve(met);
      };
      this.#changed.add(check);
    });
  }

  #add(entry: Entry): void {
    this.entries.push(entry);
    this.onEntry?.(entry);
    this.#notify();
  }

  #notify(): void {
    for (const check of [...this.#changed]) check();
  }
}
