// Names of the topics the binding derives from a source topic.

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

/** Retry tier for a redelivery that will be attempt `attempt` (2 = first retry). */
export function retryTier(attempt: number, tiers: number): number {
  return Math.min(Math.max(1, attempt - 1), tiers);
}
