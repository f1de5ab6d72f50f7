import { describe, expect, it } from 'vitest';
import { EntryType, type Entry } from '../types.js';
import { RaftLog } from './log.js';

function entries(from: number, terms: number[]): Entry[] {
  return terms.map((term, i) => ({ index: from + i, term, type: EntryType.Noop, data: new Uint8Array(i) }));
}

describe('RaftLog', () => {
  it('knows its bounds and the term at the boundary', () => {
    const log = new RaftLog(10, 3, entries(11, [3, 4, 4]));
    expect([log.firstIndex(), log.lastIndex(), log.lastTerm()]).toEqual([11, 13, 4]);
    expect([log.term(9), log.term(10), log.term(12), log.term(14)]).toEqual([undefined, 3, 4, undefined]);
    expect(log.entry(10)).toBeUndefined();
    expect(log.isUpToDate(13, 4)).toBe(true);
    expect(log.isUpToDate(12, 4)).toBe(false);
    expect(log.isUpToDate(1, 5)).toBe(true);
  });

  it('hands out unstable entries once and tracks what became durable', () => {
    const log = new RaftLog(0, 0, entries(1, [1, 1]));
    expect(log.hasUnstable()).toBe(false);
    log.append(entries(3, [2, 2]));
    expect(log.takeUnstable().map((e) => e.index)).toEqual([3, 4]);
    expect(log.hasUnstable()).toBe(false);
    expect(log.stableIndex()).toBe(2);
    log.stableTo(4, 2);
    expect(log.stableIndex()).toBe(4);
  });

  it('replacing a suffix rewinds the unstable and stable marks, and stale persistence reports are ignored', () => {
    const log = new RaftLog(0, 0, entries(1, [1, 1, 1, 1]));
    log.append(entries(3, [2]));
    expect(log.lastIndex()).toBe(3);
    expect(log.stableIndex()).toBe(2);
    expect(log.takeUnstable().map((e) => [e.index, e.term])).toEqual([[3, 2]]);
    log.stableTo(4, 1); // an old write of the replaced entry 4
    expect(log.stableIndex()).toBe(2);
    expect(() => log.append(entries(5, [2]))).toThrow(/cannot append/);
  });

  it('finds conflicts without flagging matching or compacted entries', () => {
    const log = new RaftLog(2, 1, entries(3, [1, 2, 2]));
    expect(log.findConflict(entries(3, [1, 2]))).toBe(0);
    expect(log.findConflict(entries(1, [1, 1, 1, 2]))).toBe(0);
    expect(log.findConflict(entries(4, [2, 3]))).toBe(5);
    expect(log.findConflict(entries(5, [2, 2]))).toBe(6);
  });

  it('findConflictByTerm walks back to the last index with a term at most the given one', () => {
    const log = new RaftLog(2, 1, entries(3, [1, 2, 2, 5, 5]));
    expect(log.findConflictByTerm(7, 4)).toEqual({ index: 5, term: 2 });
    expect(log.findConflictByTerm(7, 5)).toEqual({ index: 7, term: 5 });
    expect(log.findConflictByTerm(20, 1)).toEqual({ index: 3, term: 1 });
    expect(log.findConflictByTerm(4, 0)).toEqual({ index: 1, term: 0 });
  });

  it('slices within count and byte bounds, always moving at least one entry', () => {
    const log = new RaftLog(0, 0, entries(1, [1, 1, 1, 1, 1]));
    expect(log.slice(1, 2).map((e) => e.index)).toEqual([1, 2]);
    expect(log.slice(2, 10, 3).map((e) => e.index)).toEqual([2, 3]); // sizes 1 + 2
    expect(log.slice(5, 10, 0).map((e) => e.index)).toEqual([5]);
    expect(log.slice(2, 10, Infinity, 3).map((e) => e.index)).toEqual([2, 3]);
  });

  it('compacts a prefix and restores to an empty log after a snapshot', () => {
    const log = new RaftLog(0, 0, entries(1, [1, 2, 3]));
    log.compact(2);
    expect([log.firstIndex(), log.term(2), log.entry(2)]).toEqual([3, 2, undefined]);
    expect(() => log.compact(9)).toThrow(/beyond/);
    log.restore(50, 7);
    expect([log.firstIndex(), log.lastIndex(), log.lastTerm(), log.stableIndex(), log.hasUnstable()]).toEqual([51, 50, 7, 50, false]);
  });
});
