// Names of the topics the binding derives from a source topic, and Kafka's rule for topic names.

import { InvalidOptionError } from '@switchyard/core';

/** Kafka's longest topic name (org.apache.kafka.common.internals.Topic). */
export const MAX_TOPIC_NAME_LENGTH = 249;
const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;

/** What is wrong with `name` as a Kafka topic name, or undefined when the broker accepts it. */
export function topicNameProblem(name: string): string | undefined {
  if (name === '' || name === '.' || name === '..') return `'${name}' is not a topic name`;
  if (name.length > MAX_TOPIC_NAME_LENGTH)
    return `is ${name.length} characters long; Kafka allows ${MAX_TOPIC_NAME_LENGTH}`;
  if (!LEGAL_TOPIC_NAME.test(name)) return "may hold only ASCII letters, digits, '.', '_' and '-'";
  return undefined;
}

/**
 * Refuses a subscription whose topic, or a topic derived from it (the last retry tier, the
 * dead-letter topic), the broker would refuse, so it fails at subscribe naming the topic instead of
 * with a broker error when the topic is first created or written.
 */
export function checkSubscriptionTopics(
  option: string,
  sources: readonly string[],
  derived: (source: string) => ReadonlyArray<readonly [kind: string, name: string]>,
): void {
  for (const source of sources) {
    const problem = topicNameProblem(source);
    if (problem !== undefined)
      throw new InvalidOptionError(option, `topic '${source}' ${problem}`, 'rename the topic to a legal Kafka name');
    for (const [kind, name] of derived(source)) {
      const derivedProblem = topicNameProblem(name);
      if (derivedProblem !== undefined)
        throw new InvalidOptionError(
          option,
          `the ${kind} topic of '${source}', '${name}', ${derivedProblem}`,
          'shorten the topic name, or name the dead-letter topic with options.deadLetterTopic or deadLetter.suffix',
        );
    }
  }
}

export function retryTopicName(source: string, tier: number): string {
  return `${source}.retry.${tier}`;
}

const RETRY = /^(.+)\.retry\.(\d+)$/;

/** `{ source, tier }` for `<source>.retry.<tier>`, else undefined. */
export function parseRetryTopic(topic: string): { source: string; tier: number } | undefined {
  const match = RETRY.exec(topic);
  if (!match) return undefined;
  const tier = Number(match[2]);
  return tier >= 1 ? { source: match[1]!, tier } : undefined;
}

export function deadLetterTopicName(source: string, suffix: string): string {
  return `${source}${suffix}`;
}

/** Where a subscription names its dead-letter topic: the consumer, the subscription, or neither. */
export interface DeadLetterNaming {
  /** The consumer's `deadLetterDestination`, when it named one: every source's dead letters go there. */
  readonly named: string | undefined;
  /** The subscription's `deadLetterTopic` option. */
  readonly deadLetterTopic: string | undefined;
  readonly suffix: string;
}

/** The dead-letter topic of one source topic of a subscription. */
export function sourceDeadLetterTopic(source: string, naming: DeadLetterNaming): string {
  return naming.named ?? naming.deadLetterTopic ?? deadLetterTopicName(source, naming.suffix);
}

/** Retry tier for a redelivery that will be attempt `attempt` (2 = first retry). */
export function retryTier(attempt: number, tiers: number): number {
  return Math.min(Math.max(1, attempt - 1), tiers);
}
