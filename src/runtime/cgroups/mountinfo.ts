/**
 * Where the cgroup hierarchies are mounted and where this process sits in each, from
 * /proc/self/mountinfo and /proc/self/cgroup, by the same rules as the runtime's cgroup.c (see
 * this folder's README): v1 whenever memory, cpu or pids is mounted as a v1 controller (on a hybrid
 * host the unified cgroup2 hierarchy comes along, holding no controllers), otherwise v2.
 */
import { readFile } from 'node:fs/promises';

/** One line of /proc/PID/mountinfo (proc(5)). */
export interface MountinfoEntry {
  mountId: number;
  parentId: number;
  majorMinor: string;
  /** The directory of the filesystem that is mounted here ("/" unless a part of it is). */
  root: string;
  mountPoint: string;
  options: string[];
  /** "shared:N", "master:N", ... */
  optionalFields: string[];
  fsType: string;
  source: string;
  superOptions: string[];
}

export interface CgroupHierarchy {
  version: 1 | 2;
  /** v1: the controllers it holds (and "name=X" for a named one); v2: none listed (see cgroup.controllers). */
  controllers: string[];
  mountPoint: string;
  /** This process's cgroup below mountPoint: "" or "/a/b". */
  ownPath: string;
}

export interface CgroupLayout {
  version: 1 | 2;
  /** v1: every mounted v1 hierarchy, then the unified one if mounted; v2: the unified one. */
  hierarchies: CgroupHierarchy[];
}

/** mountinfo escapes space, tab, newline and backslash in paths as \ooo. */
function unescape(field: string): string {
  return field.replace(/\\([0-3][0-7][0-7])/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function parseMountinfo(text: string): MountinfoEntry[] {
  const entries: MountinfoEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (dash < 0 || fields.length < dash + 4) continue;
    entries.push({
      mountId: Number(fields[0]),
      parentId: Number(fields[1]),
      majorMinor: fields[2] as string,
      root: unescape(fields[3] as string),
      mountPoint: unescape(fields[4] as string),
      options: (fields[5] as string).split(','),
      optionalFields: fields.slice(6, dash),
      fsType: fields[dash + 1] as string,
      source: unescape(fields[dash + 2] as string),
      superOptions: (fields[dash + 3] as string).split(','),
    });
  }
  return entries;
}

interface SelfLine {
  /** Empty for the cgroup2 line ("0::/path"). */
  controllers: string[];
  path: string;
}

function parseSelfCgroup(text: string): SelfLine[] {
  const lines: SelfLine[] = [];
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const list = line.slice(first + 1, second);
    lines.push({ controllers: list === '' ? [] : list.split(','), path: line.slice(second + 1) });
  }
  return lines;
}

/** The process's cgroup below a mount whose root is `root`, or undefined if the mount does not hold it. */
function ownBelowRoot(path: string, root: string): string | undefined {
  if (root === '/') return path === '/' ? '' : path;
  if (path !== root && !path.startsWith(`${root}/`)) return undefined;
  return path.slice(root.length);
}

const LIMITED = ['memory', 'cpu', 'pids'];

export function findCgroupLayout(mountinfo: string, selfCgroup: string): CgroupLayout {
  const lines = parseSelfCgroup(selfCgroup);
  const used = new Set<SelfLine>();
  const v1: CgroupHierarchy[] = [];
  let unified: CgroupHierarchy | undefined;
  for (const m of parseMountinfo(mountinfo)) {
    const v2 = m.fsType === 'cgroup2';
    if (!v2 && m.fsType !== 'cgroup') continue;
    if (v2 && unified) continue;
    // A hierarchy mounted twice (bind mounts) is taken once: its /proc/self/cgroup line is used up.
    const holds = (l: SelfLine): boolean =>
      v2 ? l.controllers.length === 0 : l.controllers.length > 0 && l.controllers.every((c) => m.superOptions.includes(c));
    const line = lines.find((l) => !used.has(l) && holds(l));
    if (!line) continue;
    const ownPath = ownBelowRoot(line.path, m.root);
    if (ownPath === undefined) continue;
    used.add(line);
    const { controllers } = line;
    const hierarchy: CgroupHierarchy = { version: v2 ? 2 : 1, controllers, mountPoint: m.mountPoint, ownPath };
    if (v2) unified = hierarchy;
    else v1.push(hierarchy);
  }
  if (v1.some((h) => h.controllers.some((c) => LIMITED.includes(c)))) {
    return { version: 1, hierarchies: unified ? [...v1, unified] : v1 };
  }
  if (!unified) throw new Error('no cgroup hierarchy holding memory, cpu or pids is mounted');
  return { version: 2, hierarchies: [unified] };
}

export interface LayoutFiles {
  mountinfo?: string;
  selfCgroup?: string;
}

/** The layout this process sees (the files can be pointed at fakes). */
export async function readCgroupLayout(files: LayoutFiles = {}): Promise<CgroupLayout> {
  const [mountinfo, selfCgroup] = await Promise.all([
    readFile(files.mountinfo ?? '/proc/self/mountinfo', 'utf8'),
    readFile(files.selfCgroup ?? '/proc/self/cgroup', 'utf8'),
  ]);
  return findCgroupLayout(mountinfo, selfCgroup);
}

/**
 * A container's directory in each hierarchy: an absolute cgroupsPath is taken from each
 * hierarchy's mount point, a relative one from this process's own cgroup there. ".." is refused.
 */
export function cgroupDirs(layout: CgroupLayout, cgroupsPath: string): { hierarchy: CgroupHierarchy; dir: string }[] {
  const parts = cgroupsPath.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new Error(`cgroups path ${cgroupsPath}: ".." is not allowed`);
  if (parts.length === 0) throw new Error(`cgroups path "${cgroupsPath}" names no cgroup`);
  const absolute = cgroupsPath.startsWith('/');
  return layout.hierarchies.map((hierarchy) => ({
    hierarchy,
    dir: `${hierarchy.mountPoint}${absolute ? '' : hierarchy.ownPath}/${parts.join('/')}`,
  }));
}
