// Stale-event rejection for versioned upserts. Events about one entity can arrive out of order
// (a retry overtaking, a replay, two producers); an event whose version is not newer than the one
// already applied describes the past and must not overwrite the present.
//
// The guard checks before the handler runs (read-only) and records after it succeeded: recording
// first would let a failed attempt advance the version, and its own retry would then be rejected
// as stale. The runtime runs one key's events one at a time, so check and record do not interleave
// for an entity within a consumer. Across processes, the sink's own write must still be
// conditional (the SQL in the README): the guard saves work, the database keeps the invariant.

import { InvalidOptionError, optionValueText, SwitchyardError } from '../errors.js';
import { LruMap } from './lru-map.js';

export type VersionComparison = 'newer' | 'same' | 'older';

/** How `incoming` compares with `stored`; nothing stored counts as `newer`. */
export function compareVersions(stored: number | bigint | undefined, incoming: number | bigint): VersionComparison {
  const next = toVersion(incoming);
  if (stored === undefined) return 'newer';
  const current = toVersion(stored);
  return next > current ? 'newer' : next === current ? 'same' : 'older';
}

export interface VersionStore {
  /** Atomically store `version` for `entityKey` if it is newer than what is stored; return the comparison. */
  advance(entityKey: string, version: number | bigint): Promise<VersionComparison>;
  get(entityKey: string): Promise<bigint | undefined>;
}

export interface MemoryVersionStoreOptions {
  /** Entities remembered (default 100 000); past it the least recently advanced is forgotten. */
  readonly maxEntries?: number;
}

/**
 * Versions in this process's memory, bounded. A forgotten entity's next event counts as newer, so
 * size it above the number of entities that receive events within the out-of-order window.
 */
export class MemoryVersionStore implements VersionStore {
  readonly maxEntries: number;
  readonly #versions = new LruMap<string, bigint>();

  constructor(options: MemoryVersionStoreOptions = {}) {
    const maxEntries = options.maxEntries ?? 100_000;
    if (!(Number.isInteger(maxEntries) && maxEntries >= 1))
      throw new InvalidOptionError(
        'versionStore.maxEntries',
        `must be a whole number >= 1, got ${optionValueText(maxEntries)}`,
        'pass e.g. 100_000',
      );
    this.maxEntries = maxEntries;
  }

  async advance(entityKey: string, version: number | bigint): Promise<VersionComparison> {
    const stored = this.#versions.get(entityKey);
    const comparison = compareVersions(stored, version);
    if (comparison !== 'newer') return comparison;
    this.#versions.set(entityKey, toVersion(version));
    if (this.#versions.size > this.maxEntries) {
      const oldest = this.#versions.oldest();
      if (oldest !== undefined) this.#versions.delete(oldest[0]);
    }
    return comparison;
  }

  async get(entityKey: string): Promise<bigint | undefined> {
    return this.#versions.get(entityKey);
  }

  get size(): number {
    return this.#versions.size;
  }
}

export interface StaleCheck {
  /** True when the version is not newer than the stored one: skip the event. */
  readonly stale: boolean;
  readonly comparison: VersionComparison;
  readonly stored: bigint | undefined;
}

export class StaleEventGuard {
  readonly store: VersionStore;

  constructor(store: VersionStore) {
    if (
      typeof store !== 'object' ||
      store === null ||
      typeof store.advance !== 'function' ||
      typeof store.get !== 'function'
    )
      throw new InvalidOptionError(
        'versionStore',
        'must be a VersionStore (advance, get)',
        'pass new MemoryVersionStore() or a database-backed store',
      );
    this.store = store;
  }

  /** Read-only: 'newer' -> accept; 'same' | 'older' -> stale. */
  async check(entityKey: string, version: number | bigint): Promise<StaleCheck> {
    toVersion(version);
    const stored = await this.store.get(entityKey);
    const comparison = compareVersions(stored, version);
    return { stale: comparison !== 'newer', comparison, stored };
  }

  /** After the handler succeeded: store `version` if it is newer (atomic in the store). */
  async record(entityKey: string, version: number | bigint): Promise<VersionComparison> {
    toVersion(version);
    return this.store.advance(entityKey, version);
  }
}

/** Versions are whole numbers (a counter, a timestamp in ms, a log sequence number). */
function toVersion(version: number | bigint): bigint {
  if (typeof version === 'bigint') return version;
  if (typeof version === 'number' && Number.isSafeInteger(version)) return BigInt(version);
  throw new SwitchyardError(
    'SWITCHYARD_VALIDATION',
    `a message version must be a safe integer or a bigint, got ${typeof version === 'number' ? String(version) : typeof version}`,
    { retryable: false, details: { version: optionValueText(version) } },
  );
}
