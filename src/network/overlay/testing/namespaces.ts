/**
 * Network namespaces for tests: "nodes" joined by a veth pair as their underlay, and "containers"
 * that are bare namespaces. Every name starts with the test's tag, so one call removes them all,
 * sandboxes included, whatever state a failed test left. Nothing here touches the namespace the
 * test runs in: packets stay between the namespaces the test made.
 */
import { randomBytes } from 'node:crypto';
import { runCommand } from '../command.js';
import { ip, ipBatch } from '../iproute.js';
import { listNetns } from '../sandbox.js';

/** A short tag unique to this run, for namespace names and sandbox prefixes. */
export function testTag(): string {
  return `ovt${randomBytes(3).toString('hex')}`;
}

export async function addNetns(name: string): Promise<void> {
  await ip(undefined, ['netns', 'add', name]);
  await ip(name, ['link', 'set', 'lo', 'up']);
}

/** Two node namespaces joined by a veth pair carrying `addressA`/`addressB` (same /24) at `mtu`. */
export async function linkNodes(
  nodeA: string,
  nodeB: string,
  opts: { addressA: string; addressB: string; mtu: number },
): Promise<void> {
  await ip(nodeA, ['link', 'add', 'under0', 'mtu', String(opts.mtu), 'type', 'veth', 'peer', 'name', 'under0', 'mtu', String(opts.mtu), 'netns', nodeB]);
  await ipBatch(nodeA, [`addr add ${opts.addressA}/24 dev under0`, 'link set under0 up']);
  await ipBatch(nodeB, [`addr add ${opts.addressB}/24 dev under0`, 'link set under0 up']);
}

/** Removes every namespace whose name starts with the tag. */
export async function removeTagged(tag: string): Promise<void> {
  for (const name of await listNetns()) {
    if (name.startsWith(tag)) await ip(undefined, ['netns', 'del', name]);
  }
}

/** One ICMP echo from inside a namespace (busybox's: busybox-static is among the Makefile's APT_PACKAGES). */
export async function pings(netns: string, address: string, waitSeconds: number): Promise<boolean> {
  try {
    await runCommand(['nsenter', `--net=/run/netns/${netns}`, 'busybox', 'ping', '-c1', `-W${waitSeconds}`, address]);
    return true;
  } catch {
    return false;
  }
}
