// SNS and its SQS queues on moto (SNS delivers only to queues in its own server), from the
// environment the test orchestrator provides.

import { DeleteTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { awsClientConfig, fifoName, type TestResources, testEndpoints } from '@switchyard/testing';
import { ensureTopic } from '../../src/index.js';

export interface RecordedCall {
  readonly command: string;
  readonly input: Record<string, any>;
}

function record(
  client: { middlewareStack: SNSClient['middlewareStack'] | SQSClient['middlewareStack'] },
  calls: RecordedCall[],
) {
  (client.middlewareStack as SNSClient['middlewareStack']).add(
    (next, context) => async (args) => {
      calls.push({
        command: (context.commandName ?? '').replace(/Command$/, ''),
        input: args.input as Record<string, any>,
      });
      return next(args);
    },
    { step: 'initialize', name: 'recordCalls' },
  );
}

export function motoClients(): { sns: SNSClient; sqs: SQSClient; calls: RecordedCall[] } {
  const endpoints = testEndpoints();
  if (!endpoints.sns || !endpoints.sqsMoto)
    throw new Error(
      'no sns/sqsMoto endpoints in SWITCHYARD_ENDPOINTS: run the suite through npm test or npm run env:up',
    );
  const calls: RecordedCall[] = [];
  const sns = new SNSClient(awsClientConfig(endpoints.sns));
  const sqs = new SQSClient(awsClientConfig(endpoints.sqsMoto));
  record(sns, calls);
  record(sqs, calls);
  return { sns, sqs, calls };
}

export async function topic(sns: SNSClient, resources: TestResources, prefix: string, fifo = false): Promise<string> {
  const { topicArn } = await ensureTopic(sns, { name: fifo ? fifoName(prefix) : resources.name(prefix), fifo });
  resources.track(() => sns.send(new DeleteTopicCommand({ TopicArn: topicArn })).catch(() => {}), `delete ${topicArn}`);
  return topicArn;
}

export async function queue(
  sqs: SQSClient,
  resources: TestResources,
  prefix: string,
  fifo = false,
): Promise<{ name: string; url: string }> {
  const name = fifo ? fifoName(prefix) : resources.name(prefix);
  const url = (
    await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: fifo ? { FifoQueue: 'true' } : {} }))
  ).QueueUrl as string;
  resources.track(() => sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => {}), `delete ${name}`);
  return { name, url };
}
