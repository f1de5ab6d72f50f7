import { describe, expect, it } from 'vitest';
import { containerCapabilities } from './capabilities.js';
import { defaultSeccompProfile } from './seccomp.js';
import type { OciSeccomp } from './types.js';

const allowedPlainly = (profile: OciSeccomp): string[] => profile.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names);
const rulesFor = (profile: OciSeccomp, name: string) => profile.syscalls.filter((r) => r.names.includes(name));

describe('defaultSeccompProfile', () => {
  const profile = defaultSeccompProfile(containerCapabilities([], []));
  const allowed = allowedPlainly(profile);

  it('fails everything not listed with EPERM', () => {
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(profile.defaultErrnoRet).toBe(1);
  });

  it('allows what ordinary programs and the runtime need up to exec, each name once', () => {
    for (const name of ['read', 'write', 'openat', 'mmap', 'execve', 'exit_group', 'futex', 'rt_sigaction', 'wait4', 'getrandom', 'setuid', 'setgroups', 'capset', 'prctl', 'connect', 'epoll_wait', 'chroot']) {
      expect(allowed).toContain(name);
    }
    expect(new Set(allowed).size).toBe(allowed.length);
  });

  it('leaves out what reaches the shared kernel, and what needs a capability the container lacks', () => {
    for (const name of ['keyctl', 'add_key', 'request_key', 'kexec_load', 'init_module', 'swapon', 'reboot', 'bpf', 'perf_event_open', 'userfaultfd', 'io_uring_setup', 'mount', 'umount2', 'unshare', 'setns', 'pivot_root', 'clock_settime', 'acct']) {
      expect(allowed).not.toContain(name);
    }
  });

  it('allows clone without namespace flags only, and sends clone3 to ENOSYS so libc falls back to clone', () => {
    expect(rulesFor(profile, 'clone')).toEqual([
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
    ]);
    expect(rulesFor(profile, 'clone3')).toEqual([{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);
  });

  it('allows only the harmless personalities, and no vsock sockets', () => {
    expect(rulesFor(profile, 'personality').map((r) => r.args?.[0]?.value)).toEqual([0, 8, 0x20000, 0x20008, 0xffffffff]);
    expect(rulesFor(profile, 'socket')).toEqual([{ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }] }]);
  });

  it('opens what a kept capability covers: SYS_ADMIN brings mount, namespaces and a plain clone', () => {
    const admin = defaultSeccompProfile(containerCapabilities(['SYS_ADMIN', 'SYS_TIME'], []));
    const adminAllowed = allowedPlainly(admin);
    for (const name of ['mount', 'umount2', 'unshare', 'setns', 'clone', 'clone3', 'sethostname', 'clock_settime', 'settimeofday']) {
      expect(adminAllowed).toContain(name);
    }
    expect(rulesFor(admin, 'clone')).toHaveLength(1);
    expect(rulesFor(admin, 'clone3')).toHaveLength(1);
  });

  it('closes chroot when SYS_CHROOT is dropped', () => {
    expect(allowedPlainly(defaultSeccompProfile(containerCapabilities([], ['SYS_CHROOT'])))).not.toContain('chroot');
  });
});
