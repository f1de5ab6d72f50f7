/**
 * cgroup.c through its test driver (testing/cgroup-driver.c), as root.
 *
 * - This machine's real hierarchies (cgroup v1, each controller mounted on its own, with the
 *   unified cgroup2 mount of a hybrid host): every cgroup is made under /<name>, name being
 *   shoal-test-<random>, and everything under that name is removed after the tests, failed or not.
 * - v2 on the real kernel: the driver is given a mountinfo holding only the cgroup2 line, so it
 *   works in the unified hierarchy (no controllers there: creation, joining, removal, errors).
 * - v2 limits: a fake cgroupfs tree in a temp dir, described by a fake mountinfo (a mount point
 *   with an escaped space, optional fields) and a fake /proc/self/cgroup. The tree is made
 *   beforehand with the files the kernel would give each directory; the driver's mkdir finds them
 *   there, and what it wrote is read back.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../common/proc-stat.js';
import { readCgroupLayout, type CgroupLayout } from '../cgroups/mountinfo.js';
import { buildCgroupDriver, runDriver, type DriverResult } from '../cgroups/testing/driver.js';
import { removeTestCgroups, testCgroupName } from '../cgroups/testing/test-cgroups.js';

const MiB = 1024 * 1024;
const name = testCgroupName();
let work: string;
let driver: string;
let layout: CgroupLayout;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'shoal-cgroup-'));
  driver = buildCgroupDriver(work);
  layout = await readCgroupLayout();
});

afterAll(async () => {
  await removeTestCgroups(name);
  if (work) rmSync(work, { recursive: true, force: true });
});

function drive(...args: string[]): DriverResult {
  return runDriver(driver, args);
}

/** Runs the driver and returns its stdout, failing the test with its stderr if it failed. */
function ok(...args: string[]): string {
  const r = drive(...args);
  if (r.status !== 0) throw new Error(`cgroup-driver ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface Created {
  version: string;
  dirs: string[];
  memory?: string;
}

function parseCgroup(out: string): Created {
  const lines = out.trim().split('\n');
  return {
    version: lines[0] as string,
    dirs: lines.filter((l) => l.startsWith('dir ')).map((l) => l.slice(4)),
    memory: lines.find((l) => l.startsWith('memory '))?.slice(7),
  };
}

const read = (dir: string, file: string): string => readFileSync(join(dir, file), 'utf8').trim();

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The directory of `path` in the v1 hierarchy holding `controller`. */
function dirOf(created: Created, controller: string): string {
  const h = layout.hierarchies.find((x) => x.controllers.includes(controller));
  const dir = created.dirs.find((d) => h && d.startsWith(`${h.mountPoint}/`));
  if (!dir) throw new Error(`no ${controller} directory in ${created.dirs.join(', ')}`);
  return dir;
}

describe('cgroup.c on this machine’s cgroup v1 hierarchies', () => {
  beforeAll(() => {
    // These tests read v1 files; the v2 paths are covered below.
    expect(layout.version).toBe(1);
  });

  it('makes a directory in every mounted hierarchy and writes the limits', () => {
    const path = `/${name}/limits`;
    const cg = parseCgroup(
      ok('create', path, `memory=${64 * MiB}`, `swap=${64 * MiB}`, 'quota=50000', 'period=100000', 'shares=512', 'pids=10'),
    );
    expect(cg.version).toBe('v1');
    expect(cg.dirs).toEqual(layout.hierarchies.map((h) => `${h.mountPoint}${path}`));
    expect(cg.dirs.length).toBeGreaterThan(3);
    const memory = dirOf(cg, 'memory');
    expect(cg.memory).toBe(memory);
    expect(read(memory, 'memory.limit_in_bytes')).toBe(String(64 * MiB));
    expect(read(memory, 'memory.memsw.limit_in_bytes')).toBe(String(64 * MiB));
    const cpu = dirOf(cg, 'cpu');
    expect(read(cpu, 'cpu.cfs_quota_us')).toBe('50000');
    expect(read(cpu, 'cpu.cfs_period_us')).toBe('100000');
    expect(read(cpu, 'cpu.shares')).toBe('512');
    expect(read(dirOf(cg, 'pids'), 'pids.max')).toBe('10');
    // A new cpuset cgroup starts with no CPUs or memory nodes; it gets its parent's.
    const cpuset = dirOf(cg, 'cpuset');
    expect(read(cpuset, 'cpuset.cpus')).toBe(read(join(cpuset, '..'), 'cpuset.cpus'));
    expect(read(cpuset, 'cpuset.cpus')).not.toBe('');
    expect(read(cpuset, 'cpuset.mems')).toBe(read(join(cpuset, '..'), 'cpuset.mems'));
  });

  it('puts a joined process in every hierarchy, the unified one too', () => {
    const path = `/${name}/join`;
    ok('create', path);
    const out = ok('run', path, 'cat', '/proc/self/cgroup').trim().split('\n');
    expect(out.slice(-2)).toEqual(['exit 0', 'oom_kills 0']);
    const lines = out.slice(0, -2);
    expect(lines).toHaveLength(layout.hierarchies.length);
    for (const line of lines) expect(line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1)).toBe(path);
  });

  it('resolves a relative path below this process’s own cgroup in each hierarchy', () => {
    const cg = parseCgroup(ok('create', `${name}/relative`));
    expect(cg.dirs).toEqual(layout.hierarchies.map((h) => `${h.mountPoint}${h.ownPath}/${name}/relative`));
    // This machine runs its processes in a nested memory cgroup, so the test sees the difference.
    const memory = layout.hierarchies.find((h) => h.controllers.includes('memory'));
    expect(memory?.ownPath).not.toBe('');
    ok('remove', `${name}/relative`);
    for (const dir of cg.dirs) expect(exists(dir)).toBe(false);
  });

  it('has an allocation past the memory limit OOM-killed and counts it', () => {
    const path = `/${name}/oom`;
    ok('create', path, `memory=${32 * MiB}`, `swap=${32 * MiB}`);
    const out = ok('run', path, driver, 'alloc');
    expect(out).toBe('signal 9\noom_kills 1\n');
    const cg = parseCgroup(ok('open', path));
    expect(read(cg.memory as string, 'memory.oom_control')).toMatch(/^oom_kill 1$/m);
  });

  it('refuses forks past pids.max', () => {
    const path = `/${name}/pids`;
    ok('create', path, 'pids=4');
    // The forking process is one of the four.
    expect(ok('run', path, driver, 'fork', '10')).toBe(
      'forked 3\nerror Resource temporarily unavailable\nexit 0\noom_kills 0\n',
    );
  });

  it('removal kills what is left, children of children too, and leaves nothing', () => {
    const path = `/${name}/busy`;
    const cg = parseCgroup(ok('create', path));
    const out = ok('remove-busy', path, 'sh', '-c', 'sleep 100 & echo $!; wait').trim().split('\n');
    expect(out[1]).toBe('signal 9');
    const grandchild = Number(out[0]?.replace('started ', ''));
    expect(grandchild).toBeGreaterThan(0);
    expect(isAlive(grandchild)).toBe(false);
    for (const dir of cg.dirs) expect(exists(dir)).toBe(false);
    // Parents stay.
    for (const h of layout.hierarchies) expect(exists(`${h.mountPoint}/${name}`)).toBe(true);
  });

  it('opens an existing cgroup without making anything, and refuses a missing one', () => {
    const path = `/${name}/open`;
    const created = ok('create', path);
    expect(ok('open', path)).toBe(created);
    const missing = drive('open', `/${name}/missing`);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`no cgroup /${name}/missing`);
    for (const h of layout.hierarchies) expect(exists(`${h.mountPoint}/${name}/missing`)).toBe(false);
  });

  it('names the file and value the kernel refused, and removes what it made', () => {
    const path = `/${name}-refused/a/b`;
    const r = drive('create', path, 'quota=500');
    expect(r.status).toBe(1);
    const cpu = layout.hierarchies.find((h) => h.controllers.includes('cpu'));
    expect(r.stderr.trim()).toBe(`cannot write 500 to ${cpu?.mountPoint}${path}/cpu.cfs_quota_us: Invalid argument`);
    for (const h of layout.hierarchies) expect(exists(`${h.mountPoint}/${name}-refused`)).toBe(false);
  });

  it('refuses a path that climbs out with ".."', () => {
    const r = drive('create', `/${name}/../escape`);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('".." is not allowed');
  });
});

describe('cgroup.c on the real unified (v2) hierarchy', () => {
  let mountinfo: string;
  let unified: string;

  beforeAll(() => {
    const line = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => l.includes(' - cgroup2 '));
    if (!line) throw new Error('no cgroup2 mount on this machine');
    unified = line.split(' ')[4] as string;
    mountinfo = join(work, 'mountinfo-v2');
    writeFileSync(mountinfo, `${line}\n`);
  });

  const v2 = (...args: string[]): DriverResult => drive('--mountinfo', mountinfo, ...args);

  it('makes, joins and removes a cgroup there', () => {
    const path = `/${name}/v2`;
    const created = v2('create', path);
    expect(created.stdout).toBe(`v2\ndir ${unified}${path}\nmemory ${unified}${path}\n`);
    const out = v2('run', path, 'cat', '/proc/self/cgroup');
    expect(out.stdout).toMatch(new RegExp(`^0::${path}$`, 'm'));
    const busy = v2('remove-busy', path, 'sh', '-c', 'sleep 100 & echo $!; wait');
    expect(busy.stdout).toMatch(/\nsignal 9\n$/);
    expect(exists(`${unified}${path}`)).toBe(false);
  });

  it('fails naming the file when a limit’s controller is not enabled, leaving nothing', () => {
    const path = `/${name}-v2-refused/x`;
    const r = v2('create', path, `memory=${64 * MiB}`);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`cannot write ${64 * MiB} to ${unified}${path}/memory.max: No such file or directory`);
    expect(exists(`${unified}/${name}-v2-refused`)).toBe(false);
  });
});

describe('cgroup.c v2 limits in a fake cgroupfs tree', () => {
  let root: string;
  let fake: string[];

  /** A directory as cgroup2 shows it: what it offers its children, what is enabled, the limit files. */
  function cgroupDir(dir: string, controllers: string, enabled = ''): void {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cgroup.controllers'), `${controllers}\n`);
    writeFileSync(join(dir, 'cgroup.subtree_control'), enabled);
    for (const f of ['cgroup.procs', 'memory.max', 'memory.swap.max', 'cpu.max', 'cpu.weight', 'pids.max']) {
      writeFileSync(join(dir, f), '');
    }
  }

  beforeAll(() => {
    // A space in the mount point, escaped as \040 in mountinfo.
    root = join(work, 'fake cgroup');
    const mountinfo = join(work, 'mountinfo-fake');
    const self = join(work, 'self-cgroup-fake');
    writeFileSync(
      mountinfo,
      [
        '22 1 0:20 / / rw,relatime shared:1 - ext4 /dev/vda rw',
        // A named v1 hierarchy alone does not make the host v1: memory, cpu and pids are in v2.
        '40 31 0:37 / /nonexistent/systemd rw,relatime shared:9 - cgroup cgroup rw,name=systemd',
        `41 22 0:38 / ${root.replaceAll(' ', '\\040')} rw,nosuid,nodev shared:10 master:2 - cgroup2 cgroup2 rw,nsdelegate`,
      ].join('\n'),
    );
    writeFileSync(self, '1:name=systemd:/\n0::/outer\n');
    fake = ['--mountinfo', mountinfo, '--self-cgroup', self];
  });

  it('writes memory.max, memory.swap.max, cpu.max, cpu.weight, pids.max; enables controllers below its cgroup', () => {
    cgroupDir(root, 'cpuset cpu io memory pids', 'cpu io memory pids');
    cgroupDir(join(root, 'outer'), 'cpu io memory pids', 'memory');
    cgroupDir(join(root, 'outer', 'c'), 'cpu memory pids');
    const limits = ['quota=50000', 'period=100000', 'shares=1024', 'pids=20'];
    const r = drive(...fake, 'create', 'c', `memory=${256 * MiB}`, `swap=${384 * MiB}`, ...limits);
    expect(r.stderr).toBe('');
    const dir = join(root, 'outer', 'c');
    expect(r.stdout).toBe(`v2\ndir ${dir}\nmemory ${dir}\n`);
    expect(read(dir, 'memory.max')).toBe(String(256 * MiB));
    // OCI's swap limit counts memory plus swap; v2's counts swap alone.
    expect(read(dir, 'memory.swap.max')).toBe(String(128 * MiB));
    expect(read(dir, 'cpu.max')).toBe('50000 100000');
    // runc's mapping of shares onto weights: 1 + ((1024 - 2) * 9999) / 262142.
    expect(read(dir, 'cpu.weight')).toBe('39');
    expect(read(dir, 'pids.max')).toBe('20');
    // Only what was offered and not yet enabled; the root, above this process's cgroup, untouched.
    expect(read(join(root, 'outer'), 'cgroup.subtree_control')).toBe('+cpu +pids');
    expect(read(root, 'cgroup.subtree_control')).toBe('cpu io memory pids');
    expect(read(dir, 'cgroup.subtree_control')).toBe('');
  });

  it('enables controllers at every level of an absolute path, and maps the edges of shares and cpu.max', () => {
    cgroupDir(root, 'cpuset cpu io memory pids');
    cgroupDir(join(root, 'a'), 'cpu memory pids');
    cgroupDir(join(root, 'a', 'b'), 'memory pids');
    cgroupDir(join(root, 'a', 'b', 'c'), 'pids');
    ok(...fake, 'create', '/a/b/c', 'period=250000', 'shares=262144');
    const dir = join(root, 'a', 'b', 'c');
    expect(read(root, 'cgroup.subtree_control')).toBe('+cpu +memory +pids');
    expect(read(join(root, 'a'), 'cgroup.subtree_control')).toBe('+cpu +memory +pids');
    expect(read(join(root, 'a', 'b'), 'cgroup.subtree_control')).toBe('+memory +pids');
    expect(read(dir, 'cpu.max')).toBe('max 250000');
    expect(read(dir, 'cpu.weight')).toBe('10000');
    expect(read(dir, 'memory.max')).toBe('');
    ok(...fake, 'create', '/a/b/c', 'quota=20000', 'shares=2');
    expect(read(dir, 'cpu.max')).toBe('20000');
    expect(read(dir, 'cpu.weight')).toBe('1');
  });

  it('refuses a swap limit without a memory limit, or below it, before making anything', () => {
    const none = drive(...fake, 'create', '/swap-only', `swap=${64 * MiB}`);
    expect(none.status).toBe(1);
    expect(none.stderr.trim()).toBe(`a memory+swap limit (${64 * MiB}) needs a memory limit`);
    const below = drive(...fake, 'create', '/swap-below', `memory=${64 * MiB}`, `swap=${32 * MiB}`);
    expect(below.stderr.trim()).toBe(`the memory+swap limit (${32 * MiB}) is below the memory limit (${64 * MiB})`);
    expect(readdirSync(root).filter((n) => n.startsWith('swap'))).toEqual([]);
  });

  it('reads OOM kills from memory.events', () => {
    const dir = join(root, 'outer', 'events');
    cgroupDir(dir, '');
    writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 7\noom 3\noom_kill 2\noom_group_kill 0\n');
    expect(ok(...fake, 'run', 'events', 'true')).toBe('exit 0\noom_kills 2\n');
  });
});
