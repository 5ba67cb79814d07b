// A Logger that keeps what it is told, so a test can check that a warning was given (or was not)
// instead of reading the console.

import { InvalidOptionError, type Logger, optionValueText } from '@switchyard/core';
import { refuseUnknownOptions } from './event-log.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEntry {
  readonly level: LogLevel;
  readonly fields: object;
  readonly message: string | undefined;
}

export interface LogRecorderOptions {
  /** Levels to keep (default all four). */
  readonly levels?: readonly LogLevel[];
  /** Entries kept; past it the oldest go (default 10 000: kafkajs debug lines add up). */
  readonly maxEntries?: number;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const OPTION_KEYS: readonly (keyof LogRecorderOptions)[] = ['levels', 'maxEntries'];

export class LogRecorder implements Logger {
  readonly #entries: LogEntry[] = [];
  readonly #levels: ReadonlySet<LogLevel>;
  readonly #max: number;

  constructor(options: LogRecorderOptions = {}) {
    refuseUnknownOptions(options, 'options', '', OPTION_KEYS, 'recordLogs', "{ levels: ['warn', 'error'] }");
    const levels = options.levels ?? LEVELS;
    if (!Array.isArray(levels) || levels.some((l) => !LEVELS.includes(l)))
      throw new InvalidOptionError(
        'levels',
        `must be an array of ${LEVELS.map((l) => `'${l}'`).join(', ')}, got ${optionValueText(levels)}`,
        "pass e.g. levels: ['warn', 'error'], or leave it out to keep every level",
      );
    const max = options.maxEntries ?? 10_000;
    if (!Number.isInteger(max) || max < 1)
      throw new InvalidOptionError(
        'maxEntries',
        `must be an integer of at least 1, got ${optionValueText(max)}`,
        'pass e.g. maxEntries: 1_000',
      );
    this.#levels = new Set(levels);
    this.#max = max;
  }

  // Arrow properties: a transport may keep `logger.warn` apart from its logger.
  readonly debug = (fields: object, message?: string): void => this.#keep('debug', fields, message);
  readonly info = (fields: object, message?: string): void => this.#keep('info', fields, message);
  readonly warn = (fields: object, message?: string): void => this.#keep('warn', fields, message);
  readonly error = (fields: object, message?: string): void => this.#keep('error', fields, message);

  /** What was kept, oldest first. */
  get entries(): readonly LogEntry[] {
    return this.#entries;
  }

  /** The messages logged at `level` (every kept level when omitted), oldest first. */
  messages(level?: LogLevel): string[] {
    return this.#entries.filter((e) => level === undefined || e.level === level).map((e) => e.message ?? '');
  }

  clear(): void {
    this.#entries.length = 0;
  }

  #keep(level: LogLevel, fields: object, message: string | undefined): void {
    if (!this.#levels.has(level)) return;
    if (this.#entries.length >= this.#max) this.#entries.shift();
    this.#entries.push({ level, fields, message });
  }
}

/** A `Logger` for tests: pass it as an app's or a transport's `logger`, then read `messages('warn')`. */
export function recordLogs(options?: LogRecorderOptions): LogRecorder {
  return new LogRecorder(options);
}
