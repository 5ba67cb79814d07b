// In-flight items (a Kafka partition's unsettled deliveries, for one): oldest first whatever order
// they leave in (the oldest one is what the long-handler check and lag look at), O(1) removal, and a
// snapshot safe to empty the list by.
import { describe, expect, it } from 'vitest';
import { InFlightList, type Linked } from '../src/in-flight-list.js';

interface UnsettledDelivery extends Linked<UnsettledDelivery> {
  readonly offset: string;
}

const delivery = (offset: string): UnsettledDelivery => ({
  offset,
  prev: undefined,
  next: undefined,
  listed: false,
});

const offsets = (list: InFlightList<UnsettledDelivery>) => list.snapshot().map((d) => d.offset);

describe('InFlightList', () => {
  it('keeps hand-over order as deliveries settle from the middle, the front and the back', () => {
    const list = new InFlightList<UnsettledDelivery>();
    const [a, b, c, d] = ['1', '2', '3', '4'].map(delivery) as [
      UnsettledDelivery,
      UnsettledDelivery,
      UnsettledDelivery,
      UnsettledDelivery,
    ];
    for (const x of [a, b, c, d]) list.add(x);
    expect([list.size, list.oldest()?.offset]).toEqual([4, '1']);
    list.delete(b);
    expect(offsets(list)).toEqual(['1', '3', '4']);
    list.delete(a);
    expect([list.oldest()?.offset, list.size]).toEqual(['3', 2]);
    list.delete(d);
    list.add(delivery('5'));
    expect(offsets(list)).toEqual(['3', '5']);
  });

  it('ignores a second add or delete of the same delivery', () => {
    const list = new InFlightList<UnsettledDelivery>();
    const a = delivery('7');
    list.add(a);
    list.add(a);
    expect(list.size).toBe(1);
    list.delete(a);
    list.delete(a);
    expect([list.size, list.oldest()]).toEqual([0, undefined]);
  });

  it('can be emptied while going through its snapshot', () => {
    const list = new InFlightList<UnsettledDelivery>();
    for (const o of ['1', '2', '3']) list.add(delivery(o));
    for (const x of list.snapshot()) list.delete(x);
    expect([list.size, list.oldest(), offsets(list)]).toEqual([0, undefined, []]);
  });
});
