/**
 * shoal's default seccomp profile: an allow-list in the spirit of Docker's default. Everything not
 * listed fails with EPERM. What is listed is what ordinary programs need (files, memory, processes
 * and threads, signals, time, sockets, System V and POSIX IPC); what is left out either reaches past
 * the container's namespaces into the shared kernel (keyrings, kernel modules, kexec, swap, the
 * clock, accounting, BPF, perf, userfaultfd, io_uring's large attack surface) or is only useful
 * with a capability the container does not have by default, in which case it is allowed exactly
 * when that capability is kept (mount and namespaces with SYS_ADMIN, ptrace helpers with
 * SYS_PTRACE, and so on).
 *
 * Names are the x86_64 and generic 64-bit ones; the runtime builds the filter for its native
 * architecture and skips names its kernel headers do not know, so newer calls may be listed early.
 * 32-bit compatibility calls are not allowed at all (the runtime's filter kills other arches).
 */
import type { CapabilityName } from './capabilities.js';
import type { OciSeccomp, OciSyscallRule } from './types.js';

const EPERM = 1;
const ENOSYS = 38;

const PROCESSES = [
  'execve', 'execveat', 'exit', 'exit_group', 'fork', 'vfork', 'wait4', 'waitid', 'kill', 'tkill', 'tgkill',
  'getpid', 'getppid', 'gettid', 'getpgid', 'setpgid', 'getpgrp', 'getsid', 'setsid',
  'pidfd_open', 'pidfd_send_signal', 'process_mrelease', 'restart_syscall',
  'set_tid_address', 'set_robust_list', 'get_robust_list', 'rseq', 'arch_prctl', 'get_thread_area',
  'set_thread_area', 'modify_ldt', 'prctl', 'seccomp', 'landlock_create_ruleset', 'landlock_add_rule',
  'landlock_restrict_self', 'uname', 'sysinfo', 'getcpu', 'getrandom', 'umask', 'times', 'getrusage',
  'getrlimit', 'setrlimit', 'prlimit64', 'getpriority', 'setpriority',
  // Since 4.8 ptrace cannot be used to get around seccomp, so tracing one's own children is fine.
  'ptrace', 'process_vm_readv', 'process_vm_writev',
];

/** Changing identity is still bounded by the capabilities the process holds. */
const IDENTITY = [
  'getuid', 'geteuid', 'getgid', 'getegid', 'getresuid', 'getresgid', 'getgroups', 'setuid', 'setgid',
  'setreuid', 'setregid', 'setresuid', 'setresgid', 'setfsuid', 'setfsgid', 'setgroups', 'capget', 'capset',
];

const SCHEDULING = [
  'sched_yield', 'sched_getaffinity', 'sched_setaffinity', 'sched_getattr', 'sched_setattr', 'sched_getparam',
  'sched_setparam', 'sched_getscheduler', 'sched_setscheduler', 'sched_get_priority_max',
  'sched_get_priority_min', 'sched_rr_get_interval', 'ioprio_get', 'ioprio_set',
];

const SIGNALS = [
  'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'rt_sigpending', 'rt_sigsuspend', 'rt_sigtimedwait',
  'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'sigaltstack', 'signalfd', 'signalfd4', 'pause', 'alarm',
];

/** Reading clocks and timers; setting the system clock needs SYS_TIME (below). adjtimex only reads without it. */
const TIME = [
  'clock_gettime', 'clock_getres', 'clock_nanosleep', 'nanosleep', 'gettimeofday', 'time', 'adjtimex',
  'clock_adjtime', 'getitimer', 'setitimer', 'timer_create', 'timer_delete', 'timer_gettime', 'timer_settime',
  'timer_getoverrun', 'timerfd_create', 'timerfd_gettime', 'timerfd_settime',
];

const MEMORY = [
  'brk', 'mmap', 'munmap', 'mremap', 'mprotect', 'madvise', 'mincore', 'msync', 'mlock', 'mlock2', 'mlockall',
  'munlock', 'munlockall', 'remap_file_pages', 'membarrier', 'memfd_create', 'memfd_secret', 'pkey_alloc',
  'pkey_free', 'pkey_mprotect', 'map_shadow_stack', 'mseal',
];

const FILE_IO = [
  'open', 'openat', 'openat2', 'creat', 'close', 'close_range', 'read', 'write', 'readv', 'writev', 'pread64',
  'pwrite64', 'preadv', 'pwritev', 'preadv2', 'pwritev2', 'lseek', 'dup', 'dup2', 'dup3', 'fcntl', 'flock',
  'ioctl', 'pipe', 'pipe2', 'sendfile', 'splice', 'tee', 'vmsplice', 'copy_file_range', 'readahead',
  'fadvise64', 'fallocate', 'ftruncate', 'truncate', 'fsync', 'fdatasync', 'sync', 'syncfs', 'sync_file_range',
  'cachestat',
];

/** Names and metadata; permission checks (and MKNOD for device nodes) still apply. */
const FILE_METADATA = [
  'stat', 'fstat', 'lstat', 'newfstatat', 'statx', 'statfs', 'fstatfs', 'access', 'faccessat', 'faccessat2',
  'getcwd', 'chdir', 'fchdir', 'mkdir', 'mkdirat', 'rmdir', 'rename', 'renameat', 'renameat2', 'link', 'linkat',
  'symlink', 'symlinkat', 'unlink', 'unlinkat', 'readlink', 'readlinkat', 'chmod', 'fchmod', 'fchmodat',
  'fchmodat2', 'chown', 'fchown', 'lchown', 'fchownat', 'utime', 'utimes', 'utimensat', 'futimesat', 'mknod',
  'mknodat', 'getdents', 'getdents64', 'name_to_handle_at', 'getxattr', 'lgetxattr', 'fgetxattr', 'getxattrat',
  'setxattr', 'lsetxattr', 'fsetxattr', 'setxattrat', 'listxattr', 'llistxattr', 'flistxattr', 'listxattrat',
  'removexattr', 'lremovexattr', 'fremovexattr', 'removexattrat',
];

