// Batching, the bounded buffer and failure isolation of the publisher, with a sender the test
// controls (no broker, no timing assertions).

import { type OutgoingMessage, systemClock } from '@switchyard/core';
import { describe, expect, it } from 'vitest';
import type { DriverRecordMetadata, DriverTopicMessages } from '../src/index.js';
import { KafkaPublisher, type PublisherOptions } from '../src/producer/publisher.js';

function message(id: string, bytes = 10): OutgoingMessage {
  return { id, key: id, body: new Uint8Array(bytes), headers: {}, timestamp: 0 };
}

interface Call {
  readonly batch: readonly DriverTopicMessages[];
  resolve(): void;
  reject(error: unknown): void;
}

function controlledSender() {
  const calls: Call[] = [];
  const sender = (batch: readonly DriverTopicMessages[]) =>
    new Promise<DriverRecordMetadata[]>((resolve, reject) => {
      calls.push({ batch, resolve: () => resolve([]), reject });
    });
  return { calls, sender: () => sender };
}

const options = (overrides: Partial<PublisherOptions> = {}): PublisherOptions => ({
  lingerMs: 5,
  batchBytes: 1_000,
  bufferBytes: 10_000,
  bufferTimeoutMs: 1_000,
  clock: systemClock,
  ...overrides,
});

async function until(probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 2));
  }
}

const count = (batch: readonly DriverTopicMessages[]) => batch.reduce((n, t) => n + t.messages.length, 0);

