/**
 * exec.c with a real container (needs root): testing/exec-driver.c, built here with the modules
 * it links, starts a busybox container in its own namespaces and cgroup, then runs each command
 * in it through exec_start and exits with the command's code.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTestCgroups, testCgroupName } from '../cgroups/testing/test-cgroups.js';
import { makeBusyboxRootfs } from '../container/testing/rootfs.js';
import { buildDriver } from './testing/build-driver.js';

/** exec.c and the modules it calls into. */
const SOURCES = ['exec.c', 'cgroup.c', 'caps.c', 'seccomp.c', 'util.c', 'testing/exec-driver.c'];
/** This file's own parent cgroup, removed (parent included) after the tests. */
const cgroupParent = testCgroupName();
const cgroupPath = `/${cgroupParent}/box`;

let work: string;
let driver: string;
let container: ChildProcess | undefined;
let initPid: number;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-exec-'));
  driver = buildDriver(work, 'exec-driver', SOURCES);
  const rootfs = join(work, 'rootfs');
  makeBusyboxRootfs(rootfs);
  writeFileSync(join(rootfs, 'marker'), 'inside the container\n');
  container = spawn(driver, ['container', rootfs, 'box-exec', cgroupPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  initPid = await firstLine(container).then(Number);
});

afterAll(async () => {
  // Killing the init ends the container; the driver then removes the cgroup and exits.
  if (container && container.exitCode === null) {
    const exited = new Promise((resolve) => container?.once('exit', resolve));
    if (initPid > 0) process.kill(initPid, 'SIGKILL');
    else container.kill('SIGKILL');
    await exited;
  }
  // The driver removes the container's cgroup; this takes the parent, and whatever a crash left.
  await removeTestCgroups(cgroupParent);
  if (work) await rm(work, { recursive: true, force: true });
});

interface Result {
  code: number | null;
  out: string;
  err: string;
}

