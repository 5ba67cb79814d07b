// Provisioning: a queue with its dead-letter queue and redrive policy, idempotent. A second run with
// the same options makes no change; a run with changed options changes only what differs (SQS
// refuses CreateQueue on an existing name with other attributes, so existing queues are updated
// with SetQueueAttributes instead).

import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type QueueAttributeName,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { InvalidOptionError, optionValueText, SwitchyardError } from '@switchyard/core';
import { SqsLimits } from './options.js';
import { awsErrorName, isQueueMissing } from './queue-directory.js';

export interface QueueWithDeadLetterOptions {
  /** Queue name; `.fifo` is appended for FIFO queues when missing. */
  readonly name: string;
  readonly fifo?: boolean;
  /** Default 30. */
  readonly visibilityTimeoutS?: number;
  /** Receives before SQS moves a message to the DLQ. Default 5. */
  readonly maxReceiveCount?: number;
  /** Default `<name>-dlq` (`<name>-dlq.fifo` for FIFO). */
  readonly deadLetterName?: string;
  /** Retention of the main queue, seconds (60 s – 14 days). Default SQS's (4 days). */
  readonly messageRetentionS?: number;
  /** Retention of the DLQ, seconds. Default 14 days, the maximum, so dead letters outlive their originals. */
  readonly deadLetterRetentionS?: number;
  /** FIFO: deduplicate by a SHA-256 of the body when no deduplication id is sent. */
  readonly contentBasedDeduplication?: boolean;
  /** FIFO high throughput: deduplication and throughput limits per message group. */
  readonly highThroughput?: boolean;
  /** Further attributes for the main queue (e.g. `KmsMasterKeyId`). */
  readonly attributes?: Readonly<Partial<Record<QueueAttributeName, string>>>;
}

export interface QueueWithDeadLetter {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
}

const FOURTEEN_DAYS_S = 1_209_600;

/** Attributes AWS reports for every queue (FIFO ones for every FIFO queue), set or not. */
const ALWAYS_REPORTED: ReadonlySet<string> = new Set([
  'VisibilityTimeout',
  'MessageRetentionPeriod',
  'MaximumMessageSize',
  'DelaySeconds',
  'ReceiveMessageWaitTimeSeconds',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
]);

/**
 * The DLQ name that goes with a queue: `<name>-dlq`, or `<name>-dlq.fifo` for a FIFO queue (SQS names
 * allow a dot only in the `.fifo` suffix, so core's `<name>.dlq` default would be refused).
 */
export function deadLetterQueueName(queueName: string): string {
  const fifo = queueName.endsWith('.fifo');
  const base = queueName.replace(/\.fifo$/, '');
  return fifoName(`${base}-dlq`, fifo);
}

function fifoName(name: string, fifo: boolean): string {
  return fifo && !name.endsWith('.fifo') ? `${name}.fifo` : name;
}

function sameValue(attribute: string, current: string | undefined, wanted: string): boolean {
  if (current === wanted) return true;
  if (current === undefined) return false;
  if (attribute === 'RedrivePolicy' || attribute === 'Policy' || attribute === 'RedriveAllowPolicy') {
    try {
      const a = JSON.parse(current) as Record<string, unknown>;
      const b = JSON.parse(wanted) as Record<string, unknown>;
      // Servers differ on whether maxReceiveCount comes back as a number or a string.
      return JSON.stringify(normalize(a)) === JSON.stringify(normalize(b));
    } catch {
      return false;
    }
  }
  return false;
}

function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, normalize(v)]),
    );
  return typeof value === 'number' ? String(value) : value;
}

/**
 * Makes sure a queue exists with the wanted attributes; returns its URL and ARN. Creates it when
 * missing, otherwise sets only the attributes that differ (none on a second run).
 */