describe('KafkaPublisher', () => {
  it('collects publishes made within the linger window into one request', async () => {
    const { calls, sender } = controlledSender();
    const publisher = new KafkaPublisher(sender, options({ lingerMs: 20 }));
    const done = [
      publisher.publish('a', [message('1')]),
      publisher.publish('b', [message('2')]),
      publisher.publish('a', [message('3')]),
    ];
    await until(() => calls.length === 1);
    expect(calls[0]!.batch.map((t) => [t.topic, t.messages.length])).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
    calls[0]!.resolve();
    await Promise.all(done);
  });

  it('sends as soon as a batch is full, and keeps one request in flight', async () => {
    const { calls, sender } = controlledSender();
    const publisher = new KafkaPublisher(sender, options({ lingerMs: 60_000, batchBytes: 25 }));
    const first = [
      publisher.publish('t', [message('1')]),
      publisher.publish('t', [message('2')]),
      publisher.publish('t', [message('3')]),
    ];
    await until(() => calls.length === 1);
    const more = [publisher.publish('t', [message('4')]), publisher.publish('t', [message('5')])];
    expect(calls).toHaveLength(1);
    calls[0]!.resolve();
    // Messages 3 and 4 make a full batch again: sent as soon as the request before them completed.
    await until(() => calls.length === 2);
    expect(calls.map((c) => count(c.batch))).toEqual([2, 2]);
    calls[1]!.resolve();
    await Promise.all(first);
    // Message 5 alone is not a full batch: it lingers (60 s here) rather than go out on its own.
    await new Promise((r) => setImmediate(r));
    expect(calls).toHaveLength(2);
    const flushed = publisher.flush();
    await until(() => calls.length === 3);
    expect(count(calls[2]!.batch)).toBe(1);
    calls[2]!.resolve();
    await flushed;
    await Promise.all(more);
  });

  it('counts the linger from the oldest waiting publish, not from the end of the last request', async () => {
    const { calls, sender } = controlledSender();
    let now = 0;
    const clock = { ...systemClock, now: () => now };
    const publisher = new KafkaPublisher(sender, options({ lingerMs: 20, clock }));
    const a = publisher.publish('t', [message('a')]);
    await until(() => calls.length === 1);
    // Arrives while the first request is in flight, 5 ms (on the clock) before it completes.
    const b = publisher.publish('t', [message('b')]);
    now += 5;
    calls[0]!.resolve();
    await a;
    // Published right after: b has lingered 5 of its 20 ms, so c joins it in one request.
    const c = publisher.publish('t', [message('c')]);
    await until(() => calls.length === 2);
    expect(calls[1]!.batch[0]!.messages.map((m) => m.key)).toEqual(['b', 'c']);
    calls[1]!.resolve();
    await Promise.all([b, c]);
  });

  // The linger is computed from clock.now(), a wall clock: stepped back an hour while a publish
  // waited, the publish was held for that hour (plus its linger) instead of at most its linger.
  it('never lingers longer than lingerMs when the wall clock steps back', async () => {
    const { calls, sender } = controlledSender();
    let now = 1_000_000_000;
    const clock = { ...systemClock, now: () => now };
    const publisher = new KafkaPublisher(sender, options({ lingerMs: 20, clock }));
    const a = publisher.publish('t', [message('a')]);
    await until(() => calls.length === 1);
    const b = publisher.publish('t', [message('b')]);
    now -= 3_600_000;
    calls[0]!.resolve();
    await a;
    await until(() => calls.length === 2);
    expect(calls[1]!.batch[0]!.messages.map((m) => m.key)).toEqual(['b']);
    calls[1]!.resolve();
    await b;
  });

  it('sends at once what has lingered long enough when the request before it completes', async () => {
    const { calls, sender } = controlledSender();
    let now = 0;
    const clock = { ...systemClock, now: () => now };
    const publisher = new KafkaPublisher(sender, options({ lingerMs: 60_000, clock }));
    const a = publisher.publish('t', [message('a')]);
    // Queued within the publish call: a flush() right after sends it.
    const flushed = publisher.flush();
    await until(() => calls.length === 1);
    const b = publisher.publish('t', [message('b')]);
    now += 60_000;
    calls[0]!.resolve();
    await until(() => calls.length === 2);
    expect(calls[1]!.batch[0]!.messages.map((m) => m.key)).toEqual(['b']);
    calls[1]!.resolve();
    await Promise.all([a, b, flushed]);
  });

  it('makes publish wait when the buffer is full and lets it through once there is room', async () => {
    const { calls, sender } = controlledSender();
    const publisher = new KafkaPublisher(sender, options({ lingerMs: 0, bufferBytes: 30, batchBytes: 30 }));
    const a = publisher.publish('t', [message('a', 25)]);
    let bDone = false;
    const b = publisher.publish('t', [message('b', 25)]).then(() => {
      bDone = true;
    });
    await until(() => calls.length === 1);
    expect(publisher.bufferedBytes).toBe(26);
    calls[0]!.resolve();
    await a;
    await until(() => calls.length === 2);
    expect(bDone).toBe(false);
    calls[1]!.resolve();
    await b;
  });

  it('fails with SWITCHYARD_BACKPRESSURE when the buffer stays full past bufferTimeoutMs', async () => {
    const { calls, sender } = controlledSender();
    const publisher = new KafkaPublisher(
      sender,
      options({ lingerMs: 0, bufferBytes: 30, batchBytes: 30, bufferTimeoutMs: 30 }),
    );
    const stuck = publisher.publish('t', [message('a', 25)]);
    await expect(publisher.publish('t', [message('b', 25)])).rejects.toMatchObject({
      code: 'SWITCHYARD_BACKPRESSURE',
      retryable: true,
    });
    calls[0]!.resolve();
    await stuck;
  });

  it('stops waiting for room when the caller aborts', async () => {
    const { calls, sender } = controlledSender();
    const publisher = new KafkaPublisher(sender, options({ lingerMs: 0, bufferBytes: 30, batchBytes: 30 }));
    const stuck = publisher.publish('t', [message('a', 25)]);
    const controller = new AbortController();
    const waiting = publisher.publish('t', [message('b', 25)], controller.signal);
    controller.abort(new Error('caller gave up'));
    await expect(waiting).rejects.toThrow('caller gave up');
    calls[0]!.resolve();
    await stuck;
  });

  it('lets a smaller publish that fits go ahead at once when the one waiting before it gives up', async () => {
    const { calls, sender } = controlledSender();
    // Each record counts its body and its 1-byte key: 26 bytes, and 6 for the small one.
    const publisher = new KafkaPublisher(sender, options({ lingerMs: 0, bufferBytes: 40, batchBytes: 40 }));
    const stuck = publisher.publish('t', [message('a', 25)]);
    await until(() => calls.length === 1);
    const controller = new AbortController();
    // 26 more do not fit; 6 would, but wait behind them (first come, first served).
    const large = publisher.publish('t', [message('b', 25)], controller.signal);
    let smallDone = false;
    const small = publisher.publish('t', [message('c', 5)]).then(() => {
      smallDone = true;
    });
    controller.abort(new Error('caller gave up'));
    await expect(large).rejects.toThrow('caller gave up');
    // The small one is admitted and sent now, not when the request in flight completes.
    await until(() => publisher.bufferedBytes === 32);
    calls[0]!.resolve();
    await stuck;
    await until(() => calls.length === 2);
    expect(count(calls[1]!.batch)).toBe(1);
    expect(smallDone).toBe(false);
    calls[1]!.resolve();
    await small;
  });

  it('rejects a publish larger than the whole buffer at once', async () => {
    const { sender } = controlledSender();
    const publisher = new KafkaPublisher(sender, options({ bufferBytes: 100, batchBytes: 100 }));
    await expect(publisher.publish('t', [message('big', 500)])).rejects.toMatchObject({
      code: 'SWITCHYARD_MESSAGE_TOO_LARGE',
    });
  });

  it('refuses delayed messages: Kafka cannot delay delivery', async () => {
    const { sender } = controlledSender();
    const publisher = new KafkaPublisher(sender, options());
    await expect(publisher.publish('t', [{ ...message('d'), delayMs: 1_000 }])).rejects.toMatchObject({
      code: 'SWITCHYARD_CAPABILITY',
    });
  });

  it('isolates a record the broker refuses so the rest of its batch is still written', async () => {
    const written: string[] = [];
    const sender = () => async (batch: readonly DriverTopicMessages[]) => {
      const keys = batch.flatMap((t) => t.messages.map((m) => String(m.key)));
      if (keys.includes('bad'))
        throw Object.assign(new Error('Message too large'), { type: 'MESSAGE_TOO_LARGE', retriable: false });
      written.push(...keys);
      return [];
    };
    const publisher = new KafkaPublisher(sender, options({ lingerMs: 20 }));
    const results = await Promise.allSettled([
      publisher.publish('t', [message('ok-1')]),
      publisher.publish('t', [message('bad')]),
      publisher.publish('t', [message('ok-2')]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({
      code: 'SWITCHYARD_MESSAGE_TOO_LARGE',
      retryable: false,
    });
    expect(written.sort()).toEqual(['ok-1', 'ok-2']);
  });

  it('reports a transient broker failure as a retryable SWITCHYARD_PUBLISH', async () => {
    const sender = () => async () => {
      throw Object.assign(new Error('Connection error'), { name: 'KafkaJSConnectionError', retriable: true });
    };
    const publisher = new KafkaPublisher(sender, options({ lingerMs: 0 }));
    await expect(publisher.publish('t', [message('x')])).rejects.toMatchObject({
      code: 'SWITCHYARD_PUBLISH',
      retryable: true,
    });
  });

  // group() spread each publish's messages into push(...), which overflows the stack past ~120,000
  // arguments: one publishBatch of 200,000 small messages (2 MB, well inside the buffer) failed with
  // "Maximum call stack size exceeded".
  it('sends one publish of 200,000 messages', async () => {
    const sent: number[] = [];
    const sender = () => async (batch: readonly DriverTopicMessages[]) => {
      sent.push(count(batch));
      return [];
    };
    const publisher = new KafkaPublisher(
      sender,
      options({ lingerMs: 0, batchBytes: 1_048_576, bufferBytes: 33_554_432 }),
    );
    const messages = Array.from({ length: 200_000 }, (_, i) => message(`m${i}`, 1));
    await publisher.publish('t', messages);
    expect(sent).toEqual([200_000]);
  });
});
