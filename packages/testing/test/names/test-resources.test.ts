import { describe, expect, it } from 'vitest';
import { TestResources } from '../../src/index.js';

describe('TestResources', () => {
  it('runs cleanups newest first', async () => {
    const resources = new TestResources();
    const order: string[] = [];
    resources.track(() => order.push('queue deleted'));
    resources.track(async () => order.push('subscription closed'));
    expect(resources.size).toBe(2);
    await resources.cleanup();
    expect(order).toEqual(['subscription closed', 'queue deleted']);
    expect(resources.size).toBe(0);
  });

  it('runs every cleanup even when some fail, then reports all failures', async () => {
    const resources = new TestResources();
    const ran: string[] = [];
    resources.track(() => ran.push('first'), 'delete topic a');
    resources.track(() => {
      throw new Error('broker gone');
    }, 'delete topic b');
    resources.track(() => ran.push('third'), 'delete topic c');
    const error = await resources.cleanup().catch((e: unknown) => e);
    expect(ran).toEqual(['third', 'first']);
    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).message).toContain('delete topic b');
    expect((error as AggregateError).errors).toHaveLength(1);
  });

  it('lets a cleanup run early, once', async () => {
    const resources = new TestResources();
    let runs = 0;
    const early = resources.track(() => {
      runs++;
    });
    await early();
    await early();
    await resources.cleanup();
    expect(runs).toBe(1);
  });

  it('hands back an added resource and disposes it on cleanup', async () => {
    const resources = new TestResources();
    const closed: string[] = [];
    const client = resources.add({ id: 'client-1' }, (c) => closed.push(c.id));
    expect(client.id).toBe('client-1');
    await resources.cleanup();
    expect(closed).toEqual(['client-1']);
  });

  it('remembers the names it handed out until cleanup', async () => {
    const resources = new TestResources();
    const topic = resources.name('orders');
    const queue = resources.name('payments');
    expect(resources.names).toEqual([topic, queue]);
    await resources.cleanup();
    expect(resources.names).toEqual([]);
  });

  it('is reusable after cleanup', async () => {
    const resources = new TestResources();
    const ran: number[] = [];
    resources.track(() => ran.push(1));
    await resources.cleanup();
    resources.track(() => ran.push(2));
    await resources.cleanup();
    expect(ran).toEqual([1, 2]);
  });
});
