// Handlers, written once as a plain function or a decorated class method; both become a
// HandlerDefinition that the runtime runs the same way.

import type { AnyContract, PayloadOf } from './contracts.js';
import type { Envelope } from './envelope.js';
import { InvalidOptionError } from './errors.js';
import type { Logger } from './logger.js';
import type { Outcome } from './outcome.js';

export interface HandlerContext {
  /** Aborted on handler timeout, on shutdown past the deadline, or when the transport lost the message. */
  readonly signal: AbortSignal;
  /** 1 on the first delivery. */
  readonly attempt: number;
  readonly logger: Logger;
}

export type HandlerResult = void | Outcome;

export type HandlerFn<C extends AnyContract> = (
  message: Envelope<PayloadOf<C>>,
  context: HandlerContext,
) => HandlerResult | Promise<HandlerResult>;

export interface HandlerOptions {
  /** Abort the handler after this long; must stay below the transport's lease (SQS visibility). */
  readonly timeoutMs?: number;
  /** Downstream this handler calls, for the per-downstream circuit breaker. */
  readonly downstream?: string;
}

export interface HandlerDefinition<C extends AnyContract = AnyContract> {
  readonly contract: C;
  readonly handle: HandlerFn<C>;
  readonly options: HandlerOptions;
}

export function defineHandler<C extends AnyContract>(
  contract: C,
  handle: HandlerFn<C>,
  options: HandlerOptions = {},
): HandlerDefinition<C> {
  if (!contract || typeof contract.name !== 'string')
    throw new InvalidOptionError(
      'defineHandler.contract',
      'is not a message contract',
      'pass the result of defineEvent() or defineCommand()',
    );
  if (typeof handle !== 'function')
    throw new InvalidOptionError(
      'defineHandler.handle',
      'must be a function',
      'pass async (message, context) => { ... }',
    );
  if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0))
    throw new InvalidOptionError(
      'timeoutMs',
      `must be a positive number of milliseconds, got ${String(options.timeoutMs)}`,
      'pass e.g. timeoutMs: 30_000',
    );
  return Object.freeze({ contract, handle, options: Object.freeze({ ...options }) });
}
