/**
 * The C module's test driver (src/runtime/shim/testing/cgroup-driver.c, which includes cgroup.c),
 * built into a test's work directory and run.
 */
import { spawnSync } from 'node:child_process';
import { buildDriver } from '../../shim/testing/build-driver.js';

export function buildCgroupDriver(work: string): string {
  return buildDriver(work, 'cgroup-driver', ['testing/cgroup-driver.c']);
}

export interface DriverResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runDriver(driver: string, args: string[]): DriverResult {
  const r = spawnSync(driver, args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
