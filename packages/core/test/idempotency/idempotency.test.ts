import { describe, expect, it } from 'vitest';
import type { Envelope } from '../../src/envelope.js';
import { InvalidOptionError, isSwitchyardError, type SwitchyardError } from '../../src/errors.js';
import {
  Idempotency,
  type IdempotencyErrorContext,
  type IdempotencyOptions,
} from '../../src/idempotency/idempotency.js';
import { MemoryIdempotencyStore } from '../../src/idempotency/memory-store.js';
import { payloadHash } from '../../src/idempotency/payload-hash.js';
import type { IdempotencyStore } from '../../src/ports/idempotency.js';
import { deferred } from '../support/deferred.js';
import { FakeClock, settle } from '../support/fake-clock.js';

function envelope(id: string, payload: unknown, extra: Partial<Envelope> = {}): Envelope {
  return {
    id,
    type: 'PaymentRequested',
    key: 'customer-1',
    payload,
    headers: {},
    timestamp: 0,
    attempt: 1,
    correlationId: undefined,
    causationId: undefined,
    traceContext: {},
    source: { kind: 'queue', queue: 'payments', messageId: id, receiveCount: 1 },
    schemaVersion: undefined,
    ...extra,
  };
}

/** A store that records every call, around a real memory store. */
class RecordingStore implements IdempotencyStore {
  readonly calls: string[] = [];
  readonly inner: MemoryIdempotencyStore;
  renewResult: boolean | 'throw' | undefined;
  completeThrows = false;
  constructor(clock: FakeClock) {
    this.inner = new MemoryIdempotencyStore({ clock });
  }
  async claim(request: Parameters<IdempotencyStore['claim']>[0]) {
    const result = await this.inner.claim(request);
    this.calls.push(`claim ${request.key} -> ${result.status}`);
    return result;
  }
  async renew(key: string, token: string, leaseMs: number) {
    this.calls.push(`renew ${key} ${leaseMs}`);
    if (this.renewResult === 'throw') throw new Error('redis timeout');
    if (this.renewResult !== undefined) return this.renewResult;
    return this.inner.renew(key, token, leaseMs);
  }
  async complete(key: string, token: string, options: { ttlMs: number; result?: string }) {
    this.calls.push(`complete ${key} ttl=${options.ttlMs}`);
    if (this.completeThrows) throw new Error('connection reset');
    return this.inner.complete(key, token, options);
  }
  async release(key: string, token: string) {
    this.calls.push(`release ${key}`);
    return this.inner.release(key, token);
  }
}

function setup(options: Partial<IdempotencyOptions> = {}) {
  const clock = new FakeClock(0);
  const store = new RecordingStore(clock);
  const errors: Array<[string, IdempotencyErrorContext]> = [];
  const idempotency = new Idempotency({
    store,
    ttlMs: 86_400_000,
    leaseMs: 30_000,
    clock,
    onError: (error, context) => errors.push([(error as Error).message, context]),
    ...options,
  });
  return { clock, store, idempotency, errors };
}

