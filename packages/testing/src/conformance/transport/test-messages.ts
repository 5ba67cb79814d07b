// The messages the transport suite sends: the id travels both in a header and in the body, so the
// suite can tell messages apart even on a path that rewrites one of them (a dead-letter queue keeps
// the body; a broker may add headers).

import type { OutgoingMessage, RawMessage } from '@switchyard/core';

export const ID_HEADER = 'x-conformance-id';
export const SEQ_HEADER = 'x-conformance-seq';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export interface TestMessageInput {
  readonly seq: number;
  readonly key?: string | undefined;
  readonly timestamp?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Raw body bytes; by default a small JSON document naming the message. */
  readonly body?: Uint8Array;
}

export function testMessage(runId: string, input: TestMessageInput): OutgoingMessage {
  const id = `${runId}-${String(input.seq).padStart(4, '0')}`;
  const body = input.body ?? encoder.encode(JSON.stringify({ conformance: runId, id, seq: input.seq, key: input.key }));
  return {
    id,
    key: input.key,
    body,
    headers: { ...input.headers, [ID_HEADER]: id, [SEQ_HEADER]: String(input.seq) },
    timestamp: input.timestamp ?? Date.now(),
  };
}

/** The suite's id of a received message (header first, then the JSON body), if it is one of ours. */
export function testMessageId(message: RawMessage): string | undefined {
  const header = message.headers[ID_HEADER];
  if (header !== undefined) return header;
  if (message.body === null) return undefined;
  try {
    const parsed = JSON.parse(decoder.decode(message.body)) as { id?: unknown };
    return typeof parsed.id === 'string' ? parsed.id : undefined;
  } catch {
    return undefined;
  }
}

export function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
