/**
 * Whether a process recorded earlier is still that same process, from /proc/PID/stat (Linux). A pid
 * alone is not enough: after the process exits the kernel may hand its number to another, so the
 * record keeps the process's start time (in clock ticks since boot) and both must match. A zombie
 * (exited, not yet reaped by its parent) counts as gone.
 */
import { readFileSync } from 'node:fs';

export interface ProcStat {
  /** One letter: R running, S sleeping, D disk wait, Z zombie, T stopped, X dead, ... */
  state: string;
  /** Clock ticks after boot at which the process started. */
  startTime: number;
}

export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2, in parentheses) may itself contain spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTime = Number(fields[19]);
  if (state === undefined || !Number.isFinite(startTime)) return undefined;
  return { state, startTime };
}

/** True if `pid` is alive and, when `startTime` is given, is the process that started then. */
export function isAlive(pid: number, startTime?: number): boolean {
  if (!(pid > 0)) return false;
  const stat = readProcStat(pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === undefined || stat.startTime === startTime;
}
