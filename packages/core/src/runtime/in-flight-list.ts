// A doubly linked list threaded through its items, for what the runtime holds per message in flight
// (deliveries not started yet, handlers running). A Set did the same job, but one that fills and
// empties with every burst of messages keeps reallocating its table as it grows and shrinks; linking
// the items themselves makes adding and removing O(1) without allocating.

/** An item that can be in one InFlightList: the list owns these fields. */
export interface Linked<T> {
  prev: T | undefined;
  next: T | undefined;
  listed: boolean;
}

export class InFlightList<T extends Linked<T>> {
  #head: T | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(item: T): void {
    if (item.listed) return;
    item.listed = true;
    item.prev = undefined;
    item.next = this.#head;
    if (this.#head !== undefined) this.#head.prev = item;
    this.#head = item;
    this.#size += 1;
  }

  delete(item: T): void {
    if (!item.listed) return;
    item.listed = false;
    if (item.prev !== undefined) item.prev.next = item.next;
    else this.#head = item.next;
    if (item.next !== undefined) item.next.prev = item.prev;
    item.prev = undefined;
    item.next = undefined;
    this.#size -= 1;
  }

  /** The items now, newest first: a copy, so callers may remove items while they go through it. */
  snapshot(): T[] {
    const items: T[] = [];
    for (let item = this.#head; item !== undefined; item = item.next) items.push(item);
    return items;
  }
}
