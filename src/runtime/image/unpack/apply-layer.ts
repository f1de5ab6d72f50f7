/**
 * Applies one layer's tar entries onto a directory, in one of two modes:
 *
 * - `flatten`: the directory holds the lower layers already; the layer is applied on top of them
 *   as the OCI image spec describes. `.wh.NAME` removes NAME; `.wh..wh..opq` removes everything
 *   in its directory that lower layers put there. Whiteouts act on lower layers only, so what this
 *   layer itself writes survives them, whichever order the archive lists them in.
 * - `overlay`: the directory is empty and becomes one overlayfs lower layer. Whiteouts are turned
 *   into overlayfs's own: a 0/0 character device for `.wh.NAME`, and the `trusted.overlay.opaque=y`
 *   extended attribute for an opaque directory.
 *
 * Extended attributes from the entries' `SCHILY.xattr.*` records are set after the owner (chown
 * clears a file capability), and a directory merged into takes exactly the layer's set, as umoci
 * does; `trusted.overlay.*` belongs to overlayfs, so an image may not set it and clearing keeps it.
 *
 * Node can neither make device nodes nor read or set extended attributes, so those few operations
 * run the `mknod`, `getfattr` and `setfattr` commands (coreutils and Debian's `attr` package);
 * everything else is done with Node's own calls. Regular files are opened with O_NOFOLLOW|O_EXCL
 * after the old entry is removed, and every parent goes through `ScopedResolver`, so nothing lands
 * outside the root.
 * Directory times are set last, deepest first, since adding children changes them.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, readdir, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TarEntry } from './tar-reader.js';
import { entryComponents, ScopedResolver, UnsafePathError } from './scoped-path.js';

export type LayerMode = 'flatten' | 'overlay';

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
const OVERLAY_XATTRS = 'trusted.overlay.';

const run = promisify(execFile);

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

async function lstatOrUndefined(path: string) {
  try {
    return await lstat(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

async function mknod(path: string, kind: 'c' | 'b' | 'p', mode: number, major = 0, minor = 0): Promise<void> {
  const args = ['-m', mode.toString(8), '--', path, kind];
  if (kind !== 'p') args.push(String(major), String(minor));
  await run('mknod', args);
}

/** Sets an entry's extended attributes on `path` itself (a symlink is not followed). */
async function setXattrs(path: string, xattrs: Map<string, Buffer>): Promise<void> {
  for (const [name, value] of xattrs) {
    if (name.startsWith(OVERLAY_XATTRS)) continue;
    const args = ['--no-dereference', '-n', name];
    if (value.length > 0) args.push('-v', `0x${value.toString('hex')}`);
    await run('setfattr', [...args, '--', path]);
  }
}

/** Removes the extended attributes `path` has, except overlayfs's own. */
async function clearXattrs(path: string): Promise<void> {
  const { stdout } = await run('getfattr', ['--no-dereference', '--absolute-names', '--match=-', '--', path]);
  const names = stdout.split('\n').filter((line) => line !== '' && !line.startsWith('# file: '));
  for (const name of names) {
    if (!name.startsWith(OVERLAY_XATTRS)) await run('setfattr', ['--no-dereference', '-x', name, '--', path]);
  }
}

export class LayerApplier {
  private readonly resolver: ScopedResolver;
  /** Real paths this layer has written: whiteouts leave them alone. */
  private readonly written = new Set<string>();
  private readonly dirTimes: { path: string; mtime: number }[] = [];

  constructor(
    root: string,
    private readonly mode: LayerMode,
  ) {
    this.resolver = new ScopedResolver(root);
  }

  async apply(entry: TarEntry): Promise<void> {
    const parts = entryComponents(entry.path);
    // The root's own entry ("./"): the root belongs to whoever made it, not to the layer.
    if (parts.length === 0) return;
    const name = parts[parts.length - 1];
    const parentParts = parts.slice(0, -1);

    if (name === OPAQUE) return this.opaque(parentParts);
    if (name.startsWith(WHITEOUT)) {
      const victim = name.slice(WHITEOUT.length);
      if (victim === '' || victim === '.' || victim === '..') throw new UnsafePathError(entry.path, 'whiteout names no entry');
      return this.whiteout(parentParts, victim);
    }

    const parent = (await this.resolver.directory(parentParts, true)) as string;
    const path = join(parent, name);
    switch (entry.type) {
      case 'dir':
        await this.directory(path, entry);
        break;
      case 'file':
        await this.replace(path);
        await this.file(path, entry);
        break;
      case 'symlink':
        await this.replace(path);
        await symlink(entry.linkpath, path);
        await lchown(path, entry.uid, entry.gid);
        await setXattrs(path, entry.xattrs);
        await lutimes(path, entry.mtime, entry.mtime);
        break;
      case 'hardlink':
        await this.hardlink(path, entry);
        break;
      case 'char':
      case 'block':
      case 'fifo':
        await this.replace(path);
        await mknod(path, entry.type === 'char' ? 'c' : entry.type === 'block' ? 'b' : 'p', entry.mode, entry.devmajor, entry.devminor);
        await this.setOwnerModeTime(path, entry);
        await setXattrs(path, entry.xattrs);
        break;
    }
    this.written.add(path);
  }

