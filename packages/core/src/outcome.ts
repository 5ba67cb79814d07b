// A handler may return an outcome instead of throwing. Outcomes are values that metrics, spies and
// transports read.

export type Outcome =
  | { readonly kind: 'ack' }
  | { readonly kind: 'retry'; readonly delayMs?: number; readonly reason?: string }
  | { readonly kind: 'dead-letter'; readonly reason: string };

export const ack = (): Outcome => ({ kind: 'ack' });
export const retry = (options: { delayMs?: number; reason?: string } = {}): Outcome => ({ kind: 'retry', ...options });
export const deadLetter = (reason: string): Outcome => ({ kind: 'dead-letter', reason });

export function isOutcome(value: unknown): value is Outcome {
  if (typeof value !== 'object' || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  return kind === 'ack' || kind === 'retry' || kind === 'dead-letter';
}
