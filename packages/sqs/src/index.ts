export type { BatchEntryFailure, BatchSender } from './batch-sender.js';
export { batchEntryId, fifoDeduplicationId, isClientFault, sendBatches } from './batch-sender.js';
export type { DecodedBody, EncodedBody } from './body-codec.js';
export { BODY_ENCODING_HEADER, decodeBody, encodeBody } from './body-codec.js';
export type { DeadLetterMessage } from './dead-letter-message.js';
export { buildDeadLetterMessage } from './dead-letter-message.js';
export type {
  InspectDeadLettersOptions,
  SqsDeadLetter,
  SqsRedriveOptions,
  SqsRedriveResult,
} from './dead-letter-tools.js';
export { inspectDeadLetters, redrive } from './dead-letter-tools.js';
export type { AttributeValue, DecodedHeaders } from './message-attributes.js';
export {
  attributesSize,
  decodeAttributes,
  encodeHeaders,
  isValidAttributeName,
  PACKED_HEADERS_ATTRIBUTE,
  unpackHeaders,
  utf8Length,
} from './message-attributes.js';
export type { LeaseSettings, SqsSubscriptionOptions, SqsTransportOptions } from './options.js';
export { SqsLimits, sqsTransportDefaults } from './options.js';
export type { QueueWithDeadLetter, QueueWithDeadLetterOptions } from './provisioning.js';
export { createQueueWithDeadLetter, deadLetterQueueName, ensureQueue } from './provisioning.js';
export { splitBatches } from './publisher.js';
export type { QueueDescription } from './queue-directory.js';
export { queueNameFromArn, queueNameOf } from './queue-directory.js';
export type { SnsEnvelopeResult } from './sns-envelope.js';
export {
  DECODE_ERROR_HEADER,
  SNS_MESSAGE_ID_HEADER,
  SNS_SUBJECT_HEADER,
  SNS_TOPIC_ARN_HEADER,
  unwrapSnsEnvelope,
} from './sns-envelope.js';
export { SqsTransport } from './transport.js';
