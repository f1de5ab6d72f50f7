/**
 * Who a container's process runs as, from Docker's `--user`: `uid`, `uid:gid`, `name`,
 * `name:group`, `uid:group` or `name:gid`, with names looked up in the container's own
 * /etc/passwd and /etc/group as Docker does (runc's user lookup is the reference for behaviour):
 *
 * - A number is a uid whether /etc/passwd has it or not; a name must be there.
 * - Without a group, the gid is the user's passwd entry's (0 without one), and the supplementary
 *   groups are those whose /etc/group entry lists the user's name.
 * - With a group, a name from /etc/group or a number, that is the gid, and there are no
 *   supplementary groups.
 * - The first matching line wins; a line that does not parse is skipped.
 * - No user (absent or "") is uid 0, looked up the same way, as Docker's default.
 */
import { readRootFiles, type RootView } from './root-file.js';

/** The highest uid or gid: 2^32-1 is (uid_t)-1, "no id", to the kernel. */
export const MAX_ID = 2 ** 32 - 2;

export interface ContainerUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

/** A user or group name that the container's files do not have. */
export class UserLookupError extends Error {
  override name = 'UserLookupError';
}

interface UserSpec {
  user: string;
  group?: string;
}

const NUMBER = /^[0-9]+$/;

/** `user` split into its user and group; throws on a malformed one, naming what is wrong. */
export function parseUserSpec(user: string): UserSpec {
  const parts = user.split(':');
  if (parts.length > 2 || parts.some((p) => p === '') || user.includes('\0') || user.includes('\n')) {
    throw new Error(`must be USER[:GROUP], each a name or a number, not ${JSON.stringify(user)}`);
  }
  for (const part of parts) {
    if (NUMBER.test(part) && Number(part) > MAX_ID) throw new Error(`id ${part} is out of range (0 to ${MAX_ID})`);
  }
  return parts.length === 2 ? { user: parts[0] as string, group: parts[1] } : { user: parts[0] as string };
}

/** Why `user` is malformed, or undefined when it is fine. */
export function userSpecProblem(user: string): string | undefined {
  if (user === '') return undefined;
  try {
    parseUserSpec(user);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Resolves `user` against the container's own files (found as root-file.ts does). */
export async function resolveUser(user: string | undefined, root: RootView): Promise<ContainerUser> {
  const spec = parseUserSpec(user || '0');
  const numericUser = NUMBER.test(spec.user);
  const numericGroup = spec.group !== undefined && NUMBER.test(spec.group);
  // A file is read only when the answer can depend on it: "uid:gid" reads neither.
  const paths = [...(!numericUser || spec.group === undefined ? ['/etc/passwd'] : []), ...(!numericGroup ? ['/etc/group'] : [])];
  const texts = await readRootFiles(root, paths);
  const text = (path: string): string | undefined => texts[paths.indexOf(path)];
  return resolveUserIn(spec, { passwd: text('/etc/passwd'), group: text('/etc/group') });
}

/** The lookup itself, on the files' text (undefined: the container has no such file). */
export function resolveUserIn(spec: UserSpec, files: { passwd?: string; group?: string }): ContainerUser {
  const numericUser = NUMBER.test(spec.user);
  const entry = passwdEntries(files.passwd).find((e) => (numericUser ? e.uid === Number(spec.user) : e.name === spec.user));
  if (!entry && !numericUser) throw new UserLookupError(`unable to find user ${spec.user}: no matching entries in passwd file`);
  const uid = entry?.uid ?? Number(spec.user);

  if (spec.group !== undefined) {
    const gid = NUMBER.test(spec.group) ? Number(spec.group) : groupEntries(files.group).find((g) => g.name === spec.group)?.gid;
    if (gid === undefined) throw new UserLookupError(`unable to find group ${spec.group}: no matching entries in group file`);
    return { uid, gid, additionalGids: [] };
  }
  const additionalGids = entry ? groupEntries(files.group).filter((g) => g.members.includes(entry.name)).map((g) => g.gid) : [];
  return { uid, gid: entry?.gid ?? 0, additionalGids: [...new Set(additionalGids)] };
}

/** The lines of a passwd(5) or group(5) file, split into fields; blank lines left out. */
function lines(text: string | undefined): string[][] {
  return (text ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => line.split(':'));
}

function id(field: string | undefined): number | undefined {
  return field !== undefined && NUMBER.test(field) && Number(field) <= MAX_ID ? Number(field) : undefined;
}

/** name:password:uid:gid:gecos:home:shell */
function passwdEntries(text: string | undefined): { name: string; uid: number; gid: number }[] {
  return lines(text).flatMap(([name, , uid, gid]) => {
    const u = id(uid);
    const g = id(gid);
    return name && u !== undefined && g !== undefined ? [{ name, uid: u, gid: g }] : [];
  });
}

/** name:password:gid:member,member,... */
function groupEntries(text: string | undefined): { name: string; gid: number; members: string[] }[] {
  return lines(text).flatMap(([name, , gid, members]) => {
    const g = id(gid);
    return name && g !== undefined ? [{ name, gid: g, members: members ? members.split(',') : [] }] : [];
  });
}
