/**
 * Path handling that keeps every write of a layer inside its root.
 *
 * An archive name is refused outright if it is absolute or has a `..` component. Its parent
 * directories are then resolved one component at a time inside the root: a symlink met on the way
 * (put there by this layer or a lower one) is read and resolved as if the root were `/`, so `..`
 * stops at the root and an absolute target starts again from it; the result can never leave the
 * root. The last component is never resolved: the caller replaces whatever is there, so a
 * symlink in the archive is never followed by a write.
 */
import { lstat, mkdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export class UnsafePathError extends Error {
  constructor(path: string, why: string) {
    super(`refusing layer entry ${JSON.stringify(path)}: ${why}`);
    this.name = 'UnsafePathError';
  }
}

const MAX_SYMLINKS = 40; // as the kernel's own lookup limit

/** The components of an archive name; [] names the root itself. */
export function entryComponents(name: string): string[] {
  if (name.startsWith('/')) throw new UnsafePathError(name, 'absolute path');
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw new UnsafePathError(name, 'path has a ".." component');
  return parts;
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

export class ScopedResolver {
  /** Resolved directories by the components that named them; valid until something is removed. */
  private readonly cache = new Map<string, string>();

  constructor(private readonly root: string) {}

  /** Must be called whenever the layer removes or replaces anything that may be a directory. */
  forget(): void {
    this.cache.clear();
  }

  /**
   * The real directory that `components` name inside the root. Missing directories are created
   * (mode 0755, owned by root) when `create` is set; otherwise a missing one gives undefined.
   */
  async directory(components: string[], create: boolean): Promise<string | undefined> {
    const key = components.join('/');
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;

    let resolved: string[] = [];
    const queue = [...components];
    let links = 0;
    while (queue.length > 0) {
      const part = queue.shift() as string;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        resolved.pop(); // only from a symlink's target; at the root it stays at the root
        continue;
      }
      const path = join(this.root, ...resolved, part);
      let stats;
      try {
        stats = await lstat(path);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        if (!create) return undefined;
        await mkdir(path, { mode: 0o755 });
        resolved.push(part);
        continue;
      }
      if (stats.isSymbolicLink()) {
        if (++links > MAX_SYMLINKS) throw new UnsafePathError(key, 'too many levels of symbolic links');
        const target = await readlink(path);
        if (target.startsWith('/')) resolved = [];
        queue.unshift(...target.split('/'));
        continue;
      }
      if (!stats.isDirectory()) throw new UnsafePathError(key, `${join(...resolved, part)} is not a directory`);
      resolved.push(part);
    }
    const dir = join(this.root, ...resolved);
    this.cache.set(key, dir);
    return dir;
  }
}
