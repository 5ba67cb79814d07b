// SQS and SNS bodies are Unicode text, restricted to the XML character range. A body that is not
// such text (protobuf, Avro, anything binary) travels base64-encoded with `sy-body-encoding: base64`,
// and the consumer gets its bytes back unchanged. Text bodies travel as they are. SQS has no empty
// body: a dead letter of one (an SNS notification with an empty Message) travels as a single space
// with `sy-body-encoding: empty`, so it is read back as zero bytes rather than as ' '.

import { SwitchyardError } from '@switchyard/core';

export const BODY_ENCODING_HEADER = 'sy-body-encoding';
/** The text standing for an empty body (with `sy-body-encoding: empty`): SQS bodies are never empty. */
export const EMPTY_BODY_TEXT = ' ';

// ignoreBOM keeps a leading U+FEFF as a character, so the bytes survive the round trip.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();
// Characters SQS refuses (AWS: "#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF").
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control range is what SQS refuses
const REFUSED = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

export interface EncodedBody {
  readonly text: string;
  /** Set when the body travels base64-encoded: merge into the message headers. */
  readonly headers: Readonly<Record<string, string>>;
}

export function encodeBody(bytes: Uint8Array): EncodedBody {
  if (bytes.byteLength === 0)
    throw new SwitchyardError('SWITCHYARD_PUBLISH', 'SQS and SNS refuse an empty message body', { retryable: false });
  let text: string | undefined;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    text = undefined;
  }
  if (text !== undefined && !REFUSED.test(text)) return { text, headers: {} };
  return { text: Buffer.from(bytes).toString('base64'), headers: { [BODY_ENCODING_HEADER]: 'base64' } };
}

export interface DecodedBody {
  readonly bytes: Uint8Array;
  /** What was wrong, when the declared encoding could not be applied (the text is passed on as it is). */
  readonly problem: string | undefined;
}

/**
 * The body's bytes; removes the encoding header from `headers` once it has been applied. An encoding
 * that cannot be applied stays in the headers: the message is dead-lettered as it came (the header
 * is part of it), so a redrive sends the original, not the text reinterpreted without its encoding.
 */
export function decodeBody(text: string, headers: Record<string, string>): DecodedBody {
  const encoding = headers[BODY_ENCODING_HEADER];
  if (encoding === undefined) return { bytes: encoder.encode(text), problem: undefined };
  if (encoding === 'base64' && /^[A-Za-z0-9+/]*={0,2}$/.test(text) && text.length % 4 === 0) {
    delete headers[BODY_ENCODING_HEADER];
    return { bytes: new Uint8Array(Buffer.from(text, 'base64')), problem: undefined };
  }
  if (encoding === 'empty' && text === EMPTY_BODY_TEXT) {
    delete headers[BODY_ENCODING_HEADER];
    return { bytes: new Uint8Array(0), problem: undefined };
  }
  return {
    bytes: encoder.encode(text),
    problem:
      encoding === 'base64'
        ? `header ${BODY_ENCODING_HEADER} says base64 but the body is not base64`
        : encoding === 'empty'
          ? `header ${BODY_ENCODING_HEADER} says empty but the body is not a single space`
          : `unknown ${BODY_ENCODING_HEADER} '${encoding}'`,
  };
}
