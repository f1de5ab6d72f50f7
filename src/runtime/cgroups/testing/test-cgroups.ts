/**
 * For tests that make real cgroups: a unique name to put them under, and the removal of everything
 * under it in every hierarchy (from each mount point and from this process's own cgroup, for
 * relative paths), processes killed first, so that a failed test leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { readCgroupLayout } from '../mountinfo.js';

/** "shoal-test-<hex>": a name no other test run uses. */
export function testCgroupName(): string {
  return `shoal-test-${randomBytes(6).toString('hex')}`;
}

async function removeTree(dir: string): Promise<void> {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return; // already gone
  }
  for (const e of entries) if (e.isDirectory()) await removeTree(join(dir, e.name));
  // Processes leave a cgroup as they die (before they are reaped), so this ends once they are killed.
  for (let attempt = 0; ; attempt++) {
    for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || attempt === 1000) throw err;
    }
    await delay(10);
  }
}

/** Removes every cgroup directory whose name starts with `prefix`, at either place in every hierarchy. */
export async function removeTestCgroups(prefix: string): Promise<void> {
  const layout = await readCgroupLayout();
  for (const h of layout.hierarchies) {
    for (const base of new Set([h.mountPoint, h.mountPoint + h.ownPath])) {
      for (const name of readdirSync(base)) if (name.startsWith(prefix)) await removeTree(join(base, name));
    }
  }
}
