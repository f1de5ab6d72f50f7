/**
 * readStats against fake v1 and v2 trees in a temp dir, and against a real cgroup on this machine
 * made by the runtime's own cgroup.c (through its test driver), with a process in it that is then
 * OOM-killed.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findCgroupLayout, readCgroupLayout } from './mountinfo.js';
import { readStats } from './stats.js';
import { buildCgroupDriver, runDriver } from './testing/driver.js';
import { removeTestCgroups, testCgroupName } from './testing/test-cgroups.js';

const MiB = 1024 * 1024;
const name = testCgroupName();
let work: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'shoal-cgroup-stats-'));
});

afterAll(async () => {
  await removeTestCgroups(name);
  if (work) rmSync(work, { recursive: true, force: true });
});

function files(dir: string, contents: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(contents)) writeFileSync(join(dir, file), text);
}

describe('readStats on fake trees', () => {
  it('reads v1 from the memory, cpuacct and pids hierarchies', async () => {
    const root = join(work, 'v1');
    const layout = findCgroupLayout(
      [
        `32 31 0:29 / ${root}/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct`,
        `35 31 0:32 / ${root}/memory rw - cgroup cgroup rw,memory`,
        `39 31 0:36 / ${root}/pids rw - cgroup cgroup rw,pids`,
      ].join('\n'),
      '8:pids:/\n4:memory:/nested\n1:cpu,cpuacct:/\n',
    );
    files(join(root, 'cpu,cpuacct', 'c1'), { 'cpuacct.usage': '123456789\n' });
    files(join(root, 'memory', 'nested', 'c1'), {
      'memory.usage_in_bytes': '10485760\n',
      'memory.stat': 'cache 4194304\nrss 6291456\ntotal_cache 4194304\ntotal_inactive_file 3145728\n',
      'memory.limit_in_bytes': '67108864\n',
      'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
    });
    files(join(root, 'pids', 'c1'), { 'pids.current': '3\n' });
    expect(await readStats('c1', layout)).toEqual({
      cpuUsageNs: 123456789,
      memoryBytes: 10485760 - 3145728,
      memoryLimitBytes: 64 * MiB,
      pidsCurrent: 3,
      oomKills: 2,
    });
    // v1's "no limit" is a page-rounded LONG_MAX.
    writeFileSync(join(root, 'memory', 'nested', 'c1', 'memory.limit_in_bytes'), '9223372036854771712\n');
    expect((await readStats('c1', layout)).memoryLimitBytes).toBeUndefined();
  });

  it('reads v2 from the one directory', async () => {
    const root = join(work, 'v2');
    const layout = findCgroupLayout(`41 31 0:38 / ${root} rw - cgroup2 cgroup2 rw`, '0::/\n');
    files(join(root, 'shoal', 'c2'), {
      'cpu.stat': 'usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n',
      'memory.current': '8388608\n',
      'memory.stat': 'anon 4194304\nfile 4194304\nactive_file 1048576\ninactive_file 3145728\n',
      'memory.max': 'max\n',
      'pids.current': '1\n',
      'memory.events': 'low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n',
    });
    expect(await readStats('/shoal/c2', layout)).toEqual({
      cpuUsageNs: 2_500_000,
      memoryBytes: 8388608 - 3145728,
      pidsCurrent: 1,
      oomKills: 1,
    });
    writeFileSync(join(root, 'shoal', 'c2', 'memory.max'), '268435456\n');
    expect((await readStats('/shoal/c2', layout)).memoryLimitBytes).toBe(256 * MiB);
  });

  it('fails naming the file when the cgroup is not there', async () => {
    const layout = findCgroupLayout(`41 31 0:38 / ${join(work, 'v2')} rw - cgroup2 cgroup2 rw`, '0::/\n');
    await expect(readStats('/no/such', layout)).rejects.toThrow(join(work, 'v2', 'no', 'such'));
  });
});

describe('readStats on this machine', () => {
  it('follows a process in a cgroup made by cgroup.c until the OOM killer takes it', async () => {
    const driver = buildCgroupDriver(work);
    const path = `/${name}/stats`;
    const made = runDriver(driver, ['create', path, `memory=${16 * MiB}`, `swap=${16 * MiB}`, 'pids=10']);
    expect(made.stderr).toBe('');
    const layout = await readCgroupLayout();

    // The shell says "ready" once in the cgroup, then waits for a line before allocating.
    const child = spawn(driver, ['run', path, 'sh', '-c', `echo ready; read go; exec ${driver} alloc`], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const closed = once(child, 'close');
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    expect((await lines.next()).value).toBe('ready');
    const live = await readStats(path, layout);
    expect(live.pidsCurrent).toBe(1);
    expect(live.memoryBytes).toBeGreaterThan(0);
    expect(live.memoryLimitBytes).toBe(16 * MiB);
    expect(live.oomKills).toBe(0);

    child.stdin.end('go\n');
    expect((await lines.next()).value).toBe('signal 9');
    await closed;
    const after = await readStats(path, layout);
    expect(after.oomKills).toBe(1);
    expect(after.pidsCurrent).toBe(0);
    expect(after.cpuUsageNs).toBeGreaterThan(live.cpuUsageNs);
  });
});