async function caught(promise: Promise<unknown>): Promise<SwitchyardError> {
  try {
    await promise;
  } catch (error) {
    if (isSwitchyardError(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('Idempotency', () => {
  it('runs a message once and reports its redelivery as a duplicate', async () => {
    const { idempotency, store } = setup();
    let runs = 0;
    const handler = async () => {
      runs += 1;
      return 'charged';
    };
    expect(await idempotency.run(envelope('m-1', { amount: 10 }), handler)).toEqual({
      status: 'executed',
      result: 'charged',
    });
    expect(await idempotency.run(envelope('m-1', { amount: 10 }), handler)).toEqual({ status: 'duplicate' });
    expect(runs).toBe(1);
    expect(store.calls).toEqual(['claim m-1 -> claimed', 'complete m-1 ttl=86400000', 'claim m-1 -> completed']);
  });

  it('keys by a business key when one is given', async () => {
    const { idempotency } = setup({ key: (e) => `payment:${(e.payload as { paymentId: string }).paymentId}` });
    let runs = 0;
    const handler = async () => {
      runs += 1;
    };
    await idempotency.run(envelope('m-1', { paymentId: 'p-9' }), handler);
    // A producer retry published the same payment under a new message id.
    expect(await idempotency.run(envelope('m-2', { paymentId: 'p-9' }), handler)).toEqual({ status: 'duplicate' });
    expect(runs).toBe(1);
  });

  it('rejects the same key with a different payload, without running it', async () => {
    const { idempotency } = setup();
    await idempotency.run(envelope('m-1', { amount: 10 }), async () => {});
    let ran = false;
    const error = await caught(
      idempotency.run(envelope('m-1', { amount: 99 }), async () => {
        ran = true;
      }),
    );
    expect(error.code).toBe('SWITCHYARD_IDEMPOTENCY_PAYLOAD_MISMATCH');
    expect(error.retryable).toBe(false);
    expect(error.details).toEqual({
      key: 'm-1',
      storedPayloadHash: payloadHash({ amount: 10 }),
      payloadHash: payloadHash({ amount: 99 }),
    });
    expect(ran).toBe(false);
  });

  it('runs a changed payload once under its own key with treat-as-new', async () => {
    const { idempotency, store } = setup({ onPayloadMismatch: 'treat-as-new' });
    let runs = 0;
    const handler = async () => {
      runs += 1;
    };
    await idempotency.run(envelope('m-1', { amount: 10 }), handler);
    expect(await idempotency.run(envelope('m-1', { amount: 99 }), handler)).toEqual({
      status: 'executed',
      result: undefined,
    });
    expect(await idempotency.run(envelope('m-1', { amount: 99 }), handler)).toEqual({ status: 'duplicate' });
    expect(await idempotency.run(envelope('m-1', { amount: 10 }), handler)).toEqual({ status: 'duplicate' });
    expect(runs).toBe(2);
    const derived = `m-1#${payloadHash({ amount: 99 })}`;
    expect(store.calls).toContain(`claim ${derived} -> claimed`);
  });

  it('skips a duplicate of a changed payload for its whole TTL under treat-as-new, whatever became of the first', async () => {
    const { idempotency, clock } = setup({ onPayloadMismatch: 'treat-as-new', ttlMs: 1_000 });
    let runs = 0;
    const handler = async () => {
      runs += 1;
    };
    await idempotency.run(envelope('m-1', { amount: 10 }), handler);
    clock.set(900);
    await idempotency.run(envelope('m-1', { amount: 99 }), handler);
    // The first payload's record has expired; the second's runs until 1 900.
    clock.set(1_000);
    expect(await idempotency.run(envelope('m-1', { amount: 99 }), handler)).toEqual({ status: 'duplicate' });
    expect(runs).toBe(2);
  });

  it('compares only the part hashOf picks', async () => {
    const { idempotency } = setup({ hashOf: (e) => (e.payload as { order: unknown }).order });
    await idempotency.run(envelope('m-1', { order: { id: 1 }, sentAt: 'T1' }), async () => {});
    expect(await idempotency.run(envelope('m-1', { order: { id: 1 }, sentAt: 'T2' }), async () => {})).toEqual({
      status: 'duplicate',
    });
  });

  it('tells a concurrent duplicate to retry after the lease, with the lease expiry', async () => {
    const { idempotency } = setup();
    const gate = deferred();
    const first = idempotency.run(envelope('m-1', {}), () => gate.promise);
    await settle();
    const error = await caught(idempotency.run(envelope('m-1', {}), async () => {}));
    expect(error.code).toBe('SWITCHYARD_IDEMPOTENCY_IN_PROGRESS');
    expect(error.retryable).toBe(true);
    expect(error.details).toEqual({ key: 'm-1', leaseExpiresAt: 30_000 });
    gate.resolve();
    expect(await first).toEqual({ status: 'executed', result: undefined });
  });

  it('releases the key when the handler throws, rethrows the same error, and runs the next delivery', async () => {
    const { idempotency, store } = setup();
    const failure = new Error('downstream 503');
    await expect(
      idempotency.run(envelope('m-1', {}), async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(store.calls).toEqual(['claim m-1 -> claimed', 'release m-1']);
    expect(await idempotency.run(envelope('m-1', {}), async () => 'second try')).toEqual({
      status: 'executed',
      result: 'second try',
    });
  });

  it('renews the lease every leaseMs/3 while the handler runs, and stops after', async () => {
    const { clock, idempotency, store } = setup({ leaseMs: 30_000 });
    const gate = deferred<string>();
    const run = idempotency.run(envelope('m-1', {}), () => gate.promise);
    await settle();
    expect(clock.pending).toEqual([10_000]);
    await clock.advance(10_000);
    await clock.advance(10_000);
    await clock.advance(10_000);
    await clock.advance(10_000); // 40 s: past the original lease, still held
    expect(store.calls.filter((c) => c.startsWith('renew'))).toEqual([
      'renew m-1 30000',
      'renew m-1 30000',
      'renew m-1 30000',
      'renew m-1 30000',
    ]);
    const other = await store.inner.claim({ key: 'm-1', payloadHash: 'x', leaseMs: 30_000 });
    expect(other).toEqual({ status: 'in-progress', leaseExpiresAt: 70_000 });
    gate.resolve('done');
    expect(await run).toEqual({ status: 'executed', result: 'done' });
    expect(clock.pending).toEqual([]);
    await clock.advance(60_000);
    expect(store.calls.filter((c) => c.startsWith('renew'))).toHaveLength(4);
  });

  it('takes over the key of a holder that crashed once its lease lapsed', async () => {
    const { clock, idempotency, store } = setup({ leaseMs: 30_000 });
    // A consumer claimed m-1 and died without releasing it.
    await store.inner.claim({ key: 'm-1', payloadHash: payloadHash({}), leaseMs: 30_000 });
    expect((await caught(idempotency.run(envelope('m-1', {}), async () => {}))).code).toBe(
      'SWITCHYARD_IDEMPOTENCY_IN_PROGRESS',
    );
    clock.set(30_000);
    expect(await idempotency.run(envelope('m-1', {}), async () => 'recovered')).toEqual({
      status: 'executed',
      result: 'recovered',
    });
  });

  it('keeps renewing through store errors and reports them', async () => {
    const { clock, idempotency, store, errors } = setup({ leaseMs: 3_000 });
    store.renewResult = 'throw';
    const gate = deferred();
    const run = idempotency.run(envelope('m-1', {}), () => gate.promise);
    await settle();
    await clock.advance(1_000);
    await clock.advance(1_000);
    expect(errors).toEqual([
      ['redis timeout', { operation: 'renew', key: 'm-1' }],
      ['redis timeout', { operation: 'renew', key: 'm-1' }],
    ]);
    expect(clock.pending).toEqual([1_000]);
    gate.resolve();
    await run;
  });

  it('stops renewing once the lease is lost, and reports it', async () => {
    const { clock, idempotency, store, errors } = setup({ leaseMs: 3_000 });
    store.renewResult = false;
    const gate = deferred();
    const run = idempotency.run(envelope('m-1', {}), () => gate.promise);
    await settle();
    await clock.advance(1_000);
    expect(errors.map(([message, context]) => [message.startsWith('lost the idempotency lease'), context])).toEqual([
      [true, { operation: 'renew', key: 'm-1' }],
    ]);
    expect(clock.pending).toEqual([]);
    gate.resolve();
    await run;
  });

  it('reports the handler as executed when completing fails afterwards, so the message is not run again now', async () => {
    const { idempotency, store, errors } = setup();
    store.completeThrows = true;
    expect(await idempotency.run(envelope('m-1', {}), async () => 'sent')).toEqual({
      status: 'executed',
      result: 'sent',
    });
    expect(errors).toEqual([['connection reset', { operation: 'complete', key: 'm-1' }]]);
  });

  it('does not claim when the delivery is already aborted', async () => {
    const { idempotency, store } = setup();
    const reason = new Error('lease lapsed');
    await expect(
      idempotency.run(envelope('m-1', {}), async () => {}, { signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason);
    expect(store.calls).toEqual([]);
  });

  it('rejects an empty key from the key function', async () => {
    const { idempotency } = setup({ key: () => '' });
    await expect(idempotency.run(envelope('m-1', {}), async () => {})).rejects.toThrow(/idempotency\.key/);
  });

  describe('validation', () => {
    const store = new MemoryIdempotencyStore();
    const cases: Array<[string, unknown, string]> = [
      ['no options', undefined, 'idempotency'],
      ['a missing store', { ttlMs: 1_000 }, 'idempotency.store'],
      [
        'a store without release',
        { store: { claim() {}, renew() {}, complete() {} }, ttlMs: 1_000 },
        'idempotency.store',
      ],
      ['a missing ttl', { store }, 'idempotency.ttlMs'],
      ['a zero ttl', { store, ttlMs: 0 }, 'idempotency.ttlMs'],
      ['a tiny lease', { store, ttlMs: 1_000, leaseMs: 1 }, 'idempotency.leaseMs'],
      [
        'an unknown mismatch mode',
        { store, ttlMs: 1_000, onPayloadMismatch: 'ignore' },
        'idempotency.onPayloadMismatch',
      ],
      ['a key that is not a function', { store, ttlMs: 1_000, key: 'id' }, 'idempotency.key'],
      ['a hashOf that is not a function', { store, ttlMs: 1_000, hashOf: 'payload' }, 'idempotency.hashOf'],
    ];
    it.each(cases)('rejects %s, naming the option', (_, options, option) => {
      try {
        new Idempotency(options as IdempotencyOptions);
        expect.unreachable('constructor should have thrown');
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidOptionError);
        expect((error as InvalidOptionError).option).toBe(option);
      }
    });

    it('fills the defaults', () => {
      const idempotency = new Idempotency({ store, ttlMs: 1_000 });
      expect([idempotency.leaseMs, idempotency.onPayloadMismatch]).toEqual([30_000, 'reject']);
    });
  });
});
