import * as nodeFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/random.js';
import { EntryType, type Entry } from '../types.js';
import { WalCorruptionError } from './errors.js';
import { SimFs } from './sim-fs.js';
import { WalLogStore } from './wal.js';
import { recordSize } from './wal-record.js';

function entry(index: number, term = 1): Entry {
  // Sizes vary so record boundaries fall at irregular offsets.
  return { index, term, type: EntryType.Command, data: Buffer.from(`entry ${index} term ${term} `.repeat(1 + (index % 3))) };
}

function entries(from: number, to: number, term = 1): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

function expectEntries(wal: WalLogStore, expected: Entry[]): void {
  expect(wal.lastIndex()).toBe(expected.at(-1)?.index ?? 0);
  expect(wal.firstIndex()).toBe(expected[0]?.index ?? 0);
  if (expected.length > 0) {
    const got = wal.getRange(expected[0].index, expected.at(-1)!.index);
    expect(got.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString()])).toEqual(
      expected.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString()]),
    );
  }
}

function segmentFiles(dir: string): string[] {
  return nodeFs.readdirSync(dir).filter((n) => n.endsWith('.wal')).sort();
}

/** Offsets just past each record of `written`, relative to the start of the segment holding them. */
function recordEnds(written: Entry[]): number[] {
  let at = 0;
  return written.map((e) => (at += recordSize(e)));
}

