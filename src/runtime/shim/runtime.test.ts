/**
 * shoal-runtime with real containers (needs root): the program built by build.sh into a temp
 * directory, a busybox rootfs, and each container an OCI bundle driven through the command line
 * (create, start, run, state, kill, delete, exec) and checked through its log, state and exit files.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readCgroupLayout } from '../cgroups/mountinfo.js';
import { removeTestCgroups, testCgroupName } from '../cgroups/testing/test-cgroups.js';
import { readLogEntries, streamText } from '../container/logs.js';
import { makeBusyboxRootfs } from '../container/testing/rootfs.js';

const here = fileURLToPath(new URL('.', import.meta.url));
/** Container ids: unique, so parallel test files never meet. */
const prefix = `rt-${randomBytes(3).toString('hex')}`;
/** This file's parent cgroup: each bundle's cgroup is /<it>/<bundle>, and all of it goes in afterAll. */
const cgroupParent = testCgroupName();

let work: string;
let runtime: string;
let root: string;
let rootfs: string;
let count = 0;
const ids: string[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-runtime-'));
  runtime = join(work, 'shoal-runtime');
  spawnOk('bash', [join(here, 'build.sh'), runtime]);
  root = join(work, 'state');
  rootfs = join(work, 'rootfs');
  makeBusyboxRootfs(rootfs);
});

afterEach(() => {
  // A failed assertion must not leave a container, supervisor or cgroup behind.
  for (const id of ids.splice(0)) rt(['delete', '--force', id]);
});

afterAll(async () => {
  await removeTestCgroups(cgroupParent);
  if (work) await rm(work, { recursive: true, force: true });
});

// ---- helpers ----

type Json = Record<string, unknown>;

interface Config {
  ociVersion: string;
  process: { args: string[]; env: string[]; cwd: string; user: Json; [k: string]: unknown };
  root: { path: string; readonly?: boolean };
  linux: { namespaces: { type: string; path?: string }[]; [k: string]: unknown };
  annotations?: Record<string, string>;
  [k: string]: unknown;
}

function spawnOk(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
}

/** The runtime with this test file's state root. */
function rt(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(runtime, ['--root', root, ...args], { encoding: 'utf8', timeout: 30_000 });
}

function nextId(): string {
  const id = `${prefix}-${++count}`;
  ids.push(id);
  return id;
}

interface Bundle {
  dir: string;
  log: string;
  /** linux.cgroupsPath: /<cgroupParent>/<bundle directory's name> */
  cgroupsPath: string;
}

/** A bundle from `shoal-runtime spec`, on the shared busybox rootfs, logging to dir/log.json. */
function makeBundle(change: (c: Config) => void = () => {}, opts: { log?: boolean } = {}): Bundle {
  const dir = join(work, `bundle-${++count}`);
  mkdirSync(dir);
  spawnOk(runtime, ['spec', '--bundle', dir]);
  const path = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(path, 'utf8')) as Config;
  config.root = { path: rootfs, readonly: false };
  config.process.env = ['PATH=/bin'];
  const log = join(dir, 'log.json');
  if (opts.log !== false) config.annotations = { 'org.shoal.log.path': log };
  const cgroupsPath = `/${cgroupParent}/${basename(dir)}`;
  config.linux.cgroupsPath = cgroupsPath;
  change(config);
  writeFileSync(path, JSON.stringify(config));
  return { dir, log, cgroupsPath };
}

function shell(script: string, change: (c: Config) => void = () => {}): (c: Config) => void {
  return (c) => {
    c.process.args = ['sh', '-c', script];
    change(c);
  };
}

/** `run` in the foreground: the runtime exits with the container's code once its output is logged. */
async function run(script: string, change?: (c: Config) => void): Promise<{ out: string; err: string; code: number }> {
  const b = makeBundle(shell(script, change));
  const r = rt(['run', '--bundle', b.dir, nextId()]);
  if (r.stderr) throw new Error(r.stderr);
  const entries = await readLogEntries(b.log);
  return { out: streamText(entries, 'stdout'), err: streamText(entries, 'stderr'), code: r.status ?? -1 };
}

