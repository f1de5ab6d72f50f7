/**
 * An in-memory file system that models durability, so the deterministic simulator can run the real
 * storage code and then crash a node the way a disk and a page cache would fail it.
 *
 * Each file (inode) has durable bytes and pending ones (written, not yet fdatasync'd). Each directory
 * has a durable name->inode map and a current one: creations, renames and removals become durable
 * only when that directory is fsynced. `crash` reverts everything to its durable state, except that a
 * random prefix of each file's pending bytes may survive, its end possibly torn into garbage.
 * Directories themselves are durable once made: storage creates them once, before holding any state.
 */
import * as path from 'node:path';
import type { Random } from '../../common/random.js';
import type { FileHandle, Fs } from './types.js';

/** The most garbage bytes a crash leaves at the end of a file's surviving pending bytes. */
const MAX_TORN_BYTES = 32;

class Inode {
  private bytes = new Uint8Array(64);
  length = 0;
  /** Bytes [0, durableLength) are durable, unless `durableOverride` holds what the disk has. */
  durableLength = 0;
  /** Set when an unsynced truncate cut into durable bytes: the disk still holds these. */
  durableOverride: Uint8Array | undefined;

  content(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }

  durableContent(): Uint8Array {
    return this.durableOverride?.slice() ?? this.bytes.slice(0, this.durableLength);
  }

