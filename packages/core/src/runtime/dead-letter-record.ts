// Builds the DeadLetterRecord an operator reads: where the message came from, who failed it, how
// often, why, and the original bytes and headers untouched.

import type { DeadLetterError, DeadLetterReason, DeadLetterRecord } from '../dead-letter.js';
import type { RawMessage } from '../envelope.js';
import { errorCodeOf, optionValueText } from '../errors.js';

/** Frames kept from a stack: enough to find the throw site, small enough for a header. */
export const STACK_FRAMES_KEPT = 10;

export interface DeadLetterInput {
  readonly raw: RawMessage;
  readonly consumerGroup: string;
  readonly messageId: string | undefined;
  readonly messageType: string | undefined;
  readonly key: string | undefined;
  readonly attempts: number;
  readonly firstFailureAt: number;
  readonly lastFailureAt: number;
  readonly reason: DeadLetterReason;
  readonly error: unknown;
}

export function buildDeadLetterRecord(input: DeadLetterInput): DeadLetterRecord {
  return {
    source: input.raw.source,
    consumerGroup: input.consumerGroup,
    messageId: input.messageId,
    messageType: input.messageType,
    attempts: input.attempts,
    firstFailureAt: input.firstFailureAt,
    lastFailureAt: input.lastFailureAt,
    reason: input.reason,
    error: describeError(input.error),
    body: input.raw.body,
    headers: input.raw.headers,
    key: input.key ?? input.raw.key,
  };
}

export function describeError(error: unknown): DeadLetterError {
  if (error instanceof Error) {
    const own = (error as { code?: unknown }).code;
    // Errors are objects anyone can write to: a number for a stack or an object for a message.
    const { message, stack, name } = error as { message: unknown; stack: unknown; name: unknown };
    const ctorName: unknown = error.constructor?.name;
    return {
      className: nonEmpty(ctorName) ?? nonEmpty(name) ?? 'Error',
      code: errorCodeOf(error) ?? (typeof own === 'string' || typeof own === 'number' ? String(own) : undefined),
      message: typeof message === 'string' ? message : safeJson(message),
      stack: typeof stack === 'string' ? trimStack(stack) : undefined,
    };
  }
  return {
    className: error === null ? 'null' : typeof error,
    code: undefined,
    message: typeof error === 'string' ? error : safeJson(error),
    stack: undefined,
  };
}

/** The message line(s) and the first `frames` `at …` lines; the rest becomes one `… N more` line. */
export function trimStack(stack: string | undefined, frames = STACK_FRAMES_KEPT): string | undefined {
  if (stack === undefined) return undefined;
  const lines = stack.split('\n');
  const firstFrame = lines.findIndex((line) => /^\s+at /.test(line));
  if (firstFrame < 0) return stack;
  const head = lines.slice(0, firstFrame);
  const body = lines.slice(firstFrame);
  if (body.length <= frames) return stack;
  return [...head, ...body.slice(0, frames), `    … ${body.length - frames} more`].join('\n');
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? optionValueText(value);
  } catch {
    return optionValueText(value);
  }
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