/** io_uring is left out: it has been a steady source of kernel exploits and bypasses this filter. */
const WAITING = [
  'select', 'pselect6', 'poll', 'ppoll', 'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_wait',
  'epoll_pwait', 'epoll_pwait2', 'eventfd', 'eventfd2', 'inotify_init', 'inotify_init1', 'inotify_add_watch',
  'inotify_rm_watch', 'fanotify_mark', 'futex', 'futex_waitv', 'io_setup', 'io_destroy', 'io_submit',
  'io_cancel', 'io_getevents', 'io_pgetevents',
];

/** The IPC namespace isolates both kinds. */
const IPC = [
  'msgget', 'msgsnd', 'msgrcv', 'msgctl', 'semget', 'semop', 'semtimedop', 'semctl', 'shmget', 'shmat', 'shmdt',
  'shmctl', 'mq_open', 'mq_unlink', 'mq_timedsend', 'mq_timedreceive', 'mq_notify', 'mq_getsetattr',
];

/** socket itself is a rule of its own below. */
const SOCKETS = [
  'socketpair', 'bind', 'listen', 'accept', 'accept4', 'connect', 'getsockname', 'getpeername', 'getsockopt',
  'setsockopt', 'sendto', 'recvfrom', 'sendmsg', 'recvmsg', 'sendmmsg', 'recvmmsg', 'shutdown',
];

/** Calls allowed only while the container keeps the capability the kernel would check anyway. */
const BY_CAPABILITY: readonly [CapabilityName, readonly string[]][] = [
  [
    'CAP_SYS_ADMIN',
    [
      'clone', 'clone3', 'unshare', 'setns', 'mount', 'umount2', 'mount_setattr', 'move_mount', 'open_tree',
      'fsopen', 'fsconfig', 'fsmount', 'fspick', 'pivot_root', 'sethostname', 'setdomainname', 'quotactl',
      'quotactl_fd', 'fanotify_init', 'lookup_dcookie', 'syslog', 'bpf', 'perf_event_open',
    ],
  ],
  ['CAP_SYS_CHROOT', ['chroot']],
  ['CAP_SYS_BOOT', ['reboot']],
  ['CAP_SYS_MODULE', ['init_module', 'finit_module', 'delete_module']],
  ['CAP_SYS_PACCT', ['acct']],
  ['CAP_SYS_PTRACE', ['kcmp', 'pidfd_getfd', 'process_madvise']],
  ['CAP_SYS_RAWIO', ['iopl', 'ioperm']],
  ['CAP_SYS_TIME', ['settimeofday', 'clock_settime']],
  ['CAP_SYS_TTY_CONFIG', ['vhangup']],
  ['CAP_SYS_NICE', ['mbind', 'get_mempolicy', 'set_mempolicy', 'set_mempolicy_home_node']],
  ['CAP_SYSLOG', ['syslog']],
  ['CAP_BPF', ['bpf']],
  ['CAP_PERFMON', ['perf_event_open']],
  ['CAP_DAC_READ_SEARCH', ['open_by_handle_at']],
];

/** Every namespace flag clone(2) can carry (CLONE_NEWTIME shares the exit-signal byte there, so unshare only). */
const CLONE_NEW_NAMESPACES =
  0x00020000 /* NEWNS */ | 0x04000000 /* NEWUTS */ | 0x08000000 /* NEWIPC */ | 0x10000000 /* NEWUSER */ |
  0x20000000 /* NEWPID */ | 0x40000000 /* NEWNET */ | 0x02000000; /* NEWCGROUP */

const AF_VSOCK = 40;

/**
 * Execution domains a program may pick: the plain Linux one and the 32-bit and old-uname variants
 * some build tools ask for, and 0xffffffff, which only queries. The others (READ_IMPLIES_EXEC,
 * ADDR_NO_RANDOMIZE, ...) switch off protections.
 */
const PERSONALITIES = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff];

/** The profile for a container holding `caps` (as they will be after add/drop). */
export function defaultSeccompProfile(caps: readonly CapabilityName[]): OciSeccomp {
  const held = new Set(caps);
  const allowed = [PROCESSES, IDENTITY, SCHEDULING, SIGNALS, TIME, MEMORY, FILE_IO, FILE_METADATA, WAITING, IPC, SOCKETS].flat();
  for (const [cap, names] of BY_CAPABILITY) if (held.has(cap)) allowed.push(...names);
  const syscalls: OciSyscallRule[] = [{ names: [...new Set(allowed)], action: 'SCMP_ACT_ALLOW' }];

  // vsock reaches the hypervisor or host, which no network namespace separates.
  syscalls.push({ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] });
  for (const persona of PERSONALITIES) {
    syscalls.push({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: persona, op: 'SCMP_CMP_EQ' }] });
  }
  if (!held.has('CAP_SYS_ADMIN')) {
    // Threads and processes, but no new namespaces: (flags & mask) == 0.
    syscalls.push({
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: CLONE_NEW_NAMESPACES, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
    // clone3 passes its flags in memory, out of the filter's reach: ENOSYS makes libc fall back to clone.
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  return { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: EPERM, syscalls };
}
