// The shared transport conformance suite against SQS: standard and FIFO queues, on ElasticMQ and moto.

import { CreateQueueCommand, DeleteQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  awsClientConfig,
  describeTransportConformance,
  fifoName,
  type TransportConformanceFixture,
  uniqueName,
} from '@switchyard/testing';
import { SqsTransport, type SqsTransportOptions } from '../../src/index.js';
import { endpointOf, SQS_SERVERS } from '../support/sqs-servers.js';

const base = { visibilityTimeoutS: 5, depthIntervalMs: 0 } as const;

function fixture(service: 'sqs' | 'sqsMoto', fifo: boolean) {
  return async (): Promise<TransportConformanceFixture> => {
    const client = new SQSClient(awsClientConfig(endpointOf(service)));
    const created: string[] = [];
    const make = () => new SqsTransport({ client, fifo, ...base });
    return {
      transport: make(),
      createTransport: async () => make(),
      async createDestination(_kind, options = {}) {
        const name = options.fifo ? fifoName('conformance') : uniqueName('conformance');
        const url = (
          await client.send(
            new CreateQueueCommand({ QueueName: name, Attributes: options.fifo ? { FifoQueue: 'true' } : {} }),
          )
        ).QueueUrl as string;
        created.push(url);
        // The transport takes its lease per receive: a destination's lease is a subscription option,
        // with the heartbeat off so that it can lapse.
        const leaseS = options.leaseMs === undefined ? undefined : Math.max(1, Math.ceil(options.leaseMs / 1000));
        return {
          publish: name,
          subscribe: name,
          ...(leaseS === undefined
            ? {}
            : { subscriptionOptions: { visibilityTimeoutS: leaseS, heartbeatIntervalMs: false } }),
        };
      },
      async cleanup() {
        await Promise.allSettled(created.map((QueueUrl) => client.send(new DeleteQueueCommand({ QueueUrl }))));
      },
    };
  };
}

const capabilitiesOf = (options: Partial<SqsTransportOptions>) =>
  new SqsTransport({ client: new SQSClient({ region: 'us-east-1' }), ...base, ...options }).capabilities;

for (const { name, service } of SQS_SERVERS) {
  // moto can serve one message to two concurrent receives (see the README); ElasticMQ never may.
  const serverDoubleReceives = service === 'sqsMoto';
  describeTransportConformance(`SQS standard queue on ${name}`, fixture(service, false), {
    capabilities: capabilitiesOf({}),
    subscriptionOptions: { waitTimeSeconds: 1 },
    serverDoubleReceives,
  });
  describeTransportConformance(`SQS FIFO queue on ${name}`, fixture(service, true), {
    capabilities: capabilitiesOf({ fifo: true }),
    subscriptionOptions: { waitTimeSeconds: 1 },
    serverDoubleReceives,
  });
}
