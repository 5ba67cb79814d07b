// Names for throwaway topics, queues and consumer groups. One name must be valid everywhere a test
// may use it: Kafka topics ([A-Za-z0-9._-], up to 249; '.' and '_' collide in metric names, so we
// avoid '.'), SQS queues ([A-Za-z0-9_-], up to 80, FIFO ones ending in `.fifo`), SNS topics
// ([A-Za-z0-9_-], up to 256) and consumer groups (any string). So: [A-Za-z0-9_-] and at most 80.

import { randomBytes } from 'node:crypto';
import {
  InvalidOptionError,
  isOptionObject,
  optionKindText,
  optionValueText,
  refuseUnknownKeys,
} from '@switchyard/core';

/** SQS caps queue names at 80 characters; the strictest of the brokers we name things on. */
export const MAX_NAME_LENGTH = 80;
const FIFO_SUFFIX = '.fifo';
const SUFFIX_LENGTH = 12;
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

export interface UniqueNameOptions {
  /** Cap on the whole name (default and maximum: 80, the SQS limit). */
  readonly maxLength?: number;
}

const OPTION_KEYS: readonly (keyof UniqueNameOptions)[] = ['maxLength'];

/** 12 base-36 characters from the OS's CSPRNG: about 62 bits, so parallel test runs never collide. */
function randomSuffix(): string {
  const bytes = randomBytes(SUFFIX_LENGTH);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte % ALPHABET.length];
  return out;
}

function sanitizePrefix(prefix: string): string {
  return prefix
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * `${prefix}-${random}`, safe as a Kafka topic, SQS queue, SNS topic and consumer group name. The
 * prefix is sanitised (anything outside [A-Za-z0-9_-] becomes '-') and shortened so the whole name
 * fits `maxLength`; the random part is never shortened.
 */
export function uniqueName(prefix: string, options: UniqueNameOptions = {}): string {
  if (!isOptionObject(options))
    throw new InvalidOptionError(
      'options',
      `must be an options object, got ${optionKindText(options)}`,
      'pass e.g. { maxLength: 40 }, or leave it out for the defaults',
    );
  refuseUnknownKeys(options, OPTION_KEYS, 'a uniqueName', (key) => `uniqueName.${key}`);
  const maxLength = options.maxLength ?? MAX_NAME_LENGTH;
  if (!Number.isInteger(maxLength) || maxLength < SUFFIX_LENGTH + 2 || maxLength > MAX_NAME_LENGTH)
    throw new InvalidOptionError(
      'uniqueName.maxLength',
      `must be an integer between ${SUFFIX_LENGTH + 2} and ${MAX_NAME_LENGTH}, got ${optionValueText(maxLength)}`,
      'leave it out to use the SQS limit of 80',
    );
  if (typeof prefix !== 'string')
    throw new InvalidOptionError('uniqueName.prefix', 'must be a string', "pass a short label such as 'orders'");
  const base = sanitizePrefix(prefix) || 'sy';
  const room = maxLength - SUFFIX_LENGTH - 1;
  return `${base.slice(0, room).replace(/-+$/, '') || 'sy'}-${randomSuffix()}`;
}

/** A unique SQS FIFO queue / SNS FIFO topic name: `${prefix}-${random}.fifo`, 80 characters at most. */
export function fifoName(prefix: string): string {
  return `${uniqueName(prefix, { maxLength: MAX_NAME_LENGTH - FIFO_SUFFIX.length })}${FIFO_SUFFIX}`;
}
