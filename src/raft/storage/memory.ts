/**
 * In-memory fakes of the storage contracts, for unit tests of the driver. They keep nothing across a
 * process and model no crashes: use the file stores on SimFs to test durability.
 */
import type { Entry, SnapshotMeta } from '../types.js';
import { HeldEntries, assertContiguous } from './held-entries.js';
import type { LogStore, SnapshotStore, StableStore } from './types.js';

/** In-memory fake LogStore: compaction is exact, sync() only counts. */
export class InmemLogStore implements LogStore {
  syncCount = 0;
  private readonly held = new HeldEntries();

  firstIndex(): number {
    return this.held.firstIndex();
  }

  lastIndex(): number {
    return this.held.lastIndex();
  }

  getLog(index: number): Entry | undefined {
    return this.held.get(index);
  }

  getRange(lo: number, hi: number): Entry[] {
    return this.held.range(lo, hi);
  }

  storeLogs(entries: Entry[]): void {
    if (entries.length === 0) return;
    const start = entries[0].index;
    assertContiguous(entries);
    if (this.held.length === 0 || start <= this.held.start) {
      this.held.restartAt(start);
    } else if (start > this.lastIndex() + 1) {
      throw new RangeError(`entries start at ${start} but the log ends at ${this.lastIndex()}`);
    } else {
      this.held.truncateFrom(start);
    }
    for (const e of entries) this.held.push(e);
  }

  sync(): void {
    this.syncCount++;
  }

  compact(upTo: number): void {
    this.held.dropBefore(upTo + 1);
  }

  reset(index: number): void {
    this.held.restartAt(index + 1);
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
