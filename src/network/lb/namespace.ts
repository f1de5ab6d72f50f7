/**
 * A command line run inside a network namespace with nsenter (nft and sysctl have no `-n` of their
 * own): a name means /run/netns/<name>, anything with a '/' is a path (/proc/PID/ns/net, a bind
 * mount), undefined is this process's own namespace.
 */
import { checkNetns, type Netns } from '../overlay/iproute.js';

export function inNamespace(ns: Netns, argv: readonly string[]): string[] {
  if (ns === undefined) return [...argv];
  checkNetns(ns, 'network namespace');
  return ['nsenter', `--net=${ns.includes('/') ? ns : `/run/netns/${ns}`}`, ...argv];
}
