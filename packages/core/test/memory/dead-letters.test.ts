import { describe, expect, it } from 'vitest';
import type { DeadLetterRecord } from '../../src/dead-letter.js';
import {
  DeadLetterHeaders,
  deadLetterHeaderLimits,
  deadLetterHeaders,
  readDeadLetterHeaders,
} from '../../src/dead-letter-headers.js';
import { MemoryBroker } from '../../src/memory/broker.js';
import { FakeClock } from '../support/fake-clock.js';
import { bytes, text } from './helpers.js';

const queueRecord: DeadLetterRecord = {
  source: { kind: 'queue', queue: 'payments', messageId: 'sqs-1', receiveCount: 4, groupId: 'acct-9' },
  consumerGroup: 'payments-worker',
  messageId: 'env-1',
  messageType: 'ChargeCard',
  attempts: 4,
  firstFailureAt: Date.UTC(2025, 0, 1, 10, 0, 0, 123),
  lastFailureAt: Date.UTC(2025, 0, 1, 10, 5, 0, 456),
  reason: 'retries-exhausted',
  error: {
    className: 'HttpError',
    code: 'SWITCHYARD_HANDLER',
    message: 'gateway 503',
    stack: 'HttpError: gateway 503',
  },
  body: bytes('{"amount":5}'),
  headers: { 'sy-type': 'ChargeCard', traceparent: '00-abc-def-01' },
  key: 'acct-9',
};

describe('dead-letter headers', () => {
  it('round-trips every record field except the body, keeping the original headers unchanged', () => {
    const headers = deadLetterHeaders(queueRecord);
    expect(headers['sy-type']).toBe('ChargeCard');
    expect(headers.traceparent).toBe('00-abc-def-01');
    expect(headers[DeadLetterHeaders.firstFailureAt]).toBe('2025-01-01T10:00:00.123Z');
    const { body: _body, ...expected } = queueRecord;
    expect(readDeadLetterHeaders(headers)).toEqual(expected);
  });

  it('round-trips a log source and marks a tombstone', () => {
    const record: DeadLetterRecord = {
      ...queueRecord,
      source: { kind: 'log', topic: 'orders', partition: 2, offset: '9007199254740993', consumerGroup: 'billing' },
      consumerGroup: 'billing',
      body: null,
      key: undefined,
    };
    const read = readDeadLetterHeaders(deadLetterHeaders(record));
    expect(read.source).toEqual(record.source);
    expect(read.body).toBeNull();
    expect(read.key).toBeUndefined();
  });

  it('replaces the headers of an earlier dead-lettering instead of piling them up', () => {
    const once = deadLetterHeaders({ ...queueRecord, error: { ...queueRecord.error, code: 'OLD_CODE' } });
    const twice = deadLetterHeaders({
      ...queueRecord,
      headers: once,
      reason: 'validation',
      error: { className: 'ZodError', code: undefined, message: 'bad', stack: undefined },
    });
    expect(twice[DeadLetterHeaders.reason]).toBe('validation');
    expect(twice[DeadLetterHeaders.errorCode]).toBeUndefined();
    expect(twice[DeadLetterHeaders.errorStack]).toBeUndefined();
    expect(readDeadLetterHeaders(twice).headers).toEqual(queueRecord.headers);
  });

  it('caps the error message and stack', () => {
    const headers = deadLetterHeaders({
      ...queueRecord,
      error: { className: 'E', code: undefined, message: 'm'.repeat(10_000), stack: 's'.repeat(20_000) },
    });
    expect(headers[DeadLetterHeaders.errorMessage]).toHaveLength(deadLetterHeaderLimits.errorMessage);
    expect(headers[DeadLetterHeaders.errorStack]).toHaveLength(deadLetterHeaderLimits.errorStack);
  });

  it('reads names case-insensitively and leaves malformed fields out', () => {
    const read = readDeadLetterHeaders({
      'SY-DLQ-REASON': 'decode',
      'sy-dlq-attempts': 'many',
      'sy-dlq-first-failure-at': 'yesterday',
    });
    expect(read).toEqual({ reason: 'decode', headers: {} });
  });
});

function withDeadLetters(count: number) {
  const clock = new FakeClock();
  const broker = new MemoryBroker({ clock });
  broker.createQueue('payments');
  broker.createQueue('payments-dlq');
  for (let i = 0; i < count; i++)
    broker.writeDeadLetter('payments-dlq', {
      ...queueRecord,
      source: { kind: 'queue', queue: 'payments', messageId: `sqs-${i}`, receiveCount: 4 },
      body: bytes(`charge-${i}`),
    });
  return { clock, broker };
}

