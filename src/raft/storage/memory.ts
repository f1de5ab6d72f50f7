/**
 * In-memory fakes of the storage contracts, for unit tests of the driver. They keep nothing across a
 * process and model no crashes: use the file stores on SimFs to test durability.
 */
import type { Entry, SnapshotMeta } from '../types.js';
import type { LogStore, SnapshotStore, StableStore } from './types.js';

/** In-memory fake LogStore: compaction is exact, sync() only counts. */
export class InmemLogStore implements LogStore {
  syncCount = 0;
  private entries: Entry[] = [];
  /** Index of entries[0]; when empty, the index the next entry must have (0: any). */
  private first = 0;

  firstIndex(): number {
    return this.entries.length > 0 ? this.first : 0;
  }

  lastIndex(): number {
    return this.entries.length > 0 ? this.first + this.entries.length - 1 : 0;
  }

  getLog(index: number): Entry | undefined {
    if (this.entries.length === 0 || index < this.first) return undefined;
    return this.entries[index - this.first];
  }

  getRange(lo: number, hi: number): Entry[] {
    if (hi < lo) return [];
    if (this.entries.length === 0 || lo < this.first || hi > this.lastIndex()) {
      throw new RangeError(`entries ${lo}..${hi} are not all held (log holds ${this.firstIndex()}..${this.lastIndex()})`);
    }
    return this.entries.slice(lo - this.first, hi - this.first + 1);
  }

  storeLogs(entries: Entry[]): void {
    if (entries.length === 0) return;
    const start = entries[0].index;
    entries.forEach((e, i) => {
      if (e.index !== start + i) throw new RangeError(`entries are not contiguous: ${e.index} follows ${start + i - 1}`);
    });
    if (this.entries.length === 0 || start <= this.first) {
      this.entries = [];
      this.first = start;
    } else if (start > this.lastIndex() + 1) {
      throw new RangeError(`entries start at ${start} but the log ends at ${this.lastIndex()}`);
    } else {
      this.entries.length = start - this.first;
    }
    this.entries.push(...entries);
  }

  sync(): void {
    this.syncCount++;
  }

  compact(upTo: number): void {
    if (this.entries.length === 0 || upTo < this.first) return;
    const drop = Math.min(upTo - this.first + 1, this.entries.length);
    this.entries.splice(0, drop);
    this.first += drop;
  }

  reset(index: number): void {
    this.entries = [];
    this.first = index + 1;
  }

  close(): void {
    // Nothing is held open.
  }
}

/** In-memory fake StableStore. */
export class InmemStableStore implements StableStore {
  private readonly values = new Map<string, string>();

  get(key: string): string | undefined {
    return this.values.get(key);
  }

  set(values: Record<string, string>): void {
    for (const [k, v] of Object.entries(values)) this.values.set(k, v);
  }

  close(): void {
    // Nothing is held open.
  }
}

/** In-memory fake SnapshotStore keeping the newest `retain` snapshots (default 2). */
export class InmemSnapshotStore implements SnapshotStore {
  private snapshots: { meta: SnapshotMeta; data: Uint8Array }[] = [];

  constructor(private readonly retain = 2) {}

  create(meta: SnapshotMeta, data: Uint8Array): void {
    const others = this.snapshots.filter((s) => s.meta.index !== meta.index || s.meta.term !== meta.term);
    this.snapshots = [{ meta, data }, ...others]
      .sort((a, b) => b.meta.index - a.meta.index || b.meta.term - a.meta.term)
      .slice(0, this.retain);
  }

  list(): SnapshotMeta[] {
    return this.snapshots.map((s) => s.meta);
  }

  open(index: number, term: number): { meta: SnapshotMeta; data: Uint8Array } {
    const found = this.snapshots.find((s) => s.meta.index === index && s.meta.term === term);
    if (found === undefined) throw new Error(`no snapshot at index ${index} term ${term}`);
    return found;
  }
}
