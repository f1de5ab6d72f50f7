/**
 * What shoal asks of one container, in Docker's terms (`--cap-add`, `--memory`, `--cpus`,
 * `--ulimit`, ...), and the checks it must pass before oci/build-config.ts turns it into an OCI
 * config.json. Every bad field is reported, each on its own line naming the field, in one error.
 */
import { unknownCapabilities } from './oci/capabilities.js';
import { signalNumber } from './signals.js';
import { MAX_ID, userSpecProblem } from './user.js';

/** An overlayfs root: read-only layers under a writable one, mounted by the runtime on `rootfs`. */
export interface OverlayLayers {
  /** Absolute layer directories, top layer first (the image store lists them bottom first). */
  lower: string[];
  /** Where the container's writes land. */
  upper: string;
  /** overlayfs's scratch directory, empty, on the same filesystem as `upper`. */
  work: string;
}

export interface LogSettings {
  /** Absolute path of the JSON-lines log; rotated copies are `path.1`, `path.2`, ... */
  path: string;
  /** Rotate once a write would take the file past this many bytes; never when absent. */
  maxSizeBytes?: number;
  /** Files kept, the current one included (Docker's max-file); 1 by default. */
  maxFiles?: number;
}

/** A file or directory of the host bound into the container (Docker's `--mount type=bind`). */
export interface BindMount {
  /** Absolute path on the host; it must exist when the container is created. */
  source: string;
  /** Absolute path inside the container; made (empty) if the image lacks it. */
  destination: string;
  readOnly?: boolean;
}

/** A resource limit by Docker's name (`nofile`, `nproc`, ...); -1 means unlimited. */
export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

export interface ContainerSpec {
  /** Absolute root directory: the root itself, or, with `overlay`, the empty directory it is mounted on. */
  rootfs: string;
  overlay?: OverlayLayers;
  readOnlyRootfs?: boolean;
  /** Program and arguments; the program is looked up on the container's PATH. */
  args: string[];
  /** `KEY=value` entries: the whole environment, nothing is inherited from the host. */
  env?: string[];
  hostname?: string;
  /** Absolute working directory inside the container; `/` by default. */
  cwd?: string;
  /**
   * Docker's --user: `uid`, `uid:gid`, `name`, `name:group`, `uid:group` or `name:gid`, names
   * looked up in the container's own /etc/passwd and /etc/group (user.ts); root when absent.
   */
  user?: string;
  /** Supplementary groups on top of the user's own, as Docker's --group-add with gids. */
  groups?: number[];
  /**
   * 'none' (the default): a network namespace of its own with only loopback, up, as Docker's
   * `--network none`; { join: path }: a prepared one to join (e.g. /run/netns/NAME); 'host': the
   * host's network, no isolation.
   */
  network?: 'none' | 'host' | { join: string };
  /**
   * The agent's DNS resolver socket: the supervisor relays the container's queries to
   * 127.0.0.11:53 there (`org.shoal.dns.relay`); needs a network namespace ('none' or joined).
   */
  dnsRelay?: string;
  /** Bind mounts, after Docker's default mounts (e.g. the container's /etc/resolv.conf). */
  mounts?: BindMount[];
  /** What a stop sends first: a name (`TERM`, `SIGUSR1`) or number; SIGTERM by default. */
  stopSignal?: number | string;
  /** Seconds between the stop signal and SIGKILL; 10 by default, as Docker. */
  stopTimeoutSeconds?: number;
  /** Where stdout and stderr go; without it the container shares the runtime's own stdio. */
  log?: LogSettings;
  /** Capabilities on top of Docker's default set, or ALL; with or without `CAP_`, any case. */
  capAdd?: string[];
  /** Capabilities taken from the default set, or ALL. */
  capDrop?: string[];
  noNewPrivileges?: boolean;
  /** shoal's default allow-list (the default) or no filter at all. */
  seccomp?: 'default' | 'unconfined';
  /** At least 6 MiB, as Docker. */
  memoryBytes?: number;
  /** Memory plus swap, as Docker's --memory-swap: -1 unlimited; twice memoryBytes when absent. */
  memorySwapBytes?: number;
  /** Docker's --cpus in billionths of a CPU: 1_500_000_000 is one and a half CPUs. */
  nanoCpus?: number;
  /** Relative CPU weight, 2 to 262144 (1024 is the kernel's default). */
  cpuShares?: number;
  pidsLimit?: number;
  ulimits?: Ulimit[];
  /** The container's cgroup (OCI linux.cgroupsPath); the runtime uses /shoal/<id> when absent. */
  cgroupsPath?: string;
  /** Extra config.json annotations; the `org.shoal.` prefix is the runtime's own. */
  annotations?: Record<string, string>;
}

