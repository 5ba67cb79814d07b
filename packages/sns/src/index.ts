export type { ResolvedSnsOptions, SnsTransportOptions } from './options.js';
export { SnsLimits } from './options.js';
export type {
  EnsureTopicOptions,
  QueueSubscription,
  SubscribeQueueOptions,
} from './provisioning.js';
export { ensureTopic, queuePolicyStatement, subscribeQueue } from './provisioning.js';
export type { PreparedPublish } from './publisher.js';
export { isFifoTopic, preparePublish, splitPublishBatches } from './publisher.js';
export { isTopicArn, topicNameOf } from './topic-directory.js';
export { SnsTransport, snsPublishOnlyCapabilities } from './transport.js';
