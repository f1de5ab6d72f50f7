import * as nodeFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/random.js';
import type { SnapshotMeta } from '../types.js';
import { ChecksumError } from './errors.js';
import { SimFs } from './sim-fs.js';
import { FileSnapshotStore } from './snapshot-store.js';

function meta(index: number, term: number): SnapshotMeta {
  return {
    index,
    term,
    configuration: { servers: [{ id: 'n1', address: '127.0.0.1:1', suffrage: 'voter' }] },
    configurationIndex: 1,
  };
}

const data = (index: number): Uint8Array => Buffer.from(`state at ${index}`.repeat(50));

describe('FileSnapshotStore on disk', () => {
  let dir: string;
  beforeEach(() => {
    dir = nodeFs.mkdtempSync(path.join(os.tmpdir(), 'shoal-snap-'));
  });
  afterEach(() => {
    nodeFs.rmSync(dir, { recursive: true, force: true });
  });

  it('stores snapshots, lists them newest first and keeps only the newest two', () => {
    const store = new FileSnapshotStore({ dir });
    expect(store.list()).toEqual([]);
    store.create(meta(10, 1), data(10));
    store.create(meta(20, 2), data(20));
    store.create(meta(30, 2), data(30));
    expect(store.list()).toEqual([meta(30, 2), meta(20, 2)]);
    expect(nodeFs.readdirSync(dir).sort()).toEqual(['snapshot-2-20.snap', 'snapshot-2-30.snap']);
    const opened = new FileSnapshotStore({ dir }).open(20, 2);
    expect(opened.meta).toEqual(meta(20, 2));
    expect(Buffer.from(opened.data).toString()).toBe(Buffer.from(data(20)).toString());
    expect(() => store.open(10, 1)).toThrow(/no snapshot/);
  });

  it('hides a snapshot whose data or metadata checksum does not verify', () => {
    const store = new FileSnapshotStore({ dir });
    store.create(meta(10, 1), data(10));
    store.create(meta(20, 1), data(20));
    for (const flipAt of [-1, 40]) {
      const file = path.join(dir, 'snapshot-1-20.snap');
      const good = nodeFs.readFileSync(file);
      const damaged = Buffer.from(good);
      damaged[flipAt < 0 ? damaged.length + flipAt : flipAt] ^= 0x04;
      nodeFs.writeFileSync(file, damaged);
      expect(store.list()).toEqual([meta(10, 1)]);
      expect(() => store.open(20, 1)).toThrow(ChecksumError);
      nodeFs.writeFileSync(file, good);
      expect(store.list()).toEqual([meta(20, 1), meta(10, 1)]);
    }
  });

  it('ignores temporary files left by a crash and removes them on the next create', () => {
    const store = new FileSnapshotStore({ dir });
    store.create(meta(10, 1), data(10));
    nodeFs.writeFileSync(path.join(dir, 'snapshot-1-15.snap.tmp'), 'partial');
    expect(store.list()).toEqual([meta(10, 1)]);
    store.create(meta(20, 1), data(20));
    expect(nodeFs.readdirSync(dir).sort()).toEqual(['snapshot-1-10.snap', 'snapshot-1-20.snap']);
  });

  it('honours a larger retain', () => {
    const store = new FileSnapshotStore({ dir, retain: 3 });
    for (const i of [1, 2, 3, 4]) store.create(meta(i * 10, 1), data(i));
    expect(store.list().map((m) => m.index)).toEqual([40, 30, 20]);
  });
});

describe('FileSnapshotStore on SimFs', () => {
  const dir = '/node/snapshots';

  it('keeps a created snapshot across a crash', () => {
    const fs = new SimFs();
    new FileSnapshotStore({ dir, fs }).create(meta(10, 1), data(10));
    fs.crash(seededRandom(4));
    expect(new FileSnapshotStore({ dir, fs }).list()).toEqual([meta(10, 1)]);
  });

  it('with bugs.noDirectoryFsync, can lose a created snapshot in a crash', () => {
    const fs = new SimFs();
    new FileSnapshotStore({ dir, fs, bugs: { noDirectoryFsync: true } }).create(meta(10, 1), data(10));
    fs.crash(seededRandom(4));
    expect(new FileSnapshotStore({ dir, fs }).list()).toEqual([]);
  });
});
