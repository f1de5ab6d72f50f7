/**
 * A ContainerSpec as an OCI runtime config.json, with Docker's defaults: its capability set, mounts,
 * masked and read-only paths, namespaces and (our own) default seccomp profile; bind mounts after
 * those. shoal's settings the OCI spec has no field for (log, stop signal and timeout, overlay
 * layers, the DNS relay's socket) ride in annotations, as
 * the runtime reads them (see src/runtime/shim/spec.h).
 */
import { checkContainerSpec, type ContainerSpec } from '../config.js';
import { signalNumber } from '../signals.js';
import type { ContainerUser } from '../user.js';
import { containerCapabilities, LAST_KNOWN_CAPABILITY } from './capabilities.js';
import { DEFAULT_MOUNTS, MASKED_PATHS, READONLY_PATHS } from './defaults.js';
import { defaultSeccompProfile } from './seccomp.js';
import type { OciConfig, OciLinux, OciProcess, OciResources, OciRlimit } from './types.js';

export const OCI_VERSION = '1.0.2';

/** The annotation names the runtime reads. */
export const ANNOTATIONS = {
  logPath: 'org.shoal.log.path',
  logMaxSize: 'org.shoal.log.max-size',
  logMaxFiles: 'org.shoal.log.max-files',
  stopSignal: 'org.shoal.stop-signal',
  stopTimeout: 'org.shoal.stop-timeout',
  rootfsLower: 'org.shoal.rootfs.lower',
  rootfsUpper: 'org.shoal.rootfs.upper',
  rootfsWork: 'org.shoal.rootfs.work',
  dnsRelay: 'org.shoal.dns.relay',
} as const;

/** The CFS period Docker's --cpus is applied over, in microseconds. */
export const CPU_PERIOD_US = 100_000;
/** RLIM_INFINITY, which is 2^64-1 and so beyond a JS number. */
const RLIM_INFINITY = 2n ** 64n - 1n;

export interface BuildOptions {
  /** The running kernel's highest capability (/proc/sys/kernel/cap_last_cap), for ALL. */
  lastCap?: number;
  /**
   * Who the process runs as: spec.user resolved against the container's files (resolveUser, which
   * this builder, reading no file, leaves to its caller). Required with spec.user; uid 0 and gid 0
   * when both are absent.
   */
  user?: ContainerUser;
}

/** Throws InvalidContainerSpecError listing every bad field. */
export function buildOciConfig(spec: ContainerSpec, options: BuildOptions = {}): OciConfig {
  checkContainerSpec(spec);
  const config: OciConfig = {
    ociVersion: OCI_VERSION,
    process: buildProcess(spec, options),
    root: spec.readOnlyRootfs ? { path: spec.rootfs, readonly: true } : { path: spec.rootfs },
    mounts: [
      ...DEFAULT_MOUNTS.map((m) => ({ ...m, options: [...(m.options ?? [])] })),
      ...(spec.mounts ?? []).map((m) => ({ destination: m.destination, type: 'bind', source: m.source, options: ['rbind', 'nosuid', 'nodev', ...(m.readOnly ? ['ro'] : [])] })),
    ],
    linux: buildLinux(spec, options),
  };
  if (spec.hostname !== undefined) config.hostname = spec.hostname;
  const annotations = buildAnnotations(spec);
  if (Object.keys(annotations).length > 0) config.annotations = annotations;
  return config;
}

/** config.json's text: JSON, with the uint64 limits that need it written as exact integers. */
export function renderOciConfig(config: OciConfig): string {
  // JSON.stringify cannot write a bigint: mark it as a string no real value can be (NUL is refused
  // everywhere in a spec), then unquote it.
  const text = JSON.stringify(config, (_key, value: unknown) => (typeof value === 'bigint' ? `\0bigint:${value}` : value), 2);
  return `${text.replace(/"\\u0000bigint:([0-9]+)"/g, '$1')}\n`;
}

function buildProcess(spec: ContainerSpec, options: BuildOptions): OciProcess {
  const user = processUser(spec, options.user);
  const caps = containerCapabilities(spec.capAdd ?? [], spec.capDrop ?? [], options.lastCap ?? LAST_KNOWN_CAPABILITY);
  const process: OciProcess = {
    terminal: false,
    user,
    args: [...spec.args],
    env: [...(spec.env ?? [])],
    cwd: spec.cwd ?? '/',
    capabilities: {
      bounding: caps,
      // Root holds them; another user gets them only through a file's capabilities or setuid, as
      // on any Linux system. Inheritable stays empty (CVE-2022-24769: it leaked them across exec).
      effective: user.uid === 0 ? caps : [],
      permitted: user.uid === 0 ? caps : [],
      inheritable: [],
      ambient: [],
    },
  };
  if (spec.ulimits?.length) process.rlimits = spec.ulimits.map(rlimit);
  if (spec.noNewPrivileges) process.noNewPrivileges = true;
  return process;
}