/** `run -d`: returns once the program runs, leaving a supervisor. */
function runDetached(b: Bundle, id = nextId()): string {
  const r = rt(['run', '-d', '--bundle', b.dir, id]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return id;
}

function state(id: string): Json {
  const r = rt(['state', id]);
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Json;
}

function stateFile(id: string): { pid: number; supervisorPid: number; cgroupsPath: string } & Json {
  return JSON.parse(readFileSync(join(root, id, 'state.json'), 'utf8')) as never;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits for the supervisor's exit record (written by rename, so read whole or not at all). */
async function waitExit(id: string): Promise<{ exitCode: number; oomKilled: boolean }> {
  const path = join(root, id, 'exit');
  while (!existsSync(path)) await sleep(20);
  return JSON.parse(readFileSync(path, 'utf8')) as { exitCode: number; oomKilled: boolean };
}

/** Polls the log until `text` has appeared on stdout (a readiness line the container prints). */
async function waitForLog(b: Bundle, text: string, id: string): Promise<void> {
  while (!streamText(await readLogEntries(b.log), 'stdout').includes(text)) {
    if (existsSync(join(root, id, 'exit'))) throw new Error(`container exited before printing ${JSON.stringify(text)}`);
    await sleep(20);
  }
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\S+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

/** The host directory of the container's cgroup in one v1 controller (this machine's layout). */
function cgroupDir(pid: number, controller: string): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.split(':')[1]?.split(',').includes(controller));
  if (!line) throw new Error(`no ${controller} cgroup for ${pid}`);
  return join('/sys/fs/cgroup', controller, line.split(':')[2]);
}

/** The runtime as a child process of its own, to signal it or observe it while it runs. */
function rtChild(args: string[]): { child: ChildProcess; exited: Promise<number | null>; out: () => string } {
  const child = spawn(runtime, ['--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, out: () => out };
}

/** Polls until `ready()` holds, failing if `child` has exited first. */
async function until(ready: () => boolean, child: ChildProcess): Promise<void> {
  while (!ready()) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the runtime exited (${child.exitCode ?? child.signalCode})`);
    await sleep(20);
  }
}

/** The pids whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  const parentOf = (p: string): number => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return 0; // gone
    }
  };
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p) && parentOf(p) === pid).map(Number);
}

/**
 * A `create` held half-way: the supervisor opens the log first, and a FIFO with no reader there
 * keeps it waiting in open(2), after the state directory is made and before anything else.
 */
async function heldCreate(): Promise<{ b: Bundle; id: string; create: ReturnType<typeof rtChild> }> {
  const b = makeBundle(shell('sleep 30'));
  spawnOk('mkfifo', [b.log]);
  const id = nextId();
  const create = rtChild(['create', '--bundle', b.dir, id]);
  await until(() => existsSync(join(root, id)), create.child);
  return { b, id, create };
}

// ---- the tests ----

describe('shoal-runtime: logs', () => {
  it('logs stdout and stderr as JSON lines with an RFC 3339 nanosecond time', async () => {
    const b = makeBundle(shell('echo hello; echo oops >&2'));
    expect(rt(['run', '--bundle', b.dir, nextId()]).status).toBe(0);
    const raw = readFileSync(b.log, 'utf8').trim().split('\n');
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
    const b = makeBundle((c) => (c.process.args = ['printf', 'a"b\\\\c\\td\\001é\\377']));
    expect(rt(['run', '--bundle', b.dir, nextId()]).status).toBe(0);
    const line = readFileSync(b.log, 'utf8');
    expect(line).toContain('"log":"a\\"b\\\\c\\td\\u0001é\\ufffd"}');
    expect((JSON.parse(line) as { log: string }).log).toBe('a"b\\c\td\u0001é\ufffd');
  });

  it('splits a line longer than 16 KiB into entries that join back to it', async () => {
    const b = makeBundle(shell("head -c 20000 /dev/zero | tr '\\0' a; echo"));
    expect(rt(['run', '--bundle', b.dir, nextId()]).status).toBe(0);
    const entries = await readLogEntries(b.log);
    expect(entries.map((e) => e.log.length)).toEqual([16384, 20001 - 16384]);
    expect(streamText(entries, 'stdout')).toBe(`${'a'.repeat(20000)}\n`);
  });

  const thirtyLines = 'for i in $(seq 1 30); do echo line-$i; done';

  it('rotates the log by size, keeping max-files files', async () => {
    const b = makeBundle(
      shell(thirtyLines, (c) => (c.annotations = { ...c.annotations, 'org.shoal.log.max-size': '300', 'org.shoal.log.max-files': '3' })),
    );
    expect(rt(['run', '--bundle', b.dir, nextId()]).status).toBe(0);
    const files = [b.log, `${b.log}.1`, `${b.log}.2`];
    for (const f of files) expect(statSync(f).size).toBeLessThanOrEqual(300);
    expect(existsSync(`${b.log}.3`)).toBe(false);
    // Oldest first, the kept files hold the last lines, in order and none twice.
    const kept = (await Promise.all(files.reverse().map((f) => readLogEntries(f)))).flat().map((e) => e.log.trim());
    const last = Number(kept[0].slice('line-'.length));
    expect(kept).toEqual(Array.from({ length: 31 - last }, (_, i) => `line-${last + i}`));
  });

  it('with max-files 1 starts the log anew when it is full', async () => {
    const b = makeBundle(shell(thirtyLines, (c) => (c.annotations = { ...c.annotations, 'org.shoal.log.max-size': '300' })));
    expect(rt(['run', '--bundle', b.dir, nextId()]).status).toBe(0);
    expect(statSync(b.log).size).toBeLessThanOrEqual(300);
    expect(existsSync(`${b.log}.1`)).toBe(false);
    expect(streamText(await readLogEntries(b.log), 'stdout').trim().split('\n').at(-1)).toBe('line-30');
  });

  it('without a log path, gives the container the runtime’s own stdio', () => {
    const b = makeBundle(shell('echo to-stdout; echo to-stderr >&2'), { log: false });
    const r = rt(['run', '--bundle', b.dir, nextId()]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('to-stdout\n');
    expect(r.stderr).toBe('to-stderr\n');
  });
});

describe('shoal-runtime: lifecycle', () => {
  it('create, start, state, kill, delete', async () => {
    const b = makeBundle(shell('echo started; sleep 30'));
    const id = nextId();
    const pidFile = join(b.dir, 'pid');
    const created = rt(['create', '--bundle', b.dir, '--pid-file', pidFile, id]);
    expect(created.stderr).toBe('');
    expect(created.status).toBe(0);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(state(id)).toEqual({
      ociVersion: '1.0.2',
      id,
      status: 'created',
      pid,
      bundle: b.dir,
      annotations: { 'org.shoal.log.path': b.log },
      created: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
    });
    // Created: set up, but the program has not run.
    expect(await readLogEntries(b.log)).toEqual([]);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain('shoal-runtime');

    expect(rt(['start', id]).status).toBe(0);
    await waitForLog(b, 'started\n', id);
    expect(state(id)).toMatchObject({ status: 'running', pid });
    expect(rt(['start', id]).stderr).toBe('shoal-runtime: cannot start a container that is running\n');
    expect(rt(['delete', id]).stderr).toMatch(/^shoal-runtime: cannot delete a running container/);

    const cgroup = cgroupDir(pid, 'pids');
    expect(existsSync(cgroup)).toBe(true);
    expect(rt(['kill', id, 'KILL']).status).toBe(0);
    expect(await waitExit(id)).toEqual({ exitCode: 137, oomKilled: false });
    expect(state(id)).toMatchObject({ status: 'stopped', pid: 0, exitCode: 137, oomKilled: false });
    expect(rt(['kill', id]).stderr).toBe('shoal-runtime: cannot kill a container that is stopped\n');

    expect(rt(['delete', id]).status).toBe(0);
    expect(existsSync(join(root, id))).toBe(false);
    expect(existsSync(cgroup)).toBe(false);
    expect(rt(['state', id]).stderr).toBe(`shoal-runtime: container "${id}" does not exist\n`);
  });

  it('writes state.json for the supervisor to be found again', () => {
    const b = makeBundle(shell('sleep 30'));
    const id = runDetached(b);
    const st = stateFile(id);
    expect(st).toMatchObject({ id, bundle: b.dir, cgroupsPath: b.cgroupsPath });
    const startTime = (pid: number): number => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[19]);
    expect(st.pidStartTime).toBe(startTime(st.pid));
    expect(st.supervisorStartTime).toBe(startTime(st.supervisorPid));
  });

  it('deletes a created container without --force, killing its waiting init', () => {
    const b = makeBundle(shell('sleep 30'));
    const id = nextId();
    expect(rt(['create', '--bundle', b.dir, id]).status).toBe(0);
    const { pid, supervisorPid } = stateFile(id);
    expect(rt(['delete', id]).status).toBe(0);
    expect(alive(pid)).toBe(false);
    expect(alive(supervisorPid)).toBe(false);
    expect(readdirSync(root)).not.toContain(id);
  });

  it('delete --force stops a running container and removes everything', () => {
    const b = makeBundle(shell('sleep 30'));
    const id = runDetached(b);
    const { pid, supervisorPid } = stateFile(id);
    const cgroup = cgroupDir(pid, 'memory');
    expect(rt(['delete', '--force', id]).status).toBe(0);
    expect(alive(pid)).toBe(false);
    expect(alive(supervisorPid)).toBe(false);
    expect(existsSync(join(root, id))).toBe(false);
    expect(existsSync(cgroup)).toBe(false);
  });

  it('kill takes a signal by name, SIG name or number, and refuses an unknown one', async () => {
    const script = 'trap "echo got USR1" USR1; trap "echo got HUP" HUP; trap "exit 9" TERM; echo ready; while :; do sleep 0.05; done';
    const b = makeBundle(shell(script));
    const id = runDetached(b);
    await waitForLog(b, 'ready\n', id);
    expect(rt(['kill', id, 'USR1']).status).toBe(0);
    await waitForLog(b, 'got USR1\n', id);
    expect(rt(['kill', id, 'SIGHUP']).status).toBe(0);
    await waitForLog(b, 'got HUP\n', id);
    expect(rt(['kill', id, 'NOPE']).stderr).toBe('shoal-runtime: kill: unknown signal "NOPE"\n');
    expect(rt(['kill', id, '15']).status).toBe(0);
    expect((await waitExit(id)).exitCode).toBe(9);
  });

  it('run in the foreground exits with the container’s code and leaves no state', async () => {
    const { code } = await run('exit 42');
    expect(code).toBe(42);
    expect(readdirSync(root).filter((d) => d.startsWith(prefix))).toEqual([]);
  });

  it('records the exit code of a detached container', async () => {
    const id = runDetached(makeBundle(shell('exit 3')));
    expect(await waitExit(id)).toEqual({ exitCode: 3, oomKilled: false });
    expect(state(id)).toMatchObject({ status: 'stopped', exitCode: 3 });
  });

  it('refuses a second container with the same id', () => {
    const b = makeBundle(shell('sleep 30'));
    const id = runDetached(b);
    expect(rt(['run', '-d', '--bundle', b.dir, id]).stderr).toBe(`shoal-runtime: container "${id}" already exists\n`);
  });

  it('refuses ids that are empty, hidden or read as options, even after --', () => {
    const b = makeBundle(shell('true'));
    const listRoot = (): string[] => (existsSync(root) ? readdirSync(root) : []);
    const before = listRoot();
    for (const id of ['', '.x', '-x', 'a/b']) {
      const r = rt(['create', '--bundle', b.dir, '--', id]);
      expect([r.status, r.stderr]).toEqual([1, `shoal-runtime: create: invalid container id "${id}"\n`]);
    }
    expect(listRoot()).toEqual(before);
  });

  it('reports a program that cannot be started, from create, leaving nothing', () => {
    const b = makeBundle((c) => (c.process.args = ['/no/such/program']));
    const id = nextId();
    const r = rt(['create', '--bundle', b.dir, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('shoal-runtime: container did not start: exec /no/such/program: No such file or directory\n');
    expect(existsSync(join(root, id))).toBe(false);
    expect(existsSync(`/sys/fs/cgroup/pids${b.cgroupsPath}`)).toBe(false);
  });

  it('spec writes a template and will not overwrite a config', () => {
    const dir = join(work, `spec-${++count}`);
    mkdirSync(dir);
    expect(rt(['spec', '--bundle', dir]).status).toBe(0);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Config;
    expect(config.process.args).toEqual(['sh']);
    expect(config.linux.namespaces.map((n) => n.type).sort()).toEqual(['ipc', 'mount', 'network', 'pid', 'uts']);
    expect(rt(['spec', '--bundle', dir]).stderr).toBe(`shoal-runtime: ${dir}/config.json: already exists\n`);
  });
});

describe('shoal-runtime: creating, and the default cgroup', () => {
  it('state reports a container whose create is under way as creating; other verbs wait for it', async () => {
    const { b, id, create } = await heldCreate();
    expect(state(id)).toEqual({ ociVersion: '1.0.2', id, status: 'creating', pid: 0, bundle: b.dir });
    expect(rt(['start', id]).stderr).toBe(`shoal-runtime: container "${id}" is being created\n`);
    expect(rt(['delete', id]).stderr).toBe(`shoal-runtime: container "${id}" is being created (use --force to remove it)\n`);
    const reader = openSync(b.log, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      expect(await create.exited).toBe(0);
      expect(state(id)).toMatchObject({ status: 'created' });
      expect(readdirSync(join(root, id)).sort()).toEqual(['exec.fifo', 'state.json']);
    } finally {
      closeSync(reader);
    }
  });

  it('tells a create that died half-way from one under way, and delete --force clears it', async () => {
    const { id, create } = await heldCreate();
    await until(() => childrenOf(create.child.pid!).length > 0, create.child);
    const supervisors = childrenOf(create.child.pid!);
    for (const pid of [create.child.pid!, ...supervisors]) process.kill(pid, 'SIGKILL');
    await create.exited;
    for (const pid of supervisors) while (alive(pid)) await sleep(20);
    const died = `shoal-runtime: container "${id}" was left half-created by a create that died`;
    expect(rt(['state', id]).stderr).toBe(`${died}\n`);
    expect(rt(['delete', id]).stderr).toBe(`${died} (use --force to remove it)\n`);
    expect(rt(['delete', '--force', id]).status).toBe(0);
    expect(existsSync(join(root, id))).toBe(false);
  });

  it('puts a container without linux.cgroupsPath in /shoal/<id>', async () => {
    const parents = (await readCgroupLayout()).hierarchies.map((h) => join(h.mountPoint, 'shoal'));
    const made = parents.filter((d) => !existsSync(d));
    try {
      const id = runDetached(makeBundle(shell('sleep 30', (c) => delete c.linux.cgroupsPath)));
      const { pid, cgroupsPath } = stateFile(id);
      expect(cgroupsPath).toBe(`/shoal/${id}`);
      expect(cgroupDir(pid, 'pids')).toBe(`/sys/fs/cgroup/pids/shoal/${id}`);
      expect(rt(['delete', id]).stderr).toMatch(/cannot delete a running container/);
      expect(rt(['delete', '--force', id]).status).toBe(0);
      // As runc, delete leaves the parent it made: /shoal is shared by every container.
      expect(existsSync(`/sys/fs/cgroup/pids/shoal/${id}`)).toBe(false);
    } finally {
      // The /shoal this test made, if no one else has put anything in it since (rmdir refuses then).
      for (const dir of made) {
        try {
          rmdirSync(dir);
        } catch {
          // In use: someone else's now.
        }
      }
    }
  });
});

describe('shoal-runtime: bad configs', () => {
  const cases: [string, (c: Config) => void, RegExp][] = [
    ['a terminal', (c) => (c.process.terminal = true), /process\.terminal: terminals are not supported/],
    ['no args', (c) => (c.process.args = []), /process\.args must name a program/],
    ['a relative cwd', (c) => (c.process.cwd = 'srv'), /process\.cwd must be an absolute path/],
    ['an unknown capability', (c) => ((c.process.capabilities as Json).bounding = ['CAP_NOPE']), /process\.capabilities\.bounding: unknown capability "CAP_NOPE"/],
    ['an unknown rlimit', (c) => (c.process.rlimits = [{ type: 'RLIMIT_NOPE', soft: 1, hard: 1 }]), /process\.rlimits\[0\]\.type: unknown rlimit "RLIMIT_NOPE"/],
    ['a user namespace', (c) => c.linux.namespaces.push({ type: 'user' }), /linux\.namespaces\[5\]: user namespaces are not supported/],
    ['no mount namespace', (c) => (c.linux.namespaces = [{ type: 'pid' }]), /linux\.namespaces: a mount namespace is required/],
    ['a bad seccomp action', (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_NOPE' }), /linux\.seccomp\.defaultAction: unknown action "SCMP_ACT_NOPE"/],
    ['a bad mount', (c) => ((c.mounts as Json[])[0].destination = 'proc'), /mounts\[0\]\.destination must be an absolute path/],
    ['a wrong type', (c) => (c.process.user = { uid: 'root' }), /process\.user\.uid must be a number, not a string/],
    ['an unknown shoal annotation', (c) => (c.annotations = { 'org.shoal.log.pth': '/x' }), /annotations\.org\.shoal\.log\.pth: unknown shoal annotation/],
    ['a bad stop signal', (c) => (c.annotations = { 'org.shoal.stop-signal': 'SIGNOPE' }), /annotations\.org\.shoal\.stop-signal: unknown signal "SIGNOPE"/],
    ['a missing root', (c) => (c.root.path = '/no/such/root'), /root\.path: \/no\/such\/root: No such file or directory/],
  ];
  for (const [name, change, message] of cases) {
    it(`refuses ${name} in one line, starting nothing`, () => {
      const b = makeBundle(change);
      const id = nextId();
      const r = rt(['create', '--bundle', b.dir, id]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^shoal-runtime: [^\n]*\n$/);
      expect(r.stderr).toMatch(message);
      expect(existsSync(join(root, id))).toBe(false);
      expect(existsSync(`/sys/fs/cgroup/pids${b.cgroupsPath}`)).toBe(false);
    });
  }

  it('names the byte where config.json stops being JSON', () => {
    const b = makeBundle();
    writeFileSync(join(b.dir, 'config.json'), '{"ociVersion": "1.0.2",, }');
    const r = rt(['create', '--bundle', b.dir, nextId()]);
    expect(r.stderr).toBe(`shoal-runtime: ${b.dir}/config.json: at byte 23: object key expected\n`);
  });

  const malformed: [string, string][] = [
    ['{"a":1,}', 'at byte 7: object key expected'],
    ['{"a":1,"a":2}', 'at byte 7: duplicate key "a"'],
    ['{"a":01}', "at byte 6: ',' or '}' expected"],
    ['{"a":"\\ud800"}', 'at byte 12: unpaired high surrogate'],
    ['{"a":"\\udc00"}', 'at byte 12: unpaired low surrogate'],
    ['{"a":"x\ty"}', 'at byte 7: control character in string'],
    ['{"a":"\\q"}', "at byte 7: bad escape '\\q'"],
    ['{"a":true} x', 'at byte 11: unexpected data after the value'],
    ['', 'at byte 0: value expected, found end of input'],
  ];
  for (const [text, message] of malformed) {
    it(`is strict about JSON: ${JSON.stringify(text)}`, () => {
      const b = makeBundle();
      writeFileSync(join(b.dir, 'config.json'), text);
      expect(rt(['create', '--bundle', b.dir, nextId()]).stderr).toBe(`shoal-runtime: ${b.dir}/config.json: ${message}\n`);
    });
  }

  it('decodes \\u escapes and surrogate pairs', async () => {
    const b = makeBundle(shell('printf "%s" "$X"', (c) => (c.process.env = ['PATH=/bin', 'X=@@'])));
    const path = join(b.dir, 'config.json');
    writeFileSync(path, readFileSync(path, 'utf8').replace('@@', '\\u00e9\\ud83d\\ude00\\t\\/\\"'));
    expect(rt(['run', '--bundle', b.dir, nextId()]).status).toBe(0);
    expect(streamText(await readLogEntries(b.log), 'stdout')).toBe('é😀\t/"');
  });

  it('writes errors to the --log file too, as runc does', () => {
    const log = join(work, `runtime-log-${++count}.json`);
    const r = spawnSync(runtime, ['--root', root, '--log', log, '--log-format', 'json', 'state', 'no-such-id'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(JSON.parse(readFileSync(log, 'utf8'))).toMatchObject({ level: 'error', msg: 'container "no-such-id" does not exist' });
  });
});

describe('shoal-runtime: the container', () => {
  it('gives the container its own hostname and PID namespace', async () => {
    const { out } = await run('hostname; echo $$', (c) => (c.hostname = 'box-1'));
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
    const name = `${prefix}-net`;
    spawnOk('ip', ['netns', 'add', name]);
    try {
      const { out } = await run('ls /sys/class/net; tail -n +3 /proc/net/dev | cut -d: -f1', (c) => {
        c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'network');
        c.linux.namespaces.push({ type: 'network', path: `/run/netns/${name}` });
      });
      expect(out.split(/\s+/).filter(Boolean)).toEqual(['lo', 'lo']);
    } finally {
      spawnOk('ip', ['netns', 'del', name]);
    }
  });

  it('brings loopback up in a new network namespace, and leaves a joined one as it is', async () => {
    const { out } = await run('ip -o link show lo');
    expect(out).toMatch(/^1: lo: <LOOPBACK,UP,LOWER_UP>/);
    const name = `${prefix}-down`;
    spawnOk('ip', ['netns', 'add', name]);
    try {
      const joined = await run('ip -o link show lo', (c) => {
        c.linux.namespaces = c.linux.namespaces.filter((n) => n.type !== 'network');
        c.linux.namespaces.push({ type: 'network', path: `/run/netns/${name}` });
      });
      expect(joined.out).toMatch(/^1: lo: <LOOPBACK> /);
    } finally {
      spawnOk('ip', ['netns', 'del', name]);
    }
  });

  it('starts the program with no signal ignored or blocked', async () => {
    const b = makeBundle((c) => (c.process.args = ['grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status']));
    expect(rt(['run', '--bundle', b.dir, nextId()]).status).toBe(0);
    const out = streamText(await readLogEntries(b.log), 'stdout');
    expect(out).toBe('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
  });

  it('sets exactly the configured environment and working directory', async () => {
    const b = makeBundle((c) => {
      c.process.args = ['env'];
      c.process.env = ['PATH=/bin', 'GREETING=hello world'];
      c.process.cwd = '/srv';
    });
    expect(rt(['run', '--bundle', b.dir, nextId()]).status).toBe(0);
    expect(streamText(await readLogEntries(b.log), 'stdout').trim().split('\n').sort()).toEqual(['GREETING=hello world', 'PATH=/bin']);
    expect((await run('pwd', (c) => (c.process.cwd = '/srv'))).out).toBe('/srv\n');
    // A working directory the image lacks is made, as Docker makes a WORKDIR.
    expect((await run('pwd; ls -ld /new/work | cut -c1-10', (c) => (c.process.cwd = '/new/work/dir'))).out).toBe('/new/work/dir\ndrwxr-xr-x\n');
  });

  it('runs as the configured user and groups', async () => {
    const { out } = await run('id -u; id -g; id -G', (c) => (c.process.user = { uid: 65534, gid: 65534, additionalGids: [65534, 100] }));
    expect(out).toBe('65534\n65534\n65534 100\n');
  });

  it('hides the masked paths: files behind /dev/null, directories behind an empty tmpfs', async () => {
    const { out } = await run('wc -c < /proc/keys; ls /sys/firmware | wc -l; touch /sys/firmware/x 2>/dev/null || echo ro; echo done', (c) => {
      c.linux.maskedPaths = ['/proc/keys', '/sys/firmware', '/no/such/path'];
    });
    expect(out).toBe('0\n0\nro\ndone\n');
    // Without the mask, both have something to show.
    const open = await run('wc -c < /proc/keys; ls /sys/firmware | wc -l', (c) => (c.linux.maskedPaths = []));
    expect(open.out.split('\n').map(Number).slice(0, 2).every((n) => n > 0)).toBe(true);
  });

  it('makes the read-only paths read-only and leaves the rest writable', async () => {
    const { out } = await run('touch /srv/x 2>/dev/null && echo srv-rw || echo srv-ro; touch /tmp/x && echo tmp-rw; rm -f /tmp/x', (c) => {
      c.linux.readonlyPaths = ['/srv', '/no/such/path'];
    });
    expect(out).toBe('srv-ro\ntmp-rw\n');
  });

  it('mounts the root read-only when root.readonly is set', async () => {
    const ro = await run('touch /tmp/y 2>/dev/null && echo rw || echo ro', (c) => (c.root.readonly = true));
    expect(ro.out).toBe('ro\n');
    const rw = await run('touch /tmp/y && echo rw; rm /tmp/y');
    expect(rw.out).toBe('rw\n');
  });

  it('sets the rlimits before exec', async () => {
    const { out } = await run('ulimit -n; ulimit -Hn', (c) => (c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 321, hard: 654 }]));
    expect(out).toBe('321\n654\n');
  });

  it('sets oom_score_adj', async () => {
    const { out } = await run('cat /proc/self/oom_score_adj', (c) => (c.process.oomScoreAdj = 500));
    expect(out).toBe('500\n');
  });

  it('sets no_new_privs when asked', async () => {
    const on = await run('grep NoNewPrivs /proc/self/status', (c) => (c.process.noNewPrivileges = true));
    expect(on.out).toBe('NoNewPrivs:\t1\n');
    const off = await run('grep NoNewPrivs /proc/self/status', (c) => (c.process.noNewPrivileges = false));
    expect(off.out).toBe('NoNewPrivs:\t0\n');
  });

  it('keeps only the configured capabilities: without CAP_NET_ADMIN no network device can be added', async () => {
    const script = 'grep CapEff /proc/self/status; ip link add br0 type bridge 2>/dev/null && echo added || echo refused';
    const few = await run(script);
    // The template's set: CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29).
    expect(few.out).toBe('CapEff:\t0000000020000420\nrefused\n');
    const netAdmin = ['CAP_NET_ADMIN'];
    const more = await run(script, (c) => (c.process.capabilities = { bounding: netAdmin, effective: netAdmin, permitted: netAdmin }));
    expect(more.out).toBe('CapEff:\t0000000000001000\nadded\n');
  });

  it('installs the seccomp filter: a refused system call fails with the given errno', async () => {
    const seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    };
    const { out } = await run('mkdir /tmp/seccomp-dir 2>&1 || echo refused', (c) => (c.linux.seccomp = seccomp));
    expect(out).toBe('mkdir: can\'t create directory \'/tmp/seccomp-dir\': Operation not permitted\nrefused\n');
  });

  it('passes the container no file descriptor but its stdio, even ones its starter leaked', async () => {
    const b = makeBundle(shell('ls /proc/1/fd; true'));
    const leaked = openSync('/etc/hostname', 'r');
    const id = nextId();
    try {
      const r = spawnSync(runtime, ['--root', root, 'run', '-d', '--bundle', b.dir, id], { stdio: ['ignore', 'ignore', 'pipe', leaked], encoding: 'utf8' });
      expect(r.stderr).toBe('');
    } finally {
      closeSync(leaked);
    }
    expect((await waitExit(id)).exitCode).toBe(0);
    expect(streamText(await readLogEntries(b.log), 'stdout')).toBe('0\n1\n2\n');
  });

  it('leaves no mount behind on the host', async () => {
    const before = readFileSync('/proc/self/mountinfo', 'utf8');
    expect((await run('true')).code).toBe(0);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toBe(before);
    expect(before).not.toContain(work);
  });

  it('mounts an overlay root from the annotations inside the container only', async () => {
    const upper = join(work, `upper-${++count}`);
    const workdir = join(work, `work-${count}`);
    const mountpoint = join(work, `merged-${count}`);
    for (const d of [upper, workdir, mountpoint]) mkdirSync(d);
    const before = readFileSync('/proc/self/mountinfo', 'utf8');
    const { out } = await run('echo written > /new-file; ls /bin/busybox', (c) => {
      c.root.path = mountpoint;
      c.annotations = { ...c.annotations, 'org.shoal.rootfs.lower': rootfs, 'org.shoal.rootfs.upper': upper, 'org.shoal.rootfs.work': workdir };
    });
    expect(out).toBe('/bin/busybox\n');
    expect(readFileSync(join(upper, 'new-file'), 'utf8')).toBe('written\n');
    expect(existsSync(join(rootfs, 'new-file'))).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).toBe(before);
  });
});

describe('shoal-runtime: supervision', () => {
  it('forwards SIGTERM to the container as the configured stop signal', async () => {
    // Init is pid 1 in its namespace, so it only sees signals it handles: the trap shows which came.
    const script = 'trap "echo got USR1; exit 0" USR1; trap "echo got TERM; exit 0" TERM; echo ready; sleep 30 & wait';
    const b = makeBundle(shell(script, (c) => (c.annotations = { ...c.annotations, 'org.shoal.stop-signal': 'SIGUSR1' })));
    const id = runDetached(b);
    await waitForLog(b, 'ready\n', id);
    process.kill(stateFile(id).supervisorPid, 'SIGTERM');
    expect((await waitExit(id)).exitCode).toBe(0);
    expect(streamText(await readLogEntries(b.log), 'stdout')).toBe('ready\ngot USR1\n');
  });

  it('run in the foreground passes the signals it gets on to the container', async () => {
    const script = 'trap "echo got USR1" USR1; trap "echo got HUP" HUP; trap "echo got QUIT; exit 7" QUIT; echo ready; while :; do sleep 0.05; done';
    const b = makeBundle(shell(script));
    const id = nextId();
    const { child, exited } = rtChild(['run', '--bundle', b.dir, id]);
    await waitForLog(b, 'ready\n', id);
    child.kill('SIGUSR1');
    await waitForLog(b, 'got USR1\n', id);
    child.kill('SIGHUP');
    await waitForLog(b, 'got HUP\n', id);
    child.kill('SIGQUIT');
    expect(await exited).toBe(7);
    expect(streamText(await readLogEntries(b.log), 'stdout')).toBe('ready\ngot USR1\ngot HUP\ngot QUIT\n');
  });

  it('kills a container that ignores the stop signal after the grace period: sleep records 137', async () => {
    const b = makeBundle((c) => {
      c.process.args = ['sleep', '30'];
      c.annotations = { ...c.annotations, 'org.shoal.stop-timeout': '1' };
    });
    const id = runDetached(b);
    process.kill(stateFile(id).supervisorPid, 'SIGTERM');
    expect(await waitExit(id)).toEqual({ exitCode: 137, oomKilled: false });
  });

  it('keeps supervising after the command that started it has exited', async () => {
    const b = makeBundle(shell('echo up; sleep 30'));
    const id = runDetached(b);
    const { pid, supervisorPid } = stateFile(id);
    expect(alive(supervisorPid)).toBe(true);
    // It leads its own session, and its parent (the runtime command, which has returned) is gone.
    const stat = readFileSync(`/proc/${supervisorPid}/stat`, 'utf8');
    const [ppid, , session] = stat.slice(stat.lastIndexOf(')') + 4).split(' ').map(Number);
    expect(session).toBe(supervisorPid);
    expect(existsSync(`/proc/${ppid}/cmdline`) && readFileSync(`/proc/${ppid}/cmdline`, 'utf8')).not.toContain('shoal-runtime');
    await waitForLog(b, 'up\n', id);
    expect(state(id)).toMatchObject({ status: 'running' });
    process.kill(pid, 'SIGKILL');
    expect((await waitExit(id)).exitCode).toBe(137);
    while (alive(supervisorPid)) await sleep(20);
  });

  it('puts the container in its cgroup with the pids and memory limits', () => {
    const b = makeBundle(shell('sleep 30', (c) => (c.linux.resources = { memory: { limit: 64 << 20 }, pids: { limit: 20 } })));
    const id = runDetached(b);
    const { pid } = stateFile(id);
    expect(readFileSync(join(cgroupDir(pid, 'memory'), 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(64 << 20));
    expect(readFileSync(join(cgroupDir(pid, 'pids'), 'pids.max'), 'utf8').trim()).toBe('20');
    expect(readFileSync(join(cgroupDir(pid, 'pids'), 'cgroup.procs'), 'utf8').trim()).toBe(String(pid));
  });

  it('holds a busy container to its CPU quota', async () => {
    // 10 ms of CPU per 100 ms period: the kernel throttles the loop, and its CPU time can never run
    // ahead of the quota by more than a period's worth plus the slice each CPU may hold on credit
    // (sched_cfs_bandwidth_slice_us), however loaded the machine is.
    const quotaUs = 10_000;
    const periodUs = 100_000;
    const b = makeBundle(shell('while :; do :; done', (c) => (c.linux.resources = { cpu: { quota: quotaUs, period: periodUs } })));
    const startedAt = performance.now();
    const id = runDetached(b);
    const { pid } = stateFile(id);
    const cpu = cgroupDir(pid, 'cpu');
    const throttled = (): number => Number(/^nr_throttled (\d+)$/m.exec(readFileSync(join(cpu, 'cpu.stat'), 'utf8'))?.[1]);
    while (throttled() < 3) await sleep(50);
    const usageNs = Number(readFileSync(join(cgroupDir(pid, 'cpuacct'), 'cpuacct.usage'), 'utf8'));
    const elapsedUs = (performance.now() - startedAt) * 1000;
    expect(readFileSync(join(cpu, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe(String(quotaUs));
    const sliceUs = Number(readFileSync('/proc/sys/kernel/sched_cfs_bandwidth_slice_us', 'utf8'));
    expect(usageNs / 1000).toBeLessThanOrEqual((elapsedUs / periodUs + 1) * quotaUs + cpus().length * sliceUs);
    expect(rt(['delete', '--force', id]).status).toBe(0);
  });

  it('stops forks at the pids limit', async () => {
    const { err } = await run('for i in 1 2 3 4; do sleep 1 & done; wait', (c) => (c.linux.resources = { pids: { limit: 3 } }));
    expect(err).toBe("sh: can't fork: Resource temporarily unavailable\n");
  });

  it('gives a cgroup namespace and a read-only cgroup mount of the container’s own cgroups', async () => {
    const { out } = await run('grep -c ":/$" /proc/self/cgroup; cat /sys/fs/cgroup/pids/pids.max; touch /sys/fs/cgroup/pids/x 2>/dev/null || echo ro', (c) => {
      c.linux.namespaces.push({ type: 'cgroup' });
      c.linux.resources = { pids: { limit: 33 } };
      (c.mounts as Json[]).push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'ro'] });
    });
    const [rootLines, pidsMax, ro] = out.trim().split('\n');
    // Every hierarchy shows the container's cgroup as its root.
    expect(Number(rootLines)).toBe(readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n').length);
    expect(pidsMax).toBe('33');
    expect(ro).toBe('ro');
  });

  it('reports an OOM kill when the memory limit is reached', async () => {
    const b = makeBundle((c) => {
      c.process.args = ['tail', '/dev/zero'];
      c.linux.resources = { memory: { limit: 16 << 20, swap: 16 << 20 } };
    });
    const id = runDetached(b);
    expect(await waitExit(id)).toEqual({ exitCode: 137, oomKilled: true });
    expect(state(id)).toMatchObject({ status: 'stopped', exitCode: 137, oomKilled: true });
  });
});

describe('shoal-runtime: exec', () => {
  it('runs a command in the container’s namespaces and exits with its code', async () => {
    const b = makeBundle(shell('echo up; sleep 30', (c) => (c.hostname = 'exec-box')));
    const id = runDetached(b);
    await waitForLog(b, 'up\n', id);
    const r = rt(['exec', id, 'sh', '-c', 'hostname; tr "\\0" " " < /proc/1/cmdline; echo; exit 4']);
    // The shell exec'd its last command: the container's pid 1 is now sleep.
    expect(r.stdout).toBe('exec-box\nsleep 30 \n');
    expect(r.status).toBe(4);
  });

  it('takes --env, --cwd and --user', async () => {
    const id = runDetached(makeBundle(shell('sleep 30')));
    const r = rt(['exec', '--env', 'FOO=bar', '--env', 'PATH=/bin', '--cwd', '/srv', '--user', '65534:100', id, 'sh', '-c', 'echo $FOO; pwd; id -u; id -g']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('bar\n/srv\n65534\n100\n');
  });

  it('joins the container’s cgroup', async () => {
    const id = runDetached(makeBundle(shell('sleep 30')));
    const { pid } = stateFile(id);
    const r = rt(['exec', id, 'cat', '/proc/self/cgroup']);
    const memoryLine = r.stdout.split('\n').find((l) => l.split(':')[1] === 'memory');
    expect(memoryLine?.split(':')[2]).toBe(readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1] === 'memory')?.split(':')[2]);
  });

  it('with -d returns at once, leaving the command running', async () => {
    const b = makeBundle(shell('sleep 30'));
    const id = runDetached(b);
    const r = rt(['exec', '-d', id, 'sh', '-c', 'sleep 0.3; echo late > /tmp/exec-late']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    const file = join(rootfs, 'tmp', 'exec-late');
    while (!existsSync(file)) await sleep(20);
    expect(readFileSync(file, 'utf8')).toBe('late\n');
  });

  it('applies the process rlimits and oom_score_adj to the exec’d process', () => {
    const id = runDetached(
      makeBundle(
        shell('sleep 30', (c) => {
          c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 200, hard: 300 }];
          c.process.oomScoreAdj = 123;
        }),
      ),
    );
    const r = rt(['exec', id, 'sh', '-c', 'ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('200\n300\n123\n');
  });

  it('passes the signals it gets on to the exec’d process', async () => {
    const id = runDetached(makeBundle(shell('sleep 30')));
    const script = 'trap "echo got USR1" USR1; trap "echo got TERM; exit 6" TERM; echo ready; while :; do sleep 0.05; done';
    const { child, exited, out } = rtChild(['exec', id, 'sh', '-c', script]);
    await until(() => out().includes('ready\n'), child);
    child.kill('SIGUSR1');
    await until(() => out().includes('got USR1\n'), child);
    child.kill('SIGTERM');
    expect(await exited).toBe(6);
    expect(out()).toBe('ready\ngot USR1\ngot TERM\n');
  });

  it('refuses a container that is not running, and a command that is not there', () => {
    const b = makeBundle(shell('sleep 30'));
    const id = nextId();
    expect(rt(['create', '--bundle', b.dir, id]).status).toBe(0);
    expect(rt(['exec', id, 'true']).stderr).toBe('shoal-runtime: cannot exec in a container that is created\n');
    expect(rt(['start', id]).status).toBe(0);
    const r = rt(['exec', id, '/no/such/program']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^shoal-runtime: exec in ".*": .*\/no\/such\/program: No such file or directory\n$/);
  });
});
