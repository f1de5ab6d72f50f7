/**
 * What the runtime benchmark makes outside its own process, and taking it all away again: the two
 * state roots in a temporary directory under /run (a container left in one is deleted with --force
 * by the runtime that made it), the network namespaces, the benchmark's own cgroup parent (every
 * container's cgroup is made below it, in every hierarchy), the local registry, and a temporary
 * directory for bundles, the image store and the containers' overlay directories.
 *
 * `cleanup` is synchronous, so that a signal handler can run it before the process exits, and may
 * run twice; it reports what it had to remove, since a clean run leaves nothing for it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cgroupDirs, readCgroupLayout } from '../../src/runtime/cgroups/index.js';
import type { LocalRegistry } from '../../src/runtime/image/testing/local-registry.js';

export const RUNC = '/usr/sbin/runc';

export interface CleanupReport {
  /** Containers still in a state root at the end (a failed or interrupted run). */
  leftoverContainers: number;
  leftoverNetns: number;
  /** Container cgroups still below the benchmark's parent (counted once across hierarchies). */
  leftoverCgroups: number;
  errors: string[];
}

export class BenchResources {
  readonly shoalRoot: string;
  readonly runcRoot: string;
  /** linux.cgroupsPath of every container is `${cgroupParent}/${id}`. */
  readonly cgroupParent = `/shoal-bench-runtime-${process.pid}`;
  registry: LocalRegistry | undefined;
  private readonly netns = new Set<string>();

  private constructor(
    readonly runtimePath: string,
    /** Under /run: the state roots, as the runtimes' own defaults are. */
    private readonly runDir: string,
    /** Under the temporary directory: bundles, the image store, overlay upper and work directories. */
    readonly dataDir: string,
    /** The cgroup parent's directory in each mounted hierarchy. */
    private readonly cgroupParentDirs: string[],
  ) {
    this.shoalRoot = join(runDir, 'shoal');
    this.runcRoot = join(runDir, 'runc');
  }

  static async create(runtimePath: string): Promise<BenchResources> {
    const layout = await readCgroupLayout();
    const runDir = mkdtempSync('/run/shoal-bench-runtime-');
    const dataDir = mkdtempSync(join(tmpdir(), 'shoal-bench-runtime-'));
    const resources = new BenchResources(runtimePath, runDir, dataDir, []);
    resources.cgroupParentDirs.push(...cgroupDirs(layout, resources.cgroupParent).map((d) => d.dir));
    for (const root of [resources.shoalRoot, resources.runcRoot]) mkdirSync(root, { mode: 0o700 });
    return resources;
  }

  /** Call before `ip netns add NAME`: cleanup deletes the namespace unless forgetNetns came first. */
  trackNetns(name: string): void {
    this.netns.add(name);
  }

  /** Call once the namespace is deleted. */
  forgetNetns(name: string): void {
    this.netns.delete(name);
  }

  cleanup(): CleanupReport {
    const report: CleanupReport = { leftoverContainers: 0, leftoverNetns: 0, leftoverCgroups: 0, errors: [] };
    const attempt = (what: string, fn: () => void): void => {
      try {
        fn();
      } catch (err) {
        report.errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    for (const [root, program] of [[this.shoalRoot, this.runtimePath], [this.runcRoot, RUNC]] as const) {
      for (const id of existsSync(root) ? readdirSync(root) : []) {
        report.leftoverContainers++;
        attempt(`delete ${id}`, () => {
          const r = spawnSync(program, ['--root', root, 'delete', '--force', id], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
          if (r.status !== 0) throw new Error(r.stderr?.toString().trim() || `exited with ${r.status ?? r.signal}`);
        });
      }
    }
    for (const name of [...this.netns]) {
      this.netns.delete(name);
      // Tracked before `ip netns add`, which may not have run.
      if (!existsSync(join('/run/netns', name))) continue;
      report.leftoverNetns++;
      attempt(`ip netns del ${name}`, () => execFileSync('ip', ['netns', 'del', name], { stdio: ['ignore', 'ignore', 'pipe'] }));
    }
    const leaves = new Set<string>();
    for (const dir of this.cgroupParentDirs) {
      attempt(`remove cgroup ${dir}`, () => {
        if (!existsSync(dir)) return;
        for (const leaf of subdirs(dir)) leaves.add(leaf);
        removeCgroupTree(dir);
      });
    }
    report.leftoverCgroups = leaves.size;
    if (this.registry) {
      const registry = this.registry;
      this.registry = undefined;
      attempt('stop the registry', () => registry.stopSync());
    }
    for (const dir of [this.runDir, this.dataDir]) attempt(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
    return report;
  }
}

function subdirs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
}

/** A cgroup directory goes with rmdir (its control files go with it), children first. */
function removeCgroupTree(dir: string): void {
  for (const child of subdirs(dir)) removeCgroupTree(join(dir, child));
  rmdirSync(dir);
}
