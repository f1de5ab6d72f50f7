/**
 * probeWithRuntime, first against a FAKE runtime: a shell script taking the runtime's command line
 * that records it and runs the command on the host as its own child, the shape `shoal-runtime
 * exec` has (the command in the container is the runtime's child). That checks the probe's side:
 * argv, exit codes, output, and that a timeout or abort kills the runtime and its child. Then with
 * the real shoal-runtime and a busybox container (needs root), under a HealthMonitor too.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../common/clock.js';
import { isAlive } from '../../common/proc-stat.js';
import { waitFor } from '../../../test/support/wait-for.js';
import { removeTestCgroups, testCgroupName } from '../cgroups/testing/test-cgroups.js';
import { makeBusyboxRootfs } from '../container/testing/rootfs.js';
import { SHIM_DIR } from '../shim/testing/build-driver.js';
import { HealthMonitor, MAX_OUTPUT_BYTES, timeoutResult, type HealthStatus, type Probe } from './monitor.js';
import { probeWithRuntime } from './runtime-probe.js';

let work: string;
let probe: Probe;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-health-'));
  const fakeRuntime = join(work, 'fake-shoal-runtime');
  // Records its pid and arguments, skips "--root ROOT exec ID", runs the rest and passes its exit on.
  writeFileSync(
    fakeRuntime,
    `#!/bin/sh\necho $$ > ${work}/runtime.pid\nprintf '%s\\n' "$@" > ${work}/args\nshift 4\n"$@"\nexit $?\n`,
  );
  chmodSync(fakeRuntime, 0o755);
  probe = probeWithRuntime(fakeRuntime, '/run/shoal-test', 'c1');
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const never = new AbortController().signal;
const pidIn = (file: string): number => Number(readFileSync(join(work, file), 'utf8'));

describe('probeWithRuntime', () => {
  it('runs `--root ROOT exec ID ARGV...` and resolves with the exit code and stdout and stderr together', async () => {
    const result = await probe(['sh', '-c', 'echo out; echo err >&2; exit 3'], 10_000, never);
    expect(readFileSync(join(work, 'args'), 'utf8')).toBe(
      ['--root', '/run/shoal-test', 'exec', 'c1', 'sh', '-c', 'echo out; echo err >&2; exit 3', ''].join('\n'),
    );
    expect(result.exitCode).toBe(3);
    expect(result.output.split('\n').sort()).toEqual(['', 'err', 'out']);
  });

  it('gives 128+signal when a signal ends the runtime', async () => {
    expect((await probe(['sh', '-c', 'kill -9 $PPID'], 10_000, never)).exitCode).toBe(137);
  });

  it('keeps only a byte past the 4 KiB that the log shows, whatever the command writes', async () => {
    const result = await probe(['sh', '-c', "head -c 100000 /dev/zero | tr '\\0' a"], 10_000, never);
    expect(result).toEqual({ exitCode: 0, output: 'a'.repeat(MAX_OUTPUT_BYTES + 1) });
  });

  it('kills the runtime and the command when the timeout passes, and resolves with the timeout result', async () => {
    const result = await probe(['sh', '-c', `sleep 600 & echo $! > ${work}/command.pid; wait`], 1000, never);
    expect(result).toEqual(timeoutResult(1000));
    for (const file of ['runtime.pid', 'command.pid']) {
      if (existsSync(join(work, file))) await waitFor(`${file} to die`, () => !isAlive(pidIn(file)));
    }
  });

  it('kills the runtime and the command when aborted, and rejects with the reason', async () => {
    const abort = new AbortController();
    const running = probe(['sh', '-c', `sleep 600 & echo $! > ${work}/aborted.pid; wait`], 60_000, abort.signal);
    await waitFor('the command to start', () => existsSync(join(work, 'aborted.pid')) && pidIn('aborted.pid') > 0);
    abort.abort(new Error('monitor stopped'));
    await expect(running).rejects.toThrow('monitor stopped');
    await waitFor('the command to die', () => !isAlive(pidIn('aborted.pid')));
  });

  it('rejects, naming the runtime, when the runtime cannot be started', async () => {
    const missing = probeWithRuntime(join(work, 'no-such-runtime'), '/run/x', 'c1');
    await expect(missing(['true'], 10_000, never)).rejects.toThrow(/no-such-runtime: spawn .* ENOENT/);
  });
});

describe('probeWithRuntime with shoal-runtime', () => {
  let dir: string;
  let runtime: string;
  let rootfs: string;
  let real: Probe;
  const id = `probe-${randomBytes(4).toString('hex')}`;
  // Its cgroup under a parent of this run's own, removed at the end.
  const cgroupParent = testCgroupName();
  const run = (...args: string[]): string => execFileSync(runtime, ['--root', join(dir, 'state'), ...args], { encoding: 'utf8' });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-health-runtime-'));
    runtime = join(dir, 'shoal-runtime');
    execFileSync('bash', [join(SHIM_DIR, 'build.sh'), runtime], { stdio: 'inherit' });
    const bundle = join(dir, 'bundle');
    rootfs = join(bundle, 'rootfs');
    makeBusyboxRootfs(rootfs);
    run('spec', '--bundle', bundle);
    const configPath = join(bundle, 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { process: { args: string[] }; linux: { cgroupsPath?: string }; annotations?: object };
    config.process.args = ['sleep', '600'];
    config.linux.cgroupsPath = `/${cgroupParent}/${id}`;
    // Its output to a log, not to run's stdio, which would hold this test's pipes open.
    config.annotations = { 'org.shoal.log.path': join(dir, 'container.log') };
    writeFileSync(configPath, JSON.stringify(config));
    run('run', '-d', '--bundle', bundle, id);
    real = probeWithRuntime(runtime, join(dir, 'state'), id);
  });

  afterAll(async () => {
    if (runtime && existsSync(join(dir, 'state', id))) run('delete', '-f', id);
    await removeTestCgroups(cgroupParent);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs the check in the container and gives its exit code and output', async () => {
    const result = await real(['sh', '-c', 'hostname; test $$ -ne 1 && echo not-init; exit 3'], 10_000, never);
    expect(result).toEqual({ exitCode: 3, output: 'shoal\nnot-init\n' });
  });

  it('kills the check in the container when it times out', async () => {
    expect(await real(['sleep', '601'], 1000, never)).toEqual(timeoutResult(1000));
    const sleeping = async (): Promise<boolean> => (await real(['ps', '-o', 'args'], 10_000, never)).output.includes('sleep 601');
    await waitFor('the timed-out check to be gone from the container', async () => !(await sleeping()));
  });

  it('drives a HealthMonitor: unhealthy while the check fails, healthy once it passes', async () => {
    const changes: HealthStatus[] = [];
    const monitor = new HealthMonitor({
      check: { test: ['CMD-SHELL', 'test -e /tmp/ready'], intervalMs: 50, timeoutMs: 10_000, retries: 2 },
      probe: real,
      clock: systemClock,
      onChange: (status) => changes.push(status),
    });
    monitor.start();
    try {
      await waitFor('unhealthy', () => changes.includes('unhealthy'));
      writeFileSync(join(rootfs, 'tmp', 'ready'), '');
      await waitFor('healthy', () => changes.includes('healthy'));
    } finally {
      monitor.stop();
    }
    expect(changes).toEqual(['unhealthy', 'healthy']);
    expect(monitor.report().log.at(-1)).toMatchObject({ exitCode: 0, output: '' });
  });
});
