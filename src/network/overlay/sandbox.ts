/**
 * A network's sandbox on this node: a network namespace of its own holding a bridge `br0` with the
 * subnet's gateway address and a VXLAN device `vxlan0` enslaved to it, as Docker's overlay driver
 * lays it out. Containers' veths join br0; frames for other nodes leave through vxlan0. Keeping
 * each network in its own namespace is what isolates networks from each other: nothing in one
 * sandbox can route into another, whatever the node's own forwarding settings.
 *
 * The VXLAN device is created in the underlay namespace and then moved into the sandbox: a VXLAN
 * device's UDP socket stays in the namespace it was created in, so the sandbox needs no underlay
 * address of its own, and all networks share the underlay's port 4789, told apart by VNI.
 *
 * `ensureSandbox` reads what exists and changes only what differs, so it repairs a sandbox left
 * half-built by a crash and changes nothing on a complete one.
 */
import { readdir } from 'node:fs/promises';
import { deleteLinks, ip, ipBatch, ipJson, type IpAddrLink, type Netns } from './iproute.js';
import { macForAddress, stagingVxlanName } from './names.js';

/** Where `ip netns` keeps its names. */
export const NETNS_DIR = '/run/netns';

/** The IANA VXLAN port, which Docker uses too. */
export const VXLAN_PORT = 4789;

export const BRIDGE = 'br0';
export const VXLAN = 'vxlan0';

export interface SandboxSpec {
  /** The namespace's name. */
  name: string;
  /** The full network id, kept as br0's alias. */
  networkId: string;
  vni: number;
  gateway: string;
  prefixLength: number;
  /** Underlay MTU minus the VXLAN overhead. */
  mtu: number;
  underlayNetns: Netns;
  underlayAddress: string;
}

/** The namespace names under /run/netns. */
export async function listNetns(): Promise<string[]> {
  try {
    return await readdir(NETNS_DIR);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export async function netnsExists(name: string): Promise<boolean> {
  return (await listNetns()).includes(name);
}

/** Every link of a namespace with its details (kind, VXLAN settings, master, alias) and addresses, in one call. */
export function readLinks(ns: string): Promise<IpAddrLink[]> {
  return ipJson<IpAddrLink>(ns, ['-d', 'addr', 'show']);
}

export async function ensureSandbox(spec: SandboxSpec): Promise<void> {
  if (!(await netnsExists(spec.name))) await ip(undefined, ['netns', 'add', spec.name]);
  const links = await readLinks(spec.name);
  const br = links.find((l) => l.ifname === BRIDGE);
  const vx = links.find((l) => l.ifname === VXLAN);
  const staging = stagingVxlanName(spec.vni);

  // A VXLAN device with other settings (or one left half-moved by a crash) holds the VNI on the
  // underlay socket, so it must go before a new one is created.
  const stale: string[] = [];
  if (vx !== undefined && !vxlanMatches(vx, spec)) stale.push(VXLAN);
  if (links.some((l) => l.ifname === staging)) stale.push(staging);
  await deleteLinks(spec.name, stale);
  const needVxlan = vx === undefined || stale.includes(VXLAN);
  if (needVxlan) await createVxlan(spec, staging);

  const lines: string[] = [];
  const gateway = `${spec.gateway}/${spec.prefixLength}`;
  if (br === undefined) {
    // A fixed MAC: a bridge otherwise takes the lowest of its ports' and changes it as they come
    // and go, which would leave containers with a stale neighbour entry for the gateway.
    lines.push(`link add ${BRIDGE} address ${macForAddress(spec.gateway)} mtu ${spec.mtu} type bridge`);
  } else if (br.mtu !== spec.mtu) {
    lines.push(`link set ${BRIDGE} mtu ${spec.mtu}`);
  }
  const addresses = (br?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
  for (const a of addresses) if (a !== gateway) lines.push(`addr del ${a} dev ${BRIDGE}`);
  if (!addresses.includes(gateway)) lines.push(`addr add ${gateway} dev ${BRIDGE}`);
  if (br?.ifalias !== spec.networkId) lines.push(`link set ${BRIDGE} alias ${spec.networkId}`);
  if (!isUp(br)) lines.push(`link set ${BRIDGE} up`);
  if (needVxlan) lines.push(`link set ${staging} name ${VXLAN}`);
  const current = needVxlan ? undefined : vx;
  if (current?.mtu !== spec.mtu) lines.push(`link set ${VXLAN} mtu ${spec.mtu}`);
  if (current?.master !== BRIDGE) lines.push(`link set ${VXLAN} master ${BRIDGE}`);
  if (!isUp(current)) lines.push(`link set ${VXLAN} up`);
  await ipBatch(spec.name, lines);
}

/**
 * In the underlay namespace: the device with the network's VNI, bound to the node's address,
 * learning nothing from traffic (every remote MAC is a static FDB entry) and answering ARP from
 * its neighbour table (`proxy`), so that no broadcast ever has to cross the underlay; then moved
 * into the sandbox. A device left there by an earlier crash is removed first.
 */
async function createVxlan(spec: SandboxSpec, staging: string): Promise<void> {
  await deleteLinks(spec.underlayNetns, [staging]);
  await ipBatch(spec.underlayNetns, [
    `link add ${staging} mtu ${spec.mtu} type vxlan id ${spec.vni} dstport ${VXLAN_PORT} local ${spec.underlayAddress} nolearning proxy`,
    `link set ${staging} netns ${spec.name}`,
  ]);
}

function vxlanMatches(link: IpAddrLink, spec: SandboxSpec): boolean {
  const info = link.linkinfo?.info_data;
  return (
    link.linkinfo?.info_kind === 'vxlan' &&
    info?.id === spec.vni &&
    info.local === spec.underlayAddress &&
    info.port === VXLAN_PORT &&
    info.learning === false &&
    info.proxy === true
  );
}

function isUp(link: IpAddrLink | undefined): boolean {
  return link?.flags?.includes('UP') ?? false;
}

/**
 * Deletes the sandbox's devices, then the namespace. The devices go first and explicitly: a
 * namespace is destroyed only once nothing holds it, and asynchronously even then, while the VXLAN
 * device must release its VNI on the underlay socket now (the same VNI may be reused at once) and
 * each container must lose its interface now.
 */
export async function removeSandbox(name: string): Promise<void> {
  if (!(await netnsExists(name))) return;
  const links = await readLinks(name);
  const order = (l: IpAddrLink): number => (l.ifname === VXLAN ? 0 : l.ifname === BRIDGE ? 2 : 1);
  const doomed = links.filter((l) => l.ifname !== 'lo').sort((a, b) => order(a) - order(b));
  await deleteLinks(name, doomed.map((l) => l.ifname));
  await ip(undefined, ['netns', 'del', name]);
}
