/**
 * One local cluster for a test file: up in a temporary directory before its tests, down after
 * them, also when it failed half-way up or a test already took it down. Kept apart from
 * local-cluster.ts, which the benchmarks use without vitest.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { LocalCluster, type LocalClusterOptions } from './local-cluster.js';

export interface LocalClusterSuite {
  /** The cluster, once the file's first hook has brought it up. */
  readonly cluster: LocalCluster;
  /** Its state directory. */
  readonly dir: string;
}

export function localClusterSuite(options: Omit<LocalClusterOptions, 'dir'>): LocalClusterSuite {
  let cluster: LocalCluster | undefined;
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `shoal-${options.name}-`));
    cluster = await LocalCluster.up({ ...options, dir });
  }, 180_000);
  afterAll(async () => {
    if (dir === '') return;
    await LocalCluster.down({ name: options.name, dir });
    await rm(dir, { recursive: true, force: true });
  }, 120_000);
  return {
    get cluster(): LocalCluster {
      if (cluster === undefined) throw new Error(`local cluster ${options.name} is not up`);
      return cluster;
    },
    get dir(): string {
      return dir;
    },
  };
}
