/**
 * A file of a container's root read before the container exists, as its processes will see it:
 * from the root directory, or, for an overlay root, from the merge overlayfs will make of the
 * upper directory and the lower layers, top first. In the merge the topmost layer that has a name
 * decides what it is: a whiteout (a 0/0 character device) removes it, a file or a link is taken
 * as it is, and a directory takes in the same directory of the layers below, down to the first
 * layer that has something else there or to an opaque one (trusted.overlay.opaque=y, as the image
 * store marks them). Symlinks are followed as inside the container: an absolute target starts
 * again from the root and `..` stops there, so nothing outside the root is read.
 *
 * Node cannot read extended attributes, so opacity is asked of `getfattr` (Debian's `attr`, which
 * the image store's `setfattr` comes from), and only when a lookup goes down past a directory: a
 * file found in the topmost layer that has its directory costs no process.
 */
import { execFile } from 'node:child_process';
import { constants, type Stats } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { OverlayLayers } from './config.js';

/** The container's root as its spec gives it. */
export interface RootView {
  rootfs: string;
  overlay?: OverlayLayers;
}

/** Far more than any passwd or group file; a bigger file is refused rather than read into memory. */
export const MAX_ROOT_FILE_BYTES = 16 * 1024 * 1024;
const MAX_SYMLINKS = 40; // as the kernel's own lookup limit
const OPAQUE_XATTR = 'trusted.overlay.opaque';

const run = promisify(execFile);

/**
 * The text of each regular file in `paths` (absolute, as inside the container), or undefined for
 * one that is not there. Read one after the other, so that what is learnt of the layers serves all.
 */
export async function readRootFiles(root: RootView, paths: string[]): Promise<(string | undefined)[]> {
  const tree = new MergedTree(root);
  const texts: (string | undefined)[] = [];
  for (const path of paths) {
    const hostPath = await tree.find(path);
    texts.push(hostPath === undefined ? undefined : await readRegularFile(hostPath, path));
  }
  return texts;
}

async function readRegularFile(hostPath: string, path: string): Promise<string | undefined> {
  // O_NOFOLLOW and a non-blocking open: should the entry have changed since the lookup, a link is
  // not followed and a fifo does not hang the read.
  const file = await open(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const stats = await file.stat();
    if (!stats.isFile()) return undefined;
    if (stats.size > MAX_ROOT_FILE_BYTES) throw new Error(`${path} in the container's root is larger than ${MAX_ROOT_FILE_BYTES} bytes`);
    return await file.readFile('utf8');
  } finally {
    await file.close();
  }
}

/** One layer's directory in a directory of the merge; `layer` is the layer's index, top first. */
interface Part {
  layer: number;
  path: string;
}

/** A directory of the merge: its parts, top first, some of which may yet prove hidden by an opaque one. */
interface MergedDir {
  parts: Part[];
  parent?: MergedDir;
}

type Entry = { kind: 'dir'; dir: MergedDir } | { kind: 'link' | 'file'; path: string } | { kind: 'none' };

class MergedTree {
  private readonly layers: string[];
  private readonly opaque = new Map<string, boolean>();

  constructor(root: RootView) {
    this.layers = root.overlay ? [root.overlay.upper, ...root.overlay.lower] : [root.rootfs];
  }

  /** The host path of the regular file `path` names in the merge, or undefined. */
  async find(path: string): Promise<string | undefined> {
    // A layer directory not made yet (the upper one, before the container's first start) has nothing.
    const parts: Part[] = [];
    for (const [layer, dir] of this.layers.entries()) if ((await lstatIfExists(dir))?.isDirectory()) parts.push({ layer, path: dir });
    const stack: MergedDir[] = [{ parts }];
    const queue = path.split('/');
    let links = 0;
    while (queue.length > 0) {
      const name = queue.shift() as string;
      if (name === '' || name === '.') continue;
      if (name === '..') {
        if (stack.length > 1) stack.pop();
        continue;
      }
      const entry = await this.lookup(stack.at(-1) as MergedDir, name);
      switch (entry.kind) {
        case 'none':
          return undefined;
        case 'dir':
          stack.push(entry.dir);
          break;
        case 'link': {
          if (++links > MAX_SYMLINKS) throw new Error(`${path} in the container's root: too many levels of symbolic links`);
          const target = await readlink(entry.path);
          if (target.startsWith('/')) stack.splice(1);
          queue.unshift(...target.split('/'));
          break;
        }
        case 'file':
          // A file with more of the path after it is not a directory to go on in.
          return queue.every((rest) => rest === '' || rest === '.') ? entry.path : undefined;
      }
    }
    return undefined; // a directory
  }

  private async lookup(dir: MergedDir, name: string): Promise<Entry> {
    for (const [i, part] of dir.parts.entries()) {
      if (i > 0 && (await this.hidden(dir, part.layer))) return { kind: 'none' };
      const path = join(part.path, name);
      const stats = await lstatIfExists(path);
      if (!stats) continue;
      if (stats.isSymbolicLink()) return { kind: 'link', path };
      if (stats.isFile()) return { kind: 'file', path };
      // A whiteout (a 0/0 character device), or any other node, is no file and hides what is below.
      if (!stats.isDirectory()) return { kind: 'none' };
      const parts = [{ layer: part.layer, path }];
      for (const lower of dir.parts.slice(i + 1)) {
        const lowerPath = join(lower.path, name);
        const lowerStats = await lstatIfExists(lowerPath);
        if (!lowerStats) continue;
        // A whiteout, file or link hides the directories of the layers below it.
        if (!lowerStats.isDirectory()) break;
        parts.push({ layer: lower.layer, path: lowerPath });
      }
      return { kind: 'dir', dir: { parts, parent: dir } };
    }
    return { kind: 'none' };
  }

  /** Whether an opaque directory of a layer above `layer`, in `dir` or one of its parents, hides that layer there. */
  private async hidden(dir: MergedDir, layer: number): Promise<boolean> {
    const above: string[] = [];
    for (let d: MergedDir | undefined = dir; d; d = d.parent) above.push(...d.parts.filter((p) => p.layer < layer).map((p) => p.path));
    const unknown = above.filter((path) => !this.opaque.has(path));
    if (unknown.length > 0) {
      const marked = await opaqueDirs(unknown);
      for (const path of unknown) this.opaque.set(path, marked.has(path));
    }
    return above.some((path) => this.opaque.get(path));
  }
}

/** Which of `dirs` are opaque, in one `getfattr` run. */
async function opaqueDirs(dirs: string[]): Promise<Set<string>> {
  // -d lists only the files that have the attribute; the names come back with \ooo escapes.
  const { stdout } = await run('getfattr', ['-d', '--absolute-names', '-m', `^${OPAQUE_XATTR.replaceAll('.', '\\.')}$`, '--', ...dirs]);
  const opaque = new Set<string>();
  let file: string | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('# file: ')) {
      file = line.slice('# file: '.length).replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    } else if (file !== undefined && line === `${OPAQUE_XATTR}="y"`) {
      opaque.add(file);
    }
  }
  return opaque;
}

async function lstatIfExists(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOTDIR: a layer has a file where another has a directory on the way.
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}
