/**
 * Published ports on one node: the routing mesh of Docker Swarm (its `ingress_sbox` and
 * DOCKER-INGRESS chain), built with a namespace, a veth and two nftables tables.
 *
 * The ingress sandbox is a namespace of its own with two interfaces: `gw0`, one end of a veth whose
 * other end (`shoal-ingress`) is in the node's namespace, both on a /30 (the node holds its first
 * address, the sandbox the second and its default route via the first); and `eth0`, an endpoint
 * on the ingress overlay network with this node's address on that network, which the caller
 * attaches with the overlay data plane like any container's. Then (see `ingress-rules.ts`):
 *
 *   client ─> node:P ──DNAT──> sandbox gw0:P ──DNAT + masquerade──> task:T on the ingress network
 *
 * and the reply retraces it through both conntrack tables. Host-mode ports skip the sandbox: the
 * node DNATs straight to its local task's address on the node's gateway bridge
 * (`src/network/gateway`, Docker's docker_gwbridge); the task sees the client's own address.
 *
 * Both namespaces must forward; the sandbox's is ours, the node's is the host's own setting, which
 * `setPorts` turns on as Docker does. Nothing here is kept in memory: every call reads or
 * rewrites the kernel's state, and writing the same ports again changes nothing.
 */
import { formatAddress, parseSubnet } from '../../common/ipv4.js';
import { runCommand } from '../overlay/command.js';
import { checkNetns, deleteLinks, ip, ipBatch, ipJson, type IpLink, type Netns } from '../overlay/iproute.js';
import { netnsExists } from '../overlay/sandbox.js';
import {
  INGRESS_TABLE,
  renderNodeTable,
  renderSandboxTable,
  SANDBOX_LINK_IFNAME,
  SANDBOX_OVERLAY_IFNAME,
  type HostPort,
  type IngressPort,
} from './ingress-rules.js';
import { inNamespace } from './namespace.js';
import { applyTable, removeTable } from './nft.js';

/** The node's end of the link into the ingress sandbox. */
export const NODE_LINK_IFNAME = 'shoal-ingress';
/** Link-local: the link carries nothing but this node's published ports and is never routed beyond. */
export const DEFAULT_LINK_SUBNET = '169.254.213.0/30';

export interface RoutingMeshOptions {
  /**
   * The ingress sandbox's namespace name (under /run/netns), unique per node sharing the kernel;
   * e.g. `<data plane prefix>-ingress-sbox`, which the data plane never takes for a network's.
   */
  sandbox: string;
  /** The node's namespace, holding its addresses: a name or a path; this process's own when absent. */
  nodeNetns?: string;
  /** A /30 for the node–sandbox link, unused elsewhere on the node; DEFAULT_LINK_SUBNET when absent. */
  linkSubnet?: string;
}

export class RoutingMesh {
  /** The node's end of the link, and the sandbox's: where the node sends ingress-mode connections. */
  readonly nodeLinkAddress: string;
  readonly sandboxAddress: string;
  private readonly prefixLength: number;

  constructor(private readonly options: RoutingMeshOptions) {
    checkNetns(options.sandbox, 'ingress sandbox');
    if (options.sandbox.includes('/')) throw new Error(`invalid ingress sandbox "${options.sandbox}": a name under /run/netns, not a path`);
    if (options.nodeNetns !== undefined) checkNetns(options.nodeNetns, 'node namespace');
    const subnet = parseSubnet(options.linkSubnet ?? DEFAULT_LINK_SUBNET);
    if (subnet.prefixLength !== 30) throw new Error(`invalid link subnet ${options.linkSubnet}: a /30`);
    this.nodeLinkAddress = formatAddress(subnet.base + 1);
    this.sandboxAddress = formatAddress(subnet.base + 2);
    this.prefixLength = subnet.prefixLength;
  }

  get sandbox(): string {
    return this.options.sandbox;
  }

