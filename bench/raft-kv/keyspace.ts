/**
 * The key-value data of bench/raft-kv, with etcd's revision bookkeeping but without its history: one
 * store-wide revision that every write bumps, and per key the revision that created it, the one that
 * last modified it and how many times it was written since creation. Keys are binary; they are held
 * as latin1 strings, one code unit per byte, so that string order is byte order (etcd's key order).
 */

export interface StoredKv {
  /** The key as a latin1 string (see keyString). */
  key: string;
  value: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
}

/**
 * A half-open key interval in etcd's convention. `end` undefined selects `start` alone; `end` null
 * selects every key >= start (etcd's range_end "\0").
 */
export interface KeyRange {
  start: string;
  end: string | undefined | null;
}

export function keyString(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function keyBytes(key: string): Buffer {
  return Buffer.from(key, 'latin1');
}

/** Reads an etcd (key, range_end) pair: empty range_end means the key alone, "\0" means no upper bound. */
export function keyRange(key: Uint8Array, rangeEnd: Uint8Array): KeyRange {
  const start = keyString(key);
  if (rangeEnd.length === 0) return { start, end: undefined };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start, end: null };
  return { start, end: keyString(rangeEnd) };
}

export class Keyspace {
  private readonly kvs = new Map<string, StoredKv>();
  /** Every key, ascending, for range scans; kept sorted on insert and delete. */
  private sortedKeys: string[] = [];
  private currentRevision = 0;

  get revision(): number {
    return this.currentRevision;
  }

  get size(): number {
    return this.kvs.size;
  }

  get(key: string): StoredKv | undefined {
    return this.kvs.get(key);
  }

  /** Writes one key at a new revision; returns the previous and the new state of the key. */
  put(key: string, value: Uint8Array): { prev: StoredKv | undefined; kv: StoredKv } {
    const prev = this.kvs.get(key);
    const revision = ++this.currentRevision;
    const kv: StoredKv = {
      key,
      value,
      createRevision: prev ? prev.createRevision : revision,
      modRevision: revision,
      version: prev ? prev.version + 1 : 1,
    };
    this.kvs.set(key, kv);
    if (!prev) this.sortedKeys.splice(this.lowerBound(key), 0, key);
    return { prev, kv };
  }

  /** Deletes every key in the range; the revision advances only if something was deleted (as in etcd). */
  deleteRange(range: KeyRange): StoredKv[] {
    const deleted = this.scan(range);
    if (deleted.length === 0) return deleted;
    this.currentRevision++;
    for (const kv of deleted) {
      this.kvs.delete(kv.key);
      this.sortedKeys.splice(this.lowerBound(kv.key), 1);
    }
    return deleted;
  }

  /** The keys in the range, ascending. */
  scan(range: KeyRange): StoredKv[] {
    if (range.end === undefined) {
      const kv = this.kvs.get(range.start);
      return kv ? [kv] : [];
    }
    const out: StoredKv[] = [];
    for (let i = this.lowerBound(range.start); i < this.sortedKeys.length; i++) {
      const key = this.sortedKeys[i]!;
      if (range.end !== null && key >= range.end) break;
      out.push(this.kvs.get(key)!);
    }
    return out;
  }

  /** Every key in ascending order, for snapshots. */
  all(): StoredKv[] {
    return this.sortedKeys.map((key) => this.kvs.get(key)!);
  }

  /** Replaces the whole content (restoring a snapshot). `kvs` need not be sorted. */
  reset(revision: number, kvs: StoredKv[]): void {
    this.kvs.clear();
    for (const kv of kvs) this.kvs.set(kv.key, kv);
    this.sortedKeys = [...this.kvs.keys()].sort();
    this.currentRevision = revision;
  }

  /** Approximate bytes held, for the status report's database size. */
  approximateBytes(): number {
    let bytes = 0;
    for (const kv of this.kvs.values()) bytes += kv.key.length + kv.value.byteLength + 24;
    return bytes;
  }

  private lowerBound(key: string): number {
    let lo = 0;
    let hi = this.sortedKeys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sortedKeys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
