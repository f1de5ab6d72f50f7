/**
 * The shim with real containers (needs root): a busybox rootfs in a temp directory, each test a
 * container started through ShimContainer and checked through its log and exit file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../test/support/daemon-process.js';
import { renderShimConfig, type ContainerSpec } from '../container/config.js';
import { readLogEntries, streamText } from '../container/logs.js';
import { defaultShimPath, ShimContainer } from '../container/shim.js';
import { makeBusyboxRootfs } from '../container/testing/rootfs.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const shimPath = defaultShimPath();
let work: string;
let rootfs: string;
let count = 0;
const started: ShimContainer[] = [];

beforeAll(async () => {
  // Built when missing or older than its source, so a test never runs a stale shim.
  const source = join(here, 'shoal-shim.c');
  if (!existsSync(shimPath) || statSync(shimPath).mtimeMs < statSync(source).mtimeMs) {
    execFileSync('bash', [join(here, 'build.sh')], { stdio: 'inherit' });
  }
  work = await mkdtemp(join(tmpdir(), 'shoal-shim-'));
  rootfs = join(work, 'rootfs');
  makeBusyboxRootfs(rootfs);
});

afterEach(async () => {
  // A failed assertion must not leave a container running: kill what is left and wait for it.
  for (const c of started.splice(0)) {
    if (c.exitCode() !== undefined) continue;
    try {
      process.kill(c.initPid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    await c.wait();
  }
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const nextDir = (): string => join(work, `c${++count}`);

async function start(spec: Partial<ContainerSpec> & { args: string[] }): Promise<ShimContainer> {
  const c = await ShimContainer.start(nextDir(), { rootfs, env: ['PATH=/bin'], ...spec }, { shimPath });
  started.push(c);
  return c;
}

/** Runs `script` with sh in a container and returns its stdout and exit code. */
async function run(script: string, spec: Partial<ContainerSpec> = {}): Promise<{ out: string; code: number }> {
  const c = await start({ ...spec, args: ['sh', '-c', script] });
  const code = await c.wait();
  return { out: streamText(await c.logs(), 'stdout'), code };
}

