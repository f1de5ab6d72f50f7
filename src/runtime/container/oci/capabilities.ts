/**
 * Linux capabilities by name, and the set a container gets: Docker's default list adjusted by
 * `--cap-add` / `--cap-drop` the way Docker adjusts it. Names are accepted in any case, with or
 * without the `CAP_` prefix; "ALL" stands for every capability the kernel knows.
 */

/** Every capability by number (the index), as in linux/capability.h; CHECKPOINT_RESTORE came in 5.9. */
const ALL_NAMES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT',
  'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
] as const;

export type CapabilityName = (typeof ALL_NAMES)[number];

/** The highest capability number this module knows. */
export const LAST_KNOWN_CAPABILITY = ALL_NAMES.length - 1;

/**
 * What Docker leaves a container by default: enough to behave like root over its own files and
 * processes (ownership, permissions, setuid, kill, chroot, low ports, raw sockets for ping), nothing
 * that reaches the host (no SYS_ADMIN, NET_ADMIN, SYS_MODULE, SYS_PTRACE, ...).
 */
export const DEFAULT_CAPABILITIES: readonly CapabilityName[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** `net_admin`, `NET_ADMIN` and `CAP_NET_ADMIN` all name CAP_NET_ADMIN; undefined when none does. */
export function capabilityByName(name: string): CapabilityName | undefined {
  const upper = name.toUpperCase();
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  return (ALL_NAMES as readonly string[]).includes(full) ? (full as CapabilityName) : undefined;
}

/** The argument names that are neither a capability nor ALL, as given. */
export function unknownCapabilities(names: readonly string[]): string[] {
  return names.filter((n) => !isAll(n) && capabilityByName(n) === undefined);
}

/**
 * The container's capabilities, in kernel order, as Docker computes them: with ALL added, every
 * capability but the dropped ones; with ALL dropped, only the added ones; otherwise the defaults
 * less the dropped, plus the added (an add wins over a drop of the same name). `lastCap` is the
 * running kernel's highest capability (/proc/sys/kernel/cap_last_cap): ALL means only those it knows.
 * Names must have been checked with unknownCapabilities.
 */
export function containerCapabilities(add: readonly string[], drop: readonly string[], lastCap = LAST_KNOWN_CAPABILITY): CapabilityName[] {
  const resolve = (names: readonly string[]): Set<CapabilityName> => new Set(names.filter((n) => !isAll(n)).map((n) => capabilityByName(n)!));
  const added = resolve(add);
  const dropped = resolve(drop);
  const supported = ALL_NAMES.slice(0, Math.min(lastCap, LAST_KNOWN_CAPABILITY) + 1);
  let kept: Set<CapabilityName>;
  if (add.some(isAll)) kept = new Set(supported.filter((c) => !dropped.has(c)));
  else if (drop.some(isAll)) kept = added;
  else kept = new Set([...DEFAULT_CAPABILITIES.filter((c) => !dropped.has(c)), ...added]);
  return ALL_NAMES.filter((c) => kept.has(c));
}

const isAll = (name: string): boolean => name.toUpperCase() === 'ALL';
