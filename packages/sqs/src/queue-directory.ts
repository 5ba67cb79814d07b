// Queue names -> URLs (GetQueueUrl, cached) and the few queue attributes the transport needs.

import { GetQueueAttributesCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { SwitchyardError } from '@switchyard/core';

export interface QueueDescription {
  readonly url: string;
  readonly name: string;
  readonly arn: string | undefined;
  readonly fifo: boolean;
  readonly visibilityTimeoutS: number | undefined;
  /** The queue's native dead-letter queue (RedrivePolicy), if any. */
  readonly redrive: { readonly deadLetterTargetArn: string; readonly maxReceiveCount: number } | undefined;
}

export function isQueueUrl(value: string): boolean {
  return /^https?:\/\//i.test(value);
}

/** The last path segment of a queue URL, or the name itself. */
export function queueNameOf(nameOrUrl: string): string {
  if (!isQueueUrl(nameOrUrl)) return nameOrUrl;
  const path = new URL(nameOrUrl).pathname.replace(/\/+$/, '');
  return path.slice(path.lastIndexOf('/') + 1);
}

/** `arn:aws:sqs:region:account:name` -> name. */
export function queueNameFromArn(arn: string): string {
  return arn.slice(arn.lastIndexOf(':') + 1);
}

export function isFifoName(nameOrUrl: string): boolean {
  return queueNameOf(nameOrUrl).endsWith('.fifo');
}

export function awsErrorName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { name?: unknown; Code?: unknown; code?: unknown };
  if (typeof e.Code === 'string') return e.Code;
  return typeof e.name === 'string' ? e.name : typeof e.code === 'string' ? e.code : undefined;
}

export function isQueueMissing(error: unknown): boolean {
  const name = awsErrorName(error) ?? '';
  return (
    name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue' || name === 'NonExistentQueue'
  );
}

/** A failed lookup of a queue: `SWITCHYARD_TRANSPORT`, not retryable when the queue does not exist. */
function lookupError(nameOrUrl: string, error: unknown, failed: string): SwitchyardError {
  const missing = isQueueMissing(error);
  return new SwitchyardError(
    'SWITCHYARD_TRANSPORT',
    missing
      ? `SQS queue '${nameOrUrl}' does not exist: create it first (createQueueWithDeadLetter)`
      : `${failed} SQS queue '${nameOrUrl}'`,
    { cause: error, retryable: !missing, details: { queue: nameOrUrl } },
  );
}

export class QueueDirectory {
  readonly #client: SQSClient;
  readonly #urls = new Map<string, Promise<string>>();

  constructor(client: SQSClient) {
    this.#client = client;
  }

  /** A queue URL for a name (or the URL itself). Failed lookups are not cached. */
  urlFor(nameOrUrl: string): Promise<string> {
    if (isQueueUrl(nameOrUrl)) return Promise.resolve(nameOrUrl);
    let url = this.#urls.get(nameOrUrl);
    if (!url) {
      url = this.#client.send(new GetQueueUrlCommand({ QueueName: nameOrUrl })).then(
        (out) => {
          if (!out.QueueUrl) throw new Error(`GetQueueUrl returned no URL for '${nameOrUrl}'`);
          return out.QueueUrl;
        },
        (error: unknown) => {
          this.#urls.delete(nameOrUrl);
          throw lookupError(nameOrUrl, error, 'could not resolve the URL of');
        },
      );
      this.#urls.set(nameOrUrl, url);
    }
    return url;
  }

  async describe(nameOrUrl: string): Promise<QueueDescription> {
    const url = await this.urlFor(nameOrUrl);
    // A URL resolves without asking SQS: this is where a queue given by URL is found missing.
    const out = await this.#client
      .send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['QueueArn', 'FifoQueue', 'VisibilityTimeout', 'RedrivePolicy'],
        }),
      )
      .catch((error: unknown) => {
        throw lookupError(nameOrUrl, error, 'could not describe');
      });
    const a = out.Attributes ?? {};
    let redrive: QueueDescription['redrive'];
    if (a.RedrivePolicy) {
      try {
        const policy = JSON.parse(a.RedrivePolicy) as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
        if (typeof policy.deadLetterTargetArn === 'string')
          redrive = {
            deadLetterTargetArn: policy.deadLetterTargetArn,
            maxReceiveCount: Number(policy.maxReceiveCount),
          };
      } catch {
        redrive = undefined;
      }
    }
    return {
      url,
      name: queueNameOf(url),
      arn: a.QueueArn,
      fifo: a.FifoQueue === 'true' || isFifoName(url),
      visibilityTimeoutS: a.VisibilityTimeout === undefined ? undefined : Number(a.VisibilityTimeout),
      redrive,
    };
  }
}
