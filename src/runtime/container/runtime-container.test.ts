/**
 * RuntimeContainer with real containers through dist/shim/shoal-runtime (needs root): every
 * container runs the base image, pulled once from the local registry (deploy/images) into an image
 * store, on an overlay root of its own over the image's layers. Each test starts containers, checks them through their logs and exit files, and every
 * container is deleted afterwards (killed first if it still runs), which removes its cgroup too.
 * The cgroups are made under a parent of this run's own, removed at the end, so no run leaves one.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../test/support/daemon-process.js';
import { waitFor } from '../../../test/support/wait-for.js';
import { cgroupDirs, readCgroupLayout } from '../cgroups/mountinfo.js';
import { removeTestCgroups, testCgroupName } from '../cgroups/testing/test-cgroups.js';
import { ImageStore } from '../image/image-store.js';
import { RegistryClient } from '../image/registry-client.js';
import { LocalRegistry } from '../image/testing/local-registry.js';
import type { ContainerSpec } from './config.js';
import { streamText } from './logs.js';
import { buildOciConfig, renderOciConfig } from './oci/build-config.js';
import { defaultRuntimePath, RuntimeContainer, type ContainerExit } from './runtime-container.js';
import { readJsonLogStrictly } from './testing/json-log.js';

const runtimePath = defaultRuntimePath();
const shimSources = join(REPO_ROOT, 'src', 'runtime', 'shim');
let work: string;
let registry: LocalRegistry | undefined;
/** The base image's layer directories, top first as overlayfs wants them (the store lists them bottom first). */
let baseLayers: string[];
/** The base image's environment (its PATH). */
let baseEnv: string[];
let root: string;
let count = 0;
const started: RuntimeContainer[] = [];
/** Every container's cgroup is `<cgroupParent>/<id>`. */
const cgroupParent = testCgroupName();
const cgroupsPath = (id: string): string => `/${cgroupParent}/${id}`;

beforeAll(async () => {
  // `make test` builds it; a missing or stale binary would test the wrong program.
  const sources = readdirSync(shimSources).filter((f) => /\.[ch]$/.test(f));
  if (!existsSync(runtimePath) || sources.some((f) => statSync(join(shimSources, f)).mtimeMs > statSync(runtimePath).mtimeMs)) {
    throw new Error(`${runtimePath} is missing or older than its sources: run 'bash src/runtime/shim/build.sh'`);
  }
  work = await mkdtemp(join(tmpdir(), 'shoal-runtime-container-'));
  root = join(work, 'state');
  registry = await LocalRegistry.start();
  await registry.pushBaseImage('1.0');
  const store = new ImageStore(join(work, 'node-state'), { client: new RegistryClient() });
  const image = await store.pull(`${registry.host}/busybox:1.0`);
  baseLayers = [...image.layerDirs].reverse();
  baseEnv = image.config.env;
});

afterEach(async () => {
  // A failed assertion must not leave a container (or its cgroup) behind.
  for (const c of started.splice(0)) {
    if (existsSync(join(root, c.id))) await c.delete({ force: true });
  }
});

afterAll(async () => {
  await registry?.stop();
  await removeTestCgroups(cgroupParent);
  if (work) await rm(work, { recursive: true, force: true });
});

const opts = () => ({ runtimePath, root });

/** A fresh overlay root named `name` over the base image, with `above` as extra layers on top. */
function imageRoot(name: string, above: string[] = []): Pick<ContainerSpec, 'rootfs' | 'overlay'> {
  const dir = join(work, `root-${name}`);
  return { rootfs: join(dir, 'rootfs'), overlay: { lower: [...above, ...baseLayers], upper: join(dir, 'upper'), work: join(dir, 'work') } };
}

async function start(spec: Partial<ContainerSpec> & { args: string[] }): Promise<RuntimeContainer> {
  const id = `c${++count}`;
  const c = await RuntimeContainer.run(id, join(work, `bundle-${id}`), { ...imageRoot(id), env: baseEnv, cgroupsPath: cgroupsPath(id), ...spec }, opts());
  started.push(c);
  return c;
}

/** Runs `script` with sh in a container; its stdout, stderr and how it ended. */
async function run(script: string, spec: Partial<ContainerSpec> = {}): Promise<{ out: string; err: string } & ContainerExit> {
  const c = await start({ ...spec, args: ['sh', '-c', script] });
  const exit = await c.wait();
  const entries = await c.logs();
  return { out: streamText(entries, 'stdout'), err: streamText(entries, 'stderr'), ...exit };
}

