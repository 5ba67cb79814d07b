// Provisioning: a topic, and an SQS queue's subscription to it together with the queue policy that
// lets the topic send to the queue. Idempotent: a second run with the same options makes no call
// that changes anything; a run with other options changes only what differs.

import {
  CreateTopicCommand,
  GetSubscriptionAttributesCommand,
  ListSubscriptionsByTopicCommand,
  SetSubscriptionAttributesCommand,
  type SNSClient,
  SubscribeCommand,
} from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, SetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { InvalidOptionError, SwitchyardError } from '@switchyard/core';

export interface EnsureTopicOptions {
  /** Topic name; `.fifo` is appended for FIFO topics when missing. */
  readonly name: string;
  readonly fifo?: boolean;
  /** FIFO: deduplicate by a SHA-256 of the message when no deduplication id is sent. */
  readonly contentBasedDeduplication?: boolean;
  /** Further topic attributes (e.g. `KmsMasterKeyId`). */
  readonly attributes?: Readonly<Record<string, string>>;
}

/** Creates the topic if it does not exist (CreateTopic is idempotent for the same attributes). */
export async function ensureTopic(sns: SNSClient, options: EnsureTopicOptions): Promise<{ topicArn: string }> {
  if (typeof options?.name !== 'string' || options.name.length === 0)
    throw new InvalidOptionError('name', 'must be a non-empty topic name', "pass name: 'orders'");
  const fifo = options.fifo ?? options.name.endsWith('.fifo');
  if (!fifo && options.contentBasedDeduplication)
    throw new InvalidOptionError('contentBasedDeduplication', 'only applies to FIFO topics', 'pass fifo: true');
  const name = fifo && !options.name.endsWith('.fifo') ? `${options.name}.fifo` : options.name;
  const attributes: Record<string, string> = {
    ...(fifo ? { FifoTopic: 'true' } : {}),
    ...(fifo && options.contentBasedDeduplication !== undefined
      ? { ContentBasedDeduplication: String(options.contentBasedDeduplication) }
      : {}),
    ...options.attributes,
  };
  const out = await sns.send(
    new CreateTopicCommand({ Name: name, ...(Object.keys(attributes).length > 0 ? { Attributes: attributes } : {}) }),
  );
  if (!out.TopicArn) throw new SwitchyardError('SWITCHYARD_TRANSPORT', `CreateTopic returned no ARN for '${name}'`);
  return { topicArn: out.TopicArn };
}

export interface SubscribeQueueOptions {
  readonly topicArn: string;
  readonly queueUrl: string;
  /** Raw message delivery: the queue gets the message itself rather than the SNS envelope. Default false. */
  readonly raw?: boolean;
  /** SNS filter policy (an object, or its JSON). Omitted: an existing policy is left as it is. */
  readonly filterPolicy?: Readonly<Record<string, unknown>> | string;
  /** What the filter policy matches: message attributes (default) or the message body. */
  readonly filterPolicyScope?: 'MessageAttributes' | 'MessageBody';
}

export interface QueueSubscription {
  readonly subscriptionArn: string;
  readonly queueArn: string;
  /** False when everything was already as asked. */
  readonly changed: boolean;
}

/** The policy statement that lets `topicArn` send to the queue. */
export function queuePolicyStatement(queueArn: string, topicArn: string): Record<string, unknown> {
  return {
    Sid: `switchyard-sns-${topicArn.slice(topicArn.lastIndexOf(':') + 1)}`.slice(0, 100),
    Effect: 'Allow',
    Principal: { Service: 'sns.amazonaws.com' },
    Action: 'sqs:SendMessage',
    Resource: queueArn,
    Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
  };
}

function allowsTopic(statement: Record<string, unknown>, topicArn: string): boolean {
  const condition = statement.Condition as Record<string, Record<string, unknown>> | undefined;
  const source = condition?.ArnEquals?.['aws:SourceArn'] ?? condition?.ArnLike?.['aws:SourceArn'];
  const action = statement.Action;
  const sends =
    action === 'sqs:SendMessage' || action === 'sqs:*' || (Array.isArray(action) && action.includes('sqs:SendMessage'));
  return (
    statement.Effect === 'Allow' &&
    sends &&
    (source === topicArn || (Array.isArray(source) && source.includes(topicArn)))
  );
}

function normalizeJson(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v as Record<string, unknown>)
              .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
              .map(([k, x]) => [k, sort(x)]),
          )
        : v;
  try {
    return JSON.stringify(sort(JSON.parse(value)));
  } catch {
    return value;
  }
}