describe('shoal-shim', () => {
  it('logs stdout and stderr as JSON lines with an RFC 3339 nanosecond time', async () => {
    const c = await start({ args: ['sh', '-c', 'echo hello; echo oops >&2'] });
    expect(await c.wait()).toBe(0);
    const raw = readFileSync(ShimContainer.files(c.dir).log, 'utf8').trim().split('\n');
    const entries = raw.map((line) => JSON.parse(line) as { time: string; stream: string; log: string });
    expect(entries.map(({ stream, log }) => ({ stream, log }))).toEqual(
      expect.arrayContaining([
        { stream: 'stdout', log: 'hello\n' },
        { stream: 'stderr', log: 'oops\n' },
      ]),
    );
    for (const e of entries) expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  });

  it('escapes quotes, backslashes and control bytes and replaces invalid UTF-8', async () => {
    const c = await start({ args: ['printf', 'a"b\\\\c\\td\\001é\\377'] });
    expect(await c.wait()).toBe(0);
    const line = readFileSync(ShimContainer.files(c.dir).log, 'utf8');
    expect(line).toContain('"log":"a\\"b\\\\c\\td\\u0001é\\ufffd"}');
    expect((JSON.parse(line) as { log: string }).log).toBe('a"b\\c\td\u0001é\ufffd');
  });

  it('splits a line longer than 16 KiB into entries that join back to it', async () => {
    const c = await start({ args: ['sh', '-c', "head -c 20000 /dev/zero | tr '\\0' a; echo"] });
    expect(await c.wait()).toBe(0);
    const entries = await c.logs();
    expect(entries.map((e) => e.log.length)).toEqual([16384, 20001 - 16384]);
    expect(streamText(entries, 'stdout')).toBe(`${'a'.repeat(20000)}\n`);
  });

  it('records the exit code', async () => {
    expect((await run('exit 3')).code).toBe(3);
  });

  it('reports a program that cannot be started instead of starting nothing', async () => {
    await expect(ShimContainer.start(nextDir(), { rootfs, args: ['/no/such/program'] }, { shimPath })).rejects.toThrow(
      /\/no\/such\/program: No such file or directory/,
    );
  });

  it('gives the container its own hostname and PID namespace', async () => {
    const { out } = await run('hostname; echo $$', { hostname: 'box-1' });
    expect(out).toBe('box-1\n1\n');
  });

  it('mounts a /proc that shows only the container’s processes', async () => {
    const { out } = await run('sleep 30 & echo /proc/[0-9]*; kill $!');
    expect(out.trim().split(' ').sort()).toEqual(['/proc/1', '/proc/2']);
  });

  it('hides the host root: a file outside the rootfs is not there', async () => {
    const marker = join(work, 'host-marker');
    writeFileSync(marker, 'host');
    const { out } = await run(`test -e ${marker} && echo visible || echo hidden; ls /`);
    expect(out.split('\n')[0]).toBe('hidden');
    expect(out).not.toContain('host-marker');
  });

  it('mounts /sys read-only and a /dev with only the default devices', async () => {
    const { out } = await run('touch /sys/x 2>/dev/null && echo rw || echo ro; ls /dev; head -c 4 /dev/zero | wc -c');
    const [sys, ...rest] = out.trim().split('\n');
    expect(sys).toBe('ro');
    expect(rest.slice(0, -1)).toEqual(
      expect.arrayContaining(['full', 'mqueue', 'null', 'ptmx', 'pts', 'random', 'shm', 'tty', 'urandom', 'zero']),
    );
    expect(rest).not.toContain('vda');
    expect(rest.at(-1)).toBe('4');
  });

  it('joins the given network namespace', async () => {
    const name = `shoal-shim-test-${process.pid}`;
    execFileSync('ip', ['netns', 'add', name]);
    try {
      const { out } = await run('ls /sys/class/net; tail -n +3 /proc/net/dev | cut -d: -f1', { netns: `/run/netns/${name}` });
      expect(out.split(/\s+/).filter(Boolean)).toEqual(['lo', 'lo']);
    } finally {
      execFileSync('ip', ['netns', 'del', name]);
    }
  });

  it('starts the program with no signal ignored or blocked', async () => {
    const c = await start({ args: ['grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status'] });
    expect(await c.wait()).toBe(0);
    expect(streamText(await c.logs(), 'stdout')).toBe('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
  });

  it('sets exactly the configured environment and working directory', async () => {
    const c = await start({ args: ['env'], env: ['PATH=/bin', 'GREETING=hello world'], cwd: '/srv' });
    expect(await c.wait()).toBe(0);
    expect(streamText(await c.logs(), 'stdout').trim().split('\n').sort()).toEqual(['GREETING=hello world', 'PATH=/bin']);
    expect((await run('pwd', { cwd: '/srv' })).out).toBe('/srv\n');
  });

  it('runs as the configured user and groups', async () => {
    const { out } = await run('id -u; id -g; id -G', { uid: 65534, gid: 65534, groups: [65534, 100] });
    expect(out).toBe('65534\n65534\n65534 100\n');
  });

  it('forwards SIGTERM to the container as the configured stop signal', async () => {
    // Init is pid 1 in its namespace, so it only sees signals it handles: the trap shows which came.
    const script = 'trap "echo got USR1; exit 0" USR1; trap "echo got TERM; exit 0" TERM; echo ready; sleep 30 & wait';
    const c = await start({ args: ['sh', '-c', script], stopSignal: 10 });
    await waitForLog(c, 'ready\n');
    c.stop();
    expect(await c.wait()).toBe(0);
    expect(streamText(await c.logs(), 'stdout')).toBe('ready\ngot USR1\n');
  });

  it('kills a container that ignores the stop signal after the grace period: sleep records 137', async () => {
    const c = await start({ args: ['sleep', '30'], stopTimeoutSeconds: 1 });
    c.stop();
    expect(await c.wait()).toBe(137);
  });

  it('keeps supervising after the Node process that started it has exited', async () => {
    // The helper runs as a Node process of its own, compiled by `npm run build` like the daemons.
    const helper = join(REPO_ROOT, 'dist', 'src', 'runtime', 'container', 'testing', 'start-and-exit.js');
    if (!existsSync(helper)) throw new Error(`${helper} is missing: run 'npm run build' first`);
    const dir = nextDir();
    const spec: ContainerSpec = { rootfs, env: ['PATH=/bin'], args: ['sh', '-c', 'echo up; sleep 30'] };
    const result = spawnSync(process.execPath, [helper, dir, JSON.stringify(spec), shimPath], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);

    const c = ShimContainer.attach(dir);
    expect(c).toBeDefined();
    if (!c) return;
    started.push(c);
    expect(c.supervisorAlive()).toBe(true);
    expect(c.exitCode()).toBeUndefined();
    // It leads its own session, and its parent (the shim command, which the script waited for) is gone.
    const stat = readFileSync(`/proc/${c.supervisorPid}/stat`, 'utf8');
    const [ppid, , session] = stat.slice(stat.lastIndexOf(')') + 4).split(' ').map(Number);
    expect(session).toBe(c.supervisorPid);
    expect(existsSync(`/proc/${ppid}/cmdline`) && readFileSync(`/proc/${ppid}/cmdline`, 'utf8')).not.toContain('shoal-shim');
    await waitForLog(c, 'up\n');
    process.kill(c.initPid, 'SIGKILL');
    expect(await c.wait()).toBe(137);
    expect(c.supervisorAlive()).toBe(false);
  });

  it('passes the container no file descriptor but its stdio, even ones its starter leaked', async () => {
    const dir = nextDir();
    const files = ShimContainer.files(dir);
    mkdirSync(dir);
    const config = join(dir, 'config');
    writeFileSync(config, renderShimConfig({ rootfs, env: ['PATH=/bin'], args: ['sh', '-c', 'ls /proc/1/fd; true'] }, files));
    const leaked = openSync('/etc/hostname', 'r');
    try {
      const result = spawnSync(shimPath, [config], { stdio: ['ignore', 'ignore', 'pipe', leaked], encoding: 'utf8' });
      expect(result.stderr).toBe('');
    } finally {
      closeSync(leaked);
    }
    await waitForExitFile(dir);
    expect(readFileSync(files.exit, 'utf8')).toBe('0\n');
    expect(streamText(await readLogEntries(files.log), 'stdout')).toBe('0\n1\n2\n');
  });

  it('leaves no mount behind on the host', async () => {
    const before = readFileSync('/proc/self/mountinfo', 'utf8');
    expect((await run('true')).code).toBe(0);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toBe(before);
    expect(before).not.toContain(work);
  });
});

/** For a container started without ShimContainer: waits for its exit file. */
async function waitForExitFile(dir: string): Promise<void> {
  while (!existsSync(ShimContainer.files(dir).exit)) await new Promise((r) => setTimeout(r, 20));
}

/** Polls the log until `text` has appeared on stdout (a readiness line the container prints). */
async function waitForLog(c: ShimContainer, text: string): Promise<void> {
  while (!streamText(await c.logs(), 'stdout').includes(text)) {
    if (c.exitCode() !== undefined) throw new Error(`container exited before printing ${JSON.stringify(text)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
