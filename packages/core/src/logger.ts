// A pino-compatible logger shape: pass a pino logger (or anything with these methods) and it works.

import { assertMethods } from './errors.js';

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child?(bindings: Record<string, unknown>): Logger;
}

const noop = () => {};
/** The quiet default: Switchyard says nothing unless given a logger. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

export function childLogger(logger: Logger, bindings: Record<string, unknown>): Logger {
  return typeof logger.child === 'function' ? logger.child(bindings) : logger;
}

/**
 * Refuses a `logger` option that is not a Logger (debug, info, warn and error functions; `child` is
 * optional and used only when it is a function), naming `option`. Absent (undefined or null) passes:
 * the caller's default applies.
 */
export function assertLogger(option: string, value: unknown): void {
  if (value === undefined || value === null) return;
  assertMethods(
    option,
    value,
    'a Logger (debug, info, warn and error functions)',
    ['debug', 'info', 'warn', 'error'],
    'pass a pino logger, or leave it out for silence',
  );
}