async function waitForLog(c: RuntimeContainer, text: string): Promise<void> {
  await waitFor(`${JSON.stringify(text)} in the log of ${c.id}`, async () => {
    if (c.exit()) throw new Error(`${c.id} exited before printing ${JSON.stringify(text)}`);
    return streamText(await c.logs(), 'stdout').includes(text);
  });
}

/**
 * The limits of the cgroup a process is in, from the host's cgroup v1 files (this machine's
 * hierarchy; the runtime's cgroup tests cover v2's files).
 */
function cgroupValues(pid: number): Record<string, number> {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').map((l) => l.split(':'));
  const file = (controller: string, name: string): number => {
    const entry = lines.find(([, controllers]) => controllers!.split(',').includes(controller));
    if (!entry) throw new Error(`no cgroup v1 ${controller} hierarchy for pid ${pid}`);
    return Number(readFileSync(join('/sys/fs/cgroup', controller, entry[2]!, name), 'utf8'));
  };
  return {
    memory: file('memory', 'memory.limit_in_bytes'),
    memoryAndSwap: file('memory', 'memory.memsw.limit_in_bytes'),
    cpuQuota: file('cpu', 'cpu.cfs_quota_us'),
    cpuPeriod: file('cpu', 'cpu.cfs_period_us'),
    cpuShares: file('cpu', 'cpu.shares'),
    pids: file('pids', 'pids.max'),
  };
}

/** A network namespace of the test's own, so nothing a container does to its network touches the host's. */
async function withNetns<T>(fn: (path: string) => Promise<T>): Promise<T> {
  const name = `shoal-rc-test-${process.pid}`;
  execFileSync('ip', ['netns', 'add', name]);
  try {
    return await fn(`/run/netns/${name}`);
  } finally {
    execFileSync('ip', ['netns', 'del', name]);
  }
}

