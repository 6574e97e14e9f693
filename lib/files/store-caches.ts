// What a store remembers between requests to spare metadata calls: what a blob's size is (a blob
// never changes) and where a name pointed when last resolved. Bounded: once full it forgets
// everything, and what was forgotten is looked up again.

export class BoundedCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly maxEntries = 100_000) {}

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: V): void {
    if (this.entries.size > this.maxEntries) this.entries.clear();
    this.entries.set(key, value);
  }
}
