import { describe, expect, it } from 'vitest';
import { hasCode } from '../../src/errors.js';
import { MemoryBroker } from '../../src/memory/broker.js';
import { readFanoutEnvelope } from '../../src/memory/fanout.js';
import { outgoing, text } from './helpers.js';

function setup() {
  const broker = new MemoryBroker();
  broker.createFanout('order-events');
  for (const q of ['billing', 'shipping', 'audit']) broker.createQueue(q);
  return broker;
}

const bodies = (broker: MemoryBroker, queue: string) => broker.messages(queue).map((m) => text(m.body));

describe('fan-out', () => {
  it('copies each published message to every subscribed queue', () => {
    const broker = setup();
    broker.subscribe('order-events', 'billing');
    broker.subscribe('order-events', 'shipping');
    const delivered = broker.fanoutPublish('order-events', [outgoing('placed'), outgoing('paid')]);
    expect(delivered).toEqual([
      ['billing', 'shipping'],
      ['billing', 'shipping'],
    ]);
    expect(bodies(broker, 'billing')).toEqual(['placed', 'paid']);
    expect(bodies(broker, 'shipping')).toEqual(['placed', 'paid']);
    expect(bodies(broker, 'audit')).toEqual([]);
    // Each copy is its own message.
    expect(broker.messages('billing')[0]!.messageId).not.toBe(broker.messages('shipping')[0]!.messageId);
  });

  it('delivers only to subscriptions whose filter accepts the headers and body', () => {
    const broker = setup();
    broker.subscribe('order-events', 'billing', { filter: (headers) => headers['sy-type'] === 'OrderPaid' });
    broker.subscribe('order-events', 'audit', { filter: (_h, body) => text(body).includes('vip') });
    broker.publish('order-events', [
      outgoing('placed', { headers: { 'sy-type': 'OrderPlaced' } }),
      outgoing('paid', { headers: { 'sy-type': 'OrderPaid' } }),
      outgoing('vip placed', { headers: { 'sy-type': 'OrderPlaced' } }),
    ]);
    expect(bodies(broker, 'billing')).toEqual(['paid']);
    expect(bodies(broker, 'audit')).toEqual(['vip placed']);
  });

  it('wraps the message in a notification envelope unless the subscription is raw', () => {
    const broker = setup();
    broker.subscribe('order-events', 'billing', { raw: false });
    broker.subscribe('order-events', 'shipping');
    broker.publish('order-events', [outgoing('{"id":1}', { headers: { 'sy-type': 'OrderPlaced' } })]);
    const [wrapped] = broker.messages('billing');
    expect(wrapped!.enveloped).toBe(true);
    expect(wrapped!.headers).toEqual({});
    const parsed = JSON.parse(text(wrapped!.body));
    expect(parsed).toMatchObject({
      Type: 'Notification',
      TopicArn: 'arn:aws:sns:memory:000000000000:order-events',
      Message: '{"id":1}',
      MessageAttributes: { 'sy-type': { Type: 'String', Value: 'OrderPlaced' } },
    });
    const unwrapped = readFanoutEnvelope(wrapped!.body);
    expect(text(unwrapped.body)).toBe('{"id":1}');
    expect(unwrapped.headers).toEqual({ 'sy-type': 'OrderPlaced' });
    expect(broker.messages('shipping')[0]).toMatchObject({ enveloped: false, headers: { 'sy-type': 'OrderPlaced' } });
  });

  it('refuses a non-UTF-8 body on a subscription without raw delivery, as SNS carries text only', () => {
    const broker = setup();
    broker.subscribe('order-events', 'billing', { raw: false });
    let error: unknown;
    try {
      broker.publish('order-events', [{ ...outgoing(''), body: new Uint8Array([0xff, 0xfe]) }]);
    } catch (e) {
      error = e;
    }
    expect(hasCode(error, 'SWITCHYARD_PUBLISH')).toBe(true);
  });

  it('delivers nothing anywhere when a filter throws', () => {
    const broker = setup();
    broker.subscribe('order-events', 'billing');
    broker.subscribe('order-events', 'shipping', {
      filter: () => {
        throw new Error('bad filter');
      },
    });
    expect(() => broker.publish('order-events', [outgoing('x')])).toThrow(/filter of subscription/);
    expect(bodies(broker, 'billing')).toEqual([]);
  });

  it('stops delivering to a queue once unsubscribed', () => {
    const broker = setup();
    const unsubscribe = broker.subscribe('order-events', 'billing');
    broker.publish('order-events', [outgoing('before')]);
    unsubscribe();
    broker.publish('order-events', [outgoing('after')]);
    expect(bodies(broker, 'billing')).toEqual(['before']);
  });

  it('fans out to FIFO queues with the key as the message group and the message id as dedup id', () => {
    const broker = setup();
    broker.createQueue('ledger.fifo');
    broker.subscribe('order-events', 'ledger.fifo');
    const m = outgoing('paid', { key: 'order-1' });
    broker.publish('order-events', [m, m]);
    expect(broker.messages('ledger.fifo').map((x) => [x.groupId, x.deduplicationId])).toEqual([['order-1', m.id]]);
  });

  it('subscribes only existing queues', () => {
    const broker = setup();
    expect(() => broker.subscribe('order-events', 'nope')).toThrow(/no queue named 'nope'/);
    expect(() => broker.subscribe('nope', 'billing')).toThrow(/no fanout named 'nope'/);
  });
});
