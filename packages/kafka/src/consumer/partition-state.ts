// What a subscription knows about one partition it owns in the current group generation. A new
// object is made for every assignment, so a delivery from an earlier generation can tell (through
// `revoked`) that its results must not be committed by this member any more.

import { setMaxListeners } from 'node:events';
import { InFlightList, type Linked } from '@switchyard/core';
import type { PauseReason } from '../events.js';

export interface ParkedKey {
  /** Retry topic its predecessor went to; later records of the key follow it there. */
  readonly retryTopic: string;
  readonly dueAt: number;
  expiresAt: number;
  /**
   * Source partitions only: stamped (`sy-parked-by`) on every record this parking sent to the
   * retry path, so their resolution on a retry tier can be traced back here.
   */
  readonly token?: string;
  /** Source offsets of those records not yet resolved (handled or dead-lettered); empty releases the key. */
  readonly pending?: Set<string>;
}

export interface UnsettledDelivery extends Linked<UnsettledDelivery> {
  readonly offset: string;
  readonly handedAt: number;
  readonly sizeBytes: number;
}

export class PartitionState {
  readonly topic: string;
  readonly partition: number;
  readonly id: string;
  /** 0 for a source topic, n for `<topic>.retry.<n>`. */
  readonly tier: number;
  /** The source topic (itself for tier 0). */
  readonly sourceTopic: string;
  /** Where the source topic's dead letters go (a retry tier's go with its source's). */
  readonly deadLetterTopic: string;
  readonly controller = new AbortController();
  revoked = false;
  /** Handed over and not settled, in hand-over order (the first entry is the oldest). */
  readonly unsettled = new InFlightList<UnsettledDelivery>();
  inFlightBytes = 0;
  /** The last record handed over (or diverted): the next fetch after a rejoin starts after it. */
  lastHanded: string | undefined;
  highWatermark: string | undefined;
  /** Offset last committed by this member (the next offset to read). */
  lastCommitted: string | undefined;
  /** First offset seen in this generation: the lag baseline until something is committed. */
  firstSeen: string | undefined;
  readonly pauseReasons = new Set<PauseReason>();
  /** Cancels the wait for the head of a retry partition to become due. */
  dueWait: AbortController | undefined;
  /** The head record being waited for and when the wait began (the wait is capped from there). */
  dueHead: { readonly offset: string; readonly since: number } | undefined;
  startGate: Promise<void> | undefined;
  /** Settled since the last lag sample (the consumption rate). */
  settledSinceSample = 0;
  readonly parked = new Map<string, ParkedKey>();

  constructor(topic: string, partition: number, tier: number, sourceTopic: string, deadLetterTopic: string) {
    this.topic = topic;
    this.partition = partition;
    this.id = partitionId(topic, partition);
    this.tier = tier;
    this.sourceTopic = sourceTopic;
    this.deadLetterTopic = deadLetterTopic;
    // Every in-flight delivery of the partition listens on this one signal.
    setMaxListeners(0, this.controller.signal);
  }

  oldest(): UnsettledDelivery | undefined {
    return this.unsettled.oldest();
  }
}

export function partitionId(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

/** The offset after `offset`. */
export function nextOffset(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}
