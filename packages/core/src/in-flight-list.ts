// A doubly linked list threaded through its items, oldest first, for what is held per message in
// flight (deliveries not started yet, handlers running, a Kafka partition's unsettled records). A
// Set or a Map did the same job, but one that fills and empties with every burst of messages keeps
// reallocating its table as it grows and shrinks (and a Map keyed by offset hashed a fresh string
// per record); linking the items themselves makes adding and removing O(1) without allocating.

/** An item that can be in one InFlightList: the list owns these fields. */
export interface Linked<T> {
  /** The item added before this one (older), while listed. */
  prev: T | undefined;
  /** The item added after this one (newer), while listed. */
  next: T | undefined;
  listed: boolean;
}

export class InFlightList<T extends Linked<T>> {
  #oldest: T | undefined;
  #newest: T | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** The item added longest ago that is still listed. */
  oldest(): T | undefined {
    return this.#oldest;
  }

  /** Appends the item as the newest; a listed item stays where it is. */
  add(item: T): void {
    if (item.listed) return;
    item.listed = true;
    item.prev = this.#newest;
    item.next = undefined;
    if (this.#newest === undefined) this.#oldest = item;
    else this.#newest.next = item;
    this.#newest = item;
    this.#size += 1;
  }

  delete(item: T): void {
    if (!item.listed) return;
    item.listed = false;
    if (item.prev === undefined) this.#oldest = item.next;
    else item.prev.next = item.next;
    if (item.next === undefined) this.#newest = item.prev;
    else item.next.prev = item.prev;
    item.prev = undefined;
    item.next = undefined;
    this.#size -= 1;
  }

  /** The items now, oldest first: a copy, so callers may remove items while they go through it. */
  snapshot(): T[] {
    const items: T[] = [];
    for (let item = this.#oldest; item !== undefined; item = item.next) items.push(item);
    return items;
  }
}
