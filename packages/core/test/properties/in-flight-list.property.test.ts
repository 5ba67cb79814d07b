// Property tests for InFlightList (oldest-first, O(1) add/delete, links threaded through the
// items): random add / delete / delete-while-going-through-a-snapshot sequences against a plain
// array model; order, size, oldest and every item's own links are compared after every step.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InFlightList, type Linked } from '../../src/in-flight-list.js';

const RUNS = { numRuns: 200 };

interface Item extends Linked<Item> {
  readonly id: number;
}

const POOL = 8;
const listOp = fc.oneof(
  fc.record({ kind: fc.constant('add' as const), id: fc.nat({ max: POOL - 1 }) }),
  fc.record({ kind: fc.constant('delete' as const), id: fc.nat({ max: POOL - 1 }) }),
  // go through a snapshot, deleting some of the items on the way (as a partition revoke does)
  fc.record({ kind: fc.constant('drain' as const), mask: fc.nat({ max: 2 ** POOL - 1 }) }),
);

describe('InFlightList (properties)', () => {
  it('keeps the listed items in the order they were added, whatever leaves when', () => {
    fc.assert(
      fc.property(fc.array(listOp, { maxLength: 80, size: 'max' }), (ops) => {
        const items: Item[] = Array.from({ length: POOL }, (_, id) => ({
          id,
          prev: undefined,
          next: undefined,
          listed: false,
        }));
        const list = new InFlightList<Item>();
        let model: number[] = [];
        for (const op of ops) {
          if (op.kind === 'add') {
            list.add(items[op.id]!);
            if (!model.includes(op.id)) model.push(op.id);
          } else if (op.kind === 'delete') {
            list.delete(items[op.id]!);
            model = model.filter((id) => id !== op.id);
          } else {
            for (const item of list.snapshot())
              if ((op.mask >> item.id) & 1) {
                list.delete(item);
                model = model.filter((id) => id !== item.id);
              }
          }
          // Order, size, oldest; and the links the list owns: consistent both ways, none on unlisted items.
          const links = (item: Item) => [item.id, item.listed, item.prev?.id, item.next?.id];
          const expectedLinks = items.map((item) => {
            const at = model.indexOf(item.id);
            return [item.id, at >= 0, at > 0 ? model[at - 1] : undefined, at >= 0 ? model[at + 1] : undefined];
          });
          expect([list.snapshot().map((i) => i.id), list.size, list.oldest()?.id, items.map(links)]).toEqual([
            model,
            model.length,
            model[0],
            expectedLinks,
          ]);
        }
      }),
      RUNS,
    );
  });
});
