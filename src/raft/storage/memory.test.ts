import { describe, expect, it } from 'vitest';
import { EntryType, type Entry, type SnapshotMeta } from '../types.js';
import { InmemLogStore, InmemSnapshotStore, InmemStableStore } from './memory.js';

const entry = (index: number, term = 1): Entry => ({ index, term, type: EntryType.Command, data: new Uint8Array([index]) });
const range = (from: number, to: number, term = 1): Entry[] => Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term));
const meta = (index: number, term: number): SnapshotMeta => ({ index, term, configuration: { servers: [] }, configurationIndex: 0 });

describe('InmemLogStore', () => {
  it('appends, replaces suffixes, compacts and resets', () => {
    const log = new InmemLogStore();
    expect([log.firstIndex(), log.lastIndex()]).toEqual([0, 0]);
    log.storeLogs(range(1, 10));
    log.storeLogs(range(8, 9, 2));
    expect(log.lastIndex()).toBe(9);
    expect(log.getRange(7, 9).map((e) => e.term)).toEqual([1, 2, 2]);
    expect(() => log.storeLogs(range(11, 12))).toThrow(RangeError);
    log.compact(4);
    expect([log.firstIndex(), log.lastIndex()]).toEqual([5, 9]);
    expect(log.getLog(4)).toBeUndefined();
    expect(() => log.getRange(4, 6)).toThrow(RangeError);
    log.sync();
    expect(log.syncCount).toBe(1);
    log.reset(20);
    expect([log.firstIndex(), log.lastIndex()]).toEqual([0, 0]);
    log.storeLogs(range(21, 22));
    expect([log.firstIndex(), log.lastIndex()]).toEqual([21, 22]);
  });
});

describe('InmemStableStore', () => {
  it('merges sets', () => {
    const store = new InmemStableStore();
    store.set({ term: '1', vote: 'a' });
    store.set({ vote: 'b' });
    expect([store.get('term'), store.get('vote'), store.get('x')]).toEqual(['1', 'b', undefined]);
  });
});

describe('InmemSnapshotStore', () => {
  it('keeps the newest two, newest first', () => {
    const store = new InmemSnapshotStore();
    store.create(meta(5, 1), new Uint8Array([5]));
    store.create(meta(9, 2), new Uint8Array([9]));
    store.create(meta(7, 2), new Uint8Array([7]));
    expect(store.list()).toEqual([meta(9, 2), meta(7, 2)]);
    expect(store.open(7, 2).data).toEqual(new Uint8Array([7]));
    expect(() => store.open(5, 1)).toThrow(/no snapshot/);
  });
});
