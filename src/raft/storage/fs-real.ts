/**
 * The storage `Fs` contract over node:fs synchronous calls, for production. Directory fsync is an
 * open(dir, 'r') + fsync, which is how Linux makes creations, renames and removals durable.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FileHandle, Fs } from './types.js';

class RealFileHandle implements FileHandle {
  constructor(private fd: number) {}

  write(data: Uint8Array): void {
    let done = 0;
    while (done < data.length) done += fs.writeSync(this.fd, data, done, data.length - done);
  }

  fdatasync(): void {
    fs.fdatasyncSync(this.fd);
  }

  size(): number {
    return fs.fstatSync(this.fd).size;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export const realFs: Fs = {
  mkdirp(dir) {
    const firstCreated = fs.mkdirSync(dir, { recursive: true });
    if (firstCreated === undefined) return;
    // A new directory is itself an entry of its parent: fsync each parent so that files made
    // durable inside the new directories cannot disappear along with them.
    const target = path.resolve(dir);
    for (let d = target; ; d = path.dirname(d)) {
      fsyncDir(path.dirname(d));
      if (d === path.resolve(firstCreated)) break;
    }
  },
  readdir: (dir) => fs.readdirSync(dir),
  exists: (p) => fs.existsSync(p),
  readFile: (p) => fs.readFileSync(p),
  openAppend: (p) => new RealFileHandle(fs.openSync(p, 'a')),
  rename: (from, to) => fs.renameSync(from, to),
  unlink: (p) => fs.unlinkSync(p),
  truncate: (p, length) => fs.truncateSync(p, length),
  fsyncDir,
};
