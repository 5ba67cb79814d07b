// A map that remembers use order, with O(1) touch and evict-oldest. A plain Map keeps insertion
// order, but in V8 removing its first entries leaves holes that every later "first entry" lookup
// walks past until the table is rebuilt: at 100 000 entries evicting that way is ten times slower.

interface Node<K, V> {
  readonly key: K;
  value: V;
  prev: Node<K, V> | undefined;
  next: Node<K, V> | undefined;
}

export class LruMap<K, V> {
  readonly #nodes = new Map<K, Node<K, V>>();
  #oldest: Node<K, V> | undefined;
  #newest: Node<K, V> | undefined;

  get size(): number {
    return this.#nodes.size;
  }

  /** The value, without changing its place in the order. */
  get(key: K): V | undefined {
    return this.#nodes.get(key)?.value;
  }

  has(key: K): boolean {
    return this.#nodes.has(key);
  }

  /** Sets the value and makes it the most recently used. */
  set(key: K, value: V): void {
    const node = this.#nodes.get(key);
    if (node !== undefined) {
      node.value = value;
      this.touch(key);
      return;
    }
    const added: Node<K, V> = { key, value, prev: this.#newest, next: undefined };
    if (this.#newest !== undefined) this.#newest.next = added;
    this.#newest = added;
    this.#oldest ??= added;
    this.#nodes.set(key, added);
  }

  /** Makes `key` the most recently used; false when absent. */
  touch(key: K): boolean {
    const node = this.#nodes.get(key);
    if (node === undefined) return false;
    if (node === this.#newest) return true;
    this.#unlink(node);
    node.prev = this.#newest;
    node.next = undefined;
    if (this.#newest !== undefined) this.#newest.next = node;
    this.#newest = node;
    this.#oldest ??= node;
    return true;
  }

  delete(key: K): boolean {
    const node = this.#nodes.get(key);
    if (node === undefined) return false;
    this.#unlink(node);
    this.#nodes.delete(key);
    return true;
  }

  /** The least recently used entry. */
  oldest(): [K, V] | undefined {
    return this.#oldest === undefined ? undefined : [this.#oldest.key, this.#oldest.value];
  }

  clear(): void {
    this.#nodes.clear();
    this.#oldest = undefined;
    this.#newest = undefined;
  }

  /** Entries from least to most recently used; deleting the current entry while iterating is safe. */
  *entries(): IterableIterator<[K, V]> {
    let node = this.#oldest;
    while (node !== undefined) {
      const next = node.next;
      yield [node.key, node.value];
      node = next;
    }
  }

  #unlink(node: Node<K, V>): void {
    if (node.prev !== undefined) node.prev.next = node.next;
    else this.#oldest = node.next;
    if (node.next !== undefined) node.next.prev = node.prev;
    else this.#newest = node.prev;
    node.prev = undefined;
    node.next = undefined;
  }
}