export async function ensureQueue(
  client: SQSClient,
  name: string,
  attributes: Readonly<Record<string, string>>,
): Promise<{ url: string; arn: string; changed: boolean }> {
  let url: string | undefined;
  try {
    url = (await client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (error) {
    if (!isQueueMissing(error)) throw error;
  }
  let changed = false;
  if (!url) {
    try {
      url = (await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl;
      changed = true;
    } catch (error) {
      // Created meanwhile by someone else with other attributes: converge below.
      if (awsErrorName(error) !== 'QueueNameExists' && awsErrorName(error) !== 'QueueAlreadyExists') throw error;
      url = (await client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
    }
  }
  if (!url) throw new SwitchyardError('SWITCHYARD_TRANSPORT', `SQS returned no URL for queue '${name}'`);
  const current =
    (await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};
  if ((current.FifoQueue === 'true') !== (attributes.FifoQueue === 'true'))
    throw new InvalidOptionError(
      'fifo',
      `queue '${name}' exists as a ${current.FifoQueue === 'true' ? 'FIFO' : 'standard'} queue; SQS cannot change that`,
      'use another queue name, or delete the queue first',
    );
  const differing: Record<string, string> = {};
  for (const [attribute, wanted] of Object.entries(attributes)) {
    const have = current[attribute as QueueAttributeName];
    // AWS always reports these; a server that leaves one out (ElasticMQ) cannot be compared, so it
    // is left as created rather than set again on every run.
    if (have === undefined && ALWAYS_REPORTED.has(attribute)) continue;
    if (attribute !== 'FifoQueue' && !sameValue(attribute, have, wanted)) differing[attribute] = wanted;
  }
  if (Object.keys(differing).length > 0) {
    await client.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: differing }));
    changed = true;
  }
  let arn = current.QueueArn;
  if (!arn)
    arn = (await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes
      ?.QueueArn;
  if (!arn) throw new SwitchyardError('SWITCHYARD_TRANSPORT', `SQS returned no ARN for queue '${name}'`);
  return { url, arn, changed };
}

function positiveInteger(option: string, value: number | undefined, min: number, max: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min || value > max))
    throw new InvalidOptionError(
      option,
      `must be an integer from ${min} to ${max}, got ${optionValueText(value)}`,
      `pass a value in range`,
    );
}

/** Creates (or converges) a queue and its DLQ, with a redrive policy after `maxReceiveCount` receives. */
export async function createQueueWithDeadLetter(
  client: SQSClient,
  options: QueueWithDeadLetterOptions,
): Promise<QueueWithDeadLetter> {
  if (typeof options?.name !== 'string' || options.name.length === 0)
    throw new InvalidOptionError('name', 'must be a non-empty queue name', "pass name: 'orders'");
  const fifo = options.fifo ?? options.name.endsWith('.fifo');
  positiveInteger('visibilityTimeoutS', options.visibilityTimeoutS, 0, SqsLimits.maxVisibilitySeconds);
  positiveInteger('maxReceiveCount', options.maxReceiveCount, 1, 1000);
  positiveInteger('messageRetentionS', options.messageRetentionS, 60, FOURTEEN_DAYS_S);
  positiveInteger('deadLetterRetentionS', options.deadLetterRetentionS, 60, FOURTEEN_DAYS_S);
  if (!fifo && (options.contentBasedDeduplication || options.highThroughput))
    throw new InvalidOptionError(
      options.contentBasedDeduplication ? 'contentBasedDeduplication' : 'highThroughput',
      'only applies to FIFO queues',
      'pass fifo: true, or drop the option',
    );
  const name = fifoName(options.name, fifo);
  const dlqName = options.deadLetterName ? fifoName(options.deadLetterName, fifo) : deadLetterQueueName(name);

  const fifoAttributes: Record<string, string> = fifo ? { FifoQueue: 'true' } : {};
  if (fifo && options.contentBasedDeduplication !== undefined)
    fifoAttributes.ContentBasedDeduplication = String(options.contentBasedDeduplication);
  const dlq = await ensureQueue(client, dlqName, {
    ...(fifo ? { FifoQueue: 'true' } : {}),
    MessageRetentionPeriod: String(options.deadLetterRetentionS ?? FOURTEEN_DAYS_S),
  });
  const attributes: Record<string, string> = {
    ...fifoAttributes,
    VisibilityTimeout: String(options.visibilityTimeoutS ?? 30),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: options.maxReceiveCount ?? 5 }),
    ...(options.messageRetentionS === undefined ? {} : { MessageRetentionPeriod: String(options.messageRetentionS) }),
    ...(fifo && options.highThroughput
      ? { DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' }
      : {}),
    ...(options.attributes as Record<string, string> | undefined),
  };
  const queue = await ensureQueue(client, name, attributes);
  return { queueUrl: queue.url, queueArn: queue.arn, dlqUrl: dlq.url, dlqArn: dlq.arn };
}