describe('WalLogStore on disk', () => {
  let dir: string;
  const open = (segmentBytes = 1 << 20): WalLogStore => new WalLogStore({ dir, segmentBytes });

  beforeEach(() => {
    dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), 'shoal-wal-'));
  });
  afterEach(() => {
    nodeFs.rmSync(dir, { recursive: true, force: true });
  });

  it('reads back what it stored, after reopening', () => {
    const wal = open();
    expect(wal.firstIndex()).toBe(0);
    expect(wal.lastIndex()).toBe(0);
    wal.storeLogs(entries(1, 10));
    wal.sync();
    expect(wal.getLog(4)?.term).toBe(1);
    expect(wal.getLog(11)).toBeUndefined();
    expect(wal.getLog(0)).toBeUndefined();
    wal.close();
    const reopened = open();
    expectEntries(reopened, entries(1, 10));
    expect(reopened.getLog(3)?.data).toEqual(new Uint8Array(entry(3).data));
    expect(reopened.getRange(3, 5).map((e) => e.index)).toEqual([3, 4, 5]);
    expect(reopened.getRange(5, 4)).toEqual([]);
    expect(() => reopened.getRange(0, 3)).toThrow(RangeError);
    expect(() => reopened.getRange(9, 11)).toThrow(RangeError);
    reopened.close();
  });

  it('counts one fdatasync per sync() that has something to sync (group commit)', () => {
    const wal = open();
    wal.storeLogs(entries(1, 3));
    wal.storeLogs(entries(4, 9));
    wal.sync();
    wal.sync();
    expect(wal.syncCount).toBe(1);
    wal.close();
  });

  it('rejects entries that leave a gap or are not contiguous', () => {
    const wal = open();
    wal.storeLogs(entries(1, 3));
    expect(() => wal.storeLogs(entries(5, 6))).toThrow(RangeError);
    expect(() => wal.storeLogs([entry(4), entry(6)])).toThrow(RangeError);
    expect(wal.lastIndex()).toBe(3);
    wal.close();
  });

  it('recovers exactly the records before a truncation at every byte offset, then accepts appends', () => {
    const written = entries(1, 12);
    const wal = open();
    wal.storeLogs(written);
    wal.sync();
    wal.close();
    const [file] = segmentFiles(dir);
    const full = nodeFs.readFileSync(path.join(dir, file));
    const ends = recordEnds(written);
    expect(ends.at(-1)).toBe(full.length);

    for (let offset = 0; offset <= full.length; offset++) {
      nodeFs.writeFileSync(path.join(dir, file), full.subarray(0, offset));
      const kept = ends.filter((end) => end <= offset).length;
      const recovered = open();
      expectEntries(recovered, written.slice(0, kept));
      // The torn tail is cut off the file itself.
      expect(nodeFs.statSync(path.join(dir, file)).size).toBe(kept === 0 ? 0 : ends[kept - 1]);
      recovered.storeLogs([entry(kept + 1, 2)]);
      recovered.sync();
      recovered.close();
      const after = open();
      expectEntries(after, [...written.slice(0, kept), entry(kept + 1, 2)]);
      after.close();
    }
  });

  it('recovers from a truncation at every byte offset of the last of several segments', () => {
    const written = entries(1, 30);
    const wal = open(300);
    wal.storeLogs(written);
    wal.sync();
    wal.close();
    const files = segmentFiles(dir);
    expect(files.length).toBeGreaterThanOrEqual(3);
    const lastFile = path.join(dir, files.at(-1)!);
    const lastFirstIndex = Number(files.at(-1)!.slice(0, 20));
    const full = nodeFs.readFileSync(lastFile);
    const ends = recordEnds(written.slice(lastFirstIndex - 1));

    for (let offset = 0; offset <= full.length; offset++) {
      nodeFs.writeFileSync(lastFile, full.subarray(0, offset));
      const kept = lastFirstIndex - 1 + ends.filter((end) => end <= offset).length;
      const recovered = open(300);
      expectEntries(recovered, written.slice(0, kept));
      recovered.storeLogs([entry(kept + 1, 2)]);
      recovered.sync();
      recovered.close();
      const after = open(300);
      expectEntries(after, [...written.slice(0, kept), entry(kept + 1, 2)]);
      after.close();
    }
  });

  it('treats a flipped bit anywhere in the last record as a torn tail', () => {
    const written = entries(1, 6);
    const wal = open();
    wal.storeLogs(written);
    wal.sync();
    wal.close();
    const file = path.join(dir, segmentFiles(dir)[0]);
    const full = nodeFs.readFileSync(file);
    const ends = recordEnds(written);
    for (let offset = ends[4]; offset < ends[5]; offset++) {
      const damaged = Buffer.from(full);
      damaged[offset] ^= 1 << (offset % 8);
      nodeFs.writeFileSync(file, damaged);
      const recovered = open();
      expectEntries(recovered, written.slice(0, 5));
      recovered.close();
    }
  });

  it('refuses to start when a flipped bit damages a record followed by valid ones', () => {
    const written = entries(1, 6);
    const wal = open();
    wal.storeLogs(written);
    wal.sync();
    wal.close();
    const file = path.join(dir, segmentFiles(dir)[0]);
    const full = nodeFs.readFileSync(file);
    const ends = recordEnds(written);
    for (let offset = ends[1]; offset < ends[2]; offset++) {
      const damaged = Buffer.from(full);
      damaged[offset] ^= 1 << (offset % 8);
      nodeFs.writeFileSync(file, damaged);
      let caught: unknown;
      try {
        open().close();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(WalCorruptionError);
      expect((caught as WalCorruptionError).file).toBe(file);
      expect((caught as WalCorruptionError).offset).toBe(ends[1]);
    }
  });

  it('refuses to start when the last record of an earlier segment is damaged', () => {
    const wal = open(300);
    wal.storeLogs(entries(1, 20));
    wal.sync();
    wal.close();
    const [firstFile] = segmentFiles(dir);
    const file = path.join(dir, firstFile);
    const damaged = nodeFs.readFileSync(file);
    damaged[damaged.length - 3] ^= 0x10;
    nodeFs.writeFileSync(file, damaged);
    expect(() => open(300)).toThrow(WalCorruptionError);
  });

  it('refuses to start when a segment in the middle is missing', () => {
    const wal = open(300);
    wal.storeLogs(entries(1, 30));
    wal.sync();
    wal.close();
    const files = segmentFiles(dir);
    nodeFs.unlinkSync(path.join(dir, files[1]));
    expect(() => open(300)).toThrow(/segment begins at index/);
  });

  it('rolls over into segments named by their first index', () => {
    const wal = open(300);
    wal.storeLogs(entries(1, 10));
    wal.storeLogs(entries(11, 30));
    wal.sync();
    const files = segmentFiles(dir);
    expect(files.length).toBeGreaterThanOrEqual(3);
    expect(files[0]).toBe(`${'1'.padStart(20, '0')}.wal`);
    const firsts = files.map((f) => Number(f.slice(0, 20)));
    expect([...firsts].sort((a, b) => a - b)).toEqual(firsts);
    for (const f of files.slice(0, -1)) expect(nodeFs.statSync(path.join(dir, f)).size).toBeLessThanOrEqual(300);
    // Each segment begins with the entry its name gives.
    for (const first of firsts) expect(wal.getLog(first)?.index).toBe(first);
    wal.close();
    const reopened = open(300);
    expectEntries(reopened, entries(1, 30));
    reopened.close();
  });

  it('replaces a suffix within the last segment, durably', () => {
    const wal = open();
    wal.storeLogs(entries(1, 10));
    wal.sync();
    wal.storeLogs(entries(6, 8, 2));
    expect(wal.lastIndex()).toBe(8);
    wal.sync();
    wal.close();
    const reopened = open();
    expectEntries(reopened, [...entries(1, 5), ...entries(6, 8, 2)]);
    reopened.storeLogs(entries(9, 9, 2));
    reopened.sync();
    reopened.close();
    expectEntries(open(), [...entries(1, 5), ...entries(6, 9, 2)]);
  });

  it('replaces a suffix that began in an earlier segment, removing the later segments', () => {
    const wal = open(300);
    wal.storeLogs(entries(1, 30));
    wal.sync();
    const before = segmentFiles(dir).map((f) => Number(f.slice(0, 20)));
    const target = before[1] + 1; // inside the second segment
    wal.storeLogs(entries(target, target + 2, 3));
    wal.sync();
    // The replacement begins in the second segment; what follows it may roll over into new segments.
    const after = segmentFiles(dir).map((f) => Number(f.slice(0, 20)));
    expect(after.slice(0, 2)).toEqual(before.slice(0, 2));
    expect(after.slice(2).every((first) => first > target)).toBe(true);
    wal.storeLogs(entries(target + 3, target + 20, 3));
    wal.sync();
    wal.close();
    const reopened = open(300);
    expectEntries(reopened, [...entries(1, target - 1), ...entries(target, target + 20, 3)]);
    reopened.close();
  });

  it('replaces a suffix starting exactly at a segment boundary', () => {
    const wal = open(300);
    wal.storeLogs(entries(1, 30));
    wal.sync();
    const boundary = Number(segmentFiles(dir)[2].slice(0, 20));
    wal.storeLogs(entries(boundary, boundary + 1, 4));
    wal.sync();
    wal.close();
    const reopened = open(300);
    expectEntries(reopened, [...entries(1, boundary - 1), ...entries(boundary, boundary + 1, 4)]);
    reopened.close();
  });

  it('replaces the whole log when the replacement starts at its first entry', () => {
    const wal = open(300);
    wal.storeLogs(entries(1, 20));
    wal.sync();
    wal.storeLogs(entries(1, 2, 5));
    wal.sync();
    wal.close();
    const reopened = open(300);
    expectEntries(reopened, entries(1, 2, 5));
    reopened.close();
  });

  it('compacts by deleting whole segments whose entries are all covered', () => {
    const wal = open(300);
    wal.storeLogs(entries(1, 30));
    wal.sync();
    const firsts = segmentFiles(dir).map((f) => Number(f.slice(0, 20)));
    wal.compact(firsts[2] - 2); // the second segment still holds firsts[2]-1
    expect(segmentFiles(dir).map((f) => Number(f.slice(0, 20)))).toEqual(firsts.slice(1));
    expect(wal.firstIndex()).toBe(firsts[1]);
    expect(wal.getLog(firsts[1] - 1)).toBeUndefined();
    wal.compact(1000);
    expect(segmentFiles(dir)).toHaveLength(1);
    expect(wal.lastIndex()).toBe(30);
    wal.storeLogs(entries(31, 32));
    wal.sync();
    wal.close();
    const reopened = open(300);
    expectEntries(reopened, entries(firsts.at(-1)!, 32));
    reopened.close();
  });

  it('resets to an empty log continuing after a snapshot index', () => {
    const wal = open(300);
    wal.storeLogs(entries(1, 30));
    wal.sync();
    wal.reset(100);
    expect(wal.firstIndex()).toBe(0);
    expect(wal.lastIndex()).toBe(0);
    expect(segmentFiles(dir)).toEqual([`${'101'.padStart(20, '0')}.wal`]);
    wal.close();
    const empty = open(300);
    expectEntries(empty, []);
    empty.storeLogs(entries(101, 103));
    empty.sync();
    empty.close();
    const reopened = open(300);
    expectEntries(reopened, entries(101, 103));
    reopened.close();
  });

  it('ignores files in its directory that are not segments', () => {
    nodeFs.writeFileSync(path.join(dir, 'notes.txt'), 'hello');
    const wal = open();
    wal.storeLogs(entries(1, 2));
    wal.sync();
    wal.close();
    expectEntries(open(), entries(1, 2));
  });
});