  /** Sets the directory times held back while their contents were written. */
  async finish(): Promise<void> {
    const depth = (path: string) => path.split('/').length;
    this.dirTimes.sort((a, b) => depth(b.path) - depth(a.path));
    for (const { path, mtime } of this.dirTimes) await utimes(path, mtime, mtime);
  }

  /** Removes whatever is at `path` (never following it) so that a new entry can take its place. */
  private async replace(path: string): Promise<void> {
    const existing = await lstatOrUndefined(path);
    if (existing === undefined) return;
    await rm(path, { recursive: existing.isDirectory(), force: true });
    if (existing.isDirectory()) this.resolver.forget();
  }

  private async setOwnerModeTime(path: string, entry: TarEntry): Promise<void> {
    // Owner first: chown clears the set-id bits that chmod then puts back.
    await lchown(path, entry.uid, entry.gid);
    await chmod(path, entry.mode);
    await utimes(path, entry.mtime, entry.mtime);
  }

  private async directory(path: string, entry: TarEntry): Promise<void> {
    const existing = await lstatOrUndefined(path);
    const merged = existing?.isDirectory() === true;
    if (!merged) {
      const wasWhiteout = this.mode === 'overlay' && existing?.isCharacterDevice() === true && existing.rdev === 0;
      await this.replace(path);
      await mkdir(path, { mode: 0o700 });
      // A directory removed and made again in one layer must not show the lower one's contents.
      if (wasWhiteout) await this.markOpaque(path);
    }
    // An existing directory is merged into, taking this layer's owner, mode, xattrs and time.
    await lchown(path, entry.uid, entry.gid);
    await chmod(path, entry.mode);
    if (merged) await clearXattrs(path);
    await setXattrs(path, entry.xattrs);
    this.dirTimes.push({ path, mtime: entry.mtime });
  }

  private async file(path: string, entry: TarEntry): Promise<void> {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
    const file = await open(path, flags, 0o600);
    try {
      for await (const chunk of entry.body) await file.write(chunk);
      await file.chown(entry.uid, entry.gid);
      await file.chmod(entry.mode);
      await file.utimes(entry.mtime, entry.mtime);
    } finally {
      await file.close();
    }
    await setXattrs(path, entry.xattrs);
  }

  private async hardlink(path: string, entry: TarEntry): Promise<void> {
    const targetParts = entryComponents(entry.linkpath);
    if (targetParts.length === 0) throw new UnsafePathError(entry.path, 'hard link to the root');
    const targetDir = await this.resolver.directory(targetParts.slice(0, -1), false);
    const target = targetDir === undefined ? undefined : join(targetDir, targetParts[targetParts.length - 1]);
    const stats = target === undefined ? undefined : await lstatOrUndefined(target);
    if (target === undefined || stats === undefined) {
      throw new Error(`layer entry ${JSON.stringify(entry.path)}: hard link target ${JSON.stringify(entry.linkpath)} does not exist`);
    }
    if (stats.isDirectory()) throw new UnsafePathError(entry.path, 'hard link to a directory');
    if (target === path) return;
    await this.replace(path);
    await link(target, path);
  }

  private async whiteout(parentParts: string[], victim: string): Promise<void> {
    const parent = await this.resolver.directory(parentParts, this.mode === 'overlay');
    if (parent === undefined) return; // nothing below to hide
    const path = join(parent, victim);
    if (this.written.has(path)) return; // whiteouts hide lower layers only
    await this.replace(path);
    if (this.mode === 'overlay') await mknod(path, 'c', 0o000, 0, 0);
  }

  private async opaque(parentParts: string[]): Promise<void> {
    const dir = await this.resolver.directory(parentParts, this.mode === 'overlay');
    if (dir === undefined) return;
    if (this.mode === 'overlay') await this.markOpaque(dir);
    else await this.removeLowerContent(dir);
  }

  private async markOpaque(dir: string): Promise<void> {
    await run('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', '--', dir]);
  }

  /** Empties `dir` of everything this layer did not write, looking inside what it did write. */
  private async removeLowerContent(dir: string): Promise<void> {
    for (const name of await readdir(dir)) {
      const child = join(dir, name);
      if (!this.written.has(child)) {
        await rm(child, { recursive: true, force: true });
        this.resolver.forget();
        continue;
      }
      if ((await lstat(child)).isDirectory()) await this.removeLowerContent(child);
    }
  }
}

/** Applies every entry of a layer's tar stream onto `root`. */
export async function applyLayer(root: string, entries: AsyncIterable<TarEntry>, mode: LayerMode): Promise<void> {
  const applier = new LayerApplier(root, mode);
  for await (const entry of entries) await applier.apply(entry);
  await applier.finish();
}
