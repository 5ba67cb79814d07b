// Where dead letters land, through createApp on a real broker: the topic the subscription created
// for them (deadLetter.suffix, the subscription's deadLetterTopic, each topic of a multi-topic
// subscription, the consumer's own deadLetterDestination), and the one the dead-lettered event names.

import { createApp, deadLetter, defineHandler } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import type { KafkaTransportOptions } from '../../src/index.js';
import { Tick, tickPayloads, ticks } from './support/contracts.js';
import { until, useKafkaTestKit } from './support/kafka.js';

const kit = useKafkaTestKit();

interface Case {
  readonly transport?: Partial<KafkaTransportOptions>;
  readonly transportOptions?: (a: string, b: string) => Record<string, unknown>;
  readonly deadLetterDestination?: (a: string) => string;
  /** Where the dead letter of a record published to `b` (or `a` for single-topic cases) must land. */
  readonly expected: (a: string, b: string) => string;
  readonly publishTo: 'a' | 'b';
}

const cases: Record<string, Case> = {
  'deadLetter.suffix': { transport: { deadLetter: { suffix: '-dlt' } }, expected: (a) => `${a}-dlt`, publishTo: 'a' },
  'the subscription deadLetterTopic': {
    transportOptions: (a) => ({ deadLetterTopic: `${a}.dead` }),
    expected: (a) => `${a}.dead`,
    publishTo: 'a',
  },
  'the second topic of a multi-topic subscription': {
    transportOptions: (a, b) => ({ topics: [a, b] }),
    expected: (_a, b) => `${b}.dlq`,
    publishTo: 'b',
  },
  "the consumer's deadLetterDestination": {
    transportOptions: (a, b) => ({ topics: [a, b] }),
    deadLetterDestination: (a) => `${a}.poison`,
    expected: (a) => `${a}.poison`,
    publishTo: 'b',
  },
};

describe('dead-letter topics through createApp', () => {
  for (const [name, c] of Object.entries(cases))
    it(`writes to the topic it created for ${name}, and names it in the event`, async () => {
      const a = await kit().topic('dlt-a', 2);
      const b = await kit().topic('dlt-b', 1);
      const app = createApp({ transport: kit().transport(c.transport) });
      const events: string[] = [];
      app.events.on('consumer:message:dead-lettered', (e) => events.push(e.deadLetterDestination));
      app.consume(ticks(a), {
        group: kit().group(),
        ...(c.transportOptions ? { transportOptions: c.transportOptions(a, b) } : {}),
        ...(c.deadLetterDestination ? { deadLetterDestination: c.deadLetterDestination(a) } : {}),
        handlers: [defineHandler(Tick, () => deadLetter('poison'))],
      });
      await app.start();
      const expected = c.expected(a, b);
      // Created on subscribe, with the partitions of its (largest) source.
      const created = await kit().admin.topicOffsets(expected);
      expect(created.length).toBe(c.publishTo === 'b' && !c.deadLetterDestination ? 1 : 2);
      const [payload] = tickPayloads(1, 1);
      await app.publish(ticks(c.publishTo === 'a' ? a : b), Tick, payload!);
      await until(() => events.length === 1, 'the record dead-lettered');
      await app.stop();
      expect(events).toEqual([expected]);
      const records = await kit().readTopic(expected, (r) => r.length >= 1);
      expect(records.map((r) => JSON.parse(r.value!.toString()).id)).toEqual([payload!.id]);
      // Nothing went to (or made) core's generic `<channel>.dlq` instead; a multi-topic
      // subscription without a named destination has it as its first topic's own.
      const generic = `${a}.dlq`;
      if (c.transportOptions?.(a, b).topics === undefined || c.deadLetterDestination)
        expect(await kit().admin.listTopics()).not.toContain(generic);
    });
});
