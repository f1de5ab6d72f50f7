/**
 * A container's resource usage, read from the kernel's cgroup files (v1 or v2, as the layout says).
 *
 * Memory is what `docker stats` shows: usage less the inactive file cache (v1: usage_in_bytes minus
 * memory.stat's total_inactive_file; v2: memory.current minus inactive_file), since page cache the
 * kernel can drop at once under pressure is not memory the container holds. Plain "usage minus
 * cache" would also drop active cache and tmpfs/shm pages, which the container does hold.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cgroupDirs, readCgroupLayout, type CgroupLayout } from './mountinfo.js';

export interface CgroupStats {
  /** CPU time used by all its processes, in nanoseconds (exact up to ~104 days of CPU). */
  cpuUsageNs: number;
  memoryBytes: number;
  /** Absent when the cgroup has no memory limit. */
  memoryLimitBytes?: number;
  pidsCurrent: number;
  /** Processes the kernel's OOM killer killed in it. */
  oomKills: number;
}

async function readText(dir: string, name: string): Promise<string> {
  return readFile(join(dir, name), 'utf8');
}

async function readNumber(dir: string, name: string): Promise<number> {
  const text = (await readText(dir, name)).trim();
  const n = Number(text);
  if (text === '' || !Number.isFinite(n)) throw new Error(`${join(dir, name)}: not a number: ${text}`);
  return n;
}

/** The value of `key` in a "key value" per line file (memory.stat, cpu.stat, memory.events), 0 when absent. */
async function readKeyed(dir: string, name: string, key: string): Promise<number> {
  for (const line of (await readText(dir, name)).split('\n')) {
    const [k, v] = line.split(' ');
    if (k === key && v !== undefined) return Number(v);
  }
  return 0;
}

/** v1 writes "no limit" as a page-rounded LONG_MAX, v2 as "max"; no real limit is past 2^53. */
function limitOf(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === 'max') return undefined;
  const n = Number(trimmed);
  return Number.isSafeInteger(n) ? n : undefined;
}

function dirHolding(layout: CgroupLayout, cgroupsPath: string, controller: string): string {
  const found = cgroupDirs(layout, cgroupsPath).find((d) => d.hierarchy.controllers.includes(controller));
  if (!found) throw new Error(`no cgroup v1 hierarchy holds the ${controller} controller`);
  return found.dir;
}

async function readV1(layout: CgroupLayout, cgroupsPath: string): Promise<CgroupStats> {
  const memory = dirHolding(layout, cgroupsPath, 'memory');
  const cpuacct = dirHolding(layout, cgroupsPath, 'cpuacct');
  const pids = dirHolding(layout, cgroupsPath, 'pids');
  const [cpuUsageNs, usage, inactiveFile, limit, pidsCurrent, oomKills] = await Promise.all([
    readNumber(cpuacct, 'cpuacct.usage'),
    readNumber(memory, 'memory.usage_in_bytes'),
    readKeyed(memory, 'memory.stat', 'total_inactive_file'),
    readText(memory, 'memory.limit_in_bytes'),
    readNumber(pids, 'pids.current'),
    readKeyed(memory, 'memory.oom_control', 'oom_kill'),
  ]);
  return stats(cpuUsageNs, usage - inactiveFile, limitOf(limit), pidsCurrent, oomKills);
}

async function readV2(layout: CgroupLayout, cgroupsPath: string): Promise<CgroupStats> {
  const dir = (cgroupDirs(layout, cgroupsPath)[0] as { dir: string }).dir;
  const [usageUsec, current, inactiveFile, limit, pidsCurrent, oomKills] = await Promise.all([
    readKeyed(dir, 'cpu.stat', 'usage_usec'),
    readNumber(dir, 'memory.current'),
    readKeyed(dir, 'memory.stat', 'inactive_file'),
    readText(dir, 'memory.max'),
    readNumber(dir, 'pids.current'),
    readKeyed(dir, 'memory.events', 'oom_kill'),
  ]);
  return stats(usageUsec * 1000, current - inactiveFile, limitOf(limit), pidsCurrent, oomKills);
}

function stats(
  cpuUsageNs: number,
  memoryBytes: number,
  memoryLimitBytes: number | undefined,
  pidsCurrent: number,
  oomKills: number,
): CgroupStats {
  const result: CgroupStats = { cpuUsageNs, memoryBytes: Math.max(0, memoryBytes), pidsCurrent, oomKills };
  if (memoryLimitBytes !== undefined) result.memoryLimitBytes = memoryLimitBytes;
  return result;
}

/**
 * The usage of the cgroup at `cgroupsPath` (linux.cgroupsPath: absolute from each hierarchy's root,
 * relative below this process's own cgroup). Pass the layout when reading many: without it this
 * reads /proc/self/mountinfo and /proc/self/cgroup on every call.
 */
export async function readStats(cgroupsPath: string, layout?: CgroupLayout): Promise<CgroupStats> {
  const l = layout ?? (await readCgroupLayout());
  return l.version === 1 ? readV1(l, cgroupsPath) : readV2(l, cgroupsPath);
}
