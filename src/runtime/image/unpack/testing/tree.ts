/** A directory tree as comparable data, for checking an unpack against an expected one or an oracle. */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

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

/** Everything an unpack decides about one entry, with file contents as a hash. */
export interface Facts extends Omit<Node, 'content'> {
  size?: number;
  sha256?: string;
  /** For an inode with several names in the tree: the first of them (in walk order). */
  sameInodeAs?: string;
  /** Extended attributes as hex, when there are any. */
  xattrs?: Record<string, string>;
}

/** Every entry under `root` (not the root itself), parents before children, names sorted. */
async function walk(root: string, visit: (rel: string, path: string, stats: Stats) => Promise<void>): Promise<void> {
  async function into(dir: string, prefix: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      const rel = prefix === '' ? name : `${prefix}/${name}`;
      const stats = await lstat(path);
      await visit(rel, path, stats);
      if (stats.isDirectory()) await into(path, rel);
    }
  }
  await into(root, '');
}

function kindOf(stats: Stats): Node['kind'] {
  if (stats.isDirectory()) return 'dir';
  if (stats.isFile()) return 'file';
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isCharacterDevice()) return 'char';
  if (stats.isBlockDevice()) return 'block';
  if (stats.isFIFO()) return 'fifo';
  return 'other';
}

/** Ownership, mode and whole-second mtime; a symlink's mode is not its own to set, so it is 0. */
function basics(stats: Stats): Pick<Node, 'kind' | 'mode' | 'uid' | 'gid' | 'mtime'> {
  const kind = kindOf(stats);
  return { kind, mode: kind === 'symlink' ? 0 : stats.mode & 0o7777, uid: stats.uid, gid: stats.gid, mtime: Math.floor(stats.mtimeMs / 1000) };
}

export async function snapshot(root: string): Promise<Record<string, Node>> {
  const out: Record<string, Node> = {};
  await walk(root, async (rel, path, stats) => {
    const node: Node = basics(stats);
    if (node.kind === 'file') node.content = (await readFile(path)).toString();
    else if (node.kind === 'symlink') node.target = await readlink(path);
    else if (node.kind === 'char' || node.kind === 'block') node.rdev = stats.rdev;
    out[rel] = node;
  });
  return out;
}

/** The tree's full facts: what `snapshot` gives plus sizes, content hashes, hard links and xattrs. */
export async function inventory(root: string): Promise<Record<string, Facts>> {
  const out: Record<string, Facts> = {};
  const firstName = new Map<number, string>();
  await walk(root, async (rel, path, stats) => {
    const facts: Facts = basics(stats);
    if (facts.kind === 'file') {
      facts.size = stats.size;
      facts.sha256 = createHash('sha256').update(await readFile(path)).digest('hex');
    } else if (facts.kind === 'symlink') facts.target = await readlink(path);
    else if (facts.kind === 'char' || facts.kind === 'block') facts.rdev = stats.rdev;
    if (!stats.isDirectory() && stats.nlink > 1) {
      const first = firstName.get(stats.ino);
      if (first === undefined) firstName.set(stats.ino, rel);
      else facts.sameInodeAs = first;
    }
    out[rel] = facts;
  });
  for (const [rel, xattrs] of await xattrsUnder(root)) out[rel]!.xattrs = xattrs;
  return out;
}

/** Every extended attribute under `root` (symlinks not followed), from one `getfattr` run. */
async function xattrsUnder(root: string): Promise<Map<string, Record<string, string>>> {
  const { stdout } = await run('getfattr', ['--recursive', '--physical', '--no-dereference', '--absolute-names', '--dump', '--match=-', '--encoding=hex', root], {
    maxBuffer: 64 << 20,
  });
  const found = new Map<string, Record<string, string>>();
  let current: Record<string, string> | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('# file: ')) {
      // getfattr escapes unusual bytes in names as backslash and three octal digits.
      const path = line.slice('# file: '.length).replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
      current = {};
      if (path !== root) found.set(path.slice(root.length + 1), current);
      continue;
    }
    const eq = line.indexOf('=');
    if (current !== undefined && eq > 0) current[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return found;
}