function processUser(spec: ContainerSpec, resolved: ContainerUser | undefined): OciProcess['user'] {
  if (!resolved && spec.user) throw new Error(`user ${JSON.stringify(spec.user)} must be resolved against the container's files first (resolveUser)`);
  const { uid, gid, additionalGids } = resolved ?? { uid: 0, gid: 0, additionalGids: [] };
  const groups = [...new Set([...additionalGids, ...(spec.groups ?? [])])];
  return groups.length > 0 ? { uid, gid, additionalGids: groups } : { uid, gid };
}

function rlimit(u: { name: string; soft: number; hard: number }): OciRlimit {
  const value = (n: number): number | bigint => (n === -1 ? RLIM_INFINITY : n);
  return { type: `RLIMIT_${u.name.toUpperCase()}`, soft: value(u.soft), hard: value(u.hard) };
}

/** The network entry of linux.namespaces: none for the host's network, one without a path for a new one. */
function networkNamespace(network: NonNullable<ContainerSpec['network']>): OciLinux['namespaces'] {
  if (network === 'host') return [];
  return [network === 'none' ? { type: 'network' } : { type: 'network', path: network.join }];
}

function buildLinux(spec: ContainerSpec, options: BuildOptions): OciLinux {
  const linux: OciLinux = {
    namespaces: [
      { type: 'pid' },
      { type: 'ipc' },
      { type: 'uts' },
      { type: 'mount' },
      ...networkNamespace(spec.network ?? 'none'),
    ],
    maskedPaths: [...MASKED_PATHS],
    readonlyPaths: [...READONLY_PATHS],
  };
  if (spec.cgroupsPath !== undefined) linux.cgroupsPath = spec.cgroupsPath;
  const resources = buildResources(spec);
  if (resources) linux.resources = resources;
  if ((spec.seccomp ?? 'default') === 'default') {
    const caps = containerCapabilities(spec.capAdd ?? [], spec.capDrop ?? [], options.lastCap ?? LAST_KNOWN_CAPABILITY);
    linux.seccomp = defaultSeccompProfile(caps);
  }
  return linux;
}

function buildResources(spec: ContainerSpec): OciResources | undefined {
  const resources: OciResources = {};
  if (spec.memoryBytes !== undefined) {
    // Docker's default: as much swap as memory, so memory plus swap is twice the limit.
    resources.memory = { limit: spec.memoryBytes, swap: spec.memorySwapBytes ?? 2 * spec.memoryBytes };
  }
  if (spec.nanoCpus !== undefined || spec.cpuShares !== undefined) {
    resources.cpu = {};
    if (spec.cpuShares !== undefined) resources.cpu.shares = spec.cpuShares;
    if (spec.nanoCpus !== undefined) {
      resources.cpu.quota = Math.round((spec.nanoCpus * CPU_PERIOD_US) / 1e9);
      resources.cpu.period = CPU_PERIOD_US;
    }
  }
  if (spec.pidsLimit !== undefined) resources.pids = { limit: spec.pidsLimit };
  return Object.keys(resources).length > 0 ? resources : undefined;
}

function buildAnnotations(spec: ContainerSpec): Record<string, string> {
  const annotations: Record<string, string> = { ...spec.annotations };
  if (spec.log) {
    annotations[ANNOTATIONS.logPath] = spec.log.path;
    if (spec.log.maxSizeBytes !== undefined) annotations[ANNOTATIONS.logMaxSize] = String(spec.log.maxSizeBytes);
    if (spec.log.maxFiles !== undefined) annotations[ANNOTATIONS.logMaxFiles] = String(spec.log.maxFiles);
  }
  if (spec.stopSignal !== undefined) annotations[ANNOTATIONS.stopSignal] = String(signalNumber(spec.stopSignal));
  if (spec.stopTimeoutSeconds !== undefined) annotations[ANNOTATIONS.stopTimeout] = String(spec.stopTimeoutSeconds);
  if (spec.dnsRelay !== undefined) annotations[ANNOTATIONS.dnsRelay] = spec.dnsRelay;
  if (spec.overlay) {
    annotations[ANNOTATIONS.rootfsLower] = spec.overlay.lower.join(':');
    annotations[ANNOTATIONS.rootfsUpper] = spec.overlay.upper;
    annotations[ANNOTATIONS.rootfsWork] = spec.overlay.work;
  }
  return annotations;
}
