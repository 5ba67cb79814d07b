// OpenTelemetry messaging semantic-convention names (v1.3x+, "Development" status), in one place so
// a rename upstream is a one-line change.

export const Attr = {
  system: 'messaging.system',
  destinationName: 'messaging.destination.name',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  consumerGroup: 'messaging.consumer.group.name',
  messageId: 'messaging.message.id',
  conversationId: 'messaging.message.conversation_id',
  bodySize: 'messaging.message.body.size',
  partitionId: 'messaging.destination.partition.id',
  kafkaOffset: 'messaging.kafka.offset',
  kafkaKey: 'messaging.kafka.message.key',
  errorType: 'error.type',
  /** Switchyard's own: what the runtime did with the message. */
  outcome: 'switchyard.outcome',
  attempt: 'switchyard.attempt',
  messageType: 'switchyard.message.type',
  deadLetterReason: 'switchyard.dead_letter.reason',
  retryKind: 'switchyard.retry.kind',
  queueState: 'switchyard.queue.state',
} as const;

export const Metric = {
  processDuration: 'messaging.process.duration',
  operationDuration: 'messaging.client.operation.duration',
  consumed: 'messaging.client.consumed.messages',
  sent: 'messaging.client.sent.messages',
  retries: 'switchyard.retries',
  deadLetters: 'switchyard.dead_letters',
  duplicates: 'switchyard.duplicates',
  inFlight: 'switchyard.in_flight',
  hotKeys: 'switchyard.hot_keys',
  kafkaLag: 'messaging.kafka.consumer.lag',
  queueDepth: 'switchyard.queue.depth',
} as const;