  append(data: Uint8Array): void {
    this.reserve(this.length + data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  truncate(length: number): void {
    if (length < this.durableLength && this.durableOverride === undefined) {
      this.durableOverride = this.durableContent();
    }
    this.reserve(length);
    if (length > this.length) this.bytes.fill(0, this.length, length);
    this.length = length;
  }

  overwrite(offset: number, data: Uint8Array): void {
    this.reserve(offset + data.length);
    this.bytes.set(data, offset);
    this.length = Math.max(this.length, offset + data.length);
    const disk = this.durableOverride;
    if (disk !== undefined && offset < disk.length) disk.set(data.subarray(0, disk.length - offset), offset);
  }

  sync(): void {
    this.durableLength = this.length;
    this.durableOverride = undefined;
  }

  /** What survives a crash: the durable bytes plus a random prefix of the pending ones, maybe torn. */
  crash(random: Random): void {
    if (this.durableOverride !== undefined) {
      const disk = this.durableOverride;
      this.length = 0;
      this.append(disk);
    } else if (this.length > this.durableLength) {
      const kept = random.int(0, this.length - this.durableLength);
      this.length = this.durableLength + kept;
      if (kept > 0 && random.next() < 0.5) {
        const torn = random.int(1, Math.min(kept, MAX_TORN_BYTES));
        for (let i = this.length - torn; i < this.length; i++) this.bytes[i] = random.int(0, 255);
      }
    }
    this.sync();
  }

  private reserve(capacity: number): void {
    if (capacity <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(capacity, this.bytes.length * 2));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
}

interface Directory {
  durable: Map<string, Inode>;
  current: Map<string, Inode>;
}

/** What a test can see of one file. */
export interface SimFileState {
  /** The bytes a reader sees now. */
  content: Uint8Array;
  /** The bytes the disk holds for this inode (before any crash tearing of pending bytes). */
  durableContent: Uint8Array;
  /** Whether the file's current name is durable (it would be found under this name after a crash). */
  durablyLinked: boolean;
}

function fsError(code: string, syscall: string, p: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: ${syscall} '${p}'`);
  err.code = code;
  err.syscall = syscall;
  err.path = p;
  return err;
}

export class SimFs implements Fs {
  private readonly dirs = new Map<string, Directory>([['/', { durable: new Map(), current: new Map() }]]);
  /** Bumped by each crash: handles opened before it belong to a process that no longer exists. */
  private generation = 0;
  /** Counts of durability calls, for benchmarks and tests. */
  readonly stats = { fdatasyncs: 0, dirFsyncs: 0 };

  mkdirp(dir: string): void {
    const target = this.normalize(dir);
    const missing: string[] = [];
    for (let d = target; !this.dirs.has(d); d = path.posix.dirname(d)) {
      if (this.lookup(d) !== undefined) throw fsError('EEXIST', 'mkdir', d);
      missing.unshift(d);
    }
    for (const d of missing) this.dirs.set(d, { durable: new Map(), current: new Map() });
  }

  readdir(dir: string): string[] {
    const d = this.normalize(dir);
    const directory = this.dirs.get(d);
    if (directory === undefined) throw fsError('ENOENT', 'scandir', dir);
    const names = [...directory.current.keys()];
    for (const sub of this.dirs.keys()) {
      if (sub !== '/' && path.posix.dirname(sub) === d) names.push(path.posix.basename(sub));
    }
    return names.sort();
  }

  exists(p: string): boolean {
    const n = this.normalize(p);
    return this.dirs.has(n) || this.lookup(n) !== undefined;
  }

  readFile(p: string): Uint8Array {
    const n = this.normalize(p);
    if (this.dirs.has(n)) throw fsError('EISDIR', 'read', p);
    const inode = this.lookup(n);
    if (inode === undefined) throw fsError('ENOENT', 'open', p);
    return inode.content();
  }

  openAppend(p: string): FileHandle {
    const n = this.normalize(p);
    if (this.dirs.has(n)) throw fsError('EISDIR', 'open', p);
    const directory = this.parentOf(n, 'open');
    const name = path.posix.basename(n);
    let inode = directory.current.get(name);
    if (inode === undefined) {
      inode = new Inode();
      directory.current.set(name, inode);
    }
    return this.handle(inode, p);
  }

  rename(from: string, to: string): void {
    const src = this.normalize(from);
    const dst = this.normalize(to);
    const srcDir = this.parentOf(src, 'rename');
    const dstDir = this.parentOf(dst, 'rename');
    const inode = srcDir.current.get(path.posix.basename(src));
    if (inode === undefined) throw fsError('ENOENT', 'rename', from);
    srcDir.current.delete(path.posix.basename(src));
    dstDir.current.set(path.posix.basename(dst), inode);
  }

  unlink(p: string): void {
    const n = this.normalize(p);
    const directory = this.parentOf(n, 'unlink');
    if (!directory.current.delete(path.posix.basename(n))) throw fsError('ENOENT', 'unlink', p);
  }

  truncate(p: string, length: number): void {
    const inode = this.lookup(this.normalize(p));
    if (inode === undefined) throw fsError('ENOENT', 'open', p);
    inode.truncate(length);
  }

  fsyncDir(dir: string): void {
    const directory = this.dirs.get(this.normalize(dir));
    if (directory === undefined) throw fsError('ENOENT', 'open', dir);
    directory.durable = new Map(directory.current);
    this.stats.dirFsyncs++;
  }

  /**
   * The machine loses power: every directory reverts to its durable entries, every surviving file to
   * its durable bytes plus a random prefix of its pending ones (the last part possibly garbage), and
   * handles opened before the crash stop working. Deterministic given `random`.
   */
  crash(random: Random): void {
    this.generation++;
    const survivors = new Set<Inode>();
    for (const directory of this.dirs.values()) {
      directory.current = new Map(directory.durable);
      for (const inode of directory.durable.values()) survivors.add(inode);
    }
    for (const inode of survivors) inode.crash(random);
  }

  /** A file's current and durable state, or undefined if no file has that name now. */
  inspect(p: string): SimFileState | undefined {
    const n = this.normalize(p);
    const inode = this.lookup(n);
    if (inode === undefined) return undefined;
    const durableDir = this.dirs.get(path.posix.dirname(n))?.durable;
    return {
      content: inode.content(),
      durableContent: inode.durableContent(),
      durablyLinked: durableDir?.get(path.posix.basename(n)) === inode,
    };
  }

  /** Media corruption: replaces bytes of a file both as readers see them and on the disk. */
  overwrite(p: string, offset: number, data: Uint8Array): void {
    const inode = this.lookup(this.normalize(p));
    if (inode === undefined) throw fsError('ENOENT', 'open', p);
    inode.overwrite(offset, data);
  }

  private handle(inode: Inode, p: string): FileHandle {
    const generation = this.generation;
    let closed = false;
    const usable = (syscall: string): Inode => {
      if (closed || generation !== this.generation) throw fsError('EBADF', syscall, p);
      return inode;
    };
    return {
      write: (data) => usable('write').append(data),
      fdatasync: () => {
        usable('fdatasync').sync();
        this.stats.fdatasyncs++;
      },
      size: () => usable('fstat').length,
      // Closing twice, or after a crash, is harmless: there is nothing left to release.
      close: () => {
        closed = true;
      },
    };
  }

  private normalize(p: string): string {
    return path.posix.resolve('/', p);
  }

  private lookup(n: string): Inode | undefined {
    return this.dirs.get(path.posix.dirname(n))?.current.get(path.posix.basename(n));
  }

  private parentOf(n: string, syscall: string): Directory {
    const directory = this.dirs.get(path.posix.dirname(n));
    if (directory === undefined) throw fsError('ENOENT', syscall, n);
    return directory;
  }
}
