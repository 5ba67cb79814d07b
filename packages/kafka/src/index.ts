export type {
  KafkaAdminOptions,
  PartitionLag,
  ReplayPlan,
  ReplayPosition,
  ReplayRequest,
  TopicDefinition,
} from './admin.js';
export { KafkaAdmin } from './admin.js';
export type { KeySequencerOptions } from './composite-key.js';
export { compositeKey, KeySequencer } from './composite-key.js';
export type { DeadLetterMessageOptions } from './dead-letter-message.js';
export { deadLetterMessage, SpringDeadLetterHeaders } from './dead-letter-message.js';
export type {
  DeadLetterDepth,
  InspectDeadLettersOptions,
  InspectFrom,
  KafkaDeadLetter,
  RedriveDeadLettersOptions,
  RedriveResult,
  RedriveSkipReason,
} from './dead-letter-tools.js';
export { redriveGroupName } from './dead-letter-tools.js';
export type {
  BatchControls,
  BatchHandler,
  DriverAdmin,
  DriverBatch,
  DriverCompression,
  DriverConsumer,
  DriverConsumerEvent,
  DriverConsumerOptions,
  DriverGroupDescription,
  DriverHeaderValue,
  DriverMessage,
  DriverPartitionOffsets,
  DriverProducer,
  DriverProducerOptions,
  DriverRecord,
  DriverRecordMetadata,
  DriverSendOptions,
  DriverTopicMessages,
  DriverTopicSpec,
  DriverTransaction,
  KafkaDriver,
  TopicPartitionOffset,
  TopicPartitions,
} from './driver/driver.js';
export type { KafkajsDriverOptions } from './driver/kafkajs.js';
export { KafkajsDriver } from './driver/kafkajs.js';
export type { KafkaTransportEvents, PauseReason } from './events.js';
export type { HotPartition, HotPartitionOptions, PartitionSample } from './hot-partitions.js';
export { detectHotPartitions, hotPartitionDefaults } from './hot-partitions.js';
export type {
  KafkaConsumerOptions,
  KafkaDeadLetterOptions,
  KafkaProducerOptions,
  KafkaRetryOptions,
  KafkaSubscriptionOptions,
  KafkaTransportOptions,
  ParkSameKeyOptions,
  RetryMode,
} from './options.js';
export {
  kafkaConsumerDefaults,
  kafkaDeadLetterDefaults,
  kafkaProducerDefaults,
  kafkaRetryDefaults,
} from './options.js';
export { KafkaHeaders } from './records.js';
export { deadLetterTopicName, parseRetryTopic, retryTopicName } from './topic-names.js';
export { KafkaTransport } from './transport.js';
