// The kafkajs driver against stand-ins for kafkajs. Batch controls: `isActive()` must turn false
// once a seek of ours makes the batch stale, and must not ask kafkajs' `isStale()` (which builds a
// JSON key per call) while no seek of ours can be pending on that partition. Admin: a topic the
// broker accepted is waited for even when kafkajs' own wait for leaders gives up early, and offset
// reads refused for a passing reason are tried again.
import type { Consumer, ConsumerRunConfig, EachBatchPayload, Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { DriverConsumer } from '../src/driver/driver.js';
import { KafkajsDriver } from '../src/driver/kafkajs.js';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function standIn() {
  let config: ConsumerRunConfig | undefined;
  const seeks: unknown[] = [];
  const consumer = {
    events: { GROUP_JOIN: 'join', REBALANCING: 'rebalancing', CRASH: 'crash', STOP: 'stop', FETCH: 'fetch' },
    on: () => () => {},
    run: async (c: ConsumerRunConfig) => {
      config = c;
    },
    seek: (position: unknown) => void seeks.push(position),
  };
  const kafka = { consumer: () => consumer as unknown as Consumer } as unknown as Kafka;
  const driver = new KafkajsDriver({ kafka, logger: silent });
  const driverConsumer: DriverConsumer = driver.consumer({
    groupId: 'g',
    sessionTimeoutMs: 30_000,
    rebalanceTimeoutMs: 60_000,
    heartbeatIntervalMs: 3_000,
    maxBytesPerPartition: 1 << 20,
    maxBytes: 10 << 20,
    maxWaitTimeMs: 100,
    readUncommitted: false,
    allowAutoTopicCreation: false,
  });

  /** Hands one (empty) batch of `partition` to the running handler; `stale` is kafkajs' pending-seek flag. */
  async function batch(partition: number, stale: { pending: boolean; asked: number }): Promise<void> {
    const payload = {
      batch: { topic: 't', partition, highWatermark: '10', messages: [] },
      resolveOffset: () => {},
      heartbeat: async () => {},
      commitOffsetsIfNecessary: async () => {},
      isRunning: () => true,
      isStale: () => {
        stale.asked += 1;
        return stale.pending;
      },
    } as unknown as EachBatchPayload;
    await config!.eachBatch!(payload);
  }

  return { driverConsumer, seeks, batch };
}

describe('kafkajs driver batch controls', () => {
  it('stays active without asking kafkajs while no seek of ours is pending', async () => {
    const s = standIn();
    const seen: boolean[] = [];
    await s.driverConsumer.run(
      async (_batch, controls) => {
        for (let i = 0; i < 5; i++) seen.push(controls.isActive());
      },
      { partitionsConsumedConcurrently: 1 },
    );
    const stale = { pending: false, asked: 0 };
    await s.batch(0, stale);
    expect(seen).toEqual([true, true, true, true, true]);
    expect(stale.asked).toBe(0);
  });

  it('turns inactive after a seek of the partition, and forgets the seek once a fetch applied it', async () => {
    const s = standIn();
    const seen: boolean[] = [];
    let seekNow = false;
    await s.driverConsumer.run(
      async (batch, controls) => {
        seen.push(controls.isActive());
        if (seekNow) {
          s.driverConsumer.seek({ topic: batch.topic, partition: batch.partition, offset: '3' });
          seekNow = false;
        }
        seen.push(controls.isActive());
      },
      { partitionsConsumedConcurrently: 1 },
    );
    const stale = { pending: true, asked: 0 };
    seekNow = true;
    await s.batch(0, stale);
    // Active before the seek, stale after it (kafkajs reports the seek as pending).
    expect(seen).toEqual([true, false]);
    expect(s.seeks).toEqual([{ topic: 't', partition: 0, offset: '3' }]);

    // A fetch applied the seek: kafkajs no longer reports it, and the driver stops asking.
    stale.pending = false;
    await s.batch(0, stale);
    const askedAfterApplied = stale.asked;
    await s.batch(0, stale);
    expect(seen).toEqual([true, false, true, true, true, true]);
    expect(stale.asked).toBe(askedAfterApplied);
  });

  it('asks about a partition only when that partition was sought', async () => {
    const s = standIn();
    const seen: Array<[number, boolean]> = [];
    await s.driverConsumer.run(
      async (batch, controls) => {
        seen.push([batch.partition, controls.isActive()]);
      },
      { partitionsConsumedConcurrently: 1 },
    );
    s.driverConsumer.seek({ topic: 't', partition: 1, offset: '0' });
    const other = { pending: false, asked: 0 };
    await s.batch(0, other);
    const sought = { pending: true, asked: 0 };
    await s.batch(1, sought);
    expect(seen).toEqual([
      [0, true],
      [1, false],
    ]);
    expect([other.asked, sought.asked]).toEqual([0, 1]);
  });
});

describe('kafkajs driver admin', () => {
  const protocolError = (type: string) => Object.assign(new Error(type), { type });

  function adminWith(fetchTopicMetadata: () => Promise<unknown>, createError: Error) {
    let metadataCalls = 0;
    const admin = {
      listTopics: async () => [],
      createTopics: async () => {
        throw createError;
      },
      fetchTopicMetadata: () => {
        metadataCalls += 1;
        return fetchTopicMetadata();
      },
    };
    const kafka = { admin: () => admin } as unknown as Kafka;
    return { admin: new KafkajsDriver({ kafka, logger: silent }).admin(), calls: () => metadataCalls };
  }

  it('waits for leaders itself when kafkajs gives up on a metadata answer that does not know the new topic yet', async () => {
    let answers = 0;
    const { admin, calls } = adminWith(async () => {
      answers += 1;
      if (answers === 1) throw protocolError('UNKNOWN_TOPIC_OR_PARTITION');
      return { topics: [{ name: 't', partitions: [{ partitionId: 0, leader: 1, partitionErrorCode: 0 }] }] };
    }, protocolError('UNKNOWN_TOPIC_OR_PARTITION'));
    await admin.createTopics([{ topic: 't', partitions: 1 }]);
    expect(calls()).toBe(2);
  });

  it('retries an offset read the broker refused for a passing reason, and not one it refused for good', async () => {
    let calls = 0;
    const admin = {
      fetchOffsets: async () => {
        calls += 1;
        if (calls === 1) throw Object.assign(protocolError('NOT_COORDINATOR'), { retriable: true });
        return [{ topic: 't', partitions: [{ partition: 0, offset: '7' }] }];
      },
      fetchTopicOffsets: async () => {
        throw Object.assign(protocolError('TOPIC_AUTHORIZATION_FAILED'), { retriable: false });
      },
    };
    const kafka = { admin: () => admin } as unknown as Kafka;
    const driverAdmin = new KafkajsDriver({ kafka, logger: silent }).admin();
    expect(await driverAdmin.groupOffsets('g', 't')).toEqual([{ partition: 0, offset: '7' }]);
    expect(calls).toBe(2);
    await expect(driverAdmin.topicOffsets('t')).rejects.toMatchObject({ type: 'TOPIC_AUTHORIZATION_FAILED' });
  });

  it('waits for the leaders of a topic another member created a moment ago, before resolving', async () => {
    let answers = 0;
    const admin = {
      listTopics: async () => ['t'],
      createTopics: async () => {
        throw new Error('nothing to create');
      },
      fetchTopicMetadata: async () => {
        answers += 1;
        if (answers === 1) throw protocolError('UNKNOWN_TOPIC_OR_PARTITION');
        if (answers === 2)
          return { topics: [{ name: 't', partitions: [{ partitionId: 0, leader: -1, partitionErrorCode: 5 }] }] };
        return { topics: [{ name: 't', partitions: [{ partitionId: 0, leader: 1, partitionErrorCode: 0 }] }] };
      },
    };
    const kafka = { admin: () => admin } as unknown as Kafka;
    await new KafkajsDriver({ kafka, logger: silent }).admin().createTopics([{ topic: 't', partitions: 1 }]);
    expect(answers).toBe(3);
  });

  it('still fails on any other error', async () => {
    const { admin, calls } = adminWith(async () => ({ topics: [] }), protocolError('INVALID_PARTITIONS'));
    await expect(admin.createTopics([{ topic: 't', partitions: 1 }])).rejects.toMatchObject({
      type: 'INVALID_PARTITIONS',
    });
    expect(calls()).toBe(0);
  });
});
