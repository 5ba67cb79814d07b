// Handlers, written once as a plain function or a decorated class method; both become a
// HandlerDefinition that the runtime runs the same way.

import type { AnyContract, PayloadOf } from './contracts.js';
import type { Envelope } from './envelope.js';
import { InvalidOptionError, isOptionObject, optionKindText, optionValueText } from './errors.js';
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
  if (!isOptionObject(options))
    throw new InvalidOptionError(
      'defineHandler.options',
      `must be an options object, got ${optionKindText(options)}`,
      "pass e.g. { timeoutMs: 30_000, downstream: 'payments-api' }, or leave it out",
    );
  if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0))
    throw new InvalidOptionError(
      'timeoutMs',
      `must be a positive number of milliseconds, got ${optionValueText(options.timeoutMs)}`,
      'pass e.g. timeoutMs: 30_000',
    );
  if (options.downstream !== undefined && !isDownstreamName(options.downstream))
    throw new InvalidOptionError(
      'downstream',
      `must be a non-empty string (its circuit breaker's name), got ${downstreamText(options.downstream)}`,
      "pass e.g. downstream: 'payments-api'",
    );
  return Object.freeze({ contract, handle, options: Object.freeze({ ...options }) });
}

/** A handler's `downstream`: the name of its circuit breaker (as `circuitBreaker.name`, non-empty). */
export function isDownstreamName(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

/** A wrong `downstream` as its InvalidOptionError shows it. */
export function downstreamText(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : optionKindText(value);
}
