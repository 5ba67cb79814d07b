// SNS delivers to an SQS queue either the raw message (RawMessageDelivery on) or a JSON notification
// that wraps it: `{ Type: 'Notification', MessageId, TopicArn, Message, MessageAttributes, … }`.
// A consumer gets the original message either way: the envelope is detected and unwrapped here,
// and its attributes become headers (trace context included).

import { setHeader } from '@switchyard/core';
import { unpackHeaders } from './message-attributes.js';

/** Header set on a message the transport could not make sense of; core dead-letters it with this reason. */
export const DECODE_ERROR_HEADER = 'sy-decode-error';
/** Headers added when a message arrived wrapped in an SNS notification. */
export const SNS_TOPIC_ARN_HEADER = 'sns-topic-arn';
export const SNS_MESSAGE_ID_HEADER = 'sns-message-id';
export const SNS_SUBJECT_HEADER = 'sns-subject';

export type SnsEnvelopeResult =
  | { readonly kind: 'not-envelope' }
  | {
      readonly kind: 'unwrapped';
      readonly body: string;
      readonly headers: Record<string, string>;
      /** The notification's timestamp, ms since the epoch, when it had a valid one. */
      readonly timestamp: number | undefined;
    }
  | { readonly kind: 'malformed'; readonly reason: string };

/**
 * Detects an SNS notification in an SQS body. A body is taken for an envelope when it is a JSON
 * object with a string `TopicArn` and an SNS `Type`; anything else is the application's own message.
 */
export function unwrapSnsEnvelope(body: string): SnsEnvelopeResult {
  // Cheap tests first: most bodies are not envelopes and need no second JSON.parse.
  if (!body.includes('"TopicArn"') || !body.includes('"Type"')) return { kind: 'not-envelope' };
  const trimmed = body.trimStart();
  if (!trimmed.startsWith('{')) return { kind: 'not-envelope' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    // Not JSON at all: the application's decoder reports it with the body as it is.
    return { kind: 'not-envelope' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { kind: 'not-envelope' };
  const envelope = parsed as Record<string, unknown>;
  if (typeof envelope.TopicArn !== 'string' || typeof envelope.Type !== 'string') return { kind: 'not-envelope' };
  if (envelope.Type === 'SubscriptionConfirmation' || envelope.Type === 'UnsubscribeConfirmation')
    return {
      kind: 'malformed',
      reason: `SNS ${envelope.Type} for ${envelope.TopicArn}: confirm the subscription (its SubscribeURL) instead of consuming it`,
    };
  if (envelope.Type !== 'Notification')
    return { kind: 'malformed', reason: `SNS envelope of unknown Type '${envelope.Type}'` };
  if (typeof envelope.Message !== 'string')
    return { kind: 'malformed', reason: 'SNS notification without a string Message' };
  if (typeof envelope.MessageId !== 'string')
    return { kind: 'malformed', reason: 'SNS notification without a string MessageId' };
  const flat: Record<string, string> = {};
  if (envelope.MessageAttributes !== undefined && envelope.MessageAttributes !== null) {
    if (typeof envelope.MessageAttributes !== 'object' || Array.isArray(envelope.MessageAttributes))
      return { kind: 'malformed', reason: 'SNS notification whose MessageAttributes is not an object' };
    for (const [name, attribute] of Object.entries(envelope.MessageAttributes as Record<string, unknown>)) {
      const value = (attribute as { Value?: unknown } | null)?.Value;
      const type = (attribute as { Type?: unknown } | null)?.Type;
      if (typeof value !== 'string' || typeof type !== 'string')
        return { kind: 'malformed', reason: `SNS notification attribute '${name}' lacks a string Type and Value` };
      // Binary values arrive base64-encoded already, which is how headers carry them.
      setHeader(flat, name, value);
    }
  }
  const unpacked = unpackHeaders(flat);
  if (unpacked.problem !== undefined) return { kind: 'malformed', reason: `SNS notification ${unpacked.problem}` };
  const headers = unpacked.headers;
  headers[SNS_TOPIC_ARN_HEADER] = envelope.TopicArn;
  headers[SNS_MESSAGE_ID_HEADER] = envelope.MessageId;
  if (typeof envelope.Subject === 'string' && envelope.Subject.length > 0)
    headers[SNS_SUBJECT_HEADER] = envelope.Subject;
  const timestamp = typeof envelope.Timestamp === 'string' ? Date.parse(envelope.Timestamp) : Number.NaN;
  return {
    kind: 'unwrapped',
    body: envelope.Message,
    headers,
    timestamp: Number.isFinite(timestamp) ? timestamp : undefined,
  };
}
