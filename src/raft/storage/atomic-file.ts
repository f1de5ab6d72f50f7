/**
 * Replacing a small file atomically: write a temporary file, make its data durable, rename it over
 * the target and make the rename durable. A crash leaves either the old file or the new one whole.
 */
import * as path from 'node:path';
import type { Fs } from './types.js';

export const TEMP_SUFFIX = '.tmp';

export interface AtomicWriteDurability {
  /** fdatasync the new content before the rename (without it a crash may expose a torn file). */
  fdatasync: boolean;
  /** fsync the directory after the rename (without it a crash may bring the old file back). */
  fsyncDir: boolean;
}

export function writeFileAtomically(fs: Fs, file: string, content: Uint8Array, durability: AtomicWriteDurability): void {
  const temp = file + TEMP_SUFFIX;
  // A temporary file left by a crash would otherwise be appended to.
  if (fs.exists(temp)) fs.unlink(temp);
  const handle = fs.openAppend(temp);
  try {
    handle.write(content);
    if (durability.fdatasync) handle.fdatasync();
  } finally {
    handle.close();
  }
  fs.rename(temp, file);
  if (durability.fsyncDir) fs.fsyncDir(path.dirname(file));
}
