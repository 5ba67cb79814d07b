// Bad input on a real topic: a tombstone, a non-JSON body, a payload that fails its schema, an
// unknown type, garbled Switchyard headers, a huge key and a value too large for the dead-letter
// topic. Each is dead-lettered with a reason, none stops the partition, and every produced record
// is accounted for: processed + dead-lettered = produced.

import { createApp, defineHandler, readDeadLetterHeaders } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import { KafkaHeaders } from '../../src/index.js';
import { Tick, ticks } from './support/contracts.js';
import { until, useKafkaTestKit } from './support/kafka.js';

const kit = useKafkaTestKit();

const good = (id: string) => JSON.stringify({ id, key: 'k', seq: 0 });

describe('bad records', () => {
  it('dead-letters each bad record with its reason and keeps the partition flowing', async () => {
    // The source topic accepts 3 MB records; its dead-letter topic keeps the 1 MB default.
    const topicName = await kit().topic('bad', 1, { 'max.message.bytes': String(3 * 1024 * 1024) });
    const huge = Buffer.alloc(1_500_000, 'x');
    const tick = { 'sy-type': 'Tick', 'content-type': 'application/json' };
    const records: Array<{
      name: string;
      key: string | null;
      value: Buffer | string | null;
      headers: Record<string, string | Buffer>;
      expect: 'ok' | string;
    }> = [
      { name: 'good-1', key: 'k', value: good('good-1'), headers: tick, expect: 'ok' },
      { name: 'tombstone', key: 'k', value: null, headers: tick, expect: 'decode' },
      { name: 'not-json', key: 'k', value: '{"id": oops', headers: tick, expect: 'decode' },
      { name: 'invalid', key: 'k', value: JSON.stringify({ id: 7, key: 'k' }), headers: tick, expect: 'validation' },
      {
        name: 'unknown-type',
        key: 'k',
        value: good('unknown-type'),
        headers: { 'sy-type': 'Nope' },
        expect: 'unknown-type',
      },
      {
        name: 'garbled',
        key: 'k',
        value: good('garbled'),
        headers: { 'sy-type': Buffer.from([0xc3, 0x28, 0xff]) },
        expect: 'unknown-type',
      },
      { name: 'huge-key', key: 'k'.repeat(100_000), value: good('huge-key'), headers: tick, expect: 'ok' },
      { name: 'huge-value', key: 'k', value: huge, headers: tick, expect: 'decode' },
      { name: 'good-2', key: 'k', value: good('good-2'), headers: tick, expect: 'ok' },
    ];
    const producer = kit().kafka.producer();
    await producer.connect();
    for (const r of records)
      await producer.send({
        topic: topicName,
        messages: [{ key: r.key, value: r.value, headers: { ...r.headers, 'x-name': r.name } }],
      });
    await producer.disconnect();

    const group = kit().group();
    const transport = kit().transport();
    const omitted: number[] = [];
    transport.events.on('kafka:dead-letter:body-omitted', (e) => omitted.push(e.bytes));
    const processed: string[] = [];
    const app = createApp({ transport });
    app.consume(ticks(topicName), {
      group,
      handlers: [
        defineHandler(Tick, (m) => {
          processed.push(m.payload.id);
        }),
      ],
    });
    await app.start();
    const expectedDead = records.filter((r) => r.expect !== 'ok');
    const dlq = await kit().readTopic(`${topicName}.dlq`, (rs) => rs.length >= expectedDead.length, {
      timeoutMs: 30_000,
    });
    await until(() => processed.length === records.length - expectedDead.length, 'good records processed');
    await until(
      async () => (await kit().admin.groupOffsets(group, topicName))[0]?.committed === String(records.length),
      'partition committed to its end',
    );
    await app.stop();

    expect(processed.sort()).toEqual(['good-1', 'good-2', 'huge-key']);
    const reasons = Object.fromEntries(
      dlq.map((r) => {
        const headers = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, String(v)]));
        return [headers['x-name'], readDeadLetterHeaders(headers).reason];
      }),
    );
    expect(reasons).toEqual(Object.fromEntries(expectedDead.map((r) => [r.name, r.expect])));
    expect(processed.length + dlq.length).toBe(records.length);

    const tombstone = dlq.find((r) => String(r.headers['x-name']) === 'tombstone')!;
    expect(String(tombstone.headers['sy-dlq-tombstone'])).toBe('true');
    const notJson = dlq.find((r) => String(r.headers['x-name']) === 'not-json')!;
    expect(notJson.value!.toString()).toBe('{"id": oops');
    const garbled = dlq.find((r) => String(r.headers['x-name']) === 'garbled')!;
    expect(Buffer.from(garbled.headers['sy-type'] as Buffer)).toEqual(Buffer.from([0xc3, 0x28, 0xff]));
    const hugeDead = dlq.find((r) => String(r.headers['x-name']) === 'huge-value')!;
    expect(String(hugeDead.headers[KafkaHeaders.bodyOmitted])).toBe(String(huge.length));
    expect(omitted).toEqual([huge.length]);
  });
});