  /**
   * Creates the ingress sandbox and its link to the node, or repairs them; complete ones are left
   * as they are. Attach the sandbox to the ingress network afterwards (ifname `eth0`, the node's
   * address on it, no default route).
   */
  async ensureSandbox(): Promise<void> {
    const { sandbox, nodeNetns } = this.options;
    if (!(await netnsExists(sandbox))) await ip(undefined, ['netns', 'add', sandbox]);
    await enableForwarding(sandbox);
    const links = await ipJson<IpLink>(sandbox, ['link', 'show']);
    if (!links.some((l) => l.ifname === SANDBOX_LINK_IFNAME)) {
      // The node's end of an earlier sandbox's link outlives it until the kernel has destroyed
      // that namespace, which it does asynchronously, and holds the name meanwhile.
      await deleteLinks(nodeNetns, [NODE_LINK_IFNAME]);
      await ip(nodeNetns, ['link', 'add', NODE_LINK_IFNAME, 'type', 'veth', 'peer', 'name', SANDBOX_LINK_IFNAME, 'netns', sandbox]);
    }
    await ipBatch(nodeNetns, [`addr replace ${this.nodeLinkAddress}/${this.prefixLength} dev ${NODE_LINK_IFNAME}`, `link set ${NODE_LINK_IFNAME} up`]);
    await ipBatch(sandbox, [
      'link set lo up',
      `addr replace ${this.sandboxAddress}/${this.prefixLength} dev ${SANDBOX_LINK_IFNAME}`,
      `link set ${SANDBOX_LINK_IFNAME} up`,
      `route replace default via ${this.nodeLinkAddress} dev ${SANDBOX_LINK_IFNAME}`,
    ]);
  }

  /**
   * Makes this node's published ports exactly these: ingress-mode ports (with their tasks' ingress
   * addresses, on any node) and host-mode ports (with the local task's address). Needs the
   * sandbox when there are ingress-mode ports. Each table is replaced whole and only if it differs;
   * UDP flows to tasks the new tables no longer send to are then forgotten in that namespace.
   */
  async setPorts(ingress: readonly IngressPort[], host: readonly HostPort[]): Promise<void> {
    const nodeTable = renderNodeTable(ingress, host, this.sandboxAddress);
    const sandboxTable = renderSandboxTable(ingress);
    const hasSandbox = await netnsExists(this.options.sandbox);
    if (ingress.length > 0 && !hasSandbox) throw new Error(`ingress sandbox ${this.options.sandbox} is missing: ensure it first`);
    if (ingress.length + host.length > 0) await enableForwarding(this.options.nodeNetns);
    // The tasks first, then the node's rules that send connections their way.
    if (hasSandbox) await applyTable(this.options.sandbox, sandboxTable);
    await applyTable(this.options.nodeNetns, nodeTable);
  }

  /** Removes the node's table (no port is published here any more); the sandbox stays. */
  async removePorts(): Promise<void> {
    await removeTable(this.options.nodeNetns, INGRESS_TABLE);
  }

  /**
   * Removes the link and the sandbox with its interfaces (no ingress-mode port any more): the
   * ingress endpoint is deleted here too, so the overlay's end of it goes at once rather than when
   * the kernel gets round to destroying the namespace.
   */
  async removeSandbox(): Promise<void> {
    const { sandbox, nodeNetns } = this.options;
    if (await netnsExists(sandbox)) {
      await deleteLinks(sandbox, [SANDBOX_OVERLAY_IFNAME, SANDBOX_LINK_IFNAME]);
      await ip(undefined, ['netns', 'del', sandbox]);
    }
    await deleteLinks(nodeNetns, [NODE_LINK_IFNAME]);
  }

  /** Removes everything: the node's table, then the sandbox. */
  async remove(): Promise<void> {
    await this.removePorts();
    await this.removeSandbox();
  }
}

/** `net.ipv4.ip_forward=1` in a namespace (each has its own; a new one starts with it off). */
async function enableForwarding(ns: Netns): Promise<void> {
  await runCommand(inNamespace(ns, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']));
}
