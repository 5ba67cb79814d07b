// Membership churn under load, with retries and dead letters: member processes are killed
// (SIGKILL), stopped (SIGTERM) and started at random while ticks are published, and a planned share
// of ticks fails (once, always, or as poison). Whatever the interleaving, every tick ends handled or
// dead-lettered, never both and never neither, and the dead letters are exactly the planned ones.
// The actions come from a seeded generator; the seed is in the assertion messages (set
// SY_CHURN_SEED to run one interleaving again).

import { createApp } from '@switchyard/core';
import { seededRandom } from '@switchyard/testing';
import { describe, expect, it } from 'vitest';
import { ConsumerChild } from './support/child.js';
import { failureOf, Tick, tickPayloads, ticks } from './support/contracts.js';
import { until, useKafkaTestKit } from './support/kafka.js';

const kit = useKafkaTestKit();

/** A small LCG: the same seed gives the same sequence of actions. */

const TICKS = 1_600;
const ACTIONS = 8;

describe('membership churn', () => {
  it.each([{ parkSameKey: false }, { parkSameKey: true }])(
    'with retry topics (parkSameKey: $parkSameKey) and dead letters, every tick ends handled or dead-lettered, exactly as planned',
    async ({ parkSameKey }) => {
      const seed = Number(process.env.SY_CHURN_SEED ?? Date.now() % 1_000_000);
      const random = seededRandom(seed);
      const topicName = await kit().topic('churn', 4);
      const topic = ticks(topicName);
      const group = kit().group('churn');
      const env = {
        SY_BROKERS: kit().brokers.join(','),
        SY_TOPIC: topicName,
        SY_GROUP: group,
        SY_HANDLER_MS: '3',
        SY_RETRY_MODE: 'retry-topics',
        SY_FAILURES: '1',
        SY_PARK_SAME_KEY: parkSameKey ? '1' : '0',
      };
      const members: ConsumerChild[] = [];
      const join = () => {
        const child = new ConsumerChild(env);
        kit().resources.track(() => child.stop(), 'stop member');
        members.push(child);
        return child;
      };
      const alive = () => members.filter((m) => m.alive);
      const log: string[] = [];
      const context = () => `seed ${seed}; actions: ${log.join(', ')}`;

      for (let i = 0; i < 3; i++) join();
      // The dead-letter topic exists once a member has subscribed.
      await until(() => members.some((m) => m.count('started') > 0), 'a member started', 60_000);
      const deadLetters = await kit().reader(`${topicName}.dlq`);
      const publisher = createApp({ transport: kit().transport({ clientId: 'churn-publisher' }) });
      await publisher.start();
      kit().resources.track(() => publisher.stop(), 'stop publisher');

      const payloads = tickPayloads(TICKS, 40);
      const chunk = TICKS / ACTIONS;
      for (let action = 0; action < ACTIONS; action++) {
        const batch = payloads.slice(action * chunk, (action + 1) * chunk);
        await Promise.all(batch.map((p) => publisher.publish(topic, Tick, p)));
        // Let the members work on it before the next action (a quarter of this chunk handled, or
        // the members dead: then nothing can be handled until the next join).
        await until(
          () => {
            const handled = handledIds(members);
            return batch.filter((p) => handled.has(p.id)).length >= chunk / 4 || alive().length === 0;
          },
          `progress after action ${action} (${context()})`,
          60_000,
        );
        const live = alive();
        const pick = () => live[Math.floor(random() * live.length)]!;
        const roll = random();
        if (roll < 0.4 && live.length > 1) {
          pick().kill('SIGKILL');
          join();
          log.push('kill+join');
        } else if (roll < 0.7 && live.length > 1) {
          pick().kill('SIGTERM');
          log.push('stop');
        } else if (live.length < 5) {
          join();
          log.push('join');
        } else {
          pick().kill('SIGTERM');
          log.push('stop');
        }
      }
      if (alive().length === 0) join();

      const planned = new Set(payloads.filter((p) => failureOf(p.id) === 'poison' || failureOf(p.id) === 'always'));
      const plannedIds = new Set([...planned].map((p) => p.id));
      const deadLettered = () =>
        new Set(deadLetters.records.map((r) => (JSON.parse(r.value!.toString()) as { id: string }).id));
      await until(
        () => {
          const handled = handledIds(members);
          const dead = deadLettered();
          return payloads.every((p) => handled.has(p.id) || dead.has(p.id));
        },
        `every tick handled or dead-lettered (${context()})`,
        180_000,
      );

      const handled = handledIds(members);
      const dead = deadLettered();
      expect(
        payloads.filter((p) => !handled.has(p.id) && !dead.has(p.id)).map((p) => p.id),
        `lost (${context()})`,
      ).toEqual([]);
      expect([...dead].sort(), `dead letters (${context()})`).toEqual([...plannedIds].sort());
      expect(
        [...handled].filter((id) => plannedIds.has(id)),
        `handled although planned to fail (${context()})`,
      ).toEqual([]);
      // The ticks planned to fail once went through a retry topic and were handled on a later attempt.
      const retried = new Set<string>();
      for (const member of members)
        for (const e of member.events) if (e.event === 'handled' && Number(e.attempt) >= 2) retried.add(e.id!);
      const once = payloads.filter((p) => failureOf(p.id) === 'once').map((p) => p.id);
      expect(once.length).toBeGreaterThan(0);
      expect(
        once.filter((id) => !retried.has(id)),
        `handled without a retry (${context()})`,
      ).toEqual([]);
    },
    // Up to eight member starts, kills that wait out a session timeout, and retries through two tiers.
    300_000,
  );
});

function handledIds(members: readonly ConsumerChild[]): Set<string> {
  const ids = new Set<string>();
  for (const member of members) for (const e of member.events) if (e.event === 'handled') ids.add(e.id!);
  return ids;
}
