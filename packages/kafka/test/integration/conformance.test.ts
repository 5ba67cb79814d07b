// The shared transport conformance suite against KafkaTransport on a real broker, once per retry
// mode (blocking declares no delayed retry; retry topics do, and run the redelivery scenarios).

import { describeTransportConformance, TestResources } from '@switchyard/testing';
import { KafkaAdmin, KafkaTransport, type KafkaTransportOptions } from '../../src/index.js';
import { kafkaEndpoint } from './support/kafka.js';

function factory(options: Partial<KafkaTransportOptions>) {
  return async () => {
    const { brokers } = await kafkaEndpoint();
    const resources = new TestResources();
    const admin = new KafkaAdmin({ brokers, clientId: 'conformance-admin' });
    const topics: string[] = [];
    const make = () =>
      new KafkaTransport({
        brokers,
        clientId: 'conformance',
        consumer: { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, maxWaitTimeMs: 200, commitIntervalMs: 200 },
        producer: { lingerMs: 0 },
        ...options,
      });
    return {
      transport: make(),
      createTransport: async () => make(),
      async createDestination(_kind: 'topic' | 'queue', destination: { partitions?: number } = {}) {
        const topic = resources.name('conf');
        await admin.createTopics([{ topic, partitions: destination.partitions ?? 1 }]);
        topics.push(topic);
        return topic;
      },
      async cleanup() {
        // The topics and what the transport derived from them (retry and dead-letter topics).
        const derived = (await admin.listTopics()).filter((t) =>
          topics.some((base) => t === base || t.startsWith(`${base}.`)),
        );
        if (derived.length > 0) await admin.deleteTopics(derived).catch(() => {});
        await admin.close();
        await resources.cleanup();
      },
    };
  };
}

describeTransportConformance('kafka (blocking retries)', factory({}));
describeTransportConformance('kafka (retry topics)', factory({ retry: { mode: 'retry-topics', topics: 2 } }));
