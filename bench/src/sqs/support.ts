// SQS plumbing shared by the SQS pairs: clients that count their calls, fresh queues, seeding in
// Switchyard's wire format (through SqsTransport.publish, i.e. SendMessageBatch).

import { CreateQueueCommand, DeleteQueueCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SqsTransport } from '@switchyard/sqs';
import { awsClientConfig } from '@switchyard/testing/services';
import { ProcessOrder, wireMessage } from '../contracts.js';
import { within } from '../deadline.js';
import { uniqueName } from '../kafka/client.js';

export type SqsEndpoint = Parameters<typeof awsClientConfig>[0];

/** Calls made through one client, by command, and the entries of its DeleteMessageBatch calls. */
export interface CallCounts {
  readonly calls: Map<string, number>;
  deletedEntries: number;
}

/** An SQS client whose every command is counted (an `initialize` middleware sees each call once). */
export function countingClient(endpoint: SqsEndpoint): { client: SQSClient; counts: CallCounts } {
  const client = new SQSClient({ ...awsClientConfig(endpoint), maxAttempts: 3 });
  const counts: CallCounts = { calls: new Map(), deletedEntries: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? 'unknown';
      counts.calls.set(name, (counts.calls.get(name) ?? 0) + 1);
      if (name === 'DeleteMessageBatchCommand')
        counts.deletedEntries += (args.input as { Entries?: unknown[] }).Entries?.length ?? 0;
      return next(args);
    },
    { step: 'initialize', name: 'benchCallCounter' },
  );
  return { client, counts };
}

export class Queues {
  readonly #client: SQSClient;
  readonly #created = new Map<string, string>();

  constructor(client: SQSClient) {
    this.#client = client;
  }

  async create(prefix: string): Promise<{ name: string; url: string }> {
    const name = uniqueName(prefix);
    const r = await within(
      this.#client.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '30' } })),
      30_000,
      `create queue ${name}`,
    );
    const url =
      r.QueueUrl ??
      (await this.#client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl ??
      (() => {
        throw new Error(`no URL for queue ${name}`);
      })();
    this.#created.set(name, url);
    return { name, url };
  }

  async remove(...names: string[]): Promise<void> {
    for (const name of names) {
      const url = this.#created.get(name);
      if (url === undefined) continue;
      this.#created.delete(name);
      await within(this.#client.send(new DeleteQueueCommand({ QueueUrl: url })), 30_000, `delete queue ${name}`).catch(
        () => {},
      );
    }
  }

  async close(): Promise<void> {
    await this.remove(...this.#created.keys());
  }
}

/** Writes the same `count` Switchyard-format messages to every queue in `names`. */
export async function seedQueues(client: SQSClient, names: readonly string[], count: number): Promise<void> {
  const transport = new SqsTransport({ client, publishConcurrency: 8 });
  try {
    const chunk = 500;
    for (let start = 0; start < count; start += chunk) {
      const messages = await Promise.all(
        Array.from({ length: Math.min(chunk, count - start) }, (_, k) =>
          wireMessage(start + k, undefined, ProcessOrder),
        ),
      );
      for (const name of names) await within(transport.publish(name, messages), 120_000, `seed queue ${name}`);
    }
  } finally {
    await transport.close();
  }
}