describe('DLQ inspection and redrive', () => {
  it('lists dead letters with their records without consuming them', async () => {
    const { broker } = withDeadLetters(3);
    const entries = broker.inspectDeadLetters('payments-dlq', { limit: 2 });
    expect(entries.map((e) => text(e.body))).toEqual(['charge-0', 'charge-1']);
    expect(entries[0]).toMatchObject({
      source: { kind: 'queue', name: 'payments' },
      nativeRedrive: false,
      originalHeaders: queueRecord.headers,
      record: { reason: 'retries-exhausted', attempts: 4, error: { message: 'gateway 503' } },
    });
    // Still there, still receivable, receive count untouched.
    expect(broker.depth('payments-dlq')).toMatchObject({ visible: 3, inFlight: 0 });
    expect(broker.messages('payments-dlq').every((m) => m.receiveCount === 0)).toBe(true);
  });

  it('lists messages moved by the redrive policy with their source queue', async () => {
    const clock = new FakeClock();
    const broker = new MemoryBroker({ clock });
    broker.createQueue('dlq');
    broker.createQueue('q', { maxReceiveCount: 1, deadLetterQueue: 'dlq', visibilityTimeoutMs: 1_000 });
    broker.send('q', [{ body: bytes('x') }]);
    await broker.receive('q');
    await clock.advance(1_000);
    await broker.receive('q');
    expect(broker.inspectDeadLetters('dlq')).toMatchObject([
      { nativeRedrive: true, source: { kind: 'queue', name: 'q' } },
    ]);
  });

  it('redrives each message exactly once to its source, at the given rate', async () => {
    const { broker, clock } = withDeadLetters(3);
    let result: Awaited<ReturnType<MemoryBroker['redrive']>> | undefined;
    const running = broker.redrive({ from: 'payments-dlq', ratePerSecond: 2 }).then((r) => {
      result = r;
    });
    await clock.advance(0);
    // The first goes at once (burst 1); the next wait for tokens at 2 per second.
    expect(broker.messages('payments').map((m) => text(m.body))).toEqual(['charge-0']);
    await clock.advance(499);
    expect(broker.messages('payments')).toHaveLength(1);
    await clock.advance(1);
    expect(broker.messages('payments')).toHaveLength(2);
    await clock.advance(500);
    await running;
    expect(result).toEqual({ moved: 3, failed: [], remaining: 0, stopped: 'drained' });
    const moved = broker.messages('payments');
    expect(moved.map((m) => text(m.body))).toEqual(['charge-0', 'charge-1', 'charge-2']);
    // Back to the original headers, fresh receive count, no sy-dlq-* left.
    expect(moved[0]!.headers).toEqual(queueRecord.headers);
    expect(moved[0]!.receiveCount).toBe(0);
    expect(broker.messages('payments-dlq')).toEqual([]);
  });

  it('stops after max, or when aborted, leaving the rest in the DLQ', async () => {
    const { broker, clock } = withDeadLetters(4);
    broker.createQueue('elsewhere');
    const limited = await broker.redrive({
      from: 'payments-dlq',
      to: 'elsewhere',
      ratePerSecond: 1_000,
      burst: 10,
      max: 2,
    });
    expect(limited).toMatchObject({ moved: 2, remaining: 2, stopped: 'max' });
    expect(broker.messages('elsewhere')).toHaveLength(2);
    const abort = new AbortController();
    const running = broker.redrive({ from: 'payments-dlq', ratePerSecond: 1, signal: abort.signal });
    await clock.advance(0);
    abort.abort();
    expect(await running).toMatchObject({ moved: 1, remaining: 1, stopped: 'aborted' });
  });

  it('skips a message it cannot move and reports it, moving the others', async () => {
    const { broker } = withDeadLetters(1);
    broker.send('payments-dlq', [{ body: bytes('no source') }]);
    const result = await broker.redrive({ from: 'payments-dlq', ratePerSecond: 1_000, burst: 10 });
    expect(result.moved).toBe(1);
    expect(result.failed.map((f) => String(f.error))).toEqual([expect.stringMatching(/names no source/)]);
    expect(broker.messages('payments-dlq').map((m) => text(m.body))).toEqual(['no source']);
  });
});
