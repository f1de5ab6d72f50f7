/**
 * The image store's write lock, shared by every process on one state directory (the worker and
 * `shoal image`). Node has no flock, so the lock is made of files that only ever appear whole:
 *
 *   lock/<generation>  a symlink whose target is the holder's record, `{"pid":…,"startTime":…,
 *                      "bootId":…,"owner":…}`, or `free` once released
 *
 * A symlink is created with its content in one step and fails with EEXIST if the name is taken,
 * so it is an O_EXCL file that no reader ever sees half-written and no crash leaves empty. The
 * highest generation is the lock's state. To take the lock a process reads it and, if it is free
 * or its holder is dead (pid gone, or reused by another process: the start time from /proc
 * differs, or the machine rebooted), creates the next generation. Two takers of one stale lock
 * race for the same name and one loses; nothing is ever deleted to take a lock over, so no taker
 * can delete a lock someone else has just taken. A taker whose look was so old that generations
 * have come and gone since creates a name below the highest, sees that, and backs off. Only
 * generations below the highest are deleted, so the highest never goes down. (With one lock file,
 * taking over means deleting the stale file, and between reading it and deleting it another
 * taker may have replaced it already: no delete can be made conditional on what the file holds.)
 *
 * A waiter polls. It assumes that the processes sharing a state directory share a pid namespace.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readlink, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../common/clock.js';
import { isAlive, readProcStat } from '../../common/proc-stat.js';

export interface LockHolder {
  pid: number;
  /** Clock ticks after boot at which the process started (/proc/PID/stat). */
  startTime: number;
  /** /proc/sys/kernel/random/boot_id: a pid and start time from before a reboot mean nothing now. */
  bootId: string;
  /** Who it is, for whoever waits: `shoal worker`, `shoal image pull`. */
  owner: string;
}

/** The lock stayed held by a live process for as long as the caller would wait. */
export class ImageStoreBusyError extends Error {
  override name = 'ImageStoreBusyError';
  constructor(
    readonly store: string,
    readonly holder: LockHolder,
    timeoutMs: number,
  ) {
    const waited = timeoutMs > 0 ? `; gave up after waiting ${Number((timeoutMs / 1000).toFixed(1))} s` : '';
    super(`image store ${store} is in use by pid ${holder.pid} (${holder.owner})${waited}`);
  }
}

export interface LockOptions {
  owner: string;
  /** How long to wait for a live holder to let go; 0 fails at once. */
  timeoutMs: number;
  /** Called once, when the lock is found held and the caller starts to wait. */
  onWait?: (holder: LockHolder) => void;
  clock?: Clock;
}

const FREE = 'free';
const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 500;

const bootId = (): string => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

function self(owner: string): LockHolder {
  const stat = readProcStat(process.pid);
  if (stat === undefined) throw new Error('cannot read /proc/self/stat');
  return { pid: process.pid, startTime: stat.startTime, bootId: bootId(), owner };
}

function parseHolder(target: string): LockHolder | undefined {
  if (target === FREE) return undefined;
  try {
    const holder = JSON.parse(target) as LockHolder;
    return typeof holder.pid === 'number' && typeof holder.startTime === 'number' && typeof holder.bootId === 'string' ? holder : undefined;
  } catch {
    return undefined; // not a record this code wrote: nobody holds it
  }
}

const isLive = (holder: LockHolder): boolean => holder.bootId === bootId() && isAlive(holder.pid, holder.startTime);

const code = (err: unknown): string | undefined => (err as NodeJS.ErrnoException).code;

export class StoreLock {
  private constructor(
    private readonly dir: string,
    private readonly generation: number,
  ) {}

  /**
   * Takes the lock in `dir` (made if missing), waiting up to `timeoutMs` for a live holder;
   * `store` names the store in the error.
   */
  static async acquire(dir: string, store: string, options: LockOptions): Promise<StoreLock> {
    const clock = options.clock ?? systemClock;
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const record = JSON.stringify(self(options.owner));
    const start = clock.now();
    let poll = FIRST_POLL_MS;
    let told = false;
    for (;;) {
      const top = await highest(dir);
      const holder = top === undefined ? undefined : await holderOf(dir, top);
      if (holder === 'vanished') continue;
      if (holder !== undefined && isLive(holder)) {
        const waited = clock.now() - start;
        if (waited >= options.timeoutMs) throw new ImageStoreBusyError(store, holder, options.timeoutMs);
        if (!told) options.onWait?.(holder);
        told = true;
        const delay = Math.min(poll, options.timeoutMs - waited);
        await new Promise<void>((resolve) => clock.setTimer(delay, resolve));
        poll = Math.min(poll * 2, MAX_POLL_MS);
        continue;
      }
      const generation = (top ?? 0) + 1;
      try {
        await symlink(record, join(dir, String(generation)));
      } catch (err) {
        if (code(err) === 'EEXIST') continue; // another process took it first: look again
        throw err;
      }
      // Our look was stale if generations above ours already exist: then it is not ours.
      if (((await highest(dir)) ?? 0) > generation) {
        await unlinkIfThere(join(dir, String(generation)));
        continue;
      }
      await removeBelow(dir, generation);
      return new StoreLock(dir, generation);
    }
  }

  /** Marks the lock free (a new, higher generation) and drops the holder's own. */
  async release(): Promise<void> {
    await symlink(FREE, join(this.dir, String(this.generation + 1)));
    await unlinkIfThere(join(this.dir, String(this.generation)));
  }
}

async function generations(dir: string): Promise<number[]> {
  return (await readdir(dir)).filter((name) => /^[1-9][0-9]*$/.test(name)).map(Number);
}

async function highest(dir: string): Promise<number | undefined> {
  const all = await generations(dir);
  return all.length === 0 ? undefined : Math.max(...all);
}

/** The holder a generation names; undefined when free; 'vanished' if it was deleted meanwhile. */
async function holderOf(dir: string, generation: number): Promise<LockHolder | undefined | 'vanished'> {
  try {
    return parseHolder(await readlink(join(dir, String(generation))));
  } catch (err) {
    if (code(err) === 'ENOENT') return 'vanished';
    throw err;
  }
}

async function removeBelow(dir: string, generation: number): Promise<void> {
  for (const old of await generations(dir)) {
    if (old < generation) await unlinkIfThere(join(dir, String(old)));
  }
}

async function unlinkIfThere(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if (code(err) !== 'ENOENT') throw err;
  }
}
