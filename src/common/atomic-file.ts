/**
 * Whole-file replacement that a crash cannot tear, for small state and key files: the content goes
 * to a temporary file created with its final mode (0600 by default, so key material is never
 * briefly readable by others), which is fsynced, renamed over the target, and the directory fsynced
 * so the rename is durable too. A reader sees the old file or the new one, whole.
 *
 * The synchronous form is for start-up and rare writes (keys); the asynchronous one keeps a busy
 * event loop (the agent's heartbeats) free while the disk syncs. (The Raft stores have their own
 * writer over the injected `Fs`, so the simulator can crash it.)
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

const tempOf = (path: string): string => `${path}.tmp`;

export function writeFileAtomicSync(path: string, data: string | Uint8Array, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = tempOf(path);
  // A leftover temporary file from a crash may carry other permissions; start afresh.
  rmSync(temp, { force: true });
  const fd = openSync(temp, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  const dirFd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

export async function writeFileAtomic(path: string, data: string, mode = 0o600): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = tempOf(path);
  await rm(temp, { force: true });
  const file = await open(temp, 'wx', mode);
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
