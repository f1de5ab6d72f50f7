import type { Entry } from '../types.js';

/**
 * The in-memory Raft log. It holds a contiguous run of entries after a known (index, term) point
 * — the snapshot or compaction boundary — and tracks which suffix still has to be handed to the
 * driver for persistence (unstable) and which the driver confirmed durable (stable).
 */
export class RaftLog {
  private entries: Entry[];
  /** The entry just before entries[0]: its term stays known after compaction so appends can be checked against it. */
  private prevIndex: number;
  private prevTerm: number;
  /** Entries at or below this index are known to be durable. */
  private stable: number;
  /** The first entry not yet handed to the driver for persistence. */
  private unstableFrom: number;

  /** `entries` must directly follow (prevIndex, prevTerm) and are taken as already persisted. */
  constructor(prevIndex: number, prevTerm: number, entries: Entry[]) {
    this.prevIndex = prevIndex;
    this.prevTerm = prevTerm;
    this.entries = [...entries];
    this.stable = this.lastIndex();
    this.unstableFrom = this.lastIndex() + 1;
  }

  firstIndex(): number {
    return this.prevIndex + 1;
  }

  lastIndex(): number {
    return this.prevIndex + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  stableIndex(): number {
    return this.stable;
  }

  /** The term of the entry at index, or undefined when it is compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.prevIndex) return this.prevTerm;
    return this.entry(index)?.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.prevIndex) return undefined;
    return this.entries[index - this.prevIndex - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft's election restriction: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries from `from` on, at most maxCount of them and at most maxBytes of data (but always at least
   * one, so an oversized entry still moves), stopping at `to` inclusive when given.
   */
  slice(from: number, maxCount = Infinity, maxBytes = Infinity, to = this.lastIndex()): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = Math.max(from, this.firstIndex()); i <= to && out.length < maxCount; i++) {
      const e = this.entry(i);
      if (!e) break;
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /**
   * The index of the first entry in `incoming` that this log does not already hold with the same term,
   * or 0 when every one matches. Out-of-order or duplicated appends thus never truncate anything.
   */
  findConflict(incoming: Entry[]): number {
    for (const e of incoming) {
      const t = this.term(e.index);
      // A compacted index is committed, hence matches the leader's log.
      if (t === undefined && e.index < this.prevIndex) continue;
      if (t !== e.term) return e.index;
    }
    return 0;
  }

  /**
   * The largest index at or below `index` whose term is at most `term`, with that term (0 when unknown).
   * Used on both sides of fast log back-off: everything above it is known to conflict.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = Math.min(index, this.lastIndex()); i > 0; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /** Appends entries, replacing any suffix from entries[0].index on. The caller checked they may replace it. */
  append(incoming: Entry[]): void {
    if (incoming.length === 0) return;
    const from = incoming[0].index;
    if (from <= this.prevIndex || from > this.lastIndex() + 1) {
      throw new Error(`raft log: cannot append at ${from} to a log spanning (${this.prevIndex}, ${this.lastIndex()}]`);
    }
    this.entries.length = from - this.prevIndex - 1;
    this.entries.push(...incoming);
    this.unstableFrom = Math.min(this.unstableFrom, from);
    this.stable = Math.min(this.stable, from - 1);
  }

  hasUnstable(): boolean {
    return this.unstableFrom <= this.lastIndex();
  }

  /** Hands the not-yet-persisted suffix to the driver. */
  takeUnstable(): Entry[] {
    const out = this.slice(this.unstableFrom);
    this.unstableFrom = this.lastIndex() + 1;
    return out;
  }

  /**
   * The driver persisted entries up to (index, term). Ignored when that entry was replaced meanwhile:
   * by log matching, an unchanged term at index means the whole prefix is unchanged.
   */
  stableTo(index: number, term: number): void {
    if (index > this.stable && this.matchTerm(index, term)) this.stable = index;
  }

  /** Drops entries at or below upTo from memory (they live on in a snapshot). */
  compact(upTo: number): void {
    if (upTo <= this.prevIndex) return;
    if (upTo > this.lastIndex()) throw new Error(`raft log: cannot compact to ${upTo} beyond ${this.lastIndex()}`);
    const term = this.term(upTo) as number;
    this.entries = this.entries.slice(upTo - this.prevIndex);
    this.prevIndex = upTo;
    this.prevTerm = term;
  }

  /** Discards everything: the log now begins right after an installed snapshot. */
  restore(index: number, term: number): void {
    this.entries = [];
    this.prevIndex = index;
    this.prevTerm = term;
    this.stable = index;
    this.unstableFrom = index + 1;
  }
}
