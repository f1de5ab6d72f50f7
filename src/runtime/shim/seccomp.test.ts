/**
 * seccomp.c in real processes: testing/seccomp-driver.c, built here with seccomp.c, compiles a
 * profile written in its line format, installs the filter and makes system calls under it, so
 * the kernel itself runs every program these tests check.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDriver, SHIM_DIR } from './testing/build-driver.js';

const EPERM = 1;
const EACCES = 13;
const ENOSYS = 38;
const AF_UNIX = 1;
const AF_VSOCK = 40;
const SOCK_STREAM = 1;

let work: string;
let driver: string;
let profiles = 0;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-seccomp-'));
  driver = buildDriver(work, 'seccomp-driver', ['seccomp.c', 'testing/seccomp-driver.c']);
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Writes a profile in the driver's line format and returns its path. */
function profile(lines: string[]): string {
  const path = join(work, `profile-${++profiles}`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

interface Outcome {
  /** Each call's result: 'ok' or the errno number. */
  results: Map<string, 'ok' | number>;
  out: string;
  err: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

function run(args: string[], prefix: string[] = []): Outcome {
  const cmd = [...prefix, driver, ...args];
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
  const results = new Map<string, 'ok' | number>();
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+) (?:(ok)|errno (\d+))$/.exec(line);
    if (m) results.set(m[1]!, m[2] ? 'ok' : Number(m[3]));
  }
  return { results, out: r.stdout, err: r.stderr, code: r.status, signal: r.signal };
}

/** Makes `calls` under the profile (with no_new_privs) and returns what each got. */
function calls(lines: string[], ...names: string[]): Map<string, 'ok' | number> {
  const r = run(['run', profile(lines), ...names]);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return r.results;
}

/** What the driver needs besides the calls under test: printing the results and exiting. */
const DRIVER_CALLS = 'write,exit_group';

describe('seccomp', () => {
  it('fails mkdir with EPERM under a rule denying it, while other calls work', () => {
    const denied = join(work, 'denied');
    const allowed = join(work, 'allowed');
    const results = calls(
      ['default SCMP_ACT_ALLOW', `rule SCMP_ACT_ERRNO:${EPERM} mkdir`],
      `mkdir:${denied}:0755`,
      `mkdirat:-100:${allowed}:0755`,
      'getpid',
    );
    expect(results).toEqual(
      new Map<string, 'ok' | number>([
        [`mkdir:${denied}:0755`, EPERM],
        [`mkdirat:-100:${allowed}:0755`, 'ok'],
        ['getpid', 'ok'],
      ]),
    );
    expect(existsSync(denied)).toBe(false);
    expect(existsSync(allowed)).toBe(true);
  });

  it('allows personality(0xffffffff) by its argument and denies other values', () => {
    const results = calls(
      [
        'default SCMP_ACT_ERRNO',
        `rule SCMP_ACT_ALLOW ${DRIVER_CALLS}`,
        'rule SCMP_ACT_ALLOW personality 0:SCMP_CMP_EQ:0xffffffff',
      ],
      'personality:0xffffffff',
      'personality:0',
      'personality:0x1ffffffff',
      'personality:0xfffffffe',
    );
    expect([...results.values()]).toEqual(['ok', EPERM, EPERM, EPERM]);
  });

  it('gives the default errno to everything off the allow list, x32 calls included', () => {
    const results = calls(
      [`default SCMP_ACT_ERRNO:${EACCES}`, `rule SCMP_ACT_ALLOW ${DRIVER_CALLS},getpid,getppid`],
      'getpid',
      'getppid',
      'getuid',
      `mkdir:${join(work, 'x')}:0755`,
      'x32.getpid',
    );
    expect([...results.values()]).toEqual(['ok', 'ok', EACCES, EACCES, EACCES]);
  });

  it('compares 64-bit arguments on both halves with every operator', () => {
    // One harmless call per operator; each ignores its arguments, but the filter sees them.
    const value = 0x1_0000_0005n;
    const ops: [string, string, (a: bigint) => boolean][] = [
      ['getpid', 'SCMP_CMP_EQ', (a) => a === value],
      ['getppid', 'SCMP_CMP_NE', (a) => a !== value],
      ['getuid', 'SCMP_CMP_LT', (a) => a < value],
      ['getgid', 'SCMP_CMP_LE', (a) => a <= value],
      ['geteuid', 'SCMP_CMP_GT', (a) => a > value],
      ['getegid', 'SCMP_CMP_GE', (a) => a >= value],
      // value is the mask, the last number what the masked argument must equal.
      ['gettid', 'SCMP_CMP_MASKED_EQ', (a) => (a & 0xff_0000_00ffn) === 0x12_0000_0034n],
    ];
    const args = [
      ...[0n, 5n, 6n, 0xffff_ffffn, 0x1_0000_0004n, value, 0x1_0000_0006n, 0x2_0000_0000n],
      ...[0x12_abcd_ef34n, 0x13_0000_0034n, 2n ** 64n - 1n],
    ];
    const lines = ['default SCMP_ACT_ALLOW'];
    for (const [name, op] of ops) {
      const operands = op === 'SCMP_CMP_MASKED_EQ' ? '0xff000000ff:0x1200000034' : `0x${value.toString(16)}`;
      // On argument 1, so the index must reach the right offset. The first rule that holds decides:
      // the unconditional ERRNO answers every other value, and the ALLOW after it never runs.
      lines.push(
        `rule SCMP_ACT_ALLOW ${name} 1:${op}:${operands}`,
        `rule SCMP_ACT_ERRNO:${ENOSYS} ${name}`,
        `rule SCMP_ACT_ALLOW ${name}`,
      );
    }
    const probes = ops.flatMap(([name]) => args.map((a) => `${name}:0:0x${a.toString(16)}`));
    const results = calls(lines, ...probes);
    for (const [name, op, holds] of ops) {
      for (const a of args) {
        const arg = a.toString(16);
        expect([op, arg, results.get(`${name}:0:0x${arg}`)]).toEqual([op, arg, holds(a) ? 'ok' : ENOSYS]);
      }
    }
  });

  it('ends the process with SIGSYS for the kill and trap actions, and lets a logged call through', () => {
    for (const action of ['SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_TRAP']) {
      const path = profile(['default SCMP_ACT_ALLOW', `rule ${action} getppid`]);
      const r = run(['run', path, 'getpid', 'getppid', 'getuid']);
      expect([action, r.signal, [...r.results.keys()]]).toEqual([action, 'SIGSYS', ['getpid']]);
    }
    const logged = run(['run', profile(['default SCMP_ACT_ALLOW', 'rule SCMP_ACT_LOG getppid']), 'getppid']);
    expect(logged.results.get('getppid')).toBe('ok');
  });

  it('kills a process making a call through the 32-bit entry, whatever the rules', () => {
    const r = run(['run', profile(['default SCMP_ACT_ALLOW']), 'getpid', 'i386.getpid', 'getppid']);
    expect(r.signal).toBe('SIGSYS');
    expect([...r.results.keys()]).toEqual(['getpid']);
  });

  it('skips names this kernel does not know', () => {
    const lines = ['default SCMP_ACT_ALLOW', `rule SCMP_ACT_ERRNO:${EPERM} no_such_call,arm_fadvise64_64,getppid`];
    const results = calls(lines, 'getppid', 'getpid');
    expect([...results.values()]).toEqual([EPERM, 'ok']);
  });

  it('compiles a Docker-sized profile far under the kernel limit, and a shell runs under it', () => {
    const table = execFileSync('bash', [join(SHIM_DIR, 'syscall-table.sh')], { encoding: 'utf8' });
    const known = [...table.matchAll(/\{ "(\w+)", \d+ \}/g)].map((m) => m[1]!);
    // Docker's default: everything but what reaches past the container (its documented list),
    // some calls only with arguments it accepts, plus names of other architectures.
    const blocked = new Set([
      'acct', 'add_key', 'bpf', 'clock_adjtime', 'clock_settime', 'clone', 'clone3', 'create_module', 'delete_module',
      'finit_module', 'get_kernel_syms', 'get_mempolicy', 'init_module', 'ioperm', 'iopl', 'kcmp', 'kexec_file_load',
      'kexec_load', 'keyctl', 'lookup_dcookie', 'mbind', 'mount', 'move_pages', 'name_to_handle_at', 'nfsservctl',
      'open_by_handle_at', 'perf_event_open', 'personality', 'pivot_root', 'process_vm_readv', 'process_vm_writev',
      'ptrace', 'query_module', 'quotactl', 'reboot', 'request_key', 'set_mempolicy', 'setns', 'settimeofday', 'socket',
      'swapon', 'swapoff', 'sysfs', '_sysctl', 'umount2', 'unshare', 'uselib', 'userfaultfd', 'ustat', 'vm86',
      'vm86old',
    ]);
    const foreign = [
      'arm_fadvise64_64', 'arm_sync_file_range', 'breakpoint', 'cacheflush', 'set_tls', 'sync_file_range2',
      's390_pci_mmio_read', 's390_pci_mmio_write', 's390_runtime_instr', 'riscv_flush_icache', '_llseek', '_newselect',
      'chown32', 'fchown32', 'fstat64', 'fstatat64', 'getegid32', 'geteuid32', 'getgid32', 'getuid32', 'ugetrlimit',
    ];
    const allowed = [...known.filter((n) => !blocked.has(n)), ...foreign];
    const lines = [
      `default SCMP_ACT_ERRNO:${EPERM}`,
      `rule SCMP_ACT_ALLOW ${allowed.join(',')}`,
      `rule SCMP_ACT_ALLOW socket 0:SCMP_CMP_NE:${AF_VSOCK}`,
      ...[0, 8, 0x20000, 0x20008, 0xffffffff].map((p) => `rule SCMP_ACT_ALLOW personality 0:SCMP_CMP_EQ:${p}`),
      'rule SCMP_ACT_ALLOW clone 0:SCMP_CMP_MASKED_EQ:0x7e020000:0',
      `rule SCMP_ACT_ERRNO:${ENOSYS} clone3`,
    ];
    const path = profile(lines);
    expect(allowed.length).toBeGreaterThan(330);

    const compiled = run(['compile', path]);
    expect(compiled.code).toBe(0);
    const instructions = Number(/^instructions (\d+)$/.exec(compiled.out.trim())?.[1]);
    process.stdout.write(`seccomp: ${allowed.length + 2} names compile to ${instructions} instructions\n`);
    expect(instructions).toBeLessThan(4096);

    const r = run([
      ...['run', path, 'getpid', 'personality:8', 'personality:1'],
      ...[`socket:${AF_UNIX}:${SOCK_STREAM}:0`, `socket:${AF_VSOCK}:${SOCK_STREAM}:0`],
      ...['clone3:0:0', 'mount:none:/:none:0:0', 'x32.getpid', '--', 'sh', '-c', 'echo shell $(echo works)'],
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect([...r.results.values()]).toEqual(['ok', 'ok', EPERM, 'ok', EPERM, ENOSYS, EPERM, EPERM]);
    expect(r.out).toMatch(/^shell works$/m);
  });

  it('reaches every call in a program too long for 8-bit jumps', () => {
    // An argument rule on every call: the search's jumps span more than 255 instructions and
    // go through long jumps. Calls from low to high numbers pass unless argument 0 is the marker.
    const table = execFileSync('bash', [join(SHIM_DIR, 'syscall-table.sh')], { encoding: 'utf8' });
    const marker = 0x5ecc;
    const lines = [
      `default SCMP_ACT_ERRNO:${EACCES}`,
      ...[...table.matchAll(/\{ "(\w+)", \d+ \}/g)].map((m) => `rule SCMP_ACT_ALLOW ${m[1]} 0:SCMP_CMP_NE:${marker}`),
    ];
    const path = profile(lines);
    const instructions = Number(/^instructions (\d+)$/.exec(run(['compile', path]).out.trim())?.[1]);
    expect(instructions).toBeGreaterThan(1000);
    expect(instructions).toBeLessThan(4096);

    const probes = ['sched_yield', 'getpid', 'getppid', 'gettid', 'getrandom', 'futex_waitv'];
    const results = calls(lines, ...probes.flatMap((name) => [`${name}:0`, `${name}:${marker}`]));
    const EINVAL = 22; // futex_waitv with no futexes, past the filter
    expect([...results.values()]).toEqual(probes.flatMap((name) => [name === 'futex_waitv' ? EINVAL : 'ok', EACCES]));
  });

  it('installs without no_new_privs only with CAP_SYS_ADMIN', () => {
    const path = profile(['default SCMP_ACT_ALLOW', `rule SCMP_ACT_ERRNO:${EPERM} getppid`]);
    const root = run(['run', '--no-nnp', path, 'getppid']);
    expect(root.results.get('getppid')).toBe(EPERM);

    // As root without CAP_SYS_ADMIN in the bounding set, the exec'd driver has it nowhere.
    const withoutSysAdmin = ['setpriv', '--bounding-set', '-sys_admin', '--'];
    const dropped = run(['run', '--no-nnp', path, 'getppid'], withoutSysAdmin);
    expect(dropped.code).toBe(1);
    expect(dropped.err).toMatch(/install: Permission denied/);
    const withNnp = run(['run', path, 'getppid'], withoutSysAdmin);
    expect(withNnp.results.get('getppid')).toBe(EPERM);
  });

  it('refuses unknown action and operator names, argument indexes past 5 and errnos past 16 bits', () => {
    const refused = (lines: string[]) => {
      const r = run(['compile', profile(lines)]);
      expect(r.code).toBe(1);
      return r.err.trim();
    };
    expect(refused(['default SCMP_ACT_BOGUS'])).toBe('unknown action SCMP_ACT_BOGUS');
    expect(refused(['default SCMP_ACT_ALLOW', 'rule SCMP_ACT_NOTIFY getpid'])).toBe('unknown action SCMP_ACT_NOTIFY');
    expect(refused(['default SCMP_ACT_ALLOW', 'rule SCMP_ACT_ALLOW getpid 0:SCMP_CMP_ABOUT:1'])).toBe(
      'unknown operator SCMP_CMP_ABOUT',
    );
    expect(refused(['default SCMP_ACT_ALLOW', 'rule SCMP_ACT_ERRNO getpid 6:SCMP_CMP_EQ:1'])).toBe(
      'seccomp: rule 0: argument index 6 is not 0 to 5',
    );
    expect(refused(['default SCMP_ACT_ERRNO:65536'])).toBe('seccomp: default errnoRet 65536 is over 65535');
  });
});
