import type { Entry } from '../types.js';

/**
 * A contiguous run of log entries kept in memory from index `first` on: what both log stores (the
 * WAL and the in-memory fake) serve reads from, so the index arithmetic lives in one place.
 */
export class HeldEntries {
  private entries: Entry[] = [];
  /** Index of entries[0]; when empty, the index the next entry must have (0: any). */
  private first: number;

  constructor(first = 0, entries: Entry[] = []) {
    this.first = first;
    this.entries = entries;
  }

  get length(): number {
    return this.entries.length;
  }

  /** The index the run starts at (also when empty: where the next entry must go). */
  get start(): number {
    return this.first;
  }

  firstIndex(): number {
    return this.entries.length > 0 ? this.first : 0;
  }

  lastIndex(): number {
    return this.entries.length > 0 ? this.first + this.entries.length - 1 : 0;
  }

  get(index: number): Entry | undefined {
    if (this.entries.length === 0 || index < this.first) return undefined;
    return this.entries[index - this.first];
  }

  /** Entries lo..hi inclusive; throws unless all are held. */
  range(lo: number, hi: number): Entry[] {
    if (hi < lo) return [];
    if (this.entries.length === 0 || lo < this.first || hi > this.lastIndex()) {
      throw new RangeError(`entries ${lo}..${hi} are not all held (log holds ${this.firstIndex()}..${this.lastIndex()})`);
    }
    return this.entries.slice(lo - this.first, hi - this.first + 1);
  }

  /** Empties the run; the next entry must have index `first`. */
  restartAt(first: number): void {
    this.entries = [];
    this.first = first;
  }

  /** Drops every entry from `index` on (first < index <= lastIndex + 1). */
  truncateFrom(index: number): void {
    this.entries.length = index - this.first;
  }

  /** Drops every entry with an index below `index`. */
  dropBefore(index: number): void {
    const drop = Math.min(Math.max(index - this.first, 0), this.entries.length);
    if (drop === 0) return;
    this.entries.splice(0, drop);
    this.first += drop;
  }

  push(entry: Entry): void {
    this.entries.push(entry);
  }
}

/** Throws unless the entries' indexes follow one another. */
export function assertContiguous(entries: Entry[]): void {
  entries.forEach((e, i) => {
    const expected = entries[0].index + i;
    if (e.index !== expected) throw new RangeError(`entries are not contiguous: ${e.index} follows ${expected - 1}`);
  });
}
