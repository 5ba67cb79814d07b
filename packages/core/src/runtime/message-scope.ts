// The message a handler is processing, carried through its async calls so that `app.publish` /
// `app.send` from inside the handler can set causation and correlation ids and parent the send
// span on the process span without the handler passing anything along.

import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context } from '@opentelemetry/api';
import type { Envelope } from '../envelope.js';

export interface MessageScope {
  readonly envelope: Envelope<unknown>;
  /** OpenTelemetry context with the process span active. */
  readonly traceContext: Context;
}

export const messageScope = new AsyncLocalStorage<MessageScope>();

/** The message being handled by the caller, if it runs inside a handler. */
export function currentMessage(): Envelope<unknown> | undefined {
  return messageScope.getStore()?.envelope;
}