async function ensureQueuePolicy(
  sqs: SQSClient,
  queueUrl: string,
  topicArn: string,
): Promise<{ queueArn: string; changed: boolean }> {
  const attributes =
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn', 'Policy'] })))
      .Attributes ?? {};
  const queueArn = attributes.QueueArn;
  if (!queueArn) throw new SwitchyardError('SWITCHYARD_TRANSPORT', `no QueueArn for ${queueUrl}`);
  let policy: { Version?: string; Id?: string; Statement?: Record<string, unknown>[] | Record<string, unknown> } = {};
  if (attributes.Policy) {
    try {
      policy = JSON.parse(attributes.Policy);
    } catch (cause) {
      throw new SwitchyardError('SWITCHYARD_TRANSPORT', `the policy of ${queueUrl} is not JSON`, {
        cause,
        retryable: false,
      });
    }
  }
  const statements = Array.isArray(policy.Statement) ? policy.Statement : policy.Statement ? [policy.Statement] : [];
  if (statements.some((s) => allowsTopic(s, topicArn))) return { queueArn, changed: false };
  const next = {
    Version: policy.Version ?? '2012-10-17',
    ...(policy.Id ? { Id: policy.Id } : {}),
    Statement: [...statements, queuePolicyStatement(queueArn, topicArn)],
  };
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { Policy: JSON.stringify(next) } }));
  return { queueArn, changed: true };
}

async function findSubscription(sns: SNSClient, topicArn: string, queueArn: string): Promise<string | undefined> {
  let token: string | undefined;
  do {
    const page = await sns.send(
      new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, ...(token ? { NextToken: token } : {}) }),
    );
    const found = page.Subscriptions?.find(
      (s) =>
        s.Protocol === 'sqs' &&
        s.Endpoint === queueArn &&
        s.SubscriptionArn &&
        s.SubscriptionArn !== 'PendingConfirmation',
    );
    if (found?.SubscriptionArn) return found.SubscriptionArn;
    token = page.NextToken;
  } while (token);
  return undefined;
}

/**
 * Subscribes an SQS queue to a topic, with the queue policy that lets the topic send to it.
 * Idempotent: a second run with the same options changes nothing.
 */
export async function subscribeQueue(
  sns: SNSClient,
  sqs: SQSClient,
  options: SubscribeQueueOptions,
): Promise<QueueSubscription> {
  if (typeof options?.topicArn !== 'string' || !options.topicArn.startsWith('arn:'))
    throw new InvalidOptionError('topicArn', 'must be a topic ARN', 'pass the topicArn that ensureTopic returned');
  if (typeof options.queueUrl !== 'string' || options.queueUrl.length === 0)
    throw new InvalidOptionError(
      'queueUrl',
      'must be a queue URL',
      'pass the queueUrl that createQueueWithDeadLetter returned',
    );
  if (options.filterPolicyScope !== undefined && options.filterPolicy === undefined)
    throw new InvalidOptionError(
      'filterPolicyScope',
      'applies to a filter policy, and none was given',
      'pass filterPolicy too',
    );
  const filterPolicy =
    options.filterPolicy === undefined
      ? undefined
      : typeof options.filterPolicy === 'string'
        ? options.filterPolicy
        : JSON.stringify(options.filterPolicy);
  const wanted: Record<string, string> = {
    RawMessageDelivery: String(options.raw ?? false),
    ...(filterPolicy === undefined ? {} : { FilterPolicy: filterPolicy }),
    ...(filterPolicy === undefined ? {} : { FilterPolicyScope: options.filterPolicyScope ?? 'MessageAttributes' }),
  };
  const { queueArn, changed: policyChanged } = await ensureQueuePolicy(sqs, options.queueUrl, options.topicArn);
  const existing = await findSubscription(sns, options.topicArn, queueArn);
  if (!existing) {
    const out = await sns.send(
      new SubscribeCommand({
        TopicArn: options.topicArn,
        Protocol: 'sqs',
        Endpoint: queueArn,
        Attributes: wanted,
        ReturnSubscriptionArn: true,
      }),
    );
    if (!out.SubscriptionArn)
      throw new SwitchyardError('SWITCHYARD_TRANSPORT', 'Subscribe returned no subscription ARN');
    return { subscriptionArn: out.SubscriptionArn, queueArn, changed: true };
  }
  const current =
    (await sns.send(new GetSubscriptionAttributesCommand({ SubscriptionArn: existing }))).Attributes ?? {};
  let changed = policyChanged;
  for (const [name, value] of Object.entries(wanted)) {
    const have = current[name];
    const same =
      name === 'FilterPolicy'
        ? normalizeJson(have) === normalizeJson(value)
        : name === 'FilterPolicyScope'
          ? (have ?? 'MessageAttributes') === value
          : (have ?? 'false') === value;
    if (same) continue;
    await sns.send(
      new SetSubscriptionAttributesCommand({ SubscriptionArn: existing, AttributeName: name, AttributeValue: value }),
    );
    changed = true;
  }
  return { subscriptionArn: existing, queueArn, changed };
}
