/**
 * iproute2 (`ip`, `bridge`) run in a chosen network namespace, one command at a time, as a batch
 * on stdin (one process for many changes), or with `-j` for output parsed as JSON. Only the JSON
 * fields this package reads are typed.
 */
import { CommandError, runCommand } from './command.js';

/**
 * A network namespace: a name as `ip netns` gives them (a file under /run/netns), a path
 * (`/proc/PID/ns/net`, any bind mount of one), or undefined for this process's own.
 */
export type Netns = string | undefined;

/** What a namespace name or path may hold: nothing a shell, an option parser or a batch line would read differently. */
const NETNS_TEXT = /^[A-Za-z0-9_.@:+/][A-Za-z0-9_.@:+/-]*$/;

export function checkNetns(ns: string, what: string): void {
  if (!NETNS_TEXT.test(ns)) throw new Error(`invalid ${what} "${ns}": use a name under /run/netns or a path without spaces`);
}

/** `ip -n` and `bridge -n` take only names; a namespace given as a path is entered with nsenter. */
function inNetns(ns: Netns, tool: 'ip' | 'bridge', args: readonly string[]): string[] {
  if (ns === undefined) return [tool, ...args];
  if (ns.includes('/')) return ['nsenter', `--net=${ns}`, tool, ...args];
  return [tool, '-n', ns, ...args];
}

export function ip(ns: Netns, args: readonly string[]): Promise<string> {
  return runCommand(inNetns(ns, 'ip', args));
}

export function bridge(ns: Netns, args: readonly string[]): Promise<string> {
  return runCommand(inNetns(ns, 'bridge', args));
}

/** Many commands in one process; the first failure stops the batch and names its line. */
export async function ipBatch(ns: Netns, lines: readonly string[]): Promise<void> {
  if (lines.length > 0) await runCommand(inNetns(ns, 'ip', ['-batch', '-']), lines.join('\n') + '\n');
}

/**
 * Deletes links, each one that is already gone counting as deleted: a veth disappears on its own
 * when the container's namespace at its other end goes, which may happen at any moment.
 */
export async function deleteLinks(ns: Netns, names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  try {
    await runCommand(inNetns(ns, 'ip', ['-force', '-batch', '-']), names.map((n) => `link del ${n}\n`).join(''));
  } catch (err) {
    const lines = err instanceof CommandError ? err.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('Command failed')) : [];
    if (lines.length === 0 || !lines.every((l) => /^Cannot find device/.test(l))) throw err;
  }
}

export async function bridgeBatch(ns: Netns, lines: readonly string[]): Promise<void> {
  if (lines.length > 0) await runCommand(inNetns(ns, 'bridge', ['-batch', '-']), lines.join('\n') + '\n');
}

export async function ipJson<T>(ns: Netns, args: readonly string[]): Promise<T[]> {
  return parseJsonList<T>(await ip(ns, ['-j', ...args]));
}

export async function bridgeJson<T>(ns: Netns, args: readonly string[]): Promise<T[]> {
  return parseJsonList<T>(await bridge(ns, ['-j', ...args]));
}

function parseJsonList<T>(text: string): T[] {
  return text.trim() === '' ? [] : (JSON.parse(text) as T[]);
}

export interface IpLink {
  ifname: string;
  mtu: number;
  address?: string;
  master?: string;
  ifalias?: string;
  flags?: string[];
  linkinfo?: { info_kind?: string; info_data?: VxlanInfo };
}

export interface VxlanInfo {
  id?: number;
  local?: string;
  port?: number;
  learning?: boolean;
  proxy?: boolean;
}

export interface IpAddrLink extends IpLink {
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

export interface IpNeighbour {
  dst: string;
  lladdr?: string;
  state?: string[];
}

export interface BridgeFdbEntry {
  mac: string;
  dst?: string;
  master?: string;
  flags?: string[];
  state?: string;
}