/** Every problem of a spec, one per line, each starting with the field's name. */
export class InvalidContainerSpecError extends Error {
  override name = 'InvalidContainerSpecError';
  constructor(readonly problems: string[]) {
    super(`invalid container spec:\n  ${problems.join('\n  ')}`);
  }
}

/** The minimum Docker accepts; below it a container can hardly start. */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;
/** 0.01 CPU: the kernel's smallest CFS quota, 1 ms per 100 ms period. */
export const MIN_NANO_CPUS = 10_000_000;
const ULIMIT_NAMES = new Set([
  'as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio',
  'rttime', 'sigpending', 'stack',
]);
export const RESERVED_ANNOTATION_PREFIX = 'org.shoal.';

/** The problems of `spec` (empty when it is fine). */
export function containerSpecProblems(spec: ContainerSpec): string[] {
  const problems: string[] = [];
  const bad = (field: string, why: string): void => void problems.push(`${field}: ${why}`);
  const absolute = (field: string, path: string | undefined): void => {
    if (path === undefined) return;
    if (!path.startsWith('/')) bad(field, `must be an absolute path, not ${JSON.stringify(path)}`);
    else if (path.includes('\0')) bad(field, 'may not contain NUL');
  };
  const integer = (field: string, value: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    if (value === undefined) return;
    if (!Number.isInteger(value) || value < min || value > max) bad(field, `must be an integer from ${min} to ${max}, not ${value}`);
  };

  absolute('rootfs', spec.rootfs);
  if (spec.overlay) checkOverlay(spec.overlay, bad, absolute);

  if (spec.args.length === 0) bad('args', 'a container needs a program to run');
  spec.args.forEach((arg, i) => arg.includes('\0') && bad(`args[${i}]`, 'may not contain NUL'));
  (spec.env ?? []).forEach((entry, i) => {
    if (entry.indexOf('=') < 1) bad(`env[${i}]`, `must be KEY=value, not ${JSON.stringify(entry)}`);
    else if (entry.includes('\0')) bad(`env[${i}]`, 'may not contain NUL');
  });
  // The kernel takes up to 64 bytes; the characters are those of a DNS label, and dots.
  if (spec.hostname !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9_.-]{0,62}[A-Za-z0-9])?$/.test(spec.hostname)) {
    bad('hostname', `not a valid host name: ${JSON.stringify(spec.hostname)}`);
  }
  absolute('cwd', spec.cwd);
  const userProblem = spec.user === undefined ? undefined : userSpecProblem(spec.user);
  if (userProblem) bad('user', userProblem);
  (spec.groups ?? []).forEach((g, i) => integer(`groups[${i}]`, g, 0, MAX_ID));
  if (typeof spec.network === 'object') absolute('network.join', spec.network.join);
  else if (spec.network !== undefined && spec.network !== 'none' && spec.network !== 'host') {
    bad('network', `must be 'none', 'host' or { join: path }, not ${JSON.stringify(spec.network)}`);
  }
  absolute('dnsRelay', spec.dnsRelay);
  if (spec.dnsRelay !== undefined && spec.network === 'host') bad('dnsRelay', "needs a network namespace of the container's own, not the host's");
  (spec.mounts ?? []).forEach((m, i) => {
    absolute(`mounts[${i}].source`, m.source);
    absolute(`mounts[${i}].destination`, m.destination);
    if (m.destination.split('/').includes('..')) bad(`mounts[${i}].destination`, `may not contain '..': ${JSON.stringify(m.destination)}`);
  });
  if (spec.stopSignal !== undefined && signalNumber(spec.stopSignal) === undefined) bad('stopSignal', `unknown signal ${JSON.stringify(spec.stopSignal)}`);
  integer('stopTimeoutSeconds', spec.stopTimeoutSeconds, 0);

  if (spec.log) {
    absolute('log.path', spec.log.path);
    integer('log.maxSizeBytes', spec.log.maxSizeBytes, 1);
    integer('log.maxFiles', spec.log.maxFiles, 1);
    // As Docker's json-file: without a size there is never a rotation to keep files from.
    if ((spec.log.maxFiles ?? 1) > 1 && spec.log.maxSizeBytes === undefined) bad('log.maxFiles', 'needs log.maxSizeBytes');
  }

  for (const field of ['capAdd', 'capDrop'] as const) {
    for (const name of unknownCapabilities(spec[field] ?? [])) bad(field, `unknown capability ${JSON.stringify(name)}`);
  }
  if (spec.seccomp !== undefined && spec.seccomp !== 'default' && spec.seccomp !== 'unconfined') {
    bad('seccomp', `must be "default" or "unconfined", not ${JSON.stringify(spec.seccomp)}`);
  }

  integer('memoryBytes', spec.memoryBytes, MIN_MEMORY_BYTES);
  if (spec.memorySwapBytes !== undefined) {
    if (spec.memoryBytes === undefined) bad('memorySwapBytes', 'needs memoryBytes (swap is counted with memory)');
    else if (spec.memorySwapBytes !== -1) integer('memorySwapBytes', spec.memorySwapBytes, spec.memoryBytes);
  }
  integer('nanoCpus', spec.nanoCpus, MIN_NANO_CPUS);
  integer('cpuShares', spec.cpuShares, 2, 262_144);
  integer('pidsLimit', spec.pidsLimit, 1);
  checkUlimits(spec.ulimits ?? [], bad);

  if (spec.cgroupsPath !== undefined && (spec.cgroupsPath === '' || spec.cgroupsPath.includes('\0') || spec.cgroupsPath.split('/').includes('..'))) {
    bad('cgroupsPath', `must name a cgroup without '..', not ${JSON.stringify(spec.cgroupsPath)}`);
  }
  for (const [key, value] of Object.entries(spec.annotations ?? {})) {
    if (key === '' || key.startsWith(RESERVED_ANNOTATION_PREFIX)) bad(`annotations[${JSON.stringify(key)}]`, `empty or reserved (${RESERVED_ANNOTATION_PREFIX}*) key`);
    else if (`${key}${value}`.includes('\0')) bad(`annotations[${JSON.stringify(key)}]`, 'may not contain NUL');
  }
  return problems;
}

