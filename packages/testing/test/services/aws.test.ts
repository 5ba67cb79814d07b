import { randomUUID } from 'node:crypto';
import { CreateTopicCommand, PublishCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsEndpoint, acquireServices, awsClientConfig, type RunningServices } from '../../src/services/index.js';

// ElasticMQ (sqs) and moto (sns + sqsMoto), started once for the file or taken from SWITCHYARD_ENDPOINTS.
let services: RunningServices;

beforeAll(async () => {
  services = await acquireServices(['sqs', 'sns', 'sqsMoto']);
});

afterAll(async () => {
  await services?.stop();
});

function endpoint(name: 'sqs' | 'sns' | 'sqsMoto'): AwsEndpoint {
  const e = services.endpoints[name];
  if (!e) throw new Error(`no ${name} endpoint`);
  return e;
}

async function receiveOne(sqs: SQSClient, queueUrl: string): Promise<string> {
  // Long polling: the call returns as soon as a message is there, or empty after 5 s.
  for (let attempt = 0; attempt < 4; attempt++) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 5, MaxNumberOfMessages: 1 }),
    );
    const body = Messages?.[0]?.Body;
    if (body !== undefined) return body;
  }
  throw new Error(`nothing arrived on ${queueUrl}`);
}

describe.each(['sqs', 'sqsMoto'] as const)('SQS through %s', (name) => {
  it('sends and receives a message with AWS SDK v3', async () => {
    const sqs = new SQSClient(awsClientConfig(endpoint(name)));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `services-${randomUUID()}` }));
    if (!QueueUrl) throw new Error('no queue url');
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' }));

    expect(await receiveOne(sqs, QueueUrl)).toBe('hello');
    sqs.destroy();
  });

  it('reports queue ARNs in the configured region and account', async () => {
    const e = endpoint(name);
    const sqs = new SQSClient(awsClientConfig(e));
    const queueName = `services-arn-${randomUUID()}`;
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: queueName }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));

    expect(Attributes?.QueueArn).toBe(`arn:aws:sqs:${e.region}:${e.accountId}:${queueName}`);
    sqs.destroy();
  });
});

describe('SNS through moto', () => {
  it('delivers a published message to a subscribed queue of the same server', async () => {
    const sns = new SNSClient(awsClientConfig(endpoint('sns')));
    const sqs = new SQSClient(awsClientConfig(endpoint('sqsMoto')));
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: `services-${randomUUID()}` }));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `services-sub-${randomUUID()}` }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    if (!TopicArn || !QueueUrl || !Attributes?.QueueArn) throw new Error('setup failed');
    await sns.send(
      new SubscribeCommand({
        TopicArn,
        Protocol: 'sqs',
        Endpoint: Attributes.QueueArn,
        Attributes: { RawMessageDelivery: 'true' },
      }),
    );

    await sns.send(new PublishCommand({ TopicArn, Message: '{"order":1}' }));

    expect(await receiveOne(sqs, QueueUrl)).toBe('{"order":1}');
    sns.destroy();
    sqs.destroy();
  });

  it('wraps the message in the SNS envelope without raw delivery', async () => {
    const sns = new SNSClient(awsClientConfig(endpoint('sns')));
    const sqs = new SQSClient(awsClientConfig(endpoint('sqsMoto')));
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: `services-env-${randomUUID()}` }));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `services-env-${randomUUID()}` }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    if (!TopicArn || !QueueUrl || !Attributes?.QueueArn) throw new Error('setup failed');
    await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes.QueueArn }));

    await sns.send(new PublishCommand({ TopicArn, Message: 'wrapped' }));

    const envelope = JSON.parse(await receiveOne(sqs, QueueUrl)) as Record<string, unknown>;
    expect(envelope).toMatchObject({ Type: 'Notification', TopicArn, Message: 'wrapped' });
    sns.destroy();
    sqs.destroy();
  });
});
