/**
 * The image store's write lock, within one process and between processes (the helper in
 * testing/store-process.ts, built by `npm run build`).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readProcStat } from '../../common/proc-stat.js';
import { ImageStoreBusyError, StoreLock, type LockHolder } from './store-lock.js';
import { StoreProcess } from './testing/store-process-handle.js';

let work: string;
let dir: string;
const children: StoreProcess[] = [];

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-store-lock-'));
  dir = join(work, 'lock');
});
afterEach(async () => {
  for (const child of children.splice(0)) await child.kill();
  await rm(work, { recursive: true, force: true });
});

const take = (owner: string, timeoutMs = 0, onWait?: (holder: LockHolder) => void) => StoreLock.acquire(dir, '/the/store', { owner, timeoutMs, onWait });

/** The lock directory's entries as `generation -> target`. */
async function entries(): Promise<Record<string, string>> {
  const names = await readdir(dir);
  return Object.fromEntries(await Promise.all(names.map(async (name) => [name, await readlink(join(dir, name))] as const)));
}

function start(args: string[]): StoreProcess {
  const child = new StoreProcess(args);
  children.push(child);
  return child;
}

const me = (): LockHolder => ({
  pid: process.pid,
  startTime: readProcStat(process.pid)!.startTime,
  bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
  owner: 'planted',
});

describe('store lock in one process', () => {
  it('is exclusive until released, and leaves one free generation behind', async () => {
    const first = await take('first');
    const refused = await take('second').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ImageStoreBusyError);
    expect((refused as Error).message).toBe(`image store /the/store is in use by pid ${process.pid} (first)`);
    expect((refused as ImageStoreBusyError).holder).toMatchObject({ pid: process.pid, owner: 'first' });
    await first.release();
    const second = await take('second');
    await second.release();
    expect(await entries()).toEqual({ '4': 'free' });
  });

  it('waits up to the timeout, says so once, and names the holder when it gives up', async () => {
    const held = await take('holder');
    const told: LockHolder[] = [];
    const error = await take('waiter', 300, (h) => told.push(h)).catch((e: unknown) => e);
    expect((error as Error).message).toBe(`image store /the/store is in use by pid ${process.pid} (holder); gave up after waiting 0.3 s`);
    expect(told).toEqual([expect.objectContaining({ pid: process.pid, owner: 'holder' })]);
    await held.release();
  });

  it.each<[string, (holder: LockHolder) => string]>([
    ['a dead process', (h) => JSON.stringify({ ...h, pid: spawnSync('true').pid })],
    ['a pid now used by another process (another start time)', (h) => JSON.stringify({ ...h, startTime: h.startTime + 1 })],
    ['a process from before a reboot', (h) => JSON.stringify({ ...h, bootId: 'another-boot' })],
    ['a record it cannot read', () => 'not a lock record'],
  ])('takes over at once a lock held by %s', async (_what, record) => {
    await mkdir(dir);
    await symlink(record(me()), join(dir, '7'));
    const lock = await take('taker');
    expect(Object.keys(await entries())).toEqual(['8']);
    await lock.release();
  });
});

describe('store lock between processes', () => {
  it("waits for another process's lock and gets it when that one releases; with no wait, names it", async () => {
    const holder = start(['hold', dir, 'shoal worker']);
    await holder.line((l) => l === 'locked');
    await expect(take('shoal image rm')).rejects.toThrow(`image store /the/store is in use by pid ${holder.pid} (shoal worker)`);

    let waiting!: () => void;
    const told = new Promise<void>((resolve) => (waiting = resolve));
    const taking = take('shoal image rm', 60_000, () => waiting());
    await told;
    expect(await holder.finish()).toBe(0);
    const lock = await taking;
    await lock.release();
  });

  it('takes over at once from a holder killed with SIGKILL', async () => {
    const holder = start(['hold', dir, 'shoal worker']);
    await holder.line((l) => l === 'locked');
    await holder.kill();
    expect(JSON.parse(Object.values(await entries())[0]!)).toMatchObject({ pid: holder.pid, owner: 'shoal worker' });
    const lock = await take('after the crash');
    await lock.release();
  });

  it('three processes racing for a stale lock, then taking turns, are never inside together', async () => {
    await mkdir(dir);
    await symlink(JSON.stringify({ ...me(), pid: spawnSync('true').pid }), join(dir, '1'));
    const log = join(work, 'turns.log');
    const rounds = 40;
    const racers = [0, 1, 2].map(() => start(['turns', dir, log, String(rounds)]));
    expect(await Promise.all(racers.map((r) => r.exited))).toEqual([0, 0, 0]);

    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(3 * rounds * 2);
    for (let i = 0; i < lines.length; i += 2) {
      const [enter, exit] = [lines[i]!.split(' '), lines[i + 1]!.split(' ')];
      expect([enter[0], exit[0], exit[1]]).toEqual(['enter', 'exit', enter[1]]);
    }
    for (const racer of racers) expect(lines.filter((l) => l === `enter ${racer.pid}`)).toHaveLength(rounds);
    expect(Object.values(await entries())).toEqual(['free']);
  });
});