describe('RuntimeContainer', () => {
  it('runs the program with exactly its environment, working directory, hostname and user', async () => {
    const { out, exitCode } = await run('env | sort; pwd; hostname; id -u; id -g; id -G', {
      env: ['PATH=/bin', 'GREETING=hello world'],
      cwd: '/srv',
      hostname: 'box-1',
      user: '65534:65534',
      groups: [65534, 100],
    });
    expect(exitCode).toBe(0);
    expect(out).toBe('GREETING=hello world\nPATH=/bin\nPWD=/srv\nSHLVL=1\n/srv\nbox-1\n65534\n65534\n65534 100\n');
  });

  it('logs stdout and stderr to logPath in json-file lines, which logs() reads back', async () => {
    const c = await start({ args: ['sh', '-c', 'echo hello; echo oops >&2'] });
    expect((await c.wait()).exitCode).toBe(0);
    // The format itself is the runtime's, tested in shim/runtime.test.ts: here, that it is there to read.
    expect(readJsonLogStrictly(c.logPath!)).toHaveLength(2);
    const entries = await c.logs();
    expect([streamText(entries, 'stdout'), streamText(entries, 'stderr')]).toEqual(['hello\n', 'oops\n']);
  });

  it('reads back odd bytes as the runtime escaped them, and a line past 16 KiB whole from its pieces', async () => {
    const c = await start({ args: ['printf', 'a"b\\\\c\\td\\001é\\377'] });
    await c.wait();
    expect(streamText(await c.logs(), 'stdout')).toBe('a"b\\c\td\u0001é\ufffd');

    const long = await start({ args: ['sh', '-c', "head -c 20000 /dev/zero | tr '\\0' a; echo"] });
    await long.wait();
    const entries = await long.logs();
    expect(entries.length).toBeGreaterThan(1);
    expect(streamText(entries, 'stdout')).toBe(`${'a'.repeat(20000)}\n`);
  });

  it('gives the container its own PID namespace and a /proc that shows only its processes', async () => {
    const { out } = await run('echo $$; sleep 30 & echo /proc/[0-9]*; kill $!');
    const [pid, procs] = out.trim().split('\n');
    expect(pid).toBe('1');
    expect(procs!.split(' ').sort()).toEqual(['/proc/1', '/proc/2']);
  });

  it("has a network of its own with only loopback, up, unless it asks for the host's", async () => {
    const own = await run("ip -o link show | cut -d' ' -f2,3");
    expect(own.out).toBe('lo: <LOOPBACK,UP,LOWER_UP>\n');
    const host = await run('ls /sys/class/net', { network: 'host' });
    expect(host.out.split(/\s+/).filter(Boolean).sort()).toEqual(readdirSync('/sys/class/net').sort());
  });

  it('joins the given network namespace', async () => {
    await withNetns(async (netns) => {
      const { out } = await run('ls /sys/class/net; tail -n +3 /proc/net/dev | cut -d: -f1', { network: { join: netns } });
      expect(out.split(/\s+/).filter(Boolean)).toEqual(['lo', 'lo']);
    });
  });

  it('starts the program with no signal ignored or blocked', async () => {
    // grep as the container's program itself: a shell would set its own dispositions.
    const c = await start({ args: ['grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status'] });
    expect((await c.wait()).exitCode).toBe(0);
    expect(streamText(await c.logs(), 'stdout')).toBe('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
  });

  it('passes the container no file descriptor but its stdio, even ones its starter leaked', async () => {
    const bundle = join(work, 'bundle-fds');
    await mkdir(bundle);
    const layered = imageRoot('fds-1');
    for (const dir of [layered.rootfs, layered.overlay!.upper, layered.overlay!.work]) await mkdir(dir, { recursive: true });
    const spec: ContainerSpec = { ...layered, env: baseEnv, args: ['sh', '-c', 'ls /proc/1/fd; true'], log: { path: join(bundle, 'log') }, cgroupsPath: cgroupsPath('fds-1') };
    writeFileSync(join(bundle, 'config.json'), renderOciConfig(buildOciConfig(spec)));
    const leaked = openSync('/etc/hostname', 'r');
    try {
      const result = spawnSync(runtimePath, ['--root', root, 'run', '--detach', '--bundle', bundle, 'fds-1'], { stdio: ['ignore', 'ignore', 'pipe', leaked], encoding: 'utf8' });
      expect(result.stderr).toBe('');
    } finally {
      closeSync(leaked);
    }
    const c = RuntimeContainer.attach('fds-1', opts())!;
    started.push(c);
    expect((await c.wait()).exitCode).toBe(0);
    expect(streamText(await c.logs(), 'stdout')).toBe('0\n1\n2\n');
  });

  it('records the exit code', async () => {
    expect(await run('exit 3')).toEqual({ out: '', err: '', exitCode: 3, oomKilled: false });
  });

  it('creates a container that waits for start', async () => {
    const spec: ContainerSpec = { ...imageRoot('created-1'), env: ['PATH=/bin'], args: ['echo', 'started'], cgroupsPath: cgroupsPath('created-1') };
    const c = await RuntimeContainer.create('created-1', join(work, 'bundle-created'), spec, opts());
    started.push(c);
    expect((await c.state()).status).toBe('created');
    expect(c.exit()).toBeUndefined();
    await c.start();
    expect(await c.wait()).toEqual({ exitCode: 0, oomKilled: false });
    expect(streamText(await c.logs(), 'stdout')).toBe('started\n');
    const state = await c.state();
    expect(state).toMatchObject({ id: 'created-1', status: 'stopped', exitCode: 0, oomKilled: false });
  });

  it('reports a program that cannot be started instead of starting nothing', async () => {
    await expect(start({ args: ['/no/such/program'] })).rejects.toThrow(/\/no\/such\/program: No such file or directory/);
  });

  it('stops with the stop signal, which the container sees', async () => {
    // Init is pid 1 in its namespace, so it only sees signals it handles: the trap shows which came.
    const script = 'trap "echo got USR1; exit 0" USR1; trap "echo got TERM; exit 0" TERM; echo ready; sleep 30 & wait';
    const c = await start({ args: ['sh', '-c', script], stopSignal: 'USR1' });
    await waitForLog(c, 'ready\n');
    c.stop();
    expect(await c.wait()).toEqual({ exitCode: 0, oomKilled: false });
    expect(streamText(await c.logs(), 'stdout')).toBe('ready\ngot USR1\n');
  });

  it('kills a container that ignores the stop signal once the stop timeout has passed', async () => {
    const c = await start({ args: ['sleep', '30'], stopTimeoutSeconds: 1 });
    c.stop();
    expect((await c.wait()).exitCode).toBe(137);
  });

  it('sends a signal with kill, and delete --force ends and removes a running container', async () => {
    const a = await start({ args: ['sleep', '30'] });
    await a.kill('KILL');
    expect((await a.wait()).exitCode).toBe(137);
    await a.delete();
    expect(existsSync(join(root, a.id))).toBe(false);

    const b = await start({ args: ['sleep', '30'] });
    const dirs = cgroupDirs(await readCgroupLayout(), cgroupsPath(b.id))
      .map((d) => d.dir)
      .filter((dir) => existsSync(dir));
    expect(dirs).not.toEqual([]);
    await b.delete({ force: true });
    expect(existsSync(join(root, b.id))).toBe(false);
    expect(b.supervisorAlive()).toBe(false);
    // Its cgroup went with it, in every hierarchy.
    expect(dirs.filter((dir) => existsSync(dir))).toEqual([]);
  });

  it('reports an OOM kill when the memory limit is reached', async () => {
    // dd's one 64 MiB block is read into memory whole: far past the 8 MiB limit.
    const result = await run('dd if=/dev/zero of=/dev/null bs=64M count=1', { memoryBytes: 8 << 20 });
    expect(result).toMatchObject({ exitCode: 137, oomKilled: true });
  });

  it("puts the limits in the container's cgroup: memory and swap, CPU quota and shares, pids", async () => {
    const c = await start({ args: ['sleep', '60'], memoryBytes: 64 << 20, nanoCpus: 1_500_000_000, cpuShares: 512, pidsLimit: 8 });
    expect(cgroupValues(c.initPid)).toEqual({ memory: 64 << 20, memoryAndSwap: 128 << 20, cpuQuota: 150_000, cpuPeriod: 100_000, cpuShares: 512, pids: 8 });
    // Seven processes besides the shell's own: the eighth fork fails.
    const forks = await c.exec(['sh', '-c', 'i=0; while [ $i -lt 10 ]; do sleep 5 & i=$((i+1)); done 2>&1; wait'], { env: ['PATH=/bin'] });
    expect(forks.stdout).toMatch(/can't fork/);
  });

  it("keeps only Docker's default capabilities: creating a network device fails unless NET_ADMIN is added", async () => {
    await withNetns(async (netns) => {
      const dropped = await run('grep CapEff /proc/self/status; ip link add x0 type bridge', { network: { join: netns } });
      expect(dropped.out).toBe('CapEff:\t00000000a80425fb\n');
      expect(dropped.exitCode).not.toBe(0);
      expect(dropped.err).toMatch(/Operation not permitted/);

      const added = await run('ip link add x0 type bridge && ip -o link show x0', { network: { join: netns }, capAdd: ['NET_ADMIN'] });
      expect(added.exitCode).toBe(0);
      expect(added.out).toMatch(/^\d+: x0: /);
    });
  });

  it('gives a non-root user no effective capabilities', async () => {
    expect((await run('grep CapEff /proc/self/status', { user: '1000:1000' })).out).toBe('CapEff:\t0000000000000000\n');
  });

  it('makes the root read-only and sets no_new_privs when asked, and not otherwise', async () => {
    const script = 'touch /x 2>/dev/null && echo rw || echo ro; grep NoNewPrivs /proc/self/status';
    expect((await run(script, { readOnlyRootfs: true, noNewPrivileges: true })).out).toBe('ro\nNoNewPrivs:\t1\n');
    expect((await run(`${script}; rm /x`)).out).toBe('rw\nNoNewPrivs:\t0\n');
  });

  it('masks the host-revealing /proc and /sys entries and keeps /sys and /proc/sys read-only', async () => {
    // What this kernel has of the masked paths, and shows the host.
    for (const path of ['/proc/keys', '/proc/timer_list', '/proc/interrupts']) expect(readFileSync(path, 'utf8')).not.toBe('');
    expect(readdirSync('/sys/firmware')).not.toEqual([]);
    const { out } = await run(
      [
        'cat /proc/keys /proc/timer_list /proc/interrupts | wc -c',
        'ls /sys/firmware | wc -l',
        "grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1",
        'echo 1 > /proc/sys/vm/drop_caches 2>/dev/null && echo rw || echo ro',
        'echo h > /proc/sysrq-trigger 2>/dev/null && echo rw || echo ro',
      ].join('; '),
    );
    expect(out).toBe('0\n0\nro\nro\nro\n');
  });

  it('seccomp: the default profile refuses new namespaces, unconfined lets one be made', async () => {
    // A user namespace needs no capability, so only the filter stands in the way.
    const confined = await run('unshare -U true; echo $?');
    expect(confined.out).toBe('1\n');
    expect(confined.err).toMatch(/Operation not permitted/);
    expect((await run('unshare -U true; echo $?', { seccomp: 'unconfined' })).out).toBe('0\n');
  });

  it('execs into a running container with its own settings, and kills what outlives the timeout', async () => {
    const c = await start({ args: ['sleep', '60'], hostname: 'exec-box' });
    const result = await c.exec(['sh', '-c', 'hostname; echo $X; pwd; id -u; echo oops >&2; exit 5'], { env: ['PATH=/bin', 'X=1'], cwd: '/tmp', uid: 1000, gid: 1000 });
    expect(result).toMatchObject({ exitCode: 5, stdout: 'exec-box\n1\n/tmp\n1000\n', stderr: 'oops\n', timedOut: false });
    expect(result.output.split('\n').sort()).toEqual(['', '/tmp', '1', '1000', 'exec-box', 'oops']);

    const slow = await c.exec(['sleep', '31'], { env: ['PATH=/bin'], timeoutMs: 300 });
    expect(slow).toMatchObject({ exitCode: -1, timedOut: true });
    // Nothing of it is left in the container (the kill was sent as the timeout passed; it may take a moment).
    const processes = async (): Promise<string> => (await c.exec(['ps', '-o', 'args'], { env: ['PATH=/bin'] })).stdout;
    await waitFor('the timed-out exec to be gone from the container', async () => !(await processes()).includes('sleep 31'));
    expect(await processes()).toContain('sleep 60');
  });

  it('rotates the log by size and keeps max-files of it, read back oldest first', async () => {
    const log = { path: join(work, 'rotating.log'), maxSizeBytes: 2000, maxFiles: 3 };
    const { exitCode } = await run('i=1; while [ $i -le 200 ]; do echo line $i; i=$((i+1)); done', { log });
    expect(exitCode).toBe(0);
    expect(existsSync(`${log.path}.2`)).toBe(true);
    expect(existsSync(`${log.path}.3`)).toBe(false);
    for (const file of [log.path, `${log.path}.1`, `${log.path}.2`]) expect(statSync(file).size).toBeLessThanOrEqual(2000);
    const c = RuntimeContainer.attach(`c${count}`, opts())!;
    const lines = streamText(await c.logs(), 'stdout').trim().split('\n');
    // What is kept is the end of the output, in order, with nothing missing in between.
    const first = Number(lines[0]!.split(' ')[1]);
    expect(first).toBeGreaterThan(1);
    expect(lines).toEqual(Array.from({ length: 201 - first }, (_, i) => `line ${first + i}`));
  });

  it('finds a container again from a new process after the one that started it has exited', async () => {
    // The helper is a Node process of its own, built by `npm run build` like the daemons.
    const helper = join(REPO_ROOT, 'dist', 'src', 'runtime', 'container', 'testing', 'start-and-exit.js');
    if (!existsSync(helper)) throw new Error(`${helper} is missing: run 'npm run build' first`);
    const id = 'restart-1';
    const spec: ContainerSpec = { ...imageRoot(id), env: ['PATH=/bin'], args: ['sh', '-c', 'echo up; sleep 30'], cgroupsPath: cgroupsPath(id) };
    const result = spawnSync(process.execPath, [helper, id, join(work, 'bundle-restart'), JSON.stringify(spec), runtimePath, root], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);

    const c = RuntimeContainer.attach(id, opts());
    expect(c).toBeDefined();
    if (!c) return;
    started.push(c);
    expect(c.supervisorAlive()).toBe(true);
    expect(c.exit()).toBeUndefined();
    expect((await c.state()).status).toBe('running');
    // The supervisor leads its own session, so the worker's end did not take it along.
    const stat = readFileSync(`/proc/${c.supervisorPid}/stat`, 'utf8');
    expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3])).toBe(c.supervisorPid);
    await waitForLog(c, 'up\n');
    await c.kill('KILL');
    expect((await c.wait()).exitCode).toBe(137);
    expect(RuntimeContainer.attach('no-such-container', opts())).toBeUndefined();
  });

  it('mounts an overlay root: writes land in the upper directory, the layers stay as they were', async () => {
    const top = join(work, 'layer-top');
    await mkdir(join(top, 'etc'), { recursive: true });
    writeFileSync(join(top, 'etc', 'greeting'), 'from the top layer\n');
    const layered = imageRoot('overlay-1', [top]);
    const overlay = layered.overlay!;
    const mountsBefore = readFileSync('/proc/self/mountinfo', 'utf8');
    const inBase = (path: string): boolean => baseLayers.some((layer) => existsSync(join(layer, path)));
    expect(inBase('bin/true')).toBe(true);

    const { out, exitCode } = await run('cat /etc/greeting; echo changed > /etc/greeting; echo new > /new; rm /bin/true; ls /bin/true 2>&1; cat /etc/greeting', layered);
    expect(exitCode).toBe(0);
    expect(out).toBe('from the top layer\nls: /bin/true: No such file or directory\nchanged\n');
    expect(await readFile(join(overlay.upper, 'new'), 'utf8')).toBe('new\n');
    expect(await readFile(join(overlay.upper, 'etc', 'greeting'), 'utf8')).toBe('changed\n');
    expect(statSync(join(overlay.upper, 'bin', 'true')).isCharacterDevice()).toBe(true); // a whiteout
    expect(await readFile(join(top, 'etc', 'greeting'), 'utf8')).toBe('from the top layer\n');
    expect(inBase('new')).toBe(false);
    expect(inBase('bin/true')).toBe(true);
    // Mounted inside the container's mount namespace only: the host sees nothing of it.
    expect(readdirSync(layered.rootfs)).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toBe(mountsBefore);
  });

  it("runs as a user named in the image's /etc/passwd, with the groups its /etc/group gives", async () => {
    // The files in a layer over the busybox root, as an image would have them.
    const users = join(work, 'layer-users');
    await mkdir(join(users, 'etc'), { recursive: true });
    writeFileSync(join(users, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1500:1600:app:/home/app:/bin/sh\n');
    writeFileSync(join(users, 'etc', 'group'), 'root:x:0:\napp:x:1600:\nstaff:x:50:other,app\n');
    const layered = (name: string): Pick<ContainerSpec, 'rootfs' | 'overlay'> => imageRoot(name, [users]);

    const named = await run('id -u; id -g; id -G; id -un', { ...layered('users-1'), user: 'app' });
    expect(named).toMatchObject({ exitCode: 0, out: '1500\n1600\n1600 50\napp\n' });
    expect((await run('id -u; id -g; id -G', { ...layered('users-2'), user: 'app:staff' })).out).toBe('1500\n50\n50\n');

    // An unknown name fails before anything is made.
    const id = `c${++count}`;
    const bundle = join(work, `bundle-${id}`);
    await expect(RuntimeContainer.run(id, bundle, { ...layered('users-3'), args: ['true'], user: 'nobody', cgroupsPath: cgroupsPath(id) }, opts())).rejects.toThrow(
      'unable to find user nobody: no matching entries in passwd file',
    );
    expect(existsSync(bundle)).toBe(false);
    expect(existsSync(join(root, id))).toBe(false);
  });

  it('refuses an id the runtime would take for an option', async () => {
    const bundle = join(work, 'bundle-dash');
    await expect(RuntimeContainer.run('-x', bundle, { ...imageRoot('dash'), args: ['true'] }, opts())).rejects.toThrow('invalid container id "-x"');
    expect(existsSync(bundle)).toBe(false);
    expect(RuntimeContainer.attach('--help', opts())).toBeUndefined();
  });

  it("runs with the image's own environment, writing only to its upper directory", async () => {
    const layered = imageRoot('image-env');
    const { out, exitCode } = await run('echo $PATH; cat /etc/hostname; id -un; touch /made-here; ls /', { ...layered, env: baseEnv });
    expect(exitCode).toBe(0);
    const [path, hostname, user, ...listing] = out.trim().split('\n');
    expect(path).toBe('/usr/sbin:/usr/bin:/sbin:/bin');
    expect(hostname).toBe('shoal');
    expect(user).toBe('root');
    expect(listing).toEqual(expect.arrayContaining(['bin', 'etc', 'made-here', 'proc', 'sys', 'dev', 'tmp']));
    expect(existsSync(join(layered.overlay!.upper, 'made-here'))).toBe(true);
    for (const layer of baseLayers) expect(existsSync(join(layer, 'made-here'))).toBe(false);
  });
});
