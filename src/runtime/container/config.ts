/**
 * The shim's configuration file: one `key=value` per line, keys repeated for lists, so that the C
 * side needs nothing beyond getline (see src/runtime/shim/shoal-shim.c for the keys it reads).
 * A value runs to the end of its line, so values holding a newline (or NUL, which C cannot carry)
 * are refused here rather than misread there.
 */

export interface ContainerSpec {
  /** Absolute path of the root directory (a plain directory for now; overlayfs comes later). */
  rootfs: string;
  /** Program and arguments; the program is looked up on the container's PATH. */
  args: string[];
  /** `KEY=value` entries: the whole environment, nothing is inherited from the host. */
  env?: string[];
  hostname?: string;
  /** Absolute working directory inside the container; `/` by default. */
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Supplementary groups; none by default. */
  groups?: number[];
  /** A network namespace to join (e.g. /run/netns/NAME); the host's network otherwise. */
  netns?: string;
  /** Signal number the stop request is forwarded as; SIGTERM (15) by default. */
  stopSignal?: number;
  /** Seconds between the stop signal and SIGKILL; 10 by default, as Docker. */
  stopTimeoutSeconds?: number;
}

/** Where the shim writes: all absolute paths, chosen by the caller (normally one directory). */
export interface ShimFiles {
  log: string;
  exit: string;
  pid: string;
}

export function renderShimConfig(spec: ContainerSpec, files: ShimFiles): string {
  if (!spec.rootfs.startsWith('/')) throw new Error(`rootfs must be absolute: ${spec.rootfs}`);
  if (spec.args.length === 0) throw new Error('a container needs a program to run');
  if (spec.cwd !== undefined && !spec.cwd.startsWith('/')) throw new Error(`cwd must be absolute: ${spec.cwd}`);
  const lines: string[] = [];
  const add = (key: string, value: string | number | undefined): void => {
    if (value === undefined) return;
    const text = String(value);
    if (/[\n\r\0]/.test(text)) throw new Error(`${key} may not contain a newline or NUL: ${JSON.stringify(text)}`);
    lines.push(`${key}=${text}`);
  };
  add('rootfs', spec.rootfs);
  add('hostname', spec.hostname);
  add('cwd', spec.cwd);
  add('uid', spec.uid);
  add('gid', spec.gid);
  for (const group of spec.groups ?? []) add('group', group);
  for (const entry of spec.env ?? []) {
    if (!entry.includes('=')) throw new Error(`env entry without '=': ${entry}`);
    add('env', entry);
  }
  for (const arg of spec.args) add('arg', arg);
  add('netns', spec.netns);
  add('stop_signal', spec.stopSignal);
  add('stop_timeout', spec.stopTimeoutSeconds);
  add('log', files.log);
  add('exit', files.exit);
  add('pid', files.pid);
  return `${lines.join('\n')}\n`;
}
