/** A directory tree as comparable data, for checking an unpack against an expected one or an oracle. */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface Node {
  kind: 'dir' | 'file' | 'symlink' | 'char' | 'block' | 'fifo' | 'other';
  mode: number;
  uid: number;
  gid: number;
  content?: string;
  target?: string;
  rdev?: number;
  /** Whole seconds; directories included. */
  mtime: number;
}

export async function snapshot(root: string): Promise<Record<string, Node>> {
  const out: Record<string, Node> = {};
  async function walk(dir: string, prefix: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const rel = prefix === '' ? name : `${prefix}/${name}`;
      const stats = await lstat(path);
      const base = { mode: stats.mode & 0o7777, uid: stats.uid, gid: stats.gid, mtime: Math.floor(stats.mtimeMs / 1000) };
      if (stats.isDirectory()) {
        out[rel] = { kind: 'dir', ...base };
        await walk(path, rel);
      } else if (stats.isFile()) out[rel] = { kind: 'file', ...base, content: (await readFile(path)).toString() };
      else if (stats.isSymbolicLink()) out[rel] = { kind: 'symlink', ...base, mode: 0, target: await readlink(path) };
      else if (stats.isCharacterDevice()) out[rel] = { kind: 'char', ...base, rdev: stats.rdev };
      else if (stats.isBlockDevice()) out[rel] = { kind: 'block', ...base, rdev: stats.rdev };
      else if (stats.isFIFO()) out[rel] = { kind: 'fifo', ...base };
      else out[rel] = { kind: 'other', ...base };
    }
  }
  await walk(root, '');
  return out;
}
