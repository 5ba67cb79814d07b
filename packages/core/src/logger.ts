// A pino-compatible logger shape: pass a pino logger (or anything with these methods) and it works.

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
  return logger.child ? logger.child(bindings) : logger;
}
