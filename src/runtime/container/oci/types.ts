/**
 * The part of the OCI runtime configuration (config.json) shoal writes, as the runtime spec names
 * it (https://github.com/opencontainers/runtime-spec: config.md, config-linux.md). Fields shoal
 * never sets are left out rather than typed as optional.
 */

export interface OciConfig {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly?: boolean };
  hostname?: string;
  mounts: OciMount[];
  linux: OciLinux;
  annotations?: Record<string, string>;
}

export interface OciProcess {
  terminal: false;
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities: OciCapabilities;
  rlimits?: OciRlimit[];
  noNewPrivileges?: boolean;
}

export interface OciCapabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable: string[];
  ambient: string[];
}

/** `hard` and `soft` are uint64: RLIM_INFINITY (2^64-1) does not fit a JS number, hence bigint. */
export interface OciRlimit {
  type: string;
  hard: number | bigint;
  soft: number | bigint;
}

export interface OciMount {
  destination: string;
  type?: string;
  source: string;
  options?: string[];
}

export type OciNamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup';

export interface OciLinux {
  namespaces: { type: OciNamespaceType; path?: string }[];
  cgroupsPath?: string;
  resources?: OciResources;
  maskedPaths: string[];
  readonlyPaths: string[];
  seccomp?: OciSeccomp;
}

export interface OciResources {
  /** Bytes; swap is memory plus swap, -1 for unlimited. */
  memory?: { limit?: number; swap?: number };
  /** quota and period in microseconds. */
  cpu?: { shares?: number; quota?: number; period?: number };
  pids?: { limit: number };
}

export type SeccompAction = 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO' | 'SCMP_ACT_KILL_PROCESS' | 'SCMP_ACT_KILL_THREAD' | 'SCMP_ACT_TRAP' | 'SCMP_ACT_LOG';

export type SeccompOp = 'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ' | 'SCMP_CMP_GE' | 'SCMP_CMP_GT' | 'SCMP_CMP_MASKED_EQ';

export interface OciSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  syscalls: OciSyscallRule[];
}

export interface OciSyscallRule {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  /** All must hold. For MASKED_EQ, `value` is the mask and `valueTwo` what the masked argument must equal. */
  args?: { index: number; value: number; valueTwo?: number; op: SeccompOp }[];
}
