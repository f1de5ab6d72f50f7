/**
 * Whole-file replacement that a crash cannot tear: the new content goes to a temporary file that is
 * fsynced, then renamed over the old one, and the directory is fsynced so the rename itself is
 * durable. A reader sees the old content or the new, never a mix.
 */
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const temp = `${path}.tmp`;
  const file = await open(temp, 'w', 0o600);
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
