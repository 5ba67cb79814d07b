// A Kafka consumer group, reduced to what a single embedded broker needs: members join and leave,
// every change rebalances the topic's partitions across the members (range or round-robin, as the
// Java client's assignors do), and the group stores one committed offset per partition. A commit is
// fenced: only the member that currently owns a partition may commit it, so a member that lost the
// partition in a rebalance cannot move the offset under its new owner.

import { InvalidOptionError, SwitchyardError } from '../errors.js';

export type PartitionAssignor = 'range' | 'round-robin';

export interface GroupMemberListener {
  /** Called first in a rebalance, while the member still owns `partitions`: stop and commit them. */
  onRevoke(partitions: readonly number[]): void;
  /** Called after every revocation of the same rebalance. */
  onAssign(partitions: readonly number[]): void;
}

interface Member {
  readonly id: string;
  readonly topic: string;
  readonly assignor: PartitionAssignor;
  readonly listener: GroupMemberListener;
  partitions: number[];
}

export interface GroupMembership {
  readonly memberId: string;
  readonly group: string;
  readonly topic: string;
  /** Rebalances of this group and topic so far. */
  readonly generation: number;
  /** Partitions this member owns now. */
  assignment(): readonly number[];
  owns(partition: number): boolean;
  /** Leave the group: the remaining members rebalance. Idempotent. */
  leave(): void;
}

export function assignPartitions(
  assignor: PartitionAssignor,
  memberIds: readonly string[],
  partitionCount: number,
): Map<string, number[]> {
  const result = new Map<string, number[]>(memberIds.map((id) => [id, []]));
  const m = memberIds.length;
  if (m === 0) return result;
  if (assignor === 'round-robin') {
    for (let p = 0; p < partitionCount; p++) result.get(memberIds[p % m]!)!.push(p);
    return result;
  }
  // Range: contiguous blocks; the first `partitionCount % m` members take one extra.
  const base = Math.floor(partitionCount / m);
  const extra = partitionCount % m;
  let next = 0;
  memberIds.forEach((id, i) => {
    const count = base + (i < extra ? 1 : 0);
    for (let k = 0; k < count; k++) result.get(id)!.push(next++);
  });
  return result;
}

export class ConsumerGroup {
  readonly name: string;
  /** topic -> partition -> committed offset (the next offset to read). */
  readonly #committed = new Map<string, Map<number, number>>();
  readonly #members = new Map<string, Member>();
  readonly #generations = new Map<string, number>();
  #nextMemberSeq = 0;

  constructor(name: string) {
    this.name = name;
  }

  committed(topic: string): ReadonlyMap<number, number> {
    return this.#committed.get(topic) ?? new Map();
  }

  committedOffset(topic: string, partition: number): number | undefined {
    return this.#committed.get(topic)?.get(partition);
  }

  members(topic: string): readonly { readonly memberId: string; readonly partitions: readonly number[] }[] {
    return [...this.#members.values()]
      .filter((m) => m.topic === topic)
      .map((m) => ({ memberId: m.id, partitions: [...m.partitions] }));
  }

  hasMembers(topic: string): boolean {
    for (const m of this.#members.values()) if (m.topic === topic) return true;
    return false;
  }

  generation(topic: string): number {
    return this.#generations.get(topic) ?? 0;
  }

  join(
    topic: string,
    partitionCount: number,
    assignor: PartitionAssignor,
    listener: GroupMemberListener,
  ): GroupMembership {
    for (const other of this.#members.values()) {
      if (other.topic === topic && other.assignor !== assignor)
        throw new InvalidOptionError(
          'assignor',
          `group '${this.name}' already balances '${topic}' with '${other.assignor}', this member asked for '${assignor}'`,
          'use the same assignor in every member of a group',
        );
    }
    // Zero-padded so members sort in join order, which keeps assignments deterministic.
    const id = `${this.name}-${String(++this.#nextMemberSeq).padStart(6, '0')}`;
    const member: Member = { id, topic, assignor, listener, partitions: [] };
    this.#members.set(id, member);
    this.#rebalance(topic, partitionCount);
    const group = this;
    return {
      memberId: id,
      group: this.name,
      topic,
      get generation() {
        return group.generation(topic);
      },
      assignment: () => [...member.partitions],
      owns: (partition) => this.#members.get(id)?.partitions.includes(partition) ?? false,
      leave: () => {
        if (!this.#members.has(id)) return;
        // The leaving member gives up everything first, like a consumer's close() does.
        if (member.partitions.length > 0) member.listener.onRevoke([...member.partitions]);
        member.partitions = [];
        this.#members.delete(id);
        this.#rebalance(topic, partitionCount);
      },
    };
  }

  /** Store a committed offset. With `memberId`, the commit is fenced on current ownership. */
  commit(topic: string, partition: number, offset: number, memberId?: string): void {
    if (memberId !== undefined) {
      const member = this.#members.get(memberId);
      if (!member?.partitions.includes(partition))
        throw new SwitchyardError(
          'SWITCHYARD_TRANSPORT',
          `member '${memberId}' of group '${this.name}' does not own ${topic}/${partition}: commit refused`,
          { retryable: false, details: { reason: 'fenced', group: this.name, topic, partition } },
        );
    } else if (this.hasMembers(topic)) {
      throw new SwitchyardError(
        'SWITCHYARD_TRANSPORT',
        `group '${this.name}' has active members on '${topic}': only they may commit`,
        { retryable: false, details: { reason: 'group-active', group: this.name, topic } },
      );
    }
    let offsets = this.#committed.get(topic);
    if (!offsets) {
      offsets = new Map();
      this.#committed.set(topic, offsets);
    }
    offsets.set(partition, offset);
  }

  #rebalance(topic: string, partitionCount: number): void {
    const members = [...this.#members.values()].filter((m) => m.topic === topic).sort((a, b) => (a.id < b.id ? -1 : 1));
    this.#generations.set(topic, this.generation(topic) + 1);
    if (members.length === 0) return;
    const plan = assignPartitions(
      members[0]!.assignor,
      members.map((m) => m.id),
      partitionCount,
    );
    // Revoke everything that moves before anyone is given anything: the old owner commits what it
    // finished while it still owns the partition, and the new owner starts from that commit.
    const added = new Map<Member, number[]>();
    for (const m of members) {
      const next = plan.get(m.id) ?? [];
      const revoked = m.partitions.filter((p) => !next.includes(p));
      if (revoked.length > 0) m.listener.onRevoke(revoked);
      added.set(
        m,
        next.filter((p) => !m.partitions.includes(p)),
      );
    }
    for (const m of members) m.partitions = plan.get(m.id) ?? [];
    for (const [m, partitions] of added) if (partitions.length > 0) m.listener.onAssign(partitions);
  }
}
