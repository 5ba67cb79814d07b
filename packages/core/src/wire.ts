// The envelope wire format: how a message looks on any transport, so producers that are not
// Switchyard (another language, a CLI, a connector) can interoperate.
//
//   body     UTF-8 JSON of the payload (`content-type: application/json`)
//   headers  lower-case names: sy-id, sy-type, sy-key, sy-timestamp (ms), sy-correlation-id,
//            sy-causation-id, sy-schema-version, content-type, and W3C traceparent/tracestate.
//
// Decoding is lenient about what is missing (a plain JSON message without any `sy-*` header is
// consumable) and strict about what is wrong (a tombstone, a non-JSON body, an unknown type).

import { randomUUID } from 'node:crypto';
import type { Clock } from './clock.js';
import type { AnyContract, PayloadOf } from './contracts.js';
import type { Envelope, OutgoingMessage, RawMessage, SourcePosition, TraceContextCarrier } from './envelope.js';
import { SwitchyardError } from './errors.js';
import type { StandardSchemaV1 } from './standard-schema.js';

export const WireHeaders = {
  id: 'sy-id',
  type: 'sy-type',
  key: 'sy-key',
  timestamp: 'sy-timestamp',
  correlationId: 'sy-correlation-id',
  causationId: 'sy-causation-id',
  schemaVersion: 'sy-schema-version',
  /** Set by transports that redeliver through a retry topic, so the retry policy's elapsed time survives. */
  firstFailureAt: 'sy-first-failure-at',
  /** Set by a transport that could not unwrap what it received (a malformed SNS envelope, say): why. */
  decodeError: 'sy-decode-error',
  contentType: 'content-type',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
} as const;

export const JSON_CONTENT_TYPE = 'application/json';

const decoder = new TextDecoder('utf-8', { fatal: true });

export interface EncodeOptions {
  /** Message id; a random UUID by default. Keep it stable when re-sending the same logical message. */
  readonly id?: string;
  /** Extra headers (names are lower-cased). `sy-*` and `content-type` are Switchyard's and win. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly correlationId?: string | undefined;
  readonly causationId?: string | undefined;
  /** Producer timestamp, ms since the epoch; `clock.now()` by default. */
  readonly timestamp?: number;
  readonly delayMs?: number;
  readonly deduplicationId?: string;
  readonly clock: Clock;
}

/** Validates `payload` against the contract's schema and encodes it; invalid -> SWITCHYARD_VALIDATION. */
export async function encodeMessage<C extends AnyContract>(
  contract: C,
  payload: PayloadOf<C>,
  options: EncodeOptions,
): Promise<OutgoingMessage> {
  const encoded = encodeMessageSync(contract, payload, options);
  return encoded instanceof Promise ? encoded : Promise.resolve(encoded);
}

/**
 * As `encodeMessage`, without a promise when the schema validates synchronously (most do): a
 * batch of thousands then costs no microtask per message. Throws where `encodeMessage` rejects.
 */
export function encodeMessageSync<C extends AnyContract>(
  contract: C,
  payload: PayloadOf<C>,
  options: EncodeOptions,
): OutgoingMessage | Promise<OutgoingMessage> {
  const result = contract.schema['~standard'].validate(payload);
  if (result instanceof Promise) return result.then((settled) => encodeValidated(contract, payload, settled, options));
  return encodeValidated(contract, payload, result, options);
}

function encodeValidated<C extends AnyContract>(
  contract: C,
  payload: PayloadOf<C>,
  result: StandardSchemaV1.Result<unknown>,
  options: EncodeOptions,
): OutgoingMessage {
  if (result.issues) throw validationError(contract.name, result.issues);
  let body: string | undefined;
  try {
    body = JSON.stringify(payload);
  } catch (cause) {
    throw new SwitchyardError('SWITCHYARD_VALIDATION', `payload of '${contract.name}' cannot be encoded as JSON`, {
      cause,
      retryable: false,
    });
  }
  if (body === undefined)
    throw new SwitchyardError('SWITCHYARD_VALIDATION', `payload of '${contract.name}' has no JSON form`, {
      retryable: false,
    });

  const id = options.id ?? randomUUID();
  const key = contract.key(payload);
  const timestamp = options.timestamp ?? options.clock.now();
  const headers: Record<string, string> = {};
  const extra = options.headers;
  if (extra !== undefined) for (const name in extra) headers[name.toLowerCase()] = extra[name]!;
  headers[WireHeaders.id] = id;
  headers[WireHeaders.type] = contract.name;
  headers[WireHeaders.key] = key;
  headers[WireHeaders.timestamp] = String(timestamp);
  headers[WireHeaders.schemaVersion] = String(contract.schemaVersion);
  headers[WireHeaders.contentType] = JSON_CONTENT_TYPE;
  // Caller headers must not forge the ids (a delete only when there were any: it is a runtime call).
  if (options.correlationId !== undefined) headers[WireHeaders.correlationId] = options.correlationId;
  else if (extra !== undefined) delete headers[WireHeaders.correlationId];
  if (options.causationId !== undefined) headers[WireHeaders.causationId] = options.causationId;
  else if (extra !== undefined) delete headers[WireHeaders.causationId];

  // Optional fields set only when given (absent, not undefined), without a spread per message.
  const message: { -readonly [K in keyof OutgoingMessage]: OutgoingMessage[K] } = {
    id,
    key,
    // A Buffer from Node's shared pool: TextEncoder.encode would allocate an ArrayBuffer (a malloc'd
    // backing store V8 must track and sweep) for every message.
    body: Buffer.from(body, 'utf8'),
    headers,
    timestamp,
  };
  if (options.delayMs !== undefined) message.delayMs = options.delayMs;
  if (options.deduplicationId !== undefined) message.deduplicationId = options.deduplicationId;
  return message;
}