describe('WalLogStore on SimFs', () => {
  const dir = '/node/wal';

  it('recovers everything synced after a crash, and only a prefix of what was not', () => {
    for (let seed = 0; seed < 40; seed++) {
      const fs = new SimFs();
      const wal = new WalLogStore({ dir, fs, segmentBytes: 400 });
      wal.storeLogs(entries(1, 15));
      wal.sync();
      wal.storeLogs(entries(10, 25, 2));
      wal.sync();
      wal.storeLogs(entries(26, 40, 2)); // never synced
      fs.crash(seededRandom(seed));
      const recovered = new WalLogStore({ dir, fs, segmentBytes: 400 });
      expect(recovered.lastIndex()).toBeGreaterThanOrEqual(25);
      expectEntries(recovered, [...entries(1, 9), ...entries(10, recovered.lastIndex(), 2)]);
      recovered.storeLogs(entries(recovered.lastIndex() + 1, 45, 3));
      recovered.sync();
      recovered.close();
    }
  });

  it('loses some or all of the entries past the last sync on a crash', () => {
    const lastIndexes = new Set<number>();
    for (let seed = 0; seed < 40; seed++) {
      const fs = new SimFs();
      const wal = new WalLogStore({ dir, fs });
      wal.storeLogs(entries(1, 5));
      wal.sync();
      wal.storeLogs(entries(6, 20));
      fs.crash(seededRandom(seed));
      lastIndexes.add(new WalLogStore({ dir, fs }).lastIndex());
    }
    expect(Math.min(...lastIndexes)).toBe(5);
    expect(lastIndexes.size).toBeGreaterThan(3);
  });

  it('survives a crash right after a new segment was synced', () => {
    const fs = new SimFs();
    const wal = new WalLogStore({ dir, fs, segmentBytes: 300 });
    wal.storeLogs(entries(1, 20));
    wal.sync();
    const segments = fs.readdir(dir);
    expect(segments.length).toBeGreaterThan(1);
    fs.crash(seededRandom(1));
    expectEntries(new WalLogStore({ dir, fs, segmentBytes: 300 }), entries(1, 20));
  });

  it('with bugs.noDirectoryFsync, loses a synced entry in a new segment after a crash', () => {
    const fs = new SimFs();
    const wal = new WalLogStore({ dir, fs, segmentBytes: 300, bugs: { noDirectoryFsync: true } });
    wal.storeLogs(entries(1, 3));
    wal.sync();
    wal.storeLogs(entries(4, 20));
    wal.sync(); // the leader may now count these entries as replicated here
    expect(fs.readdir(dir).length).toBeGreaterThan(1);
    fs.crash(seededRandom(1));
    const recovered = new WalLogStore({ dir, fs, segmentBytes: 300 });
    expect(recovered.lastIndex()).toBeLessThan(20);
  });

  it('makes segment removals durable when compacting and resetting', () => {
    const fs = new SimFs();
    const wal = new WalLogStore({ dir, fs, segmentBytes: 300 });
    wal.storeLogs(entries(1, 30));
    wal.sync();
    wal.compact(15);
    const afterCompact = fs.readdir(dir);
    fs.crash(seededRandom(2));
    expect(fs.readdir(dir)).toEqual(afterCompact);
    const reopened = new WalLogStore({ dir, fs, segmentBytes: 300 });
    reopened.reset(50);
    fs.crash(seededRandom(3));
    expect(fs.readdir(dir)).toEqual([`${'51'.padStart(20, '0')}.wal`]);
    expectEntries(new WalLogStore({ dir, fs, segmentBytes: 300 }), []);
  });

  it('keeps a cross-segment suffix replacement consistent across a crash at any point', () => {
    for (let seed = 0; seed < 40; seed++) {
      const fs = new SimFs();
      const wal = new WalLogStore({ dir, fs, segmentBytes: 300 });
      wal.storeLogs(entries(1, 30));
      wal.sync();
      wal.storeLogs(entries(5, 12, 2)); // not synced
      fs.crash(seededRandom(seed));
      const recovered = new WalLogStore({ dir, fs, segmentBytes: 300 });
      const last = recovered.lastIndex();
      const got = recovered.getRange(1, last);
      // Either the old log (some prefix of it) or the old log up to 4 followed by a prefix of the replacement.
      const replaced = got.some((e) => e.term === 2);
      const expected = replaced ? [...entries(1, 4), ...entries(5, last, 2)] : entries(1, last);
      expectEntries(recovered, expected);
    }
  });
});
