// The shared transport conformance suite through SNS: published to a topic, consumed from the SQS
// queue subscribed to it (SNS envelope, raw delivery off), on moto.

import { DeleteTopicCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteQueueCommand } from '@aws-sdk/client-sqs';
import { SqsTransport } from '@switchyard/sqs';
import { describeTransportConformance, type TransportConformanceFixture, uniqueName } from '@switchyard/testing';
import { ensureTopic, SnsTransport, subscribeQueue } from '../../src/index.js';
import { motoClients } from '../support/moto.js';

const sqsOptions = { visibilityTimeoutS: 5, depthIntervalMs: 0 } as const;

async function fixture(): Promise<TransportConformanceFixture> {
  const { sns, sqs } = motoClients();
  const queues: string[] = [];
  const topics: string[] = [];
  const make = () => new SnsTransport({ client: sns, consumeWith: new SqsTransport({ client: sqs, ...sqsOptions }) });
  const createQueue = async (name: string) => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl as string;
    queues.push(url);
    return url;
  };
  return {
    transport: make(),
    createTransport: async () => make(),
    async createDestination(_kind, options = {}) {
      const name = uniqueName('conformance');
      // Dead letters go straight to a queue (the consuming SQS transport writes them).
      if (options.purpose === 'dead-letter') {
        await createQueue(name);
        return name;
      }
      const { topicArn } = await ensureTopic(sns, { name });
      topics.push(topicArn);
      const queueUrl = await createQueue(`${name}-q`);
      await subscribeQueue(sns, sqs, { topicArn, queueUrl, raw: false });
      const leaseS = options.leaseMs === undefined ? undefined : Math.max(1, Math.ceil(options.leaseMs / 1000));
      return {
        publish: topicArn,
        subscribe: `${name}-q`,
        ...(leaseS === undefined
          ? {}
          : { subscriptionOptions: { visibilityTimeoutS: leaseS, heartbeatIntervalMs: false } }),
      };
    },
    async cleanup() {
      await Promise.allSettled(queues.map((QueueUrl) => sqs.send(new DeleteQueueCommand({ QueueUrl }))));
      await Promise.allSettled(topics.map((TopicArn) => sns.send(new DeleteTopicCommand({ TopicArn }))));
    },
  };
}

describeTransportConformance('SNS topic to SQS queue on moto', fixture, {
  subscriptionOptions: { waitTimeSeconds: 1 },
  // moto can serve one message to two concurrent receives (see the SQS README).
  serverDoubleReceives: true,
});