/** How a consumer maps a raw message to a contract. */
export interface TypeResolver {
  /** The contract for a type name, or undefined when the consumer does not know it. */
  contract(type: string): AnyContract | undefined;
  /** For messages without `sy-type`: the consumer's own detection (e.g. from a field or a header). */
  readonly resolveType?: ((raw: RawMessage) => string | undefined) | undefined;
  /** For messages nothing else names: the consumer's only contract, when it has exactly one handler. */
  readonly fallback?: AnyContract | undefined;
}

export type DecodeResult =
  | { readonly ok: true; readonly envelope: Envelope<unknown>; readonly contract: AnyContract }
  | {
      readonly ok: false;
      readonly reason: 'decode' | 'unknown-type';
      readonly error: SwitchyardError;
      /** The type, when one was named but not known. */
      readonly type: string | undefined;
    };

/**
 * Turns a raw message into an envelope whose payload is parsed but NOT yet validated (the pipeline
 * validates it, so a failure is traced and dead-lettered like any other).
 */
export function decodeRawMessage(raw: RawMessage, resolve: TypeResolver, attempt = 1): DecodeResult {
  const h = raw.headers;
  const named = h[WireHeaders.type];
  const transportProblem = h[WireHeaders.decodeError];
  if (transportProblem !== undefined)
    return decodeFailure(`transport could not decode the message: ${transportProblem}`, named);
  if (raw.body === null) return decodeFailure('message has no body (tombstone)', named);
  const contentType = h[WireHeaders.contentType];
  if (contentType !== undefined && contentType !== JSON_CONTENT_TYPE && !/json/i.test(contentType))
    return decodeFailure(`unsupported content-type '${contentType}' (expected application/json)`, named);
  let payload: unknown;
  try {
    payload = JSON.parse(decoder.decode(raw.body));
  } catch (cause) {
    return decodeFailure('message body is not UTF-8 JSON', named, cause);
  }

  let type = named;
  if (type === undefined && resolve.resolveType) {
    try {
      type = resolve.resolveType(raw);
    } catch (cause) {
      return decodeFailure(`resolveType threw for message ${fallbackId(raw.source)}`, undefined, cause);
    }
  }
  const contract = type === undefined ? resolve.fallback : resolve.contract(type);
  if (!contract) {
    return {
      ok: false,
      reason: 'unknown-type',
      type,
      error: new SwitchyardError(
        'SWITCHYARD_UNKNOWN_TYPE',
        type === undefined
          ? 'message names no type (no sy-type header, resolveType gave none, and the consumer has several handlers)'
          : `no handler for message type '${type}'`,
        { retryable: false, details: { type } },
      ),
    };
  }

  const timestamp = Number(h[WireHeaders.timestamp]);
  const schemaVersion = Number.parseInt(h[WireHeaders.schemaVersion] ?? '', 10);
  const traceparent = h[WireHeaders.traceparent];
  const tracestate = h[WireHeaders.tracestate];
  const envelope: Envelope<unknown> = {
    id: h[WireHeaders.id] ?? fallbackId(raw.source),
    type: contract.name,
    key: h[WireHeaders.key] ?? raw.key ?? '',
    payload,
    headers: raw.headers,
    timestamp: h[WireHeaders.timestamp] !== undefined && Number.isFinite(timestamp) ? timestamp : raw.timestamp,
    attempt,
    correlationId: h[WireHeaders.correlationId],
    causationId: h[WireHeaders.causationId],
    traceContext: traceContextOf(traceparent, tracestate),
    source: raw.source,
    schemaVersion: Number.isFinite(schemaVersion) ? schemaVersion : undefined,
  };
  return { ok: true, envelope, contract };
}

/** The W3C headers as the envelope carries them: only those present (built per message, without spreads). */
function traceContextOf(traceparent: string | undefined, tracestate: string | undefined): TraceContextCarrier {
  if (traceparent === undefined) return tracestate === undefined ? {} : { tracestate };
  return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
}

/** The transport position as an id, for messages that carry no `sy-id`. */
export function fallbackId(source: SourcePosition): string {
  return source.kind === 'log' ? `${source.topic}/${source.partition}/${source.offset}` : source.messageId;
}

export function validationError(type: string, issues: ReadonlyArray<StandardSchemaV1.Issue>): SwitchyardError {
  const listed = issues
    .slice(0, 5)
    .map((issue) => {
      const path = (issue.path ?? [])
        .map((segment) => String(typeof segment === 'object' ? segment.key : segment))
        .join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
  const more = issues.length > 5 ? ` (and ${issues.length - 5} more)` : '';
  return new SwitchyardError('SWITCHYARD_VALIDATION', `invalid '${type}' payload: ${listed}${more}`, {
    retryable: false,
    details: { type, issues: issues.map((issue) => ({ message: issue.message, path: issue.path })) },
  });
}

function decodeFailure(message: string, type: string | undefined, cause?: unknown): DecodeResult {
  return {
    ok: false,
    reason: 'decode',
    type,
    error: new SwitchyardError('SWITCHYARD_DECODE', message, { cause, retryable: false }),
  };
}
