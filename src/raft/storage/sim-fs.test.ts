import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/random.js';
import { SimFs } from './sim-fs.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

/** A file whose name is already durable, holding `synced` durably and `pending` not. */
function fileWithPending(synced: string, pending: string): SimFs {
  const fs = new SimFs();
  fs.mkdirp('/d');
  const h = fs.openAppend('/d/f');
  fs.fsyncDir('/d');
  h.write(bytes(synced));
  h.fdatasync();
  h.write(bytes(pending));
  return fs;
}

describe('SimFs', () => {
  it('behaves as a file system while nothing crashes', () => {
    const fs = new SimFs();
    fs.mkdirp('/a/b');
    expect(fs.exists('/a')).toBe(true);
    expect(fs.readdir('/a')).toEqual(['b']);
    const h = fs.openAppend('/a/b/x');
    h.write(bytes('hello '));
    h.write(bytes('world'));
    expect(h.size()).toBe(11);
    h.close();
    expect(text(fs.readFile('/a/b/x'))).toBe('hello world');
    fs.openAppend('/a/b/x').write(bytes('!'));
    expect(text(fs.readFile('/a/b/x'))).toBe('hello world!');
    fs.rename('/a/b/x', '/a/y');
    expect(fs.readdir('/a')).toEqual(['b', 'y']);
    expect(fs.exists('/a/b/x')).toBe(false);
    fs.truncate('/a/y', 5);
    expect(text(fs.readFile('/a/y'))).toBe('hello');
    fs.unlink('/a/y');
    expect(fs.exists('/a/y')).toBe(false);
    expect(() => fs.readFile('/a/y')).toThrow(/ENOENT/);
    expect(() => fs.openAppend('/nowhere/f')).toThrow(/ENOENT/);
    expect(() => fs.readdir('/nowhere')).toThrow(/ENOENT/);
  });

  it('keeps fdatasync-ed data of a durably linked file across a crash', () => {
    const fs = fileWithPending('durable', '');
    fs.crash(seededRandom(7));
    expect(text(fs.readFile('/d/f'))).toBe('durable');
  });

  it('loses part of the unsynced data on a crash, sometimes tearing the end', () => {
    const pending = 'p'.repeat(200);
    const outcomes = new Set<string>();
    let torn = 0;
    for (let seed = 0; seed < 100; seed++) {
      const fs = fileWithPending('durable|', pending);
      fs.crash(seededRandom(seed));
      const after = text(fs.readFile('/d/f'));
      expect(after.startsWith('durable|')).toBe(true);
      expect(after.length).toBeLessThanOrEqual('durable|'.length + pending.length);
      const survivor = after.slice('durable|'.length);
      if (!/^p*$/.test(survivor)) torn++;
      outcomes.add(survivor.length === 0 ? 'all lost' : survivor.length < pending.length ? 'part lost' : 'kept');
    }
    expect(outcomes.has('part lost')).toBe(true);
    expect(torn).toBeGreaterThan(0);
  });

  it('is deterministic given the random seed', () => {
    const run = (): string => {
      const fs = fileWithPending('x', 'y'.repeat(100));
      fs.crash(seededRandom(42));
      return text(fs.readFile('/d/f'));
    };
    expect(run()).toBe(run());
  });

  it('loses a created and fdatasync-ed file whose directory was not fsynced', () => {
    const fs = new SimFs();
    fs.mkdirp('/d');
    const h = fs.openAppend('/d/new');
    h.write(bytes('data'));
    h.fdatasync();
    expect(fs.inspect('/d/new')?.durablyLinked).toBe(false);
    fs.crash(seededRandom(1));
    expect(fs.exists('/d/new')).toBe(false);
    expect(fs.readdir('/d')).toEqual([]);
  });

  it('keeps a created file once its data and its directory are synced', () => {
    const fs = new SimFs();
    fs.mkdirp('/d');
    const h = fs.openAppend('/d/new');
    h.write(bytes('data'));
    h.fdatasync();
    fs.fsyncDir('/d');
    expect(fs.inspect('/d/new')).toMatchObject({ durablyLinked: true });
    fs.crash(seededRandom(1));
    expect(text(fs.readFile('/d/new'))).toBe('data');
  });

  it('undoes renames and unlinks that were not followed by a directory fsync', () => {
    const fs = new SimFs();
    fs.mkdirp('/d');
    for (const [name, content] of [['a', 'old a'], ['b', 'old b']]) {
      const h = fs.openAppend(`/d/${name}`);
      h.write(bytes(content));
      h.fdatasync();
    }
    fs.fsyncDir('/d');
    const tmp = fs.openAppend('/d/a.tmp');
    tmp.write(bytes('new a'));
    tmp.fdatasync();
    fs.rename('/d/a.tmp', '/d/a');
    fs.unlink('/d/b');
    expect(text(fs.readFile('/d/a'))).toBe('new a');
    fs.crash(seededRandom(3));
    expect(fs.readdir('/d')).toEqual(['a', 'b']);
    expect(text(fs.readFile('/d/a'))).toBe('old a');
    expect(text(fs.readFile('/d/b'))).toBe('old b');
  });

  it('reverts an unsynced truncate to the durable bytes', () => {
    const fs = fileWithPending('0123456789', '');
    fs.truncate('/d/f', 4);
    expect(fs.inspect('/d/f')).toMatchObject({ content: bytes('0123'), durableContent: bytes('0123456789') });
    fs.crash(seededRandom(5));
    expect(text(fs.readFile('/d/f'))).toBe('0123456789');
    fs.truncate('/d/f', 4);
    const h = fs.openAppend('/d/f');
    h.fdatasync();
    fs.crash(seededRandom(5));
    expect(text(fs.readFile('/d/f'))).toBe('0123');
  });

  it('models media corruption with overwrite, on disk as well as in the cache', () => {
    const fs = fileWithPending('abcdef', '');
    fs.overwrite('/d/f', 2, bytes('XY'));
    fs.crash(seededRandom(9));
    expect(text(fs.readFile('/d/f'))).toBe('abXYef');
  });

  it('refuses handles opened before a crash', () => {
    const fs = new SimFs();
    fs.mkdirp('/d');
    const h = fs.openAppend('/d/f');
    fs.fsyncDir('/d');
    fs.crash(seededRandom(1));
    expect(() => h.write(bytes('late'))).toThrow(/EBADF/);
    expect(() => h.fdatasync()).toThrow(/EBADF/);
    const fresh = fs.openAppend('/d/f');
    fresh.write(bytes('ok'));
    expect(text(fs.readFile('/d/f'))).toBe('ok');
  });

  it('counts fdatasync and directory fsync calls', () => {
    const fs = fileWithPending('a', 'b');
    expect(fs.stats).toEqual({ fdatasyncs: 1, dirFsyncs: 1 });
  });
});
