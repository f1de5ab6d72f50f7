/**
 * For tests that run real containers straight through shoal-runtime (needs root): the runtime built
 * into a temp directory, a busybox rootfs, bundles from `shoal-runtime spec` with the test's
 * command and annotations, detached runs, and `exec` that does not block this process (which may
 * be the very agent the container talks to). `dispose` deletes every container, the test's cgroups
 * and the directory.
 */
import { execFile, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeTestCgroups, testCgroupName } from '../../cgroups/testing/test-cgroups.js';
import { makeBusyboxRootfs } from '../../container/testing/rootfs.js';

const shimDir = fileURLToPath(new URL('..', import.meta.url));

/** The parts of config.json tests change. */
export interface TestConfig {
  process: { args: string[]; env: string[] };
  root: { path: string; readonly?: boolean };
  linux: { namespaces: { type: string; path?: string }[]; cgroupsPath?: string };
  annotations?: Record<string, string>;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

export class TestRuntime {
  private readonly prefix = `t-${randomBytes(3).toString('hex')}`;
  private readonly cgroupParent = testCgroupName();
  private readonly ids: string[] = [];
  private count = 0;

  private constructor(
    /** The test's own directory: put sockets and other files here. */
    readonly work: string,
    readonly runtime: string,
    readonly root: string,
    readonly rootfs: string,
  ) {}

  static async create(): Promise<TestRuntime> {
    const work = await mkdtemp(join(tmpdir(), 'shoal-test-runtime-'));
    const t = new TestRuntime(work, join(work, 'shoal-runtime'), join(work, 'state'), join(work, 'rootfs'));
    const built = spawnSync('bash', [join(shimDir, 'build.sh'), t.runtime], { encoding: 'utf8' });
    if (built.status !== 0) {
      await rm(work, { recursive: true, force: true });
      throw new Error(`build.sh failed: ${built.stderr}`);
    }
    makeBusyboxRootfs(t.rootfs);
    return t;
  }

  rt(args: string[]): SpawnSyncReturns<string> {
    return spawnSync(this.runtime, ['--root', this.root, ...args], { encoding: 'utf8', timeout: 30_000 });
  }

  /** A bundle running `sleep 1000` in its own namespaces and a cgroup under the test's parent. */
  makeBundle(opts: { annotations?: Record<string, string>; change?: (c: TestConfig) => void } = {}): string {
    const dir = join(this.work, `bundle-${++this.count}`);
    mkdirSync(dir);
    const spec = this.rt(['spec', '--bundle', dir]);
    if (spec.status !== 0) throw new Error(spec.stderr);
    const path = join(dir, 'config.json');
    const config = JSON.parse(readFileSync(path, 'utf8')) as TestConfig;
    config.root = { path: this.rootfs, readonly: false };
    config.process.args = ['sleep', '1000'];
    config.process.env = ['PATH=/bin'];
    config.linux.cgroupsPath = `/${this.cgroupParent}/${basename(dir)}`;
    config.annotations = { 'org.shoal.log.path': join(dir, 'log.json'), ...opts.annotations };
    opts.change?.(config);
    writeFileSync(path, JSON.stringify(config));
    return dir;
  }

  /** Runs the bundle detached under a fresh id (or `id`); its pids come from state.json. */
  runDetached(bundle: string, id = `${this.prefix}-${++this.count}`): { id: string; pid: number; supervisorPid: number } {
    this.ids.push(id);
    const r = this.rt(['run', '-d', '--bundle', bundle, id]);
    if (r.status !== 0) throw new Error(r.stderr);
    const st = JSON.parse(readFileSync(join(this.root, id, 'state.json'), 'utf8')) as { pid: number; supervisorPid: number };
    return { id, pid: st.pid, supervisorPid: st.supervisorPid };
  }

  /** `shoal-runtime exec` in the container, resolving with its output whatever its exit status. */
  exec(id: string, ...cmd: string[]): Promise<CommandResult> {
    return runAsync(this.runtime, ['--root', this.root, 'exec', id, ...cmd]);
  }

  /** Deletes the containers run so far. */
  deleteAll(): void {
    for (const id of this.ids.splice(0)) this.rt(['delete', '--force', id]);
  }

  async dispose(): Promise<void> {
    this.deleteAll();
    await removeTestCgroups(this.cgroupParent);
    await rm(this.work, { recursive: true, force: true });
  }
}

/** Runs a command without blocking this process; resolves with its output whatever its exit status. */
export function runAsync(cmd: string, args: string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ stdout, stderr, code: err ? Number(err.code ?? 1) : 0 }),
    );
  });
}