export function checkContainerSpec(spec: ContainerSpec): void {
  const problems = containerSpecProblems(spec);
  if (problems.length > 0) throw new InvalidContainerSpecError(problems);
}

function checkOverlay(overlay: OverlayLayers, bad: (field: string, why: string) => void, absolute: (field: string, path: string) => void): void {
  if (overlay.lower.length === 0) bad('overlay.lower', 'needs at least one layer');
  // The runtime passes them to the kernel as "lowerdir=a:b,upperdir=...": those separators cannot be escaped there.
  const paths: [string, string][] = [...overlay.lower.map((p, i): [string, string] => [`overlay.lower[${i}]`, p]), ['overlay.upper', overlay.upper], ['overlay.work', overlay.work]];
  for (const [field, path] of paths) {
    absolute(field, path);
    if (/[:,]/.test(path)) bad(field, `may not contain ':' or ',': ${JSON.stringify(path)}`);
  }
}

function checkUlimits(ulimits: Ulimit[], bad: (field: string, why: string) => void): void {
  const seen = new Set<string>();
  ulimits.forEach((u, i) => {
    const field = `ulimits[${i}]`;
    if (!ULIMIT_NAMES.has(u.name)) return bad(field, `unknown ulimit ${JSON.stringify(u.name)} (one of ${[...ULIMIT_NAMES].join(', ')})`);
    if (seen.has(u.name)) return bad(field, `${u.name} given twice`);
    seen.add(u.name);
    const valid = (n: number): boolean => n === -1 || (Number.isSafeInteger(n) && n >= 0);
    if (!valid(u.soft) || !valid(u.hard)) return bad(field, `${u.name}: soft and hard must be integers from 0, or -1 for unlimited`);
    const rank = (n: number): number => (n === -1 ? Infinity : n);
    if (rank(u.soft) > rank(u.hard)) bad(field, `${u.name}: soft limit ${u.soft} is above the hard limit ${u.hard}`);
  });
}
