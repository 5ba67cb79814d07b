// The SQS servers every integration suite runs against: ElasticMQ and moto, from the environment the
// test orchestrator (or `npm run env:up`) provides. Both must be there: a missing one fails the suite
// with the reason, it is never skipped silently.

import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type AwsEndpoint, awsClientConfig, fifoName, type TestResources, testEndpoints } from '@switchyard/testing';

export interface SqsServer {
  readonly name: 'elasticmq' | 'moto';
  readonly endpoint: AwsEndpoint;
}

/** Both servers, resolved lazily so a missing environment fails inside the tests with its message. */
export const SQS_SERVERS: readonly { readonly name: SqsServer['name']; readonly service: 'sqs' | 'sqsMoto' }[] = [
  { name: 'elasticmq', service: 'sqs' },
  { name: 'moto', service: 'sqsMoto' },
];

export function endpointOf(service: 'sqs' | 'sqsMoto' | 'sns'): AwsEndpoint {
  const endpoint = testEndpoints()[service];
  if (!endpoint)
    throw new Error(
      `no '${service}' endpoint in SWITCHYARD_ENDPOINTS: run the suite through npm test or npm run env:up`,
    );
  return endpoint;
}

export interface RecordedCall {
  readonly command: string;
  readonly input: Record<string, any>;
  readonly output?: Record<string, any>;
}

/** An SQS client whose every command (input and output) is recorded, via an SDK middleware. */
export function recordingClient(endpoint: AwsEndpoint): { client: SQSClient; calls: RecordedCall[] } {
  const client = new SQSClient({ ...awsClientConfig(endpoint), maxAttempts: 3 });
  const calls: RecordedCall[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const call: { command: string; input: Record<string, any>; output?: Record<string, any> } = {
        command: (context.commandName ?? 'unknown').replace(/Command$/, ''),
        input: args.input as Record<string, any>,
      };
      calls.push(call);
      const result = await next(args);
      call.output = result.output as Record<string, any>;
      return result;
    },
    { step: 'initialize', name: 'recordCalls' },
  );
  return { client, calls };
}

export function callsOf(calls: readonly RecordedCall[], command: string): RecordedCall[] {
  return calls.filter((c) => c.command === command);
}

/** A throwaway queue, deleted by `resources.cleanup()`. */
export async function createQueue(
  client: SQSClient,
  resources: TestResources,
  prefix: string,
  attributes: Record<string, string> = {},
): Promise<{ name: string; url: string; arn: string }> {
  const fifo = attributes.FifoQueue === 'true';
  const name = fifo ? fifoName(prefix) : resources.name(prefix);
  const url = (await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes })))
    .QueueUrl as string;
  resources.track(() => client.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => {}), `delete ${name}`);
  const arn = (await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] })))
    .Attributes?.QueueArn as string;
  return { name, url, arn };
}

/** Visible + in flight + delayed, as the server reports them. */
export async function queueCounts(
  client: SQSClient,
  url: string,
): Promise<{ visible: number; inFlight: number; delayed: number }> {
  const a =
    (
      await client.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: [
            'ApproximateNumberOfMessages',
            'ApproximateNumberOfMessagesNotVisible',
            'ApproximateNumberOfMessagesDelayed',
          ],
        }),
      )
    ).Attributes ?? {};
  return {
    visible: Number(a.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}