/** Runs `cmd` in the container through the driver; `opts` are the driver's exec options. */
function exec(cmd: string[], opts: string[] = []): Result {
  const r = spawnSync(driver, ['exec', '--env', 'PATH=/bin', ...opts, String(initPid), ...cmd], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function sh(script: string, opts: string[] = []): Result {
  return exec(['sh', '-c', script], opts);
}

describe('exec_start', () => {
  it('runs the command in the container: its hostname, its root, its network', () => {
    const r = sh(`hostname; cat /marker; test -e ${work} && echo host-visible || echo host-hidden; tail -n +3 /proc/net/dev | cut -d: -f1`);
    expect(r).toEqual({ code: 0, out: 'box-exec\ninside the container\nhost-hidden\n    lo\n', err: '' });
  });

  it('joins the PID namespace: init is pid 1 and ps sees only the container', () => {
    const r = sh('echo $$; tr "\\0" " " < /proc/1/cmdline; echo; ps -o pid,args');
    expect(r.code).toBe(0);
    const [self, init, , ...ps] = r.out.trim().split('\n');
    expect(Number(self)).toBeGreaterThan(1);
    expect(init).toBe('sleep 600 ');
    // sleep, and the shell (replaced by ps, the last command of its script).
    expect(ps.map((l) => l.trim().split(/\s+/)[0])).toEqual(['1', self]);
  });

  it('joins the container’s cgroup and cgroup namespace: it sits at the root of every hierarchy', () => {
    const joined = exec(['cat', '/proc/self/cgroup'], ['--cgroup', cgroupPath]);
    expect(joined.code).toBe(0);
    const lines = joined.out.trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/:\/$/);
    // Without the cgroup it stays where the caller is: outside the namespace's root.
    expect(exec(['cat', '/proc/self/cgroup']).out).toContain('/..');
  });

  it('sets exactly the given environment, and finds the command on its PATH', () => {
    const r = exec(['env'], ['--env', 'GREETING=hello world']);
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n').sort()).toEqual(['GREETING=hello world', 'PATH=/bin']);
  });

  it('applies the working directory, user, group and additional groups', () => {
    const r = sh('pwd; id -u; id -g; id -G', ['--cwd', '/srv', '--user', '1000:1001', '--groups', '100,200']);
    expect(r).toEqual({ code: 0, out: '/srv\n1000\n1001\n1001 100 200\n', err: '' });
  });

  it('returns the command’s pid: its exit code, or 128+signal when a signal ends it', () => {
    expect(sh('exit 7').code).toBe(7);
    expect(sh('kill -9 $$').code).toBe(137);
  });

  it('reports a command missing from the PATH in one clear line', () => {
    expect(exec(['no-such-command'])).toEqual({
      code: 125,
      out: '',
      err: 'exec-driver: exec "no-such-command": executable file not found in $PATH\n',
    });
    expect(exec(['/no/such/program']).err).toBe('exec-driver: exec /no/such/program: No such file or directory\n');
  });

  it('reports a working directory that does not exist', () => {
    expect(exec(['true'], ['--cwd', '/nowhere']).err).toBe('exec-driver: chdir /nowhere: No such file or directory\n');
  });

  it('reports a container whose init is not running', () => {
    const beyond = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')) + 1;
    const r = spawnSync(driver, ['exec', String(beyond), 'true'], { encoding: 'utf8' });
    expect(r.status).toBe(125);
    expect(r.stderr).toBe(`exec-driver: container init ${beyond} is not running\n`);
  });

  it('keeps no capability unless given; given ones survive the change to another user', () => {
    const caps = (r: Result): Record<string, string> =>
      Object.fromEntries(r.out.trim().split('\n').map((l) => l.split(':\t') as [string, string]));
    const none = caps(exec(['grep', '^Cap', '/proc/self/status']));
    expect(none).toMatchObject({ CapEff: '0000000000000000', CapPrm: '0000000000000000', CapBnd: '0000000000000000' });
    // CAP_NET_BIND_SERVICE (10) alone, for uid 1000.
    const one = caps(exec(['grep', '^Cap', '/proc/self/status'], ['--caps', '400', '--user', '1000:1000']));
    expect(one).toMatchObject({ CapEff: '0000000000000400', CapPrm: '0000000000000400', CapBnd: '0000000000000400' });
    // Without CAP_SYS_ADMIN even root cannot rename the container.
    expect(exec(['hostname', 'renamed']).code).not.toBe(0);
    expect(exec(['hostname']).out).toBe('box-exec\n');
  });

  it('sets no_new_privs only when asked', () => {
    expect(exec(['grep', 'NoNewPrivs', '/proc/self/status']).out).toBe('NoNewPrivs:\t0\n');
    expect(exec(['grep', 'NoNewPrivs', '/proc/self/status'], ['--no-new-privs']).out).toBe('NoNewPrivs:\t1\n');
  });

  it('installs the seccomp filter, for root without no_new_privs and for a user with it', () => {
    const script = 'mkdir /tmp/made-$$ 2>&1; cat /marker';
    for (const opts of [['--deny-mkdir'], ['--deny-mkdir', '--no-new-privs', '--user', '1000:1000']]) {
      const r = sh(script, opts);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/can't create directory '\/tmp\/made-\d+': Operation not permitted\ninside the container\n$/);
    }
  });

  it('sets the rlimits and oom_score_adj, kept through the change to another user', () => {
    const r = sh('ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj', ['--nofile', '123', '--oom-score-adj', '456', '--user', '1000:1000']);
    expect(r).toEqual({ code: 0, out: '123\n123\n456\n', err: '' });
  });

  it('starts the command with no signal blocked or ignored and no descriptor but stdio, whatever the caller had', () => {
    // The driver blocks SIGUSR1, ignores SIGUSR2 and leaks a descriptor before calling exec_start.
    expect(exec(['grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status']).out).toBe(
      'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n',
    );
    // The shell lists its own descriptors; `; true` keeps it from exec'ing ls in its place.
    expect(sh('ls /proc/$$/fd; true').out).toBe('0\n1\n2\n');
  });
});

/** The first line the process writes on stdout; rejects with its stderr if it exits first. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    child.once('exit', (code) => reject(new Error(`exec-driver container exited with ${code}: ${err}`)));
  });
}
